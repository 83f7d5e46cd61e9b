// A Set for a handful of members that come and go constantly (the log's sync
// rounds and dirty segments: one in, one out, per fsync). Array-backed, in
// insertion order. A long-lived Set reallocates its hash table on such churn, in
// the old generation, and the dead tables keep the young members they held
// alive across scavenges (see seq-map.ts); an array just gets shorter.

export class SmallSet<T> implements Iterable<T> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  has(item: T): boolean {
    return this.items.includes(item);
  }

  add(item: T): this {
    if (!this.items.includes(item)) this.items.push(item);
    return this;
  }

  delete(item: T): boolean {
    const i = this.items.indexOf(item);
    if (i < 0) return false;
    this.items.splice(i, 1);
    return true;
  }

  clear(): void {
    this.items.length = 0;
  }

  [Symbol.iterator](): IterableIterator<T> {
    return this.items[Symbol.iterator]();
  }
}
