// perf-kafka's record batches: what the template makes is a valid Kafka v2 batch as the protocol
// codecs read it, and the consumer's walker reads back the creation times it stamped.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkBatch, decodeRecords, readBatchHeader } from '../../../src/protocol/kafka/index.js';
import { BatchTemplate, CODECS, compressBatch, creationTimes, forEachBatch } from '../../../src/cli/perf/kafka-records.js';

function runs(records: Buffer, skip = 0): [number, number][] {
  const out: [number, number][] = [];
  forEachBatch(records, (b) => creationTimes(records, b, skip, (ms, n) => out.push([ms, n])));
  return out;
}

describe('perf-kafka record batches', () => {
  it('a sealed batch of n records is a valid v2 batch whose values start with their creation times', () => {
    const t = new BatchTemplate(200, 100);
    for (const n of [1, 63, 64, 65, 200]) {
      const buf = t.acquire();
      for (let i = 0; i < n; i++) t.stamp(buf, i, 1_700_000_000_000 + i / 4);
      const batch = t.seal(buf, n, 1_700_000_000_000);
      checkBatch(batch);
      const h = readBatchHeader(batch);
      assert.equal(h.recordsCount, n);
      assert.equal(h.lastOffsetDelta, n - 1);
      assert.equal(h.baseTimestamp, 1_700_000_000_000n);
      assert.equal(h.producerId, -1n);
      const records = decodeRecords(batch, h);
      assert.deepEqual(records.map((r) => r.offsetDelta), Array.from({ length: n }, (_, i) => i));
      for (const [i, r] of records.entries()) {
        assert.equal(r.key, null);
        assert.equal(r.value?.length, 100);
        assert.equal(r.value?.readDoubleLE(0), 1_700_000_000_000 + i / 4);
        assert.match(r.value?.subarray(8).toString('latin1') ?? '', /^[A-Z]{92}$/);
      }
      t.release(buf);
    }
  });

  it('the walker reports runs of equal creation times, skipping records before the fetch offset', () => {
    const t = new BatchTemplate(10, 16);
    const buf = t.acquire();
    [5, 5, 5, 7, 7, 9, 9, 9, 9, 9].forEach((ms, i) => t.stamp(buf, i, ms));
    const batch = t.seal(buf, 10, 5);
    assert.deepEqual(runs(batch), [[5, 3], [7, 2], [9, 5]]);
    assert.deepEqual(runs(batch, 4), [[7, 1], [9, 5]]);
  });

  it('compressed batches stay valid and the walker decompresses them', async () => {
    const t = new BatchTemplate(50, 40);
    const buf = t.acquire();
    for (let i = 0; i < 50; i++) t.stamp(buf, i, 1000 + (i < 20 ? 0 : 1));
    const plain = t.seal(buf, 50, 1000);
    for (const codec of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
      const z = await compressBatch(plain, CODECS[codec]);
      checkBatch(z);
      assert.equal(readBatchHeader(z).compression, CODECS[codec]);
      assert.equal(decodeRecords(z).length, 50);
      assert.deepEqual(runs(z), [[1000, 20], [1001, 30]], codec);
    }
  });

  it('forEachBatch visits whole batches with their offsets and leaves out a cut-off last one', () => {
    const t = new BatchTemplate(5, 8);
    const a = Buffer.from(t.seal(t.acquire(), 5, 0));
    const b = Buffer.from(t.seal(t.acquire(), 3, 0));
    a.writeBigInt64BE(100n, 0);
    b.writeBigInt64BE(105n, 0);
    const seen: number[][] = [];
    const next = forEachBatch(Buffer.concat([a, b.subarray(0, b.length - 1)]), (x) => seen.push([x.baseOffset, x.nextOffset, x.recordsCount]));
    assert.deepEqual(seen, [[100, 105, 5]]);
    assert.equal(next, 105);
    assert.equal(forEachBatch(Buffer.alloc(0), () => assert.fail()), -1);
  });

  it('values of records not made by perf-kafka (no time, or too short) give no latency', () => {
    const t = new BatchTemplate(3, 8);
    const buf = t.acquire();
    buf.fill(0, t.valueAt[0], t.valueAt[0] + 8);
    t.stamp(buf, 1, 0);
    t.stamp(buf, 2, 42);
    assert.deepEqual(runs(t.seal(buf, 3, 0)), [[42, 1]]);
  });
});
