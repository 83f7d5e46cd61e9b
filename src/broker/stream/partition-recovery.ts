// A stream partition's recovery after a restart (Partition.open): its meta file (the
// DeleteRecords position), the index files of sealed segments, and the producer state and
// aborted transactions, from those files or by replaying the segments batch by batch.

import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { type Log, type LogPosition, readFileIfExists } from '../../store/index.js';
import { SEGMENT_HEADER_BYTES, segmentFileName } from '../../store/record-format.js';
import { ControlRecordType, decodeTransactionMarker } from '../../protocol/kafka/control-records.js';
import { decodeRecords } from '../../protocol/kafka/record-batch.js';
import { type AbortedTxn, AbortedTxnIndex, decodeSegmentState, encodeSegmentState } from './aborted-txns.js';
import { isControlBatch, isTransactionalBatch } from './batch-attributes.js';
import { type BatchHeader, readBatchHeader } from './batch-header.js';
import { type CompletedTxn, ProducerStateTable, lastSequence } from './producer-state.js';
import { SegmentIndex, parseIndexFileName } from './segment-index.js';

/** The one record type of a stream log: a record batch. */
export const STREAM_RECORD_BATCH = 1;

export const META_FILE = 'partition.json';

export interface PartitionMeta {
  logStartOffset: number;
  nextOffset: number;
}

export async function readMeta(dir: string): Promise<PartitionMeta | undefined> {
  const raw = await readFileIfExists(path.join(dir, META_FILE));
  if (!raw) return undefined;
  try {
    const m = JSON.parse(raw.toString('utf8')) as PartitionMeta;
    if (Number.isSafeInteger(m.logStartOffset) && Number.isSafeInteger(m.nextOffset)) return m;
  } catch {
    // a damaged meta file only loses a DeleteRecords position; offsets come from the log
  }
  return undefined;
}

export async function readIndexFiles(dir: string): Promise<Map<number, { index: SegmentIndex; producers: Buffer }>> {
  const out = new Map<number, { index: SegmentIndex; producers: Buffer }>();
  for (const name of await fs.readdir(dir)) {
    const id = parseIndexFileName(name);
    if (id === undefined) continue;
    const parsed = SegmentIndex.decode(await fs.readFile(path.join(dir, name)));
    if (parsed && parsed.index.segment === id) out.set(id, parsed);
  }
  return out;
}

export async function removeStaleIndexes(dir: string, live: Set<number>): Promise<void> {
  for (const name of await fs.readdir(dir)) {
    const id = parseIndexFileName(name);
    if (id !== undefined && !live.has(id)) await fs.rm(path.join(dir, name), { force: true });
  }
}

/** The producer state (and aborted transactions) of an index file's snapshot, if it decodes. */
export function segmentStateOf(snapshot: Buffer | undefined): ReturnType<typeof decodeSegmentState> | undefined {
  if (!snapshot) return undefined;
  try {
    return decodeSegmentState(snapshot);
  } catch {
    return undefined;
  }
}

/** Kafka's lastStableOffset of a completed transaction: the first offset still open, else just past the marker. */
export function stableAfter(producers: ProducerStateTable, markerOffset: number): number {
  let first = markerOffset + 1;
  const open = producers.firstOpenOffset();
  if (open !== undefined && open < first) first = open;
  return first;
}

export function abortedEntry(t: CompletedTxn, lastStableOffset: number, segment: number): AbortedTxn {
  return { producerId: t.producerId, firstOffset: t.firstOffset, lastOffset: t.lastOffset, lastStableOffset, segment };
}

/** Replays one stored batch into the producer state (recovery): data batches, and markers ending transactions. */
function replayBatch(
  producers: ProducerStateTable,
  aborted: AbortedTxnIndex,
  batch: Buffer,
  h: BatchHeader,
  segment: number,
  nowMs: number,
): void {
  const last = h.baseOffset + h.lastOffsetDelta;
  if (!isControlBatch(batch)) {
    const range = { firstSeq: h.baseSequence, lastSeq: lastSequence(h.baseSequence, h.lastOffsetDelta), baseOffset: h.baseOffset, lastOffset: last };
    producers.record(h.producerId, h.producerEpoch, range, nowMs, isTransactionalBatch(batch));
    return;
  }
  const records = decodeRecords(batch);
  if (records.length === 0) return; // a control batch emptied by compaction ends nothing
  let marker;
  try {
    marker = decodeTransactionMarker(records[0]);
  } catch {
    return; // another kind of control record: not a transaction marker
  }
  const done = producers.endTxn(h.producerId, h.producerEpoch, marker.coordinatorEpoch, h.baseOffset, marker.type === ControlRecordType.ABORT, nowMs);
  if (done?.aborted) aborted.add(abortedEntry(done, stableAfter(producers, h.baseOffset), segment));
}

/**
 * Indexes for every segment after a restart: a sealed segment's index file is used when its
 * length matches the recovered segment; other segments are scanned batch by batch. The producer
 * state (with open transactions) and the aborted transactions come from the index files and, for
 * scanned segments, from replaying them on top of the state as of the segment before.
 */
export async function recoverIndexes(
  log: Log,
  dir: string,
  found: Map<number, { index: SegmentIndex; producers: Buffer }>,
  meta: PartitionMeta | undefined,
  intervalBytes: number,
): Promise<{ segs: SegmentIndex[]; producers: ProducerStateTable; aborted: AbortedTxnIndex; rebuilt: Map<number, Buffer> }> {
  const ids = log.segments();
  const active = ids[ids.length - 1];
  const segs: SegmentIndex[] = [];
  const rebuilt = new Map<number, Buffer>();
  const aborted = new AbortedTxnIndex();
  let producers = new ProducerStateTable();
  let nextOffset = meta?.logStartOffset ?? 0;
  const nowMs = Date.now();
  for (const id of ids) {
    const f = id === active ? undefined : await usableIndex(dir, id, found.get(id));
    if (f) {
      segs.push(f.index);
      nextOffset = f.index.nextOffset;
      producers = f.state.producers;
      aborted.load(id, f.state.aborted);
      continue;
    }
    const seg = new SegmentIndex(id, nextOffset, SEGMENT_HEADER_BYTES);
    let at = { segment: id, offset: SEGMENT_HEADER_BYTES };
    for (;;) {
      const records = await log.readFrom(at, 4 * 1024 * 1024);
      const mine = records.filter((r) => r.pos.segment === id);
      for (const r of mine) {
        if (r.type !== STREAM_RECORD_BATCH) continue;
        const h = readBatchHeader(r.payload);
        seg.add(h.baseOffset, h.baseOffset + h.lastOffsetDelta, h.maxTimestamp, r.pos.offset, r.size, intervalBytes);
        replayBatch(producers, aborted, r.payload, h, id, nowMs);
      }
      if (mine.length < records.length || mine.length === 0) break;
      const lastRec = mine[mine.length - 1];
      at = { segment: id, offset: lastRec.pos.offset + lastRec.size };
    }
    if (seg.empty && meta && id === active && meta.nextOffset > seg.baseOffset) {
      // An empty active segment after every older one was deleted: continue where the log was.
      seg.baseOffset = seg.nextOffset = meta.nextOffset;
    }
    segs.push(seg);
    nextOffset = seg.nextOffset;
    if (id !== active) rebuilt.set(id, seg.encode(encodeSegmentState(producers.encode(), aborted.ofSegment(id))));
  }
  return { segs, producers, aborted, rebuilt };
}

/** A sealed segment's index file, if its length matches the segment and its state decodes. */
async function usableIndex(
  dir: string,
  id: number,
  f: { index: SegmentIndex; producers: Buffer } | undefined,
): Promise<{ index: SegmentIndex; state: ReturnType<typeof decodeSegmentState> } | undefined> {
  if (!f) return undefined;
  const size = (await fs.stat(path.join(dir, segmentFileName(id)))).size;
  if (size !== f.index.bytes) return undefined;
  try {
    return { index: f.index, state: decodeSegmentState(f.producers) };
  } catch {
    return undefined;
  }
}

/**
 * Where a truncation to `offset` cuts the log: the first batch (from `seg`, the segment holding
 * `offset`, on) with an offset at or past it. Undefined when no batch reaches it.
 */
export async function cutPosition(log: Log, seg: SegmentIndex, offset: number): Promise<{ pos: LogPosition; baseOffset: number } | undefined> {
  let at: LogPosition = { segment: seg.segment, offset: seg.positionFor(offset, SEGMENT_HEADER_BYTES) };
  for (;;) {
    const records = await log.readFrom(at, 256 * 1024);
    if (records.length === 0) return undefined;
    for (const r of records) {
      if (r.type !== STREAM_RECORD_BATCH) continue;
      const h = readBatchHeader(r.payload);
      if (h.baseOffset + h.lastOffsetDelta >= offset) return { pos: r.pos, baseOffset: h.baseOffset };
    }
    const last = records[records.length - 1];
    at = { segment: last.pos.segment, offset: last.pos.offset + last.size };
  }
}
