// Idempotent and transactional producers on one partition (Kafka's ProducerStateManager): per
// producer id the epoch and the last five batches' sequence ranges with their offsets, so a
// retried batch that was already appended is answered with its original offset instead of being
// appended again, and a gap in the sequence is refused; and the producer's open transaction (the
// offset of its first batch), which holds the partition's last stable offset back until a
// transaction marker ends it. The state is part of each sealed segment's index file (a snapshot
// as of the segment's end) and rebuilt from there plus the batches after it.

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
  /** Offset of the first batch of the producer's open transaction; -1 when none is open. */
  txnFirstOffset: number;
  /** The transaction coordinator epoch of the last marker (-1 before any). */
  coordinatorEpoch: number;
}

/** A transaction a marker ended on this partition (Kafka's CompletedTxn). */
export interface CompletedTxn {
  readonly producerId: number;
  readonly firstOffset: number;
  /** The marker's offset. */
  readonly lastOffset: number;
  readonly aborted: boolean;
}

/** Marks a snapshot in the version-2 layout (a v1 snapshot starts with its producer count). */
const SNAPSHOT_V2 = 0xffff_fffe;

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
  /** Producer id -> first offset of its open transaction. */
  private readonly ongoing = new Map<number, number>();
  /** Transactions ended by markers the high watermark has not passed yet, in marker order. */
  private readonly unstable: CompletedTxn[] = [];

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

  /**
   * Kafka's InvalidTxnStateException: a producer with an open transaction on this partition may
   * only write transactional batches until a marker ends it.
   */
  checkTxn(pid: number, transactional: boolean): void {
    if (pid === NO_PRODUCER_ID || transactional) return;
    const e = this.producers.get(pid);
    if (e && e.txnFirstOffset >= 0) {
      throw new StreamError('invalid-txn-state', `producer ${pid} has an open transaction on this partition: expected a transactional batch`);
    }
  }

  /**
   * Remembers an appended batch (also used when replaying the log, where no check applies). The
   * first transactional batch of a producer with no open transaction opens one at its offset.
   */
  record(pid: number, epoch: number, batch: ProducerBatch, nowMs: number, transactional = false): void {
    if (pid === NO_PRODUCER_ID) return;
    const e = this.entry(pid, epoch, nowMs);
    if (epoch !== e.epoch) {
      e.epoch = epoch;
      e.batches = [];
    }
    e.batches.push(batch);
    if (e.batches.length > PRODUCER_BATCHES_MAX) e.batches.shift();
    e.lastWriteMs = nowMs;
    if (transactional && e.txnFirstOffset < 0) {
      e.txnFirstOffset = batch.baseOffset;
      this.ongoing.set(pid, batch.baseOffset);
    }
  }

  private entry(pid: number, epoch: number, nowMs: number): ProducerEntry {
    let e = this.producers.get(pid);
    if (!e) {
      e = { epoch, batches: [], lastWriteMs: nowMs, txnFirstOffset: -1, coordinatorEpoch: -1 };
      this.producers.set(pid, e);
    }
    return e;
  }

  /**
   * Checks a transaction marker before it is appended (Kafka's ProducerAppendInfo.appendEndTxnMarker):
   * an epoch older than the producer's is fenced, a coordinator epoch older than the last marker's
   * is a zombie coordinator ('coordinator-fenced'). Throws StreamError.
   */
  checkMarker(pid: number, epoch: number, coordinatorEpoch: number): void {
    const e = this.producers.get(pid);
    if (!e) return;
    if (epoch < e.epoch) throw new StreamError('producer-fenced', `marker of producer ${pid} epoch ${epoch} is older than the current epoch ${e.epoch}`);
    if (coordinatorEpoch < e.coordinatorEpoch) {
      throw new StreamError('coordinator-fenced', `marker of producer ${pid} from coordinator epoch ${coordinatorEpoch}, older than ${e.coordinatorEpoch}`);
    }
  }

  /**
   * A marker at `offset` ends the producer's open transaction (if any; a marker without data on
   * this partition ends nothing) and moves it to the marker's epoch. The completed transaction
   * stays unstable (it holds the last stable offset back) until the high watermark passes the marker.
   */
  endTxn(pid: number, epoch: number, coordinatorEpoch: number, offset: number, aborted: boolean, nowMs: number): CompletedTxn | undefined {
    const e = this.entry(pid, epoch, nowMs);
    if (epoch !== e.epoch) {
      e.epoch = epoch;
      e.batches = [];
    }
    e.coordinatorEpoch = coordinatorEpoch;
    e.lastWriteMs = nowMs;
    if (e.txnFirstOffset < 0) return undefined;
    const done: CompletedTxn = { producerId: pid, firstOffset: e.txnFirstOffset, lastOffset: offset, aborted };
    e.txnFirstOffset = -1;
    this.ongoing.delete(pid);
    this.unstable.push(done);
    return done;
  }

  /** The producer's open transaction on this partition starts here (undefined: none is open). */
  openTxnFirstOffset(pid: number): number | undefined {
    return this.ongoing.get(pid);
  }

  /** Transactions open on this partition. */
  get openTxnCount(): number {
    return this.ongoing.size;
  }

  /**
   * The first offset a read_committed reader may not pass: the first offset of the earliest open
   * transaction, or of a completed one whose marker is not durable yet; undefined if there is none.
   */
  firstUnstableOffset(): number | undefined {
    let first = this.firstOpenOffset();
    for (const t of this.unstable) if (first === undefined || t.firstOffset < first) first = t.firstOffset;
    return first;
  }

  /** The first offset of the earliest open transaction, if any. */
  firstOpenOffset(): number | undefined {
    let first: number | undefined;
    for (const o of this.ongoing.values()) if (first === undefined || o < first) first = o;
    return first;
  }

  /** The high watermark moved: completed transactions whose markers are below it are stable. */
  markStable(highWatermark: number): void {
    let n = 0;
    while (n < this.unstable.length && this.unstable[n].lastOffset < highWatermark) n++;
    if (n > 0) this.unstable.splice(0, n);
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

  /** Forgets producers idle longer than `expirationMs` (never one with an open transaction, as Kafka). */
  expire(nowMs: number, expirationMs = PRODUCER_EXPIRATION_MS): void {
    for (const [pid, e] of this.producers) if (e.txnFirstOffset < 0 && nowMs - e.lastWriteMs > expirationMs) this.producers.delete(pid);
  }

  /**
   * Binary snapshot (version 2): u32 0xfffffffe, u32 count, then per producer pid f64, epoch i16,
   * lastWrite f64, txnFirstOffset f64 (-1: none), coordinatorEpoch i32, n u8, n x (4 x f64).
   * Completed transactions still unstable are not in it: a snapshot is read after a restart, when
   * everything in the log is durable.
   */
  encode(): Buffer {
    let bytes = 8;
    for (const e of this.producers.values()) bytes += 8 + 2 + 8 + 8 + 4 + 1 + e.batches.length * 32;
    const b = Buffer.alloc(bytes);
    let o = b.writeUInt32BE(SNAPSHOT_V2, 0);
    o = b.writeUInt32BE(this.producers.size, o);
    for (const [pid, e] of this.producers) {
      o = b.writeDoubleBE(pid, o);
      o = b.writeInt16BE(e.epoch, o);
      o = b.writeDoubleBE(e.lastWriteMs, o);
      o = b.writeDoubleBE(e.txnFirstOffset, o);
      o = b.writeInt32BE(e.coordinatorEpoch, o);
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

  /**
   * Inverse of encode(), also reading version 1 (no transaction fields, written before
   * transactions existed); throws RangeError on malformed input (the caller's checksum guards it).
   */
  static decode(b: Buffer): ProducerStateTable {
    const t = new ProducerStateTable();
    const v2 = b.length >= 4 && b.readUInt32BE(0) === SNAPSHOT_V2;
    let o = v2 ? 4 : 0;
    const count = b.readUInt32BE(o);
    o += 4;
    for (let i = 0; i < count; i++) {
      const pid = b.readDoubleBE(o);
      const epoch = b.readInt16BE(o + 8);
      const lastWriteMs = b.readDoubleBE(o + 10);
      o += 18;
      let txnFirstOffset = -1;
      let coordinatorEpoch = -1;
      if (v2) {
        txnFirstOffset = b.readDoubleBE(o);
        coordinatorEpoch = b.readInt32BE(o + 8);
        o += 12;
      }
      const n = b.readUInt8(o);
      o += 1;
      const batches: ProducerBatch[] = [];
      for (let k = 0; k < n; k++, o += 32) {
        batches.push({
          firstSeq: b.readDoubleBE(o),
          lastSeq: b.readDoubleBE(o + 8),
          baseOffset: b.readDoubleBE(o + 16),
          lastOffset: b.readDoubleBE(o + 24),
        });
      }
      t.producers.set(pid, { epoch, batches, lastWriteMs, txnFirstOffset, coordinatorEpoch });
      if (txnFirstOffset >= 0) t.ongoing.set(pid, txnFirstOffset);
    }
    if (o !== b.length) throw new RangeError(`producer snapshot has ${b.length - o} bytes left over`);
    return t;
  }

  clone(): ProducerStateTable {
    return ProducerStateTable.decode(this.encode());
  }
}
