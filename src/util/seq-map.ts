// A Map from integer keys that mostly arrive in increasing order and mostly leave
// oldest first (a channel's unacked deliveries by tag), kept in a ring in key
// order: O(1) append and removal at the front, O(log n) lookup and removal
// elsewhere, and no allocation per entry.
//
// Why not a Map: a long-lived Map that gains and loses an entry per message
// reallocates its hash table as it grows and shrinks, and a table replacing one
// in the old generation is allocated there too. The dead tables still point at
// the values they held, and a scavenge treats every old-to-young pointer as a
// root: each dead table keeps its messages alive, so they are copied and
// promoted instead of dying young. In the broker that made every scavenge copy
// about a megabyte (2-4 ms instead of ~0.3 ms) and brought a major GC every second
// or two (docs/perf.md). Here a removed entry's slot is simply cleared.

/** A ring this large that is less than 1/8 full shrinks to a quarter (rare: after a big backlog). */
const SHRINK_ABOVE_CAPACITY = 1024;

export class SeqMap<V> implements Iterable<[number, V]> {
  private keys = new Float64Array(16);
  private vals: (V | undefined)[] = new Array<V | undefined>(16);
  /** Capacity - 1 (capacity is a power of two). */
  private mask = 15;
  private head = 0;
  /** Slots in use from head: live entries and the holes between them. */
  private span = 0;
  private live = 0;

  get size(): number {
    return this.live;
  }

  get(key: number): V | undefined {
    const i = this.find(key);
    return i < 0 ? undefined : this.vals[(this.head + i) & this.mask];
  }

  has(key: number): boolean {
    return this.find(key) >= 0;
  }

  /** Adds or replaces; a key above every present one (the usual case) is appended in O(1). Values are never undefined. */
  set(key: number, value: V): this {
    if (!Number.isSafeInteger(key)) throw new RangeError(`SeqMap keys are integers, got ${key}`);
    if (value === undefined) throw new TypeError('SeqMap values cannot be undefined (it marks a removed entry)');
    const last = this.span === 0 ? -Infinity : this.keys[(this.head + this.span - 1) & this.mask];
    if (key > last) {
      this.append(key, value);
      return this;
    }
    const i = this.lowerBound(key);
    const slot = (this.head + i) & this.mask;
    if (this.keys[slot] === key) {
      if (this.vals[slot] === undefined) this.live++;
      this.vals[slot] = value;
      return this;
    }
    this.insertAt(i, key, value);
    return this;
  }

  delete(key: number): boolean {
    const i = this.find(key);
    if (i < 0) return false;
    this.vals[(this.head + i) & this.mask] = undefined;
    this.live--;
    this.trim();
    return true;
  }

  clear(): void {
    for (let i = 0; i < this.span; i++) this.vals[(this.head + i) & this.mask] = undefined;
    this.head = 0;
    this.span = 0;
    this.live = 0;
  }

  /** Values in key order. */
  *values(): IterableIterator<V> {
    for (let i = 0; i < this.span; i++) {
      const v = this.vals[(this.head + i) & this.mask];
      if (v !== undefined) yield v;
    }
  }

  /** [key, value] pairs in key order. */
  *entries(): IterableIterator<[number, V]> {
    for (let i = 0; i < this.span; i++) {
      const slot = (this.head + i) & this.mask;
      const v = this.vals[slot];
      if (v !== undefined) yield [this.keys[slot], v];
    }
  }

  [Symbol.iterator](): IterableIterator<[number, V]> {
    return this.entries();
  }

  /** Index (from head) of a present key, or -1. */
  private find(key: number): number {
    if (this.live === 0) return -1;
    const i = this.lowerBound(key);
    if (i === this.span) return -1;
    const slot = (this.head + i) & this.mask;
    return this.keys[slot] === key && this.vals[slot] !== undefined ? i : -1;
  }

  /** The first index whose key is >= key (holes keep their keys, so the order holds). */
  private lowerBound(key: number): number {
    let lo = 0;
    let hi = this.span;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[(this.head + mid) & this.mask] < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private append(key: number, value: V): void {
    if (this.span === this.keys.length) this.makeRoom();
    const slot = (this.head + this.span) & this.mask;
    this.keys[slot] = key;
    this.vals[slot] = value;
    this.span++;
    this.live++;
  }

  private insertAt(i: number, key: number, value: V): void {
    if (this.span === this.keys.length) this.makeRoom();
    for (let j = this.span; j > i; j--) {
      const to = (this.head + j) & this.mask;
      const from = (this.head + j - 1) & this.mask;
      this.keys[to] = this.keys[from];
      this.vals[to] = this.vals[from];
    }
    const slot = (this.head + i) & this.mask;
    this.keys[slot] = key;
    this.vals[slot] = value;
    this.span++;
    this.live++;
  }

  /**
   * Drops holes at both ends; squeezes out inner holes once they outnumber the entries;
   * gives memory back once a backlog that grew the ring is mostly gone.
   */
  private trim(): void {
    while (this.span > 0 && this.vals[this.head] === undefined) {
      this.head = (this.head + 1) & this.mask;
      this.span--;
    }
    while (this.span > 0 && this.vals[(this.head + this.span - 1) & this.mask] === undefined) this.span--;
    if (this.span === 0) this.head = 0;
    else if (this.span > 2 * this.live + 16) this.compact();
    if (this.keys.length > SHRINK_ABOVE_CAPACITY && this.span < this.keys.length / 8) this.resize(this.keys.length / 4);
  }

  /** Moves the entries together, in place. */
  private compact(): void {
    let to = 0;
    for (let from = 0; from < this.span; from++) {
      const f = (this.head + from) & this.mask;
      const v = this.vals[f];
      if (v === undefined) continue;
      const t = (this.head + to) & this.mask;
      if (t !== f) {
        this.keys[t] = this.keys[f];
        this.vals[t] = v;
        this.vals[f] = undefined;
      }
      to++;
    }
    this.span = to;
  }

  /** Full: squeeze out holes if that frees enough, else double the capacity. */
  private makeRoom(): void {
    if (this.live < this.span / 2) {
      this.compact();
      return;
    }
    this.resize(this.keys.length * 2);
  }

  /** Moves the entries (and holes) to new arrays of `cap` slots, a power of two >= span. */
  private resize(cap: number): void {
    const keys = new Float64Array(cap);
    const vals = new Array<V | undefined>(cap);
    for (let i = 0; i < this.span; i++) {
      const slot = (this.head + i) & this.mask;
      keys[i] = this.keys[slot];
      vals[i] = this.vals[slot];
    }
    this.keys = keys;
    this.vals = vals;
    this.mask = cap - 1;
    this.head = 0;
  }
}
