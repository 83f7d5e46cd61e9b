// Record types of the consumer-group offsets log (<data>/groups/): committed offsets, their
// deletion, group deletion, the little of a group's state that outlives its members, offsets
// committed inside a producer's transaction and the transaction's end, and the brackets of a
// snapshot. Layout documented in docs/storage-format.md ("Consumer group records").
// Every payload starts with a version byte (1); integers are big-endian, strings UTF-8 with a
// u16 length (u32 for commit metadata).

export const GroupRecordType = {
  /** Offsets a group committed (OffsetCommit). */
  Commit: 1,
  /** Offsets removed (OffsetDelete, retention, a deleted topic). */
  DeleteOffsets: 2,
  /** A group and all its offsets removed (DeleteGroups, or an empty group with nothing left). */
  DeleteGroup: 3,
  /** Protocol type, generation, and since when the group is empty (written per generation). */
  GroupMeta: 4,
  /** A snapshot of the whole state starts; the records up to its end replace everything before. */
  SnapshotBegin: 5,
  /** Snapshot content, same layout as Commit. */
  SnapshotOffsets: 6,
  /** Snapshot content, same layout as GroupMeta. */
  SnapshotGroupMeta: 7,
  /** The snapshot is complete: only now does it count. */
  SnapshotEnd: 8,
  /** Offsets committed inside a producer's transaction (TxnOffsetCommit): pending until its end. */
  TxnCommit: 9,
  /** The producer's transaction ended: its pending offsets become committed, or are dropped. */
  TxnEnd: 10,
  /** Snapshot content, same layout as TxnCommit. */
  SnapshotTxnOffsets: 11,
} as const;

const RECORD_VERSION = 1;

export interface OffsetEntry {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** -1: none. */
  readonly leaderEpoch: number;
  readonly metadata: string;
  readonly commitTimestampMs: number;
  /** Set by a commit's own retention time (OffsetCommit v2-v4); -1: the broker's retention applies. */
  readonly expireTimestampMs: number;
}

export interface TopicPartitionRef {
  readonly topic: string;
  readonly partition: number;
}

export interface StoredGroupMeta {
  /** '' for none. */
  readonly protocolType: string;
  readonly generationId: number;
  /** When the group last became empty; -1 while it had members. */
  readonly emptySinceMs: number;
}

export interface SnapshotMark {
  readonly snapshotId: number;
  /** SnapshotEnd only: how many groups and offsets the snapshot holds, checked on replay. */
  readonly groups: number;
  readonly offsets: number;
}

export class GroupRecordError extends Error {
  override name = 'GroupRecordError';
}

/** UTF-8 bytes of a u16-length string field (group ids, topics, protocol types). */
export const STRING16_BYTES_MAX = 0xffff;

// ---- writing ----

class Writer {
  private readonly parts: Buffer[] = [];
  private bytes = 0;

  u8(v: number): this {
    return this.push(Buffer.from([v]));
  }
  u32(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(v);
    return this.push(b);
  }
  i32(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32BE(v);
    return this.push(b);
  }
  i64(v: number): this {
    const b = Buffer.allocUnsafe(8);
    b.writeBigInt64BE(BigInt(v));
    return this.push(b);
  }
  f64(v: number): this {
    const b = Buffer.allocUnsafe(8);
    b.writeDoubleBE(v);
    return this.push(b);
  }
  str16(s: string): this {
    const b = Buffer.from(s, 'utf8');
    if (b.length > STRING16_BYTES_MAX) throw new RangeError(`string of ${b.length} bytes is too long for the offsets log`);
    const len = Buffer.allocUnsafe(2);
    len.writeUInt16BE(b.length);
    return this.push(len).push(b);
  }
  str32(s: string): this {
    const b = Buffer.from(s, 'utf8');
    return this.u32(b.length).push(b);
  }
  done(): Buffer {
    return Buffer.concat(this.parts, this.bytes);
  }
  private push(b: Buffer): this {
    this.parts.push(b);
    this.bytes += b.length;
    return this;
  }
}

function header(): Writer {
  return new Writer().u8(RECORD_VERSION);
}

/** Commit and SnapshotOffsets. */
export function encodeOffsets(groupId: string, entries: readonly OffsetEntry[]): Buffer {
  return writeEntries(header().str16(groupId), entries).done();
}

/** TxnCommit and SnapshotTxnOffsets: a Commit with the producer id after the group id. */
export function encodeTxnOffsets(groupId: string, producerId: number, entries: readonly OffsetEntry[]): Buffer {
  return writeEntries(header().str16(groupId).i64(producerId), entries).done();
}

export function encodeTxnEnd(groupId: string, producerId: number, commit: boolean): Buffer {
  return header().str16(groupId).i64(producerId).u8(commit ? 1 : 0).done();
}

function writeEntries(w: Writer, entries: readonly OffsetEntry[]): Writer {
  w.u32(entries.length);
  for (const e of entries) {
    w.str16(e.topic).i32(e.partition).i64(e.offset).i32(e.leaderEpoch).f64(e.commitTimestampMs).f64(e.expireTimestampMs).str32(e.metadata);
  }
  return w;
}

export function encodeDeleteOffsets(groupId: string, partitions: readonly TopicPartitionRef[]): Buffer {
  const w = header().str16(groupId).u32(partitions.length);
  for (const p of partitions) w.str16(p.topic).i32(p.partition);
  return w.done();
}

export function encodeDeleteGroup(groupId: string): Buffer {
  return header().str16(groupId).done();
}

/** GroupMeta and SnapshotGroupMeta. */
export function encodeGroupMeta(groupId: string, m: StoredGroupMeta): Buffer {
  return header().str16(groupId).str16(m.protocolType).i32(m.generationId).f64(m.emptySinceMs).done();
}

/** SnapshotBegin and SnapshotEnd. */
export function encodeSnapshotMark(m: SnapshotMark): Buffer {
  return header().f64(m.snapshotId).u32(m.groups).u32(m.offsets).done();
}

/** Bytes one entry takes in a Commit record: the compaction threshold counts live state with it. */
export function offsetEntryBytes(topic: string, metadata: string): number {
  return 2 + Buffer.byteLength(topic) + 4 + 8 + 4 + 8 + 8 + 4 + Buffer.byteLength(metadata);
}

// ---- reading ----

class Reader {
  private at = 0;

  constructor(private readonly buf: Buffer) {
    const version = this.u8();
    if (version !== RECORD_VERSION) throw new GroupRecordError(`unknown group record version ${version}`);
  }

  u8(): number {
    this.need(1);
    return this.buf.readUInt8(this.at++);
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.at);
    this.at += 4;
    return v;
  }
  i64(): number {
    this.need(8);
    const v = Number(this.buf.readBigInt64BE(this.at));
    this.at += 8;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.at);
    this.at += 8;
    return v;
  }
  str16(): string {
    this.need(2);
    const len = this.buf.readUInt16BE(this.at);
    this.at += 2;
    return this.text(len);
  }
  str32(): string {
    return this.text(this.u32());
  }
  end(): void {
    if (this.at !== this.buf.length) throw new GroupRecordError(`${this.buf.length - this.at} trailing bytes in a group record`);
  }
  private text(len: number): string {
    this.need(len);
    const s = this.buf.toString('utf8', this.at, this.at + len);
    this.at += len;
    return s;
  }
  private need(n: number): void {
    if (this.at + n > this.buf.length) throw new GroupRecordError('group record is truncated');
  }
}

export function decodeOffsets(buf: Buffer): { groupId: string; entries: OffsetEntry[] } {
  const r = new Reader(buf);
  const groupId = r.str16();
  const entries = readEntries(r);
  r.end();
  return { groupId, entries };
}

export function decodeTxnOffsets(buf: Buffer): { groupId: string; producerId: number; entries: OffsetEntry[] } {
  const r = new Reader(buf);
  const groupId = r.str16();
  const producerId = r.i64();
  const entries = readEntries(r);
  r.end();
  return { groupId, producerId, entries };
}

export function decodeTxnEnd(buf: Buffer): { groupId: string; producerId: number; commit: boolean } {
  const r = new Reader(buf);
  const m = { groupId: r.str16(), producerId: r.i64(), commit: r.u8() === 1 };
  r.end();
  return m;
}

function readEntries(r: Reader): OffsetEntry[] {
  const n = r.u32();
  const entries: OffsetEntry[] = [];
  for (let i = 0; i < n; i++) {
    const topic = r.str16();
    const partition = r.i32();
    const offset = r.i64();
    const leaderEpoch = r.i32();
    const commitTimestampMs = r.f64();
    const expireTimestampMs = r.f64();
    const metadata = r.str32();
    entries.push({ topic, partition, offset, leaderEpoch, metadata, commitTimestampMs, expireTimestampMs });
  }
  return entries;
}

export function decodeDeleteOffsets(buf: Buffer): { groupId: string; partitions: TopicPartitionRef[] } {
  const r = new Reader(buf);
  const groupId = r.str16();
  const n = r.u32();
  const partitions: TopicPartitionRef[] = [];
  for (let i = 0; i < n; i++) partitions.push({ topic: r.str16(), partition: r.i32() });
  r.end();
  return { groupId, partitions };
}

export function decodeDeleteGroup(buf: Buffer): string {
  const r = new Reader(buf);
  const groupId = r.str16();
  r.end();
  return groupId;
}

export function decodeGroupMeta(buf: Buffer): { groupId: string; meta: StoredGroupMeta } {
  const r = new Reader(buf);
  const groupId = r.str16();
  const meta = { protocolType: r.str16(), generationId: r.i32(), emptySinceMs: r.f64() };
  r.end();
  return { groupId, meta };
}

export function decodeSnapshotMark(buf: Buffer): SnapshotMark {
  const r = new Reader(buf);
  const m = { snapshotId: r.f64(), groups: r.u32(), offsets: r.u32() };
  r.end();
  return m;
}
