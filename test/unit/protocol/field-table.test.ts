// Field tables with RabbitMQ's type letters: decoding of each letter, the
// letter chosen for plain values, nested round trips, and malformed input.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  AmqpProtocolError,
  Decimal,
  FIELD_NESTING_MAX,
  ReplyCode,
  Timestamp,
  TypedNumber,
  decodeTable,
  encodeTable,
  fieldNumber,
  type FieldTable,
  type FieldValue,
} from '../../../src/protocol/amqp/index.js';
import { fieldTable } from './arbitraries.js';

/** A table holding one entry `k` with the given type letter and value bytes. */
function oneEntry(letter: string, value: Buffer): Buffer {
  const entry = Buffer.concat([Buffer.from([1, 0x6b]), Buffer.from(letter, 'latin1'), value]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(entry.length);
  return Buffer.concat([len, entry]);
}

function decodeOne(letter: string, value: number[] | Buffer): FieldValue {
  return decodeTable(oneEntry(letter, Buffer.from(value)), 0).value.k;
}

function protocolError(fn: () => unknown): AmqpProtocolError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof AmqpProtocolError, `expected AmqpProtocolError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a protocol error');
}

test('each RabbitMQ type letter decodes to its documented JS value', () => {
  assert.equal(decodeOne('t', [1]), true);
  assert.equal(decodeOne('t', [0]), false);
  assert.deepEqual(decodeOne('b', [0xff]), new TypedNumber('int8', -1));
  assert.deepEqual(decodeOne('B', [0xff]), new TypedNumber('uint8', 255));
  assert.deepEqual(decodeOne('s', [0xff, 0xfe]), new TypedNumber('int16', -2));
  assert.deepEqual(decodeOne('u', [0xff, 0xfe]), new TypedNumber('uint16', 65534));
  assert.equal(decodeOne('I', [0xff, 0xff, 0xff, 0xfd]), -3);
  assert.deepEqual(decodeOne('i', [0xff, 0xff, 0xff, 0xfd]), new TypedNumber('uint32', 4294967293));
  assert.equal(decodeOne('l', [0, 0, 0, 1, 0, 0, 0, 0]), 4294967296);
  assert.equal(decodeOne('l', [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), -1);
  assert.equal(decodeOne('l', [0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 2n ** 63n - 1n);
  assert.equal(decodeOne('l', [0xff, 0xe0, 0, 0, 0, 0, 0, 0]), -(2n ** 53n));
  assert.deepEqual(decodeOne('f', [0x3f, 0xc0, 0, 0]), new TypedNumber('float', 1.5));
  assert.equal(decodeOne('d', [0x3f, 0xf8, 0, 0, 0, 0, 0, 0]), 1.5);
  assert.deepEqual(decodeOne('D', [2, 0, 0, 0x01, 0x2c]), new Decimal(2, 300));
  assert.equal(decodeOne('S', [0, 0, 0, 2, 0xc3, 0xa9]), 'é');
  assert.deepEqual(decodeOne('x', [0, 0, 0, 2, 0, 0xff]), Buffer.from([0, 0xff]));
  assert.deepEqual(decodeOne('A', [0, 0, 0, 7, 0x74, 1, 0x56, 0x62, 5, 0x56, 0x56]), [true, null, new TypedNumber('int8', 5), null, null]);
  assert.deepEqual(decodeOne('T', [0, 0, 0, 0, 0x65, 0x53, 0xf1, 0x00]), new Timestamp(1700000000));
  assert.deepEqual(decodeOne('F', [0, 0, 0, 4, 1, 0x61, 0x74, 0]), { a: false });
  assert.equal(decodeOne('V', []), null);
});

test('plain values get the letter the API promises', () => {
  const letterOf = (v: FieldValue): string => String.fromCharCode(encodeTable({ k: v })[6]);
  assert.equal(letterOf(true), 't');
  assert.equal(letterOf(0), 'I');
  assert.equal(letterOf(-0x80000000), 'I');
  assert.equal(letterOf(0x7fffffff), 'I');
  assert.equal(letterOf(0x80000000), 'l');
  assert.equal(letterOf(Number.MIN_SAFE_INTEGER), 'l');
  assert.equal(letterOf(2 ** 60), 'd'); // an integer, but not a safe one
  assert.equal(letterOf(1.5), 'd');
  assert.equal(letterOf(-0), 'd');
  assert.equal(letterOf(5n), 'l');
  assert.equal(letterOf('s'), 'S');
  assert.equal(letterOf(Buffer.from('b')), 'x');
  assert.equal(letterOf(null), 'V');
  assert.equal(letterOf([]), 'A');
  assert.equal(letterOf({}), 'F');
  assert.equal(letterOf(new Decimal(1, 1)), 'D');
  assert.equal(letterOf(new Timestamp(1)), 'T');
  assert.equal(letterOf(new TypedNumber('uint16', 1)), 'u');
  const withUndefined = encodeTable({ k: undefined } as unknown as FieldTable);
  assert.equal(String.fromCharCode(withUndefined[6]), 'V');
});

test('a small table encodes to its known bytes', () => {
  const bytes = encodeTable({ a: 1, b: 'x' });
  assert.deepEqual(bytes, Buffer.from([0, 0, 0, 15, 1, 0x61, 0x49, 0, 0, 0, 1, 1, 0x62, 0x53, 0, 0, 0, 1, 0x78]));
  assert.deepEqual(decodeTable(bytes, 0), { value: { a: 1, b: 'x' }, next: bytes.length });
});

test('decodeTable starts at an offset and reports where the table ended', () => {
  const t = encodeTable({ q: 'v' });
  const buf = Buffer.concat([Buffer.from([9, 9, 9]), t, Buffer.from([7])]);
  assert.deepEqual(decodeTable(buf, 3), { value: { q: 'v' }, next: 3 + t.length });
});

test('field tables of every type, nested, round-trip', () => {
  fc.assert(
    fc.property(fieldTable, (t) => {
      const bytes = encodeTable(t);
      const { value, next } = decodeTable(bytes, 0);
      assert.equal(next, bytes.length);
      assert.deepEqual(value, t);
    }),
    { numRuns: 1000 },
  );
});

test('a __proto__ key is an ordinary key and does not touch the prototype', () => {
  const bytes = Buffer.concat([
    Buffer.from([0, 0, 0, 15, 9]),
    Buffer.from('__proto__'),
    Buffer.from([0x46, 0, 0, 0, 0]),
  ]);
  const { value } = decodeTable(bytes, 0);
  assert.equal(Object.getPrototypeOf(value), Object.prototype);
  assert.deepEqual(Object.keys(value), ['__proto__']);
  assert.deepEqual(encodeTable(value), bytes);
});

test('truncated tables are 502 SYNTAX_ERROR at every cut', () => {
  const bytes = encodeTable({ a: [1, 'two', { three: 3n ** 39n }], b: new Decimal(1, 2), c: Buffer.from('zz') });
  for (let cut = 0; cut < bytes.length; cut++) {
    const e = protocolError(() => decodeTable(bytes.subarray(0, cut), 0));
    assert.equal(e.replyCode, ReplyCode.SYNTAX_ERROR);
  }
});

test('a value running past the end of its enclosing table is a syntax error', () => {
  const bytes = Buffer.from(encodeTable({ a: 'xyz' }));
  bytes.writeUInt32BE(bytes.readUInt32BE(0) - 1, 0); // the table now ends inside 'xyz'
  const e = protocolError(() => decodeTable(bytes, 0));
  assert.equal(e.message, 'longstr needs 3 bytes at offset 11 but only 2 remain');
  const array = Buffer.from(encodeTable({ a: [true, 'x'] }));
  array.writeUInt32BE(array.readUInt32BE(7) - 1, 7); // the array ends inside its second value
  assert.equal(protocolError(() => decodeTable(array, 0)).replyCode, ReplyCode.SYNTAX_ERROR);
});

test('a declared length beyond the buffer is a clear syntax error', () => {
  const e = protocolError(() => decodeTable(Buffer.from([0, 0, 1, 0, 1]), 0));
  assert.equal(e.message, 'field table needs 256 bytes at offset 4 but only 1 remain');
});

test('an unknown type letter is a syntax error naming the letter', () => {
  const e = protocolError(() => decodeOne('Z', [0]));
  assert.equal(e.replyCode, ReplyCode.SYNTAX_ERROR);
  assert.equal(e.message, 'unknown field value type 0x5a at offset 6');
});

test('nesting deeper than FIELD_NESTING_MAX is refused without exhausting the stack', () => {
  const nested = (depth: number): FieldTable => (depth === 0 ? {} : { n: nested(depth - 1) });
  assert.doesNotThrow(() => decodeTable(encodeTable(nested(FIELD_NESTING_MAX)), 0));
  assert.match(protocolError(() => decodeTable(encodeTable(nested(FIELD_NESTING_MAX + 1)), 0)).message, /nested deeper/);
  // A hostile chain of 100k nested array headers.
  const depth = 100_000;
  const body = Buffer.alloc(depth * 5);
  for (let i = 0; i < depth; i++) {
    body[i * 5] = 0x41;
    body.writeUInt32BE((depth - i - 1) * 5, i * 5 + 1);
  }
  const table = Buffer.concat([Buffer.from([0, 0, 0, 0, 1, 0x61]), body]);
  table.writeUInt32BE(table.length - 4, 0);
  assert.match(protocolError(() => decodeTable(table, 0)).message, /nested deeper/);
});

test('values that have no field type are refused when encoding', () => {
  assert.throws(() => encodeTable({ f: (() => 1) as unknown as FieldValue }), TypeError);
  assert.throws(() => encodeTable({ l: 2n ** 64n }), RangeError);
  assert.throws(() => encodeTable({ ['k'.repeat(256)]: 1 }), RangeError);
});

test('fieldNumber reads numeric x-arguments whatever their wire type', () => {
  assert.equal(fieldNumber(5), 5);
  assert.equal(fieldNumber(2n ** 60n), 2 ** 60);
  assert.equal(fieldNumber(new TypedNumber('uint32', 60000)), 60000);
  assert.equal(fieldNumber('5'), undefined);
  assert.equal(fieldNumber(undefined), undefined);
  assert.equal(fieldNumber(new Decimal(1, 5)), undefined);
});
