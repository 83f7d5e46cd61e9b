// Kafka record batches, magic v2 (https://kafka.apache.org/documentation/#recordbatch):
//
//   baseOffset: int64            0
//   batchLength: int32           8   bytes after this field
//   partitionLeaderEpoch: int32  12
//   magic: int8                  16  (2)
//   crc: uint32                  17  CRC-32C of attributes .. end
//   attributes: int16            21  bits 0-2 compression, 3 timestamp type,
//                                    4 transactional, 5 control, 6 delete horizon
//   lastOffsetDelta: int32       23
//   baseTimestamp: int64         27
//   maxTimestamp: int64          35
//   producerId: int64            43
//   producerEpoch: int16         51
//   baseSequence: int32          53
//   recordsCount: int32          57
//   records                      61  (compressed as a whole when a codec is set)
//
// The CRC does not cover baseOffset, batchLength or partitionLeaderEpoch, so a
// broker assigns offsets and the leader epoch in place without re-hashing.
// Everything here works per batch; records are only decoded on request, so
// the produce and fetch paths do no per-record work.
//
// Magic 0 and 1 message sets put their magic byte at the same offset 16 and
// their size at offset 8, so splitBatches() finds them too and reports their
// magic; their contents are not decoded (Wharf refuses produce in old formats).

import { crc32c } from '@node-rs/crc32';
import { Compression, compress, decompress } from './compression.js';
import { ErrorCode } from './errors.js';
import { KafkaProtocolError, corrupt } from './protocol-error.js';
import { Reader, Writer, uvarintBytes } from './primitives.js';

export const RECORD_BATCH_HEADER_BYTES = 61;
/** baseOffset and batchLength: the part of a batch not counted by batchLength. */
export const LOG_OVERHEAD_BYTES = 12;
export const MAGIC_OFFSET = 16;
const CRC_OFFSET = 17;
const ATTRIBUTES_OFFSET = 21;
const MAX_TIMESTAMP_OFFSET = 35;
/** The smallest legal message of magic 0 (Kafka's LegacyRecord.RECORD_OVERHEAD_V0). */
const LEGACY_MIN_BYTES = 14;

export const CURRENT_MAGIC = 2;

const COMPRESSION_MASK = 0x07;
const TIMESTAMP_TYPE_BIT = 0x08;
const TRANSACTIONAL_BIT = 0x10;
const CONTROL_BIT = 0x20;
const DELETE_HORIZON_BIT = 0x40;

export const TimestampType = { CREATE_TIME: 0, LOG_APPEND_TIME: 1 } as const;

export interface RecordBatchHeader {
  baseOffset: bigint;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  /** attributes bits 0-2: Compression.NONE .. ZSTD. */
  compression: number;
  /** attributes bit 3: TimestampType.CREATE_TIME or LOG_APPEND_TIME. */
  timestampType: number;
  isTransactional: boolean;
  isControl: boolean;
  /** attributes bit 6: baseTimestamp is the delete horizon of a compacted batch. */
  hasDeleteHorizonMs: boolean;
  lastOffsetDelta: number;
  baseTimestamp: bigint;
  maxTimestamp: bigint;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  recordsCount: number;
}

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface KafkaRecord {
  attributes: number;
  timestampDelta: number;
  offsetDelta: number;
  /** baseTimestamp + timestampDelta, or the batch's maxTimestamp under LOG_APPEND_TIME. */
  timestamp: bigint;
  /** baseOffset + offsetDelta. */
  offset: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

// ---- splitting a records field into batches -------------------------------------------

export interface SplitBatches {
  /** Each batch (or old-format message) as a zero-copy slice of the input. */
  batches: Buffer[];
  /** Bytes of an incomplete batch at the end, left out (only with allowTruncatedTail). */
  truncatedTailBytes: number;
}

/**
 * Splits a `records` field into its batches. A produce request must hold whole
 * batches (a partial one is CORRUPT_MESSAGE). A fetch response may end in a
 * partial batch, cut by the broker's size limit, which clients skip: pass
 * allowTruncatedTail for that.
 */
export function splitBatches(records: Buffer, allowTruncatedTail = false): SplitBatches {
  const batches: Buffer[] = [];
  let p = 0;
  while (p < records.length) {
    const left = records.length - p;
    if (left < LOG_OVERHEAD_BYTES) return tail(batches, left, allowTruncatedTail, p);
    const length = records.readInt32BE(p + 8);
    if (left < LOG_OVERHEAD_BYTES + 5) {
      // Too short to read the magic byte: only a partial tail can be this short.
      return tail(batches, left, allowTruncatedTail, p);
    }
    const magic = records[p + MAGIC_OFFSET];
    const min = magic >= CURRENT_MAGIC ? RECORD_BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES : LEGACY_MIN_BYTES;
    if (length < min) throw corrupt(`record batch at offset ${p} has length ${length}, below the minimum ${min} for magic ${magic}`);
    if (magic > CURRENT_MAGIC) throw corrupt(`record batch at offset ${p} has unknown magic ${magic}`);
    const size = LOG_OVERHEAD_BYTES + length;
    if (size > left) return tail(batches, left, allowTruncatedTail, p);
    batches.push(records.subarray(p, p + size));
    p += size;
  }
  return { batches, truncatedTailBytes: 0 };
}

function tail(batches: Buffer[], left: number, allow: boolean, at: number): SplitBatches {
  if (!allow) throw corrupt(`record batch at offset ${at} is truncated: ${left} bytes remain`);
  return { batches, truncatedTailBytes: left };
}

/** The magic byte of a batch or old-format message (0, 1 or 2). */
export function batchMagic(batch: Buffer): number {
  if (batch.length <= MAGIC_OFFSET) throw corrupt('record batch too short for its magic byte');
  return batch[MAGIC_OFFSET];
}

// ---- the header ---------------------------------------------------------------------------

/** Reads the header of a magic v2 batch (splitBatches() output, or any buffer starting with one). */
export function readBatchHeader(batch: Buffer): RecordBatchHeader {
  const magic = batch[MAGIC_OFFSET];
  if (batch.length > MAGIC_OFFSET && magic !== CURRENT_MAGIC) throw corrupt(`record batch has magic ${magic}, not 2`);
  if (batch.length < RECORD_BATCH_HEADER_BYTES) throw corrupt(`record batch of ${batch.length} bytes is shorter than its 61-byte header`);
  const attributes = batch.readInt16BE(ATTRIBUTES_OFFSET);
  return {
    baseOffset: batch.readBigInt64BE(0),
    batchLength: batch.readInt32BE(8),
    partitionLeaderEpoch: batch.readInt32BE(12),
    magic,
    crc: batch.readUInt32BE(CRC_OFFSET),
    attributes,
    compression: attributes & COMPRESSION_MASK,
    timestampType: (attributes & TIMESTAMP_TYPE_BIT) !== 0 ? TimestampType.LOG_APPEND_TIME : TimestampType.CREATE_TIME,
    isTransactional: (attributes & TRANSACTIONAL_BIT) !== 0,
    isControl: (attributes & CONTROL_BIT) !== 0,
    hasDeleteHorizonMs: (attributes & DELETE_HORIZON_BIT) !== 0,
    lastOffsetDelta: batch.readInt32BE(23),
    baseTimestamp: batch.readBigInt64BE(27),
    maxTimestamp: batch.readBigInt64BE(MAX_TIMESTAMP_OFFSET),
    producerId: batch.readBigInt64BE(43),
    producerEpoch: batch.readInt16BE(51),
    baseSequence: batch.readInt32BE(53),
    recordsCount: batch.readInt32BE(57),
  };
}

/** The CRC-32C a batch should carry: of attributes .. end. */
export function computeBatchCrc(batch: Buffer): number {
  return crc32c(batch.subarray(ATTRIBUTES_OFFSET)) >>> 0;
}

export function isBatchCrcValid(batch: Buffer): boolean {
  return batch.length >= RECORD_BATCH_HEADER_BYTES && batch.readUInt32BE(CRC_OFFSET) === computeBatchCrc(batch);
}

/** Throws CORRUPT_MESSAGE unless the batch is a whole magic v2 batch with a valid CRC. */
export function checkBatch(batch: Buffer): void {
  if (batch.length < RECORD_BATCH_HEADER_BYTES) throw corrupt(`record batch of ${batch.length} bytes is shorter than its 61-byte header`);
  if (batch[MAGIC_OFFSET] !== CURRENT_MAGIC) throw corrupt(`record batch has magic ${batch[MAGIC_OFFSET]}, not 2`);
  if (batch.readInt32BE(8) !== batch.length - LOG_OVERHEAD_BYTES) throw corrupt('record batch length does not match its size');
  const stored = batch.readUInt32BE(CRC_OFFSET);
  const actual = computeBatchCrc(batch);
  if (stored !== actual) throw corrupt(`record batch CRC ${stored.toString(16)} does not match its contents (${actual.toString(16)})`);
}

/** Sets baseOffset in place; outside the CRC, so the batch stays valid. */
export function setBaseOffset(batch: Buffer, baseOffset: bigint): void {
  batch.writeBigInt64BE(baseOffset, 0);
}

/** Sets partitionLeaderEpoch in place; outside the CRC. */
export function setPartitionLeaderEpoch(batch: Buffer, epoch: number): void {
  batch.writeInt32BE(epoch, 12);
}

/**
 * Marks a batch LOG_APPEND_TIME with the broker's timestamp as maxTimestamp
 * (a topic with message.timestamp.type=LogAppendTime) and re-computes the CRC.
 */
export function setLogAppendTime(batch: Buffer, timestamp: bigint): void {
  batch.writeInt16BE(batch.readInt16BE(ATTRIBUTES_OFFSET) | TIMESTAMP_TYPE_BIT, ATTRIBUTES_OFFSET);
  batch.writeBigInt64BE(timestamp, MAX_TIMESTAMP_OFFSET);
  batch.writeUInt32BE(computeBatchCrc(batch), CRC_OFFSET);
}

// ---- records ----------------------------------------------------------------------------

function readRecord(r: Reader, h: RecordBatchHeader): KafkaRecord {
  const length = r.varint();
  if (length < 0 || length > r.remaining) throw corrupt(`record length ${length} with ${r.remaining} bytes left`);
  const end = r.pos + length;
  const attributes = r.i8();
  const timestampDelta = r.varlongNumber();
  const offsetDelta = r.varint();
  const key = readVarBytes(r);
  const value = readVarBytes(r);
  const count = r.varint();
  if (count < 0 || count > end - r.pos) throw corrupt(`record with ${count} headers`);
  const headers: RecordHeader[] = new Array<RecordHeader>(count);
  for (let i = 0; i < count; i++) {
    const keyLength = r.varint();
    if (keyLength < 0) throw corrupt('record header with a null key');
    const p = r.need(keyLength, 'record header key');
    headers[i] = { key: r.buf.toString('utf8', p, p + keyLength), value: readVarBytes(r) };
  }
  if (r.pos !== end) throw corrupt(`record of ${length} bytes holds ${r.pos - (end - length)} bytes of fields`);
  const timestamp = h.timestampType === TimestampType.LOG_APPEND_TIME ? h.maxTimestamp : h.baseTimestamp + BigInt(timestampDelta);
  return { attributes, timestampDelta, offsetDelta, timestamp, offset: h.baseOffset + BigInt(offsetDelta), key, value, headers };
}

function readVarBytes(r: Reader): Buffer | null {
  const len = r.varint();
  if (len < 0) return null;
  const p = r.need(len, 'record bytes');
  return r.buf.subarray(p, p + len);
}

/**
 * Decodes the records of a magic v2 batch: checks the CRC, decompresses and
 * parses. Keys, values and header values are slices of the batch (or of the
 * decompressed body). Any malformation is CORRUPT_MESSAGE.
 */
export function decodeRecords(batch: Buffer, h: RecordBatchHeader = readBatchHeader(batch)): KafkaRecord[] {
  checkBatch(batch);
  const body = decompress(h.compression, batch.subarray(RECORD_BATCH_HEADER_BYTES));
  if (h.recordsCount < 0 || h.recordsCount > body.length) throw corrupt(`record batch claims ${h.recordsCount} records in ${body.length} bytes`);
  const r = new Reader(body);
  const records: KafkaRecord[] = new Array<KafkaRecord>(h.recordsCount);
  try {
    for (let i = 0; i < h.recordsCount; i++) records[i] = readRecord(r, h);
  } catch (e) {
    // The Reader's INVALID_REQUEST is, inside a batch, a corrupt record.
    throw e instanceof KafkaProtocolError && e.errorCode === ErrorCode.INVALID_REQUEST ? corrupt(e.message) : e;
  }
  if (r.remaining !== 0) throw corrupt(`${r.remaining} bytes after the last of ${h.recordsCount} records`);
  return records;
}

// ---- building batches ----------------------------------------------------------------------

export interface RecordSpec {
  key?: Buffer | null;
  value: Buffer | null;
  headers?: readonly RecordHeader[];
  /** Absolute timestamp in ms; defaults to the batch's baseTimestamp. */
  timestamp?: bigint;
}

export interface RecordBatchSpec {
  records: readonly RecordSpec[];
  baseOffset?: bigint;
  partitionLeaderEpoch?: number;
  /** Defaults to the first record's timestamp, else now. */
  baseTimestamp?: bigint;
  timestampType?: number;
  producerId?: bigint;
  producerEpoch?: number;
  baseSequence?: number;
  isTransactional?: boolean;
  isControl?: boolean;
  compression?: number;
}

function writeVarBytes(w: Writer, b: Buffer | null | undefined): void {
  if (b === null || b === undefined) {
    w.varint(-1);
    return;
  }
  w.varint(b.length);
  w.append(b);
}

/** One record's fields after its length, in a sub-writer (the length prefix needs its size). */
function encodeRecordBody(rec: RecordSpec, offsetDelta: number, timestampDelta: number): Buffer {
  const w = new Writer(64 + (rec.value?.length ?? 0) + (rec.key?.length ?? 0), false);
  w.i8(0); // record attributes: unused
  w.varlongNumber(timestampDelta);
  w.varint(offsetDelta);
  writeVarBytes(w, rec.key);
  writeVarBytes(w, rec.value);
  const headers = rec.headers ?? [];
  w.varint(headers.length);
  for (const h of headers) {
    const key = Buffer.from(h.key, 'utf8');
    w.varint(key.length);
    w.append(key);
    writeVarBytes(w, h.value);
  }
  return w.toBuffer();
}

function encodeRecordsBody(spec: RecordBatchSpec, baseTimestamp: bigint): { body: Buffer; maxTimestamp: bigint } {
  const w = new Writer(256, false);
  let maxTimestamp = -1n;
  spec.records.forEach((rec, i) => {
    const ts = rec.timestamp ?? baseTimestamp;
    if (ts > maxTimestamp) maxTimestamp = ts;
    const body = encodeRecordBody(rec, i, Number(ts - baseTimestamp));
    w.varint(body.length);
    w.append(body);
  });
  return { body: w.toBuffer(), maxTimestamp };
}

function assembleBatch(spec: RecordBatchSpec, baseTimestamp: bigint, maxTimestamp: bigint, body: Buffer): Buffer {
  const batch = Buffer.allocUnsafe(RECORD_BATCH_HEADER_BYTES + body.length);
  body.copy(batch, RECORD_BATCH_HEADER_BYTES);
  return fillBatchHeader(batch, spec, baseTimestamp, maxTimestamp);
}

/** Writes the header fields and the CRC of a batch whose records are in place after the header. */
function fillBatchHeader(batch: Buffer, spec: RecordBatchSpec, baseTimestamp: bigint, maxTimestamp: bigint): Buffer {
  const n = spec.records.length;
  let attributes = (spec.compression ?? Compression.NONE) & COMPRESSION_MASK;
  if (spec.timestampType === TimestampType.LOG_APPEND_TIME) attributes |= TIMESTAMP_TYPE_BIT;
  if (spec.isTransactional === true) attributes |= TRANSACTIONAL_BIT;
  if (spec.isControl === true) attributes |= CONTROL_BIT;
  batch.writeBigInt64BE(spec.baseOffset ?? 0n, 0);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD_BYTES, 8);
  batch.writeInt32BE(spec.partitionLeaderEpoch ?? -1, 12);
  batch[MAGIC_OFFSET] = CURRENT_MAGIC;
  batch.writeInt16BE(attributes, ATTRIBUTES_OFFSET);
  batch.writeInt32BE(n - 1, 23);
  batch.writeBigInt64BE(baseTimestamp, 27);
  batch.writeBigInt64BE(n === 0 ? baseTimestamp : maxTimestamp, MAX_TIMESTAMP_OFFSET);
  batch.writeBigInt64BE(spec.producerId ?? -1n, 43);
  batch.writeInt16BE(spec.producerEpoch ?? -1, 51);
  batch.writeInt32BE(spec.baseSequence ?? -1, 53);
  batch.writeInt32BE(n, 57);
  batch.writeUInt32BE(computeBatchCrc(batch), CRC_OFFSET);
  return batch;
}

function baseTimestampOf(spec: RecordBatchSpec): bigint {
  return spec.baseTimestamp ?? spec.records[0]?.timestamp ?? BigInt(Date.now());
}

/**
 * Builds an uncompressed batch with its CRC (compression in the spec must be NONE). One pass
 * sizes every record, a second writes them straight into the batch: one allocation, no copies
 * of keys and values beyond the one into the batch (the broker builds a batch per socket read
 * of AMQP publishes into a stream with this).
 */
export function buildRecordBatchSync(spec: RecordBatchSpec): Buffer {
  if ((spec.compression ?? Compression.NONE) !== Compression.NONE) throw new RangeError('buildRecordBatchSync builds uncompressed batches only');
  const base = baseTimestampOf(spec);
  const records = spec.records;
  const sizes = new Array<number>(records.length);
  const deltas = new Array<number>(records.length);
  let maxTimestamp = -1n;
  let total = 0;
  for (let i = 0; i < records.length; i++) {
    const rec = records[i];
    const ts = rec.timestamp ?? base;
    if (ts > maxTimestamp) maxTimestamp = ts;
    const delta = rec.timestamp === undefined ? 0 : Number(ts - base);
    deltas[i] = delta;
    const size = recordBodyBytes(rec, i, delta);
    sizes[i] = size;
    total += uvarintBytes(zigzag(size)) + size;
  }
  const batch = Buffer.allocUnsafe(RECORD_BATCH_HEADER_BYTES + total);
  let o = RECORD_BATCH_HEADER_BYTES;
  for (let i = 0; i < records.length; i++) o = writeRecord(batch, o, records[i], i, deltas[i], sizes[i]);
  return fillBatchHeader(batch, spec, base, maxTimestamp);
}

function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

function varBytesBytes(b: Buffer | null | undefined): number {
  return b === null || b === undefined ? 1 : uvarintBytes(zigzag(b.length)) + b.length;
}

/** Bytes of a record after its length prefix. */
function recordBodyBytes(rec: RecordSpec, offsetDelta: number, timestampDelta: number): number {
  let n = 1 + varlongBytes(zigzag(timestampDelta)) + uvarintBytes(zigzag(offsetDelta)) + varBytesBytes(rec.key) + varBytesBytes(rec.value);
  const headers = rec.headers ?? [];
  n += uvarintBytes(zigzag(headers.length));
  for (const h of headers) {
    const keyBytes = Buffer.byteLength(h.key, 'utf8');
    n += uvarintBytes(zigzag(keyBytes)) + keyBytes + varBytesBytes(h.value);
  }
  return n;
}

function varlongBytes(z: number): number {
  let n = 1;
  while (z >= 0x80) {
    z = Math.floor(z / 128);
    n++;
  }
  return n;
}

/** An unsigned varint of a non-negative safe integer (zigzag already applied). */
function putVarint(b: Buffer, o: number, z: number): number {
  while (z >= 0x80) {
    b[o++] = (z % 128) | 0x80;
    z = Math.floor(z / 128);
  }
  b[o++] = z;
  return o;
}

function putVarBytes(b: Buffer, o: number, v: Buffer | null | undefined): number {
  if (v === null || v === undefined) return putVarint(b, o, 1); // -1 zigzagged
  o = putVarint(b, o, zigzag(v.length));
  return o + v.copy(b, o);
}

function writeRecord(b: Buffer, o: number, rec: RecordSpec, offsetDelta: number, timestampDelta: number, size: number): number {
  o = putVarint(b, o, zigzag(size));
  b[o++] = 0; // record attributes: unused
  o = putVarint(b, o, zigzag(timestampDelta));
  o = putVarint(b, o, zigzag(offsetDelta));
  o = putVarBytes(b, o, rec.key);
  o = putVarBytes(b, o, rec.value);
  const headers = rec.headers ?? [];
  o = putVarint(b, o, zigzag(headers.length));
  for (const h of headers) {
    const keyBytes = Buffer.byteLength(h.key, 'utf8');
    o = putVarint(b, o, zigzag(keyBytes));
    o += b.write(h.key, o, keyBytes, 'utf8');
    o = putVarBytes(b, o, h.value);
  }
  return o;
}

/** Builds a batch, compressed with spec.compression (any codec), with its CRC. */
export async function buildRecordBatch(spec: RecordBatchSpec): Promise<Buffer> {
  const base = baseTimestampOf(spec);
  const { body, maxTimestamp } = encodeRecordsBody(spec, base);
  return assembleBatch(spec, base, maxTimestamp, await compress(spec.compression ?? Compression.NONE, body));
}

// ---- compaction: walking and rebuilding records ---------------------------------------------
//
// Kafka's log cleaner keeps each record's offset (the batch keeps its base offset, and records
// their offset deltas) and rebuilds a batch only with what survives (MemoryRecords.filterTo). A
// record is `length varint | attributes i8 | timestampDelta varlong | offsetDelta varint | key |
// value | headers`, so a survivor can be copied as it is, or, when the batch gets a delete horizon
// as its new base timestamp, re-prefixed with a new timestamp delta and the rest copied.

/** Where a record lies in a records body (forEachRecord reuses one object: copy what you keep). */
export interface RecordSlot {
  /** The record's first byte (its length varint) and one past its last. */
  start: number;
  end: number;
  attributes: number;
  timestampDelta: number;
  offsetDelta: number;
  /** The key's first byte and length (-1: a null key). */
  keyStart: number;
  keyLength: number;
  /** The value's first byte and length (-1: a null value, a tombstone). */
  valueStart: number;
  valueLength: number;
  /** Where the key length starts: the record from here on is copied unchanged. */
  rest: number;
}

/** The records of a batch as one buffer: decompressed (a view of the batch when uncompressed). */
export function recordsBody(batch: Buffer, h: RecordBatchHeader = readBatchHeader(batch)): Buffer {
  return decompress(h.compression, batch.subarray(RECORD_BATCH_HEADER_BYTES));
}

function skipVarBytes(r: Reader): [number, number] {
  const len = r.varint();
  if (len < 0) return [r.pos, -1];
  return [r.need(len, 'record bytes'), len];
}

/**
 * Calls `visit` for each of the `count` records of a records body (recordsBody()), in order,
 * without copying. Malformed records are CORRUPT_MESSAGE.
 */
export function forEachRecord(body: Buffer, count: number, visit: (r: RecordSlot) => void): void {
  const r = new Reader(body);
  const slot: RecordSlot = {
    start: 0, end: 0, attributes: 0, timestampDelta: 0, offsetDelta: 0,
    keyStart: 0, keyLength: -1, valueStart: 0, valueLength: -1, rest: 0,
  };
  try {
    for (let i = 0; i < count; i++) {
      slot.start = r.pos;
      const length = r.varint();
      if (length < 0 || length > r.remaining) throw corrupt(`record length ${length} with ${r.remaining} bytes left`);
      slot.end = r.pos + length;
      slot.attributes = r.i8();
      slot.timestampDelta = r.varlongNumber();
      slot.offsetDelta = r.varint();
      slot.rest = r.pos;
      [slot.keyStart, slot.keyLength] = skipVarBytes(r);
      [slot.valueStart, slot.valueLength] = skipVarBytes(r);
      if (slot.end > body.length || r.pos > slot.end) throw corrupt('record fields run past the record');
      r.pos = slot.end; // headers are copied, never read
      visit(slot);
    }
  } catch (e) {
    throw e instanceof KafkaProtocolError && e.errorCode === ErrorCode.INVALID_REQUEST ? corrupt(e.message) : e;
  }
  if (r.remaining !== 0) throw corrupt(`${r.remaining} bytes after the last of ${count} records`);
}

/** A surviving record: a copy of the RecordSlot fields a rebuild needs. */
export interface KeptRecord {
  readonly start: number;
  readonly end: number;
  readonly attributes: number;
  readonly timestampDelta: number;
  readonly offsetDelta: number;
  readonly rest: number;
}

export interface RebuildSpec {
  /** The stored batch: base offset, last offset delta, producer fields and flags are kept. */
  readonly batch: Buffer;
  /** Its records body (recordsBody()). */
  readonly body: Buffer;
  /** The records that survive, in order. */
  readonly keep: readonly KeptRecord[];
  /**
   * KIP-534: the time after which the batch's tombstones and empty-transaction markers may go.
   * It becomes the base timestamp (record deltas are re-based on it) with attributes bit 6 set.
   * Undefined: the batch keeps its base timestamp (and horizon, if it had one).
   */
  readonly deleteHorizonMs?: number;
}

/**
 * The batch with only `keep` in it (Kafka's buildRetainedRecordsInto): same base offset, same last
 * offset delta (so the producer's last sequence survives), producer id, epoch, base sequence,
 * leader epoch, flags and compression; each record keeps its offset delta and timestamp.
 */
export async function rebuildBatch(spec: RebuildSpec): Promise<Buffer> {
  const h = readBatchHeader(spec.batch);
  const oldBase = Number(h.baseTimestamp);
  const base = spec.deleteHorizonMs ?? oldBase;
  const shift = oldBase - base;
  const parts: Buffer[] = [];
  let maxTimestamp = -1;
  for (const k of spec.keep) {
    const timestamp = oldBase + k.timestampDelta;
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;
    if (shift === 0) {
      parts.push(spec.body.subarray(k.start, k.end));
      continue;
    }
    const head = new Writer(16, false);
    head.i8(k.attributes);
    head.varlongNumber(k.timestampDelta + shift);
    head.varint(k.offsetDelta);
    const prefix = head.toBuffer();
    const len = new Writer(5, false);
    len.varint(prefix.length + (k.end - k.rest));
    parts.push(len.toBuffer(), prefix, spec.body.subarray(k.rest, k.end));
  }
  const records = await compress(h.compression, Buffer.concat(parts));
  const out = Buffer.allocUnsafe(RECORD_BATCH_HEADER_BYTES + records.length);
  spec.batch.copy(out, 0, 0, RECORD_BATCH_HEADER_BYTES);
  out.writeInt32BE(out.length - LOG_OVERHEAD_BYTES, 8);
  let attributes = h.attributes;
  if (spec.deleteHorizonMs !== undefined) attributes |= DELETE_HORIZON_BIT;
  out.writeInt16BE(attributes, ATTRIBUTES_OFFSET);
  out.writeBigInt64BE(BigInt(base), 27);
  const logAppend = h.timestampType === TimestampType.LOG_APPEND_TIME;
  out.writeBigInt64BE(logAppend || spec.keep.length === 0 ? h.maxTimestamp : BigInt(maxTimestamp), MAX_TIMESTAMP_OFFSET);
  out.writeInt32BE(spec.keep.length, 57);
  records.copy(out, RECORD_BATCH_HEADER_BYTES);
  out.writeUInt32BE(computeBatchCrc(out), CRC_OFFSET);
  return out;
}

/**
 * A batch with the header of `batch` and no records (Kafka's writeEmptyHeader): kept where the
 * cleaner removed every record but the batch still carries a producer's last sequence or the
 * last offset of a cleaned range. Uncompressed, base and max timestamp = the old max timestamp.
 */
export function emptyBatchLike(batch: Buffer): Buffer {
  const h = readBatchHeader(batch);
  const out = Buffer.allocUnsafe(RECORD_BATCH_HEADER_BYTES);
  batch.copy(out, 0, 0, RECORD_BATCH_HEADER_BYTES);
  out.writeInt32BE(out.length - LOG_OVERHEAD_BYTES, 8);
  out.writeInt16BE(h.attributes & ~(COMPRESSION_MASK | DELETE_HORIZON_BIT), ATTRIBUTES_OFFSET);
  out.writeBigInt64BE(h.maxTimestamp, 27);
  out.writeInt32BE(0, 57);
  out.writeUInt32BE(computeBatchCrc(out), CRC_OFFSET);
  return out;
}
