// List routes' query parameters, as RabbitMQ's management API reads them:
// sort / sort_reverse (a dotted column path), columns (keep only these), and
// pagination (page, page_size up to 500, name filter with use_regex) answered in
// RabbitMQ's paged shape {filtered_count, item_count, items, page, page_count,
// page_size, total_count}. Without `page` the answer is the plain array.
//
// A page costs O(n) cheap reads plus O(page) rendering: the name filter and the sort
// keys are read once per item (straight off the broker object where the list says
// how), the page is picked by a partial sort (select.ts), and only its items are
// rendered to JSON. A sort key the list cannot read cheaply renders each item once
// to read it, as RabbitMQ would.

import { HttpError, badRequest } from './errors.js';
import { sortedRange } from './select.js';

export type Query = Record<string, string | string[] | undefined>;
type Item = Record<string, unknown>;

const PAGE_SIZE_DEFAULT = 100;
const PAGE_SIZE_MAX = 500;

/**
 * A list whose items are costly to render (a queue with its stats). `column` gives,
 * for the columns it knows, a reader that returns exactly what the rendered item
 * has at that (dotted) path, without rendering it; undefined for the others.
 */
export interface LazyList<T> {
  readonly items: readonly T[];
  readonly column?: (path: string) => ((t: T) => unknown) | undefined;
  readonly render: (t: T) => Item;
}

interface Params {
  readonly paged: boolean;
  readonly page: number;
  readonly pageSize: number;
  readonly name: string | undefined;
  readonly regex: boolean;
  readonly sort: readonly string[];
  readonly reverse: boolean;
  readonly columns: string | undefined;
}

export function listResponse(items: Item[], query: Query, defaultSort: readonly string[] = ['vhost', 'name']): unknown {
  return lazyListResponse({ items, render: (i) => i }, query, defaultSort);
}

export function lazyListResponse<T>(list: LazyList<T>, query: Query, defaultSort: readonly string[] = ['vhost', 'name']): unknown {
  const p = params(query, defaultSort);
  const items = list.items;
  let idx = items.map((_, i) => i);
  if (p.paged && p.name !== undefined && p.name !== '') {
    const test = nameFilter(p.name, p.regex);
    const nameOf = reader(list, 'name');
    idx = idx.filter((i) => test(String(nameOf(items[i]) ?? '')));
  }
  const order = ordering(list, idx, p.sort, p.reverse);
  const render = (i: number): Item => (p.columns ? pick(list.render(items[i]), p.columns) : list.render(items[i]));
  if (!p.paged) return (order ? idx.sort(order) : idx).map(render);
  const filtered = idx.length;
  const pageCount = Math.ceil(filtered / p.pageSize);
  if (p.page > 1 && p.page > pageCount) {
    throw new HttpError(400, 'page_out_of_range', `Page out of range, page: ${p.page} page size: ${p.pageSize}, len: ${filtered}`);
  }
  const start = (p.page - 1) * p.pageSize;
  const end = p.page * p.pageSize;
  const pageIdx = order ? sortedRange(idx, order, start, end) : idx.slice(start, end);
  const pageItems = pageIdx.map(render);
  return {
    filtered_count: filtered,
    item_count: pageItems.length,
    items: pageItems,
    page: p.page,
    page_count: pageCount,
    page_size: p.pageSize,
    total_count: items.length,
  };
}

function params(query: Query, defaultSort: readonly string[]): Params {
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
  const sort = q('sort');
  return {
    paged,
    page,
    pageSize,
    name: q('name'),
    regex: q('use_regex') === 'true',
    sort: sort !== undefined && sort !== '' ? [sort] : defaultSort,
    reverse: q('sort_reverse') === 'true',
    columns: q('columns'),
  };
}

/** Reads `path` of an item: cheaply where the list knows how, else from its rendering. */
function reader<T>(list: LazyList<T>, path: string): (t: T) => unknown {
  const cheap = list.column?.(path);
  if (cheap) return cheap;
  const parts = path.split('.');
  return (t) => valueAt(list.render(t), parts);
}

/**
 * The comparison of item indices for `keys`, each key read once per item (items
 * the list cannot read cheaply are rendered once for all their keys). Ties keep
 * the items' order, as RabbitMQ's (and Array.prototype.sort's) stable sort does,
 * and sort_reverse does not reverse ties. Undefined when there is nothing to sort by.
 */
function ordering<T>(list: LazyList<T>, idx: readonly number[], keys: readonly string[], reverse: boolean): ((a: number, b: number) => number) | undefined {
  if (keys.length === 0) return undefined;
  const items = list.items;
  const values = keys.map(() => new Array<unknown>(items.length));
  const cheap = keys.map((k) => list.column?.(k));
  const paths = keys.map((k) => k.split('.'));
  for (const i of idx) {
    let rendered: Item | undefined;
    for (let k = 0; k < keys.length; k++) {
      const read = cheap[k];
      values[k][i] = read ? read(items[i]) : valueAt((rendered ??= list.render(items[i])), paths[k]);
    }
  }
  const sign = reverse ? -1 : 1;
  const compares = values.map((v) => comparatorFor(v, idx));
  if (compares.length === 1) {
    const [c0] = compares;
    return (a, b) => sign * c0(a, b) || a - b;
  }
  return (a, b) => {
    for (const c of compares) {
      const r = c(a, b);
      if (r !== 0) return sign * r;
    }
    return a - b;
  };
}

/**
 * compare() over one key's values, specialised when they are all strings or all
 * numbers (the usual case: names, depths, rates), which gives the same order faster.
 */
function comparatorFor(v: unknown[], idx: readonly number[]): (a: number, b: number) => number {
  let strings = true;
  let numbers = true;
  for (const i of idx) {
    const x = v[i];
    if (typeof x !== 'string') strings = false;
    if (typeof x !== 'number' || Number.isNaN(x)) numbers = false;
    if (!strings && !numbers) break;
  }
  if (strings) {
    const s = v as string[];
    return (a, b) => (s[a] < s[b] ? -1 : s[a] > s[b] ? 1 : 0);
  }
  if (numbers) {
    const n = v as number[];
    return (a, b) => n[a] - n[b];
  }
  return (a, b) => compare(v[a], v[b]);
}

function integer(text: string): number {
  return /^\d{1,9}$/.test(text) ? Number(text) : NaN;
}

function nameFilter(name: string, regex: boolean): (name: string) => boolean {
  if (regex) {
    let re: RegExp;
    try {
      re = new RegExp(name, 'i');
    } catch {
      throw badRequest(`invalid regular expression: ${name}`);
    }
    return (n) => re.test(n);
  }
  const lower = name.toLowerCase();
  return (n) => n.toLowerCase().includes(lower);
}

export function valueAt(item: Item, path: readonly string[]): unknown {
  let v: unknown = item;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Item)[p];
  }
  return v;
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  // Missing values sort first; two missing ones are equal (a consistent order).
  if ((a === undefined || a === null) && (b === undefined || b === null)) return 0;
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
