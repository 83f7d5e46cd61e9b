// Streams (Kafka topics and AMQP stream queues) with each partition's offsets,
// and consumer groups with their lag: Wharf's own routes /api/wharf/streams and
// /api/wharf/groups.

import { apiGetOptional, describe } from '../api.js';
import { badge, bytes, clear, h, notAvailable, num, section } from '../dom.js';

export function render() {
  const streams = h('div');
  const groups = h('div');
  const el = h('div', { class: 'page' }, h('h1', {}, 'Streams & topics'),
    section('Streams', h('p', { class: 'muted' }, 'Kafka topics and AMQP stream queues, per partition.'), streams),
    section('Consumer groups', h('p', { class: 'muted' }, 'Lag is the high watermark minus the committed offset.'), groups));

  async function refresh() {
    try {
      const [s, g] = await Promise.all([apiGetOptional('/api/wharf/streams'), apiGetOptional('/api/wharf/groups')]);
      clear(streams).append(s === null ? notAvailable('Streams') : streamTable(s));
      clear(groups).append(g === null ? notAvailable('Consumer groups') : groupTable(g));
    } catch (e) {
      clear(streams).append(h('p', { class: 'error', role: 'alert' }, describe(e)));
    }
  }

  refresh();
  return { el, refresh };
}

function streamTable(list) {
  if (list.length === 0) return h('p', { class: 'muted' }, 'No streams or topics.');
  return h('table', { class: 'grid' },
    h('thead', {}, h('tr', {}, ['Stream', 'Vhost', 'Partition', 'Log start', 'Log end', 'High watermark', 'Size', 'Segments', 'Producers'].map((t, i) => h('th', { class: i >= 2 ? 'num' : '' }, t)))),
    h('tbody', {}, list.flatMap((s) => s.partitions.map((p, i) => h('tr', {},
      h('td', {}, i === 0 ? h('span', { class: 'name' }, s.name) : ''), h('td', {}, i === 0 ? s.vhost : ''),
      h('td', { class: 'num' }, String(p.partition)), h('td', { class: 'num' }, num(p.log_start_offset)), h('td', { class: 'num' }, num(p.log_end_offset)),
      h('td', { class: 'num' }, num(p.high_watermark)), h('td', { class: 'num' }, bytes(p.size_bytes)), h('td', { class: 'num' }, num(p.segments)), h('td', { class: 'num' }, num(p.producers)))))));
}

function groupTable(list) {
  if (list.length === 0) return h('p', { class: 'muted' }, 'No consumer groups.');
  return h('div', {}, list.map((g) => h('div', { class: 'group' },
    h('div', { class: 'group-head' }, h('span', { class: 'name' }, g.group_id), ' ', badge(g.state ?? '', g.state === 'Stable' ? 'good' : 'neutral'), ' ',
      h('span', { class: 'muted' }, `${g.members?.length ?? 0} members · total lag `), h('strong', {}, num(g.lag))),
    g.offsets.length === 0 ? h('p', { class: 'muted' }, 'No committed offsets.') : h('table', { class: 'grid' },
      h('thead', {}, h('tr', {}, ['Topic', 'Partition', 'Committed', 'High watermark', 'Lag'].map((t, i) => h('th', { class: i >= 1 ? 'num' : '' }, t)))),
      h('tbody', {}, g.offsets.map((o) => h('tr', {}, h('td', {}, o.topic), h('td', { class: 'num' }, String(o.partition)),
        h('td', { class: 'num' }, num(o.committed_offset)), h('td', { class: 'num' }, num(o.high_watermark)),
        h('td', { class: 'num' }, o.lag > 0 ? h('strong', { class: 'lag' }, num(o.lag)) : '0'))))))));
}
