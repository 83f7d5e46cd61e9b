// Reading the segmented log: single records, batches (neighbours coalesced into one pread) and
// ordered scans. Bytes not yet handed to the OS are read from the write buffers; everything else
// from the segment files. Every record's CRC is checked on the way out.

import type { LogDisk } from './disk.js';
import { type LogPosition, type LogRecord, type Logger, StoreCorruptionError } from './log.js';
import { RECORD_BYTES_MIN, SEGMENT_HEADER_BYTES, checkRecord, recordParts, scanRecords } from './record-format.js';
import type { Segment, SegmentFiles, WriteBuf } from './segment.js';

/** Reads this close together share one pread. */
const COALESCE_GAP_BYTES = 64 * 1024;
const COALESCE_SPAN_BYTES = 1024 * 1024;
/** First pread of a single read: enough for most records in one go. */
const READ_AHEAD_BYTES = 4096;

export class SegmentReader {
  /** `segs` and `bufs` are the log's own arrays, changed in place as the log changes. */
  constructor(
    private readonly segs: readonly Segment[],
    private readonly bufs: readonly WriteBuf[],
    private readonly files: SegmentFiles,
    private readonly storage: LogDisk,
    private readonly logger: Logger,
  ) {}

  async read(pos: LogPosition): Promise<LogRecord> {
    const seg = this.segmentAt(pos);
    if (pos.offset >= seg.written) return this.readBuffered(seg, pos.offset);
    return this.readFromFile(seg, pos.offset);
  }

  async readBatch(positions: readonly LogPosition[]): Promise<LogRecord[]> {
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
      this.files.rebalance();
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

  async readFrom(from: LogPosition, bytesMax: number, alloc: (bytes: number) => Buffer = Buffer.allocUnsafe): Promise<LogRecord[]> {
    // A segment's end is a valid place to start: reading goes on with the next segment.
    let seg = from.offset === this.findSegment(from.segment)?.end ? (this.findSegment(from.segment) as Segment) : this.segmentAt(from);
    let offset = from.offset;
    const out: LogRecord[] = [];
    let bytes = 0;
    for (;;) {
      const got = await this.readRun(seg, offset, bytesMax - bytes, out.length === 0, alloc);
      for (const r of got) {
        out.push(r);
        bytes += r.size;
        offset = r.pos.offset + r.size;
      }
      if (bytes >= bytesMax || offset < seg.end) return out;
      const i = this.segs.indexOf(seg);
      const next = i >= 0 ? this.segs[i + 1] : undefined;
      if (!next) return out;
      seg = next;
      offset = SEGMENT_HEADER_BYTES;
    }
  }

  /**
   * Records of one segment from `offset` whose sizes add up to at most `bytesMax` (or the first
   * one alone, if `atLeastOne` and it is bigger), read with one pread where they are on disk.
   */
  private async readRun(seg: Segment, offset: number, bytesMax: number, atLeastOne: boolean, alloc: (bytes: number) => Buffer): Promise<LogRecord[]> {
    const out: LogRecord[] = [];
    if (offset >= seg.end) return out;
    if (offset >= seg.written) {
      // Still in the write buffers: record by record (copies; the buffers are reused).
      let used = 0;
      while (offset < seg.end) {
        const r = this.readBuffered(seg, offset);
        if (used + r.size > bytesMax && !(atLeastOne && out.length === 0)) break;
        out.push(r);
        used += r.size;
        offset += r.size;
      }
      return out;
    }
    const stop = Math.min(seg.written, offset + Math.max(bytesMax, RECORD_BYTES_MIN));
    let buf = alloc(stop - offset);
    await this.readExact(seg, buf, offset);
    let at = 0;
    while (offset + at < seg.written) {
      const c = checkRecord(buf, at, seg.written - offset - at);
      if (c.kind === 'bad') throw this.corruption(seg, offset + at, c.reason);
      if (c.kind === 'need-more') {
        if (out.length > 0 || !atLeastOne) break;
        // A first record bigger than the budget: read it whole.
        const whole = Buffer.allocUnsafe(c.bytes);
        buf.copy(whole, 0, 0, buf.length);
        await this.readExact(seg, whole.subarray(buf.length), offset + buf.length);
        buf = whole;
        continue;
      }
      const { type, payload } = recordParts(buf, at, c.bytes);
      out.push({ type, payload, pos: { segment: seg.id, offset: offset + at }, size: c.bytes });
      at += c.bytes;
    }
    // Records past what is on disk are in the write buffers.
    if (offset + at === seg.written && at < bytesMax) out.push(...(await this.readRun(seg, seg.written, bytesMax - at, false, alloc)));
    return out;
  }

  async scan(onRecord: (r: LogRecord) => void, from?: LogPosition): Promise<void> {
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
}
