// Record batches (magic v2): header fields at their offsets, CRC-32C over
// attributes..end, in-place offsets outside the CRC, splitting with truncated
// tails, corruption detection, every compression codec, control records.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  Compression,
  ControlRecordType,
  ErrorCode,
  KafkaProtocolError,
  TimestampType,
  buildMarkerBatch,
  buildRecordBatch,
  buildRecordBatchSync,
  checkBatch,
  decodeRecords,
  decodeTransactionMarker,
  isBatchCrcValid,
  readBatchHeader,
  setBaseOffset,
  setLogAppendTime,
  setPartitionLeaderEpoch,
  splitBatches,
  type RecordSpec,
} from '../../../../src/protocol/kafka/index.js';

const RECORDS: RecordSpec[] = [
  { key: Buffer.from('k1'), value: Buffer.from('v1'), timestamp: 1700000000000n, headers: [{ key: 'trace', value: Buffer.from('abc') }] },
  { key: null, value: Buffer.from('v2'), timestamp: 1700000000010n },
  { value: null, timestamp: 1699999999990n, headers: [{ key: 'nil', value: null }] },
];

function corruptError(f: () => unknown): KafkaProtocolError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof KafkaProtocolError, `expected KafkaProtocolError, got ${String(e)}`);
    assert.equal(e.errorCode, ErrorCode.CORRUPT_MESSAGE);
    return e;
  }
  assert.fail('expected CORRUPT_MESSAGE');
}

test('a built batch has every header field at its place and a valid CRC', () => {
  const batch = buildRecordBatchSync({
    records: RECORDS,
    baseOffset: 100n,
    partitionLeaderEpoch: 7,
    producerId: 4000n,
    producerEpoch: 2,
    baseSequence: 10,
    isTransactional: true,
  });
  assert.ok(isBatchCrcValid(batch));
  checkBatch(batch);
  const h = readBatchHeader(batch);
  assert.deepEqual(
    { ...h, crc: 0 },
    {
      baseOffset: 100n,
      batchLength: batch.length - 12,
      partitionLeaderEpoch: 7,
      magic: 2,
      crc: 0,
      attributes: 0x10,
      compression: 0,
      timestampType: TimestampType.CREATE_TIME,
      isTransactional: true,
      isControl: false,
      hasDeleteHorizonMs: false,
      lastOffsetDelta: 2,
      baseTimestamp: 1700000000000n,
      maxTimestamp: 1700000000010n,
      producerId: 4000n,
      producerEpoch: 2,
      baseSequence: 10,
      recordsCount: 3,
    },
  );
  const records = decodeRecords(batch);
  assert.deepEqual(
    records.map((r) => [r.offset, r.offsetDelta, r.timestamp, r.timestampDelta, r.key, r.value, r.headers]),
    [
      [100n, 0, 1700000000000n, 0, Buffer.from('k1'), Buffer.from('v1'), [{ key: 'trace', value: Buffer.from('abc') }]],
      [101n, 1, 1700000000010n, 10, null, Buffer.from('v2'), []],
      [102n, 2, 1699999999990n, -10, null, null, [{ key: 'nil', value: null }]],
    ],
  );
});

test('one record with known bytes (Kafka documentation layout)', () => {
  const batch = buildRecordBatchSync({ records: [{ key: null, value: Buffer.from('hi'), timestamp: 5n }] });
  // length 8 (zigzag 16), attributes 0, timestampDelta 0, offsetDelta 0, key -1 (01), value 2 (04) "hi", 0 headers
  assert.deepEqual(batch.subarray(61), Buffer.from([0x10, 0x00, 0x00, 0x00, 0x01, 0x04, 0x68, 0x69, 0x00]));
  assert.equal(batch.length, 70);
  assert.equal(batch.readInt32BE(8), 58);
});

test('baseOffset and partitionLeaderEpoch are set in place without touching the CRC', () => {
  const batch = buildRecordBatchSync({ records: RECORDS });
  const crc = batch.readUInt32BE(17);
  setBaseOffset(batch, 1n << 40n);
  setPartitionLeaderEpoch(batch, 12);
  assert.equal(batch.readUInt32BE(17), crc);
  checkBatch(batch);
  const h = readBatchHeader(batch);
  assert.equal(h.baseOffset, 1n << 40n);
  assert.equal(h.partitionLeaderEpoch, 12);
  assert.equal(decodeRecords(batch)[2].offset, (1n << 40n) + 2n);
});

test('LOG_APPEND_TIME re-computes the CRC and gives every record the batch timestamp', () => {
  const batch = buildRecordBatchSync({ records: RECORDS });
  setLogAppendTime(batch, 1800000000000n);
  checkBatch(batch);
  const h = readBatchHeader(batch);
  assert.equal(h.timestampType, TimestampType.LOG_APPEND_TIME);
  assert.deepEqual(decodeRecords(batch).map((r) => r.timestamp), [1800000000000n, 1800000000000n, 1800000000000n]);
});

test('flipping any bit covered by the CRC is detected', () => {
  const batch = buildRecordBatchSync({ records: RECORDS });
  for (let i = 21; i < batch.length; i++) {
    for (const bit of [0x01, 0x80]) {
      const bad = Buffer.from(batch);
      bad[i] ^= bit;
      assert.equal(isBatchCrcValid(bad), false, `byte ${i} bit ${bit}`);
      corruptError(() => decodeRecords(bad));
    }
  }
  const badCrc = Buffer.from(batch);
  badCrc[17] ^= 1;
  assert.match(corruptError(() => checkBatch(badCrc)).message, /CRC/);
});

test('splitting: whole batches, a truncated tail refused for produce and skipped for fetch', () => {
  const a = buildRecordBatchSync({ records: RECORDS.slice(0, 1), baseOffset: 0n });
  const b = buildRecordBatchSync({ records: RECORDS.slice(1), baseOffset: 1n });
  const both = Buffer.concat([a, b]);
  const split = splitBatches(both);
  assert.deepEqual(split, { batches: [a, b], truncatedTailBytes: 0 });
  assert.equal(split.batches[1].buffer, both.buffer, 'zero-copy slices');
  assert.deepEqual(splitBatches(Buffer.alloc(0)), { batches: [], truncatedTailBytes: 0 });
  for (let cut = 1; cut < b.length; cut++) {
    const partial = both.subarray(0, a.length + cut);
    corruptError(() => splitBatches(partial));
    assert.deepEqual(splitBatches(partial, true), { batches: [a], truncatedTailBytes: cut });
  }
});

test('a batch length below the header size or an unknown magic is corrupt', () => {
  const batch = buildRecordBatchSync({ records: RECORDS });
  const short = Buffer.from(batch);
  short.writeInt32BE(10, 8);
  corruptError(() => splitBatches(short));
  const magic3 = Buffer.from(batch);
  magic3[16] = 3;
  corruptError(() => splitBatches(magic3));
  corruptError(() => readBatchHeader(magic3));
});

test('garbage batches give CORRUPT_MESSAGE, never another exception', () => {
  const batch = buildRecordBatchSync({ records: RECORDS });
  fc.assert(
    fc.property(fc.nat(batch.length - 22), fc.uint8Array({ minLength: 1, maxLength: 8 }), (at, bytes) => {
      // Garbage under a recomputed CRC reaches the record parser.
      const bad = Buffer.from(batch);
      Buffer.from(bytes).copy(bad, 61 + (at % (batch.length - 61)));
      setLogAppendTime(bad, 0n); // re-computes the CRC
      try {
        decodeRecords(bad);
      } catch (e) {
        assert.ok(e instanceof KafkaProtocolError, String(e));
        assert.equal(e.errorCode, ErrorCode.CORRUPT_MESSAGE);
      }
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (u, tail) => {
      try {
        for (const b of splitBatches(Buffer.from(u), tail).batches) decodeRecords(b);
      } catch (e) {
        assert.ok(e instanceof KafkaProtocolError, String(e));
      }
    }),
    { numRuns: 1000 },
  );
});

test('every codec: build, then decode gives the records back', async () => {
  const many: RecordSpec[] = Array.from({ length: 200 }, (_, i) => ({
    key: Buffer.from(`key-${i}`),
    value: Buffer.alloc(100, i),
    timestamp: 1700000000000n + BigInt(i),
  }));
  for (const codec of [Compression.NONE, Compression.GZIP, Compression.SNAPPY, Compression.LZ4, Compression.ZSTD]) {
    const batch = await buildRecordBatch({ records: many, compression: codec });
    const h = readBatchHeader(batch);
    assert.equal(h.compression, codec);
    if (codec !== Compression.NONE) assert.ok(batch.length < 200 * 100, `codec ${codec} compresses`);
    const records = decodeRecords(batch);
    assert.equal(records.length, 200);
    assert.deepEqual(records[199].value, Buffer.alloc(100, 199));
    assert.equal(records[150].key?.toString(), 'key-150');
    assert.equal(records[10].timestamp, 1700000000010n);
  }
});

test('records round-trip for arbitrary keys, values, headers and timestamps', () => {
  const bytes = fc.option(fc.uint8Array({ maxLength: 30 }).map((u) => Buffer.from(u)), { nil: null });
  const record = fc.record({
    key: bytes,
    value: bytes,
    headers: fc.array(fc.record({ key: fc.string({ maxLength: 8 }), value: bytes }, { noNullPrototype: true }), { maxLength: 3 }),
    timestamp: fc.bigInt({ min: 0n, max: 1n << 45n }),
  }, { noNullPrototype: true });
  fc.assert(
    fc.property(fc.array(record, { minLength: 1, maxLength: 10 }), (records) => {
      const decoded = decodeRecords(buildRecordBatchSync({ records }));
      assert.deepEqual(
        decoded.map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp })),
        records,
      );
    }),
  );
});

test('transaction markers: a control batch with one COMMIT or ABORT record', () => {
  for (const type of [ControlRecordType.ABORT, ControlRecordType.COMMIT]) {
    const batch = buildMarkerBatch({ producerId: 55n, producerEpoch: 3, marker: { type, coordinatorEpoch: 9 }, baseOffset: 20n, timestamp: 1n });
    const h = readBatchHeader(batch);
    assert.deepEqual([h.isControl, h.isTransactional, h.producerId, h.producerEpoch, h.recordsCount], [true, true, 55n, 3, 1]);
    const [record] = decodeRecords(batch);
    assert.deepEqual(record.key, Buffer.from([0, 0, 0, type]));
    assert.deepEqual(record.value, Buffer.from([0, 0, 0, 0, 0, 9]));
    assert.deepEqual(decodeTransactionMarker(record), { type, coordinatorEpoch: 9 });
  }
  corruptError(() => decodeTransactionMarker({ key: Buffer.from([0, 0, 0, 7]), value: Buffer.alloc(6) }));
  corruptError(() => decodeTransactionMarker({ key: Buffer.from([0, 0]), value: Buffer.alloc(6) }));
  corruptError(() => decodeTransactionMarker({ key: Buffer.from([0, 0, 0, 1]), value: Buffer.alloc(2) }));
});
