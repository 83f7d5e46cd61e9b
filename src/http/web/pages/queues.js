// Queues: one server-sorted, server-filtered page at a time (table.js), and a
// form to declare a queue.

import { api, describe } from '../api.js';
import { badge, enc, field, get, h, href, num, rate, toast } from '../dom.js';
import { pagedTable } from '../table.js';

export function queueColumns() {
  return [
    { key: 'name', label: 'Name', sort: 'name', render: (q) => h('a', { href: href(['queue', q.vhost, q.name]), class: 'name' }, q.name || '(empty name)') },
    { key: 'vhost', label: 'Vhost', sort: 'vhost', render: (q) => h('span', { class: 'muted' }, q.vhost) },
    { key: 'type', label: 'Type', render: (q) => q.type ?? 'classic' },
    { key: 'features', label: 'Features', render: features },
    { key: 'state', label: 'State', render: (q) => badge(q.state ?? 'running', q.state === 'running' || !q.state ? 'good' : 'warn') },
    { key: 'messages_ready', label: 'Ready', sort: 'messages_ready', num: true, render: (q) => num(q.messages_ready) },
    { key: 'messages_unacknowledged', label: 'Unacked', sort: 'messages_unacknowledged', num: true, render: (q) => num(q.messages_unacknowledged) },
    { key: 'messages', label: 'Total', sort: 'messages', num: true, render: (q) => num(q.messages) },
    { key: 'publish', label: 'In', sort: 'message_stats.publish_details.rate', num: true, render: (q) => rate(get(q, 'message_stats.publish_details.rate')) },
    { key: 'deliver', label: 'Out', sort: 'message_stats.deliver_get_details.rate', num: true, render: (q) => rate(get(q, 'message_stats.deliver_get_details.rate')) },
    { key: 'consumers', label: 'Consumers', sort: 'consumers', num: true, render: (q) => num(q.consumers) },
  ];
}

function features(q) {
  const out = [];
  if (q.durable) out.push(badge('D', 'neutral'));
  if (q.auto_delete) out.push(badge('AD', 'neutral'));
  if (q.exclusive) out.push(badge('Excl', 'neutral'));
  if (q.policy) out.push(badge(q.policy, 'info'));
  for (const k of Object.keys(q.arguments ?? {})) out.push(badge(k.replace(/^x-/, ''), 'neutral'));
  return h('span', { class: 'features' }, out);
}

export function render({ params }) {
  const table = pagedTable({ path: '/api/queues', columns: queueColumns(), params, what: 'queues', title: 'Queues', defaultSort: 'name' });
  const el = h('div', { class: 'page' }, h('div', { class: 'page-head' }, h('h1', {}, 'Queues')), table.el, declareForm(table.refresh));
  return { el, refresh: table.refresh };
}

function declareForm(onDone) {
  const vhost = h('input', { value: '/', required: true });
  const name = h('input', { required: true });
  const type = h('select', {}, ['classic', 'quorum', 'stream'].map((t) => h('option', { value: t }, t)));
  const durable = h('input', { type: 'checkbox', checked: true });
  const form = h('form', { class: 'inline-form', onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api('PUT', `/api/queues/${enc(vhost.value)}/${enc(name.value)}`, { durable: durable.checked, auto_delete: false, arguments: { 'x-queue-type': type.value } });
      toast(`Queue ${name.value} declared.`);
      name.value = '';
      onDone();
    } catch (ex) {
      toast(describe(ex), 'error');
    }
  } }, field('Vhost', vhost), field('Name', name), field('Type', type), h('label', { class: 'check' }, durable, 'Durable'), h('button', { class: 'btn btn-primary', type: 'submit' }, 'Add queue'));
  return h('details', { class: 'card' }, h('summary', {}, 'Add a queue'), form);
}
