// The cleaner's key -> latest offset map (Kafka's SkimpyOffsetMap): a fixed-size open-addressing
// table in typed arrays, holding for each key only its 128-bit hash and the offset, so a pass's
// memory is fixed whatever the keys look like. Kafka fills its map to 90% (log.cleaner.io.buffer.
// load.factor); a pass over more distinct keys than that cleans a prefix of the dirty log and
// leaves the rest for the next pass. Probing is double hashing over a prime number of slots, so
// lookups stay short even at 90% full. Nothing here allocates per key.

import { murmur3x86x128 } from './murmur3.js';

/** Bytes per slot: a 16-byte hash and an 8-byte offset. */
export const OFFSET_MAP_SLOT_BYTES = 24;
/** Kafka's dedupe buffer load factor: the map counts as full at this share of its slots. */
export const OFFSET_MAP_LOAD_FACTOR = 0.9;

const EMPTY = -1;

function isPrime(n: number): boolean {
  if (n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

export class OffsetMap {
  readonly slots: number;
  /** Keys it takes before it counts as full. */
  readonly capacity: number;
  private readonly hashes: Uint32Array;
  private readonly offsets: Float64Array;
  private readonly hash = new Uint32Array(4);
  private entries = 0;
  /** The highest offset the map covers: records past it were not looked at by this pass. */
  latestOffset = -1;
  /** Probes made by put/get, for the utilisation numbers. */
  probes = 0;

  /** A map using about `memoryBytes` (at least a few slots). */
  constructor(memoryBytes: number) {
    let slots = Math.max(5, Math.floor(memoryBytes / OFFSET_MAP_SLOT_BYTES));
    while (!isPrime(slots)) slots--;
    this.slots = slots;
    this.capacity = Math.max(1, Math.floor(slots * OFFSET_MAP_LOAD_FACTOR));
    this.hashes = new Uint32Array(slots * 4);
    this.offsets = new Float64Array(slots).fill(EMPTY);
  }

  get size(): number {
    return this.entries;
  }

  get full(): boolean {
    return this.entries >= this.capacity;
  }

  /** Share of the slots in use. */
  get utilization(): number {
    return this.entries / this.slots;
  }

  clear(): void {
    this.offsets.fill(EMPTY);
    this.entries = 0;
    this.latestOffset = -1;
    this.probes = 0;
  }

  /**
   * Records `offset` as the latest for the key in bytes [start, start + length) of `data` (a later
   * offset for a known key replaces it). False, and nothing changes, if the key is new and the
   * map is full.
   */
  put(data: Uint8Array, start: number, length: number, offset: number): boolean {
    const slot = this.find(data, start, length);
    if (this.offsets[slot] === EMPTY) {
      if (this.entries >= this.capacity) return false;
      const h = this.hash;
      const at = slot * 4;
      this.hashes[at] = h[0];
      this.hashes[at + 1] = h[1];
      this.hashes[at + 2] = h[2];
      this.hashes[at + 3] = h[3];
      this.entries++;
    }
    this.offsets[slot] = offset;
    return true;
  }

  /** The latest offset recorded for the key, or -1. */
  get(data: Uint8Array, start: number, length: number): number {
    return this.offsets[this.find(data, start, length)];
  }

  /** Raises latestOffset (it never goes down within a pass). */
  updateLatestOffset(offset: number): void {
    if (offset > this.latestOffset) this.latestOffset = offset;
  }

  /** The key's slot, or the empty slot where it would go. */
  private find(data: Uint8Array, start: number, length: number): number {
    const h = this.hash;
    murmur3x86x128(data, start, length, 0, h);
    const slots = this.slots;
    let slot = h[0] % slots;
    const step = 1 + (h[1] % (slots - 1));
    for (;;) {
      this.probes++;
      if (this.offsets[slot] === EMPTY) return slot;
      const at = slot * 4;
      const hs = this.hashes;
      if (hs[at] === h[0] && hs[at + 1] === h[1] && hs[at + 2] === h[2] && hs[at + 3] === h[3]) return slot;
      slot += step;
      if (slot >= slots) slot -= slots;
    }
  }
}
