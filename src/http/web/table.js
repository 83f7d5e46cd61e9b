// A list of API objects as a table, paged by the server: every request asks
// for one page (page, page_size, name, use_regex, sort, sort_reverse), so the
// table stays as fast with 100,000 queues as with ten. Its state lives in the
// URL's hash query, so a filtered, sorted page can be bookmarked and reloads to
// the same view.

import { ApiError, apiGet, describe } from './api.js';
import { clear, h, notAvailable } from './dom.js';

const PAGE_SIZES = [20, 50, 100, 500];
const FILTER_DEBOUNCE_MS = 250;

/**
 * opts: { path, columns: [{ key, label, sort?, num?, render?(row) }], params
 * (URLSearchParams of the hash), title, empty, what, filter (default true),
 * rowKey?(row) }. Returns { el, refresh() }.
 */
export function pagedTable(opts) {
  const p = opts.params ?? new URLSearchParams();
  const state = {
    name: p.get('name') ?? '',
    regex: p.get('regex') === '1',
    page: Math.max(1, Number(p.get('page')) || 1),
    size: PAGE_SIZES.includes(Number(p.get('size'))) ? Number(p.get('size')) : 20,
    sort: p.get('sort') ?? opts.defaultSort ?? '',
    rev: p.get('rev') === '1',
  };
  const wantFilter = opts.filter !== false;
  const status = h('span', { class: 'muted count', 'aria-live': 'polite' });
  const body = h('tbody');
  const head = h('thead');
  const pager = h('nav', { class: 'pager', 'aria-label': `${opts.what ?? 'List'} pages` });
  const errorBox = h('div');
  const filterInput = h('input', {
    type: 'search', class: 'filter', placeholder: 'Filter by name  ( / )', 'aria-label': 'Filter by name', value: state.name, 'data-filter': '',
    oninput: debounce(() => {
      state.name = filterInput.value;
      state.page = 1;
      load();
    }, FILTER_DEBOUNCE_MS),
  });
  const regexBox = h('input', { type: 'checkbox', checked: state.regex, onchange: () => { state.regex = regexBox.checked; state.page = 1; load(); } });
  const sizeSelect = h('select', { 'aria-label': 'Rows per page', onchange: () => { state.size = Number(sizeSelect.value); state.page = 1; load(); } },
    PAGE_SIZES.map((n) => h('option', { value: n, selected: n === state.size }, `${n} / page`)));
  const toolbar = h('div', { class: 'toolbar' },
    wantFilter ? filterInput : null,
    wantFilter ? h('label', { class: 'check' }, regexBox, 'Regex') : null,
    sizeSelect, status, opts.actions ?? null);
  const table = h('table', { class: 'grid', 'aria-label': opts.what ?? 'list' }, head, body);
  const el = h('div', { class: 'paged' }, toolbar, errorBox, h('div', { class: 'table-wrap' }, table), pager);
  let seq = 0;

  function query() {
    const q = new URLSearchParams({ page: String(state.page), page_size: String(state.size) });
    if (wantFilter && state.name) q.set('name', state.name);
    if (wantFilter && state.regex) q.set('use_regex', 'true');
    if (state.sort) q.set('sort', state.sort);
    if (state.sort && state.rev) q.set('sort_reverse', 'true');
    return q;
  }

  function remember() {
    const [path] = location.hash.split('?');
    const q = new URLSearchParams();
    if (state.name) q.set('name', state.name);
    if (state.regex) q.set('regex', '1');
    if (state.page > 1) q.set('page', String(state.page));
    if (state.size !== 20) q.set('size', String(state.size));
    if (state.sort && state.sort !== (opts.defaultSort ?? '')) q.set('sort', state.sort);
    if (state.rev) q.set('rev', '1');
    const text = q.toString();
    history.replaceState(null, '', text ? `${path}?${text}` : path);
  }

  function renderHead() {
    clear(head).append(h('tr', {}, opts.columns.map((c) => {
      if (!c.sort) return h('th', { scope: 'col', class: c.num ? 'num' : '' }, c.label);
      const active = state.sort === c.sort;
      const dir = active ? (state.rev ? 'descending' : 'ascending') : 'none';
      return h('th', { scope: 'col', class: c.num ? 'num' : '', 'aria-sort': dir },
        h('button', { class: 'sort', 'data-sort': c.sort, onclick: () => sortBy(c.sort) }, c.label, h('span', { class: 'arrow', 'aria-hidden': 'true' }, active ? (state.rev ? '▼' : '▲') : '')));
    })));
  }

  function sortBy(key) {
    if (state.sort === key) state.rev = !state.rev;
    else {
      state.sort = key;
      // Numbers are most useful biggest first; names A to Z.
      state.rev = Boolean(opts.columns.find((c) => c.sort === key)?.num);
    }
    state.page = 1;
    load();
  }

  function renderRows(res) {
    const items = Array.isArray(res) ? res : res.items;
    clear(body);
    if (items.length === 0) {
      body.append(h('tr', {}, h('td', { colspan: opts.columns.length, class: 'empty-row' }, state.name ? `No ${opts.what ?? 'items'} match “${state.name}”.` : (opts.empty ?? `No ${opts.what ?? 'items'}.`))));
    }
    for (const row of items) {
      body.append(h('tr', {}, opts.columns.map((c) => h('td', { class: c.num ? 'num' : '' }, c.render ? c.render(row) : String(row[c.key] ?? '')))));
    }
  }

  function renderPager(res) {
    clear(pager);
    if (Array.isArray(res)) return;
    const { page, page_count: pages, filtered_count: filtered, total_count: total } = res;
    status.textContent = filtered === total ? `${total.toLocaleString()} total` : `${filtered.toLocaleString()} of ${total.toLocaleString()}`;
    const go = (n) => { state.page = n; load(); };
    pager.append(
      h('button', { class: 'btn', disabled: page <= 1, onclick: () => go(1), 'aria-label': 'First page' }, '«'),
      h('button', { class: 'btn', disabled: page <= 1, onclick: () => go(page - 1), 'data-page': 'prev' }, '‹ Prev'),
      h('span', { class: 'page-of' }, `Page ${page} of ${Math.max(1, pages)}`),
      h('button', { class: 'btn', disabled: page >= pages, onclick: () => go(page + 1), 'data-page': 'next' }, 'Next ›'),
      h('button', { class: 'btn', disabled: page >= pages, onclick: () => go(pages), 'aria-label': 'Last page' }, '»'));
  }

  let headKey = '';

  /** auto: a timed refresh, skipped while focus is in the rows so a keyboard user keeps their place. */
  async function load({ auto = false } = {}) {
    if (auto && body.contains(document.activeElement)) return;
    const mine = ++seq;
    remember();
    // Rebuilt only when the sort changes, so a focused header button survives refreshes.
    if (headKey !== `${state.sort}|${state.rev}`) {
      headKey = `${state.sort}|${state.rev}`;
      renderHead();
    }
    try {
      const res = await apiGet(`${opts.path}?${query()}`);
      if (mine !== seq) return;
      clear(errorBox);
      renderRows(res);
      renderPager(res);
      opts.onLoad?.(res);
    } catch (e) {
      if (mine !== seq) return;
      if (e instanceof ApiError && e.status === 404) {
        clear(el).append(notAvailable(opts.title ?? 'This list'));
      } else if (e instanceof ApiError && e.error === 'page_out_of_range' && state.page > 1) {
        state.page = 1;
        load();
      } else {
        clear(errorBox).append(h('p', { class: 'error', role: 'alert' }, describe(e)));
      }
    }
  }

  load();
  return { el, refresh: load, focusFilter: () => filterInput.focus() };
}

function debounce(fn, ms) {
  let t;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}
