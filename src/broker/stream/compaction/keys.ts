// A compacted stream keeps the latest record per key, so every record needs one: Kafka refuses a
// record without a key on a compacted topic (LogValidator.validateKey: INVALID_RECORD, "Compacted
// topic cannot accept message without key in topic partition ...").

import { forEachRecord, readBatchHeader, recordsBody } from '../../../protocol/kafka/record-batch.js';
import { StreamError } from '../errors.js';

/** Throws StreamError('invalid-record') if a record of the batch has no key ('corrupt' if it does not decode). */
export function requireKeys(batch: Buffer): void {
  let missing = -1;
  try {
    const h = readBatchHeader(batch);
    if (h.isControl) return;
    let i = 0;
    forEachRecord(recordsBody(batch, h), h.recordsCount, (r) => {
      if (r.keyLength < 0 && missing < 0) missing = i;
      i++;
    });
  } catch (err) {
    throw new StreamError('corrupt', `record batch does not decode: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (missing >= 0) throw new StreamError('invalid-record', `Compacted topic cannot accept message without key (record ${missing} of its batch)`);
}
