// The header of a stored record batch. A stream stores record batches in Kafka's v2 ("magic 2")
// format, exactly as a Kafka producer sends them with only the base offset (outside the CRC)
// rewritten, so a fetch returns the producer's bytes and a follower can copy the log as it is.
// This file reads the fixed-position header fields the log needs (offsets, timestamps, producer
// id and sequence); decoding the records inside is protocol/kafka's job.
//
// Kafka's DefaultRecordBatch layout (all big-endian):
//   baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 | magic int8 | crc uint32 |
//   attributes int16 | lastOffsetDelta int32 | baseTimestamp int64 | maxTimestamp int64 |
//   producerId int64 | producerEpoch int16 | baseSequence int32 | recordsCount int32 | records
// The CRC32C covers attributes .. end of batch.

import { crc32c } from '@node-rs/crc32';
import { StreamError } from './errors.js';

export const BATCH_OVERHEAD_BYTES = 61;
/** baseOffset + batchLength: the part of a batch its length field does not count. */
export const BATCH_LOG_OVERHEAD_BYTES = 12;
const MAGIC_AT = 16;
const CRC_AT = 17;
const ATTRIBUTES_AT = 21;
/** Where lastOffsetDelta sits in a batch (readers that need only it skip decoding the header). */
export const LAST_OFFSET_DELTA_AT = 23;

export const ATTR_COMPRESSION_MASK = 0x07;
export const ATTR_TIMESTAMP_LOG_APPEND = 0x08;
export const ATTR_TRANSACTIONAL = 0x10;
export const ATTR_CONTROL = 0x20;

export interface BatchHeader {
  readonly baseOffset: number;
  /** Bytes of the whole batch, baseOffset and length fields included. */
  readonly bytes: number;
  readonly attributes: number;
  readonly lastOffsetDelta: number;
  readonly baseTimestamp: number;
  readonly maxTimestamp: number;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly recordsCount: number;
}

/** The header of the batch at `buf[at]`, which the caller knows is a whole batch. */
export function readBatchHeader(buf: Buffer, at = 0): BatchHeader {
  return {
    baseOffset: Number(buf.readBigInt64BE(at)),
    bytes: buf.readInt32BE(at + 8) + BATCH_LOG_OVERHEAD_BYTES,
    attributes: buf.readInt16BE(at + ATTRIBUTES_AT),
    lastOffsetDelta: buf.readInt32BE(at + LAST_OFFSET_DELTA_AT),
    baseTimestamp: Number(buf.readBigInt64BE(at + 27)),
    maxTimestamp: Number(buf.readBigInt64BE(at + 35)),
    producerId: Number(buf.readBigInt64BE(at + 43)),
    producerEpoch: buf.readInt16BE(at + 51),
    baseSequence: buf.readInt32BE(at + 53),
    recordsCount: buf.readInt32BE(at + 57),
  };
}

export function setBaseOffset(buf: Buffer, at: number, offset: number): void {
  buf.writeBigInt64BE(BigInt(offset), at);
}

/** Kafka's LegacyRecord.RECORD_OVERHEAD_V0: no batch of any format has a smaller length field. */
const LENGTH_MIN = 14;

/**
 * The one record batch of a produce request's records for one partition, validated as Kafka
 * validates a client's append (ProduceRequest.validateRecords, UnifiedLog.analyzeAndValidateRecords,
 * LogValidator.validateBatch), in Kafka's order, with Kafka's outcome for each failure:
 * - no whole batch, a magic 0/1 message set, more than one batch, a base offset other than 0,
 *   a record count that disagrees with the offsets, a control batch, an idempotent batch without
 *   a sequence, records that do not parse: 'invalid-record' (INVALID_RECORD);
 * - bigger than `maxBytes`: 'too-large' (MESSAGE_TOO_LARGE);
 * - a length below any format's minimum, a bad CRC, a magic above 2: 'corrupt' (CORRUPT_MESSAGE).
 * Bytes after the first batch that do not make a whole batch are ignored, as Kafka trims them.
 * Returns a view into `records`.
 */
export function clientBatch(records: Buffer, maxBytes: number): Buffer {
  const left = records.length;
  if (left >= BATCH_LOG_OVERHEAD_BYTES && records.readInt32BE(8) < LENGTH_MIN) {
    throw new StreamError('corrupt', `record batch length ${records.readInt32BE(8)} is below the minimum ${LENGTH_MIN}`);
  }
  if (left <= MAGIC_AT || records.readInt32BE(8) + BATCH_LOG_OVERHEAD_BYTES > left) {
    throw new StreamError('invalid-record', 'a produce request must have one whole record batch per partition');
  }
  const magic = records[MAGIC_AT];
  if (magic < 2) throw new StreamError('invalid-record', `message format v${magic} is not accepted by Produce v3+: use v2 record batches`);
  if (magic > 2) throw new StreamError('corrupt', `unknown record batch magic ${magic}`);
  const bytes = records.readInt32BE(8) + BATCH_LOG_OVERHEAD_BYTES;
  if (left - bytes >= BATCH_LOG_OVERHEAD_BYTES) {
    const next = records.readInt32BE(bytes + 8);
    if (next < LENGTH_MIN) throw new StreamError('corrupt', `record batch length ${next} is below the minimum ${LENGTH_MIN}`);
    if (left - bytes > MAGIC_AT && bytes + BATCH_LOG_OVERHEAD_BYTES + next <= left) {
      throw new StreamError('invalid-record', 'a produce request may carry exactly one record batch per partition');
    }
  }
  const batch = records.subarray(0, bytes);
  if (batch.readBigInt64BE(0) !== 0n) {
    throw new StreamError('invalid-record', `the base offset of a produced record batch must be 0, not ${batch.readBigInt64BE(0)}`);
  }
  if (bytes > maxBytes) throw new StreamError('too-large', `record batch of ${bytes} bytes is larger than max.message.bytes ${maxBytes}`);
  if (bytes < BATCH_OVERHEAD_BYTES) throw new StreamError('corrupt', `record batch of ${bytes} bytes is shorter than its ${BATCH_OVERHEAD_BYTES}-byte header`);
  if (crc32c(batch.subarray(ATTRIBUTES_AT)) !== batch.readUInt32BE(CRC_AT)) throw new StreamError('corrupt', 'record batch CRC32C mismatch');
  const h = readBatchHeader(batch);
  if (h.recordsCount <= 0 || h.lastOffsetDelta + 1 !== h.recordsCount) {
    throw new StreamError('invalid-record', `record batch with ${h.recordsCount} records and last offset delta ${h.lastOffsetDelta}`);
  }
  if ((h.attributes & ATTR_CONTROL) !== 0) throw new StreamError('invalid-record', 'clients may not write control batches');
  if (h.producerId >= 0 && h.baseSequence < 0) {
    throw new StreamError('invalid-record', `invalid sequence number ${h.baseSequence} in a batch of producer ${h.producerId}`);
  }
  return batch;
}

/**
 * Checks that the records of an uncompressed batch parse (Kafka's DefaultRecord.readFrom):
 * each a length, then attributes, timestamp and offset deltas, key, value and headers filling
 * exactly that length, `count` of them filling the batch. Compressed batches are checked by the
 * caller, which has the codecs. Throws 'invalid-record'.
 */
export function checkUncompressedRecords(batch: Buffer, count: number): void {
  const r = new VarReader(batch, BATCH_OVERHEAD_BYTES);
  for (let i = 0; i < count; i++) {
    const length = r.varint();
    if (length <= 0 || length > batch.length - r.pos) bad(`record ${i} has length ${length} with ${batch.length - r.pos} bytes left`);
    const end = r.pos + length;
    r.skip(1); // attributes
    r.varint(); // timestamp delta (a varlong; its value is not checked)
    r.varint(); // offset delta
    r.bytes(end); // key
    r.bytes(end); // value
    const headers = r.varint();
    if (headers < 0 || headers > end - r.pos) bad(`record ${i} has ${headers} headers`);
    for (let k = 0; k < headers; k++) {
      if (r.bytes(end) < 0) bad(`record ${i} has a header with a null key`);
      r.bytes(end);
    }
    if (r.pos !== end) bad(`record ${i} of ${length} bytes holds ${r.pos - (end - length)} bytes of fields`);
  }
  if (r.pos !== batch.length) bad(`${batch.length - r.pos} bytes after the last of ${count} records`);
}

function bad(message: string): never {
  throw new StreamError('invalid-record', message);
}

/** Zig-zag varints (up to 10 bytes, as varlongs) with bounds checks, for checkUncompressedRecords. */
class VarReader {
  constructor(
    private readonly buf: Buffer,
    public pos: number,
  ) {}

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) bad('record truncated inside a varint');
      const b = this.buf[this.pos++];
      value += (b & 0x7f) * scale;
      scale *= 128;
      if ((b & 0x80) === 0) {
        // Zig-zag: even is positive, odd is negative (precision past 2^53 does not matter here).
        return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
      }
    }
    return bad('varint longer than 10 bytes');
  }

  skip(n: number): void {
    if (this.pos + n > this.buf.length) bad('record truncated');
    this.pos += n;
  }

  /** A varint length then that many bytes (any negative length is null, as in Kafka's DefaultRecord), all before `end`; returns the length. */
  bytes(end: number): number {
    const n = this.varint();
    if (this.pos + Math.max(n, 0) > end) bad(`record field of ${n} bytes does not fit its record`);
    if (n > 0) this.pos += n;
    return n;
  }
}
