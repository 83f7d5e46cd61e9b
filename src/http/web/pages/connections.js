// Connections (close one), channels and consumers: server-paged lists.

import { api, describe } from '../api.js';
import { badge, bytes, confirmDialog, enc, get, h, href, num, toast } from '../dom.js';
import { pagedTable } from '../table.js';

export function renderConnections({ params }) {
  let table;
  const close = async (c) => {
    if (!(await confirmDialog('Close connection', `Close “${c.name}” (${c.user}@${c.vhost})? The client gets CONNECTION_FORCED.`, 'Close connection'))) return;
    try {
      await api('DELETE', `/api/connections/${enc(c.name)}`, undefined);
      toast('Connection closed.');
      table.refresh();
    } catch (e) {
      toast(describe(e), 'error');
    }
  };
  table = pagedTable({
    path: '/api/connections', params, what: 'connections', title: 'Connections', defaultSort: 'name',
    columns: [
      { key: 'name', label: 'Name', sort: 'name', render: (c) => h('span', { class: 'name' }, c.name) },
      { key: 'client', label: 'Client', render: (c) => [get(c, 'client_properties.product') ?? '', ' ', h('span', { class: 'muted' }, get(c, 'client_properties.version') ?? '')] },
      { key: 'protocol', label: 'Protocol', render: (c) => c.protocol ?? '' },
      { key: 'user', label: 'User', sort: 'user', render: (c) => c.user ?? '' },
      { key: 'vhost', label: 'Vhost', sort: 'vhost', render: (c) => c.vhost ?? '' },
      { key: 'state', label: 'State', render: (c) => badge(c.state ?? '', c.state === 'running' ? 'good' : c.state === 'blocked' || c.state === 'blocking' ? 'warn' : 'neutral') },
      { key: 'channels', label: 'Channels', sort: 'channels', num: true, render: (c) => num(c.channels) },
      { key: 'recv', label: 'From client', sort: 'recv_oct', num: true, render: (c) => bytes(c.recv_oct) },
      { key: 'send', label: 'To client', sort: 'send_oct', num: true, render: (c) => bytes(c.send_oct) },
      { key: 'close', label: '', render: (c) => h('button', { class: 'btn btn-small btn-danger', 'data-close': c.name, 'aria-label': `Close connection ${c.name}`, onclick: () => close(c) }, 'Close') },
    ],
  });
  return { el: h('div', { class: 'page' }, h('h1', {}, 'Connections'), table.el), refresh: table.refresh };
}

export function renderChannels({ params }) {
  const table = pagedTable({
    path: '/api/channels', params, what: 'channels', title: 'Channels', defaultSort: 'name',
    columns: [
      { key: 'name', label: 'Channel', sort: 'name', render: (c) => h('span', { class: 'name' }, c.name) },
      { key: 'user', label: 'User', render: (c) => c.user ?? '' },
      { key: 'vhost', label: 'Vhost', render: (c) => c.vhost ?? '' },
      { key: 'mode', label: 'Mode', render: (c) => [c.confirm ? badge('confirm', 'info') : null, c.transactional ? badge('tx', 'info') : null] },
      { key: 'state', label: 'State', render: (c) => badge(c.state ?? '', c.state === 'running' ? 'good' : 'neutral') },
      { key: 'prefetch', label: 'Prefetch', sort: 'prefetch_count', num: true, render: (c) => num(c.prefetch_count) },
      { key: 'unacked', label: 'Unacked', sort: 'messages_unacknowledged', num: true, render: (c) => num(c.messages_unacknowledged) },
      { key: 'unconfirmed', label: 'Unconfirmed', sort: 'messages_unconfirmed', num: true, render: (c) => num(c.messages_unconfirmed) },
      { key: 'consumers', label: 'Consumers', sort: 'consumer_count', num: true, render: (c) => num(c.consumer_count) },
    ],
  });
  return { el: h('div', { class: 'page' }, h('h1', {}, 'Channels'), table.el), refresh: table.refresh };
}

export function renderConsumers({ params }) {
  const table = pagedTable({
    path: '/api/consumers', params, what: 'consumers', title: 'Consumers', filter: false,
    columns: [
      { key: 'tag', label: 'Consumer tag', render: (c) => h('code', {}, c.consumer_tag ?? '') },
      { key: 'queue', label: 'Queue', render: (c) => h('a', { href: href(['queue', get(c, 'queue.vhost') ?? '/', get(c, 'queue.name') ?? '']) }, get(c, 'queue.name') ?? '') },
      { key: 'vhost', label: 'Vhost', render: (c) => get(c, 'queue.vhost') ?? '' },
      { key: 'channel', label: 'Channel', render: (c) => get(c, 'channel_details.name') ?? '' },
      { key: 'ack', label: 'Ack', render: (c) => (c.ack_required ? 'manual' : 'auto') },
      { key: 'exclusive', label: 'Exclusive', render: (c) => (c.exclusive ? 'yes' : 'no') },
      { key: 'prefetch', label: 'Prefetch', num: true, render: (c) => num(c.prefetch_count) },
      { key: 'active', label: 'Active', render: (c) => badge(c.active === false ? 'waiting' : 'active', c.active === false ? 'neutral' : 'good') },
    ],
  });
  return { el: h('div', { class: 'page' }, h('h1', {}, 'Consumers'), table.el), refresh: table.refresh };
}
