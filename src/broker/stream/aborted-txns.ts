// Aborted transactions of one partition (Kafka's transaction index): for each transaction an
// ABORT marker ended, the producer, the offset of its first batch, the marker's offset, and the
// partition's last stable offset just after the marker. A read_committed Fetch returns the
// aborted transactions that overlap the batches it returns, and the client drops those
// producers' records between the first offset and the marker. Entries belong to the segment
// holding their marker: they are saved in that segment's index file once it is sealed (with the
// producer state, see segmentState below) and go when retention deletes the segment.

import { ProducerStateTable } from './producer-state.js';

export interface AbortedTxn {
  readonly producerId: number;
  readonly firstOffset: number;
  /** The ABORT marker's offset. */
  readonly lastOffset: number;
  /** The last stable offset once the marker was appended: entries after one with lastStableOffset >= an upper bound all start at or past it. */
  readonly lastStableOffset: number;
  /** Segment id holding the marker. */
  readonly segment: number;
}

const ENTRY_BYTES = 32;

export class AbortedTxnIndex {
  /** In marker order, so by lastOffset. */
  private entries: AbortedTxn[] = [];

  get size(): number {
    return this.entries.length;
  }

  add(t: AbortedTxn): void {
    this.entries.push(t);
  }

  /** Entries of a segment loaded from its index file (segments load oldest first). */
  load(segment: number, list: readonly Omit<AbortedTxn, 'segment'>[]): void {
    for (const t of list) this.entries.push({ ...t, segment });
  }

  /**
   * Aborted transactions with records in [fetchOffset, upperBound): those whose marker is at or
   * after fetchOffset and whose first offset is below upperBound (Kafka's collectAbortedTxns).
   */
  collect(fetchOffset: number, upperBound: number): AbortedTxn[] {
    const out: AbortedTxn[] = [];
    for (let i = this.firstEndingAtOrAfter(fetchOffset); i < this.entries.length; i++) {
      const t = this.entries[i];
      if (t.firstOffset < upperBound) out.push(t);
      // Every transaction that ended later began after this point: none of them can overlap.
      if (t.lastStableOffset >= upperBound) break;
    }
    return out;
  }

  private firstEndingAtOrAfter(offset: number): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.entries[mid].lastOffset < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The entries whose markers are in `segment`. */
  ofSegment(segment: number): AbortedTxn[] {
    return this.entries.filter((t) => t.segment === segment);
  }

  /**
   * Compaction replaced the segments `ids` by one new segment with id `into`: their entries now
   * belong to it (their order, by marker offset, does not change).
   */
  mergeSegments(ids: readonly number[], into: number): void {
    const merged = new Set(ids);
    this.entries = this.entries.map((t) => (merged.has(t.segment) && t.segment !== into ? { ...t, segment: into } : t));
  }

  /** Retention deleted the segments before `segment`. */
  dropSegmentsBefore(segment: number): void {
    this.entries = this.entries.filter((t) => t.segment >= segment);
  }
}

/**
 * What a sealed segment's index file holds besides offsets: the producer state as of the
 * segment's end and the aborted transactions whose markers are in the segment. Layout:
 * u32 0xffffffff, u8 version (2), u32 producer bytes, the ProducerStateTable snapshot,
 * u32 n, n x (f64 producerId, f64 firstOffset, f64 lastOffset, f64 lastStableOffset).
 * Index files written before transactions hold a bare version-1 producer snapshot.
 */
export function encodeSegmentState(producers: Buffer, aborted: readonly AbortedTxn[]): Buffer {
  const b = Buffer.alloc(4 + 1 + 4 + producers.length + 4 + aborted.length * ENTRY_BYTES);
  let o = b.writeUInt32BE(SEGMENT_STATE_MAGIC, 0);
  o = b.writeUInt8(SEGMENT_STATE_VERSION, o);
  o = b.writeUInt32BE(producers.length, o);
  o += producers.copy(b, o);
  o = b.writeUInt32BE(aborted.length, o);
  for (const t of aborted) {
    o = b.writeDoubleBE(t.producerId, o);
    o = b.writeDoubleBE(t.firstOffset, o);
    o = b.writeDoubleBE(t.lastOffset, o);
    o = b.writeDoubleBE(t.lastStableOffset, o);
  }
  return b;
}

const SEGMENT_STATE_MAGIC = 0xffff_ffff;
const SEGMENT_STATE_VERSION = 2;

export interface SegmentState {
  readonly producers: ProducerStateTable;
  readonly aborted: Omit<AbortedTxn, 'segment'>[];
}

/** Inverse of encodeSegmentState (and reads version 1); throws RangeError on malformed input. */
export function decodeSegmentState(b: Buffer): SegmentState {
  if (b.length < 5 || b.readUInt32BE(0) !== SEGMENT_STATE_MAGIC) return { producers: ProducerStateTable.decode(b), aborted: [] };
  if (b[4] !== SEGMENT_STATE_VERSION) throw new RangeError(`segment state version ${b[4]}`);
  const producerBytes = b.readUInt32BE(5);
  let o = 9;
  const producers = ProducerStateTable.decode(b.subarray(o, o + producerBytes));
  o += producerBytes;
  const n = b.readUInt32BE(o);
  o += 4;
  if (o + n * ENTRY_BYTES !== b.length) throw new RangeError('segment state: aborted transactions do not fill the rest');
  const aborted: Omit<AbortedTxn, 'segment'>[] = [];
  for (let i = 0; i < n; i++, o += ENTRY_BYTES) {
    aborted.push({ producerId: b.readDoubleBE(o), firstOffset: b.readDoubleBE(o + 8), lastOffset: b.readDoubleBE(o + 16), lastStableOffset: b.readDoubleBE(o + 24) });
  }
  return { producers, aborted };
}
