// The transaction coordinator on a memory log, a hand-driven clock and recording participants:
// Kafka's state transitions and error kinds, fencing, timeouts, markers and their retries, and a
// crash between the decision and the markers.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MarkerSpec } from '../../../../../src/broker/stream/partition.js';
import { TransactionCoordinator, TxnStore, type TxnParticipants } from '../../../../../src/broker/stream/txn/index.js';
import { type MemoryLog, openMemoryLog, silentLogger } from '../../../../../src/store/index.js';
import { ManualScheduler, settle } from '../../../../helpers/manual-scheduler.js';

interface Recorder extends TxnParticipants {
  /** Markers written, as "topic/partition:pid:epoch:COMMIT|ABORT". */
  readonly markers: string[];
  /** Group transaction ends, as "group:pid:commit|abort". */
  readonly groupEnds: string[];
  /** Participants that fail their next writes (topic/partition or group id), how many times. */
  readonly failures: Map<string, number>;
  nextProducerId: number;
}

function recorder(topics: Record<string, number> = { t: 2, u: 1 }): Recorder {
  const r: Recorder = {
    markers: [],
    groupEnds: [],
    failures: new Map(),
    nextProducerId: 1000,
    partition(topic, index) {
      if (!(topic in topics) || index >= topics[topic]) return undefined;
      return {
        appendMarker(m: MarkerSpec) {
          const key = `${topic}/${index}`;
          const fail = r.failures.get(key) ?? 0;
          if (fail > 0) {
            r.failures.set(key, fail - 1);
            const durable = Promise.reject(new Error('disk full'));
            durable.catch(() => {});
            return { offset: 0, durable };
          }
          r.markers.push(`${key}:${m.producerId}:${m.producerEpoch}:${m.commit ? 'COMMIT' : 'ABORT'}`);
          return { offset: 0, durable: Promise.resolve() };
        },
      };
    },
    groups() {
      return {
        txnCommit: () => Promise.resolve([]),
        async completeTxn(groupId: string, producerId: number, commit: boolean) {
          const fail = r.failures.get(groupId) ?? 0;
          if (fail > 0) {
            r.failures.set(groupId, fail - 1);
            throw new Error('offsets log failed');
          }
          r.groupEnds.push(`${groupId}:${producerId}:${commit ? 'commit' : 'abort'}`);
        },
      };
    },
    allocateProducerId: () => Promise.resolve(r.nextProducerId++),
  };
  return r;
}

interface Harness {
  readonly clock: ManualScheduler;
  readonly log: MemoryLog;
  readonly parts: Recorder;
  readonly c: TransactionCoordinator;
}

async function harness(log: MemoryLog = openMemoryLog({ logger: silentLogger }), parts = recorder(), clock = new ManualScheduler()): Promise<Harness> {
  const store = await TxnStore.openOnLog(log, { logger: silentLogger });
  const c = new TransactionCoordinator(store, { participants: parts, scheduler: clock, logger: silentLogger, config: { abortCheckIntervalMs: 1000, markerRetryMs: 500 } });
  return { clock, log, parts, c };
}

const T0 = [{ topic: 't', partition: 0 }];
const T01U0 = [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }, { topic: 'u', partition: 0 }];

describe('transaction coordinator', () => {
  test('a new transactional id gets a producer id at epoch 0; InitProducerId again bumps the epoch', async () => {
    const { c } = await harness();
    assert.deepEqual(await c.initProducerId('a', 60_000), { producerId: 1000, producerEpoch: 0 });
    assert.deepEqual(await c.initProducerId('a', 60_000), { producerId: 1000, producerEpoch: 1 });
    assert.deepEqual(await c.initProducerId('b', 60_000), { producerId: 1001, producerEpoch: 0 });
    assert.equal((await c.initProducerId('', 60_000)).error, 'invalid-request');
    assert.equal((await c.initProducerId('a', 900_001)).error, 'invalid-transaction-timeout');
    assert.equal((await c.initProducerId('a', 0)).error, 'invalid-transaction-timeout');
    await c.close();
  });

  test('commit: markers to every partition and the group, then CompleteCommit; the next transaction starts fresh', async () => {
    const { c, parts } = await harness();
    const { producerId: pid } = await c.initProducerId('a', 60_000);
    assert.equal(c.stateOf('a')?.state, 'Empty');
    assert.deepEqual(await c.addPartitions('a', pid, 0, T01U0), T01U0);
    assert.equal(await c.addOffsets('a', pid, 0, 'g'), undefined);
    assert.equal(c.stateOf('a')?.state, 'Ongoing');
    assert.equal(c.verifyPartition('a', pid, 0, 't', 1), undefined);
    assert.equal(c.verifyPartition('a', pid, 0, 't', 2), 'transaction-abortable');
    assert.deepEqual(await c.endTxn('a', pid, 0, true), { producerId: pid, producerEpoch: 0 });
    assert.deepEqual(parts.markers.sort(), [`t/0:${pid}:0:COMMIT`, `t/1:${pid}:0:COMMIT`, `u/0:${pid}:0:COMMIT`]);
    assert.deepEqual(parts.groupEnds, [`g:${pid}:commit`]);
    const s = c.stateOf('a');
    assert.equal(s?.state, 'CompleteCommit');
    assert.equal(s?.partitions.size, 0);
    // A retried EndTxn of the same decision answers without doing anything; the other decision is refused.
    assert.equal((await c.endTxn('a', pid, 0, true)).error, undefined);
    assert.equal((await c.endTxn('a', pid, 0, false)).error, 'invalid-txn-state');
    assert.equal(c.verifyPartition('a', pid, 0, 't', 0), 'transaction-abortable');
    await c.addPartitions('a', pid, 0, T0);
    assert.equal(c.stateOf('a')?.state, 'Ongoing');
    await c.close();
  });

  test('Kafka\'s errors: unknown ids and producers, stale epochs, no transaction, unknown partitions', async () => {
    const { c } = await harness();
    const { producerId: pid } = await c.initProducerId('a', 60_000);
    assert.equal((await c.endTxn('a', pid, 0, true)).error, 'invalid-txn-state', 'no transaction is ongoing');
    assert.equal((await c.endTxn('nobody', pid, 0, true)).error, 'invalid-producer-id-mapping');
    assert.equal((await c.endTxn('a', pid + 1, 0, true)).error, 'invalid-producer-id-mapping');
    assert.equal((await c.addPartitions('a', pid, 1, T0))[0].error, 'producer-fenced');
    assert.equal((await c.addPartitions('a', pid + 5, 0, T0))[0].error, 'invalid-producer-id-mapping');
    assert.deepEqual(
      (await c.addPartitions('a', pid, 0, [{ topic: 't', partition: 0 }, { topic: 'nope', partition: 0 }])).map((r) => r.error),
      ['operation-not-attempted', 'unknown-topic-or-partition'],
    );
    assert.equal(c.stateOf('a')?.state, 'Empty', 'nothing was added');
    await c.initProducerId('a', 60_000);
    assert.equal((await c.endTxn('a', pid, 0, true)).error, 'producer-fenced', 'epoch 0 was fenced by epoch 1');
    await c.close();
  });

  test('InitProducerId during a transaction aborts it with a fencing epoch and answers CONCURRENT_TRANSACTIONS', async () => {
    const { c, parts } = await harness();
    const { producerId: pid } = await c.initProducerId('a', 60_000);
    await c.addPartitions('a', pid, 0, T0);
    await c.addOffsets('a', pid, 0, 'g');
    assert.equal((await c.initProducerId('a', 60_000)).error, 'concurrent-transactions');
    assert.deepEqual(parts.markers, [`t/0:${pid}:1:ABORT`], 'aborted with epoch 1: the old producer is fenced');
    assert.deepEqual(parts.groupEnds, [`g:${pid}:abort`]);
    assert.equal(c.stateOf('a')?.state, 'CompleteAbort');
    // The zombie (epoch 0) is fenced everywhere; the retry gets epoch 2.
    assert.equal((await c.addPartitions('a', pid, 0, T0))[0].error, 'producer-fenced');
    assert.equal(c.verifyPartition('a', pid, 0, 't', 0), 'producer-fenced');
    assert.equal((await c.endTxn('a', pid, 0, true)).error, 'producer-fenced');
    assert.deepEqual(await c.initProducerId('a', 60_000), { producerId: pid, producerEpoch: 2 });
    await c.close();
  });

  test('KIP-360: a producer presenting its epoch gets the next one, a retry the same answer, a fenced one PRODUCER_FENCED', async () => {
    const { c } = await harness();
    const { producerId: pid } = await c.initProducerId('a', 60_000);
    assert.deepEqual(await c.initProducerId('a', 60_000, { producerId: pid, producerEpoch: 0 }), { producerId: pid, producerEpoch: 1 });
    // The answer was lost; the producer asks again with the epoch it had.
    assert.deepEqual(await c.initProducerId('a', 60_000, { producerId: pid, producerEpoch: 0 }), { producerId: pid, producerEpoch: 1 });
    // Another instance took over (epoch 2): the first one's epochs are stale.
    assert.deepEqual(await c.initProducerId('a', 60_000), { producerId: pid, producerEpoch: 2 });
    assert.equal((await c.initProducerId('a', 60_000, { producerId: pid, producerEpoch: 1 })).error, 'producer-fenced');
    assert.equal((await c.initProducerId('a', 60_000, { producerId: 77, producerEpoch: 0 })).error, 'producer-fenced');
    await c.close();
  });

  test('an exhausted epoch moves the transactional id to a new producer id', async () => {
    const log = openMemoryLog({ logger: silentLogger });
    const h = await harness(log);
    const { producerId: pid } = await h.c.initProducerId('a', 60_000);
    await h.c.close();
    // Write the id's state at epoch 32766 straight into the log, as if many restarts had bumped it.
    const store = await TxnStore.openOnLog(await log.crash(), { logger: silentLogger });
    const r = store.records()[0];
    await store.put({ ...r, producerEpoch: 32766 });
    await store.close();
    const h2 = await harness(await log.crash(), h.parts);
    const next = await h2.c.initProducerId('a', 60_000);
    assert.notEqual(next.producerId, pid);
    assert.equal(next.producerEpoch, 0);
    assert.equal(h2.c.stateOf('a')?.previousProducerId, pid);
    await h2.c.close();
  });

  test('a transaction past its timeout is aborted and its producer fenced', async () => {
    const { c, clock, parts } = await harness();
    const { producerId: pid } = await c.initProducerId('slow', 5_000);
    await c.addPartitions('slow', pid, 0, T0);
    clock.advance(4_000);
    await settle();
    assert.equal(c.stateOf('slow')?.state, 'Ongoing');
    clock.advance(2_000);
    await settle(20);
    assert.equal(c.stateOf('slow')?.state, 'CompleteAbort');
    assert.equal(c.stateOf('slow')?.producerEpoch, 1);
    assert.deepEqual(parts.markers, [`t/0:${pid}:1:ABORT`]);
    assert.equal((await c.endTxn('slow', pid, 0, true)).error, 'producer-fenced');
    await c.close();
  });

  test('a participant that fails its writes is retried; meanwhile the next transaction waits (CONCURRENT_TRANSACTIONS)', async () => {
    const { c, clock, parts } = await harness();
    const { producerId: pid } = await c.initProducerId('a', 60_000);
    await c.addPartitions('a', pid, 0, T01U0);
    await c.addOffsets('a', pid, 0, 'g');
    parts.failures.set('t/1', 2);
    parts.failures.set('g', 1);
    // The decision is durable: EndTxn answers although t/1 and the group have not got it yet.
    assert.deepEqual(await c.endTxn('a', pid, 0, true), { producerId: pid, producerEpoch: 0 });
    assert.equal(c.stateOf('a')?.state, 'PrepareCommit');
    assert.equal((await c.addPartitions('a', pid, 0, T0))[0].error, 'concurrent-transactions');
    assert.equal((await c.endTxn('a', pid, 0, true)).error, 'concurrent-transactions');
    assert.equal((await c.initProducerId('a', 60_000)).error, 'concurrent-transactions');
    clock.advance(500);
    await settle(20);
    clock.advance(500);
    await settle(20);
    assert.equal(c.stateOf('a')?.state, 'CompleteCommit');
    assert.deepEqual(parts.markers.filter((m) => m.startsWith('t/1')), [`t/1:${pid}:0:COMMIT`]);
    assert.deepEqual(parts.groupEnds, [`g:${pid}:commit`]);
    await c.close();
  });

  test('a crash after the decision: the restart writes the markers again and completes the transaction', async () => {
    const log = openMemoryLog({ logger: silentLogger });
    const parts = recorder();
    const h = await harness(log, parts);
    const { producerId: pid } = await h.c.initProducerId('a', 60_000);
    await h.c.addPartitions('a', pid, 0, T01U0);
    parts.failures.set('u/0', 1_000); // u/0 never takes it before the crash
    await h.c.endTxn('a', pid, 0, false);
    assert.equal(h.c.stateOf('a')?.state, 'PrepareAbort');
    const after = await log.crash();
    parts.failures.clear();
    parts.markers.length = 0;
    const h2 = await harness(after, parts);
    await settle(20);
    assert.equal(h2.c.stateOf('a')?.state, 'CompleteAbort');
    assert.deepEqual(parts.markers.sort(), [`t/0:${pid}:0:ABORT`, `t/1:${pid}:0:ABORT`, `u/0:${pid}:0:ABORT`]);
    // Ongoing transactions survive a restart as they were, timeout included.
    await h2.c.addPartitions('a', pid, 0, T0);
    const h3 = await harness(await after.crash(), parts, h2.clock);
    assert.equal(h3.c.stateOf('a')?.state, 'Ongoing');
    await h3.c.close();
  });

  test('DescribeTransactions and ListTransactions', async () => {
    const { c, clock } = await harness();
    const { producerId: pid } = await c.initProducerId('a', 60_000);
    await c.initProducerId('b', 30_000);
    await c.addPartitions('a', pid, 0, T01U0);
    const [a, none] = c.describe(['a', 'zzz']);
    assert.equal(a.state, 'Ongoing');
    assert.equal(a.timeoutMs, 60_000);
    assert.equal(a.startMs, clock.now());
    assert.deepEqual(a.partitions, T01U0);
    assert.equal(none.error, 'transactional-id-not-found');
    assert.deepEqual(c.list([], []).transactions.map((t) => t.transactionalId).sort(), ['a', 'b']);
    const ongoing = c.list(['Ongoing', 'Bogus'], []);
    assert.deepEqual(ongoing.transactions, [{ transactionalId: 'a', producerId: pid, state: 'Ongoing' }]);
    assert.deepEqual(ongoing.unknownStates, ['Bogus']);
    assert.deepEqual(c.list([], [pid + 1]).transactions.map((t) => t.transactionalId), ['b']);
    clock.advance(10_000);
    // Kafka's duration filter (ListTransactions v1) keeps transactions started more than that long
    // ago, and ids outside a transaction (start -1).
    assert.deepEqual(c.list([], [], 20_000).transactions.map((t) => t.transactionalId), ['b']);
    assert.deepEqual(c.list([], [], 5_000).transactions.map((t) => t.transactionalId).sort(), ['a', 'b']);
    await c.close();
  });

  test('transactional ids idle past transactional.id.expiration.ms are forgotten, durably', async () => {
    const log = openMemoryLog({ logger: silentLogger });
    const h = await harness(log);
    await h.c.initProducerId('idle', 60_000);
    const { producerId: pid } = await h.c.initProducerId('busy', 60_000);
    await h.c.addPartitions('busy', pid, 0, T0);
    // The hourly check runs on the way (its removal is written before the id goes).
    h.clock.advance(7 * 24 * 3600_000 + 1);
    await settle(20);
    await h.c.expireIds();
    assert.equal(h.c.stateOf('idle'), undefined);
    assert.equal(h.c.stateOf('busy')?.state, 'CompleteAbort', 'the ongoing one timed out long ago, and is kept');
    const h2 = await harness(await log.crash());
    assert.equal(h2.c.stateOf('idle'), undefined);
    assert.ok(h2.c.stateOf('busy'));
    await h2.c.close();
  });
});
