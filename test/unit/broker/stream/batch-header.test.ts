// The produce-side batch checks (clientBatch, checkUncompressedRecords) agree with the protocol
// layer's record decoder: every batch the builder makes passes, and any damage to the records
// of a batch either still parses (as the decoder agrees) or is 'invalid-record', never another
// exception.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { crc32c } from '@node-rs/crc32';
import { checkUncompressedRecords, clientBatch } from '../../../../src/broker/stream/batch-header.js';
import { StreamError } from '../../../../src/broker/stream/errors.js';
import { buildRecordBatchSync, decodeRecords } from '../../../../src/protocol/kafka/index.js';

const bytes = fc.option(fc.uint8Array({ maxLength: 30 }).map((u) => Buffer.from(u)), { nil: null });
const record = fc.record({
  key: bytes,
  value: bytes,
  headers: fc.array(fc.record({ key: fc.string({ maxLength: 8 }), value: bytes }), { maxLength: 3 }),
  timestamp: fc.bigInt({ min: 0n, max: 2n ** 41n }),
});
const batch = fc.array(record, { minLength: 1, maxLength: 6 }).map((records) => buildRecordBatchSync({ records }));

test('every built batch passes the produce checks', () => {
  fc.assert(
    fc.property(batch, (b) => {
      const got = clientBatch(b, 1 << 20);
      assert.equal(got.length, b.length);
      checkUncompressedRecords(got, b.readInt32BE(57));
    }),
    { numRuns: 200, seed: 7 },
  );
});

test('damaged records are INVALID_RECORD exactly when the decoder refuses them too', () => {
  fc.assert(
    fc.property(batch, fc.nat(), fc.integer({ min: 1, max: 255 }), (b, at, xor) => {
      const d = Buffer.from(b);
      d[61 + (at % (d.length - 61))] ^= xor;
      d.writeUInt32BE(crc32c(d.subarray(21)), 17);
      let ours: unknown;
      let theirs: unknown;
      try {
        checkUncompressedRecords(d, d.readInt32BE(57));
      } catch (e) {
        ours = e;
      }
      try {
        decodeRecords(d);
      } catch (e) {
        theirs = e;
      }
      if (ours !== undefined) assert.ok(ours instanceof StreamError && ours.kind === 'invalid-record', String(ours));
      assert.equal(ours === undefined, theirs === undefined, `ours: ${String(ours)}; decoder: ${String(theirs)}`);
    }),
    { numRuns: 500, seed: 11 },
  );
});
