import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { smallest, sortedRange } from '../../../src/http/select.js';
import { lazyListResponse, listResponse } from '../../../src/http/paging.js';

/** Keys with many duplicates; ties broken by position make the order total, as paging.ts does. */
const keyed = fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 300 });
const byKeyThenIndex =
  (keys: readonly number[]) =>
  (a: number, b: number): number =>
    keys[a] - keys[b] || a - b;

describe('partial sort for pages (select.ts) against a full sort', () => {
  it('sortedRange is the slice of a full sort, for any range', () => {
    fc.assert(
      fc.property(keyed, fc.nat(400), fc.nat(400), (keys, s, len) => {
        const idx = keys.map((_, i) => i);
        const cmp = byKeyThenIndex(keys);
        const naive = [...idx].sort(cmp).slice(s, s + len);
        assert.deepEqual(sortedRange(idx, cmp, s, s + len), naive);
      }),
      { numRuns: 500 },
    );
  });

  it('smallest(k) is the first k of a full sort, through the heap (small k) and the sort (large k)', () => {
    fc.assert(
      fc.property(keyed, fc.nat(300), (keys, k) => {
        const idx = keys.map((_, i) => i);
        const cmp = byKeyThenIndex(keys);
        assert.deepEqual(smallest(idx, cmp, k), [...idx].sort(cmp).slice(0, k));
      }),
      { numRuns: 500 },
    );
  });
});

/** The paged answer computed the plain way: filter, stable full sort, slice. */
function naivePage(items: Record<string, unknown>[], q: { page: number; page_size: number; sort: string; sort_reverse: boolean; name: string }): unknown {
  const list = items.filter((i) => String(i.name).toLowerCase().includes(q.name.toLowerCase()));
  const key = (i: Record<string, unknown>): unknown => q.sort.split('.').reduce<unknown>((v, p) => (v as Record<string, unknown> | undefined)?.[p], i);
  list.sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    const c = x === y ? 0 : typeof x === 'number' && typeof y === 'number' ? x - y : String(x) < String(y) ? -1 : String(x) > String(y) ? 1 : 0;
    return q.sort_reverse ? -c : c;
  });
  const pageItems = list.slice((q.page - 1) * q.page_size, q.page * q.page_size);
  return {
    filtered_count: list.length,
    item_count: pageItems.length,
    items: pageItems,
    page: q.page,
    page_count: Math.ceil(list.length / q.page_size),
    page_size: q.page_size,
    total_count: items.length,
  };
}

describe('paged lists against a naive filter + full sort + slice', () => {
  const item = fc.record({ name: fc.stringMatching(/^[a-dA-D]{0,3}$/), vhost: fc.constantFrom('/', 'a'), messages: fc.integer({ min: 0, max: 5 }), s: fc.record({ r: fc.integer({ min: 0, max: 3 }) }) });
  it('gives the same page for any sort column, direction, filter and page, lazily or not', () => {
    fc.assert(
      fc.property(
        fc.array(item, { maxLength: 120 }),
        fc.record({
          page: fc.integer({ min: 1, max: 12 }),
          page_size: fc.integer({ min: 1, max: 30 }),
          sort: fc.constantFrom('name', 'vhost', 'messages', 's.r'),
          sort_reverse: fc.boolean(),
          name: fc.constantFrom('', 'a', 'B', 'cd'),
        }),
        (items, q) => {
          const query = { page: String(q.page), page_size: String(q.page_size), sort: q.sort, sort_reverse: String(q.sort_reverse), name: q.name };
          const expected = naivePage(items, q) as { page_count: number };
          if (q.page > 1 && q.page > expected.page_count) {
            assert.throws(() => listResponse(items, query));
            return;
          }
          assert.deepEqual(listResponse(items, query), expected);
          const lazy = { items, render: (i: (typeof items)[number]) => i, column: (p: string) => (p === 'messages' ? (i: (typeof items)[number]) => i.messages : undefined) };
          assert.deepEqual(lazyListResponse(lazy, query), expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});
