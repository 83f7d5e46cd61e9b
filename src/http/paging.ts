// List routes' query parameters, as RabbitMQ's management API reads them:
// sort / sort_reverse (a dotted column path), columns (keep only these), and
// pagination (page, page_size up to 500, name filter with use_regex) answered in
// RabbitMQ's paged shape {filtered_count, item_count, items, page, page_count,
// page_size, total_count}. Without `page` the answer is the plain array.

import { HttpError, badRequest } from './errors.js';

export type Query = Record<string, string | string[] | undefined>;
type Item = Record<string, unknown>;

const PAGE_SIZE_DEFAULT = 100;
const PAGE_SIZE_MAX = 500;

/**
 * A list whose items are cheap to sort and filter by name and vhost and costly to
 * render (a queue with its stats): only the requested page is rendered when the
 * sort is by those fields (the default), so one page of 10,000 queues costs one
 * page. Any other sort key renders everything first.
 */
export interface LazyList<T> {
  readonly items: readonly T[];
  readonly key: (t: T) => { readonly name: string; readonly vhost?: string };
  readonly render: (t: T) => Item;
}

const CHEAP_KEYS = new Set(['name', 'vhost']);

export function lazyListResponse<T>(list: LazyList<T>, query: Query, defaultSort: readonly string[] = ['vhost', 'name']): unknown {
  const sort = first(query.sort);
  const keys = sort !== undefined && sort !== '' ? [sort] : defaultSort;
  if (!keys.every((k) => CHEAP_KEYS.has(k))) return listResponse(list.items.map(list.render), query, defaultSort);
  const keyed = list.items.map((t) => ({ ...list.key(t), t }));
  const shaped = listResponse(keyed as unknown as Item[], { ...query, columns: undefined }, defaultSort) as Item[] | { items: Item[] };
  const render = (rows: Item[]): Item[] => {
    const columns = first(query.columns);
    const out = rows.map((r) => list.render((r as unknown as { t: T }).t));
    return columns ? out.map((i) => pick(i, columns)) : out;
  };
  if (Array.isArray(shaped)) return render(shaped);
  return { ...shaped, items: render(shaped.items) };
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export function listResponse(items: Item[], query: Query, defaultSort: readonly string[] = ['vhost', 'name']): unknown {
  const q = (k: string): string | undefined => {
    const v = query[k];
    return Array.isArray(v) ? v[0] : v;
  };
  const pageText = q('page');
  const paged = pageText !== undefined;
  let page = 0;
  let pageSize = PAGE_SIZE_DEFAULT;
  if (paged) {
    page = integer(pageText);
    const sizeText = q('page_size');
    if (sizeText !== undefined) pageSize = integer(sizeText);
    if (!(page >= 1) || !(pageSize >= 1 && pageSize <= PAGE_SIZE_MAX)) {
      throw new HttpError(
        400,
        'invalid_pagination_parameters',
        `Invalid pagination parameters: page number ${pageText}, page size ${sizeText ?? 'undefined'}`,
      );
    }
  }
  const total = items.length;
  let list = items;
  const name = q('name');
  if (paged && name !== undefined && name !== '') list = list.filter(nameFilter(name, q('use_regex') === 'true'));
  const sortKey = q('sort');
  sortItems(list, sortKey !== undefined && sortKey !== '' ? [sortKey] : defaultSort, q('sort_reverse') === 'true');
  const columns = q('columns');
  if (!paged) return columns ? list.map((i) => pick(i, columns)) : list;
  const pageCount = Math.ceil(list.length / pageSize);
  if (page > 1 && page > pageCount) {
    throw new HttpError(400, 'page_out_of_range', `Page out of range, page: ${page} page size: ${pageSize}, len: ${list.length}`);
  }
  let pageItems = list.slice((page - 1) * pageSize, page * pageSize);
  if (columns) pageItems = pageItems.map((i) => pick(i, columns));
  return {
    filtered_count: list.length,
    item_count: pageItems.length,
    items: pageItems,
    page,
    page_count: pageCount,
    page_size: pageSize,
    total_count: total,
  };
}

function integer(text: string): number {
  return /^\d{1,9}$/.test(text) ? Number(text) : NaN;
}

function nameFilter(name: string, regex: boolean): (i: Item) => boolean {
  if (regex) {
    let re: RegExp;
    try {
      re = new RegExp(name, 'i');
    } catch {
      throw badRequest(`invalid regular expression: ${name}`);
    }
    return (i) => re.test(String(i.name ?? ''));
  }
  const lower = name.toLowerCase();
  return (i) => String(i.name ?? '').toLowerCase().includes(lower);
}

function valueAt(item: Item, path: readonly string[]): unknown {
  let v: unknown = item;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Item)[p];
  }
  return v;
}

function sortItems(items: Item[], keys: readonly string[], reverse: boolean): void {
  const paths = keys.map((k) => k.split('.'));
  items.sort((a, b) => {
    for (const p of paths) {
      const c = compare(valueAt(a, p), valueAt(b, p));
      if (c !== 0) return reverse ? -c : c;
    }
    return 0;
  });
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === undefined || a === null) return -1;
  if (b === undefined || b === null) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const sa = String(a);
  const sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/** `columns=name,message_stats.publish`: keep only these (dotted) fields. */
function pick(item: Item, columns: string): Item {
  const out: Item = {};
  for (const col of columns.split(',')) {
    const path = col.trim().split('.');
    const v = valueAt(item, path);
    if (v === undefined) continue;
    let target = out;
    for (let i = 0; i < path.length - 1; i++) target = (target[path[i]] ??= {}) as Item;
    target[path[path.length - 1]] = v;
  }
  return out;
}
