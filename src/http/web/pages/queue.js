// One queue: depth and rates, properties, arguments and policy, consumers,
// bindings; publish, purge and delete; and message browsing and dead-letter
// moves (messages.js).

import { api, apiGet, ApiError, describe } from '../api.js';
import { badge, bytes, clear, confirmDialog, enc, get, h, href, kvTable, num, rate, section, tiles, toast, yesNo } from '../dom.js';
import { publishForm } from './publish.js';
import { messagesSection, moveSection } from './messages.js';

export function render({ args, navigate }) {
  const [vhost, name] = args;
  const base = `/api/queues/${enc(vhost)}/${enc(name)}`;
  const summary = h('div');
  const details = h('div');
  const error = h('div');
  // Browsing and moving are one feature on the broker: without the peek route there is no move route either.
  const selected = new Set();
  const move = moveSection({ vhost, name, selected, onMoved: () => { refresh(); messages.refresh(); } });
  const messages = messagesSection({ vhost, name, selected, onUnavailable: move.unavailable });
  const actions = h('div', { class: 'actions' },
    h('button', { class: 'btn', id: 'purge', onclick: purge }, 'Purge'),
    h('button', { class: 'btn btn-danger', id: 'delete', onclick: remove }, 'Delete'));
  const el = h('div', { class: 'page' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/queues' }, 'Queues'), ' / ', h('span', { class: 'muted' }, vhost)),
    h('div', { class: 'page-head' }, h('h1', { class: 'name' }, name || '(empty name)'), actions),
    error, summary, details, messages.el,
    section('Publish a message', publishForm({ vhost, exchange: '', routingKey: name, onPublished: () => { refresh(); messages.refresh(); } })),
    move.el);

  async function refresh() {
    try {
      const [q, bindings] = await Promise.all([apiGet(base), apiGet(`${base}/bindings`).catch(() => [])]);
      clear(error);
      clear(summary).append(tiles([
        ['Ready', num(q.messages_ready), bytes(q.message_bytes_ready)],
        ['Unacked', num(q.messages_unacknowledged)],
        ['Total', num(q.messages), bytes(q.message_bytes)],
        ['Consumers', num(q.consumers)],
        ['Incoming', rate(get(q, 'message_stats.publish_details.rate'))],
        ['Deliver / get', rate(get(q, 'message_stats.deliver_get_details.rate'))],
        ['Ack', rate(get(q, 'message_stats.ack_details.rate'))],
      ]));
      clear(details).append(detailSections(q, bindings));
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        clear(summary);
        clear(details);
        clear(error).append(h('div', { class: 'empty' }, h('strong', {}, 'This queue does not exist (any more).'), h('p', {}, h('a', { href: '#/queues' }, 'Back to the queues'))));
      } else clear(error).append(h('p', { class: 'error', role: 'alert' }, describe(e)));
    }
  }

  async function purge() {
    if (!(await confirmDialog('Purge queue', `Remove every ready message from “${name}”? Unacknowledged messages stay.`, 'Purge'))) return;
    try {
      await api('DELETE', `${base}/contents`);
      toast(`Purged ${name}.`);
      refresh();
      messages.refresh();
    } catch (e) {
      toast(describe(e), 'error');
    }
  }

  async function remove() {
    if (!(await confirmDialog('Delete queue', `Delete “${name}” and every message in it? This cannot be undone.`, 'Delete'))) return;
    try {
      await api('DELETE', base);
      toast(`Deleted ${name}.`);
      navigate('#/queues');
    } catch (e) {
      toast(describe(e), 'error');
    }
  }

  refresh();
  return { el, refresh };
}

function detailSections(q, bindings) {
  const props = h('table', { class: 'kv' }, h('tbody', {},
    kv('Vhost', q.vhost),
    kv('Type', q.type ?? 'classic'),
    kv('State', badge(q.state ?? 'running', q.state === 'running' ? 'good' : 'warn')),
    kv('Durable', yesNo(q.durable)),
    kv('Auto-delete', yesNo(q.auto_delete)),
    kv('Exclusive', yesNo(q.exclusive)),
    kv('Policy', q.policy ?? h('span', { class: 'muted' }, 'none')),
    kv('Operator policy', q.operator_policy ?? h('span', { class: 'muted' }, 'none'))));
  const consumers = (q.consumer_details ?? []);
  return h('div', { class: 'two' },
    section('Properties', props),
    section('Arguments', kvTable(q.arguments, 'No arguments.'), h('h3', {}, 'Effective policy'), kvTable(q.effective_policy_definition, 'No policy applies.')),
    section(`Consumers (${consumers.length})`, consumers.length === 0 ? h('p', { class: 'muted' }, 'No consumers.') : h('table', { class: 'grid' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Tag'), h('th', {}, 'Channel'), h('th', {}, 'Ack'), h('th', { class: 'num' }, 'Prefetch'))),
      h('tbody', {}, consumers.map((c) => h('tr', {},
        h('td', {}, h('code', {}, c.consumer_tag)), h('td', {}, get(c, 'channel_details.name') ?? ''),
        h('td', {}, c.ack_required ? 'manual' : 'auto'), h('td', { class: 'num' }, num(c.prefetch_count))))))),
    section(`Bindings (${bindings.length})`, bindings.length === 0 ? h('p', { class: 'muted' }, 'No bindings.') : h('table', { class: 'grid' },
      h('thead', {}, h('tr', {}, h('th', {}, 'From exchange'), h('th', {}, 'Routing key'), h('th', {}, 'Arguments'))),
      h('tbody', {}, bindings.map((b) => h('tr', {},
        h('td', {}, b.source ? h('a', { href: href(['exchange', b.vhost, b.source]) }, b.source) : h('span', { class: 'muted' }, '(default exchange)')),
        h('td', {}, h('code', {}, b.routing_key)), h('td', {}, h('code', {}, JSON.stringify(b.arguments ?? {})))))))));
}

function kv(k, v) {
  return h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, v));
}
