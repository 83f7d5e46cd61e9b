import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { readBatchHeader } from '../../../../src/broker/stream/batch-header.js';
import { StreamError } from '../../../../src/broker/stream/errors.js';
import { Partition, type PartitionConfig } from '../../../../src/broker/stream/partition.js';
import { silentLogger } from '../../../../src/store/index.js';
import { testBatch, values } from '../../../helpers/kafka-batch.js';

const CONFIG: PartitionConfig = { segmentBytesMax: 4096, retentionBytes: -1, retentionMs: -1, maxMessageBytes: 1 << 20, indexIntervalBytes: 256 };

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-partition-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const open = (config: Partial<PartitionConfig> = {}): Promise<Partition> =>
  Partition.open({ dir, fsync: 'batch', logger: silentLogger, config: { ...CONFIG, ...config } });

/** Every offset read from `from` to the high watermark, batch by batch. */
async function offsetsFrom(p: Partition, from: number, bytesMax = 1000): Promise<number[]> {
  const out: number[] = [];
  let next = from;
  while (next < p.highWatermark) {
    const r = await p.read(next, bytesMax);
    assert.ok(r.batches.length > 0);
    for (const b of r.batches) {
      const h = readBatchHeader(b);
      for (let o = h.baseOffset; o <= h.baseOffset + h.lastOffsetDelta; o++) if (o >= next) out.push(o);
      next = h.baseOffset + h.lastOffsetDelta + 1;
    }
  }
  return out;
}

describe('stream partition', () => {
  test('assigns consecutive offsets, makes batches visible once durable, and reads from any offset', async () => {
    const p = await open();
    const a = p.append(testBatch(values(3)));
    const b = p.append(testBatch(values(2, 3)));
    assert.equal(a.baseOffset, 0);
    assert.equal(b.baseOffset, 3);
    assert.equal(p.logEndOffset, 5);
    assert.equal(p.highWatermark, 0); // not durable yet: consumers see nothing
    await b.durable;
    assert.equal(p.highWatermark, 5);
    assert.deepEqual(await offsetsFrom(p, 0), [0, 1, 2, 3, 4]);
    assert.deepEqual(await offsetsFrom(p, 4), [4]);
    const mid = await p.read(1, 10);
    assert.equal(readBatchHeader(mid.batches[0]).baseOffset, 0); // the batch holding offset 1
    assert.deepEqual((await p.read(5, 100)).batches, []);
    await assert.rejects(p.read(6, 100), (e: unknown) => e instanceof StreamError && e.kind === 'offset-out-of-range');
    await p.close();
  });

  test('a read returns the batch at its offset whatever its size, also when batches before it fill the budget (KIP-74)', async () => {
    // A read starts at the index entry before its offset and skips the batches before it; a batch
    // bigger than what they left of the budget used to end the read empty (a consumer stuck, a
    // follower's truncation taking its last batch for one with no epoch).
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 9000 })), { minLength: 2, maxLength: 60 }), async (batches) => {
        const q = await Partition.open({ dir: path.join(dir, `kip74-${run++}`), fsync: 'batch', logger: silentLogger, config: { ...CONFIG, segmentBytesMax: 1 << 20, indexIntervalBytes: 4096 } });
        try {
          const bases: number[] = [];
          for (const [count, size] of batches) {
            const r = q.append(testBatch(values(count, bases.length, size)));
            bases.push(r.baseOffset);
            await r.durable;
          }
          for (const base of bases) {
            const r = await q.read(base, 1);
            assert.equal(r.batches.length, 1, `a batch at ${base}`);
            assert.equal(readBatchHeader(r.batches[0]).baseOffset, base);
          }
        } finally {
          await q.close();
        }
      }),
      { numRuns: 25 },
    );
  });

  test('the stored bytes are the producer\'s, with only the base offset rewritten', async () => {
    const p = await open();
    const sent = testBatch(values(4));
    await p.append(Buffer.from(sent)).durable;
    await p.append(Buffer.from(sent)).durable;
    const r = await p.read(4, 1 << 20);
    const got = r.batches[0];
    assert.equal(readBatchHeader(got).baseOffset, 4);
    assert.deepEqual(got.subarray(8), sent.subarray(8));
    await p.close();
  });

  test('refuses corrupt, old-format and oversized batches', async () => {
    const p = await open({ maxMessageBytes: 200 });
    const bad = testBatch(values(2));
    bad[bad.length - 1] ^= 0xff;
    assert.throws(() => p.append(bad), (e: unknown) => e instanceof StreamError && e.kind === 'corrupt');
    const v1 = testBatch(values(1));
    v1[16] = 1;
    assert.throws(() => p.append(v1), (e: unknown) => e instanceof StreamError && e.kind === 'invalid-record');
    assert.throws(() => p.append(testBatch(values(10, 0, 50))), (e: unknown) => e instanceof StreamError && e.kind === 'too-large');
    assert.throws(() => p.append(testBatch(values(1)).subarray(0, 40)), (e: unknown) => e instanceof StreamError && e.kind === 'invalid-record');
    assert.equal(p.logEndOffset, 0);
    await p.close();
  });

  test('idempotent producers: a retried batch keeps its offset, a gap is refused, an old epoch is fenced', async () => {
    const p = await open();
    const first = testBatch(values(3), { producerId: 7, producerEpoch: 0, baseSequence: 0 });
    assert.equal(p.append(first).baseOffset, 0);
    const again = p.append(first);
    assert.deepEqual([again.baseOffset, again.duplicate], [0, true]);
    assert.equal(p.logEndOffset, 3);
    assert.throws(
      () => p.append(testBatch(values(1), { producerId: 7, producerEpoch: 0, baseSequence: 5 })),
      (e: unknown) => e instanceof StreamError && e.kind === 'out-of-order-sequence',
    );
    assert.equal(p.append(testBatch(values(1), { producerId: 7, producerEpoch: 0, baseSequence: 3 })).baseOffset, 3);
    assert.equal(p.append(testBatch(values(1), { producerId: 7, producerEpoch: 1, baseSequence: 0 })).baseOffset, 4);
    assert.throws(
      () => p.append(testBatch(values(1), { producerId: 7, producerEpoch: 0, baseSequence: 4 })),
      (e: unknown) => e instanceof StreamError && e.kind === 'producer-fenced',
    );
    await p.append(testBatch(values(1))).durable;
    await p.close();
  });

  test('survives a restart: offsets, indexes of sealed segments, producer state', async () => {
    let p = await open();
    const sent: Buffer[] = [];
    for (let i = 0; i < 60; i++) {
      const b = testBatch(values(3, i * 3, 40), { producerId: 9, producerEpoch: 0, baseSequence: i * 3 });
      sent.push(b);
      p.append(b);
    }
    await p.append(testBatch(values(1))).durable;
    assert.ok(p.segmentCount > 3, `${p.segmentCount} segments`);
    await p.close();
    const indexFiles = (await fs.readdir(dir)).filter((n) => n.endsWith('.index'));
    assert.ok(indexFiles.length >= 3);

    p = await open();
    assert.equal(p.logEndOffset, 181);
    assert.equal(p.highWatermark, 181);
    assert.deepEqual(await offsetsFrom(p, 0), Array.from({ length: 181 }, (_, i) => i));
    assert.deepEqual(await offsetsFrom(p, 100, 300), Array.from({ length: 81 }, (_, i) => 100 + i));
    // The producer's last batch is still known: its retry is a duplicate with the same offset.
    const retry = p.append(sent[59]);
    assert.deepEqual([retry.baseOffset, retry.duplicate], [177, true]);
    await p.close();

    // Without index files everything is rebuilt from the log.
    for (const n of indexFiles) await fs.rm(path.join(dir, n));
    p = await open();
    assert.equal(p.logEndOffset, 181);
    assert.deepEqual(await offsetsFrom(p, 37), Array.from({ length: 144 }, (_, i) => 37 + i));
    assert.equal(p.append(sent[59]).duplicate, true);
    await p.close();
  });

  test('retention by size and by age deletes whole old segments; delete-records moves the start', async () => {
    const p = await open({ retentionBytes: 8000 });
    for (let i = 0; i < 100; i++) p.append(testBatch(values(2, i * 2, 60), { baseTimestamp: 1000 + i }));
    await p.append(testBatch(values(1), { baseTimestamp: 5000 })).durable;
    const before = p.segmentCount;
    await p.enforceRetention();
    assert.ok(p.segmentCount < before);
    assert.ok(p.sizeBytes <= 8000 + 4096, `${p.sizeBytes}`);
    assert.ok(p.logStartOffset > 0);
    const start = p.logStartOffset;
    await assert.rejects(p.read(start - 1, 100), (e: unknown) => e instanceof StreamError && e.kind === 'offset-out-of-range');
    assert.equal((await offsetsFrom(p, start))[0], start);

    p.setConfig({ ...CONFIG, retentionMs: 1000 });
    await p.enforceRetention(1000 + 100 + 1001);
    assert.equal(p.segmentCount, 1); // only the active segment is left

    const q = await Partition.open({ dir: path.join(dir, 'q'), fsync: 'batch', logger: silentLogger, config: CONFIG });
    for (let i = 0; i < 10; i++) q.append(testBatch(values(5, i * 5)));
    await q.append(testBatch(values(1))).durable;
    assert.equal(await q.deleteRecordsBefore(23), 23);
    assert.deepEqual((await offsetsFrom(q, 23)).slice(0, 3), [23, 24, 25]);
    await q.close();
    const q2 = await Partition.open({ dir: path.join(dir, 'q'), fsync: 'batch', logger: silentLogger, config: CONFIG });
    assert.equal(q2.logStartOffset, 23);
    assert.equal(q2.logEndOffset, 51);
    await q2.close();
    await p.close();
  });

  test('finds the first batch at or after a timestamp', async () => {
    const p = await open();
    for (let i = 0; i < 50; i++) p.append(testBatch(values(2, i * 2, 30), { baseTimestamp: 10_000 + i * 10 }));
    await p.append(testBatch(values(1), { baseTimestamp: 20_000 })).durable;
    assert.equal((await p.batchForTimestamp(0))?.baseOffset, 0);
    assert.equal((await p.batchForTimestamp(10_000 + 25 * 10))?.baseOffset, 50);
    assert.equal((await p.batchForTimestamp(10_000 + 25 * 10 - 5))?.baseOffset, 50);
    assert.equal((await p.batchForTimestamp(20_000))?.baseOffset, 100);
    assert.equal(await p.batchForTimestamp(20_001), undefined);
    await p.close();
  });

  test('watchers hear when the high watermark moves', async () => {
    const p = await open();
    let calls = 0;
    const stop = p.watch(() => calls++);
    await p.append(testBatch(values(1))).durable;
    assert.equal(calls, 1);
    stop();
    await p.append(testBatch(values(1))).durable;
    assert.equal(calls, 1);
    await p.close();
  });
});
