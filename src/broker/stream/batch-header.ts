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
    lastOffsetDelta: buf.readInt32BE(at + 23),
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

/**
 * Splits a produce request's records into whole, valid v2 batches (views into `records`).
 * Anything else is a StreamError: 'corrupt' for bad lengths, CRCs or counts (Kafka's
 * CORRUPT_MESSAGE), 'unsupported-format' for magic 0/1 message sets.
 */
export function splitBatches(records: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < records.length) {
    if (records.length - at < BATCH_OVERHEAD_BYTES) {
      if (records.length - at > MAGIC_AT && records[at + MAGIC_AT] < 2) {
        throw new StreamError('unsupported-format', `message format v${records[at + MAGIC_AT]} is not supported; use v2 record batches`);
      }
      throw new StreamError('corrupt', `${records.length - at} trailing bytes are not a record batch`);
    }
    const magic = records[at + MAGIC_AT];
    if (magic !== 2) {
      throw new StreamError(
        magic < 2 ? 'unsupported-format' : 'corrupt',
        magic < 2 ? `message format v${magic} is not supported; use v2 record batches` : `unknown record batch magic ${magic}`,
      );
    }
    const bytes = records.readInt32BE(at + 8) + BATCH_LOG_OVERHEAD_BYTES;
    if (bytes < BATCH_OVERHEAD_BYTES || at + bytes > records.length) {
      throw new StreamError('corrupt', `record batch length ${bytes - BATCH_LOG_OVERHEAD_BYTES} does not fit the request`);
    }
    const batch = records.subarray(at, at + bytes);
    if (crc32c(batch.subarray(ATTRIBUTES_AT)) !== batch.readUInt32BE(CRC_AT)) {
      throw new StreamError('corrupt', 'record batch CRC32C mismatch');
    }
    const count = batch.readInt32BE(57);
    const lastOffsetDelta = batch.readInt32BE(23);
    if (count <= 0 || lastOffsetDelta < 0 || lastOffsetDelta < count - 1) {
      throw new StreamError('corrupt', `record batch with ${count} records and last offset delta ${lastOffsetDelta}`);
    }
    out.push(batch);
    at += bytes;
  }
  if (out.length === 0) throw new StreamError('corrupt', 'no record batch in the request');
  return out;
}
