// The stream cleaner on real partitions (temp dirs): which records survive, at which offsets,
// when passes run (dirty ratio, compaction lags, delete horizons), the map's memory bound, and
// what restarts see. The clock is the test's.

import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { StreamCleaner } from '../../../../../src/broker/stream/compaction/stream-cleaner.js';
import { StreamError } from '../../../../../src/broker/stream/errors.js';
import { type CleanupConfig, Partition, type PartitionConfig } from '../../../../../src/broker/stream/partition.js';
import { Compression } from '../../../../../src/protocol/kafka/compression.js';
import { buildRecordBatch, decodeRecords, readBatchHeader } from '../../../../../src/protocol/kafka/record-batch.js';
import { silentLogger } from '../../../../../src/store/index.js';
import { testBatch } from '../../../../helpers/kafka-batch.js';

const T0 = 1_700_000_000_000;
const CLEANUP: CleanupConfig = {
  compact: true,
  delete: false,
  deleteRetentionMs: 10_000,
  minCompactionLagMs: 0,
  maxCompactionLagMs: Number.MAX_SAFE_INTEGER,
  minCleanableDirtyRatio: 0.5,
};
const CONFIG: PartitionConfig = { segmentBytesMax: 2048, retentionBytes: -1, retentionMs: -1, maxMessageBytes: 1 << 20, indexIntervalBytes: 256, cleanup: CLEANUP };

type KV = [key: string | null, value: string | null];

let dir: string;
let clock: number;
const open: Partition[] = [];

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-cleaner-'));
  clock = T0;
});
afterEach(async () => {
  for (const p of open.splice(0)) await p.close().catch(() => {});
  await fs.rm(dir, { recursive: true, force: true });
});

async function openPartition(config: Partial<PartitionConfig> = {}, cleanup: Partial<CleanupConfig> = {}): Promise<Partition> {
  const p = await Partition.open({ dir, fsync: 'batch', logger: silentLogger, config: { ...CONFIG, ...config, cleanup: { ...CLEANUP, ...cleanup } } });
  open.push(p);
  return p;
}

async function reopen(p: Partition, config: Partial<PartitionConfig> = {}, cleanup: Partial<CleanupConfig> = {}): Promise<Partition> {
  await p.close();
  open.splice(open.indexOf(p), 1);
  return openPartition(config, cleanup);
}

function cleanerFor(p: Partition, mapBytes = 1 << 20): StreamCleaner {
  const host = p.cleanerHost();
  return new StreamCleaner({ logger: silentLogger, partitions: () => [host], now: () => clock, mapBytes });
}

/** Appends one batch of `kvs` stamped with the test clock; resolves once durable. */
async function produce(p: Partition, kvs: KV[]): Promise<number> {
  const r = p.append(testBatch(kvs.map(([k, v]) => ({ key: k === null ? null : Buffer.from(k), value: v === null ? null : Buffer.from(v) })), { baseTimestamp: clock }));
  await r.durable;
  return r.baseOffset;
}

/** Writes `n` records, `perBatch` to a batch, keys k0..k(keys-1) in turn; returns [offset, key, value] of each. */
async function fill(p: Partition, n: number, keys: number, perBatch = 5, from = 0, prefix = 'k'): Promise<[number, string, string][]> {
  const out: [number, string, string][] = [];
  for (let i = from; i < from + n; i += perBatch) {
    const kvs: KV[] = [];
    for (let j = i; j < Math.min(i + perBatch, from + n); j++) kvs.push([`${prefix}${j % keys}`, `v${j}`]);
    const base = await produce(p, kvs);
    kvs.forEach(([k, v], j) => out.push([base + j, k as string, v as string]));
  }
  return out;
}

/** Waits until every sealed segment's index is on disk (the cleaner only cleans those). */
async function settle(p: Partition): Promise<void> {
  const host = p.cleanerHost();
  for (let i = 0; i < 400; i++) {
    const segs = host.segments();
    if (segs.slice(0, -1).every((s) => host.indexed(s))) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('segment indexes were not written');
}

interface Seen {
  readonly offset: number;
  readonly key: string | null;
  readonly value: string | null;
}

/** Every record a consumer reading from the log start sees. */
async function consume(p: Partition, bytesMax = 700): Promise<Seen[]> {
  const out: Seen[] = [];
  let next = p.logStartOffset;
  while (next < p.highWatermark) {
    const r = await p.read(next, bytesMax);
    assert.ok(r.batches.length > 0, `nothing at ${next}`);
    for (const b of r.batches) {
      const h = readBatchHeader(b);
      for (const rec of decodeRecords(b)) {
        if (Number(rec.offset) >= next) out.push({ offset: Number(rec.offset), key: rec.key?.toString() ?? null, value: rec.value?.toString() ?? null });
      }
      next = Number(h.baseOffset) + h.lastOffsetDelta + 1;
    }
  }
  return out;
}

/** Kafka's compacted view: below `cleanedUpTo` only each key's latest record, the rest as written. */
function compacted(all: readonly [number, string, string | null][], cleanedUpTo: number, dropTombstones = false): Seen[] {
  const latest = new Map<string, number>();
  for (const [o, k] of all) if (o < cleanedUpTo) latest.set(k, o);
  return all
    .filter(([o, k, v]) => o >= cleanedUpTo || (latest.get(k) === o && !(dropTombstones && v === null)))
    .map(([offset, key, value]) => ({ offset, key, value }));
}

const activeBase = (p: Partition): number => {
  const segs = p.cleanerHost().segments();
  return segs[segs.length - 1].baseOffset;
};

describe('stream cleaner', () => {
  test('keeps the latest record of each key at its offset; the active segment is untouched; restarts see the same', async () => {
    let p = await openPartition();
    const all = await fill(p, 300, 17);
    await settle(p);
    const before = p.sizeBytes;
    assert.ok(p.segmentCount >= 4);
    const upTo = activeBase(p);
    const cleaner = cleanerFor(p);
    await cleaner.kick();
    assert.equal(cleaner.stats.passes, 1);
    const expected = compacted(all, upTo);
    assert.deepEqual(await consume(p), expected);
    assert.ok(p.sizeBytes < before / 3, `${p.sizeBytes} of ${before} bytes left`);
    assert.equal(p.logStartOffset, 0);
    assert.equal(p.logEndOffset, 300);
    // A fetch of a removed offset gets the next batch that still has records at or after it.
    const removed = all.find(([o]) => !expected.some((e) => e.offset === o) && o > 10);
    assert.ok(removed);
    const r = await p.read(removed[0], 1);
    const h = readBatchHeader(r.batches[0]);
    assert.ok(Number(h.baseOffset) + h.lastOffsetDelta >= removed[0]);
    p = await reopen(p);
    assert.deepEqual(await consume(p), expected);
    assert.equal(p.logEndOffset, 300);
    // A second pass over the same data changes nothing.
    await cleanerFor(p).kick();
    assert.deepEqual(await consume(p), expected);
  });

  test('later passes clean what was written since, and merge small cleaned segments', async () => {
    const p = await openPartition();
    const all = await fill(p, 200, 5);
    await settle(p);
    await cleanerFor(p).kick();
    const afterFirst = p.segmentCount;
    all.push(...(await fill(p, 200, 5, 5, 200)));
    await settle(p);
    const before = p.segmentCount;
    const cleaner = cleanerFor(p);
    await cleaner.kick();
    assert.deepEqual(await consume(p), compacted(all, activeBase(p)));
    // The small segments the first pass left were merged into one (groups of up to segment.bytes).
    assert.equal(p.segmentCount, before - afterFirst + 2);
  });

  test('tombstones stay delete.retention.ms after a pass saw them, then go (also across a restart)', async () => {
    let p = await openPartition();
    const all: [number, string, string | null][] = await fill(p, 100, 10);
    for (let k = 0; k < 5; k++) all.push([await produce(p, [[`k${k}`, null]]), `k${k}`, null]);
    all.push(...(await fill(p, 200, 50, 5, 1000, 'other')));
    await settle(p);
    const upTo = activeBase(p);
    const cleaner = cleanerFor(p);
    await cleaner.kick();
    // The tombstones supersede the keys' values and stay for now.
    assert.deepEqual(await consume(p), compacted(all, upTo));
    assert.ok((await consume(p)).some((s) => s.value === null));
    clock += 9_000;
    p = await reopen(p);
    await cleanerFor(p).kick();
    assert.ok((await consume(p)).some((s) => s.value === null));
    clock += 1_000;
    const later = cleanerFor(p);
    await later.kick();
    assert.equal(later.stats.passes, 1); // the due horizon alone is reason enough for a pass
    assert.deepEqual(await consume(p), compacted(all, upTo, true));
    assert.ok(!(await consume(p)).some((s) => s.value === null));
  });

  test('min.cleanable.dirty.ratio: a log with too few dirty bytes is left alone', async () => {
    const p = await openPartition({}, { minCleanableDirtyRatio: 0.99 });
    await fill(p, 1000, 200);
    await settle(p);
    const cleaner = cleanerFor(p);
    await cleaner.kick(); // all dirty: a ratio of 1
    assert.equal(cleaner.stats.passes, 1);
    await fill(p, 100, 200, 5, 1000);
    await settle(p);
    await cleaner.kick();
    assert.equal(cleaner.stats.passes, 1);
    p.setConfig({ ...CONFIG, cleanup: { ...CLEANUP, minCleanableDirtyRatio: 0.1 } });
    await cleaner.kick();
    assert.equal(cleaner.stats.passes, 2);
  });

  test('min.compaction.lag.ms: segments with records younger than the lag are not cleaned', async () => {
    const p = await openPartition({}, { minCompactionLagMs: 60_000 });
    const all = await fill(p, 300, 17);
    await settle(p);
    const cleaner = cleanerFor(p);
    await cleaner.kick();
    assert.equal(cleaner.stats.passes, 0);
    assert.equal((await consume(p)).length, 300);
    clock += 60_001;
    await cleaner.kick();
    assert.equal(cleaner.stats.passes, 1);
    assert.deepEqual(await consume(p), compacted(all, activeBase(p)));
  });

  test('max.compaction.lag.ms: a dirty segment older than the lag is cleaned whatever the ratio', async () => {
    const p = await openPartition({}, { minCleanableDirtyRatio: 0.99, maxCompactionLagMs: 30_000 });
    const all = await fill(p, 1000, 200);
    await settle(p);
    const cleaner = cleanerFor(p);
    await cleaner.kick();
    assert.equal(cleaner.stats.passes, 1);
    clock += 20_000;
    all.push(...(await fill(p, 100, 200, 5, 1000)));
    await settle(p);
    await cleaner.kick();
    assert.equal(cleaner.stats.passes, 1);
    clock += 10_001;
    await cleaner.kick();
    assert.equal(cleaner.stats.passes, 2);
    assert.deepEqual(await consume(p), compacted(all, activeBase(p)));
  });

  test('a map too small for every key cleans a prefix per pass and gets there over several passes', async () => {
    const p = await openPartition({ segmentBytesMax: 4096 });
    // 600 keys, each written twice; a map of ~180 keys.
    const all = [...(await fill(p, 600, 600)), ...(await fill(p, 600, 600, 5, 0))];
    const roll = p.append(testBatch([{ key: Buffer.from('roll'), value: Buffer.from('x'.repeat(4000)) }])); // seals the rest
    await roll.durable;
    all.push([roll.baseOffset, 'roll', 'x'.repeat(4000)]);
    await settle(p);
    const upTo = activeBase(p);
    const cleaner = cleanerFor(p, 24 * 200);
    await cleaner.kick();
    assert.equal(cleaner.stats.passes, 1);
    const first = cleaner.stats.last;
    assert.ok(first && first.mapKeys <= 180, `map held ${first?.mapKeys}`);
    assert.ok(first.checkpoint.firstDirtyOffset < upTo); // only a prefix
    for (let i = 0; i < 20 && (cleaner.stats.last?.checkpoint.firstDirtyOffset ?? 0) < upTo; i++) {
      p.setConfig({ ...CONFIG, segmentBytesMax: 4096, cleanup: { ...CLEANUP, minCleanableDirtyRatio: 0 } });
      await cleaner.kick();
    }
    assert.ok(cleaner.stats.passes > 3);
    assert.deepEqual(await consume(p), compacted(all, upTo));
  });

  test('compressed batches are cleaned and stay compressed', async () => {
    const p = await openPartition();
    const all: [number, string, string][] = [];
    for (let b = 0; b < 40; b++) {
      const records = Array.from({ length: 8 }, (_, i) => ({ key: Buffer.from(`k${(b * 8 + i) % 11}`), value: Buffer.from(`v${b * 8 + i}`), timestamp: BigInt(clock) }));
      const r = p.append(await buildRecordBatch({ records, compression: b % 2 === 0 ? Compression.GZIP : Compression.LZ4 }));
      await r.durable;
      records.forEach((rec, i) => all.push([r.baseOffset + i, rec.key.toString(), rec.value.toString()]));
    }
    await settle(p);
    await cleanerFor(p).kick();
    assert.deepEqual(await consume(p), compacted(all, activeBase(p)));
    const r = await p.read(0, 1 << 20);
    assert.ok(r.batches.every((b) => readBatchHeader(b).compression !== Compression.NONE));
  });

  test('an idempotent producer\'s last batch stays, emptied, so its sequence survives', async () => {
    const p = await openPartition();
    const r = p.append(testBatch([{ key: Buffer.from('k0'), value: Buffer.from('1') }, { key: Buffer.from('k1'), value: Buffer.from('1') }], { producerId: 5, producerEpoch: 0, baseSequence: 0, baseTimestamp: clock }));
    await r.durable;
    await fill(p, 300, 2);
    await settle(p);
    await cleanerFor(p).kick();
    const first = readBatchHeader((await p.read(0, 1)).batches[0]);
    assert.equal(first.baseOffset, 0n);
    assert.equal(first.producerId, 5n);
    assert.equal(first.recordsCount, 0);
    assert.equal(first.lastOffsetDelta, 1);
    // The producer's next batch is still in sequence.
    const next = p.append(testBatch([{ key: Buffer.from('k0'), value: Buffer.from('2') }], { producerId: 5, producerEpoch: 0, baseSequence: 2 }));
    await next.durable;
    const dup = p.append(testBatch([{ key: Buffer.from('k0'), value: Buffer.from('2') }], { producerId: 5, producerEpoch: 0, baseSequence: 2 }));
    assert.ok(dup.duplicate);
  });

  test('records without a key are refused on a compacted stream, accepted on others', async () => {
    const p = await openPartition();
    const noKey = testBatch([{ key: Buffer.from('a'), value: Buffer.from('1') }, { key: null, value: Buffer.from('2') }]);
    assert.throws(() => p.append(noKey), (e: unknown) => e instanceof StreamError && e.kind === 'invalid-record' && /without key/.test(e.message));
    p.setConfig({ ...CONFIG, cleanup: { ...CLEANUP, compact: false, delete: true } });
    await p.append(noKey).durable;
    // Turned compacted later: the keyless record goes at the first pass (Kafka counts it invalid).
    await fill(p, 300, 7);
    p.setConfig(CONFIG);
    await settle(p);
    await cleanerFor(p).kick();
    assert.ok(!(await consume(p)).some((s) => s.key === null));
  });

  test('compact without delete: no retention by size or age, and DeleteRecords is refused', async () => {
    const p = await openPartition({ retentionMs: 1, retentionBytes: 100 });
    await fill(p, 300, 300);
    await settle(p);
    const segments = p.segmentCount;
    assert.equal(await p.enforceRetention(clock + 1_000_000), 0);
    assert.equal(p.segmentCount, segments);
    await assert.rejects(p.deleteRecordsBefore(10), (e: unknown) => e instanceof StreamError && e.kind === 'policy-violation');
    p.setConfig({ ...CONFIG, retentionMs: 1, retentionBytes: 100, cleanup: { ...CLEANUP, delete: true } });
    assert.ok((await p.enforceRetention(clock + 1_000_000)) > 0);
    assert.equal(await p.deleteRecordsBefore(p.logStartOffset), p.logStartOffset);
  });

  test('an open transaction bounds cleaning at the last stable offset; once aborted, its records go and its index entry stays', async () => {
    const p = await openPartition();
    const all = await fill(p, 100, 5);
    const t = p.append(testBatch([{ key: Buffer.from('k1'), value: Buffer.from('t') }], { producerId: 9, producerEpoch: 0, baseSequence: 0, baseTimestamp: clock, transactional: true }));
    await t.durable;
    all.push(...(await fill(p, 200, 5, 5, 101)));
    await settle(p);
    assert.equal(p.lastStableOffset, t.baseOffset);
    const cleaner = cleanerFor(p);
    await cleaner.kick();
    // Cleaned up to the segment holding the open transaction's first offset, not past it.
    const first = cleaner.stats.last?.checkpoint.firstDirtyOffset ?? -1;
    assert.ok(first > 0 && first <= t.baseOffset, `checkpoint ${first}`);
    const withTxn = [...all, [t.baseOffset, 'k1', 't'] as [number, string, string]].sort((a, b) => a[0] - b[0]);
    assert.deepEqual(await consume(p), compacted(withTxn, first));

    // The coordinator aborts it; the cleaner may now pass it and drops its records, never letting
    // them shadow older records of the key; the aborted transaction stays indexed.
    const marker = p.appendMarker({ producerId: 9, producerEpoch: 0, commit: false, coordinatorEpoch: 0 });
    await marker.durable;
    const after = await fill(p, 200, 5, 5, 400);
    await settle(p);
    assert.equal(p.lastStableOffset, p.highWatermark);
    await cleaner.kick();
    const data = (await consume(p)).filter((r) => r.offset !== marker.offset);
    assert.ok(!data.some((r) => r.value === 't'), 'the aborted record is gone');
    const cleanedTo = cleaner.stats.last?.checkpoint.firstDirtyOffset ?? -1;
    assert.ok(cleanedTo > marker.offset, `checkpoint ${cleanedTo}`);
    assert.deepEqual(data, compacted([...all, ...after], cleanedTo));
    const indexed = (q: Partition): number[] => q.abortedTransactions(0, q.highWatermark).map((a) => a.firstOffset);
    assert.deepEqual(indexed(p), [t.baseOffset]);
    // The cleaned segment's index file carries the aborted transaction across a restart.
    const q = await reopen(p);
    assert.deepEqual(indexed(q), [t.baseOffset]);
    assert.equal(q.lastStableOffset, q.highWatermark);
  });

  test('reads and appends running during a pass see whole, consistent data', async () => {
    const p = await openPartition();
    const all = await fill(p, 600, 23);
    await settle(p);
    const upTo = activeBase(p);
    const cleaner = cleanerFor(p);
    let done = false;
    const pass = cleaner.kick().finally(() => {
      done = true;
    });
    const allByOffset = new Map(all.map(([o, k, v]) => [o, { offset: o, key: k, value: v }]));
    let reads = 0;
    while (!done || reads < 2) {
      const seen = await consume(p, 300);
      reads++;
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i].offset > seen[i - 1].offset);
      for (const s of seen) if (s.offset < 600) assert.deepEqual(s, allByOffset.get(s.offset));
      // Every key's latest value is always there.
      const latest = compacted(all, upTo).map((s) => s.offset);
      for (const o of latest) assert.ok(seen.some((s) => s.offset === o), `offset ${o} missing`);
      if (!done) await produce(p, [['x', 'y']]);
    }
    await pass;
    assert.equal(cleaner.stats.passes, 1);
  });
});
