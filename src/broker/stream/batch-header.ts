// The stored record batch, as the stream log sees it. A stream stores record batches in Kafka's
// v2 ("magic 2") format, exactly as a Kafka producer sends them with only the base offset (outside
// the CRC) rewritten, so a fetch returns the producer's bytes and a follower can copy the log as
// it is. The byte layout is protocol/kafka/record-batch.ts's; this file turns its checks into the
// stream's errors and its header into plain numbers (offsets and timestamps fit in 2^53).

import {
  CURRENT_MAGIC,
  MAGIC_OFFSET,
  checkBatch,
  readBatchHeader as readKafkaBatchHeader,
  splitBatches as splitKafkaBatches,
} from '../../protocol/kafka/record-batch.js';
import { StreamError } from './errors.js';

export interface BatchHeader {
  readonly baseOffset: number;
  readonly lastOffsetDelta: number;
  readonly maxTimestamp: number;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly recordsCount: number;
}

/** The header of a whole v2 batch starting at `buf[0]`. */
export function readBatchHeader(buf: Buffer): BatchHeader {
  const h = readKafkaBatchHeader(buf);
  return {
    baseOffset: Number(h.baseOffset),
    lastOffsetDelta: h.lastOffsetDelta,
    maxTimestamp: Number(h.maxTimestamp),
    producerId: Number(h.producerId),
    producerEpoch: h.producerEpoch,
    baseSequence: h.baseSequence,
    recordsCount: h.recordsCount,
  };
}

/** Where the last offset delta sits, for readers that need only that field. */
export const LAST_OFFSET_DELTA_AT = 23;

/**
 * Splits a produce request's records into whole, valid v2 batches (views into `records`).
 * Anything else is a StreamError: 'corrupt' for bad lengths, CRCs or counts (Kafka's
 * CORRUPT_MESSAGE), 'unsupported-format' for magic 0/1 message sets.
 */
export function splitBatches(records: Buffer): Buffer[] {
  let batches: Buffer[];
  try {
    batches = splitKafkaBatches(records).batches;
  } catch (err) {
    throw new StreamError('corrupt', (err as Error).message);
  }
  if (batches.length === 0) throw new StreamError('corrupt', 'no record batch in the request');
  for (const b of batches) {
    const magic = b[MAGIC_OFFSET];
    if (magic < CURRENT_MAGIC) {
      throw new StreamError('unsupported-format', `message format v${magic} is not supported; use v2 record batches`);
    }
    try {
      checkBatch(b);
    } catch (err) {
      throw new StreamError('corrupt', (err as Error).message);
    }
    const count = b.readInt32BE(57);
    const lastOffsetDelta = b.readInt32BE(LAST_OFFSET_DELTA_AT);
    if (count <= 0 || lastOffsetDelta < count - 1) {
      throw new StreamError('corrupt', `record batch with ${count} records and last offset delta ${lastOffsetDelta}`);
    }
  }
  return batches;
}
