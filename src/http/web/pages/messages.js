// Browsing a queue's messages without consuming them (GET
// /api/wharf/queues/{vhost}/{name}/messages?from=N&count=M, Wharf's own route),
// each with its properties, headers, x-death history and body as text, JSON or
// hex; and moving dead letters elsewhere (POST .../move, then polling
// /api/wharf/moves/{id} for progress). On a broker without these routes (404)
// both sections say so instead.

import { api, apiGet, ApiError, describe } from '../api.js';
import { bytes, clear, confirmDialog, enc, field, h, kvTable, notAvailable, num, section, toast } from '../dom.js';

const PEEK_PAGE = 20;
const MOVE_POLL_MS = 500;

export function messagesSection({ vhost, name, selected, onUnavailable }) {
  const base = `/api/wharf/queues/${enc(vhost)}/${enc(name)}`;
  let from = 0;
  const body = h('div', { class: 'messages' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Message pages' });
  const el = section('Messages', h('p', { class: 'muted' }, 'Browsing does not consume: messages stay in the queue, in order, unchanged.'), body, pager);

  async function refresh() {
    try {
      const res = await apiGet(`${base}/messages?from=${from}&count=${PEEK_PAGE}`);
      renderPage(res);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        clear(pager);
        clear(body).append(notAvailable('Message browsing'));
        onUnavailable?.();
      } else clear(body).append(h('p', { class: 'error', role: 'alert' }, describe(e)));
    }
  }

  function renderPage(res) {
    const items = res.items ?? [];
    clear(body);
    if (items.length === 0) body.append(h('p', { class: 'empty-row', 'data-state': 'no-messages' }, res.total > 0 ? 'No messages on this page.' : 'The queue is empty.'));
    else body.append(h('table', { class: 'grid messages-table' },
      h('thead', {}, h('tr', {}, h('th', {}, h('span', { class: 'sr-only' }, 'Select')), h('th', { class: 'num' }, '#'), h('th', {}, 'Routing key'), h('th', {}, 'Exchange'),
        h('th', {}, 'Dead-lettered'), h('th', { class: 'num' }, 'Size'), h('th', {}, 'Body'))),
      h('tbody', {}, items.flatMap((m) => messageRows(m, selected)))));
    clear(pager);
    const total = res.total ?? 0;
    const last = Math.min(total, from + items.length);
    pager.append(
      h('button', { class: 'btn', disabled: from === 0, onclick: () => { from = Math.max(0, from - PEEK_PAGE); refresh(); } }, '‹ Newer'),
      h('span', { class: 'page-of' }, total === 0 ? '0 messages' : `${num(from + 1)}–${num(last)} of ${num(total)}`),
      h('button', { class: 'btn', disabled: last >= total, onclick: () => { from += PEEK_PAGE; refresh(); } }, 'Older ›'),
      h('button', { class: 'btn', onclick: refresh }, 'Reload'));
  }

  refresh();
  return { el, refresh, selected };
}

function messageRows(m, selected) {
  const detail = h('tr', { class: 'detail', hidden: true }, h('td', { colspan: 7 }));
  const toggle = h('button', { class: 'link', 'aria-expanded': 'false', onclick: () => {
    const open = detail.hidden;
    detail.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    if (open && !detail.firstChild.firstChild) detail.firstChild.append(messageDetail(m));
  } }, preview(m));
  const check = h('input', { type: 'checkbox', 'aria-label': `Select message ${m.position}`, checked: selected.has(m.position), onchange: () => {
    if (check.checked) selected.add(m.position);
    else selected.delete(m.position);
  } });
  const death = m.x_death?.[0];
  return [h('tr', { 'data-position': m.position },
    h('td', {}, check), h('td', { class: 'num' }, String(m.position)),
    h('td', {}, h('code', {}, m.routing_key ?? '')), h('td', {}, m.exchange || h('span', { class: 'muted' }, '(default)')),
    h('td', {}, death ? `${death.reason} from ${death.queue} ×${death.count}` : h('span', { class: 'muted' }, '–')),
    h('td', { class: 'num' }, bytes(m.payload_bytes)),
    h('td', { class: 'preview' }, toggle)), detail];
}

function preview(m) {
  const text = m.payload_encoding === 'base64' ? `(binary, ${m.payload_bytes} bytes)` : m.payload ?? '';
  return text.length > 80 ? `${text.slice(0, 80)}…` : text || '(empty)';
}

function payloadBytes(m) {
  if (m.payload_encoding === 'base64') {
    const bin = atob(m.payload ?? '');
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  }
  return new TextEncoder().encode(m.payload ?? '');
}

function messageDetail(m) {
  const { headers, ...props } = m.properties && !Array.isArray(m.properties) ? m.properties : {};
  const deaths = m.x_death ?? [];
  return h('div', { class: 'message-detail' },
    h('div', { class: 'two' },
      h('div', {}, h('h3', {}, 'Properties'), kvTable({ redelivered: m.redelivered, ...props }, 'No properties.')),
      h('div', {}, h('h3', {}, 'Headers'), kvTable(headers, 'No headers.'))),
    deaths.length ? h('div', {}, h('h3', {}, 'Why it died (x-death)'), h('table', { class: 'grid' },
      h('thead', {}, h('tr', {}, ['Reason', 'Queue', 'Count', 'Time', 'Exchange', 'Routing keys'].map((t) => h('th', {}, t)))),
      h('tbody', {}, deaths.map((d) => h('tr', {}, h('td', {}, d.reason ?? ''), h('td', {}, d.queue ?? ''), h('td', {}, String(d.count ?? '')),
        h('td', {}, deathTime(d.time)), h('td', {}, d.exchange ?? ''), h('td', {}, (d['routing-keys'] ?? []).join(', '))))))) : null,
    bodyViewer(m));
}

function deathTime(t) {
  if (t === undefined || t === null) return '';
  const secs = typeof t === 'number' ? t : Number(t?.value ?? t);
  return Number.isFinite(secs) ? new Date(secs * 1000).toISOString() : String(t);
}

/** The body as text, pretty JSON or a hex dump, switched by a tab list. */
function bodyViewer(m) {
  const raw = payloadBytes(m);
  const text = new TextDecoder('utf-8', { fatal: false }).decode(raw);
  const json = prettyJson(text);
  const views = { Text: text, JSON: json ?? 'Not valid JSON.', Hex: hexDump(raw) };
  const out = h('pre', { class: 'body', tabindex: '0', 'aria-label': 'Message body' });
  const tabs = Object.keys(views).map((label) => h('button', { role: 'tab', class: 'tab', 'data-view': label, onclick: () => show(label) }, label));
  function show(label) {
    out.textContent = views[label];
    for (const t of tabs) t.setAttribute('aria-selected', String(t.dataset.view === label));
  }
  // Binary bodies (the API sends them base64) open as hex, JSON pretty-printed, the rest as text.
  show(m.payload_encoding === 'base64' ? 'Hex' : json !== null ? 'JSON' : 'Text');
  const truncated = m.payload_bytes > raw.length ? h('p', { class: 'muted' }, `Showing ${raw.length} of ${m.payload_bytes} bytes.`) : null;
  return h('div', {}, h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Body view' }, tabs), truncated, out);
}

/** The text re-indented if it is JSON, else null. */
function prettyJson(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return null;
  }
}

function hexDump(b) {
  const lines = [];
  const max = Math.min(b.length, 64 * 1024);
  for (let i = 0; i < max; i += 16) {
    const row = b.subarray(i, i + 16);
    const hex = Array.from(row, (x) => x.toString(16).padStart(2, '0')).join(' ');
    const ascii = Array.from(row, (x) => (x >= 32 && x < 127 ? String.fromCharCode(x) : '.')).join('');
    lines.push(`${i.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${ascii}`);
  }
  if (b.length > max) lines.push(`… ${b.length - max} more bytes`);
  return lines.join('\n');
}

/** Move all, N or the selected messages to a queue, an exchange, or back where each came from. */
export function moveSection({ vhost, name, selected, onMoved }) {
  const base = `/api/wharf/queues/${enc(vhost)}/${enc(name)}`;
  const kind = h('select', { name: 'destination' }, [['origin', 'Back where each came from (x-death)'], ['queue', 'A queue'], ['exchange', 'An exchange']].map(([v, t]) => h('option', { value: v }, t)));
  const target = h('input', { name: 'target', placeholder: 'queue or exchange name', disabled: true });
  const routingKey = h('input', { name: 'routing_key', placeholder: 'keep each message\'s', disabled: true });
  const count = h('input', { type: 'number', min: 1, name: 'count', placeholder: 'all' });
  const onlySelected = h('input', { type: 'checkbox', name: 'selected' });
  const strip = h('input', { type: 'checkbox', name: 'strip_x_death' });
  const progress = h('div', { class: 'move-progress', 'aria-live': 'polite' });
  kind.addEventListener('change', () => {
    target.disabled = kind.value === 'origin';
    routingKey.disabled = kind.value !== 'exchange';
  });
  const form = h('form', { class: 'publish', onsubmit: async (e) => {
    e.preventDefault();
    const body = { strip_x_death: strip.checked };
    if (kind.value === 'origin') body.destination = 'origin';
    else if (!target.value) return void toast('Name the destination.', 'error');
    else if (kind.value === 'queue') body.destination = { queue: target.value };
    else body.destination = routingKey.value ? { exchange: target.value, routing_key: routingKey.value } : { exchange: target.value };
    if (onlySelected.checked) {
      if (selected.size === 0) return void toast('Select messages in the list above first.', 'error');
      body.positions = [...selected].sort((a, b) => a - b);
    } else if (count.value) body.count = Number(count.value);
    const what = body.positions ? `${body.positions.length} selected messages` : body.count ? `${body.count} messages` : 'every message';
    if (!(await confirmDialog('Move messages', `Move ${what} out of “${name}”?`, 'Move', 'primary'))) return;
    try {
      const job = await api('POST', `${base}/move`, body);
      selected.clear();
      await follow(job.id);
    } catch (ex) {
      if (ex instanceof ApiError && ex.status === 404) clear(el).append(h('h2', {}, 'Move dead letters'), notAvailable('Moving messages'));
      else toast(describe(ex), 'error');
    }
  } },
  h('div', { class: 'row' }, field('Destination', kind), field('Name', target), field('Routing key', routingKey)),
  h('div', { class: 'row' }, field('How many', count), h('label', { class: 'check' }, onlySelected, 'Only the selected messages'), h('label', { class: 'check' }, strip, 'Strip x-death headers')),
  h('div', { class: 'actions' }, h('button', { class: 'btn btn-primary', type: 'submit' }, 'Move messages')), progress);

  async function follow(id) {
    const bar = h('progress', { max: 1, value: 0 });
    const label = h('span', {}, 'Starting…');
    clear(progress).append(bar, label);
    for (;;) {
      const m = await apiGet(`/api/wharf/moves/${enc(id)}`);
      bar.max = Math.max(1, m.total ?? 1);
      bar.value = m.moved ?? 0;
      label.textContent = `${num(m.moved)} of ${num(m.total)} moved · ${m.state}`;
      if (m.state !== 'running') {
        toast(m.state === 'done' ? `Moved ${m.moved} messages.` : `Move ${m.state}: ${m.error ?? ''}`, m.state === 'done' ? 'ok' : 'error');
        onMoved?.();
        return;
      }
      await new Promise((r) => setTimeout(r, MOVE_POLL_MS));
    }
  }

  const el = section('Move dead letters', h('p', { class: 'muted' }, 'Replays messages to another queue or exchange, crash-safe: each message ends up in exactly one place.'), form);
  return { el, unavailable: () => clear(el).append(h('h2', {}, 'Move dead letters'), notAvailable('Moving messages')) };
}
