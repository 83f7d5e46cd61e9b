import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { decodeSegmentState, encodeSegmentState } from '../../../../src/broker/stream/aborted-txns.js';
import { readBatchHeader } from '../../../../src/broker/stream/batch-header.js';
import { StreamError } from '../../../../src/broker/stream/errors.js';
import { Partition, type PartitionConfig } from '../../../../src/broker/stream/partition.js';
import { silentLogger } from '../../../../src/store/index.js';
import { testBatch, values } from '../../../helpers/kafka-batch.js';

const CONFIG: PartitionConfig = { segmentBytesMax: 4096, retentionBytes: -1, retentionMs: -1, maxMessageBytes: 1 << 20, indexIntervalBytes: 256 };

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-partition-txn-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const open = (config: Partial<PartitionConfig> = {}): Promise<Partition> =>
  Partition.open({ dir, fsync: 'batch', logger: silentLogger, config: { ...CONFIG, ...config } });

const plain = (n: number, from = 0): Buffer => testBatch(values(n, from));
const txn = (pid: number, seq: number, n: number, epoch = 0): Buffer =>
  testBatch(values(n, seq), { producerId: pid, producerEpoch: epoch, baseSequence: seq, transactional: true });

/** Base offsets of the batches a read returns. */
async function bases(p: Partition, from: number, isolation: 'committed' | 'uncommitted'): Promise<number[]> {
  const r = await p.read(from, 1 << 20, isolation);
  return r.batches.map((b) => readBatchHeader(b).baseOffset);
}

const isKind = (kind: string) => (e: unknown) => e instanceof StreamError && e.kind === kind;

describe('stream partition transactions', () => {
  test('an open transaction holds the last stable offset back until its COMMIT marker is durable', async () => {
    const p = await open();
    p.append(plain(3));
    p.append(txn(7, 0, 2)); // offsets 3-4
    await p.append(plain(2, 3)).durable; // offsets 5-6
    assert.equal(p.highWatermark, 7);
    assert.equal(p.lastStableOffset, 3);
    assert.equal(p.openTxnFirstOffset(7), 3);
    assert.deepEqual(await bases(p, 0, 'committed'), [0]);
    assert.deepEqual(await bases(p, 3, 'committed'), []);
    assert.deepEqual(await bases(p, 0, 'uncommitted'), [0, 3, 5]);
    const m = p.appendMarker({ producerId: 7, producerEpoch: 0, commit: true, coordinatorEpoch: 0 });
    assert.equal(m.offset, 7);
    assert.equal(p.lastStableOffset, 3); // the marker is not durable yet
    await m.durable;
    assert.equal(p.lastStableOffset, 8);
    assert.equal(p.openTxnFirstOffset(7), undefined);
    assert.deepEqual(await bases(p, 0, 'committed'), [0, 3, 5, 7]);
    assert.deepEqual(p.abortedTransactions(0, 8), []);
    await p.close();
  });

  test('an ABORT marker indexes the transaction for read_committed fetches', async () => {
    const p = await open();
    p.append(txn(7, 0, 2)); // 0-1
    p.append(txn(8, 0, 1)); // 2
    p.append(txn(7, 2, 1)); // 3
    await p.appendMarker({ producerId: 7, producerEpoch: 0, commit: false, coordinatorEpoch: 0 }).durable; // 4
    assert.equal(p.lastStableOffset, 2, 'producer 8 is still open');
    await p.appendMarker({ producerId: 8, producerEpoch: 0, commit: true, coordinatorEpoch: 0 }).durable; // 5
    assert.equal(p.lastStableOffset, 6);
    const aborted = p.abortedTransactions(0, 6);
    assert.deepEqual(aborted.map((t) => [t.producerId, t.firstOffset, t.lastOffset]), [[7, 0, 4]]);
    assert.deepEqual(p.abortedTransactions(5, 6), [], 'the transaction ended before the fetch offset');
    assert.deepEqual(p.abortedTransactions(0, 0), [], 'the fetched range ends before it began');
    await p.close();
  });

  test('a producer with an open transaction may not write outside it; markers of older epochs are fenced', async () => {
    const p = await open();
    p.append(txn(7, 0, 1));
    assert.throws(() => p.append(testBatch(values(1), { producerId: 7, producerEpoch: 0, baseSequence: 1 })), isKind('invalid-txn-state'));
    // The coordinator fenced the producer (epoch 1) and aborted: its old epoch cannot write or end anything.
    await p.appendMarker({ producerId: 7, producerEpoch: 1, commit: false, coordinatorEpoch: 0 }).durable;
    assert.throws(() => p.append(txn(7, 1, 1)), isKind('producer-fenced'));
    assert.throws(() => p.appendMarker({ producerId: 7, producerEpoch: 0, commit: true, coordinatorEpoch: 0 }), isKind('producer-fenced'));
    // The new epoch starts at sequence 0.
    assert.equal(p.append(txn(7, 0, 1, 2)).baseOffset, 2);
    await p.close();
  });

  test('a marker from an older coordinator epoch (a deposed transaction coordinator) is refused as coordinator-fenced', async () => {
    const p = await open();
    p.append(txn(7, 0, 1));
    // The coordinator of the transaction state partition's leader epoch 3 ended the transaction.
    await p.appendMarker({ producerId: 7, producerEpoch: 0, commit: true, coordinatorEpoch: 3 }).durable;
    assert.throws(() => p.appendMarker({ producerId: 7, producerEpoch: 0, commit: false, coordinatorEpoch: 2 }), isKind('coordinator-fenced'));
    // The same or a newer coordinator epoch is taken (a retried marker, a later coordinator).
    await p.appendMarker({ producerId: 7, producerEpoch: 0, commit: true, coordinatorEpoch: 3 }).durable;
    await p.appendMarker({ producerId: 7, producerEpoch: 0, commit: true, coordinatorEpoch: 4 }).durable;
    assert.equal(p.logEndOffset, 4, 'the refused marker appended nothing');
    await p.close();
  });

  test('open and aborted transactions survive a restart, from the active segment and from sealed index files', async () => {
    let p = await open({ segmentBytesMax: 1024 });
    // Producer 7: aborted, spread over several segments.
    for (let i = 0; i < 6; i++) p.append(testBatch(values(3, i * 3, 40), { producerId: 7, producerEpoch: 0, baseSequence: i * 3, transactional: true }));
    p.appendMarker({ producerId: 7, producerEpoch: 0, commit: false, coordinatorEpoch: 0 });
    // Producer 9: opens a transaction that is still open at the restart.
    p.append(txn(9, 0, 2));
    for (let i = 0; i < 6; i++) p.append(testBatch(values(3, i * 3, 40)));
    p.appendMarker({ producerId: 7, producerEpoch: 0, commit: true, coordinatorEpoch: 0 }); // ends nothing
    await p.append(plain(1)).durable;
    assert.ok(p.segmentCount > 3);
    const lso = p.lastStableOffset;
    const aborted = p.abortedTransactions(0, p.highWatermark);
    assert.equal(lso, 19);
    assert.deepEqual(aborted.map((t) => [t.producerId, t.firstOffset, t.lastOffset]), [[7, 0, 18]]);
    await p.close();

    p = await open({ segmentBytesMax: 1024 });
    assert.equal(p.lastStableOffset, lso);
    assert.equal(p.openTxnFirstOffset(9), 19);
    assert.deepEqual(p.abortedTransactions(0, p.highWatermark), aborted);
    await p.appendMarker({ producerId: 9, producerEpoch: 0, commit: false, coordinatorEpoch: 0 }).durable;
    assert.equal(p.lastStableOffset, p.highWatermark);
    await p.close();

    // Without index files every segment is scanned: the same state comes back.
    for (const f of await fs.readdir(dir)) if (f.endsWith('.index')) await fs.rm(path.join(dir, f));
    p = await open({ segmentBytesMax: 1024 });
    assert.equal(p.lastStableOffset, p.highWatermark);
    assert.deepEqual(p.abortedTransactions(0, p.highWatermark).map((t) => [t.producerId, t.firstOffset]), [[7, 0], [9, 19]]);
    await p.close();
  });

  test('retention drops the aborted transactions of deleted segments', async () => {
    const p = await open({ segmentBytesMax: 1024 });
    p.append(txn(7, 0, 1));
    await p.appendMarker({ producerId: 7, producerEpoch: 0, commit: false, coordinatorEpoch: 0 }).durable;
    for (let i = 0; i < 20; i++) p.append(testBatch(values(3, i * 3, 40)));
    await p.append(plain(1)).durable;
    assert.equal(p.abortedTransactions(0, p.highWatermark).length, 1);
    await p.deleteRecordsBefore(p.highWatermark);
    assert.deepEqual(p.abortedTransactions(0, p.highWatermark), []);
    await p.close();
  });

  test('index files written before transactions (a bare version-1 producer snapshot) still read', () => {
    const v1 = Buffer.alloc(4 + 19 + 32);
    let o = v1.writeUInt32BE(1, 0);
    o = v1.writeDoubleBE(9, o); // producer id
    o = v1.writeInt16BE(2, o); // epoch
    o = v1.writeDoubleBE(1_700_000_000_000, o); // last write
    o = v1.writeUInt8(1, o);
    for (const x of [0, 4, 100, 104]) o = v1.writeDoubleBE(x, o);
    const state = decodeSegmentState(v1);
    assert.equal(state.producers.epochOf(9), 2);
    assert.equal(state.producers.openTxnFirstOffset(9), undefined);
    assert.deepEqual(state.aborted, []);
    // And the current layout round-trips, open transaction and aborted list included.
    state.producers.record(9, 2, { firstSeq: 5, lastSeq: 6, baseOffset: 200, lastOffset: 201 }, 1, true);
    const again = decodeSegmentState(encodeSegmentState(state.producers.encode(), [{ producerId: 4, firstOffset: 10, lastOffset: 20, lastStableOffset: 21, segment: 3 }]));
    assert.equal(again.producers.openTxnFirstOffset(9), 200);
    assert.deepEqual(again.aborted, [{ producerId: 4, firstOffset: 10, lastOffset: 20, lastStableOffset: 21 }]);
  });
});
