// The Log implementation, over any LogDisk: the file log runs it on the file system, the memory log
// on a MemoryDisk. Appends are copied into a preallocated write buffer (no I/O); every disk
// mutation (write, fsync, truncate, delete) runs one at a time on a single I/O queue, so there is
// never more than one fdatasync in flight and group commit falls out of the queueing: callers that
// arrive while a round is queued or running share the next round.

import type { LogDisk } from './disk.js';
import {
  type FsyncPolicy,
  type Log,
  type LogPosition,
  type LogRecord,
  type LogStats,
  type Logger,
  StoreCorruptionError,
} from './log.js';
import {
  RECORD_PAYLOAD_BYTES_MAX,
  SEGMENT_HEADER_BYTES,
  checkRecord,
  encodeRecordInto,
  recordBytes,
  recordParts,
  scanRecords,
  segmentHeader,
} from './record-format.js';
import { type RecoveredSegment, type Segment, SegmentFiles, WriteBuf, newSegment } from './segment.js';

export interface SegmentedLogOptions {
  readonly fsync: FsyncPolicy;
  readonly segmentBytesMax: number;
  readonly writeBufferBytesMax: number;
  readonly logger: Logger;
  /** Handles kept open for reads of older segments. Default 64. */
  readonly openFilesMax?: number;
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

/** Reads this close together share one pread. */
const COALESCE_GAP_BYTES = 64 * 1024;
const COALESCE_SPAN_BYTES = 1024 * 1024;
/** First pread of a single read: enough for most records in one go. */
const READ_AHEAD_BYTES = 4096;
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

  /** Oldest first; the last one is active. */
  private readonly segs: Segment[] = [];
  private segIds: readonly number[] = [];
  private nextSegmentId: number;

  /** Buffers not fully written, oldest first; `cur` (the last) takes appends while it has room. */
  private bufs: WriteBuf[] = [];
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
  private readonly dirty = new Set<Segment>();
  private readonly rounds = new Set<Round>();
  /** 'batch': the round the next sync() callers join; it starts when the I/O queue reaches it. */
  private nextRound: Round | undefined;
  private inflight: Round | undefined;
  /** Records were lost that no sync() was waiting for: the next round reports it. */
  private unclaimedLoss: Error | undefined;
  /** Segments a failed rollback could not cut back yet; retried before anything else is written. */
  private pendingCut: Segment[] | undefined;
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
    this.files = new SegmentFiles(storage, opts.openFilesMax ?? 64, (s) => this.quiet(s));
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
    // 'batch' shares one queued round among all callers until it starts; 'always' gives each its own.
    const round = this.policy === 'batch' ? (this.nextRound ??= this.queueRound(undefined, false)) : this.queueRound(want, false);
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
    }
  }

  /** Hands buffered bytes up to the log-wide count `target` to the OS, one writev per segment run. */
  private async writeUpTo(target: number): Promise<void> {
    while (this.writtenGlobal < target) {
      this.dropWrittenBuffers();
      const run = this.nextWriteRun(target);
      if (!run) throw new Error(`internal: nothing buffered at byte ${this.writtenGlobal} of ${target}`);
      const file = await this.files.get(run.seg);
      await file.writev(run.chunks, run.position);
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
      await (await this.files.get(seg)).datasync();
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
    this.bufs = [];
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

  // ---- reading ----

  async read(pos: LogPosition): Promise<LogRecord> {
    this.assertReadable();
    const seg = this.segmentAt(pos);
    if (pos.offset >= seg.written) return this.readBuffered(seg, pos.offset);
    return this.readFromFile(seg, pos.offset);
  }

  async readBatch(positions: readonly LogPosition[]): Promise<LogRecord[]> {
    this.assertReadable();
    const out = new Array<LogRecord>(positions.length);
    const onDisk: { i: number; seg: Segment; offset: number }[] = [];
    positions.forEach((pos, i) => {
      const seg = this.segmentAt(pos);
      if (pos.offset >= seg.written) out[i] = this.readBuffered(seg, pos.offset);
      else onDisk.push({ i, seg, offset: pos.offset });
    });
    onDisk.sort((a, b) => a.seg.id - b.seg.id || a.offset - b.offset);
    const groups: (typeof onDisk)[] = [];
    for (const item of onDisk) {
      const g = groups[groups.length - 1];
      const prev = g?.[g.length - 1];
      const fits =
        prev !== undefined &&
        prev.seg === item.seg &&
        item.offset - prev.offset <= COALESCE_GAP_BYTES &&
        item.offset + READ_AHEAD_BYTES - g[0].offset <= COALESCE_SPAN_BYTES;
      if (fits) g.push(item);
      else groups.push([item]);
    }
    await Promise.all(groups.map((g) => this.readGroup(g, out)));
    return out;
  }

  /** One pread for a run of nearby records; a record running past it is read on its own. */
  private async readGroup(group: readonly { i: number; seg: Segment; offset: number }[], out: LogRecord[]): Promise<void> {
    const seg = group[0].seg;
    const start = group[0].offset;
    const stop = Math.min(group[group.length - 1].offset + READ_AHEAD_BYTES, seg.written);
    const buf = Buffer.allocUnsafe(stop - start);
    await this.readExact(seg, buf, start);
    for (const { i, offset } of group) {
      const c = checkRecord(buf, offset - start, seg.written - offset);
      if (c.kind === 'need-more') out[i] = await this.readFromFile(seg, offset);
      else if (c.kind === 'bad') throw this.corruption(seg, offset, c.reason);
      else out[i] = this.toRecord(seg, offset, buf, offset - start, c.bytes);
    }
  }

  private async readFromFile(seg: Segment, offset: number): Promise<LogRecord> {
    const onDisk = seg.written - offset;
    let buf = Buffer.allocUnsafe(Math.min(READ_AHEAD_BYTES, onDisk));
    await this.readExact(seg, buf, offset);
    let c = checkRecord(buf, 0, onDisk);
    if (c.kind === 'need-more') {
      const whole = Buffer.allocUnsafe(c.bytes);
      buf.copy(whole);
      await this.readExact(seg, whole.subarray(buf.length), offset + buf.length);
      buf = whole;
      c = checkRecord(buf, 0, onDisk);
    }
    if (c.kind !== 'ok') throw this.corruption(seg, offset, c.kind === 'bad' ? c.reason : 'length changed while reading');
    return this.toRecord(seg, offset, buf, 0, c.bytes);
  }

  /** A record still in a write buffer (copied: the buffer is reused). */
  private readBuffered(seg: Segment, offset: number): LogRecord {
    for (let i = this.bufs.length - 1; i >= 0; i--) {
      const buf = this.bufs[i];
      if (!buf.holds(seg, offset)) continue;
      const at = offset - buf.base;
      const c = checkRecord(buf.data.subarray(0, buf.used), at, buf.used - at);
      if (c.kind !== 'ok') throw this.corruption(seg, offset, c.kind === 'bad' ? c.reason : 'record split across buffers');
      const { type, payload } = recordParts(buf.data, at, c.bytes);
      return { type, payload: Buffer.from(payload), pos: { segment: seg.id, offset }, size: c.bytes };
    }
    throw new RangeError(`no record at ${seg.id}:${offset} (lost to a failed write?)`);
  }

  private toRecord(seg: Segment, offset: number, buf: Buffer, at: number, bytes: number): LogRecord {
    const { type, payload } = recordParts(buf, at, bytes);
    // Copy small records out of a bigger read buffer so they do not keep it alive.
    const own = bytes * 2 >= buf.length ? payload : Buffer.from(payload);
    return { type, payload: own, pos: { segment: seg.id, offset }, size: bytes };
  }

  /** pread of up to `into.length` bytes; the handle stays open while it runs. */
  private async readSome(seg: Segment, into: Buffer, position: number): Promise<number> {
    seg.readers++;
    try {
      return await (await this.files.get(seg)).read(into, position);
    } catch (err) {
      if (!seg.live) throw this.gone(seg);
      throw err;
    } finally {
      seg.readers--;
    }
  }

  private async readExact(seg: Segment, into: Buffer, position: number): Promise<void> {
    const got = await this.readSome(seg, into, position);
    if (got === into.length) return;
    if (!seg.live || position + into.length > seg.end) throw this.gone(seg);
    throw this.corruption(seg, position, `file ends ${into.length - got} bytes early`);
  }

  private segmentAt(pos: LogPosition): Segment {
    const seg = this.findSegment(pos.segment);
    if (!seg) throw new RangeError(`segment ${pos.segment} is not in the log (deleted, lost or never written)`);
    if (!Number.isInteger(pos.offset) || pos.offset < SEGMENT_HEADER_BYTES || pos.offset >= seg.end) {
      throw new RangeError(`offset ${pos.offset} is outside segment ${seg.id} (${seg.end} bytes)`);
    }
    return seg;
  }

  private findSegment(id: number): Segment | undefined {
    let lo = 0;
    let hi = this.segs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.segs[mid];
      if (s.id === id) return s;
      if (s.id < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  private corruption(seg: Segment, offset: number, reason: string): StoreCorruptionError {
    return new StoreCorruptionError(`corrupt record at ${this.storage.describe(seg.name)} offset ${offset}: ${reason}`);
  }

  private gone(seg: Segment): RangeError {
    return new RangeError(`segment ${seg.id} was deleted or cut back while reading`);
  }

  async scan(onRecord: (r: LogRecord) => void, from?: LogPosition): Promise<void> {
    this.assertReadable();
    const first = from ? this.segs.findIndex((s) => s.id >= from.segment) : 0;
    if (first < 0) return;
    // Only what was appended before the call: the callback may append.
    const plan = this.segs.slice(first).map((seg) => ({ seg, end: seg.end }));
    for (const { seg, end } of plan) {
      const start = from && seg.id === from.segment ? Math.max(from.offset, SEGMENT_HEADER_BYTES) : SEGMENT_HEADER_BYTES;
      await this.scanSegment(seg, start, end, onRecord);
    }
  }

  private async scanSegment(seg: Segment, start: number, end: number, onRecord: (r: LogRecord) => void): Promise<void> {
    let pos = start;
    while (pos < end && seg.live && pos < seg.end) {
      if (pos >= seg.written) {
        const r = this.readBuffered(seg, pos);
        onRecord(r);
        pos += r.size;
        continue;
      }
      let result;
      try {
        result = await scanRecords(
          (into, at) => this.readSome(seg, into, at),
          pos,
          Math.min(seg.written, end),
          (type, payload, offset, size) =>
            onRecord({ type, payload: Buffer.from(payload), pos: { segment: seg.id, offset }, size }),
        );
      } catch (err) {
        if (!seg.live) return; // deleted while we read it: its records are gone
        throw err;
      }
      if (result.problem) {
        if (seg.live) {
          this.logger.error('scan: corrupt record, skipping the rest of the segment', {
            segment: seg.id,
            offset: result.end,
            reason: result.problem,
          });
        }
        return;
      }
      if (result.end === pos) return; // the file shrank under us (rollback)
      pos = result.end;
    }
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

  sizeBytes(): number {
    let n = 0;
    for (const s of this.segs) n += s.end;
    return n;
  }

  /** No reads, buffered bytes or unsynced writes: its handle may be closed. */
  private quiet(seg: Segment): boolean {
    return seg !== this.active && seg.written === seg.end && !this.dirty.has(seg);
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
