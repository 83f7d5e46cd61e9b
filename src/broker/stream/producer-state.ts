// Idempotent producers on one partition (Kafka's ProducerStateManager): per producer id the
// epoch and the last five batches' sequence ranges with their offsets, so a retried batch that
// was already appended is answered with its original offset instead of being appended again,
// and a gap in the sequence is refused. The state is part of each sealed segment's index file
// (a snapshot as of the segment's end) and rebuilt from there plus the batches after it.

import { StreamError } from './errors.js';

/** Kafka's NO_PRODUCER_ID: a producer without idempotence. */
export const NO_PRODUCER_ID = -1;
/** Batches remembered per producer and partition, as Kafka does. */
export const PRODUCER_BATCHES_MAX = 5;
/** Kafka's producer.id.expiration.ms default: a day without a write forgets a producer. */
export const PRODUCER_EXPIRATION_MS = 24 * 60 * 60 * 1000;

const INT32_MAX = 0x7fff_ffff;

export interface ProducerBatch {
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
}

interface ProducerEntry {
  epoch: number;
  batches: ProducerBatch[];
  lastWriteMs: number;
}

/** What to do with a producer's batch: append it, or answer with the offset it already has. */
export type SequenceCheck = { readonly duplicate: false } | { readonly duplicate: true; readonly baseOffset: number };

const APPEND: SequenceCheck = { duplicate: false };

/** Sequences wrap from INT32_MAX to 0 (Kafka's DefaultRecordBatch.incrementSequence). */
export function lastSequence(firstSeq: number, lastOffsetDelta: number): number {
  return firstSeq > INT32_MAX - lastOffsetDelta ? lastOffsetDelta - (INT32_MAX - firstSeq) - 1 : firstSeq + lastOffsetDelta;
}

function inSequence(lastSeq: number, nextSeq: number): boolean {
  return nextSeq === lastSeq + 1 || (nextSeq === 0 && lastSeq === INT32_MAX);
}

export class ProducerStateTable {
  private readonly producers = new Map<number, ProducerEntry>();

  get size(): number {
    return this.producers.size;
  }

  /**
   * Checks a batch of producer `pid` (Kafka's ProducerAppendInfo rules): an older epoch is
   * fenced; a known batch is a duplicate; a new epoch must start at sequence 0; otherwise the
   * batch must follow the last one. An unknown producer may start anywhere (its state may have
   * expired or been deleted with old segments).
   */
  check(pid: number, epoch: number, firstSeq: number, lastSeq: number): SequenceCheck {
    if (pid === NO_PRODUCER_ID) return APPEND;
    const e = this.producers.get(pid);
    if (!e) return APPEND;
    if (epoch < e.epoch) {
      throw new StreamError('producer-fenced', `producer ${pid} epoch ${epoch} is older than the current epoch ${e.epoch}`);
    }
    if (epoch > e.epoch) {
      if (firstSeq !== 0) {
        throw new StreamError('out-of-order-sequence', `producer ${pid}: a new epoch ${epoch} must start at sequence 0, not ${firstSeq}`);
      }
      return APPEND;
    }
    for (const b of e.batches) if (b.firstSeq === firstSeq && b.lastSeq === lastSeq) return { duplicate: true, baseOffset: b.baseOffset };
    const last = e.batches[e.batches.length - 1];
    if (last && !inSequence(last.lastSeq, firstSeq)) {
      throw new StreamError(
        'out-of-order-sequence',
        `producer ${pid} epoch ${epoch}: sequence ${firstSeq} does not follow ${last.lastSeq}`,
      );
    }
    return APPEND;
  }

  /** Remembers an appended batch (also used when replaying the log, where no check applies). */
  record(pid: number, epoch: number, batch: ProducerBatch, nowMs: number): void {
    if (pid === NO_PRODUCER_ID) return;
    let e = this.producers.get(pid);
    if (!e) {
      e = { epoch, batches: [], lastWriteMs: nowMs };
      this.producers.set(pid, e);
    }
    if (epoch !== e.epoch) {
      e.epoch = epoch;
      e.batches = [];
    }
    e.batches.push(batch);
    if (e.batches.length > PRODUCER_BATCHES_MAX) e.batches.shift();
    e.lastWriteMs = nowMs;
  }

  /** The epoch last seen for a producer, if any. */
  epochOf(pid: number): number | undefined {
    return this.producers.get(pid)?.epoch;
  }

  /** Per producer, the last offset of its last batch: the cleaner keeps that batch (compaction/). */
  lastOffsets(): Map<number, number> {
    const out = new Map<number, number>();
    for (const [pid, e] of this.producers) {
      const last = e.batches[e.batches.length - 1];
      if (last) out.set(pid, last.lastOffset);
    }
    return out;
  }

  /** Forgets producers idle longer than `expirationMs`. */
  expire(nowMs: number, expirationMs = PRODUCER_EXPIRATION_MS): void {
    for (const [pid, e] of this.producers) if (nowMs - e.lastWriteMs > expirationMs) this.producers.delete(pid);
  }

  /** Binary snapshot: u32 count, then per producer pid f64, epoch i16, lastWrite f64, n u8, n x (4 x f64). */
  encode(): Buffer {
    let bytes = 4;
    for (const e of this.producers.values()) bytes += 8 + 2 + 8 + 1 + e.batches.length * 32;
    const b = Buffer.alloc(bytes);
    let o = b.writeUInt32BE(this.producers.size, 0);
    for (const [pid, e] of this.producers) {
      o = b.writeDoubleBE(pid, o);
      o = b.writeInt16BE(e.epoch, o);
      o = b.writeDoubleBE(e.lastWriteMs, o);
      o = b.writeUInt8(e.batches.length, o);
      for (const x of e.batches) {
        o = b.writeDoubleBE(x.firstSeq, o);
        o = b.writeDoubleBE(x.lastSeq, o);
        o = b.writeDoubleBE(x.baseOffset, o);
        o = b.writeDoubleBE(x.lastOffset, o);
      }
    }
    return b;
  }

  /** Inverse of encode(); throws RangeError on malformed input (the caller's checksum guards it). */
  static decode(b: Buffer): ProducerStateTable {
    const t = new ProducerStateTable();
    let o = 0;
    const count = b.readUInt32BE(o);
    o += 4;
    for (let i = 0; i < count; i++) {
      const pid = b.readDoubleBE(o);
      const epoch = b.readInt16BE(o + 8);
      const lastWriteMs = b.readDoubleBE(o + 10);
      const n = b.readUInt8(o + 18);
      o += 19;
      const batches: ProducerBatch[] = [];
      for (let k = 0; k < n; k++, o += 32) {
        batches.push({
          firstSeq: b.readDoubleBE(o),
          lastSeq: b.readDoubleBE(o + 8),
          baseOffset: b.readDoubleBE(o + 16),
          lastOffset: b.readDoubleBE(o + 24),
        });
      }
      t.producers.set(pid, { epoch, batches, lastWriteMs });
    }
    return t;
  }

  clone(): ProducerStateTable {
    return ProducerStateTable.decode(this.encode());
  }
}
