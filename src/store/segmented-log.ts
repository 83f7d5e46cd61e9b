// The Log implementation, over any LogDisk: the file log runs it on the file system, the memory log
// on a MemoryDisk. Appends are copied into a preallocated write buffer (no I/O); every disk
// mutation (write, fsync, truncate, delete) runs one at a time on a single I/O queue, so there is
// never more than one fdatasync in flight and group commit falls out of the queueing: callers that
// arrive while a round is queued or running share the next round.

import { latencyTrace, traceNow } from '../util/latency-trace.js';
import { SmallSet } from '../util/small-set.js';
import type { LogDisk } from './disk.js';
import type { FsyncPolicy, Log, LogPosition, LogRecord, LogStats, Logger } from './log.js';
import {
  RECORD_PAYLOAD_BYTES_MAX,
  SEGMENT_HEADER_BYTES,
  cleanedFileName,
  encodeRecordInto,
  recordBytes,
  segmentFileName,
  segmentHeader,
} from './record-format.js';
import { SegmentRewrite, type SegmentRewriter } from './segment-rewrite.js';
import { type HandleBudget, type RecoveredSegment, type Segment, SegmentFiles, WriteBuf, newSegment } from './segment.js';
import { SegmentReader } from './segment-reader.js';

export interface SegmentedLogOptions {
  readonly fsync: FsyncPolicy;
  readonly segmentBytesMax: number;
  readonly writeBufferBytesMax: number;
  readonly logger: Logger;
  /** Handles kept open for reads of older segments. */
  readonly openFilesMax: number;
  /** A limit shared with other logs on the handles they hold open together. */
  readonly handleBudget?: HandleBudget;
}

/** A sync round: one write (+ fdatasync unless the policy is 'never') covering bytes up to `target`. */
interface Round {
  /** Highest byte count a caller waiting on this round needs durable. */
  want: number;
  /** Bytes this round makes durable; fixed when it starts ('batch') or when asked for ('always'). */
  target: number | undefined;
  /** fsync even under 'never' (close). */
  readonly forceFsync: boolean;
  /** Reject even if the round succeeds: records nobody waited for were lost just before. */
  poison: Error | undefined;
  settled: boolean;
  readonly promise: Promise<void>;
  resolve(): void;
  reject(err: Error): void;
}

const POOLED_BUFFERS_MAX = 4;

const noop = (): void => {};

function ignoreMissing(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export class SegmentedLog implements Log {
  readonly stats: LogStats = { appends: 0, bytesAppended: 0, writes: 0, fsyncs: 0 };
  protected readonly logger: Logger;
  private readonly policy: FsyncPolicy;
  private readonly segmentBytesMax: number;
  private readonly bufferBytes: number;
  private readonly files: SegmentFiles;
  private readonly reader: SegmentReader;

  /** Oldest first; the last one is active. */
  private readonly segs: Segment[] = [];
  private segIds: readonly number[] = [];
  private nextSegmentId: number;

  /** Buffers not fully written, oldest first; `cur` (the last) takes appends while it has room. */
  private readonly bufs: WriteBuf[] = [];
  private cur: WriteBuf | undefined;
  private readonly pool: Buffer[] = [];

  // Log-wide byte counters (segment headers included); monotonic, also across rollbacks.
  private appendedGlobal = 0;
  private writtenGlobal = 0;
  private durableGlobal = 0;
  /** appendedGlobal after the last record (not counting a fresh segment's header). */
  private lastRecordGlobal = 0;

  private ioTail: Promise<void> = Promise.resolve();
  private writeScheduled = false;
  /** Segments with bytes written but not fdatasync'd. */
  private readonly dirty = new SmallSet<Segment>();
  private readonly rounds = new SmallSet<Round>();
  /** 'batch': the round the next sync() callers join; it starts when the I/O queue reaches it. */
  private nextRound: Round | undefined;
  private inflight: Round | undefined;
  /** Records were lost that no sync() was waiting for: the next round reports it. */
  private unclaimedLoss: Error | undefined;
  /** Segments a failed rollback could not cut back yet; retried before anything else is written. */
  private pendingCut: Segment[] | undefined;
  /** The last part of a segment replacement (old files removed, swap file renamed), if running. */
  private replacing: Promise<void> = Promise.resolve();
  private closing: Promise<void> | undefined;
  private closed = false;
  /** Set by kill(): the process "died" (memory log crash simulation). */
  private dead = false;

  constructor(
    private readonly storage: LogDisk,
    recovered: readonly RecoveredSegment[],
    opts: SegmentedLogOptions,
  ) {
    this.logger = opts.logger;
    this.policy = opts.fsync;
    this.segmentBytesMax = opts.segmentBytesMax;
    this.bufferBytes = opts.writeBufferBytesMax;
    this.files = new SegmentFiles(storage, opts.openFilesMax, (s) => this.quiet(s), opts.handleBudget);
    this.reader = new SegmentReader(this.segs, this.bufs, this.files, storage, opts.logger);
    for (const r of recovered) this.segs.push(newSegment(r.id, r.bytes, true));
    const last = recovered[recovered.length - 1];
    this.nextSegmentId = last ? last.id + 1 : 0;
    if (this.segs.length === 0) this.startSegment();
    this.refreshIds();
  }

  // ---- appending ----

  append(type: number, payload: Buffer | readonly Buffer[]): LogPosition {
    const refused = this.refusal();
    if (refused) throw refused;
    if (!Number.isInteger(type) || type < 0 || type > 255) throw new RangeError(`record type ${type} is not in 0..255`);
    let payloadBytes = 0;
    if (Buffer.isBuffer(payload)) payloadBytes = payload.length;
    else for (const part of payload) payloadBytes += part.length;
    if (payloadBytes > RECORD_PAYLOAD_BYTES_MAX) throw new RangeError(`payload of ${payloadBytes} bytes is too big`);
    const bytes = recordBytes(payloadBytes);
    let seg = this.active;
    if (seg.end > SEGMENT_HEADER_BYTES && seg.end + bytes > this.segmentBytesMax) seg = this.startSegment();
    const buf = this.bufferFor(seg, bytes);
    encodeRecordInto(buf.data, buf.used, type, payload, payloadBytes);
    const pos: LogPosition = { segment: seg.id, offset: seg.end };
    buf.used += bytes;
    seg.end += bytes;
    this.appendedGlobal += bytes;
    this.lastRecordGlobal = this.appendedGlobal;
    this.stats.appends++;
    this.stats.bytesAppended += bytes;
    if (this.appendedGlobal - this.writtenGlobal >= this.bufferBytes) this.scheduleWrite();
    return pos;
  }

  private get active(): Segment {
    return this.segs[this.segs.length - 1];
  }

  /** Opens a new segment (its file is created by the first write) with its header buffered. */
  private startSegment(): Segment {
    this.retireCurrent();
    const seg = newSegment(this.nextSegmentId++, 0, false);
    this.segs.push(seg);
    this.refreshIds();
    const buf = this.newBuffer(seg, SEGMENT_HEADER_BYTES);
    segmentHeader().copy(buf.data, 0);
    buf.used = SEGMENT_HEADER_BYTES;
    seg.end = SEGMENT_HEADER_BYTES;
    this.appendedGlobal += SEGMENT_HEADER_BYTES;
    return seg;
  }

  private bufferFor(seg: Segment, bytes: number): WriteBuf {
    const cur = this.cur;
    if (cur && cur.seg === seg) {
      if (cur.used > 0 && cur.flushed === cur.used && this.bufs.length === 1) cur.rebase();
      if (cur.used + bytes <= cur.data.length) return cur;
    }
    this.retireCurrent();
    return this.newBuffer(seg, bytes);
  }

  private newBuffer(seg: Segment, bytesMin: number): WriteBuf {
    // A record bigger than the buffer gets a buffer of its own, used once.
    const data = bytesMin > this.bufferBytes ? Buffer.allocUnsafe(bytesMin) : (this.pool.pop() ?? Buffer.allocUnsafe(this.bufferBytes));
    const buf = new WriteBuf(seg, seg.end, this.appendedGlobal, data);
    this.bufs.push(buf);
    this.cur = buf;
    return buf;
  }

  /** The current buffer takes no more appends; it stays queued until written. */
  private retireCurrent(): void {
    const cur = this.cur;
    this.cur = undefined;
    if (cur && cur.used === 0) {
      this.bufs.splice(this.bufs.indexOf(cur), 1);
      this.recycle(cur.data);
    }
  }

  private recycle(data: Buffer): void {
    if (data.length === this.bufferBytes && this.pool.length < POOLED_BUFFERS_MAX) this.pool.push(data);
  }

  // ---- writing and syncing (all on the I/O queue) ----

  private runIo<T>(op: () => Promise<T>): Promise<T> {
    const p = this.ioTail.then(op);
    this.ioTail = p.then(noop, noop);
    return p;
  }

  private scheduleWrite(): void {
    if (this.writeScheduled) return;
    this.writeScheduled = true;
    void this.runIo(async () => {
      this.writeScheduled = false;
      try {
        await this.finishCutBack();
      } catch {
        return; // logged when it first failed; the next sync() reports it
      }
      try {
        await this.writeUpTo(this.appendedGlobal);
      } catch (err) {
        await this.failWrites(toError(err));
      }
    });
  }

  flush(): Promise<void> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    return this.runIo(async () => {
      await this.finishCutBack();
      try {
        await this.writeUpTo(this.appendedGlobal);
      } catch (err) {
        await this.failWrites(toError(err));
        throw err;
      }
    });
  }

  sync(): Promise<void> {
    const trace = latencyTrace;
    if (!trace) return this.syncRound();
    const t0 = traceNow();
    const p = this.syncRound();
    p.then(() => trace.since('store.sync', t0), noop);
    return p;
  }

  private syncRound(): Promise<void> {
    if (this.closing && !this.dead) return this.closing;
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    const want = this.appendedGlobal;
    const poison = this.unclaimedLoss;
    this.unclaimedLoss = undefined;
    if (!poison) {
      if (want <= this.settledGlobal()) return Promise.resolve();
      const running = this.inflight;
      if (running?.target !== undefined && running.target >= want && !running.poison) return running.promise;
    }
    // 'batch' (and 'never') share one queued round among all callers until it starts; 'always'
    // gives each caller its own.
    const round = this.policy === 'always' ? this.queueRound(want, false) : (this.nextRound ??= this.queueRound(undefined, false));
    round.want = Math.max(round.want, want);
    if (poison) round.poison = poison;
    return round.promise;
  }

  private settledGlobal(): number {
    return this.policy === 'never' ? this.writtenGlobal : this.durableGlobal;
  }

  private queueRound(target: number | undefined, forceFsync: boolean): Round {
    let resolve = noop;
    let reject: (err: Error) => void = noop;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(noop); // a caller that drops the promise must not crash the process; errors are logged
    const round: Round = { want: 0, target, forceFsync, poison: undefined, settled: false, promise, resolve, reject };
    this.rounds.add(round);
    void this.runIo(() => this.runRound(round));
    return round;
  }

  private settle(round: Round, err: Error | undefined): void {
    if (round.settled) return;
    round.settled = true;
    this.rounds.delete(round);
    if (err) round.reject(err);
    else round.resolve();
  }

  private async runRound(round: Round): Promise<void> {
    if (round.settled) return; // rejected by an earlier failure
    if (this.nextRound === round) this.nextRound = undefined;
    const target = (round.target ??= this.appendedGlobal);
    try {
      await this.finishCutBack();
    } catch (err) {
      return this.settle(round, toError(err)); // nothing new was written: no records lost by this round
    }
    this.inflight = round;
    try {
      if (target > this.writtenGlobal) await this.writeUpTo(target);
      if ((round.forceFsync || this.policy !== 'never') && this.dirty.size > 0) await this.fsyncDirty();
      this.settle(round, round.poison);
    } catch (err) {
      await this.failWrites(toError(err));
    } finally {
      this.inflight = undefined;
      this.files.rebalance();
    }
  }

  /** Hands buffered bytes up to the log-wide count `target` to the OS, one writev per segment run. */
  private async writeUpTo(target: number): Promise<void> {
    while (this.writtenGlobal < target) {
      this.dropWrittenBuffers();
      const run = this.nextWriteRun(target);
      if (!run) throw new Error(`internal: nothing buffered at byte ${this.writtenGlobal} of ${target}`);
      const file = await this.files.get(run.seg);
      const t0 = latencyTrace ? traceNow() : 0;
      await file.writev(run.chunks, run.position);
      if (t0) latencyTrace?.since('store.write', t0);
      this.stats.writes++;
      for (const [buf, end] of run.ends) buf.flushed = end;
      run.seg.written = run.position + run.bytes;
      this.writtenGlobal += run.bytes;
      this.dirty.add(run.seg);
    }
    this.dropWrittenBuffers();
  }

  /** Buffers that no longer take appends and are fully written go back to the pool. */
  private dropWrittenBuffers(): void {
    while (this.bufs.length > 0 && this.bufs[0] !== this.cur && this.bufs[0].flushed === this.bufs[0].used) {
      this.recycle((this.bufs.shift() as WriteBuf).data);
    }
  }

  private nextWriteRun(target: number) {
    const head = this.bufs[0];
    if (!head) return undefined;
    const seg = head.seg;
    const position = head.base + head.flushed;
    const chunks: Buffer[] = [];
    const ends: [WriteBuf, number][] = [];
    let bytes = 0;
    for (const buf of this.bufs) {
      if (buf.seg !== seg || buf.base + buf.flushed !== position + bytes) break;
      const end = Math.min(buf.used, target - buf.global);
      if (end <= buf.flushed) break;
      chunks.push(buf.data.subarray(buf.flushed, end));
      ends.push([buf, end]);
      bytes += end - buf.flushed;
      if (end < buf.used) break;
    }
    return bytes > 0 ? { seg, position, chunks, ends, bytes } : undefined;
  }

  /** fdatasync every segment with unsynced bytes (oldest first), then the directory if a file is new. */
  private async fsyncDirty(): Promise<void> {
    const writtenGlobal = this.writtenGlobal;
    const synced: [Segment, number][] = [];
    for (const seg of [...this.dirty].sort((a, b) => a.id - b.id)) {
      const upTo = seg.written;
      const file = await this.files.get(seg);
      const t0 = latencyTrace ? traceNow() : 0;
      await file.datasync();
      if (t0) latencyTrace?.since('store.fsync', t0);
      this.stats.fsyncs++;
      synced.push([seg, upTo]);
    }
    // A new file's records are not durable until its directory entry is.
    if (synced.some(([seg]) => !seg.dirSynced)) {
      await this.storage.syncDir();
      for (const [seg] of synced) seg.dirSynced = true;
    }
    for (const [seg, upTo] of synced) {
      seg.durable = upTo;
      if (seg.written === upTo) this.dirty.delete(seg);
    }
    this.durableGlobal = Math.max(this.durableGlobal, writtenGlobal);
  }

  /**
   * A write or fsync failed. After a failed fsync the kernel may have dropped the dirty pages, so
   * nothing past the last durable offset can be trusted: every waiting sync() is rejected, the
   * unsynced tail is cut off (files that never became durable are removed) and appends continue in
   * a fresh segment, so positions handed out for lost records never point at later records.
   */
  private async failWrites(err: Error): Promise<void> {
    if (this.dead) {
      for (const r of [...this.rounds]) this.settle(r, err);
      return;
    }
    const keepOf = (s: Segment): number => (this.policy === 'never' ? s.written : s.durable);
    // Every round asked for before now covers lost records; those asked for later do not.
    const doomed = [...this.rounds];
    this.nextRound = undefined;
    let claimed = this.settledGlobal();
    for (const r of doomed) claimed = Math.max(claimed, r.want);
    if (this.lastRecordGlobal > claimed) this.unclaimedLoss = err;

    for (const buf of this.bufs) this.recycle(buf.data);
    this.bufs.length = 0;
    this.cur = undefined;
    const victims = this.segs.filter((s) => keepOf(s) < s.end);
    for (const s of victims) {
      const keep = keepOf(s);
      if (keep < SEGMENT_HEADER_BYTES) {
        s.live = false;
        this.segs.splice(this.segs.indexOf(s), 1);
        this.dirty.delete(s);
      } else {
        s.end = keep;
        s.written = Math.min(s.written, keep);
        this.dirty.add(s); // until the truncation below is durable
      }
    }
    this.writtenGlobal = this.durableGlobal = this.lastRecordGlobal = this.appendedGlobal;
    const fresh = this.startSegment();
    this.logger.error('log write failed: records not yet durable are dropped', {
      error: err.message,
      code: (err as NodeJS.ErrnoException).code,
      continuingInSegment: fresh.id,
    });
    try {
      await this.cutBack(victims);
    } catch (cutErr) {
      this.pendingCut = victims;
      this.logger.error('could not cut the log back after a failed write; retrying before the next write', {
        error: toError(cutErr).message,
      });
    }
    // Callers hear about the failure once the log is in its new state.
    for (const r of doomed) this.settle(r, err);
  }

  /** Cuts back what an earlier failed rollback left; throws if it fails again. */
  private async finishCutBack(): Promise<void> {
    const pending = this.pendingCut;
    if (!pending) return;
    await this.cutBack(pending);
    this.pendingCut = undefined;
    this.logger.info('cut back the log after an earlier failure', { segments: pending.map((s) => s.id) });
  }

  /** Idempotent, so a failed attempt can simply be repeated. */
  private async cutBack(victims: readonly Segment[]): Promise<void> {
    let removed = false;
    for (const s of victims) {
      if (!s.live) {
        await this.files.close(s);
        if (s.created) {
          await this.storage.remove(s.name).catch(ignoreMissing);
          removed = true;
        }
        continue;
      }
      const file = await this.files.get(s);
      await file.truncate(s.end);
      await file.datasync();
      this.stats.fsyncs++;
      s.durable = s.written = s.end;
      this.dirty.delete(s);
    }
    if (removed) await this.storage.syncDir();
  }

  // ---- reading (segment-reader.ts) ----

  read(pos: LogPosition): Promise<LogRecord> {
    this.assertReadable();
    return this.reader.read(pos);
  }

  readBatch(positions: readonly LogPosition[]): Promise<LogRecord[]> {
    this.assertReadable();
    return this.reader.readBatch(positions);
  }

  scan(onRecord: (r: LogRecord) => void, from?: LogPosition): Promise<void> {
    this.assertReadable();
    return this.reader.scan(onRecord, from);
  }

  readFrom(from: LogPosition, bytesMax: number, alloc?: (bytes: number) => Buffer): Promise<LogRecord[]> {
    this.assertReadable();
    return this.reader.readFrom(from, bytesMax, alloc);
  }

  // ---- segments ----

  segments(): readonly number[] {
    return this.segIds;
  }

  activeSegment(): number {
    return this.active.id;
  }

  private refreshIds(): void {
    this.segIds = Object.freeze(this.segs.map((s) => s.id));
  }

  deleteSegmentsBefore(segment: number): Promise<void> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    return this.runIo(async () => {
      await this.replacing;
      const victims = this.segs.filter((s) => s.id < segment && s !== this.active);
      if (victims.length === 0) return;
      await this.finishCutBack();
      if (victims.some((s) => s.written < s.end)) {
        // Keep the write buffers in order: bytes of a victim still buffered are written first.
        try {
          await this.writeUpTo(this.appendedGlobal);
        } catch (err) {
          await this.failWrites(toError(err));
          throw err;
        }
      }
      for (const s of victims) {
        if (!s.live) continue;
        s.live = false;
        this.segs.splice(this.segs.indexOf(s), 1);
        this.dirty.delete(s);
      }
      this.refreshIds();
      for (const s of victims) {
        await this.files.close(s);
        if (s.created) await this.storage.remove(s.name);
      }
      await this.storage.syncDir();
      this.logger.debug('deleted segments', { ids: victims.map((s) => s.id) });
    });
  }

  truncate(at: LogPosition): Promise<void> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    return this.runIo(async () => {
      await this.replacing;
      await this.finishCutBack();
      const k = this.segs.findIndex((s) => s.id === at.segment);
      const seg = this.segs[k];
      if (seg === undefined || at.offset < SEGMENT_HEADER_BYTES || at.offset > seg.end) throw new RangeError(`position ${at.segment}:${at.offset} is not in the log`);
      try {
        // What stays must be durable before anything goes: a crash then leaves a prefix.
        await this.writeUpTo(this.appendedGlobal);
        if (this.dirty.size > 0) await this.fsyncDirty();
      } catch (err) {
        await this.failWrites(toError(err));
        throw err;
      }
      const victims = this.segs.splice(k + 1).reverse();
      for (const s of victims) {
        s.live = false;
        this.dirty.delete(s);
      }
      for (const buf of this.bufs) this.recycle(buf.data);
      this.bufs.length = 0;
      this.cur = undefined;
      this.refreshIds();
      // Newest first, each removal durable before the next: every crash leaves a prefix.
      for (const s of victims) {
        await this.files.close(s);
        if (!s.created) continue;
        await this.storage.remove(s.name).catch(ignoreMissing);
        await this.storage.syncDir();
      }
      const file = await this.files.get(seg);
      await file.truncate(at.offset);
      await file.datasync();
      this.stats.fsyncs++;
      seg.end = seg.written = seg.durable = at.offset;
      this.dirty.delete(seg);
      this.logger.debug('truncated the log', { segment: at.segment, offset: at.offset, deleted: victims.map((s) => s.id) });
    });
  }

  // ---- replacing segments (segment-rewrite.ts; docs/storage-format.md) ----

  replaceSegments(first: number, last: number): SegmentRewriter {
    const refused = this.refusal();
    if (refused) throw refused;
    this.replaceable(first, last);
    return new SegmentRewrite(this.storage, first, last, this.bufferBytes, (f, l, bytes, swapName, onSwitch) =>
      this.installReplacement(f, l, bytes, swapName, onSwitch),
    );
  }

  /** The live segments first..last; throws unless they start at `first`, are sealed and durable. */
  private replaceable(first: number, last: number): Segment[] {
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || first > last) throw new RangeError(`no segments ${first}..${last}`);
    const victims = this.segs.filter((s) => s.id >= first && s.id <= last);
    if (victims.length === 0 || victims[0].id !== first) throw new RangeError(`segment ${first} is not in the log`);
    if (victims.includes(this.active)) throw new RangeError(`segment ${this.active.id} is the active segment`);
    // Under 'never' nothing is fsync'd before close: written counts as settled, as for sync().
    const settled = (s: Segment): number => (this.policy === 'never' ? s.written : s.durable);
    const open = victims.find((s) => settled(s) < s.end || s.written < s.end);
    if (open) throw new RangeError(`segment ${open.id} is not durable yet`);
    return victims;
  }

  /**
   * The replacement file is durable as `<first>.cleaned`. On the I/O queue (so no deletion or
   * write round runs meanwhile): check the old segments are still there, commit the swap file,
   * and switch readers to it; then, off the queue, remove the old files and rename the swap file.
   */
  private installReplacement(first: number, last: number, bytes: number, swapName: string, onSwitch: (() => void) | undefined): Promise<void> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    return this.runIo(async () => {
      await this.replacing;
      let victims: Segment[];
      try {
        victims = this.replaceable(first, last);
        await this.storage.rename(cleanedFileName(first), swapName);
        await this.storage.syncDir();
      } catch (err) {
        // Not committed: the old segments stay (a swap file that reached the disk anyway is a
        // complete replacement, which recovery would finish; removing it keeps things simple).
        await this.storage.remove(swapName).catch(() => {});
        await this.storage.remove(cleanedFileName(first)).catch(() => {});
        throw err;
      }
      const seg = newSegment(first, bytes, true);
      seg.name = swapName;
      this.segs.splice(this.segs.indexOf(victims[0]), victims.length, seg);
      for (const v of victims) {
        v.live = false;
        this.dirty.delete(v);
      }
      this.refreshIds();
      try {
        onSwitch?.();
      } catch (err) {
        this.logger.error('a segment replacement callback failed', { error: toError(err).message });
      }
      this.replacing = this.finishReplacement(seg, victims).catch((err: unknown) => {
        // The swap file is durable: the next start finishes what is left.
        this.logger.error('could not finish replacing segments; recovery will', { segment: first, error: toError(err).message });
      });
    });
  }

  private async finishReplacement(seg: Segment, victims: readonly Segment[]): Promise<void> {
    // Reads of the new segment keep one handle through the rename (a read counts as a user).
    seg.readers++;
    try {
      await this.files.get(seg);
      for (const v of victims) await this.files.close(v).catch(() => {});
      for (const v of victims) {
        if (v.id !== seg.id && v.created) await this.storage.remove(v.name).catch(ignoreMissing);
      }
      // The old segments are gone for good before the swap file takes the first one's name.
      await this.storage.syncDir();
      const name = segmentFileName(seg.id);
      await this.storage.rename(seg.name, name);
      seg.name = name;
      await this.storage.syncDir();
      this.logger.debug('replaced segments', { segment: seg.id, replaced: victims.map((v) => v.id), bytes: seg.end });
    } finally {
      seg.readers--;
    }
  }

  sizeBytes(): number {
    let n = 0;
    for (const s of this.segs) n += s.end;
    return n;
  }

  /**
   * No reads, buffered bytes or unsynced writes: its handle may be closed. The active segment
   * too, when no write or fsync round is running and nothing waits to be cut back (a log that
   * is not being written to need not hold its file open; the next write reopens it).
   */
  private quiet(seg: Segment): boolean {
    if (seg.written !== seg.end || this.dirty.has(seg)) return false;
    // A round (write, fsync, cut back) holds handles across awaits: none of this log's is closed meanwhile.
    return this.inflight === undefined && this.pendingCut === undefined;
  }

  // ---- lifecycle ----

  private assertReadable(): void {
    if (this.closed || this.dead) throw new Error(this.dead ? 'log is dead (simulated crash)' : 'log is closed');
  }

  private refusal(): Error | undefined {
    if (this.dead) return new Error('log is dead (simulated crash)');
    if (this.closing) return new Error('log is closed');
    return undefined;
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    let failure: unknown;
    const round = this.queueRound(undefined, true);
    await round.promise.catch((err: unknown) => {
      failure = err;
    });
    await this.ioTail;
    await this.replacing;
    this.closed = true;
    await this.files.closeAll();
    if (failure) throw failure;
  }

  /** The process died: stop touching the disk (memory log crash simulation). */
  protected kill(): void {
    this.dead = true;
    for (const r of [...this.rounds]) this.settle(r, new Error('log is dead (simulated crash)'));
  }
}
