// Records of the transaction log (<data>/transactions/<vhost>/): each is one transactional id's
// whole state (Kafka's TransactionLogValue), so replay keeps the last record per id, or its
// removal. Layout in docs/storage-format.md ("Transaction records"). Every payload starts with a
// version byte (1); integers are big-endian; strings are UTF-8 with a u16 byte length.

import { TXN_STATES, TXN_STATE_IDS, type TxnRecord } from './metadata.js';

export const TxnRecordType = {
  /** A transactional id's state. */
  State: 1,
  /** The transactional id expired (transactional.id.expiration.ms) and is forgotten. */
  Removed: 2,
} as const;

const RECORD_VERSION = 1;
const STRING16_BYTES_MAX = 0xffff;

export class TxnRecordError extends Error {
  override name = 'TxnRecordError';
}

function str16(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  if (b.length > STRING16_BYTES_MAX) throw new RangeError(`string of ${b.length} bytes is too long for the transaction log`);
  const len = Buffer.allocUnsafe(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

export function encodeTxnState(r: TxnRecord): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.allocUnsafe(1);
  head.writeUInt8(RECORD_VERSION);
  parts.push(head, str16(r.transactionalId));
  const fixed = Buffer.allocUnsafe(8 + 8 + 2 + 2 + 4 + 1 + 8 + 8 + 4);
  let o = fixed.writeBigInt64BE(BigInt(r.producerId), 0);
  o = fixed.writeBigInt64BE(BigInt(r.previousProducerId), o);
  o = fixed.writeInt16BE(r.producerEpoch, o);
  o = fixed.writeInt16BE(r.lastProducerEpoch, o);
  o = fixed.writeInt32BE(r.timeoutMs, o);
  o = fixed.writeUInt8(TXN_STATE_IDS[r.state], o);
  o = fixed.writeDoubleBE(r.startMs, o);
  o = fixed.writeDoubleBE(r.lastUpdateMs, o);
  fixed.writeUInt32BE(r.partitions.size, o);
  parts.push(fixed);
  for (const [topic, ps] of r.partitions) {
    const list = Buffer.allocUnsafe(4 + 4 * ps.size);
    let k = list.writeUInt32BE(ps.size, 0);
    for (const p of ps) k = list.writeInt32BE(p, k);
    parts.push(str16(topic), list);
  }
  const n = Buffer.allocUnsafe(4);
  n.writeUInt32BE(r.groups.size);
  parts.push(n);
  for (const g of r.groups) parts.push(str16(g));
  return Buffer.concat(parts);
}

export function encodeTxnRemoved(transactionalId: string): Buffer {
  return Buffer.concat([Buffer.from([RECORD_VERSION]), str16(transactionalId)]);
}

class Reader {
  private at = 0;

  constructor(private readonly buf: Buffer) {
    const version = this.u8();
    if (version !== RECORD_VERSION) throw new TxnRecordError(`unknown transaction record version ${version}`);
  }

  u8(): number {
    return this.take(1, (o) => this.buf.readUInt8(o));
  }
  i16(): number {
    return this.take(2, (o) => this.buf.readInt16BE(o));
  }
  i32(): number {
    return this.take(4, (o) => this.buf.readInt32BE(o));
  }
  u32(): number {
    return this.take(4, (o) => this.buf.readUInt32BE(o));
  }
  i64(): number {
    return this.take(8, (o) => Number(this.buf.readBigInt64BE(o)));
  }
  f64(): number {
    return this.take(8, (o) => this.buf.readDoubleBE(o));
  }
  str16(): string {
    const len = this.take(2, (o) => this.buf.readUInt16BE(o));
    return this.take(len, (o) => this.buf.toString('utf8', o, o + len));
  }
  end(): void {
    if (this.at !== this.buf.length) throw new TxnRecordError(`${this.buf.length - this.at} trailing bytes in a transaction record`);
  }
  private take<T>(n: number, read: (offset: number) => T): T {
    if (this.at + n > this.buf.length) throw new TxnRecordError('transaction record is truncated');
    const v = read(this.at);
    this.at += n;
    return v;
  }
}

export function decodeTxnState(buf: Buffer): TxnRecord {
  const r = new Reader(buf);
  const transactionalId = r.str16();
  const producerId = r.i64();
  const previousProducerId = r.i64();
  const producerEpoch = r.i16();
  const lastProducerEpoch = r.i16();
  const timeoutMs = r.i32();
  const state = TXN_STATES[r.u8()];
  if (state === undefined) throw new TxnRecordError('unknown transaction state');
  const startMs = r.f64();
  const lastUpdateMs = r.f64();
  const partitions = new Map<string, Set<number>>();
  for (let i = r.u32(); i > 0; i--) {
    const topic = r.str16();
    const set = new Set<number>();
    for (let k = r.u32(); k > 0; k--) set.add(r.i32());
    partitions.set(topic, set);
  }
  const groups = new Set<string>();
  for (let i = r.u32(); i > 0; i--) groups.add(r.str16());
  r.end();
  return { transactionalId, producerId, previousProducerId, producerEpoch, lastProducerEpoch, timeoutMs, state, startMs, lastUpdateMs, partitions, groups };
}

export function decodeTxnRemoved(buf: Buffer): string {
  const r = new Reader(buf);
  const id = r.str16();
  r.end();
  return id;
}
