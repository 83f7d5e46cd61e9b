// Codecs of the delayed-message log's records round-trip, and recovery's
// header-only peek agrees with the full decode.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  DelayedRecordError,
  DelayedRecordType,
  decodeDropped,
  decodeHeld,
  decodeNames,
  decodeReleased,
  encodeDropped,
  encodeHeld,
  encodeReleased,
  peekHeld,
  type EncodedDelayedRecord,
} from '../../../src/store/delayed-log.js';

const join = (r: EncodedDelayedRecord): Buffer => Buffer.concat(r.parts);
const shortStr = fc.string({ maxLength: 60 });

const heldArb = fc.record({
  persistent: fc.boolean(),
  recoverable: fc.boolean(),
  dueMs: fc.integer({ min: 0, max: 2 ** 50 }),
  delayMs: fc.integer({ min: 1, max: 0xffffffff }),
  vhost: shortStr,
  exchange: shortStr,
  routingKey: shortStr,
  properties: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
  body: fc.uint8Array({ maxLength: 256 }).map((a) => Buffer.from(a)),
});

test('held records round-trip; the peek agrees', () => {
  fc.assert(
    fc.property(heldArb, (r) => {
      const rec = encodeHeld(r);
      assert.equal(rec.type, DelayedRecordType.Held);
      const bytes = join(rec);
      assert.deepEqual(decodeHeld(bytes), { ...r });
      const peek = peekHeld(bytes);
      assert.equal(peek.recoverable, r.recoverable);
      assert.equal(peek.dueMs, r.dueMs);
      assert.deepEqual(decodeNames(peek.names), { vhost: r.vhost, exchange: r.exchange });
    }),
  );
});

test('released and dropped records round-trip', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ segment: fc.integer({ min: 0, max: 0xffffffff }), offset: fc.integer({ min: 8, max: 0xffffffff }) })),
      shortStr,
      shortStr,
      (positions, vhost, exchange) => {
        assert.deepEqual(decodeReleased(join(encodeReleased(positions))), positions.map((p) => ({ ...p })));
        assert.deepEqual(decodeDropped(join(encodeDropped({ vhost, exchange }))), { vhost, exchange });
      },
    ),
  );
});

test('truncated records are refused, never misread', () => {
  const bytes = join(encodeHeld({
    persistent: true, recoverable: true, dueMs: 1, delayMs: 1, vhost: '/', exchange: 'x', routingKey: 'k',
    properties: Buffer.from([1, 2, 3]), body: Buffer.alloc(0),
  }));
  for (let n = 0; n < bytes.length; n++) assert.throws(() => decodeHeld(bytes.subarray(0, n)), DelayedRecordError);
  assert.throws(() => decodeReleased(Buffer.from([0, 0, 0, 2, 0, 0, 0, 1])), DelayedRecordError);
  assert.throws(() => encodeHeld({
    persistent: true, recoverable: true, dueMs: 1, delayMs: 1, vhost: '/', exchange: 'x'.repeat(256), routingKey: '',
    properties: Buffer.alloc(0), body: Buffer.alloc(0),
  }), RangeError);
});
