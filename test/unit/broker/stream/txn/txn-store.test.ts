// The transaction log: records round-trip, the last state of an id wins on replay, removals
// stick, compaction keeps exactly the live state, and a failed fsync writes nothing.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TxnRecord } from '../../../../../src/broker/stream/txn/metadata.js';
import { decodeTxnState, encodeTxnState } from '../../../../../src/broker/stream/txn/records.js';
import { TxnStore } from '../../../../../src/broker/stream/txn/txn-store.js';
import { openMemoryLog, silentLogger } from '../../../../../src/store/index.js';

const record = (transactionalId: string, o: Partial<TxnRecord> = {}): TxnRecord => ({
  transactionalId,
  producerId: 4000,
  previousProducerId: 3999,
  producerEpoch: 7,
  lastProducerEpoch: 6,
  timeoutMs: 60_000,
  state: 'Ongoing',
  partitions: new Map([['orders', new Set([0, 3])], ['audit', new Set([1])]]),
  groups: new Set(['g1']),
  startMs: 1_700_000_000_000,
  lastUpdateMs: 1_700_000_000_500,
  ...o,
});

describe('transaction log', () => {
  test('a state record round-trips', () => {
    assert.deepEqual(decodeTxnState(encodeTxnState(record('tx-é'))), record('tx-é'));
    const empty = record('e', { state: 'Empty', partitions: new Map(), groups: new Set(), startMs: -1, producerEpoch: -1 });
    assert.deepEqual(decodeTxnState(encodeTxnState(empty)), empty);
  });

  test('replay keeps the last state of each id and forgets removed ids', async () => {
    const log = openMemoryLog({ logger: silentLogger });
    const store = await TxnStore.openOnLog(log, { logger: silentLogger });
    await Promise.all([store.put(record('a')), store.put(record('b'))]);
    await store.put(record('a', { state: 'PrepareCommit' }));
    await store.remove('b');
    const after = await TxnStore.openOnLog(await log.crash(), { logger: silentLogger });
    assert.deepEqual(after.records(), [record('a', { state: 'PrepareCommit' })]);
    await after.close();
  });

  test('compaction rewrites the live states and drops older segments', async () => {
    const log = openMemoryLog({ logger: silentLogger, segmentBytesMax: 4096 });
    const store = await TxnStore.openOnLog(log, { logger: silentLogger, segmentBytesMax: 4096, compactBytesMin: 1 << 30 });
    for (let i = 0; i < 200; i++) await store.put(record(`id-${i % 5}`, { producerEpoch: i }));
    await store.remove('id-4');
    const before = store.segments().length;
    await store.compact();
    assert.ok(store.segments().length < before);
    const after = await TxnStore.openOnLog(await log.crash(), { logger: silentLogger });
    assert.deepEqual(
      after.records().map((r) => `${r.transactionalId}@${r.producerEpoch}`).sort(),
      ['id-0@195', 'id-1@196', 'id-2@197', 'id-3@198'],
    );
    await after.close();
  });

  test('a write whose fsync fails is rejected and not applied', async () => {
    const log = openMemoryLog({ logger: silentLogger, faults: { failFsyncAt: [2] } });
    const store = await TxnStore.openOnLog(log, { logger: silentLogger });
    await store.put(record('a', { producerEpoch: 1 }));
    await assert.rejects(store.put(record('a', { producerEpoch: 2 })));
    assert.equal(store.records()[0].producerEpoch, 1);
    await store.put(record('a', { producerEpoch: 3 }));
    const after = await TxnStore.openOnLog(await log.crash(), { logger: silentLogger });
    assert.equal(after.records()[0].producerEpoch, 3);
    await after.close();
  });
});
