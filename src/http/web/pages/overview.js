// Overview: totals at a glance, live message-rate and queue-depth charts fed by
// /api/overview every refresh, the node's alarms and listeners.

import { apiGet, describe } from '../api.js';
import { lineChart } from '../chart.js';
import { badge, bytes, clear, duration, get, h, num, rate, section, tiles } from '../dom.js';

export function render() {
  const totals = h('div', { 'aria-live': 'off' });
  const rates = lineChart({
    title: 'Message rates',
    series: [
      { key: 'message_stats.publish_details.rate', label: 'Publish', tone: 1 },
      { key: 'message_stats.deliver_get_details.rate', label: 'Deliver / get', tone: 2 },
      { key: 'message_stats.ack_details.rate', label: 'Ack', tone: 3 },
      { key: 'message_stats.redeliver_details.rate', label: 'Redeliver', tone: 4 },
    ],
    format: (v) => rate(v),
  });
  const depth = lineChart({
    title: 'Queued messages',
    series: [
      { key: 'queue_totals.messages_ready', label: 'Ready', tone: 1 },
      { key: 'queue_totals.messages_unacknowledged', label: 'Unacked', tone: 4 },
    ],
    format: (v) => num(v),
    axisMin: 10,
  });
  const node = h('div');
  const error = h('div');
  const el = h('div', { class: 'page' },
    h('h1', {}, 'Overview'), error, totals,
    h('div', { class: 'charts' }, rates.el, depth.el),
    node);

  async function refresh() {
    try {
      const [o, nodes] = await Promise.all([apiGet('/api/overview'), apiGet('/api/nodes').catch(() => [])]);
      clear(error);
      const t = o.object_totals ?? {};
      const q = o.queue_totals ?? {};
      clear(totals).append(tiles([
        ['Ready', num(q.messages_ready), `${num(q.messages_unacknowledged)} unacked`],
        ['Publish', rate(get(o, 'message_stats.publish_details.rate')), `${num(get(o, 'message_stats.publish'))} total`],
        ['Deliver / get', rate(get(o, 'message_stats.deliver_get_details.rate')), `${num(get(o, 'message_stats.deliver_get'))} total`],
        ['Queues', num(t.queues)],
        ['Connections', num(t.connections), `${num(t.channels)} channels`],
        ['Consumers', num(t.consumers)],
        ['Exchanges', num(t.exchanges)],
      ]));
      rates.push([0, 1, 2, 3].map((i) => Number(get(o, ['message_stats.publish_details.rate', 'message_stats.deliver_get_details.rate', 'message_stats.ack_details.rate', 'message_stats.redeliver_details.rate'][i]) ?? 0)));
      depth.push([Number(q.messages_ready ?? 0), Number(q.messages_unacknowledged ?? 0)]);
      clear(node).append(nodeSection(o, nodes[0]));
    } catch (e) {
      clear(error).append(h('p', { class: 'error', role: 'alert' }, describe(e)));
    }
  }

  refresh();
  return { el, refresh };
}

function nodeSection(o, n) {
  const alarms = [];
  if (n?.mem_alarm) alarms.push(badge('memory alarm', 'bad'));
  if (n?.disk_free_alarm) alarms.push(badge('disk alarm', 'bad'));
  if (alarms.length === 0) alarms.push(badge('no alarms', 'good'));
  return h('div', { class: 'two' },
    section('Node',
      h('table', { class: 'kv' }, h('tbody', {},
        row('Name', o.node),
        row('Version', `${o.product_name ?? ''} ${o.product_version ?? ''} (RabbitMQ API ${o.rabbitmq_version ?? '?'})`),
        row('Alarms', alarms),
        n ? row('Memory', `${bytes(n.mem_used)} of ${bytes(n.mem_limit)}`) : null,
        n ? row('Disk free', `${bytes(n.disk_free)} (limit ${bytes(n.disk_free_limit)})`) : null,
        n ? row('Uptime', duration(n.uptime)) : null))),
    section('Listeners',
      h('table', { class: 'grid' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Protocol'), h('th', {}, 'Address'), h('th', { class: 'num' }, 'Port'))),
        h('tbody', {}, (o.listeners ?? []).map((l) => h('tr', {}, h('td', {}, l.protocol), h('td', {}, l.ip_address ?? ''), h('td', { class: 'num' }, String(l.port))))))));
}

function row(k, v) {
  return h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, v));
}
