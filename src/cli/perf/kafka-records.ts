// Record batches for `wharf perf-kafka`, built without per-record work beyond one float64.
// Every record has no key, no headers, a timestamp delta of 0 and a value of the same size,
// so a batch of n records is the first n records of one pre-encoded template: the producer
// copies the template once per pooled buffer, writes each record's creation time into the
// first 8 bytes of its value (the rest is random capital letters, as Kafka's
// ProducerPerformance sends, so compression has something realistic to do), then fills in
// the header fields and the CRC-32C. The consumer walks records only to read those times.
//
// Record v2 layout (https://kafka.apache.org/documentation/#record): length varint,
// attributes int8, timestampDelta varlong, offsetDelta varint, key (varint length, -1 =
// null), value (varint length + bytes), header count varint.

import { Compression, RECORD_BATCH_HEADER_BYTES, compress, computeBatchCrc, decompress } from '../../protocol/kafka/index.js';
import { VALUE_HEADER_BYTES, type CompressionName } from './kafka-options.js';

const LOG_OVERHEAD_BYTES = 12;
const CRC_AT = 17;
const ATTRIBUTES_AT = 21;
const LAST_OFFSET_DELTA_AT = 23;
const BASE_TIMESTAMP_AT = 27;
const MAX_TIMESTAMP_AT = 35;
const RECORDS_COUNT_AT = 57;
const COMPRESSION_MASK = 0x07;

export const CODECS: Readonly<Record<CompressionName, number>> = {
  none: Compression.NONE,
  gzip: Compression.GZIP,
  snappy: Compression.SNAPPY,
  lz4: Compression.LZ4,
  zstd: Compression.ZSTD,
};

function zigzagBytes(n: number): number {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  let bytes = 1;
  while (z >= 0x80) {
    z = Math.floor(z / 128);
    bytes++;
  }
  return bytes;
}

function writeZigzag(buf: Buffer, at: number, n: number): number {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  while (z >= 0x80) {
    buf[at++] = (z % 128) | 0x80;
    z = Math.floor(z / 128);
  }
  buf[at++] = z;
  return at;
}

/** A pre-encoded batch of `capacity` records; batches of fewer records are its prefixes. */
export class BatchTemplate {
  private readonly template: Buffer;
  /** Where record i's value starts. */
  readonly valueAt: Int32Array;
  /** Where record i ends (so a batch of n records ends at endAt[n - 1]). */
  private readonly endAt: Int32Array;
  private readonly pool: Buffer[] = [];

  constructor(
    readonly capacity: number,
    readonly valueBytes: number,
  ) {
    const filler = Buffer.allocUnsafe(valueBytes);
    for (let i = 0; i < valueBytes; i++) filler[i] = 65 + Math.floor(Math.random() * 26);
    let total = RECORD_BATCH_HEADER_BYTES;
    for (let i = 0; i < capacity; i++) {
      const body = recordBodyBytes(i, valueBytes);
      total += zigzagBytes(body) + body;
    }
    const t = Buffer.alloc(total);
    this.valueAt = new Int32Array(capacity);
    this.endAt = new Int32Array(capacity);
    t[16] = 2; // magic
    t.writeInt32BE(-1, 12); // partitionLeaderEpoch
    t.writeBigInt64BE(-1n, 43); // producerId
    t.writeInt16BE(-1, 51); // producerEpoch
    t.writeInt32BE(-1, 53); // baseSequence
    let p = RECORD_BATCH_HEADER_BYTES;
    for (let i = 0; i < capacity; i++) {
      p = writeZigzag(t, p, recordBodyBytes(i, valueBytes));
      t[p++] = 0; // attributes
      t[p++] = 0; // timestampDelta 0
      p = writeZigzag(t, p, i); // offsetDelta
      p = writeZigzag(t, p, -1); // null key
      p = writeZigzag(t, p, valueBytes);
      this.valueAt[i] = p;
      filler.copy(t, p);
      p += valueBytes;
      t[p++] = 0; // no headers
      this.endAt[i] = p;
    }
    this.template = t;
  }

  /** A buffer laid out as the template (its values' times are stale until written). */
  acquire(): Buffer {
    return this.pool.pop() ?? Buffer.from(this.template);
  }

  /** Gives a buffer back once the broker has it (its request was answered). */
  release(buf: Buffer): void {
    if (buf.length === this.template.length) this.pool.push(buf);
  }

  /** Writes record i's creation time. */
  stamp(buf: Buffer, i: number, createdMs: number): void {
    buf.writeDoubleLE(createdMs, this.valueAt[i]);
  }

  /** The first n records of `buf` as a whole uncompressed batch (a view of `buf`), CRC included. */
  seal(buf: Buffer, n: number, baseTimestampMs: number): Buffer {
    const end = this.endAt[n - 1];
    const ts = BigInt(Math.floor(baseTimestampMs));
    buf.writeBigInt64BE(0n, 0);
    buf.writeInt32BE(end - LOG_OVERHEAD_BYTES, 8);
    buf.writeInt16BE(0, ATTRIBUTES_AT);
    buf.writeInt32BE(n - 1, LAST_OFFSET_DELTA_AT);
    buf.writeBigInt64BE(ts, BASE_TIMESTAMP_AT);
    buf.writeBigInt64BE(ts, MAX_TIMESTAMP_AT);
    buf.writeInt32BE(n, RECORDS_COUNT_AT);
    const batch = buf.subarray(0, end);
    batch.writeUInt32BE(computeBatchCrc(batch), CRC_AT);
    return batch;
  }
}

function recordBodyBytes(i: number, valueBytes: number): number {
  // attributes, timestampDelta, offsetDelta, null key, value length, value, header count
  return 1 + 1 + zigzagBytes(i) + 1 + zigzagBytes(valueBytes) + valueBytes + 1;
}

/** A sealed uncompressed batch compressed with `codec`: a new buffer with the header re-done. */
export async function compressBatch(batch: Buffer, codec: number): Promise<Buffer> {
  const body = await compress(codec, batch.subarray(RECORD_BATCH_HEADER_BYTES));
  const out = Buffer.allocUnsafe(RECORD_BATCH_HEADER_BYTES + body.length);
  batch.copy(out, 0, 0, RECORD_BATCH_HEADER_BYTES);
  body.copy(out, RECORD_BATCH_HEADER_BYTES);
  out.writeInt32BE(out.length - LOG_OVERHEAD_BYTES, 8);
  out.writeInt16BE((batch.readInt16BE(ATTRIBUTES_AT) & ~COMPRESSION_MASK) | codec, ATTRIBUTES_AT);
  out.writeUInt32BE(computeBatchCrc(out), CRC_AT);
  return out;
}

// ---- reading fetched batches -------------------------------------------------------------

export interface BatchSummary {
  /** Offset of the first record. */
  baseOffset: number;
  /** One past the last record's offset. */
  nextOffset: number;
  recordsCount: number;
  /** Where the batch starts and ends in the records buffer. */
  start: number;
  end: number;
}

/**
 * Visits each whole batch of a fetched records field (a fetch may end in a batch cut short by
 * the size limit, which is left out, as clients do). Returns the offset after the last whole batch,
 * or -1 if there was none.
 */
export function forEachBatch(records: Buffer, visit: (b: BatchSummary) => void): number {
  let p = 0;
  let next = -1;
  const b: BatchSummary = { baseOffset: 0, nextOffset: 0, recordsCount: 0, start: 0, end: 0 };
  while (records.length - p >= RECORD_BATCH_HEADER_BYTES) {
    const end = p + LOG_OVERHEAD_BYTES + records.readInt32BE(p + 8);
    if (end > records.length) break;
    b.baseOffset = Number(records.readBigInt64BE(p));
    b.nextOffset = b.baseOffset + records.readInt32BE(p + LAST_OFFSET_DELTA_AT) + 1;
    b.recordsCount = records.readInt32BE(p + RECORDS_COUNT_AT);
    b.start = p;
    b.end = end;
    visit(b);
    next = b.nextOffset;
    p = end;
  }
  return next;
}

let at = 0;

/** Reads a zigzag varint at `at` (the module cursor) and advances it; one byte is the common case. */
function varint(buf: Buffer): number {
  const first = buf[at++];
  if (first < 0x80) return (first >>> 1) ^ -(first & 1);
  let value = first & 0x7f;
  let scale = 128;
  for (;;) {
    const byte = buf[at++];
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) break;
    scale *= 128;
    if (scale > 2 ** 63) throw new Error('varint too long');
  }
  return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
}

/** Steps over a varint or varlong whose value is not needed. */
function skipVarint(buf: Buffer): void {
  while (buf[at++] >= 0x80);
}

/**
 * The creation times in the values of a batch's records (decompressed if need be), as runs of
 * equal times: onRun(createdMs, count). The first `skip` records are left out (they precede the
 * fetch offset). Values shorter than a time, and times of 0 (records not made by perf-kafka),
 * are not reported.
 */
export function creationTimes(records: Buffer, b: BatchSummary, skip: number, onRun: (createdMs: number, count: number) => void): void {
  const codec = records.readInt16BE(b.start + ATTRIBUTES_AT) & COMPRESSION_MASK;
  let body = records;
  at = b.start + RECORD_BATCH_HEADER_BYTES;
  let stop = b.end;
  if (codec !== Compression.NONE) {
    body = decompress(codec, records.subarray(at, b.end));
    at = 0;
    stop = body.length;
  }
  let runMs = 0;
  let runCount = 0;
  for (let i = 0; i < b.recordsCount && at < stop; i++) {
    const length = varint(body);
    const recordEnd = at + length;
    at++; // attributes
    skipVarint(body); // timestampDelta
    skipVarint(body); // offsetDelta
    const keyLength = varint(body);
    if (keyLength > 0) at += keyLength;
    const valueLength = varint(body);
    const created = i >= skip && valueLength >= VALUE_HEADER_BYTES ? body.readDoubleLE(at) : 0;
    at = recordEnd;
    if (created === runMs) {
      runCount++;
      continue;
    }
    if (runCount > 0 && runMs > 0) onRun(runMs, runCount);
    runMs = created;
    runCount = 1;
  }
  if (runCount > 0 && runMs > 0) onRun(runMs, runCount);
}
