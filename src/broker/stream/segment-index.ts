// What a stream partition knows about each segment of its log: the offsets it holds, its size,
// its newest timestamp, and a sparse index (one entry per `indexIntervalBytes` of batches) from
// offsets and timestamps to byte positions, kept in typed arrays (no object per entry). A sealed
// segment's index is written to `<segment id>.index` beside the segment file once the segment is
// durable, so a restart neither scans nor verifies it again (docs/storage-format.md, "Streams").

import { crc32c } from '@node-rs/crc32';

const INDEX_MAGIC = Buffer.from('WHRFIDX', 'latin1');
const INDEX_VERSION = 1;
const INITIAL_ENTRIES = 16;

export function indexFileName(segment: number): string {
  return `${String(segment).padStart(20, '0')}.index`;
}

const INDEX_NAME = /^(\d{20})\.index$/;

export function parseIndexFileName(name: string): number | undefined {
  const m = INDEX_NAME.exec(name);
  return m ? Number(m[1]) : undefined;
}

export class SegmentIndex {
  /** Offset of the first batch (or, while empty, of the next one). */
  baseOffset: number;
  /** One past the last offset in the segment. */
  nextOffset: number;
  /** Byte length of the segment file's valid data (store segment header included). */
  bytes: number;
  /** Newest record timestamp in the segment (-1 while empty). */
  maxTimestamp = -1;
  /** Entries: offset (relative to baseOffset), byte position, max timestamp so far. */
  private rel = new Int32Array(INITIAL_ENTRIES);
  private pos = new Float64Array(INITIAL_ENTRIES);
  private ts = new Float64Array(INITIAL_ENTRIES);
  private n = 0;
  private lastIndexedAt = -Infinity;
  /** A cleaned segment keeps the offsets it covers, whatever batches are left in it. */
  private pinned = false;

  constructor(
    readonly segment: number,
    baseOffset: number,
    bytes: number,
  ) {
    this.baseOffset = baseOffset;
    this.nextOffset = baseOffset;
    this.bytes = bytes;
  }

  /**
   * A cleaned segment (compaction/): it covers offsets from `baseOffset` (its group's first) even
   * if its first batches were removed; cover() sets where it ends.
   */
  static covering(segment: number, baseOffset: number, bytes: number): SegmentIndex {
    const x = new SegmentIndex(segment, baseOffset, bytes);
    x.pinned = true;
    return x;
  }

  /** Extends a covering segment to `nextOffset` (its last batches may have been removed). */
  cover(nextOffset: number): void {
    if (nextOffset > this.nextOffset) this.nextOffset = nextOffset;
  }

  /** Newest timestamp of the segment's first batch (-1 if none): max.compaction.lag.ms counts from it. */
  get firstTimestamp(): number {
    return this.n > 0 ? this.ts[0] : -1;
  }

  get empty(): boolean {
    return this.nextOffset === this.baseOffset;
  }

  get entries(): number {
    return this.n;
  }

  /** Notes a batch of offsets [baseOffset, lastOffset] stored at `position`, taking `size` bytes. */
  add(baseOffset: number, lastOffset: number, maxTimestamp: number, position: number, size: number, intervalBytes: number): void {
    if (this.empty && !this.pinned) this.baseOffset = baseOffset;
    this.nextOffset = lastOffset + 1;
    this.bytes = position + size;
    if (maxTimestamp > this.maxTimestamp) this.maxTimestamp = maxTimestamp;
    if (position - this.lastIndexedAt < intervalBytes) return;
    this.lastIndexedAt = position;
    if (this.n === this.rel.length) this.grow();
    this.rel[this.n] = baseOffset - this.baseOffset;
    this.pos[this.n] = position;
    this.ts[this.n] = this.maxTimestamp;
    this.n++;
  }

  private grow(): void {
    const size = this.rel.length * 2;
    const rel = new Int32Array(size);
    rel.set(this.rel);
    const pos = new Float64Array(size);
    pos.set(this.pos);
    const ts = new Float64Array(size);
    ts.set(this.ts);
    this.rel = rel;
    this.pos = pos;
    this.ts = ts;
  }

  /** Position of the last indexed batch starting at or before `offset` (the segment's first if none). */
  positionFor(offset: number, firstPosition: number): number {
    const target = offset - this.baseOffset;
    let lo = 0;
    let hi = this.n - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.rel[mid] <= target) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? firstPosition : this.pos[found];
  }

  /**
   * Position to start scanning from for the first record with timestamp >= `timestamp`: the
   * last indexed batch before which every timestamp was still smaller.
   */
  positionForTime(timestamp: number, firstPosition: number): number {
    let lo = 0;
    let hi = this.n - 1;
    let firstReaching = this.n;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.ts[mid] >= timestamp) {
        firstReaching = mid;
        hi = mid - 1;
      } else lo = mid + 1;
    }
    // Entry k's running max includes its own batch: every batch up to entry k-1's is older than
    // `timestamp`, so the first record at or after it is past entry k-1's position.
    const start = firstReaching - 1;
    return start < 0 ? firstPosition : this.pos[start];
  }

  /** The file: magic, version, then a CRC32C-checked body (offsets, sizes, entries, producer snapshot). */
  encode(producers: Buffer): Buffer {
    const body = Buffer.alloc(8 * 5 + 4 + this.n * 20 + 4 + producers.length);
    let o = 0;
    o = body.writeDoubleBE(this.segment, o);
    o = body.writeDoubleBE(this.baseOffset, o);
    o = body.writeDoubleBE(this.nextOffset, o);
    o = body.writeDoubleBE(this.bytes, o);
    o = body.writeDoubleBE(this.maxTimestamp, o);
    o = body.writeUInt32BE(this.n, o);
    for (let i = 0; i < this.n; i++) {
      o = body.writeInt32BE(this.rel[i], o);
      o = body.writeDoubleBE(this.pos[i], o);
      o = body.writeDoubleBE(this.ts[i], o);
    }
    o = body.writeUInt32BE(producers.length, o);
    producers.copy(body, o);
    const head = Buffer.alloc(INDEX_MAGIC.length + 1 + 4);
    INDEX_MAGIC.copy(head, 0);
    head[INDEX_MAGIC.length] = INDEX_VERSION;
    head.writeUInt32BE(crc32c(body), INDEX_MAGIC.length + 1);
    return Buffer.concat([head, body]);
  }

  /** Parses an index file; undefined if it is damaged or of another version (then it is rebuilt). */
  static decode(file: Buffer): { index: SegmentIndex; producers: Buffer } | undefined {
    const headBytes = INDEX_MAGIC.length + 5;
    if (file.length < headBytes + 44 || !file.subarray(0, INDEX_MAGIC.length).equals(INDEX_MAGIC)) return undefined;
    if (file[INDEX_MAGIC.length] !== INDEX_VERSION) return undefined;
    const body = file.subarray(headBytes);
    if (crc32c(body) !== file.readUInt32BE(INDEX_MAGIC.length + 1)) return undefined;
    try {
      let o = 0;
      const segment = body.readDoubleBE(o);
      const x = new SegmentIndex(segment, body.readDoubleBE(o + 8), body.readDoubleBE(o + 24));
      x.nextOffset = body.readDoubleBE(o + 16);
      x.maxTimestamp = body.readDoubleBE(o + 32);
      const n = body.readUInt32BE(o + 40);
      o += 44;
      x.rel = new Int32Array(Math.max(n, 1));
      x.pos = new Float64Array(Math.max(n, 1));
      x.ts = new Float64Array(Math.max(n, 1));
      for (let i = 0; i < n; i++, o += 20) {
        x.rel[i] = body.readInt32BE(o);
        x.pos[i] = body.readDoubleBE(o + 4);
        x.ts[i] = body.readDoubleBE(o + 12);
      }
      x.n = n;
      const producersBytes = body.readUInt32BE(o);
      o += 4;
      if (o + producersBytes !== body.length) return undefined;
      return { index: x, producers: body.subarray(o) };
    } catch {
      return undefined;
    }
  }
}
