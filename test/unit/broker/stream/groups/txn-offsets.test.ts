// Offsets committed inside a producer's transaction (TxnOffsetCommit): pending until the
// transaction coordinator ends the transaction, then committed or dropped; durable across a
// restart and through snapshots; OffsetFetch with require_stable sees them as unstable.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OffsetStore } from '../../../../../src/broker/stream/groups/offset-store.js';
import type { OffsetEntry } from '../../../../../src/broker/stream/groups/records.js';
import { openMemoryLog, silentLogger } from '../../../../../src/store/index.js';
import { harness, stableGroup } from './harness.js';

const entry = (topic: string, partition: number, offset: number): OffsetEntry => ({
  topic,
  partition,
  offset,
  leaderEpoch: -1,
  metadata: '',
  commitTimestampMs: 1_000,
  expireTimestampMs: -1,
});

const PID = 4000;
const txnReq = (groupId: string, offsets: { topic: string; partition: number; offset: number }[], o: Partial<{ generationId: number; memberId: string; producerId: number }> = {}) => ({
  groupId,
  producerId: o.producerId ?? PID,
  generationId: o.generationId ?? -1,
  memberId: o.memberId ?? '',
  offsets,
});

describe('transactional offset commits', () => {
  test('are invisible until the transaction commits; an abort drops them', async () => {
    const h = await harness();
    const c = h.coordinator;
    assert.deepEqual(await c.txnCommit(txnReq('g', [{ topic: 't', partition: 0, offset: 10 }])), [{ topic: 't', partition: 0 }]);
    assert.equal((await c.fetch('g', [{ topic: 't', partition: 0 }])).partitions[0].offset, -1);
    assert.equal((await c.fetch('g', [{ topic: 't', partition: 0 }], true)).partitions[0].error, 'unstable-offset-commit');
    await c.completeTxn('g', PID, true);
    assert.deepEqual((await c.fetch('g', [{ topic: 't', partition: 0 }], true)).partitions[0], { topic: 't', partition: 0, offset: 10, leaderEpoch: -1, metadata: '' });

    await c.txnCommit(txnReq('g', [{ topic: 't', partition: 0, offset: 20 }]));
    await c.completeTxn('g', PID, false);
    assert.equal((await c.fetch('g', [{ topic: 't', partition: 0 }], true)).partitions[0].offset, 10);
    await c.close();
  });

  test('a regular commit written after a transactional one wins over it', async () => {
    const h = await harness();
    const c = h.coordinator;
    await c.txnCommit(txnReq('g', [{ topic: 't', partition: 0, offset: 10 }, { topic: 't', partition: 1, offset: 11 }]));
    await c.commit({ groupId: 'g', generationId: -1, memberId: '', offsets: [{ topic: 't', partition: 0, offset: 5 }] });
    await c.completeTxn('g', PID, true);
    const got = (await c.fetch('g', null)).partitions.map((p) => [p.partition, p.offset]);
    assert.deepEqual(got.sort(), [[0, 5], [1, 11]]);
    await c.close();
  });

  test('members must name their generation; a producer outside the group may commit without one', async () => {
    const h = await harness();
    const c = h.coordinator;
    const g = await stableGroup(h, 'g', 1);
    const tp = [{ topic: 't', partition: 0, offset: 1 }];
    assert.equal((await c.txnCommit(txnReq('g', tp, { generationId: g.generationId, memberId: g.members[0] })))[0].error, undefined);
    assert.equal((await c.txnCommit(txnReq('g', tp, { generationId: g.generationId + 1, memberId: g.members[0] })))[0].error, 'illegal-generation');
    assert.equal((await c.txnCommit(txnReq('g', tp, { generationId: g.generationId, memberId: 'nobody' })))[0].error, 'unknown-member-id');
    // TxnOffsetCommit v0-v2 carry neither: accepted although the group has members.
    assert.equal((await c.txnCommit(txnReq('g', tp)))[0].error, undefined);
    assert.equal((await c.txnCommit(txnReq('', tp)))[0].error, 'invalid-group-id');
    await c.close();
  });

  test('pending offsets survive a restart and a snapshot; the end of their transaction too', async () => {
    const log = openMemoryLog({ logger: silentLogger });
    let store = await OffsetStore.openOnLog(log, { logger: silentLogger });
    await store.commit('g', [entry('t', 0, 1)]);
    await store.txnCommit('g', PID, [entry('t', 0, 7), entry('t', 1, 8)]);
    await store.txnCommit('h', PID + 1, [entry('u', 0, 3)]);
    await store.txnEnd('h', PID + 1, false);
    await store.txnCommit('k', PID + 2, [entry('v', 0, 4)]);
    await store.txnEnd('k', PID + 2, true);
    await store.compact();
    await store.txnCommit('g', PID + 3, [entry('t', 2, 9)]);

    // A power cut: only what was durable counts (every write above was awaited). The snapshot is
    // complete (its counts include pending offsets), so replay takes it.
    const warnings: string[] = [];
    store = await OffsetStore.openOnLog(await log.crash(), { logger: { ...silentLogger, warn: (m) => warnings.push(m) } });
    assert.deepEqual(warnings, []);
    assert.deepEqual(store.offsets('g').map((e) => e.offset), [1]);
    assert.ok(store.hasPendingTxnOffset('g', 't', 1));
    assert.deepEqual(store.pendingTxnProducers('g').sort(), [PID, PID + 3]);
    assert.equal(store.hasGroup('h'), false, 'an aborted transaction leaves nothing behind');
    assert.deepEqual(store.offsets('k').map((e) => e.offset), [4]);
    await store.txnEnd('g', PID, true);
    assert.deepEqual(store.offsets('g').map((e) => `${e.partition}=${e.offset}`).sort(), ['0=7', '1=8']);
    assert.ok(store.hasPendingTxnOffset('g', 't', 2));
    await store.close();
  });
});
