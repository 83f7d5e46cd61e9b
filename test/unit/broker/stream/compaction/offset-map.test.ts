import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { murmur3x86x128 } from '../../../../../src/broker/stream/compaction/murmur3.js';
import { OFFSET_MAP_SLOT_BYTES, OffsetMap } from '../../../../../src/broker/stream/compaction/offset-map.js';

const key = (s: string): Buffer => Buffer.from(s);

describe('MurmurHash3_x86_128', () => {
  test('matches SMHasher\'s verification value (0xB3ECE62A)', () => {
    // SMHasher's VerificationTest: hash keys 0..i-1 for every length i < 256 with seed 256 - i,
    // then hash the concatenated results with seed 0; the first 4 bytes, little-endian.
    const bytes = new Uint8Array(256);
    const all = Buffer.alloc(16 * 256);
    const out = new Uint32Array(4);
    for (let i = 0; i < 256; i++) {
      bytes[i] = i;
      murmur3x86x128(bytes, 0, i, 256 - i, out);
      for (let j = 0; j < 4; j++) all.writeUInt32LE(out[j], i * 16 + j * 4);
    }
    murmur3x86x128(all, 0, all.length, 0, out);
    assert.equal(out[0], 0xb3ece62a);
  });

  test('hashes a slice as it hashes the same bytes on their own', () => {
    const a = new Uint32Array(4);
    const b = new Uint32Array(4);
    const big = Buffer.from('xxhello worldyy');
    murmur3x86x128(big, 2, 11, 0, a);
    murmur3x86x128(Buffer.from('hello world'), 0, 11, 0, b);
    assert.deepEqual(a, b);
  });
});

describe('offset map', () => {
  test('keeps the latest offset per key; unknown keys give -1', () => {
    const m = new OffsetMap(OFFSET_MAP_SLOT_BYTES * 100);
    assert.ok(m.put(key('a'), 0, 1, 1));
    assert.ok(m.put(key('b'), 0, 1, 2));
    assert.ok(m.put(key('a'), 0, 1, 7));
    assert.equal(m.get(key('a'), 0, 1), 7);
    assert.equal(m.get(key('b'), 0, 1), 2);
    assert.equal(m.get(key('c'), 0, 1), -1);
    assert.equal(m.size, 2);
    const empty = Buffer.alloc(0);
    assert.ok(m.put(empty, 0, 0, 9)); // an empty key is a key
    assert.equal(m.get(empty, 0, 0), 9);
    m.clear();
    assert.equal(m.size, 0);
    assert.equal(m.get(key('a'), 0, 1), -1);
    assert.equal(m.latestOffset, -1);
  });

  test('its memory is fixed: a prime number of slots within the budget, full at 90%', () => {
    const bytes = 1024 * 1024;
    const m = new OffsetMap(bytes);
    assert.ok(m.slots * OFFSET_MAP_SLOT_BYTES <= bytes);
    assert.ok(m.slots * OFFSET_MAP_SLOT_BYTES > bytes * 0.99);
    for (let d = 2; d * d <= m.slots; d++) assert.notEqual(m.slots % d, 0);
    assert.equal(m.capacity, Math.floor(m.slots * 0.9));
    let n = 0;
    while (m.put(key(`key-${n}`), 0, `key-${n}`.length, n)) n++;
    assert.equal(n, m.capacity);
    assert.ok(m.full);
    // Known keys still update when full; new ones are refused without a trace.
    assert.ok(m.put(key('key-5'), 0, 5, 1e9));
    assert.equal(m.get(key('key-5'), 0, 5), 1e9);
    assert.equal(m.put(key('another'), 0, 7, 1), false);
    assert.equal(m.get(key('another'), 0, 7), -1);
  });

  test('200,000 keys each find their own offset (no collisions, short probes)', () => {
    const m = new OffsetMap(OFFSET_MAP_SLOT_BYTES * 240_000);
    const n = 200_000;
    for (let i = 0; i < n; i++) {
      const k = key(`user-${i}`);
      assert.ok(m.put(k, 0, k.length, i * 3));
    }
    for (let i = 0; i < n; i++) {
      const k = key(`user-${i}`);
      assert.equal(m.get(k, 0, k.length), i * 3);
    }
    assert.ok(m.probes / (2 * n) < 4, `average probes ${m.probes / (2 * n)}`);
  });
});
