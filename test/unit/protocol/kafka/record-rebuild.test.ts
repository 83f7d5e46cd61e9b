// forEachRecord, rebuildBatch and emptyBatchLike (the compaction helpers of record-batch.ts):
// they agree with decodeRecords, keep offsets and timestamps, and garbage is CORRUPT_MESSAGE.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Compression } from '../../../../src/protocol/kafka/compression.js';
import { ErrorCode } from '../../../../src/protocol/kafka/errors.js';
import { KafkaProtocolError } from '../../../../src/protocol/kafka/protocol-error.js';
import {
  type KeptRecord,
  buildRecordBatch,
  checkBatch,
  decodeRecords,
  emptyBatchLike,
  forEachRecord,
  readBatchHeader,
  rebuildBatch,
  recordsBody,
} from '../../../../src/protocol/kafka/record-batch.js';

const bytes = fc.option(fc.uint8Array({ maxLength: 30 }).map((u) => Buffer.from(u)), { nil: null });
const recordArb = fc.record({
  key: bytes,
  value: bytes,
  headers: fc.array(fc.record({ key: fc.string({ maxLength: 8 }), value: bytes }, { noNullPrototype: true }), { maxLength: 3 }),
  timestamp: fc.bigInt({ min: 1_600_000_000_000n, max: 1_800_000_000_000n }),
});

test('forEachRecord sees what decodeRecords sees', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(recordArb, { minLength: 1, maxLength: 12 }), fc.constantFrom(Compression.NONE, Compression.GZIP, Compression.LZ4), async (records, compression) => {
      const batch = await buildRecordBatch({ baseOffset: 1000n, records, compression });
      const decoded = decodeRecords(batch);
      const body = recordsBody(batch);
      const seen: { key: Buffer | null; value: Buffer | null; offsetDelta: number; timestampDelta: number }[] = [];
      forEachRecord(body, decoded.length, (r) => {
        seen.push({
          key: r.keyLength < 0 ? null : Buffer.from(body.subarray(r.keyStart, r.keyStart + r.keyLength)),
          value: r.valueLength < 0 ? null : Buffer.from(body.subarray(r.valueStart, r.valueStart + r.valueLength)),
          offsetDelta: r.offsetDelta,
          timestampDelta: r.timestampDelta,
        });
      });
      assert.deepEqual(
        seen,
        decoded.map((d) => ({ key: d.key, value: d.value, offsetDelta: d.offsetDelta, timestampDelta: d.timestampDelta })),
      );
    }),
    { numRuns: 60 },
  );
});

test('garbage records are CORRUPT_MESSAGE, never another exception', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), fc.integer({ min: -2, max: 20 }), (u, count) => {
      try {
        forEachRecord(Buffer.from(u), count, () => {});
      } catch (e) {
        assert.ok(e instanceof KafkaProtocolError && e.errorCode === ErrorCode.CORRUPT_MESSAGE, String(e));
      }
    }),
    { numRuns: 2000 },
  );
});

test('a rebuilt batch holds exactly the kept records at their offsets and timestamps, with or without a delete horizon', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(recordArb, { minLength: 1, maxLength: 12 }),
      fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
      fc.option(fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }), { nil: undefined }),
      fc.constantFrom(Compression.NONE, Compression.SNAPPY, Compression.ZSTD),
      async (records, mask, horizon, compression) => {
        const batch = await buildRecordBatch({ baseOffset: 500n, records, compression, producerId: 7n, producerEpoch: 3, baseSequence: 40 });
        const body = recordsBody(batch);
        const keep: KeptRecord[] = [];
        let i = 0;
        forEachRecord(body, records.length, (r) => {
          if (mask[i++]) keep.push({ start: r.start, end: r.end, attributes: r.attributes, timestampDelta: r.timestampDelta, offsetDelta: r.offsetDelta, rest: r.rest });
        });
        const out = await rebuildBatch({ batch, body, keep, deleteHorizonMs: horizon });
        checkBatch(out);
        const h = readBatchHeader(out);
        const before = readBatchHeader(batch);
        assert.equal(h.baseOffset, before.baseOffset);
        assert.equal(h.lastOffsetDelta, before.lastOffsetDelta);
        assert.equal(h.producerId, 7n);
        assert.equal(h.producerEpoch, 3);
        assert.equal(h.baseSequence, 40);
        assert.equal(h.compression, compression);
        assert.equal(h.hasDeleteHorizonMs, horizon !== undefined);
        if (horizon !== undefined) assert.equal(h.baseTimestamp, BigInt(horizon));
        const expected = decodeRecords(batch).filter((_, k) => mask[k]);
        const got = decodeRecords(out);
        assert.deepEqual(
          got.map((r) => [r.offset, r.timestamp, r.key, r.value, r.headers]),
          expected.map((r) => [r.offset, r.timestamp, r.key, r.value, r.headers]),
        );
        if (expected.length > 0) assert.equal(h.maxTimestamp, expected.reduce((m, r) => (r.timestamp > m ? r.timestamp : m), -1n));
      },
    ),
    { numRuns: 60 },
  );
});

test('an emptied batch keeps its offsets and producer fields and holds no records', async () => {
  const batch = await buildRecordBatch({
    baseOffset: 9n,
    compression: Compression.GZIP,
    producerId: 11n,
    producerEpoch: 2,
    baseSequence: 5,
    isTransactional: true,
    records: [{ key: Buffer.from('a'), value: null, timestamp: 1_700_000_000_000n }, { key: Buffer.from('b'), value: Buffer.from('x'), timestamp: 1_700_000_000_050n }],
  });
  const empty = emptyBatchLike(batch);
  checkBatch(empty);
  const h = readBatchHeader(empty);
  assert.deepEqual(
    [h.baseOffset, h.lastOffsetDelta, h.producerId, h.producerEpoch, h.baseSequence, h.isTransactional, h.compression, h.recordsCount, h.baseTimestamp, h.maxTimestamp],
    [9n, 1, 11n, 2, 5, true, Compression.NONE, 0, 1_700_000_000_050n, 1_700_000_000_050n],
  );
  assert.deepEqual(decodeRecords(empty), []);
});
