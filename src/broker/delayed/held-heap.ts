// The held messages of every delayed exchange, in one binary min-heap stored as
// parallel typed arrays (struct of arrays): 24 bytes per message and no object
// per message, so a million held messages cost about 25 MB of memory and
// nothing for the garbage collector to trace. Ordered by due time, then by log
// position, which is publish order (FIFO among equal due times).

const CAPACITY_MIN = 1024;

/** One held message's fields, as read from or written to the heap. */
export interface HeldEntry {
  /** Due time, ms since the epoch. */
  dueMs: number;
  /** Position of its Held record in the delayed log. */
  segment: number;
  offset: number;
  /** Record size in bytes (bounds how much one release batch reads). */
  size: number;
  /** Index of its exchange in the store's exchange table. */
  exchange: number;
}

export class HeldHeap {
  private due = new Float64Array(CAPACITY_MIN);
  private seg = new Uint32Array(CAPACITY_MIN);
  private off = new Uint32Array(CAPACITY_MIN);
  private size = new Uint32Array(CAPACITY_MIN);
  private ex = new Uint32Array(CAPACITY_MIN);
  private count = 0;

  get length(): number {
    return this.count;
  }

  /** Due time of the earliest message; Infinity when empty. */
  get topDueMs(): number {
    return this.count > 0 ? this.due[0] : Infinity;
  }

  /** The fields of the i-th stored entry (heap order, or insertion order before heapify). */
  read(i: number, out: HeldEntry): HeldEntry {
    out.dueMs = this.due[i];
    out.segment = this.seg[i];
    out.offset = this.off[i];
    out.size = this.size[i];
    out.exchange = this.ex[i];
    return out;
  }

  exchangeAt(i: number): number {
    return this.ex[i];
  }

  push(e: HeldEntry): void {
    this.append(e);
    this.siftUp(this.count - 1);
  }

  /** Removes the earliest message into `out`; false when empty. */
  pop(out: HeldEntry): boolean {
    if (this.count === 0) return false;
    this.read(0, out);
    this.count--;
    if (this.count > 0) {
      this.move(this.count, 0);
      this.siftDown(0);
    }
    return true;
  }

  /** Adds without ordering (recovery); call heapify() before push/pop. */
  append(e: HeldEntry): void {
    if (this.count === this.due.length) this.resize(this.count * 2);
    const i = this.count++;
    this.due[i] = e.dueMs;
    this.seg[i] = e.segment;
    this.off[i] = e.offset;
    this.size[i] = e.size;
    this.ex[i] = e.exchange;
  }

  /** Index of the appended entry at this log position (entries appended in log order), or -1. */
  findAppended(segment: number, offset: number): number {
    let lo = 0;
    let hi = this.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = this.seg[mid] - segment || this.off[mid] - offset;
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  setExchange(i: number, exchange: number): void {
    this.ex[i] = exchange;
  }

  /** Keeps the entries `keep` accepts, in their current order; tells `removed` about the others. */
  retain(keep: (i: number) => boolean, removed: (i: number) => void): void {
    let n = 0;
    for (let i = 0; i < this.count; i++) {
      if (keep(i)) {
        if (n !== i) this.move(i, n);
        n++;
      } else {
        removed(i);
      }
    }
    this.count = n;
    if (this.due.length > CAPACITY_MIN && n < this.due.length / 4) this.resize(Math.max(CAPACITY_MIN, n * 2));
  }

  /** Restores heap order over the whole array in O(n). */
  heapify(): void {
    for (let i = (this.count >>> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private less(i: number, j: number): boolean {
    const d = this.due[i] - this.due[j];
    if (d !== 0) return d < 0;
    return this.seg[i] < this.seg[j] || (this.seg[i] === this.seg[j] && this.off[i] < this.off[j]);
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    for (;;) {
      const l = 2 * i + 1;
      if (l >= this.count) return;
      const r = l + 1;
      const child = r < this.count && this.less(r, l) ? r : l;
      if (!this.less(child, i)) return;
      this.swap(i, child);
      i = child;
    }
  }

  private move(from: number, to: number): void {
    this.due[to] = this.due[from];
    this.seg[to] = this.seg[from];
    this.off[to] = this.off[from];
    this.size[to] = this.size[from];
    this.ex[to] = this.ex[from];
  }

  private swap(i: number, j: number): void {
    swapIn(this.due, i, j);
    swapIn(this.seg, i, j);
    swapIn(this.off, i, j);
    swapIn(this.size, i, j);
    swapIn(this.ex, i, j);
  }

  private resize(capacity: number): void {
    this.due = grow(this.due, new Float64Array(capacity), this.count);
    this.seg = grow(this.seg, new Uint32Array(capacity), this.count);
    this.off = grow(this.off, new Uint32Array(capacity), this.count);
    this.size = grow(this.size, new Uint32Array(capacity), this.count);
    this.ex = grow(this.ex, new Uint32Array(capacity), this.count);
  }
}

function swapIn(a: Float64Array | Uint32Array, i: number, j: number): void {
  const t = a[i];
  a[i] = a[j];
  a[j] = t;
}

function grow<T extends Float64Array | Uint32Array>(from: T, to: T, count: number): T {
  to.set(from.subarray(0, count));
  return to;
}
