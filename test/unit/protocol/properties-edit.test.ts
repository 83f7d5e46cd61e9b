// withHeader: one header added to encoded properties without a decode/re-encode, agreeing with
// what a full decode, edit and encode gives (the entry goes last; an existing one is replaced).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeProperties, encodeProperties, type BasicProperties, type FieldValue } from '../../../src/protocol/amqp/index.js';
import { withHeader } from '../../../src/protocol/amqp/content.js';
import { basicPropertiesArbitrary, fieldTable } from './arbitraries.js';

function expected(p: BasicProperties, key: string, value: FieldValue): BasicProperties {
  return { ...p, headers: { ...(p.headers ?? {}), [key]: value } };
}

test('adds a long header to any properties, as a decode-edit-encode would', () => {
  fc.assert(
    fc.property(basicPropertiesArbitrary(), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (p, offset) => {
      const out = withHeader(encodeProperties(p), 'x-stream-offset', offset);
      const got = decodeProperties(out);
      assert.deepEqual(got, expected(p, 'x-stream-offset', got.headers?.['x-stream-offset'] as FieldValue));
      // Small values decode as numbers, the rest as bigints: either way the same value.
      assert.equal(BigInt(got.headers?.['x-stream-offset'] as number | bigint), offset);
    }),
    { numRuns: 1000 },
  );
});

test('adds any field value, and keys outside ASCII', () => {
  fc.assert(
    fc.property(basicPropertiesArbitrary(), fieldTable, (p, t) => {
      for (const [key, value] of Object.entries(t)) {
        assert.deepEqual(decodeProperties(withHeader(encodeProperties(p), key, value)), expected(p, key, value));
      }
    }),
    { numRuns: 300 },
  );
});

test('replaces a header of the same name in its place', () => {
  const raw = encodeProperties({ contentType: 'text/plain', headers: { a: 1, 'x-stream-offset': 'old', b: true } });
  const got = decodeProperties(withHeader(raw, 'x-stream-offset', 7n));
  assert.deepEqual(Object.keys(got.headers ?? {}), ['a', 'x-stream-offset', 'b']);
  assert.equal(got.headers?.['x-stream-offset'], 7);
  assert.equal(got.contentType, 'text/plain');
});

test('empty properties get a headers table; the header goes after content type and encoding', () => {
  assert.deepEqual(decodeProperties(withHeader(Buffer.alloc(0), 'k', 1n)), { headers: { k: 1 } });
  const raw = encodeProperties({ contentType: 'a', contentEncoding: 'b', deliveryMode: 2, messageId: 'm' });
  assert.deepEqual(decodeProperties(withHeader(raw, 'k', 2n)), { contentType: 'a', contentEncoding: 'b', headers: { k: 2 }, deliveryMode: 2, messageId: 'm' });
});
