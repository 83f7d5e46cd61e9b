// The Fetch read buffer pool: size classes, reuse only after release, a cap on what it keeps.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReadBufferPool } from '../../../src/server/kafka/read-buffers.js';

describe('Kafka fetch read buffers', () => {
  it('hands out views of power-of-two buffers and reuses them only after the lease is released', () => {
    const pool = new ReadBufferPool();
    const a = pool.lease();
    const x = a.alloc(1_000_000);
    assert.equal(x.length, 1_000_000);
    assert.equal(x.buffer.byteLength >= 1_048_576, true);
    const b = pool.lease();
    const y = b.alloc(1_000_000);
    assert.notEqual(x.buffer, y.buffer, 'a buffer in use is never handed out again');
    a.release();
    assert.equal(pool.bytesPooled, 1_048_576);
    const z = pool.lease().alloc(600_000);
    assert.equal(z.buffer, x.buffer, 'a released buffer of the same class is reused');
    assert.equal(pool.bytesPooled, 0);
  });

  it('small reads share the smallest class; huge ones are not pooled; the pool keeps at most 32 MiB', () => {
    const pool = new ReadBufferPool();
    const small = pool.lease();
    assert.equal(small.alloc(10).buffer.byteLength, 64 * 1024);
    small.release();
    assert.equal(pool.bytesPooled, 64 * 1024);
    assert.equal(pool.lease().alloc(100).buffer.byteLength, 64 * 1024);
    assert.equal(pool.bytesPooled, 0);
    const l = pool.lease();
    l.alloc(40 * 1024 * 1024);
    for (let i = 0; i < 40; i++) l.alloc(1024 * 1024);
    l.release();
    assert.equal(pool.bytesPooled, 32 * 1024 * 1024);
    l.release();
    assert.equal(pool.bytesPooled, 32 * 1024 * 1024, 'releasing twice gives nothing back twice');
  });
});
