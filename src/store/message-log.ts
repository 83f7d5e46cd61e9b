// Record types the broker writes to the shared message log, and their codecs.
// Layout of each payload is documented in docs/storage-format.md
// ("Message records"). All integers big-endian.

export const RecordType = {
  /** A message and the durable queues it was enqueued on. */
  Enqueue: 1,
  /** Messages acked (or otherwise removed) from one queue. */
  Ack: 2,
  /** Every message of a queue with id <= upTo is gone (purge). */
  Purge: 3,
  /** Several records that must survive a crash together or not at all (tx.commit, dead-lettering). */
  Batch: 4,
  /** Messages that went back to a queue unsuccessfully, with their return counts (x-delivery-limit). */
  Return: 5,
} as const;

export interface EnqueueRecord {
  readonly type: typeof RecordType.Enqueue;
  readonly msgId: number;
  /** Persistent messages are replayed on recovery; transient ones were only paged out of memory. */
  readonly persistent: boolean;
  readonly queueIds: readonly number[];
  /** Wall-clock ms when published (queue TTLs count from it); 0 in records written before format 2. */
  readonly publishedAt: number;
  /** Per-message TTL in ms (the `expiration` property); -1 when none. */
  readonly expiration: number;
  /** The message's `priority` property (0 when absent). */
  readonly priority: number;
  readonly exchange: string;
  readonly routingKey: string;
  readonly properties: Buffer;
  readonly body: Buffer;
}

export interface AckRecord {
  readonly type: typeof RecordType.Ack;
  readonly queueId: number;
  readonly msgIds: readonly number[];
}

export interface PurgeRecord {
  readonly type: typeof RecordType.Purge;
  readonly queueId: number;
  readonly upTo: number;
}

export interface ReturnRecord {
  readonly type: typeof RecordType.Return;
  readonly queueId: number;
  readonly msgIds: readonly number[];
  /** How many times each message has been returned so far (parallel to msgIds). */
  readonly counts: readonly number[];
}

export type MessageRecord = EnqueueRecord | AckRecord | PurgeRecord | ReturnRecord;

export interface EncodedRecord {
  readonly type: number;
  readonly parts: Buffer[];
}

const FLAG_PERSISTENT = 1;
/** Format 2: publishedAt, expiration and priority follow the message id. */
const FLAG_TIMES = 2;

/** Encoded as [fixed header, body] so the body is never copied before the log's buffer. */
export function encodeEnqueue(r: Omit<EnqueueRecord, 'type'>): EncodedRecord {
  const exchangeBytes = Buffer.byteLength(r.exchange);
  const keyBytes = Buffer.byteLength(r.routingKey);
  const size = 1 + 8 + 17 + 2 + 4 * r.queueIds.length + 1 + exchangeBytes + 1 + keyBytes + 4 + r.properties.length;
  const head = Buffer.allocUnsafe(size);
  let o = head.writeUInt8((r.persistent ? FLAG_PERSISTENT : 0) | FLAG_TIMES, 0);
  o = head.writeDoubleBE(r.msgId, o);
  o = head.writeDoubleBE(r.publishedAt, o);
  o = head.writeDoubleBE(r.expiration, o);
  o = head.writeUInt8(r.priority, o);
  o = head.writeUInt16BE(r.queueIds.length, o);
  for (const id of r.queueIds) o = head.writeUInt32BE(id, o);
  o = head.writeUInt8(exchangeBytes, o);
  o += head.write(r.exchange, o);
  o = head.writeUInt8(keyBytes, o);
  o += head.write(r.routingKey, o);
  o = head.writeUInt32BE(r.properties.length, o);
  r.properties.copy(head, o);
  return { type: RecordType.Enqueue, parts: [head, r.body] };
}

export function encodeAck(queueId: number, msgIds: readonly number[]): EncodedRecord {
  const buf = Buffer.allocUnsafe(8 + 8 * msgIds.length);
  let o = buf.writeUInt32BE(queueId, 0);
  o = buf.writeUInt32BE(msgIds.length, o);
  for (const id of msgIds) o = buf.writeDoubleBE(id, o);
  return { type: RecordType.Ack, parts: [buf] };
}

export function encodeReturn(queueId: number, msgIds: readonly number[], counts: readonly number[]): EncodedRecord {
  const buf = Buffer.allocUnsafe(8 + 12 * msgIds.length);
  let o = buf.writeUInt32BE(queueId, 0);
  o = buf.writeUInt32BE(msgIds.length, o);
  for (let i = 0; i < msgIds.length; i++) {
    o = buf.writeDoubleBE(msgIds[i], o);
    o = buf.writeUInt32BE(counts[i], o);
  }
  return { type: RecordType.Return, parts: [buf] };
}

export function encodePurge(queueId: number, upTo: number): EncodedRecord {
  const buf = Buffer.allocUnsafe(12);
  buf.writeUInt32BE(queueId, 0);
  buf.writeDoubleBE(upTo, 4);
  return { type: RecordType.Purge, parts: [buf] };
}

/** Nested records: u8 type | u32 length | payload, repeated. */
export function encodeBatch(records: readonly EncodedRecord[]): EncodedRecord {
  const parts: Buffer[] = [];
  for (const r of records) {
    const head = Buffer.allocUnsafe(5);
    head.writeUInt8(r.type, 0);
    head.writeUInt32BE(r.parts.reduce((n, p) => n + p.length, 0), 1);
    parts.push(head, ...r.parts);
  }
  return { type: RecordType.Batch, parts };
}

export class MessageRecordError extends Error {}

function need(buf: Buffer, offset: number, bytes: number): void {
  if (offset + bytes > buf.length) throw new MessageRecordError(`record truncated at byte ${offset}`);
}

interface EnqueueHead {
  msgId: number;
  persistent: boolean;
  publishedAt: number;
  expiration: number;
  priority: number;
  queueIds: readonly number[];
  /** Offset of the exchange name's length byte. */
  next: number;
}

/** The fixed part of an Enqueue payload: flags, id, queue ids. */
function readEnqueueHead(buf: Buffer): EnqueueHead {
  need(buf, 0, 9);
  const flags = buf.readUInt8(0);
  const persistent = (flags & FLAG_PERSISTENT) !== 0;
  const msgId = buf.readDoubleBE(1);
  let o = 9;
  let publishedAt = 0;
  let expiration = -1;
  let priority = 0;
  if ((flags & FLAG_TIMES) !== 0) {
    need(buf, o, 17);
    publishedAt = buf.readDoubleBE(o);
    expiration = buf.readDoubleBE(o + 8);
    priority = buf.readUInt8(o + 16);
    o += 17;
  }
  need(buf, o, 2);
  const nQueues = buf.readUInt16BE(o);
  o += 2;
  need(buf, o, 4 * nQueues + 1);
  const queueIds: number[] = [];
  for (let i = 0; i < nQueues; i++, o += 4) queueIds.push(buf.readUInt32BE(o));
  return { msgId, persistent, publishedAt, expiration, priority, queueIds, next: o };
}

export function decodeEnqueue(buf: Buffer): EnqueueRecord {
  const { msgId, persistent, publishedAt, expiration, priority, queueIds, next } = readEnqueueHead(buf);
  let o = next;
  const exchangeBytes = buf.readUInt8(o++);
  need(buf, o, exchangeBytes + 1);
  const exchange = buf.toString('utf8', o, o + exchangeBytes);
  o += exchangeBytes;
  const keyBytes = buf.readUInt8(o++);
  need(buf, o, keyBytes + 4);
  const routingKey = buf.toString('utf8', o, o + keyBytes);
  o += keyBytes;
  const propsBytes = buf.readUInt32BE(o);
  o += 4;
  need(buf, o, propsBytes);
  const properties = buf.subarray(o, o + propsBytes);
  const body = buf.subarray(o + propsBytes);
  return { type: RecordType.Enqueue, msgId, persistent, publishedAt, expiration, priority, queueIds, exchange, routingKey, properties, body };
}

/** What recovery needs of an Enqueue record: its head and the body size, no strings or body. */
export type EnqueuePeek = Omit<EnqueueHead, 'next'> & { bodySize: number };

/** The fields recovery needs from an Enqueue payload, without copying strings or body. */
export function peekEnqueue(buf: Buffer): EnqueuePeek {
  const { next, ...head } = readEnqueueHead(buf);
  let o = next;
  o += 1 + buf.readUInt8(o);
  need(buf, o, 1);
  o += 1 + buf.readUInt8(o);
  need(buf, o, 4);
  o += 4 + buf.readUInt32BE(o);
  if (o > buf.length) throw new MessageRecordError(`record truncated at byte ${o}`);
  return { ...head, bodySize: buf.length - o };
}

function decodeAck(buf: Buffer): AckRecord {
  need(buf, 0, 8);
  const queueId = buf.readUInt32BE(0);
  const n = buf.readUInt32BE(4);
  need(buf, 8, 8 * n);
  const msgIds: number[] = [];
  for (let i = 0; i < n; i++) msgIds.push(buf.readDoubleBE(8 + 8 * i));
  return { type: RecordType.Ack, queueId, msgIds };
}

function decodeReturn(buf: Buffer): ReturnRecord {
  need(buf, 0, 8);
  const queueId = buf.readUInt32BE(0);
  const n = buf.readUInt32BE(4);
  need(buf, 8, 12 * n);
  const msgIds: number[] = [];
  const counts: number[] = [];
  for (let i = 0, o = 8; i < n; i++, o += 12) {
    msgIds.push(buf.readDoubleBE(o));
    counts.push(buf.readUInt32BE(o + 8));
  }
  return { type: RecordType.Return, queueId, msgIds, counts };
}

function decodePurge(buf: Buffer): PurgeRecord {
  need(buf, 0, 12);
  return { type: RecordType.Purge, queueId: buf.readUInt32BE(0), upTo: buf.readDoubleBE(4) };
}

/** Decode one log record into the message records it holds (a batch holds several). */
export function decodeMessageRecords(type: number, payload: Buffer): MessageRecord[] {
  switch (type) {
    case RecordType.Enqueue:
      return [decodeEnqueue(payload)];
    case RecordType.Ack:
      return [decodeAck(payload)];
    case RecordType.Purge:
      return [decodePurge(payload)];
    case RecordType.Return:
      return [decodeReturn(payload)];
    case RecordType.Batch: {
      const out: MessageRecord[] = [];
      let o = 0;
      while (o < payload.length) {
        need(payload, o, 5);
        const t = payload.readUInt8(o);
        const len = payload.readUInt32BE(o + 1);
        need(payload, o + 5, len);
        if (t === RecordType.Batch) throw new MessageRecordError('nested batch record');
        out.push(...decodeMessageRecords(t, payload.subarray(o + 5, o + 5 + len)));
        o += 5 + len;
      }
      return out;
    }
    default:
      throw new MessageRecordError(`unknown record type ${type}`);
  }
}
