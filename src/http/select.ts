// Partial sorting for paged lists: one page of 100,000 queues needs only the
// elements that land on that page, not a sort of all of them. A bounded heap keeps
// the k smallest (or, for a page near the end, the n - start largest) elements in
// O(n log k) comparisons, and only those k are sorted.

/**
 * The elements at sorted positions [start, end) of `xs` under `cmp`, in order: the
 * same as `[...xs].sort(cmp).slice(start, end)` when `cmp` is a total order (no two
 * distinct elements compare equal; break ties by position to get a stable sort's answer).
 */
export function sortedRange<T>(xs: readonly T[], cmp: (a: T, b: T) => number, start: number, end: number): T[] {
  const n = xs.length;
  const from = Math.max(0, start);
  const to = Math.min(end, n);
  if (from >= to) return [];
  // A page nearer the front keeps the `to` smallest; one nearer the back the n - from largest.
  if (to <= n - from) return smallest(xs, cmp, to).slice(from);
  const largest = smallest(xs, (a, b) => cmp(b, a), n - from);
  largest.reverse();
  return largest.slice(0, to - from);
}

/** The k smallest elements of `xs` under `cmp`, sorted. */
export function smallest<T>(xs: readonly T[], cmp: (a: T, b: T) => number, k: number): T[] {
  // The heap pays off when k is a small part of n. Otherwise a plain sort is as cheap,
  // and much cheaper on input that is already in order (queues are often declared
  // in name order; on such input every element would displace the heap's root).
  if (k * 32 >= xs.length) return [...xs].sort(cmp).slice(0, k);
  // A max-heap of the k smallest seen so far: its root is the one to beat.
  const heap: T[] = [];
  for (const x of xs) {
    if (heap.length < k) {
      heap.push(x);
      siftUp(heap, cmp, heap.length - 1);
    } else if (cmp(x, heap[0]) < 0) {
      heap[0] = x;
      siftDown(heap, cmp, 0);
    }
  }
  return heap.sort(cmp);
}

function siftUp<T>(heap: T[], cmp: (a: T, b: T) => number, i: number): void {
  const x = heap[i];
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (cmp(heap[parent], x) >= 0) break;
    heap[i] = heap[parent];
    i = parent;
  }
  heap[i] = x;
}

function siftDown<T>(heap: T[], cmp: (a: T, b: T) => number, i: number): void {
  const n = heap.length;
  const x = heap[i];
  for (;;) {
    let child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && cmp(heap[child + 1], heap[child]) > 0) child++;
    if (cmp(heap[child], x) <= 0) break;
    heap[i] = heap[child];
    i = child;
  }
  heap[i] = x;
}
