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
import { type FsyncPolicy, HandleBudget, type Log, type LogPosition, type Logger, openFileLog, writeFileAtomic } from '../../store/index.js';
import { SEGMENT_HEADER_BYTES } from '../../store/record-format.js';
import { ControlRecordType, buildMarkerBatch, decodeTransactionMarker } from '../../protocol/kafka/control-records.js';
import { decodeRecords } from '../../protocol/kafka/record-batch.js';
import { type AbortedTxn, AbortedTxnIndex, encodeSegmentState } from './aborted-txns.js';
import { isControlBatch, isTransactionalBatch } from './batch-attributes.js';
import { ATTR_COMPRESSION_MASK, type BatchHeader, LAST_OFFSET_DELTA_AT, checkUncompressedRecords, clientBatch, readBatchHeader } from './batch-header.js';
import type { CleanerHost, SegmentReplacement, StoredBatch } from './compaction/cleaner.js';
import { producerSnapshotOf, restoreIndexFiles, takeIndexFiles } from './compaction/index-files.js';
import { requireKeys } from './compaction/keys.js';
import { StreamError } from './errors.js';
import { ProducerStateTable, lastSequence } from './producer-state.js';
import { SegmentIndex, indexFileName } from './segment-index.js';
import { META_FILE, STREAM_RECORD_BATCH, type PartitionMeta, abortedEntry, cutPosition, readIndexFiles, readMeta, recoverIndexes, removeStaleIndexes, segmentStateOf, stableAfter } from './partition-recovery.js';

export { STREAM_RECORD_BATCH };

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
  /** cleanup.policy and compaction settings; absent: delete only (retention, no compaction). */
  readonly cleanup?: CleanupConfig;
}

/** Kafka's cleanup.policy (compact, delete or both) and the settings of compaction. */
export interface CleanupConfig {
  readonly compact: boolean;
  /** Retention by size and age applies (and DeleteRecords is allowed). */
  readonly delete: boolean;
  readonly deleteRetentionMs: number;
  readonly minCompactionLagMs: number;
  readonly maxCompactionLagMs: number;
  readonly minCleanableDirtyRatio: number;
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
/** Partitions keep few read handles open, so thousands of them fit the process's descriptors. */
const OPEN_FILES_PER_PARTITION = 2;
/** Segment files all stream partitions of the process may hold open together (quiet ones are closed past it). */
export const STREAM_OPEN_FILES_MAX = 256;
/** One budget for the process: file descriptors are a per-process limit. */
const STREAM_HANDLES = new HandleBudget(STREAM_OPEN_FILES_MAX);
/** A read that overlapped a segment swap of the cleaner is redone; this often at most. */
const READ_ATTEMPTS_MAX = 5;


export class Partition {
  private readonly segs: SegmentIndex[];
  private producers: ProducerStateTable;
  private aborted: AbortedTxnIndex;
  private start: number;
  private next: number;
  private hw: number;
  /** The cluster's high watermark for this partition (setReplicatedHighWatermark); unbounded on a single node. */
  private replicatedHw = Number.POSITIVE_INFINITY;
  private readonly watchers = new Set<() => void>();
  private syncing: Promise<void> | undefined;
  private closed = false;
  private readonly indexIntervalBytes: number;
  /** Sealed segments whose index file is not written yet (waits for their data to be durable). */
  private readonly unindexed = new Map<number, Buffer>();
  private indexWrites: Promise<void> = Promise.resolve();
  /** Bumped whenever cleaned segments replace old ones: positions from before mean nothing after. */
  private layout = 0;
  /** Changes of the segment list (retention, DeleteRecords, compaction swaps), one at a time. */
  private segmentOps: Promise<unknown> = Promise.resolve();
  /** A truncation is running: appends are refused until it ends. */
  private truncating = false;
  /**
   * A write or fsync failed (a full disk, an I/O error): the log dropped what was not durable, so
   * the offsets, index entries and producer sequences given since are not backed by records. Until
   * recover() has rebuilt the partition from the disk and cut it at `durableEnd`, appends are
   * refused (retriable) and nothing past `durableEnd` becomes visible.
   */
  private failure: { readonly error: string; readonly durableEnd: number; recovering: Promise<void> | undefined } | undefined;
  /** Told once per failure of a write to this partition's disk (a cluster leader gives up leading). */
  onWriteFailure: ((err: Error) => void) | undefined;

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
      handleBudget: STREAM_HANDLES,
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
    const hw = Math.min(this.hw, this.replicatedHw);
    return first === undefined ? hw : Math.min(first, hw);
  }

  /**
   * In a cluster, the replicated high watermark (docs/cluster.md, "Streams: the data plane"):
   * records below it are on every in-sync replica's disk. Committed reads (AMQP stream
   * consumers, Kafka's read_committed) stop there; wakes the readers waiting for it.
   */
  setReplicatedHighWatermark(offset: number): void {
    if (offset === this.replicatedHw) return;
    this.replicatedHw = offset;
    this.wake();
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
   * aborted. A marker of an older producer epoch is refused ('producer-fenced'), of an older coordinator epoch ('coordinator-fenced').
   */
  appendMarker(m: MarkerSpec, nowMs = Date.now()): { offset: number; durable: Promise<void> } {
    this.assertWritable();
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

  /**
   * A follower's append (docs/cluster.md, "Streams: the data plane"): a batch the leader sent,
   * stored with its offsets unchanged, so it must start at this log's end. A control batch
   * (a transaction marker) ends its producer's transaction here as it did on the leader.
   * Resolves once it is on disk.
   */
  appendReplica(batch: Buffer, nowMs = Date.now()): { lastOffset: number; durable: Promise<void> } {
    this.assertWritable();
    const h = readBatchHeader(batch);
    if (h.baseOffset !== this.next) {
      throw new StreamError('offset-out-of-range', `a replicated batch starts at ${h.baseOffset}, this log ends at ${this.next}`);
    }
    let marker: MarkerSpec | undefined;
    if (isControlBatch(batch)) {
      const record = decodeRecords(batch)[0];
      const m = decodeTransactionMarker(record);
      marker = { producerId: h.producerId, producerEpoch: h.producerEpoch, commit: m.type === ControlRecordType.COMMIT, coordinatorEpoch: m.coordinatorEpoch };
    }
    this.appendBatch(batch, h, nowMs, marker);
    return { lastOffset: h.baseOffset + h.lastOffsetDelta, durable: this.syncNow() };
  }

  /** Wakes the long polls waiting on this partition (a replicated high watermark moved). */
  wake(): void {
    for (const w of [...this.watchers]) w();
  }

  setConfig(config: PartitionConfig): void {
    this.config = config;
  }

  /**
   * Appends a produce request's record batch (Kafka v2 format, as the client sent it) at the log
   * end. Throws StreamError for a bad batch (batch-header.ts clientBatch: Kafka's checks and
   * codes), an oversized one and producer sequence errors; a batch an idempotent producer
   * already wrote is not written again but answered with its first offset. The records of an
   * uncompressed batch are checked here; `checkCompressed` checks a compressed batch's (the
   * broker has no codecs) and throws a StreamError. `verifyTxn` is asked (and may throw) before a
   * transactional batch opens its producer's transaction here (KIP-890's verification with the
   * transaction coordinator); a producer with an open transaction may not write non-transactional
   * batches ('invalid-txn-state', see appendBatch).
   */
  append(
    records: Buffer,
    nowMs = Date.now(),
    checkCompressed?: (batch: Buffer) => void,
    verifyTxn?: (producerId: number, producerEpoch: number) => void,
  ): AppendResult {
    this.assertWritable();
    const batch = clientBatch(records, this.config.maxMessageBytes);
    if (this.config.cleanup?.compact) requireKeys(batch);
    const h = readBatchHeader(batch);
    if ((h.attributes & ATTR_COMPRESSION_MASK) === 0) checkUncompressedRecords(batch, h.recordsCount);
    else checkCompressed?.(batch);
    if (verifyTxn && isTransactionalBatch(batch) && this.producers.openTxnFirstOffset(h.producerId) === undefined) verifyTxn(h.producerId, h.producerEpoch);
    const check = this.producers.check(h.producerId, h.producerEpoch, h.baseSequence, lastSequence(h.baseSequence, h.lastOffsetDelta));
    if (check.duplicate) return { baseOffset: check.baseOffset, duplicate: true, logStartOffset: this.start, durable: this.syncSoon() };
    const baseOffset = this.appendBatch(batch, h, nowMs);
    return { baseOffset, duplicate: false, logStartOffset: this.start, durable: this.syncSoon() };
  }

  /**
   * Appends batches built by the broker (AMQP publishes into a stream); `batch` must be a valid v2
   * batch whose base offset will be overwritten. Returns its base offset.
   */
  appendOwn(batch: Buffer, nowMs = Date.now()): { baseOffset: number; durable: Promise<void> } {
    this.assertWritable();
    const h = readBatchHeader(batch);
    if (this.config.cleanup?.compact) requireKeys(batch);
    return { baseOffset: this.appendBatch(batch, h, nowMs), durable: this.syncNow() };
  }

  private appendBatch(batch: Buffer, h: BatchHeader, nowMs: number, marker?: MarkerSpec): number {
    if (this.truncating) throw new StreamError('storage', 'the stream partition is being truncated');
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

  /**
   * A sync that starts as soon as the log's I/O queue reaches it, for a caller that has already
   * gathered its appends (the broker's batches of AMQP publishes): no wait for the end of the
   * turn. Syncs asked for while one is running still share the next one (the log's group commit).
   */
  private syncNow(): Promise<void> {
    const upTo = this.next;
    const p = this.log.sync().then(
      () => this.synced(upTo),
      (err: unknown) => {
        throw this.writeFailed(err);
      },
    );
    p.catch(() => {});
    return p;
  }

  /** One sync per turn of the event loop covers every append made in it (group commit). */
  private syncSoon(): Promise<void> {
    if (this.syncing) return this.syncing;
    const p = new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        this.syncing = undefined;
        const upTo = this.next;
        this.log.sync().then(() => {
          try {
            this.synced(upTo);
            resolve();
          } catch (err) {
            reject(err as Error); // a sync after a failed one: not durable in order (see `failure`)
          }
        }, (err: unknown) => {
          reject(this.writeFailed(err));
        });
      });
    });
    p.catch(() => {}); // callers that do not wait (acks=0) must not crash the process
    this.syncing = p;
    return p;
  }

  /** A sync covering every append below `upTo` succeeded; after a failed one, that is not enough (see `failure`). */
  private synced(upTo: number): void {
    if (this.failure !== undefined) throw new StreamError('storage', `writing the stream failed: ${this.failure.error}`);
    this.advance(upTo);
  }

  /**
   * A write or fsync of this partition failed: the first failure freezes what is durable and visible
   * at the high watermark (later syncs may succeed, but the offsets between are not backed by records).
   */
  private writeFailed(err: unknown): StreamError {
    if (this.failure === undefined) {
      this.failure = { error: String(err), durableEnd: this.hw, recovering: undefined };
      this.logger.error('writing a stream partition failed: it takes no appends until it is rebuilt from its disk', { dir: this.dir, durableEnd: this.hw, error: String(err) });
      try {
        this.onWriteFailure?.(err instanceof Error ? err : new Error(String(err)));
      } catch (e) {
        this.logger.warn('a write failure listener threw', { error: String(e) });
      }
    }
    return new StreamError('storage', `writing the stream failed: ${this.failure.error}`);
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

  /** Listeners waiting for the high watermark to move (long polls). */
  get watcherCount(): number {
    return this.watchers.size;
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
   * 'offset-out-of-range'. `alloc` supplies the read buffers (the batches are views of them; see
   * Log.readFrom).
   */
  async read(offset: number, bytesMax: number, isolation: Isolation = 'uncommitted', alloc?: (bytes: number) => Buffer): Promise<ReadResult> {
    return this.stable(() => this.readOnce(offset, bytesMax, isolation, alloc));
  }

  /**
   * Runs a read again if cleaned segments were swapped in while it ran (its positions may then
   * point into the wrong file, or the old file is gone): the retry sees the new segments.
   */
  private async stable<T>(read: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const layout = this.layout;
      try {
        const result = await read();
        if (layout === this.layout || attempt >= READ_ATTEMPTS_MAX) return result;
      } catch (err) {
        if (layout === this.layout || attempt >= READ_ATTEMPTS_MAX) throw err;
      }
    }
  }

  private async readOnce(offset: number, bytesMax: number, isolation: Isolation, alloc?: (bytes: number) => Buffer): Promise<ReadResult> {
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
      const budget = Math.max(bytesMax - bytes, 1) + this.indexIntervalBytes;
      const records = await this.log.readFrom(at, budget, alloc);
      if (records.length === 0) break;
      let readBytes = 0;
      for (const r of records) {
        readBytes += r.size;
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
      // A read shorter than its budget ended at the log's end or before a batch too big for the
      // rest of the budget: reading on would fetch that batch only to leave it out, unless nothing
      // is out yet (the records read were all before `offset`): the first batch goes out whatever
      // its size (KIP-74), so the read goes on to it.
      if (out.length > 0 && (bytes >= bytesMax || readBytes < budget)) break;
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
   * The first batch at or after `fromOffset` (and the log start) whose max timestamp is >=
   * `timestamp` (batch precision: the caller looks for the record within it, and asks again
   * after it if none qualifies), or undefined if every such record is older.
   */
  batchForTimestamp(timestamp: number, fromOffset = 0): Promise<{ baseOffset: number; batch: Buffer } | undefined> {
    return this.stable(() => this.batchForTimestampOnce(timestamp, fromOffset));
  }

  private async batchForTimestampOnce(timestamp: number, fromOffset = 0): Promise<{ baseOffset: number; batch: Buffer } | undefined> {
    this.assertOpen();
    const from = Math.max(this.start, fromOffset);
    for (const seg of this.segs) {
      if (seg.empty || seg.maxTimestamp < timestamp || seg.nextOffset <= from) continue;
      let at = { segment: seg.segment, offset: seg.positionForTime(timestamp, SEGMENT_HEADER_BYTES) };
      while (at.offset < seg.bytes) {
        const records = await this.log.readFrom(at, 256 * 1024);
        for (const r of records) {
          if (r.pos.segment !== seg.segment) break;
          const h = readBatchHeader(r.payload);
          if (h.baseOffset + h.lastOffsetDelta < from || h.baseOffset >= this.hw) continue;
          if (h.maxTimestamp >= timestamp) return { baseOffset: h.baseOffset, batch: r.payload };
        }
        const lastRec = records[records.length - 1];
        if (!lastRec || lastRec.pos.segment !== seg.segment) break;
        at = { segment: seg.segment, offset: lastRec.pos.offset + lastRec.size };
      }
    }
    return undefined;
  }

  /**
   * Base offset of the newest batch below the high watermark (read_committed: the last stable
   * offset) that is not a transaction marker (RabbitMQ's "last" chunk), or that limit when there
   * is none. Scans from the last index entry before it: a few KiB.
   */
  lastBatchOffset(isolation: Isolation = 'uncommitted'): Promise<number> {
    return this.stable(() => this.lastBatchOffsetOnce(isolation));
  }

  private async lastBatchOffsetOnce(isolation: Isolation): Promise<number> {
    this.assertOpen();
    const limit = isolation === 'committed' ? this.lastStableOffset : this.hw;
    if (limit <= this.start) return limit;
    const seg = this.segmentFor(limit - 1);
    let at = { segment: seg.segment, offset: seg.positionFor(limit - 1, SEGMENT_HEADER_BYTES) };
    // Only markers in the scanned stretch: start at the limit, as "next" would.
    let last = limit;
    for (;;) {
      const records = await this.log.readFrom(at, this.indexIntervalBytes);
      for (const r of records) {
        if (r.type !== STREAM_RECORD_BATCH) continue;
        const base = Number(r.payload.readBigInt64BE(0));
        if (base >= limit) return last;
        if (!isControlBatch(r.payload)) last = Math.max(base, this.start);
      }
      if (records.length === 0) return last;
      const lastRec = records[records.length - 1];
      at = { segment: lastRec.pos.segment, offset: lastRec.pos.offset + lastRec.size };
    }
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
    if (this.config.cleanup && !this.config.cleanup.delete) {
      throw new StreamError('policy-violation', 'Records of the partition can not be deleted due to the configured policy (cleanup.policy has no delete)');
    }
    if (offset < 0 || offset > this.hw) {
      throw new StreamError('offset-out-of-range', `cannot delete records before ${offset}: outside [0, ${this.hw}]`);
    }
    if (offset <= this.start) return this.start;
    this.start = offset;
    await this.saveMeta();
    await this.dropSegments((s, i) => i < this.segs.length - 1 && s.nextOffset <= this.start);
    return this.start;
  }

  /**
   * Kafka's truncateTo, for a follower whose log diverged from its leader's: removes every batch
   * holding an offset at or past `offset` (whole batches, so the log may end below it), on disk
   * first (docs/cluster.md, "Truncation"), then rebuilds the indexes and the producer state
   * (sequences, open transactions, aborted ones) as recovery would. A crash part way leaves a
   * prefix of the old log that recovery accepts. An offset below the log start empties the log
   * and starts it there (truncateFullyAndStartAt). Returns the new log end.
   */
  truncateTo(offset: number): Promise<number> {
    if (offset < this.start) return this.truncateFullyAndStartAt(offset);
    return this.exclusive(async () => {
      this.assertOpen();
      if (offset >= this.next) return this.next;
      const cut = await this.stable(() => cutPosition(this.log, this.segmentFor(offset), offset));
      if (cut === undefined) return this.next;
      return this.cutAt(cut.pos, Math.min(offset, cut.baseOffset), this.start, cut.pos.segment);
    });
  }

  /**
   * Empties the log and starts it at `offset` (Kafka's truncateFullyAndStartAt): for a follower
   * that needs records its leader no longer has (past retention or DeleteRecords), which then
   * fetches from the leader's log start. Durable when it resolves.
   */
  truncateFullyAndStartAt(offset: number): Promise<number> {
    return this.exclusive(async () => {
      this.assertOpen();
      if (!Number.isSafeInteger(offset) || offset < 0) throw new StreamError('offset-out-of-range', `cannot start the log at ${offset}`);
      return this.cutAt({ segment: this.segs[0].segment, offset: SEGMENT_HEADER_BYTES }, offset, offset, this.segs[0].segment);
    });
  }

  /**
   * Cuts the log at `pos` so it ends at `end` and starts at `start`: the meta file first (where
   * an emptied log continues), then the index files of the segments that change (from segment
   * `changed` on), then the log itself (the store removes the later segments newest first and
   * truncates the file at `pos`, fsync'd). Every crash point leaves a prefix that recovery indexes
   * again. Without `pos` the log is kept as it is and only indexed again (after a failed write), and
   * nothing past `visibleEnd` becomes visible.
   */
  private async cutAt(pos: LogPosition | undefined, end: number, start: number, changed: number, visibleEnd = Number.POSITIVE_INFINITY): Promise<number> {
    this.truncating = true;
    try {
      await this.log.sync();
      await this.indexWrites;
      const meta: PartitionMeta = { logStartOffset: start, nextOffset: end };
      await writeFileAtomic(path.join(this.dir, META_FILE), JSON.stringify(meta));
      for (const s of this.segs) {
        if (s.segment < changed) continue;
        this.unindexed.delete(s.segment);
        await fs.rm(path.join(this.dir, indexFileName(s.segment)), { force: true });
      }
      if (pos !== undefined) await this.log.truncate(pos);
      const found = await readIndexFiles(this.dir);
      const r = await recoverIndexes(this.log, this.dir, found, meta, this.indexIntervalBytes);
      this.segs.splice(0, this.segs.length, ...r.segs);
      this.producers = r.producers;
      this.aborted = r.aborted;
      this.layout++;
      this.next = this.segs[this.segs.length - 1].nextOffset;
      this.start = Math.min(Math.max(start, this.firstOffset()), this.next);
      this.hw = Math.min(this.next, visibleEnd); // what is left was fsync'd before the cut
      this.producers.markStable(this.hw);
      for (const [id, file] of r.rebuilt) this.unindexed.set(id, file);
      this.indexWrites = this.indexWrites.then(() => this.writeIndexes());
      this.logger.info('stream partition truncated', { dir: this.dir, logStartOffset: this.start, logEndOffset: this.next });
      return this.next;
    } finally {
      this.truncating = false;
    }
  }

  /** Deletes whole segments past the retention limits (never the active one). */
  async enforceRetention(nowMs = Date.now()): Promise<number> {
    this.assertOpen();
    // cleanup.policy=compact alone keeps everything compaction leaves: no retention by size or age.
    const deletes = this.config.cleanup?.delete ?? true;
    const retentionBytes = deletes ? this.config.retentionBytes : -1;
    const retentionMs = deletes ? this.config.retentionMs : -1;
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
  private dropSegments(doomed: (s: SegmentIndex, i: number) => boolean): Promise<number> {
    return this.exclusive(() => this.dropSegmentsNow(doomed));
  }

  /** Runs `fn` once every earlier change of the segment list has finished. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.segmentOps.then(fn);
    this.segmentOps = run.catch(() => {});
    return run;
  }

  private async dropSegmentsNow(doomed: (s: SegmentIndex, i: number) => boolean): Promise<number> {
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

  // ---- compaction: the stream cleaner's view (compaction/cleaner.ts, docs/streams.md) ----

  cleanerHost(): CleanerHost {
    return {
      dir: this.dir,
      isClosed: () => this.closed,
      config: () => this.config,
      logStartOffset: () => this.start,
      // Nothing at or past the last stable offset is cleaned: an open transaction's records (and
      // a marker not yet durable) may still change state. Aborted transactions' records go.
      stableOffset: () => this.lastStableOffset,
      transactions: () => ({ abortedTransactions: (from, to) => this.aborted.collect(from, to).sort((a, b) => a.firstOffset - b.firstOffset) }),
      segments: () => this.segs,
      indexed: (seg) => seg !== this.segs[this.segs.length - 1] && !this.unindexed.has(seg.segment),
      readBatches: (seg, position, bytesMax) => this.readSegment(seg, position, bytesMax),
      lastOffsetOfProducers: () => this.producers.lastOffsets(),
      replace: (group) => Promise.resolve(this.replacement(group)),
    };
  }

  private async readSegment(seg: SegmentIndex, position: number, bytesMax: number): Promise<StoredBatch[]> {
    if (position >= seg.bytes) return [];
    const out: StoredBatch[] = [];
    for (const r of await this.log.readFrom({ segment: seg.segment, offset: position }, bytesMax)) {
      if (r.pos.segment !== seg.segment) break;
      if (r.type === STREAM_RECORD_BATCH) out.push({ batch: r.payload, position: r.pos.offset, size: r.size });
    }
    return out;
  }

  /**
   * A new segment for a group of consecutive sealed segments. Its commit swaps it in: the old
   * index files go first, then the store swaps the files (crash-safe), and in the same turn of
   * the event loop this partition's segment list changes, so readers switch at once (a read
   * that overlapped is redone, see stable()); then the new index file is written.
   */
  private replacement(group: readonly SegmentIndex[]): SegmentReplacement {
    const first = group[0];
    const last = group[group.length - 1];
    const rewriter = this.log.replaceSegments(first.segment, last.segment);
    const index = SegmentIndex.covering(first.segment, first.baseOffset, SEGMENT_HEADER_BYTES);
    return {
      append: async (batch) => {
        const position = await rewriter.append(STREAM_RECORD_BATCH, batch);
        const h = readBatchHeader(batch);
        index.add(h.baseOffset, h.baseOffset + h.lastOffsetDelta, h.maxTimestamp, position, batch.length + RECORD_OVERHEAD, this.indexIntervalBytes);
      },
      abort: () => rewriter.abort(),
      commit: () =>
        this.exclusive(async () => {
          const at = this.segs.indexOf(first);
          if (this.closed || at < 0 || group.some((s, k) => this.segs[at + k] !== s)) {
            await rewriter.abort();
            return false;
          }
          index.cover(last.nextOffset);
          const saved = await takeIndexFiles(this.dir, group.map((s) => s.segment));
          try {
            await rewriter.commit(() => {
              this.segs.splice(at, group.length, index);
              this.aborted.mergeSegments(group.map((s) => s.segment), first.segment);
              this.layout++;
            });
          } catch (err) {
            await restoreIndexFiles(this.dir, saved);
            throw err;
          }
          // The producer state as of the group's end is the last old segment's snapshot; the
          // aborted transactions are those of every segment of the group (their entries stay even
          // when the cleaner dropped the aborted records: a reader then simply finds none).
          const state = segmentStateOf(producerSnapshotOf(saved.get(last.segment)));
          if (state) {
            const file = index.encode(encodeSegmentState(state.producers.encode(), this.aborted.ofSegment(first.segment)));
            await writeFileAtomic(path.join(this.dir, indexFileName(first.segment)), file).catch((err: unknown) =>
              this.logger.warn('writing a cleaned segment index failed; it is rebuilt at the next start', { dir: this.dir, error: String(err) }),
            );
          }
          return true;
        }),
    };
  }

  private firstOffset(): number {
    for (const s of this.segs) if (!s.empty) return s.baseOffset;
    return this.segs[this.segs.length - 1].nextOffset;
  }

  private assertOpen(): void {
    if (this.closed) throw new StreamError('unknown-partition', 'the stream partition is closed');
  }

  /** Appends are refused (retriable, KAFKA_STORAGE_ERROR) while a failed write is not recovered; the first refusal starts the recovery. */
  private assertWritable(): void {
    this.assertOpen();
    const f = this.failure;
    if (f === undefined) return;
    f.recovering ??= this.recover(f).finally(() => (f.recovering = undefined));
    throw new StreamError('storage', `the stream partition is recovering from a failed write (${f.error}); retry`);
  }

  /**
   * After a failed write: the indexes and producer state are rebuilt from what the disk holds (the
   * log dropped what was not durable), then anything past the durable end is cut, so the partition
   * is as if the lost appends had never been made: their offsets are given again and an idempotent
   * producer's retry of a lost batch is written, not taken for a duplicate. Fails (and is tried again
   * at the next append) while the disk still takes no writes.
   */
  private recover(f: NonNullable<Partition['failure']>): Promise<void> {
    return this.exclusive(async () => {
      if (this.closed || this.failure !== f) return;
      await this.cutAt(undefined, f.durableEnd, this.start, this.segmentFor(f.durableEnd).segment, f.durableEnd);
      if (this.next > f.durableEnd) {
        const cut = await cutPosition(this.log, this.segmentFor(f.durableEnd), f.durableEnd);
        if (cut !== undefined) await this.cutAt(cut.pos, Math.min(f.durableEnd, cut.baseOffset), this.start, cut.pos.segment);
      }
      this.failure = undefined;
      this.logger.warn('the stream partition is rebuilt from its disk after a failed write and takes appends again', { dir: this.dir, logEndOffset: this.next });
    }).catch((err: unknown) => {
      this.logger.debug('the stream partition cannot recover from a failed write yet', { dir: this.dir, error: String(err) });
    });
  }

  private async saveMeta(): Promise<void> {
    const meta: PartitionMeta = { logStartOffset: this.start, nextOffset: this.next };
    await writeFileAtomic(path.join(this.dir, META_FILE), JSON.stringify(meta));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watchers.clear();
    await this.segmentOps;
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
      await this.segmentOps;
      await this.log.close().catch(() => {});
      await this.indexWrites;
    }
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}

/** The store's record header: length, CRC, type. */
const RECORD_OVERHEAD = 9;
