import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HttpError } from '../../../src/http/errors.js';
import { lazyListResponse, listResponse } from '../../../src/http/paging.js';

const items = () => [
  { name: 'b', vhost: '/', n: 2, s: { x: 1 } },
  { name: 'a', vhost: '/', n: 3, s: { x: 3 } },
  { name: 'C', vhost: '/', n: 1, s: { x: 2 } },
];

describe('list query parameters (RabbitMQ semantics)', () => {
  it('sorts by vhost and name by default, by any dotted field on request, reversed on request', () => {
    assert.deepEqual((listResponse(items(), {}) as { name: string }[]).map((i) => i.name), ['C', 'a', 'b']);
    assert.deepEqual((listResponse(items(), { sort: 's.x' }) as { name: string }[]).map((i) => i.name), ['b', 'C', 'a']);
    assert.deepEqual((listResponse(items(), { sort: 'n', sort_reverse: 'true' }) as { name: string }[]).map((i) => i.name), ['a', 'b', 'C']);
  });

  it('keeps only the columns asked for, dotted ones nested', () => {
    assert.deepEqual(listResponse(items(), { columns: 'name,s.x', sort: 'name' }), [
      { name: 'C', s: { x: 2 } },
      { name: 'a', s: { x: 3 } },
      { name: 'b', s: { x: 1 } },
    ]);
  });

  it('pages with a case-insensitive name filter or a regex, in the paged shape', () => {
    const page = listResponse(items(), { page: '1', page_size: '1', name: 'c' }) as Record<string, unknown>;
    assert.deepEqual(page, { filtered_count: 1, item_count: 1, items: [items()[2]], page: 1, page_count: 1, page_size: 1, total_count: 3 });
    const regex = listResponse(items(), { page: '1', name: '^[ab]$', use_regex: 'true' }) as { filtered_count: number };
    assert.equal(regex.filtered_count, 2);
    const empty = listResponse([], { page: '1' }) as { items: unknown[]; page_count: number };
    assert.deepEqual(empty.items, []);
    assert.equal(empty.page_count, 0);
  });

  it('refuses bad pages with RabbitMQ\'s errors', () => {
    for (const q of [{ page: '0' }, { page: 'x' }, { page: '1', page_size: '501' }, { page: '1', page_size: '0' }]) {
      assert.throws(() => listResponse(items(), q), (e: unknown) => e instanceof HttpError && e.error === 'invalid_pagination_parameters', JSON.stringify(q));
    }
    assert.throws(() => listResponse(items(), { page: '3', page_size: '2' }), (e: unknown) => e instanceof HttpError && e.error === 'page_out_of_range');
    assert.throws(() => listResponse(items(), { page: '1', name: '(', use_regex: 'true' }), (e: unknown) => e instanceof HttpError && e.status === 400);
  });

  it('a lazy list renders only the page when sorted by cheap columns, each item once more for other keys, with the same answer', () => {
    let rendered = 0;
    const list = {
      items: items(),
      column: (path: string) =>
        path === 'name' || path === 'vhost' ? (i: ReturnType<typeof items>[number]) => (path === 'name' ? i.name : i.vhost) : undefined,
      render: (i: ReturnType<typeof items>[number]) => {
        rendered++;
        return { ...i };
      },
    };
    const q = { page: '1', page_size: '2', sort: 'name' };
    assert.deepEqual(lazyListResponse(list, q), listResponse(items(), q));
    assert.equal(rendered, 2);
    rendered = 0;
    const byN = { page: '1', page_size: '2', sort: 'n', columns: 'name' };
    assert.deepEqual(lazyListResponse(list, byN), listResponse(items(), byN));
    // Sorting by a column the list cannot read cheaply renders each item once for its key, then the page.
    assert.equal(rendered, 5);
    assert.deepEqual(lazyListResponse(list, { columns: 'name' }), listResponse(items(), { columns: 'name' }));
  });
});
