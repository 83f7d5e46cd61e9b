// Basic content properties (§4.2.6.1): flags word, continuation, round trips
// and agreement with amqplib's encoding.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  AmqpProtocolError,
  ReplyCode,
  Timestamp,
  decodeProperties,
  encodeProperties,
  encodePropertiesInto,
  propertiesMaxBytes,
  type BasicProperties,
} from '../../../src/protocol/amqp/index.js';
import { basicPropertiesArbitrary, loadAmqplibDefs, simpleTable } from './arbitraries.js';

test('no properties is just a zero flags word', () => {
  assert.deepEqual(encodeProperties({}), Buffer.from([0, 0]));
  assert.deepEqual(decodeProperties(Buffer.from([0, 0])), {});
});

test('flags follow the spec order, highest bit first', () => {
  const raw = encodeProperties({ contentType: 'text/plain', deliveryMode: 2 });
  assert.deepEqual(raw, Buffer.concat([Buffer.from([0x90, 0x00, 10]), Buffer.from('text/plain'), Buffer.from([2])]));
  assert.deepEqual(decodeProperties(raw), { contentType: 'text/plain', deliveryMode: 2 });
});

test('a continuation flag word is read and skipped', () => {
  // contentType flag plus bit 0 (continuation), then an empty second word.
  const raw = Buffer.from([0x80, 0x01, 0x00, 0x00, 1, 0x78]);
  assert.deepEqual(decodeProperties(raw), { contentType: 'x' });
});

test('BasicProperties round-trip with arbitrary values', () => {
  fc.assert(
    fc.property(basicPropertiesArbitrary(), (p) => {
      const raw = encodeProperties(p);
      assert.ok(raw.length <= propertiesMaxBytes(p));
      assert.deepEqual(decodeProperties(raw), p);
    }),
    { numRuns: 1000 },
  );
});

test('encodePropertiesInto writes at an offset and returns the end', () => {
  const p: BasicProperties = { messageId: 'm-1', timestamp: 1700000000, headers: { a: new Timestamp(5) } };
  const b = Buffer.alloc(propertiesMaxBytes(p) + 3);
  const end = encodePropertiesInto(p, b, 3);
  assert.deepEqual(decodeProperties(b.subarray(3, end)), p);
});

test('property encoding is byte-for-byte amqplib\'s', () => {
  const defs = loadAmqplibDefs();
  fc.assert(
    fc.property(basicPropertiesArbitrary(simpleTable), fc.nat(1000), (p, bodySize) => {
      const theirs = defs.encodeProperties(60, 1, bodySize, { ...p });
      // header frame: 7 frame header bytes, class, weight, body size (12), flags + list, end byte
      assert.deepEqual(encodeProperties(p), theirs.subarray(7 + 12, theirs.length - 1));
    }),
    { numRuns: 300 },
  );
});

test('truncated or padded property lists are 502 SYNTAX_ERROR for class 60', () => {
  const raw = encodeProperties({ contentType: 'application/json', priority: 3 });
  for (let cut = 0; cut < raw.length; cut++) {
    assert.throws(
      () => decodeProperties(raw.subarray(0, cut)),
      (e: unknown) => e instanceof AmqpProtocolError && e.replyCode === ReplyCode.SYNTAX_ERROR && e.classId === 60,
    );
  }
  assert.throws(() => decodeProperties(Buffer.concat([raw, Buffer.from([0])])), /malformed basic properties: 1 unexpected trailing bytes/);
});

test('flags for properties the spec does not define do not fail the decode', () => {
  // bit 1 is not a basic property: what follows the known ones cannot be parsed, so it is ignored.
  assert.deepEqual(decodeProperties(Buffer.from([0x10, 0x02, 1, 0xff, 0xee])), { deliveryMode: 1 });
});
