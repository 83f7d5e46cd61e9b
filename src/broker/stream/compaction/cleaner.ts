// One cleaning pass over one partition, as Kafka's LogCleaner does it (docs/streams.md,
// "Compaction"):
//   1. plan: the dirty part of the log runs from the checkpoint to the first uncleanable offset
//      (never the active segment, never at or past the stable offset, never segments younger than
//      min.compaction.lag.ms); clean if dirty bytes / all bytes exceed min.cleanable.dirty.ratio,
//      or the oldest dirty record is older than max.compaction.lag.ms, or a delete horizon passed;
//   2. build the key -> latest offset map over the dirty part (a prefix of it if the map fills);
//   3. rewrite every segment up to where the map reaches, in groups of at most segment.bytes,
//      each group into one new segment that keeps only the survivors (batch-filter.ts) at their
//      offsets, swapped in crash-safely by the partition and the store;
//   4. checkpoint where the next pass starts.
// Work is done in chunks of a few hundred KiB with a turn of the event loop between them, so
// produce and fetch on the same process never wait long for the cleaner.

import { forEachRecord, readBatchHeader, recordsBody } from '../../../protocol/kafka/record-batch.js';
import type { PartitionConfig } from '../partition.js';
import type { SegmentIndex } from '../segment-index.js';
import { type FilterContext, controlType, filterBatch } from './batch-filter.js';
import type { CleanerCheckpoint } from './checkpoint.js';
import type { OffsetMap } from './offset-map.js';
import { CleanedTransactions, type TransactionIndex } from './transactions.js';

/** A stored batch read back for cleaning. */
export interface StoredBatch {
  readonly batch: Buffer;
  /** Byte position of its record in the segment, and the record's size there. */
  readonly position: number;
  readonly size: number;
}

/** A new segment being written to replace a group of old ones (the partition's part of a swap). */
export interface SegmentReplacement {
  append(batch: Buffer): Promise<void>;
  /** Swaps it in; false (and nothing changed) if the group's segments changed meanwhile. */
  commit(): Promise<boolean>;
  abort(): Promise<void>;
}

/** What the cleaner needs of a partition (Partition.cleanerHost()). */
export interface CleanerHost {
  readonly dir: string;
  isClosed(): boolean;
  config(): PartitionConfig;
  logStartOffset(): number;
  /** Records at or past this may still change state (not durable, or in an open transaction). */
  stableOffset(): number;
  /** The partition's aborted transactions; undefined until it has a transaction index. */
  transactions(): TransactionIndex | undefined;
  /** Oldest first; the last one is active. */
  segments(): readonly SegmentIndex[];
  /** A sealed segment whose index is on disk (its data is durable): only those are cleaned. */
  indexed(seg: SegmentIndex): boolean;
  /** Batches of `seg` from byte `position`, about `bytesMax` of them (at least one if any). */
  readBatches(seg: SegmentIndex, position: number, bytesMax: number): Promise<StoredBatch[]>;
  /** Per producer id, the last offset of its last batch. */
  lastOffsetOfProducers(): ReadonlyMap<number, number>;
  replace(group: readonly SegmentIndex[]): Promise<SegmentReplacement>;
}

/** Kafka's LogToClean: what a partition would gain from a pass. */
export interface CleanPlan {
  readonly firstDirtyOffset: number;
  readonly firstUncleanableOffset: number;
  readonly cleanBytes: number;
  readonly cleanableBytes: number;
  /** cleanable / (clean + cleanable). */
  readonly dirtyRatio: number;
  /** max.compaction.lag.ms passed for the oldest dirty segment. */
  readonly overdue: boolean;
  /** A delete horizon an earlier pass set has passed. */
  readonly horizonDue: boolean;
}

export interface PassControl {
  /** Between chunks: a turn of the event loop. */
  pause(): Promise<void>;
  /** The broker is stopping: give up (the pass is abandoned, nothing is half done). */
  stopping(): boolean;
}

export interface PassResult {
  readonly checkpoint: CleanerCheckpoint;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly recordsRead: number;
  readonly recordsKept: number;
  readonly groups: number;
  /** Keys in the offset map and its share of slots in use. */
  readonly mapKeys: number;
  readonly mapUtilization: number;
}

/** Cleaning stopped part way: the partition closed, the broker is stopping, or segments moved. */
export class PassAbandoned extends Error {
  override name = 'PassAbandoned';
}

/** A pass could not get past where the last one ended: no use trying again until the log grows. */
export class NoProgress extends PassAbandoned {
  override name = 'NoProgress';
}

const READ_CHUNK_BYTES = 256 * 1024;
const SEGMENT_HEADER_BYTES = 8;
const RELATIVE_OFFSET_MAX = 0x7fff_ffff;

function bytesOf(segs: readonly SegmentIndex[], from: number, to: number): number {
  let n = 0;
  for (const s of segs) if (s.baseOffset < to && s.nextOffset > from) n += s.bytes;
  return n;
}

/** Kafka's LogCleanerManager.cleanableOffsets and LogToClean; undefined if nothing could be cleaned. */
export function planCleaning(host: CleanerHost, checkpoint: CleanerCheckpoint | undefined, nowMs: number): CleanPlan | undefined {
  const cleanup = host.config().cleanup;
  if (!cleanup?.compact || host.isClosed()) return undefined;
  const segs = host.segments();
  const active = segs[segs.length - 1];
  const logStart = host.logStartOffset();
  let firstDirty = checkpoint?.firstDirtyOffset ?? logStart;
  if (firstDirty < logStart || firstDirty > active.nextOffset) firstDirty = logStart;

  let bound = Math.min(host.stableOffset(), active.baseOffset);
  for (const s of segs) {
    if (s === active) break;
    // Sealed but not yet durable and indexed: neither it nor anything after it.
    if (!host.indexed(s)) bound = Math.min(bound, s.baseOffset);
    else if (cleanup.minCompactionLagMs > 0 && s.nextOffset > firstDirty && s.maxTimestamp > nowMs - cleanup.minCompactionLagMs) {
      bound = Math.min(bound, s.baseOffset);
    }
  }
  bound = Math.max(firstDirty, bound);
  // The first uncleanable offset is a segment boundary: the start of the segment holding `bound`.
  const holding = segs.find((s) => s !== active && s.nextOffset > bound) ?? active;
  const firstUncleanable = Math.min(holding.baseOffset, active.baseOffset);
  const cleanableBytes = bytesOf(segs, Math.min(firstDirty, firstUncleanable), firstUncleanable);
  const cleanBytes = bytesOf(segs, -1, firstDirty);
  const total = cleanBytes + cleanableBytes;
  if (total === 0) return undefined;

  let earliestDirty = Infinity;
  for (const s of segs) {
    if (s === active || s.nextOffset <= firstDirty) continue;
    const t = s.firstTimestamp;
    if (t > 0 && t < earliestDirty) earliestDirty = t;
  }
  return {
    firstDirtyOffset: firstDirty,
    firstUncleanableOffset: Math.max(firstDirty, firstUncleanable),
    cleanBytes,
    cleanableBytes,
    dirtyRatio: total > 0 ? cleanableBytes / total : 0,
    overdue: earliestDirty < nowMs - cleanup.maxCompactionLagMs,
    horizonDue: checkpoint !== undefined && checkpoint.deleteHorizonMs >= 0 && checkpoint.deleteHorizonMs <= nowMs,
  };
}

/** Whether a plan is worth a pass (Kafka's grabFilthiestCompactedLog test, plus due delete horizons). */
export function worthCleaning(plan: CleanPlan, minCleanableDirtyRatio: number): boolean {
  return (plan.overdue && plan.cleanableBytes > 0) || plan.dirtyRatio > minCleanableDirtyRatio || plan.horizonDue;
}

/** Runs one pass; throws PassAbandoned if it had to stop (nothing half done is left behind). */
export async function cleanPartition(host: CleanerHost, plan: CleanPlan, map: OffsetMap, nowMs: number, control: PassControl): Promise<PassResult> {
  const cleanup = host.config().cleanup;
  if (!cleanup) throw new PassAbandoned('the partition is not compacted');
  const view = host.transactions();
  const stats = { bytesRead: 0, bytesWritten: 0, recordsRead: 0, recordsKept: 0, groups: 0 };
  const start = plan.firstDirtyOffset;
  let end = plan.firstUncleanableOffset;
  end = await buildOffsetMap(host, map, start, end, view, control, stats);
  const endOffset = map.latestOffset + 1;
  if (end > start && endOffset <= start) {
    throw new NoProgress(`the offset map (${map.capacity} keys) cannot hold the keys of one batch at offset ${start}`);
  }
  if (plan.firstUncleanableOffset > start && end <= start && !plan.horizonDue) {
    // Without a transaction index, a transactional batch right at the start blocks the dirty part.
    throw new NoProgress(`nothing from offset ${start} on can be cleaned yet`);
  }

  const txns = view ? new CleanedTransactions() : undefined;
  const ctx: FilterContext = {
    map,
    nowMs,
    deleteRetentionMs: cleanup.deleteRetentionMs,
    txns,
    lastOffsetOfProducer: host.lastOffsetOfProducers(),
    upperBoundOffset: plan.firstUncleanableOffset,
  };
  let horizon = -1;
  const segs = host.segments().filter((s, i, all) => i < all.length - 1 && s.baseOffset < endOffset);
  for (const group of groupSegments(segs, host.config().segmentBytesMax, plan.firstUncleanableOffset)) {
    const h = await cleanGroup(host, group, ctx, view, control, stats);
    if (h >= 0 && (horizon < 0 || h < horizon)) horizon = h;
    stats.groups++;
  }
  return {
    checkpoint: { firstDirtyOffset: Math.max(start, endOffset), deleteHorizonMs: horizon },
    ...stats,
    mapKeys: map.size,
    mapUtilization: map.utilization,
  };
}

type Stats = { bytesRead: number; bytesWritten: number; recordsRead: number; recordsKept: number; groups: number };

function checkGoing(host: CleanerHost, control: PassControl): void {
  if (host.isClosed()) throw new PassAbandoned('the partition was closed');
  if (control.stopping()) throw new PassAbandoned('the cleaner is stopping');
  if (!host.config().cleanup?.compact) throw new PassAbandoned('the partition is no longer compacted');
}

/**
 * Kafka's buildOffsetMap: every keyed record of [start, end) into the map, until it is full. The
 * map's latestOffset ends as the last offset it covers. Returns the end actually scanned (lower
 * than `end` when, without a transaction index, a transactional batch stops it).
 */
async function buildOffsetMap(
  host: CleanerHost,
  map: OffsetMap,
  start: number,
  end: number,
  view: TransactionIndex | undefined,
  control: PassControl,
  stats: Stats,
): Promise<number> {
  map.clear();
  map.updateLatestOffset(start - 1);
  if (start >= end) return end;
  const txns = view ? new CleanedTransactions() : undefined;
  txns?.add(view?.abortedTransactions(start, end) ?? []);
  const all = host.segments();
  const dirty = all.filter((s, i) => i < all.length - 1 && s.baseOffset < end && s.nextOffset > start);
  for (const [i, seg] of dirty.entries()) {
    const nextStart = i + 1 < dirty.length ? dirty[i + 1].baseOffset : end;
    let position = seg.positionFor(start, SEGMENT_HEADER_BYTES);
    while (position < seg.bytes) {
      checkGoing(host, control);
      const chunk = await host.readBatches(seg, position, READ_CHUNK_BYTES);
      if (chunk.length === 0) break;
      for (const b of chunk) {
        stats.bytesRead += b.size;
        const h = readBatchHeader(b.batch);
        const base = Number(h.baseOffset);
        const last = base + h.lastOffsetDelta;
        if (base >= end) return end;
        if (!txns && (h.isTransactional || h.isControl)) {
          // No transaction index: clean nothing from the first transactional batch on.
          return base;
        }
        if (!mapBatch(b.batch, h, base, last, start, map, txns)) return end;
        if (last >= start) map.updateLatestOffset(last);
      }
      const tail = chunk[chunk.length - 1];
      position = tail.position + tail.size;
      await control.pause();
    }
    // Offsets missing at the end of a segment (removed by earlier passes) are covered too.
    map.updateLatestOffset(nextStart - 1);
  }
  return end;
}

/** Adds a batch's keys; false if the map filled up (this batch is then not covered). */
function mapBatch(
  batch: Buffer,
  h: ReturnType<typeof readBatchHeader>,
  base: number,
  last: number,
  start: number,
  map: OffsetMap,
  txns: CleanedTransactions | undefined,
): boolean {
  const pid = Number(h.producerId);
  if (h.isControl) {
    txns?.onControlBatch(pid, last, controlType(recordsBody(batch, h), h.recordsCount));
    return true;
  }
  if (txns?.onBatch(pid, last, h.isTransactional)) return true; // aborted: not in the map
  const body = recordsBody(batch, h);
  let full = false;
  forEachRecord(body, h.recordsCount, (r) => {
    if (full || r.keyLength < 0 || base + r.offsetDelta < start) return;
    if (!map.put(body, r.keyStart, r.keyLength, base + r.offsetDelta)) full = true;
  });
  return !full;
}

/**
 * Kafka's groupSegmentsBySize: runs of consecutive segments totalling at most segment.bytes,
 * whose offsets fit an index relative to the group's first (int32).
 */
export function groupSegments(segs: readonly SegmentIndex[], maxBytes: number, firstUncleanable: number): SegmentIndex[][] {
  const groups: SegmentIndex[][] = [];
  let i = 0;
  while (i < segs.length) {
    const group = [segs[i]];
    let bytes = segs[i].bytes;
    i++;
    while (i < segs.length) {
      const next = segs[i];
      const lastOffset = i + 1 < segs.length ? segs[i + 1].baseOffset - 1 : firstUncleanable - 1;
      if (bytes + next.bytes - SEGMENT_HEADER_BYTES > maxBytes) break;
      if (lastOffset - group[0].baseOffset > RELATIVE_OFFSET_MAX) break;
      group.push(next);
      bytes += next.bytes - SEGMENT_HEADER_BYTES;
      i++;
    }
    groups.push(group);
  }
  return groups;
}

/** Rewrites one group into its replacement; returns the earliest delete horizon kept (-1: none). */
async function cleanGroup(
  host: CleanerHost,
  group: readonly SegmentIndex[],
  ctx: FilterContext,
  view: TransactionIndex | undefined,
  control: PassControl,
  stats: Stats,
): Promise<number> {
  const replacement = await host.replace(group);
  let horizon = -1;
  try {
    for (const [i, seg] of group.entries()) {
      const upTo = i + 1 < group.length ? group[i + 1].baseOffset : seg.nextOffset;
      ctx.txns?.add(view?.abortedTransactions(seg.baseOffset, upTo) ?? []);
      let position = SEGMENT_HEADER_BYTES;
      while (position < seg.bytes) {
        checkGoing(host, control);
        const chunk = await host.readBatches(seg, position, READ_CHUNK_BYTES);
        if (chunk.length === 0) break;
        for (const b of chunk) {
          stats.bytesRead += b.size;
          const out = await filterBatch(b.batch, ctx);
          stats.recordsRead += out.recordsRead;
          stats.recordsKept += out.recordsKept;
          if (out.deleteHorizonMs > ctx.nowMs && (horizon < 0 || out.deleteHorizonMs < horizon)) horizon = out.deleteHorizonMs;
          if (!out.batch) continue;
          await replacement.append(out.batch);
          stats.bytesWritten += out.batch.length;
        }
        const tail = chunk[chunk.length - 1];
        position = tail.position + tail.size;
        await control.pause();
      }
    }
    checkGoing(host, control);
  } catch (err) {
    await replacement.abort();
    throw err;
  }
  if (!(await replacement.commit())) throw new PassAbandoned('segments changed while they were cleaned');
  return horizon;
}
