// One partition of a stream: an append-only log of record batches with offsets, on the store's
// segmented log (one directory per partition, one log record per batch). Offsets are assigned
// here; the sparse indexes (segment-index.ts) find a batch by offset or by time; consumers see
// batches up to the high watermark, which only moves once the batches below it are durable, so
// an offset a consumer has seen is never reused after a crash. Transactional producers' open
// transactions hold the last stable offset back (read_committed readers stop there) until the
// transaction coordinator's markers end them; aborted ones are indexed (aborted-txns.ts).
// Retention deletes whole segments, oldest first. Nothing is removed by reading. See
// docs/streams.md.

import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { type FsyncPolicy, type Log, type Logger, openFileLog, readFileIfExists, writeFileAtomic } from '../../store/index.js';
import { SEGMENT_HEADER_BYTES, segmentFileName } from '../../store/record-format.js';
import { ControlRecordType, buildMarkerBatch, decodeTransactionMarker } from '../../protocol/kafka/control-records.js';
import { decodeRecords } from '../../protocol/kafka/record-batch.js';
import { type AbortedTxn, AbortedTxnIndex, decodeSegmentState, encodeSegmentState } from './aborted-txns.js';
import { isControlBatch, isTransactionalBatch } from './batch-attributes.js';
import { type BatchHeader, LAST_OFFSET_DELTA_AT, readBatchHeader, splitBatches } from './batch-header.js';
import { StreamError } from './errors.js';
import { type CompletedTxn, ProducerStateTable, lastSequence } from './producer-state.js';
import { SegmentIndex, indexFileName, parseIndexFileName } from './segment-index.js';

/** The one record type of a stream log: a record batch. */
export const STREAM_RECORD_BATCH = 1;

export interface PartitionConfig {
  /** A new segment starts when the active one would pass this. */
  readonly segmentBytesMax: number;
  /** Delete oldest segments while the partition is bigger than this (-1: no limit). */
  readonly retentionBytes: number;
  /** Delete segments whose newest record is older than this (-1: no limit). */
  readonly retentionMs: number;
  /** Largest batch accepted (Kafka's max.message.bytes). */
  readonly maxMessageBytes: number;
  /** One index entry per this many bytes of batches. */
  readonly indexIntervalBytes?: number;
}

export interface PartitionOptions {
  readonly dir: string;
  readonly fsync: FsyncPolicy;
  readonly logger: Logger;
  readonly config: PartitionConfig;
}

export interface AppendResult {
  /** Offset of the first record (for a retried duplicate: the offset it got the first time). */
  readonly baseOffset: number;
  readonly duplicate: boolean;
  readonly logStartOffset: number;
  /** Resolves once the batches are durable (and visible to consumers). */
  readonly durable: Promise<void>;
}

export interface ReadResult {
  /** Whole batches, the first one holding the offset asked for. */
  readonly batches: Buffer[];
  readonly bytes: number;
  readonly highWatermark: number;
  readonly logStartOffset: number;
}

/** Kafka's isolation levels: read_uncommitted reads to the high watermark, read_committed to the last stable offset. */
export type Isolation = 'uncommitted' | 'committed';

/** A transaction marker: the coordinator's decision for one producer's transaction on this partition. */
export interface MarkerSpec {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly commit: boolean;
  readonly coordinatorEpoch: number;
}

const INDEX_INTERVAL_DEFAULT = 4096;
const META_FILE = 'partition.json';
/** Partitions keep few read handles open, so thousands of them fit the process's descriptors. */
const OPEN_FILES_PER_PARTITION = 2;

interface PartitionMeta {
  logStartOffset: number;
  nextOffset: number;
}

export class Partition {
  private readonly segs: SegmentIndex[];
  private producers: ProducerStateTable;
  private readonly aborted: AbortedTxnIndex;
  private start: number;
  private next: number;
  private hw: number;
  private readonly watchers = new Set<() => void>();
  private syncing: Promise<void> | undefined;
  private closed = false;
  private readonly indexIntervalBytes: number;
  /** Sealed segments whose index file is not written yet (waits for their data to be durable). */
  private readonly unindexed = new Map<number, Buffer>();
  private indexWrites: Promise<void> = Promise.resolve();

  private constructor(
    private readonly log: Log,
    readonly dir: string,
    private config: PartitionConfig,
    private readonly logger: Logger,
    segs: SegmentIndex[],
    producers: ProducerStateTable,
    aborted: AbortedTxnIndex,
    logStartOffset: number,
  ) {
    this.segs = segs;
    this.producers = producers;
    this.aborted = aborted;
    this.indexIntervalBytes = config.indexIntervalBytes ?? INDEX_INTERVAL_DEFAULT;
    const last = segs[segs.length - 1];
    this.next = last.nextOffset;
    this.start = Math.min(Math.max(logStartOffset, this.firstOffset()), this.next);
    this.hw = this.next;
    // Everything recovered is durable: transactions ended by markers in it are stable.
    this.producers.markStable(this.hw);
  }

  static async open(opts: PartitionOptions): Promise<Partition> {
    await fs.mkdir(opts.dir, { recursive: true });
    const meta = await readMeta(opts.dir);
    const found = await readIndexFiles(opts.dir);
    const trusted = new Map<number, number>();
    for (const [id, f] of found) trusted.set(id, f.index.bytes);
    const log = await openFileLog({
      dir: opts.dir,
      fsync: opts.fsync,
      logger: opts.logger,
      segmentBytesMax: opts.config.segmentBytesMax,
      openFilesMax: OPEN_FILES_PER_PARTITION,
      quarantineDir: path.join(opts.dir, 'quarantine'),
      trustedSegments: trusted,
    });
    try {
      const { segs, producers, aborted, rebuilt } = await recoverIndexes(log, opts.dir, found, meta, opts.config.indexIntervalBytes ?? INDEX_INTERVAL_DEFAULT);
      const p = new Partition(log, opts.dir, opts.config, opts.logger, segs, producers, aborted, meta?.logStartOffset ?? 0);
      for (const [id, file] of rebuilt) await writeFileAtomic(path.join(opts.dir, indexFileName(id)), file);
      await removeStaleIndexes(opts.dir, new Set(log.segments()));
      return p;
    } catch (err) {
      await log.close().catch(() => {});
      throw err;
    }
  }

  get logStartOffset(): number {
    return this.start;
  }

  /** The offset the next record gets. */
  get logEndOffset(): number {
    return this.next;
  }

  /** Records below this are durable and visible to consumers. */
  get highWatermark(): number {
    return this.hw;
  }

  get sizeBytes(): number {
    return this.log.sizeBytes();
  }

  get segmentCount(): number {
    return this.segs.length;
  }

  get producerCount(): number {
    return this.producers.size;
  }

  /**
   * Kafka's last stable offset: read_committed readers see records below it. The first offset of
   * the earliest transaction still open (or ended by a marker that is not durable yet), else the
   * high watermark.
   */
  get lastStableOffset(): number {
    const first = this.producers.firstUnstableOffset();
    return first === undefined ? this.hw : Math.min(first, this.hw);
  }

  /** Where the producer's open transaction on this partition starts (undefined: none open). */
  openTxnFirstOffset(producerId: number): number | undefined {
    return this.producers.openTxnFirstOffset(producerId);
  }

  /** Aborted transactions with records in [fetchOffset, upperBound), for a read_committed Fetch. */
  abortedTransactions(fetchOffset: number, upperBound: number): AbortedTxn[] {
    return this.aborted.collect(fetchOffset, upperBound);
  }

  /**
   * Appends a transaction marker (a control batch, as Kafka's WriteTxnMarkers does on a leader):
   * it ends the producer's open transaction here, if any, and an ABORT marker indexes it as
   * aborted. A marker of an older producer or coordinator epoch is refused ('producer-fenced').
   */
  appendMarker(m: MarkerSpec, nowMs = Date.now()): { offset: number; durable: Promise<void> } {
    this.assertOpen();
    this.producers.checkMarker(m.producerId, m.producerEpoch, m.coordinatorEpoch);
    const batch = buildMarkerBatch({
      producerId: BigInt(m.producerId),
      producerEpoch: m.producerEpoch,
      marker: { type: m.commit ? ControlRecordType.COMMIT : ControlRecordType.ABORT, coordinatorEpoch: m.coordinatorEpoch },
      timestamp: BigInt(nowMs),
    });
    const offset = this.appendBatch(batch, readBatchHeader(batch), nowMs, m);
    return { offset, durable: this.syncSoon() };
  }

  setConfig(config: PartitionConfig): void {
    this.config = config;
  }

  /**
   * Appends a produce request's record batches (Kafka v2 format, as the client sent them) with
   * offsets from the log end. Throws StreamError for bad batches, oversized ones and producer
   * sequence errors; a batch an idempotent producer already wrote is not written again.
   */
  append(records: Buffer, nowMs = Date.now()): AppendResult {
    this.assertOpen();
    const batches = splitBatches(records);
    for (const b of batches) {
      if (b.length > this.config.maxMessageBytes) {
        throw new StreamError('too-large', `record batch of ${b.length} bytes is larger than max.message.bytes ${this.config.maxMessageBytes}`);
      }
    }
    const headers = batches.map((b) => readBatchHeader(b));
    let first: number | undefined;
    let duplicate = false;
    for (const [i, batch] of batches.entries()) {
      const h = headers[i];
      const lastSeq = lastSequence(h.baseSequence, h.lastOffsetDelta);
      const check = this.producers.check(h.producerId, h.producerEpoch, h.baseSequence, lastSeq);
      if (check.duplicate) {
        first ??= check.baseOffset;
        duplicate = true;
        continue;
      }
      const baseOffset = this.appendBatch(batch, h, nowMs);
      first ??= baseOffset;
    }
    return { baseOffset: first as number, duplicate, logStartOffset: this.start, durable: this.syncSoon() };
  }

  /**
   * Appends batches built by the broker (AMQP publishes into a stream); `batch` must be a valid v2
   * batch whose base offset will be overwritten. Returns its base offset.
   */
  appendOwn(batch: Buffer, nowMs = Date.now()): { baseOffset: number; durable: Promise<void> } {
    this.assertOpen();
    const h = readBatchHeader(batch);
    return { baseOffset: this.appendBatch(batch, h, nowMs), durable: this.syncSoon() };
  }

  private appendBatch(batch: Buffer, h: BatchHeader, nowMs: number, marker?: MarkerSpec): number {
    const transactional = isTransactionalBatch(batch);
    if (!marker) this.producers.checkTxn(h.producerId, transactional);
    const baseOffset = this.next;
    const offsetField = Buffer.allocUnsafe(8);
    offsetField.writeBigInt64BE(BigInt(baseOffset));
    const pos = this.log.append(STREAM_RECORD_BATCH, [offsetField, batch.subarray(8)]);
    let seg = this.segs[this.segs.length - 1];
    if (pos.segment !== seg.segment) {
      // The log rolled: the previous segment is sealed, with the producer state as of its end.
      this.unindexed.set(seg.segment, seg.encode(encodeSegmentState(this.producers.encode(), this.aborted.ofSegment(seg.segment))));
      seg = new SegmentIndex(pos.segment, baseOffset, SEGMENT_HEADER_BYTES);
      this.segs.push(seg);
    }
    const lastOffset = baseOffset + h.lastOffsetDelta;
    seg.add(baseOffset, lastOffset, h.maxTimestamp, pos.offset, batch.length + RECORD_OVERHEAD, this.indexIntervalBytes);
    this.next = lastOffset + 1;
    if (marker) this.endTxn(marker, baseOffset, seg.segment, nowMs);
    else {
      this.producers.record(
        h.producerId,
        h.producerEpoch,
        { firstSeq: h.baseSequence, lastSeq: lastSequence(h.baseSequence, h.lastOffsetDelta), baseOffset, lastOffset },
        nowMs,
        transactional,
      );
    }
    return baseOffset;
  }

  private endTxn(m: MarkerSpec, offset: number, segment: number, nowMs: number): void {
    const done = this.producers.endTxn(m.producerId, m.producerEpoch, m.coordinatorEpoch, offset, !m.commit, nowMs);
    if (done?.aborted) this.aborted.add(abortedEntry(done, stableAfter(this.producers, offset), segment));
  }

  /** One sync per turn of the event loop covers every append made in it (group commit). */
  private syncSoon(): Promise<void> {
    if (this.syncing) return this.syncing;
    const p = new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        this.syncing = undefined;
        const upTo = this.next;
        this.log.sync().then(() => {
          this.advance(upTo);
          resolve();
        }, (err: unknown) => {
          reject(new StreamError('storage', `writing the stream failed: ${String(err)}`));
        });
      });
    });
    p.catch(() => {}); // callers that do not wait (acks=0) must not crash the process
    this.syncing = p;
    return p;
  }

  private advance(upTo: number): void {
    if (upTo <= this.hw) return;
    this.hw = upTo;
    this.producers.markStable(upTo);
    for (const w of [...this.watchers]) w();
    if (this.unindexed.size > 0) this.indexWrites = this.indexWrites.then(() => this.writeIndexes());
  }

  /** Index files are written one after another, after the data they describe is durable. */
  private async writeIndexes(): Promise<void> {
    for (const [id, file] of [...this.unindexed]) {
      this.unindexed.delete(id);
      if (!this.log.segments().includes(id)) continue;
      try {
        await writeFileAtomic(path.join(this.dir, indexFileName(id)), file);
      } catch (err) {
        this.logger.warn('writing a segment index failed; it is rebuilt at the next start', { dir: this.dir, segment: id, error: String(err) });
      }
    }
  }

  /** Called whenever the high watermark moves; returns the function that stops it. */
  watch(listener: () => void): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  /**
   * Batches from the one holding `offset`, up to about `bytesMax` bytes (always at least one
   * batch if there is one), never past the high watermark (read_committed: the last stable
   * offset). `offset` at that limit gives no batches; outside [logStartOffset, logEndOffset] is
   * 'offset-out-of-range'.
   */
  async read(offset: number, bytesMax: number, isolation: Isolation = 'uncommitted'): Promise<ReadResult> {
    this.assertOpen();
    if (offset < this.start || offset > this.next) {
      throw new StreamError('offset-out-of-range', `offset ${offset} is outside [${this.start}, ${this.next}]`);
    }
    // Batches never straddle the last stable offset (a transaction starts at a batch), so a
    // read_committed reader reads whole batches up to it.
    const hw = this.hw;
    const limit = isolation === 'committed' ? this.lastStableOffset : hw;
    const out: Buffer[] = [];
    let bytes = 0;
    if (offset >= limit) return { batches: out, bytes, highWatermark: hw, logStartOffset: this.start };
    const seg = this.segmentFor(offset);
    let at = { segment: seg.segment, offset: seg.positionFor(offset, SEGMENT_HEADER_BYTES) };
    for (;;) {
      const records = await this.log.readFrom(at, Math.max(bytesMax - bytes, 1) + this.indexIntervalBytes);
      if (records.length === 0) break;
      for (const r of records) {
        if (r.type !== STREAM_RECORD_BATCH) continue;
        const base = Number(r.payload.readBigInt64BE(0));
        if (base >= limit) return { batches: out, bytes, highWatermark: hw, logStartOffset: this.start };
        const last = base + r.payload.readInt32BE(LAST_OFFSET_DELTA_AT);
        if (last < offset) continue;
        if (out.length > 0 && bytes + r.payload.length > bytesMax) {
          return { batches: out, bytes, highWatermark: hw, logStartOffset: this.start };
        }
        out.push(r.payload);
        bytes += r.payload.length;
      }
      if (bytes >= bytesMax) break;
      const lastRec = records[records.length - 1];
      at = { segment: lastRec.pos.segment, offset: lastRec.pos.offset + lastRec.size };
    }
    return { batches: out, bytes, highWatermark: hw, logStartOffset: this.start };
  }

  /** The segment holding `offset` (the last non-empty one starting at or before it). */
  private segmentFor(offset: number): SegmentIndex {
    let lo = 0;
    let hi = this.segs.length - 1;
    let found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.segs[mid];
      if (!s.empty && s.baseOffset <= offset) {
        found = mid;
        lo = mid + 1;
      } else if (s.empty && s.baseOffset <= offset) lo = mid + 1;
      else hi = mid - 1;
    }
    return this.segs[found];
  }

  /**
   * The first batch holding a record with timestamp >= `timestamp` (batch precision: the caller
   * refines within the batch if it needs to), or undefined if every record is older.
   */
  async batchForTimestamp(timestamp: number): Promise<{ baseOffset: number; batch: Buffer } | undefined> {
    this.assertOpen();
    for (const seg of this.segs) {
      if (seg.empty || seg.maxTimestamp < timestamp || seg.nextOffset <= this.start) continue;
      let at = { segment: seg.segment, offset: seg.positionForTime(timestamp, SEGMENT_HEADER_BYTES) };
      while (at.offset < seg.bytes) {
        const records = await this.log.readFrom(at, 256 * 1024);
        for (const r of records) {
          if (r.pos.segment !== seg.segment) break;
          const h = readBatchHeader(r.payload);
          if (h.baseOffset + h.lastOffsetDelta < this.start || h.baseOffset >= this.hw) continue;
          if (h.maxTimestamp >= timestamp) return { baseOffset: h.baseOffset, batch: r.payload };
        }
        const lastRec = records[records.length - 1];
        if (!lastRec || lastRec.pos.segment !== seg.segment) break;
        at = { segment: seg.segment, offset: lastRec.pos.offset + lastRec.size };
      }
    }
    return undefined;
  }

  /** The newest record timestamp (-1 if none), for ListOffsets' max timestamp. */
  get maxTimestamp(): number {
    let ts = -1;
    for (const s of this.segs) if (s.maxTimestamp > ts) ts = s.maxTimestamp;
    return ts;
  }

  /**
   * Moves the log start offset up to `offset` (Kafka's DeleteRecords; at most the high
   * watermark) and deletes the segments wholly below it. Durable when it resolves.
   */
  async deleteRecordsBefore(offset: number): Promise<number> {
    this.assertOpen();
    if (offset < 0 || offset > this.hw) {
      throw new StreamError('offset-out-of-range', `cannot delete records before ${offset}: outside [0, ${this.hw}]`);
    }
    if (offset <= this.start) return this.start;
    this.start = offset;
    await this.saveMeta();
    await this.dropSegments((s, i) => i < this.segs.length - 1 && s.nextOffset <= this.start);
    return this.start;
  }

  /** Deletes whole segments past the retention limits (never the active one). */
  async enforceRetention(nowMs = Date.now()): Promise<number> {
    this.assertOpen();
    const { retentionBytes, retentionMs } = this.config;
    let excess = retentionBytes >= 0 ? this.log.sizeBytes() - retentionBytes : -1;
    const deleted = await this.dropSegments((s, i) => {
      if (i >= this.segs.length - 1) return false;
      if (s.nextOffset <= this.start) return true;
      if (retentionMs >= 0 && s.maxTimestamp < nowMs - retentionMs) return true;
      if (excess >= s.bytes) {
        excess -= s.bytes;
        return true;
      }
      return false;
    });
    return deleted;
  }

  /** Drops the oldest segments while `doomed` says so; returns how many went. */
  private async dropSegments(doomed: (s: SegmentIndex, i: number) => boolean): Promise<number> {
    let n = 0;
    while (n < this.segs.length - 1 && doomed(this.segs[n], n)) n++;
    if (n === 0) return 0;
    const victims = this.segs.slice(0, n);
    const keepFrom = this.segs[n];
    await this.log.deleteSegmentsBefore(keepFrom.segment);
    this.segs.splice(0, n);
    this.aborted.dropSegmentsBefore(keepFrom.segment);
    this.start = Math.max(this.start, this.firstOffset());
    for (const v of victims) {
      this.unindexed.delete(v.segment);
      await fs.rm(path.join(this.dir, indexFileName(v.segment)), { force: true });
    }
    return n;
  }

  private firstOffset(): number {
    for (const s of this.segs) if (!s.empty) return s.baseOffset;
    return this.segs[this.segs.length - 1].nextOffset;
  }

  private assertOpen(): void {
    if (this.closed) throw new StreamError('unknown-partition', 'the stream partition is closed');
  }

  private async saveMeta(): Promise<void> {
    const meta: PartitionMeta = { logStartOffset: this.start, nextOffset: this.next };
    await writeFileAtomic(path.join(this.dir, META_FILE), JSON.stringify(meta));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watchers.clear();
    await this.log.close();
    this.hw = this.next;
    await this.indexWrites;
    await this.writeIndexes();
    await this.saveMeta();
  }

  /** Closes the partition and removes its files. */
  async destroy(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.watchers.clear();
      await this.log.close().catch(() => {});
      await this.indexWrites;
    }
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}

/** The store's record header: length, CRC, type. */
const RECORD_OVERHEAD = 9;

async function readMeta(dir: string): Promise<PartitionMeta | undefined> {
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

async function readIndexFiles(dir: string): Promise<Map<number, { index: SegmentIndex; producers: Buffer }>> {
  const out = new Map<number, { index: SegmentIndex; producers: Buffer }>();
  for (const name of await fs.readdir(dir)) {
    const id = parseIndexFileName(name);
    if (id === undefined) continue;
    const parsed = SegmentIndex.decode(await fs.readFile(path.join(dir, name)));
    if (parsed && parsed.index.segment === id) out.set(id, parsed);
  }
  return out;
}

async function removeStaleIndexes(dir: string, live: Set<number>): Promise<void> {
  for (const name of await fs.readdir(dir)) {
    const id = parseIndexFileName(name);
    if (id !== undefined && !live.has(id)) await fs.rm(path.join(dir, name), { force: true });
  }
}

/** Kafka's lastStableOffset of a completed transaction: the first offset still open, else just past the marker. */
function stableAfter(producers: ProducerStateTable, markerOffset: number): number {
  let first = markerOffset + 1;
  const open = producers.firstOpenOffset();
  if (open !== undefined && open < first) first = open;
  return first;
}

function abortedEntry(t: CompletedTxn, lastStableOffset: number, segment: number): AbortedTxn {
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
async function recoverIndexes(
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
