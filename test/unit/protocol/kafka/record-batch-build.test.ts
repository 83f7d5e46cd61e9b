// buildRecordBatchSync (one pass, straight into the batch) gives the same bytes as the general
// builder, and decodeRecords reads back what went in.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Compression } from '../../../../src/protocol/kafka/compression.js';
import { buildRecordBatch, buildRecordBatchSync, decodeRecords, type RecordSpec } from '../../../../src/protocol/kafka/record-batch.js';

const bytes = fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u));
const record: fc.Arbitrary<RecordSpec> = fc.record({
  key: fc.option(bytes, { nil: null }),
  value: fc.option(bytes, { nil: null }),
  headers: fc.array(fc.record({ key: fc.string({ maxLength: 20 }), value: fc.option(bytes, { nil: null }) }, { noNullPrototype: true }), { maxLength: 5 }),
  timestamp: fc.option(fc.bigInt({ min: 1_600_000_000_000n, max: 1_900_000_000_000n }), { nil: undefined }),
});

test('buildRecordBatchSync gives the general builder\'s bytes, and the records decode back', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(record, { minLength: 1, maxLength: 30 }), fc.bigInt({ min: 1_600_000_000_000n, max: 1_900_000_000_000n }), async (records, base) => {
      const spec = { records, baseTimestamp: base, baseOffset: 42n };
      const fast = buildRecordBatchSync(spec);
      assert.deepEqual(fast, await buildRecordBatch({ ...spec, compression: Compression.NONE }));
      const back = decodeRecords(fast);
      assert.equal(back.length, records.length);
      back.forEach((r, i) => {
        assert.equal(r.offset, 42n + BigInt(i));
        assert.deepEqual(r.key, records[i].key ?? null);
        assert.deepEqual(r.value, records[i].value);
        assert.deepEqual(r.headers, records[i].headers);
        assert.equal(r.timestamp, records[i].timestamp ?? base);
      });
    }),
    { numRuns: 300 },
  );
});
