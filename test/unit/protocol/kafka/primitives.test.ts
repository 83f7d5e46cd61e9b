// Kafka's primitive types: known bytes from the protocol guide, round trips,
// bounds checks that raise KafkaProtocolError, and the Writer's chunk list
// (growth, zero-copy external buffers, the size prefix).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { KafkaProtocolError, Reader, Writer, ZERO_UUID, concatFrame } from '../../../../src/protocol/kafka/index.js';

function written(f: (w: Writer) => void): Buffer {
  const w = new Writer(16, false);
  f(w);
  return w.toBuffer();
}

function protocolError(f: () => unknown): KafkaProtocolError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof KafkaProtocolError, `expected KafkaProtocolError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a KafkaProtocolError');
}

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s/g, ''), 'hex');

test('unsigned varints: 7 bits a byte, low group first (protocol guide and protobuf examples)', () => {
  const cases: [number, string][] = [
    [0, '00'],
    [1, '01'],
    [127, '7f'],
    [128, '8001'],
    [300, 'ac02'],
    [16383, 'ff7f'],
    [16384, '808001'],
    [0x7fffffff, 'ffffffff07'],
    [0xffffffff, 'ffffffff0f'],
  ];
  for (const [n, bytes] of cases) {
    assert.deepEqual(written((w) => w.uvarint(n)), hex(bytes), `write ${n}`);
    assert.equal(new Reader(hex(bytes)).uvarint(), n, `read ${bytes}`);
  }
});

test('zigzag varints and varlongs', () => {
  const cases: [number, string][] = [
    [0, '00'],
    [-1, '01'],
    [1, '02'],
    [-2, '03'],
    [2147483647, 'feffffff0f'],
    [-2147483648, 'ffffffff0f'],
  ];
  for (const [n, bytes] of cases) {
    assert.deepEqual(written((w) => w.varint(n)), hex(bytes), `varint ${n}`);
    assert.equal(new Reader(hex(bytes)).varint(), n);
    assert.deepEqual(written((w) => w.varlong(BigInt(n))), hex(bytes), `varlong ${n}`);
    assert.equal(new Reader(hex(bytes)).varlong(), BigInt(n));
  }
  const min = -(1n << 63n);
  const minBytes = written((w) => w.varlong(min));
  assert.deepEqual(minBytes, hex('ffffffffffffffffff01'));
  assert.equal(new Reader(minBytes).varlong(), min);
});

test('varint, varlong and varlongNumber round trips', () => {
  fc.assert(
    fc.property(fc.integer({ min: -2147483648, max: 2147483647 }), (n) => {
      assert.equal(new Reader(written((w) => w.varint(n))).varint(), n);
    }),
  );
  fc.assert(
    fc.property(fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), (n) => {
      assert.equal(new Reader(written((w) => w.varlong(n))).varlong(), n);
    }),
  );
  fc.assert(
    fc.property(fc.integer({ min: -(2 ** 52), max: 2 ** 52 }), (n) => {
      const bytes = written((w) => w.varlongNumber(n));
      assert.deepEqual(bytes, written((w) => w.varlong(BigInt(n))), 'same bytes as the bigint writer');
      assert.equal(new Reader(bytes).varlongNumber(), n);
    }),
  );
  // The edges: 2^52 zigzags to 2^53, one past MAX_SAFE_INTEGER but exact in a double.
  for (const n of [2 ** 52, -(2 ** 52), 2 ** 52 - 1]) assert.equal(new Reader(written((w) => w.varlongNumber(n))).varlongNumber(), n);
});

test('over-long and truncated varints are protocol errors', () => {
  protocolError(() => new Reader(hex('ffffffffff01')).uvarint());
  protocolError(() => new Reader(hex('ffffffff1f')).uvarint()); // 33 bits
  protocolError(() => new Reader(hex('80')).uvarint());
  protocolError(() => new Reader(hex('ffffffffffffffffff7f')).varlong()); // 70 bits
  protocolError(() => new Reader(hex('8080')).varlong());
  protocolError(() => new Reader(hex('ffffffffffffffff7f')).varlongNumber()); // beyond 2^53
});

test('strings: int16 and compact lengths, null as -1 and 0, UTF-8 counted in bytes', () => {
  assert.deepEqual(written((w) => w.string('abc')), hex('0003 616263'));
  assert.deepEqual(written((w) => w.nullableString(null)), hex('ffff'));
  assert.deepEqual(written((w) => w.compactString('abc')), hex('04 616263'));
  assert.deepEqual(written((w) => w.compactNullableString(null)), hex('00'));
  assert.deepEqual(written((w) => w.string('é')), hex('0002 c3a9'));
  assert.equal(new Reader(hex('0002c3a9')).string(), 'é');
  assert.equal(new Reader(hex('ffff')).nullableString(), null);
  assert.equal(new Reader(hex('00')).compactNullableString(), null);
  protocolError(() => new Reader(hex('ffff')).string());
  protocolError(() => new Reader(hex('00')).compactString());
  protocolError(() => new Reader(hex('fffe')).nullableString());
  protocolError(() => new Reader(hex('0005 6162')).string());
  assert.throws(() => written((w) => w.string('x'.repeat(32768))), RangeError);
  const long = 'y'.repeat(32767);
  assert.equal(new Reader(written((w) => w.compactString(long))).compactString(), long);
});

test('bytes are zero-copy slices of the input', () => {
  const input = hex('00000003 010203 04 aabbcc');
  const r = new Reader(input);
  const b = r.bytes();
  assert.deepEqual(b, hex('010203'));
  assert.equal(b.buffer, input.buffer);
  assert.deepEqual(r.compactBytes(), hex('aabbcc'));
  assert.equal(new Reader(hex('ffffffff')).nullableBytes(), null);
  protocolError(() => new Reader(hex('ffffffff')).bytes());
  protocolError(() => new Reader(hex('7fffffff00')).bytes());
});

test('uuids are 16 bytes, written from and read as the dashed hex form', () => {
  const id = '0123abcd-4567-89ef-0123-456789abcdef';
  const bytes = written((w) => w.uuid(id));
  assert.deepEqual(bytes, hex('0123abcd456789ef0123456789abcdef'));
  assert.equal(new Reader(bytes).uuid(), id);
  assert.equal(new Reader(Buffer.alloc(16)).uuid(), ZERO_UUID);
  assert.throws(() => written((w) => w.uuid('not-a-uuid')), RangeError);
});

test('fixed-width integers, float64 and booleans', () => {
  const bytes = written((w) => {
    w.i8(-1);
    w.i16(-2);
    w.i32(-3);
    w.i64(-4n);
    w.u16(65535);
    w.u32(4294967295);
    w.f64(1.5);
    w.bool(true);
  });
  assert.deepEqual(bytes, hex('ff fffe fffffffd fffffffffffffffc ffff ffffffff 3ff8000000000000 01'));
  const r = new Reader(bytes);
  assert.deepEqual([r.i8(), r.i16(), r.i32(), r.i64(), r.u16(), r.u32(), r.f64(), r.bool()], [-1, -2, -3, -4n, 65535, 4294967295, 1.5, true]);
  r.done('fixed');
  protocolError(() => r.i8());
});

test('array lengths: null only where allowed, counts beyond the bytes left refused before allocating', () => {
  assert.equal(new Reader(hex('ffffffff')).arrayLength(false, true, 'a'), -1);
  protocolError(() => new Reader(hex('ffffffff')).arrayLength(false, false, 'a'));
  protocolError(() => new Reader(hex('7fffffff')).arrayLength(false, false, 'a'));
  assert.equal(new Reader(hex('00')).arrayLength(true, true, 'a'), -1);
  assert.equal(new Reader(hex('03 0000')).arrayLength(true, false, 'a'), 2);
});

test('the Writer grows across chunks and keeps every byte in order', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.integer({ min: -2147483648, max: 2147483647 }), fc.string({ maxLength: 50 })), { maxLength: 200 }), (items) => {
      const w = new Writer(16);
      for (const x of items) {
        if (typeof x === 'number') w.i32(x);
        else w.compactString(x);
      }
      const frame = concatFrame(w.finish());
      assert.equal(frame.readInt32BE(0), frame.length - 4, 'size prefix');
      const r = new Reader(frame, 4);
      for (const x of items) assert.equal(typeof x === 'number' ? r.i32() : r.compactString(), x);
      r.done('writer');
    }),
  );
});

test('large external buffers are appended by reference, small ones copied', () => {
  const big = Buffer.alloc(100000, 7);
  const small = Buffer.from([1, 2, 3]);
  const w = new Writer(64);
  w.i32(1);
  w.records(big, false);
  w.records(small, true);
  w.records(null, false);
  w.records([big, small], false);
  const chunks = w.finish();
  assert.ok(chunks.filter((c) => c === big).length === 2, 'the big buffer itself is a chunk, twice');
  const frame = concatFrame(chunks);
  assert.equal(frame.readInt32BE(0), frame.length - 4);
  const r = new Reader(frame, 4);
  assert.equal(r.i32(), 1);
  assert.deepEqual(r.records(false), big);
  assert.deepEqual(r.records(true), small);
  assert.equal(r.records(false), null);
  assert.deepEqual(r.records(false), Buffer.concat([big, small]));
  r.done('records');
});

test('reads never escape as RangeError on any input', () => {
  const reads: ((r: Reader) => unknown)[] = [
    (r) => r.i64(),
    (r) => r.uvarint(),
    (r) => r.varlong(),
    (r) => r.varlongNumber(),
    (r) => r.string(),
    (r) => r.compactNullableString(),
    (r) => r.nullableBytes(),
    (r) => r.compactBytes(),
    (r) => r.uuid(),
    (r) => r.f64(),
    (r) => r.skipTaggedFields(),
    (r) => r.arrayLength(true, true, 'x'),
  ];
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 24 }), fc.nat(reads.length - 1), (u, i) => {
      try {
        reads[i](new Reader(Buffer.from(u)));
      } catch (e) {
        assert.ok(e instanceof KafkaProtocolError, String(e));
      }
    }),
    { numRuns: 2000 },
  );
});
