// Record types of the delayed-message log (data/delayed/), and their codecs.
// A held message is named by the position of its Held record, so Released
// records need no ids of their own. Layouts: docs/storage-format.md
// ("Delayed-message records"). All integers big-endian.

import type { LogPosition } from './log.js';

export const DelayedRecordType = {
  /** A message held by a delayed exchange until its due time, with its content. */
  Held: 1,
  /** Held messages (by record position) now durable in their queues, or gone. */
  Released: 2,
  /** A delayed exchange was deleted: its Held records before this one are void. */
  Dropped: 3,
} as const;

export interface HeldRecord {
  /** Delivery-mode 2: released as a persistent message. */
  readonly persistent: boolean;
  /** Persistent message on a durable exchange: recovery brings it back. */
  readonly recoverable: boolean;
  /** Wall-clock time (ms since the epoch) the message is released at. */
  readonly dueMs: number;
  /** The x-delay it was published with (0..2^32-1). */
  readonly delayMs: number;
  readonly vhost: string;
  readonly exchange: string;
  readonly routingKey: string;
  readonly properties: Buffer;
  readonly body: Buffer;
}

export interface DroppedRecord {
  readonly vhost: string;
  readonly exchange: string;
}

export interface EncodedDelayedRecord {
  readonly type: number;
  readonly parts: Buffer[];
}

const FLAG_PERSISTENT = 1;
const FLAG_RECOVERABLE = 2;

export class DelayedRecordError extends Error {}

/** Encoded as [header, body] so the body is copied only into the log's buffer. */
export function encodeHeld(r: HeldRecord): EncodedDelayedRecord {
  const vhostBytes = Buffer.byteLength(r.vhost);
  const exchangeBytes = Buffer.byteLength(r.exchange);
  const keyBytes = Buffer.byteLength(r.routingKey);
  const head = Buffer.allocUnsafe(1 + 8 + 4 + 3 + vhostBytes + exchangeBytes + keyBytes + 4 + r.properties.length);
  let o = head.writeUInt8((r.persistent ? FLAG_PERSISTENT : 0) | (r.recoverable ? FLAG_RECOVERABLE : 0), 0);
  o = head.writeDoubleBE(r.dueMs, o);
  o = head.writeUInt32BE(r.delayMs, o);
  o = writeShortStr(head, o, r.vhost, vhostBytes);
  o = writeShortStr(head, o, r.exchange, exchangeBytes);
  o = writeShortStr(head, o, r.routingKey, keyBytes);
  o = head.writeUInt32BE(r.properties.length, o);
  r.properties.copy(head, o);
  return { type: DelayedRecordType.Held, parts: [head, r.body] };
}

export function encodeReleased(positions: readonly LogPosition[]): EncodedDelayedRecord {
  const buf = Buffer.allocUnsafe(4 + 8 * positions.length);
  let o = buf.writeUInt32BE(positions.length, 0);
  for (const p of positions) {
    o = buf.writeUInt32BE(p.segment, o);
    o = buf.writeUInt32BE(p.offset, o);
  }
  return { type: DelayedRecordType.Released, parts: [buf] };
}

export function encodeDropped(r: DroppedRecord): EncodedDelayedRecord {
  const vhostBytes = Buffer.byteLength(r.vhost);
  const exchangeBytes = Buffer.byteLength(r.exchange);
  const buf = Buffer.allocUnsafe(2 + vhostBytes + exchangeBytes);
  writeShortStr(buf, writeShortStr(buf, 0, r.vhost, vhostBytes), r.exchange, exchangeBytes);
  return { type: DelayedRecordType.Dropped, parts: [buf] };
}

/** The fields recovery needs from a Held payload, read without decoding strings or copying. */
export interface HeldPeek {
  readonly recoverable: boolean;
  readonly dueMs: number;
  /** The payload bytes naming vhost and exchange (two shortstrs): equal bytes, same exchange. */
  readonly names: Buffer;
}

export function peekHeld(buf: Buffer): HeldPeek {
  need(buf, 0, 15);
  const vhostEnd = 14 + buf.readUInt8(13);
  need(buf, vhostEnd, 1);
  const namesEnd = vhostEnd + 1 + buf.readUInt8(vhostEnd);
  need(buf, namesEnd, 0);
  return { recoverable: (buf.readUInt8(0) & FLAG_RECOVERABLE) !== 0, dueMs: buf.readDoubleBE(1), names: buf.subarray(13, namesEnd) };
}

/** Vhost and exchange from HeldPeek.names (laid out as a Dropped payload). */
export function decodeNames(names: Buffer): DroppedRecord {
  return decodeDropped(names);
}

export function decodeHeld(buf: Buffer): HeldRecord {
  need(buf, 0, 13);
  const flags = buf.readUInt8(0);
  const [vhost, o1] = readShortStr(buf, 13);
  const [exchange, o2] = readShortStr(buf, o1);
  const [routingKey, next] = readShortStr(buf, o2);
  need(buf, next, 4);
  const propsBytes = buf.readUInt32BE(next);
  need(buf, next + 4, propsBytes);
  return {
    persistent: (flags & FLAG_PERSISTENT) !== 0,
    recoverable: (flags & FLAG_RECOVERABLE) !== 0,
    dueMs: buf.readDoubleBE(1),
    delayMs: buf.readUInt32BE(9),
    vhost,
    exchange,
    routingKey,
    properties: buf.subarray(next + 4, next + 4 + propsBytes),
    body: buf.subarray(next + 4 + propsBytes),
  };
}

export function decodeReleased(buf: Buffer): LogPosition[] {
  need(buf, 0, 4);
  const n = buf.readUInt32BE(0);
  need(buf, 4, 8 * n);
  const out: LogPosition[] = [];
  for (let i = 0, o = 4; i < n; i++, o += 8) out.push({ segment: buf.readUInt32BE(o), offset: buf.readUInt32BE(o + 4) });
  return out;
}

export function decodeDropped(buf: Buffer): DroppedRecord {
  const [vhost, o] = readShortStr(buf, 0);
  const [exchange] = readShortStr(buf, o);
  return { vhost, exchange };
}

function writeShortStr(buf: Buffer, o: number, s: string, bytes: number): number {
  if (bytes > 255) throw new RangeError(`'${s.slice(0, 32)}...' is longer than 255 bytes`);
  o = buf.writeUInt8(bytes, o);
  return o + buf.write(s, o);
}

function readShortStr(buf: Buffer, o: number): [string, number] {
  need(buf, o, 1);
  const n = buf.readUInt8(o);
  need(buf, o + 1, n);
  return [buf.toString('utf8', o + 1, o + 1 + n), o + 1 + n];
}

function need(buf: Buffer, offset: number, bytes: number): void {
  if (offset + bytes > buf.length) throw new DelayedRecordError(`record truncated at byte ${offset}`);
}
