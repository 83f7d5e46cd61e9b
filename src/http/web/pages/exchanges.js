// Exchanges (server-paged) and an exchange's page: its bindings both ways and
// a publish form.

import { api, apiGet, ApiError, describe } from '../api.js';
import { badge, clear, confirmDialog, enc, get, h, href, kvTable, rate, section, toast, yesNo } from '../dom.js';
import { pagedTable } from '../table.js';
import { publishForm } from './publish.js';

const exchangeName = (name) => name || '(AMQP default)';

export function renderList({ params }) {
  const table = pagedTable({
    path: '/api/exchanges', params, what: 'exchanges', title: 'Exchanges', defaultSort: 'name',
    columns: [
      { key: 'name', label: 'Name', sort: 'name', render: (x) => h('a', { href: href(['exchange', x.vhost, x.name || 'amq.default']), class: 'name' }, exchangeName(x.name)) },
      { key: 'vhost', label: 'Vhost', sort: 'vhost', render: (x) => h('span', { class: 'muted' }, x.vhost) },
      { key: 'type', label: 'Type', sort: 'type', render: (x) => x.type },
      { key: 'features', label: 'Features', render: (x) => [x.durable ? badge('D') : null, x.auto_delete ? badge('AD') : null, x.internal ? badge('I') : null, x.policy ? badge(x.policy, 'info') : null] },
      { key: 'in', label: 'In', sort: 'message_stats.publish_in_details.rate', num: true, render: (x) => rate(get(x, 'message_stats.publish_in_details.rate')) },
      { key: 'out', label: 'Out', sort: 'message_stats.publish_out_details.rate', num: true, render: (x) => rate(get(x, 'message_stats.publish_out_details.rate')) },
    ],
  });
  return { el: h('div', { class: 'page' }, h('h1', {}, 'Exchanges'), table.el), refresh: table.refresh };
}

export function renderOne({ args, navigate }) {
  const [vhost, name] = args;
  const base = `/api/exchanges/${enc(vhost)}/${enc(name)}`;
  const info = h('div');
  const bindings = h('div');
  const isDefault = name === 'amq.default' || name === '';
  const el = h('div', { class: 'page' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/exchanges' }, 'Exchanges'), ' / ', h('span', { class: 'muted' }, vhost)),
    h('div', { class: 'page-head' }, h('h1', { class: 'name' }, exchangeName(isDefault ? '' : name)),
      isDefault || name.startsWith('amq.') ? null : h('div', { class: 'actions' }, h('button', { class: 'btn btn-danger', onclick: remove }, 'Delete'))),
    info, bindings,
    section('Publish a message', publishForm({ vhost, exchange: isDefault ? '' : name, onPublished: () => refresh() })));

  async function refresh() {
    try {
      const [x, source, dest] = await Promise.all([apiGet(base), apiGet(`${base}/bindings/source`).catch(() => []), apiGet(`${base}/bindings/destination`).catch(() => [])]);
      clear(info).append(h('div', { class: 'two' },
        section('Properties', h('table', { class: 'kv' }, h('tbody', {},
          kv('Type', x.type), kv('Durable', yesNo(x.durable)), kv('Auto-delete', yesNo(x.auto_delete)), kv('Internal', yesNo(x.internal)),
          kv('Policy', x.policy ?? 'none'), kv('Publish in', rate(get(x, 'message_stats.publish_in_details.rate'))), kv('Publish out', rate(get(x, 'message_stats.publish_out_details.rate')))))),
        section('Arguments', kvTable(x.arguments, 'No arguments.'))));
      clear(bindings).append(h('div', { class: 'two' }, bindingTable('Bindings from here', source, 'destination'), bindingTable('Bindings to here', dest, 'source')));
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) clear(info).append(h('div', { class: 'empty' }, h('strong', {}, 'This exchange does not exist.')));
      else clear(info).append(h('p', { class: 'error', role: 'alert' }, describe(e)));
    }
  }

  async function remove() {
    if (!(await confirmDialog('Delete exchange', `Delete exchange “${name}” and its bindings?`, 'Delete'))) return;
    try {
      await api('DELETE', base);
      toast(`Deleted ${name}.`);
      navigate('#/exchanges');
    } catch (e) {
      toast(describe(e), 'error');
    }
  }

  refresh();
  return { el, refresh };
}

function bindingTable(title, list, side) {
  if (list.length === 0) return section(title, h('p', { class: 'muted' }, 'None.'));
  return section(`${title} (${list.length})`, h('table', { class: 'grid' },
    h('thead', {}, h('tr', {}, h('th', {}, side === 'destination' ? 'To' : 'From'), h('th', {}, 'Routing key'), h('th', {}, 'Arguments'))),
    h('tbody', {}, list.map((b) => {
      const other = b[side];
      const kind = side === 'destination' ? b.destination_type : 'exchange';
      const link = kind === 'queue' ? href(['queue', b.vhost, other]) : href(['exchange', b.vhost, other || 'amq.default']);
      return h('tr', {}, h('td', {}, badge(kind === 'queue' ? 'Q' : 'X'), ' ', h('a', { href: link }, exchangeName(other))),
        h('td', {}, h('code', {}, b.routing_key)), h('td', {}, h('code', {}, JSON.stringify(b.arguments ?? {}))));
    }))));
}

function kv(k, v) {
  return h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, v));
}
