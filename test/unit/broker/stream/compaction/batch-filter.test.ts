import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type FilterContext, filterBatch } from '../../../../../src/broker/stream/compaction/batch-filter.js';
import { OffsetMap } from '../../../../../src/broker/stream/compaction/offset-map.js';
import { CleanedTransactions } from '../../../../../src/broker/stream/compaction/transactions.js';
import { Compression } from '../../../../../src/protocol/kafka/compression.js';
import { ControlRecordType, buildMarkerBatch } from '../../../../../src/protocol/kafka/control-records.js';
import {
  TimestampType,
  buildRecordBatch,
  buildRecordBatchSync,
  checkBatch,
  decodeRecords,
  readBatchHeader,
} from '../../../../../src/protocol/kafka/record-batch.js';

const T0 = 1_700_000_000_000;

type KV = [key: string | null, value: string | null];

function batch(base: number, kvs: KV[], o: { compression?: number; producerId?: number; transactional?: boolean; logAppend?: boolean } = {}): Promise<Buffer> {
  return buildRecordBatch({
    baseOffset: BigInt(base),
    compression: o.compression ?? Compression.NONE,
    producerId: BigInt(o.producerId ?? -1),
    producerEpoch: o.producerId === undefined ? -1 : 0,
    baseSequence: o.producerId === undefined ? -1 : 0,
    isTransactional: o.transactional ?? false,
    timestampType: o.logAppend ? TimestampType.LOG_APPEND_TIME : TimestampType.CREATE_TIME,
    records: kvs.map(([k, v], i) => ({
      key: k === null ? null : Buffer.from(k),
      value: v === null ? null : Buffer.from(v),
      timestamp: BigInt(T0 + i * 10),
    })),
  });
}

/** A map holding `latest` (key -> offset), covering offsets up to `latestOffset`. */
function mapOf(latest: Record<string, number>, latestOffset: number): OffsetMap {
  const m = new OffsetMap(24 * 1000);
  for (const [k, o] of Object.entries(latest)) m.put(Buffer.from(k), 0, Buffer.byteLength(k), o);
  m.updateLatestOffset(latestOffset);
  return m;
}

function ctx(map: OffsetMap, o: Partial<FilterContext> = {}): FilterContext {
  return { map, nowMs: T0 + 1000, deleteRetentionMs: 5000, txns: undefined, lastOffsetOfProducer: new Map(), upperBoundOffset: 1_000_000, ...o };
}

const view = (b: Buffer): { offset: number; key: string | null; value: string | null; timestamp: number }[] =>
  decodeRecords(b).map((r) => ({ offset: Number(r.offset), key: r.key?.toString() ?? null, value: r.value?.toString() ?? null, timestamp: Number(r.timestamp) }));

describe('cleaning one batch', () => {
  test('keeps the latest record of each key, at its offset and timestamp; an untouched batch is kept byte for byte', async () => {
    const b = await batch(100, [['a', '1'], ['b', '2'], ['a', '3'], ['c', '4']]);
    const out = await filterBatch(b, ctx(mapOf({ a: 102, b: 101, c: 200 }, 300)));
    assert.ok(out.batch);
    checkBatch(out.batch);
    assert.deepEqual(view(out.batch), [
      { offset: 101, key: 'b', value: '2', timestamp: T0 + 10 },
      { offset: 102, key: 'a', value: '3', timestamp: T0 + 20 },
    ]);
    const h = readBatchHeader(out.batch);
    assert.equal(h.baseOffset, 100n);
    assert.equal(h.lastOffsetDelta, 3); // the batch still ends where it did
    assert.equal(h.maxTimestamp, BigInt(T0 + 20));
    assert.equal(out.recordsKept, 2);
    assert.equal(out.deleteHorizonMs, -1);
    const kept = await filterBatch(b, ctx(mapOf({ a: 0, b: 0, c: 0 }, 103)));
    assert.equal(kept.batch, b);
  });

  test('records past the map\'s range are not judged', async () => {
    const b = await batch(10, [['a', '1'], ['a', '2'], ['a', '3']]);
    const out = await filterBatch(b, ctx(mapOf({ a: 20 }, 11)));
    assert.deepEqual(view(out.batch as Buffer).map((r) => r.offset), [12]);
  });

  test('a batch whose records all go is dropped; records without key go', async () => {
    const b = await batch(0, [['a', '1'], [null, 'x']]);
    const out = await filterBatch(b, ctx(mapOf({ a: 5 }, 10)));
    assert.equal(out.batch, undefined);
    assert.equal(out.recordsRead, 2);
  });

  test('compressed batches stay compressed with the same codec', async () => {
    for (const compression of [Compression.GZIP, Compression.SNAPPY, Compression.LZ4, Compression.ZSTD]) {
      const b = await batch(50, [['a', 'x'.repeat(100)], ['b', 'y'.repeat(100)], ['a', 'z'.repeat(100)]], { compression });
      const out = await filterBatch(b, ctx(mapOf({ a: 52, b: 51 }, 52)));
      const h = readBatchHeader(out.batch as Buffer);
      assert.equal(h.compression, compression);
      assert.deepEqual(view(out.batch as Buffer).map((r) => [r.offset, r.key]), [[51, 'b'], [52, 'a']]);
    }
  });

  test('a tombstone gets a delete horizon when first seen, and goes once it has passed', async () => {
    const b = await batch(0, [['a', null], ['b', '1']]);
    const map = mapOf({ a: 0, b: 1 }, 1);
    const first = await filterBatch(b, ctx(map, { nowMs: T0 }));
    const h = readBatchHeader(first.batch as Buffer);
    assert.ok(h.hasDeleteHorizonMs);
    assert.equal(h.baseTimestamp, BigInt(T0 + 5000)); // KIP-534: the base timestamp is the horizon
    assert.equal(first.deleteHorizonMs, T0 + 5000);
    // Record timestamps are unchanged: their deltas were re-based on the horizon.
    assert.deepEqual(view(first.batch as Buffer), [
      { offset: 0, key: 'a', value: null, timestamp: T0 },
      { offset: 1, key: 'b', value: '1', timestamp: T0 + 10 },
    ]);
    // Before the horizon the tombstone stays, and the horizon is not moved.
    const again = await filterBatch(first.batch as Buffer, ctx(map, { nowMs: T0 + 4999 }));
    assert.equal(again.batch, first.batch);
    // After it, it goes; the rest keeps its offsets and timestamps.
    const later = await filterBatch(first.batch as Buffer, ctx(map, { nowMs: T0 + 5000 }));
    assert.deepEqual(view(later.batch as Buffer), [{ offset: 1, key: 'b', value: '1', timestamp: T0 + 10 }]);
    assert.equal(later.deleteHorizonMs, -1);
  });

  test('a superseded tombstone goes at once', async () => {
    const b = await batch(0, [['a', null]]);
    assert.equal((await filterBatch(b, ctx(mapOf({ a: 4 }, 4)))).batch, undefined);
  });

  test('the last batch of a producer and the last batch of the pass stay, emptied', async () => {
    const b = await batch(7, [['a', '1'], ['a', '2']], { producerId: 42 });
    const gone = mapOf({ a: 100 }, 100);
    const kept = await filterBatch(b, ctx(gone, { lastOffsetOfProducer: new Map([[42, 8]]) }));
    const h = readBatchHeader(kept.batch as Buffer);
    assert.equal(h.recordsCount, 0);
    assert.equal(h.baseOffset, 7n);
    assert.equal(h.lastOffsetDelta, 1);
    assert.equal(h.producerId, 42n);
    assert.equal(h.baseSequence, 0);
    checkBatch(kept.batch as Buffer);
    assert.deepEqual(decodeRecords(kept.batch as Buffer), []);
    const last = await filterBatch(await batch(7, [['a', '1']]), ctx(gone, { upperBoundOffset: 8 }));
    assert.equal(readBatchHeader(last.batch as Buffer).recordsCount, 0);
    assert.equal((await filterBatch(b, ctx(gone))).batch, undefined);
  });

  test('log append time batches keep their max timestamp', async () => {
    const b = await batch(0, [['a', '1'], ['a', '2']], { logAppend: true });
    const out = await filterBatch(b, ctx(mapOf({ a: 1 }, 1)));
    const h = readBatchHeader(out.batch as Buffer);
    assert.equal(h.maxTimestamp, readBatchHeader(b).maxTimestamp);
    assert.equal(h.timestampType, TimestampType.LOG_APPEND_TIME);
  });

  test('without a transaction index, transactional and control batches are kept as they are', async () => {
    const data = await batch(0, [['a', '1']], { producerId: 9, transactional: true });
    const marker = buildMarkerBatch({ producerId: 9n, producerEpoch: 0, marker: { type: ControlRecordType.ABORT, coordinatorEpoch: 0 }, baseOffset: 1n });
    const map = mapOf({ a: 50 }, 50);
    assert.equal((await filterBatch(data, ctx(map))).batch, data);
    assert.equal((await filterBatch(marker, ctx(map))).batch, marker);
  });

  test('aborted transactions go; their marker stays until their batches are gone, then until its horizon', async () => {
    const data = await batch(10, [['a', 'aborted']], { producerId: 9, transactional: true });
    const marker = buildMarkerBatch({ producerId: 9n, producerEpoch: 0, marker: { type: ControlRecordType.ABORT, coordinatorEpoch: 0 }, baseOffset: 11n, timestamp: BigInt(T0) });
    const map = mapOf({}, 11);
    const abortedIndex = [{ producerId: 9, firstOffset: 10, lastOffset: 11 }];
    // Pass 1: the aborted batch goes; the marker stays (its batch was still there in this pass).
    let txns = new CleanedTransactions();
    txns.add(abortedIndex);
    assert.equal((await filterBatch(data, ctx(map, { txns }))).batch, undefined);
    assert.equal((await filterBatch(marker, ctx(map, { txns }))).batch, marker);
    // Pass 2: no batch of the transaction left: the marker gets a delete horizon.
    txns = new CleanedTransactions();
    txns.add(abortedIndex);
    const marked = await filterBatch(marker, ctx(map, { txns, nowMs: T0 }));
    assert.ok(readBatchHeader(marked.batch as Buffer).hasDeleteHorizonMs);
    assert.equal(marked.deleteHorizonMs, T0 + 5000);
    // Pass 3, after the horizon: the marker goes.
    txns = new CleanedTransactions();
    txns.add(abortedIndex);
    assert.equal((await filterBatch(marked.batch as Buffer, ctx(map, { txns, nowMs: T0 + 6000 }))).batch, undefined);
  });

  test('a commit marker stays while its transaction has batches; committed records are compacted like others', async () => {
    const data = await batch(10, [['a', 'old'], ['a', 'new']], { producerId: 9, transactional: true });
    const commit = buildMarkerBatch({ producerId: 9n, producerEpoch: 0, marker: { type: ControlRecordType.COMMIT, coordinatorEpoch: 0 }, baseOffset: 12n });
    const map = mapOf({ a: 11 }, 12);
    const txns = new CleanedTransactions();
    const out = await filterBatch(data, ctx(map, { txns }));
    assert.deepEqual(view(out.batch as Buffer).map((r) => r.value), ['new']);
    assert.ok(readBatchHeader(out.batch as Buffer).isTransactional);
    assert.equal((await filterBatch(commit, ctx(map, { txns }))).batch, commit);
  });

  test('batches built with buildRecordBatchSync clean the same way', async () => {
    const b = buildRecordBatchSync({ baseOffset: 3n, records: [{ key: Buffer.from('k'), value: Buffer.from('v') }, { key: Buffer.from('k'), value: Buffer.from('w') }] });
    const out = await filterBatch(b, ctx(mapOf({ k: 4 }, 4)));
    assert.deepEqual(view(out.batch as Buffer).map((r) => [r.offset, r.value]), [[4, 'w']]);
  });
});
