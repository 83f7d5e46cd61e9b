// DOM helpers. Everything from the API (queue names, message bodies, headers) is
// untrusted: it reaches the page only as text nodes or attribute values through
// h(), never as HTML. There is no innerHTML anywhere in the dashboard.

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * Creates an element. attrs: `on*` functions become listeners, `class`, `for`
 * and the rest become attributes (false/null/undefined are left out); children
 * are nodes or strings (text), arrays are flattened, null/false skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  return fill(el, attrs, children);
}

export function svg(tag, attrs = {}, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

function fill(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else if (k === 'checked') el.checked = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** Percent-encodes one path segment (vhost "/" becomes %2F). */
export const enc = (s) => encodeURIComponent(s);

/** A hash link to a dashboard page: link(['queue', vhost, name]) -> #/queue/%2F/name */
export function href(parts, query) {
  const path = '#/' + parts.map(enc).join('/');
  const q = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== '' && v !== null)).toString() : '';
  return q ? `${path}?${q}` : path;
}

const NUM = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const RATE = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

export function num(n) {
  return typeof n === 'number' && Number.isFinite(n) ? NUM.format(n) : '–';
}

export function rate(n) {
  return typeof n === 'number' && Number.isFinite(n) ? `${RATE.format(n)}/s` : '–';
}

export function bytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

export function duration(ms) {
  if (typeof ms !== 'number') return '–';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** A value from a dotted path: get(q, 'message_stats.publish_details.rate'). */
export function get(obj, path) {
  return path.split('.').reduce((o, k) => (o === null || o === undefined ? undefined : o[k]), obj);
}

export function yesNo(b) {
  return b ? 'yes' : 'no';
}

/** A pill for a boolean or a state ("running", "idle", ...). */
export function badge(text, tone = 'neutral') {
  return h('span', { class: `badge badge-${tone}` }, text);
}

/** Any JSON value as compact text (arguments, policies, headers). */
export function jsonText(v) {
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

/** A two-column table of an object's keys and values (arguments, properties). */
export function kvTable(obj, empty = 'none') {
  const entries = Object.entries(obj ?? {});
  if (entries.length === 0) return h('p', { class: 'muted' }, empty);
  return h('table', { class: 'kv' }, h('tbody', {}, entries.map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, h('code', {}, jsonText(v)))))));
}

let toastSeq = 0;

/** A short message at the corner; errors stay until dismissed. */
export function toast(text, tone = 'ok') {
  const box = document.getElementById('toasts');
  const id = `toast-${++toastSeq}`;
  const el = h('div', { class: `toast toast-${tone}`, id }, h('span', {}, text), h('button', { class: 'link', 'aria-label': 'Dismiss', onclick: () => el.remove() }, '×'));
  box.append(el);
  if (tone !== 'error') setTimeout(() => el.remove(), 4000);
}

/** A modal confirmation; resolves true when confirmed. Escape or Cancel resolves false. */
export function confirmDialog(title, message, confirmLabel = 'Confirm', tone = 'danger') {
  return new Promise((resolve) => {
    const done = (v) => {
      dlg.close();
      dlg.remove();
      resolve(v);
    };
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': 'dlg-title' },
      h('h2', { id: 'dlg-title' }, title),
      h('p', {}, message),
      h('div', { class: 'actions' },
        h('button', { class: 'btn', onclick: () => done(false) }, 'Cancel'),
        h('button', { class: `btn btn-${tone}`, 'data-confirm': '', onclick: () => done(true) }, confirmLabel)));
    dlg.addEventListener('cancel', (e) => {
      e.preventDefault();
      done(false);
    });
    document.body.append(dlg);
    dlg.showModal();
    dlg.querySelector('[data-confirm]').focus();
  });
}

/** A labelled form field. */
export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('small', { class: 'muted' }, hint) : null);
}

/** A page section with a heading. */
export function section(title, ...children) {
  return h('section', { class: 'card' }, h('h2', {}, title), ...children);
}

/** Stat tiles: [[label, value], ...] */
export function tiles(items) {
  return h('div', { class: 'tiles' }, items.map(([label, value, sub]) =>
    h('div', { class: 'tile' }, h('div', { class: 'tile-label' }, label), h('div', { class: 'tile-value' }, value), sub ? h('div', { class: 'tile-sub muted' }, sub) : null)));
}

export function notAvailable(what) {
  return h('div', { class: 'empty', 'data-state': 'not-available' },
    h('strong', {}, `${what}: not available on this broker.`),
    h('p', { class: 'muted' }, 'The API route behind it answered 404: this Wharf build does not have it yet.'));
}
