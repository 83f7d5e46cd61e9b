// The management HTTP API, route by route, with the same requests against Wharf
// and (reference mode, see test/helpers/management.ts) RabbitMQ 3.10's
// management plugin: same status codes, fields and error bodies. Counts that
// RabbitMQ reports from its statistics database (refreshed every 5 s) are
// polled until they show; message counts are also checked through AMQP.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TEST_OPTS, WAIT_MS, uniqueName, waitUntil, withTimeout } from '../../helpers/async.js';
import { isReference } from '../../helpers/broker.js';
import { enc, skipWithoutReferenceManagement, useManagement, type ManagementApi } from '../../helpers/management.js';

const STATS_WAIT_MS = 20_000;
const OPTS = { timeout: 60_000 } as const;

type Json = Record<string, unknown>;

/** a <= b in the management API's sort order: numbers by value, the rest as strings. */
function sortedPair(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a <= b;
  return String(a) <= String(b);
}

async function pollJson<T = Json>(api: ManagementApi, path: string, ok: (v: T) => boolean, what: string): Promise<T> {
  let last: T | undefined;
  await waitUntil(
    async () => {
      const r = await api.get(path);
      if (r.status !== 200) return false;
      last = r.json<T>();
      return ok(last);
    },
    what,
    STATS_WAIT_MS,
  );
  return last as T;
}

describe('management API', { skip: skipWithoutReferenceManagement }, () => {
  const ctx = useManagement();

  describe('authentication', () => {
    it('answers 401 with a Basic challenge without credentials, and "Login failed" for wrong ones', TEST_OPTS, async () => {
      const none = await ctx.api.get('/api/overview', { auth: null });
      assert.equal(none.status, 401);
      assert.match(String(none.headers['www-authenticate']), /^Basic realm=/);
      for (const auth of [['guest', 'wrong'], ['nobody', 'guest']] as const) {
        const bad = await ctx.api.get('/api/overview', { auth });
        assert.equal(bad.status, 401);
        assert.deepEqual(bad.json(), { error: 'not_authorized', reason: 'Login failed' });
      }
    });

    it('whoami names the user and its tags', TEST_OPTS, async () => {
      assert.deepEqual(await ctx.api.getJson('/api/whoami'), { name: 'guest', tags: ['administrator'] });
    });
  });

  describe('node and vhosts', () => {
    it('overview has the version, node, totals and message_stats with rates', OPTS, async () => {
      const q = ctx.clients.deleteLater(uniqueName('mgmt-ov'));
      const ch = await ctx.clients.channel();
      await ch.assertQueue(q);
      ch.sendToQueue(q, Buffer.from('x'));
      const o = await pollJson<Json>(ctx.api, '/api/overview', (v) => ((v.message_stats as Json).publish as number) >= 1, 'overview message_stats');
      assert.equal(typeof o.management_version, 'string');
      assert.match(String(o.rabbitmq_version), /^3\./);
      assert.equal(typeof o.product_name, 'string');
      assert.equal(typeof o.node, 'string');
      for (const k of ['channels', 'connections', 'consumers', 'exchanges', 'queues']) assert.equal(typeof (o.object_totals as Json)[k], 'number', k);
      const stats = o.message_stats as Json;
      assert.ok((stats.publish as number) >= 1);
      assert.equal(typeof (stats.publish_details as Json).rate, 'number');
      assert.ok(Array.isArray(o.listeners));
      const totals = o.queue_totals as Json;
      if (Object.keys(totals).length > 0) assert.equal(typeof totals.messages, 'number');
    });

    it('lists the node and finds it by name; an unknown node is 404', TEST_OPTS, async () => {
      const nodes = await ctx.api.getJson<Json[]>('/api/nodes');
      assert.equal(nodes.length, 1);
      const name = String(nodes[0].name);
      for (const k of ['mem_used', 'mem_limit', 'disk_free', 'disk_free_limit', 'uptime']) assert.equal(typeof nodes[0][k], 'number', k);
      assert.equal(nodes[0].mem_alarm, false);
      assert.equal((await ctx.api.getJson(`/api/nodes/${enc(name)}`)).name, name);
      // RabbitMQ 3.10 fails with a 500 for a node that does not exist; Wharf answers 404.
      const missing = await ctx.api.get('/api/nodes/nobody%40nowhere');
      assert.equal(missing.status, isReference ? 500 : 404);
    });

    it('lists vhosts, gets / by its encoded name, 404s an unknown one', TEST_OPTS, async () => {
      const vhosts = await ctx.api.getJson<Json[]>('/api/vhosts');
      assert.ok(vhosts.some((v) => v.name === '/'));
      const root = await ctx.api.getJson('/api/vhosts/%2F');
      assert.equal(root.name, '/');
      assert.equal(typeof root.messages === 'number' || root.messages === undefined, true);
      assert.equal((await ctx.api.get('/api/vhosts/no-such-vhost')).status, 404);
    });

    it('lists users and permissions (administrator only fields)', TEST_OPTS, async () => {
      const users = await ctx.api.getJson<Json[]>('/api/users');
      const guest = users.find((u) => u.name === 'guest');
      assert.ok(guest);
      assert.deepEqual(guest.tags, ['administrator']);
      assert.equal(typeof guest.password_hash, 'string');
      const perms = await ctx.api.getJson<Json[]>('/api/permissions');
      assert.ok(perms.some((p) => p.user === 'guest' && p.vhost === '/' && p.configure === '.*' && p.write === '.*' && p.read === '.*'));
    });
  });

  describe('queues', () => {
    it('PUT declares (201, then 204), GET shows RabbitMQ fields, an inequivalent PUT is 400', OPTS, async () => {
      const q = ctx.clients.deleteLater(uniqueName('mgmt-q'));
      const path = `/api/queues/%2F/${enc(q)}`;
      assert.equal((await ctx.api.put(path, { durable: true, arguments: { 'x-max-length': 10 } })).status, 201);
      assert.equal((await ctx.api.put(path, { durable: true, arguments: { 'x-max-length': 10 } })).status, 204);
      const bad = await ctx.api.put(path, { durable: false, arguments: { 'x-max-length': 10 } });
      assert.equal(bad.status, 400);
      assert.equal(bad.json<Json>().error, 'bad_request');
      assert.match(String(bad.json<Json>().reason), /inequivalent arg 'durable'/);
      const info = await ctx.api.getJson(path);
      assert.equal(info.name, q);
      assert.equal(info.vhost, '/');
      assert.equal(info.durable, true);
      assert.equal(info.auto_delete, false);
      assert.equal(info.exclusive, false);
      assert.equal(info.type, 'classic');
      assert.deepEqual(info.arguments, { 'x-max-length': 10 });
      const ch = await ctx.clients.channel();
      assert.equal((await ch.checkQueue(q)).messageCount, 0);
    });

    it('a queue in a vhost that does not exist: PUT 404 vhost_not_found, GET 404', TEST_OPTS, async () => {
      const put = await ctx.api.put('/api/queues/no-such-vhost/q1', {});
      assert.equal(put.status, 404);
      assert.deepEqual(put.json(), { error: 'not_found', reason: 'vhost_not_found' });
      assert.equal((await ctx.api.get('/api/queues/no-such-vhost/q1')).status, 404);
      assert.equal((await ctx.api.get('/api/queues/no-such-vhost')).status, 404);
      assert.equal((await ctx.api.get(`/api/queues/%2F/${uniqueName('missing')}`)).status, 404);
    });

    it('shows depth, consumers and message_stats', OPTS, async () => {
      const q = ctx.clients.deleteLater(uniqueName('mgmt-depth'));
      const ch = await ctx.clients.channel();
      await ch.assertQueue(q);
      for (let i = 0; i < 3; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
      const consumer = await ctx.clients.channel();
      await consumer.prefetch(1);
      await consumer.consume(q, () => {}, { consumerTag: 'mgmt-ctag' });
      const info = await pollJson<Json>(
        ctx.api,
        `/api/queues/%2F/${enc(q)}`,
        // RabbitMQ's stats arrive one event at a time: wait for the delivery too.
        (v) => v.messages === 3 && v.messages_unacknowledged === 1 && v.consumers === 1 && (v.message_stats as Json | undefined)?.publish === 3 && (v.message_stats as Json).deliver === 1,
        'queue depth and stats',
      );
      assert.equal(info.messages_ready, 2);
      const stats = info.message_stats as Json;
      assert.equal(stats.deliver, 1);
      assert.equal(typeof (stats.publish_details as Json).rate, 'number');
      const details = info.consumer_details as Json[];
      assert.equal(details.length, 1);
      assert.equal(details[0].consumer_tag, 'mgmt-ctag');
      assert.equal(details[0].prefetch_count, 1);
      assert.equal(details[0].ack_required, true);
      const list = await ctx.api.getJson<Json[]>('/api/queues/%2F');
      assert.ok(list.some((x) => x.name === q));
    });

    it('DELETE with if-unused / if-empty refuses with 400, then deletes (204); purge empties (204)', OPTS, async () => {
      const q = ctx.clients.deleteLater(uniqueName('mgmt-del'));
      const path = `/api/queues/%2F/${enc(q)}`;
      const ch = await ctx.clients.channel();
      await ch.assertQueue(q);
      ch.sendToQueue(q, Buffer.from('a'));
      ch.sendToQueue(q, Buffer.from('b'));
      await waitUntil(async () => (await ch.checkQueue(q)).messageCount === 2, 'two messages');
      const notEmpty = await ctx.api.delete(`${path}?if-empty=true`);
      assert.equal(notEmpty.status, 400);
      assert.equal(notEmpty.json<Json>().error, 'bad_request');
      const consumerCh = await ctx.clients.channel();
      const { consumerTag } = await consumerCh.consume(q, () => {}, { noAck: false });
      await consumerCh.prefetch(0);
      const inUse = await ctx.api.delete(`${path}?if-unused=true`);
      assert.equal(inUse.status, 400);
      await consumerCh.cancel(consumerTag);
      await consumerCh.recover();
      await waitUntil(async () => (await ch.checkQueue(q)).messageCount === 2, 'messages back');
      assert.equal((await ctx.api.delete(`${path}/contents`)).status, 204);
      assert.equal((await ch.checkQueue(q)).messageCount, 0);
      assert.equal((await ctx.api.delete(`${path}?if-empty=true&if-unused=true`)).status, 204);
      assert.equal((await ctx.api.get(path)).status, 404);
      assert.equal((await ctx.api.delete(path)).status, 404);
    });
  });

  describe('get messages', () => {
    async function queueWith(bodies: (string | Buffer)[]): Promise<string> {
      const q = ctx.clients.deleteLater(uniqueName('mgmt-get'));
      assert.equal((await ctx.api.put(`/api/queues/%2F/${enc(q)}`, { durable: false })).status, 201);
      for (const b of bodies) {
        const payload = typeof b === 'string' ? { payload: b, payload_encoding: 'string' } : { payload: b.toString('base64'), payload_encoding: 'base64' };
        const r = await ctx.api.post('/api/exchanges/%2F/amq.default/publish', { properties: { headers: { h: 1 } }, routing_key: q, ...payload });
        assert.equal(r.status, 200);
        assert.deepEqual(r.json(), { routed: true });
      }
      return q;
    }

    it('ack_requeue_true returns messages and leaves them, redelivered the next time', OPTS, async () => {
      const q = await queueWith(['one', 'two', 'three']);
      const path = `/api/queues/%2F/${enc(q)}/get`;
      const first = await ctx.api.post(path, { count: 2, ackmode: 'ack_requeue_true', encoding: 'auto' });
      assert.equal(first.status, 200);
      const msgs = first.json<Json[]>();
      assert.deepEqual(msgs.map((m) => m.payload), ['one', 'two']);
      assert.equal(msgs[0].payload_encoding, 'string');
      assert.equal(msgs[0].payload_bytes, 3);
      assert.equal(msgs[0].redelivered, false);
      assert.equal(msgs[0].exchange, '');
      assert.equal(msgs[0].routing_key, q);
      assert.equal(msgs[0].message_count, 2);
      assert.deepEqual((msgs[0].properties as Json).headers, { h: 1 });
      const ch = await ctx.clients.channel();
      assert.equal((await ch.checkQueue(q)).messageCount, 3);
      const again = (await ctx.api.post(path, { count: 5, ackmode: 'ack_requeue_true', encoding: 'auto' })).json<Json[]>();
      assert.equal(again.length, 3);
      assert.equal(again.filter((m) => m.redelivered === true).length, 2);
    });

    it('ack_requeue_false and reject_requeue_false remove; reject_requeue_true keeps', OPTS, async () => {
      const q = await queueWith(['a', 'b', 'c', 'd']);
      const path = `/api/queues/%2F/${enc(q)}/get`;
      const ch = await ctx.clients.channel();
      assert.equal((await ctx.api.post(path, { count: 1, ackmode: 'reject_requeue_true', encoding: 'auto' })).json<Json[]>().length, 1);
      assert.equal((await ch.checkQueue(q)).messageCount, 4);
      assert.deepEqual((await ctx.api.post(path, { count: 1, ackmode: 'ack_requeue_false', encoding: 'auto' })).json<Json[]>().map((m) => m.payload), ['a']);
      assert.equal((await ch.checkQueue(q)).messageCount, 3);
      assert.deepEqual((await ctx.api.post(path, { count: 2, ackmode: 'reject_requeue_false', encoding: 'auto' })).json<Json[]>().map((m) => m.payload), ['b', 'c']);
      assert.equal((await ch.checkQueue(q)).messageCount, 1);
    });

    it('encoding base64, auto for binary, truncate; an empty queue gives []; a missing ackmode is 400', OPTS, async () => {
      const binary = Buffer.from([0xff, 0xfe, 0x00, 0x01]);
      const q = await queueWith(['hello world', binary]);
      const path = `/api/queues/%2F/${enc(q)}/get`;
      const b64 = (await ctx.api.post(path, { count: 1, ackmode: 'ack_requeue_true', encoding: 'base64' })).json<Json[]>();
      assert.equal(b64[0].payload_encoding, 'base64');
      assert.equal(Buffer.from(String(b64[0].payload), 'base64').toString(), 'hello world');
      const truncated = (await ctx.api.post(path, { count: 1, ackmode: 'ack_requeue_false', encoding: 'auto', truncate: 5 })).json<Json[]>();
      assert.equal(truncated[0].payload, 'hello');
      assert.equal(truncated[0].payload_bytes, 11);
      const bin = (await ctx.api.post(path, { count: 1, ackmode: 'ack_requeue_false', encoding: 'auto' })).json<Json[]>();
      assert.equal(bin[0].payload_encoding, 'base64');
      assert.deepEqual(Buffer.from(String(bin[0].payload), 'base64'), binary);
      assert.deepEqual((await ctx.api.post(path, { count: 1, ackmode: 'ack_requeue_false', encoding: 'auto' })).json(), []);
      const missing = await ctx.api.post(path, { count: 1, encoding: 'auto' });
      assert.equal(missing.status, 400);
      assert.equal(missing.json<Json>().error, 'bad_request');
    });
  });

  describe('exchanges and bindings', () => {
    it('PUT declares (201/204), GET shows fields, reserved names are refused, DELETE removes', OPTS, async () => {
      const x = ctx.clients.deleteExchangeLater(uniqueName('mgmt-x'));
      const path = `/api/exchanges/%2F/${enc(x)}`;
      const bogus = await ctx.api.put(path, { type: 'bogus' });
      assert.equal(bogus.status, 400);
      assert.equal(bogus.json<Json>().error, 'bad_request');
      assert.equal((await ctx.api.put(path, { type: 'topic', durable: true })).status, 201);
      assert.equal((await ctx.api.put(path, { type: 'topic', durable: true })).status, 204);
      const info = await ctx.api.getJson(path);
      assert.equal(info.name, x);
      assert.equal(info.type, 'topic');
      assert.equal(info.durable, true);
      assert.equal(info.internal, false);
      const reserved = await ctx.api.put('/api/exchanges/%2F/amq.mgmt-test', { type: 'direct' });
      assert.equal(reserved.status, 401);
      assert.deepEqual(reserved.json(), { error: 'not_authorised', reason: 'Access refused.' });
      assert.equal((await ctx.api.delete('/api/exchanges/%2F/amq.direct')).status, 401);
      const list = await ctx.api.getJson<Json[]>('/api/exchanges/%2F');
      assert.ok(list.some((e) => e.name === 'amq.topic'));
      assert.ok(list.some((e) => e.name === x));
      const unrouted = await ctx.api.post(`${path}/publish`, { properties: {}, routing_key: 'none', payload: 'p', payload_encoding: 'string' });
      assert.deepEqual(unrouted.json(), { routed: false });
      assert.equal((await ctx.api.delete(path)).status, 204);
      assert.equal((await ctx.api.get(path)).status, 404);
    });

    it('POST creates a binding (201 + location), GET lists it by pair and by key, DELETE by key', OPTS, async () => {
      const x = ctx.clients.deleteExchangeLater(uniqueName('mgmt-bx'));
      const x2 = ctx.clients.deleteExchangeLater(uniqueName('mgmt-bx2'));
      const q = ctx.clients.deleteLater(uniqueName('mgmt-bq'));
      await ctx.api.put(`/api/exchanges/%2F/${enc(x)}`, { type: 'topic' });
      await ctx.api.put(`/api/exchanges/%2F/${enc(x2)}`, { type: 'fanout' });
      await ctx.api.put(`/api/queues/%2F/${enc(q)}`, {});
      const pair = `/api/bindings/%2F/e/${enc(x)}/q/${enc(q)}`;
      const created = await ctx.api.post(pair, { routing_key: 'a.#', arguments: {} });
      assert.equal(created.status, 201);
      // The properties key, URL-encoded once more.
      assert.equal(created.headers.location, `${enc(q)}/a.%2523`);
      const listed = await ctx.api.getJson<Json[]>(pair);
      assert.equal(listed.length, 1);
      assert.deepEqual(
        { ...listed[0] },
        { source: x, vhost: '/', destination: q, destination_type: 'queue', routing_key: 'a.#', arguments: {}, properties_key: 'a.%23' },
      );
      const byKey = await ctx.api.getJson(`${pair}/${enc(String(listed[0].properties_key))}`);
      assert.equal(byKey.routing_key, 'a.#');
      const routed = await ctx.api.post(`/api/exchanges/%2F/${enc(x)}/publish`, { properties: {}, routing_key: 'a.b', payload: 'p', payload_encoding: 'string' });
      assert.deepEqual(routed.json(), { routed: true });
      const all = await ctx.api.getJson<Json[]>('/api/bindings/%2F');
      assert.ok(all.some((b) => b.source === '' && b.destination === q && b.routing_key === q));
      assert.equal((await ctx.api.post(`/api/bindings/%2F/e/${enc(x)}/e/${enc(x2)}`, { routing_key: 'k' })).status, 201);
      const e2e = await ctx.api.getJson<Json[]>(`/api/bindings/%2F/e/${enc(x)}/e/${enc(x2)}`);
      assert.equal(e2e[0].destination_type, 'exchange');
      const source = await ctx.api.getJson<Json[]>(`/api/exchanges/%2F/${enc(x)}/bindings/source`);
      assert.equal(source.length, 2);
      assert.equal((await ctx.api.delete(`${pair}/${enc(String(listed[0].properties_key))}`)).status, 204);
      assert.equal((await ctx.api.delete(`${pair}/${enc(String(listed[0].properties_key))}`)).status, 404);
      assert.deepEqual(await ctx.api.getJson<Json[]>(pair), []);
    });
  });

  describe('connections, channels, consumers', () => {
    it('lists an amqplib connection with its channels and consumer, and DELETE closes it with the X-Reason', OPTS, async () => {
      const q = ctx.clients.deleteLater(uniqueName('mgmt-conn'));
      const conn = await ctx.clients.connect();
      const ch = await ctx.clients.channel(conn);
      await ch.assertQueue(q);
      await ch.prefetch(7);
      await ch.consume(q, () => {}, { consumerTag: 'mgmt-conn-tag' });
      const localPort = (conn.connection as unknown as { stream: { localPort: number } }).stream.localPort;
      const conns = await pollJson<Json[]>(ctx.api, '/api/connections', (l) => l.some((c) => c.peer_port === localPort && c.channels === 1), 'connection listed');
      const c = conns.find((x) => x.peer_port === localPort) as Json;
      assert.equal(c.user, 'guest');
      assert.equal(c.vhost, '/');
      assert.equal(c.protocol, 'AMQP 0-9-1');
      assert.equal(c.state, 'running');
      assert.equal(c.auth_mechanism, 'PLAIN');
      assert.equal((c.client_properties as Json).product, 'amqplib');
      assert.match(String(c.name), / -> /);
      const one = await ctx.api.getJson(`/api/connections/${enc(String(c.name))}`);
      assert.equal(one.peer_port, localPort);
      const channels = await pollJson<Json[]>(ctx.api, '/api/channels', (l) => l.some((x) => (x.connection_details as Json).peer_port === localPort && x.consumer_count === 1), 'channel listed');
      const chJson = channels.find((x) => (x.connection_details as Json).peer_port === localPort) as Json;
      assert.equal(chJson.prefetch_count, 7);
      assert.equal(chJson.number, 1);
      assert.equal(chJson.name, `${String(c.name)} (1)`);
      assert.equal((await ctx.api.getJson(`/api/channels/${enc(String(chJson.name))}`)).prefetch_count, 7);
      const pagedConns = await ctx.api.getJson(`/api/connections?page=1&page_size=500&name=${enc(String(c.name))}&sort=name&columns=name,channels`);
      assert.deepEqual(pagedConns.items, [{ name: c.name, channels: 1 }]);
      const pagedChannels = await ctx.api.getJson(`/api/channels?page=1&name=${enc(String(c.name))}&sort=prefetch_count&columns=name,prefetch_count`);
      assert.deepEqual(pagedChannels.items, [{ name: chJson.name, prefetch_count: 7 }]);
      const consumers = await ctx.api.getJson<Json[]>('/api/consumers/%2F');
      const k = consumers.find((x) => x.consumer_tag === 'mgmt-conn-tag') as Json;
      assert.ok(k);
      assert.deepEqual(k.queue, { name: q, vhost: '/' });
      assert.equal(k.prefetch_count, 7);
      // amqplib reports a 320 CONNECTION_FORCED as a 'close' with the error, not as an 'error'.
      const closed = withTimeout(new Promise<Error>((resolve) => conn.once('close', resolve)), WAIT_MS, 'the server to close');
      const del = await ctx.api.delete(`/api/connections/${enc(String(c.name))}`, { headers: { 'x-reason': 'maintenance window' } });
      assert.equal(del.status, 204);
      const err = await closed;
      assert.match(err.message, /320/);
      assert.match(err.message, /maintenance window/);
      assert.equal((await ctx.api.delete('/api/connections/no-such-connection')).status, 404);
    });
  });

  describe('pagination and sorting', () => {
    it('pages with name filter and sort, in RabbitMQ\'s paged shape; bad parameters are 400', OPTS, async () => {
      const prefix = uniqueName('mgmt-page');
      for (const s of ['c', 'a', 'b']) await ctx.api.put(`/api/queues/%2F/${enc(`${prefix}-${s}`)}`, { durable: false });
      for (const s of ['a', 'b', 'c']) ctx.clients.deleteLater(`${prefix}-${s}`);
      const page = await ctx.api.getJson(`/api/queues/%2F?page=1&page_size=2&name=${enc(prefix)}&sort=name`);
      assert.equal(page.filtered_count, 3);
      assert.equal(page.item_count, 2);
      assert.equal(page.page, 1);
      assert.equal(page.page_count, 2);
      assert.equal(page.page_size, 2);
      assert.equal(typeof page.total_count, 'number');
      assert.deepEqual((page.items as Json[]).map((i) => i.name), [`${prefix}-a`, `${prefix}-b`]);
      const rev = await ctx.api.getJson(`/api/queues/%2F?page=1&page_size=2&name=${enc(prefix)}&sort=name&sort_reverse=true`);
      assert.deepEqual((rev.items as Json[]).map((i) => i.name), [`${prefix}-c`, `${prefix}-b`]);
      const regex = await ctx.api.getJson(`/api/queues/%2F?page=1&name=${enc(`^${prefix}-[ab]$`)}&use_regex=true`);
      assert.equal(regex.filtered_count, 2);
      const zero = await ctx.api.get('/api/queues/%2F?page=0');
      assert.equal(zero.status, 400);
      assert.equal(zero.json<Json>().error, 'invalid_pagination_parameters');
      assert.equal((await ctx.api.get('/api/queues/%2F?page=1&page_size=1000')).status, 400);
      const beyond = await ctx.api.get(`/api/queues/%2F?page=9&name=${enc(prefix)}`);
      assert.equal(beyond.status, 400);
      assert.equal(beyond.json<Json>().error, 'page_out_of_range');
      const cols = await ctx.api.getJson<Json[]>('/api/queues/%2F?columns=name,vhost');
      assert.ok(cols.every((c) => Object.keys(c).every((k) => k === 'name' || k === 'vhost')));
    });
  });

  describe('sorting a page by stats columns', () => {
    it('sorts a filtered page by depth and by a nested message_stats field, and pages exchanges by name', OPTS, async () => {
      const prefix = uniqueName('mgmt-sortq');
      const ch = await ctx.clients.channel();
      const depths: Record<string, number> = { a: 2, b: 0, c: 1 };
      for (const [s, n] of Object.entries(depths)) {
        const q = ctx.clients.deleteLater(`${prefix}-${s}`);
        await ch.assertQueue(q, { durable: false });
        for (let i = 0; i < n; i++) ch.sendToQueue(q, Buffer.from('x'));
      }
      const base = `/api/queues/%2F?page=1&page_size=3&name=${enc(prefix)}`;
      const byDepth = await pollJson<Json>(
        ctx.api,
        `${base}&sort=messages&sort_reverse=true&columns=name,messages`,
        (v) => ((v.items as Json[])[0]?.messages as number | undefined) === 2 && ((v.items as Json[])[1]?.messages as number | undefined) === 1,
        'queues sorted by depth',
      );
      assert.deepEqual(byDepth.items, [
        { name: `${prefix}-a`, messages: 2 },
        { name: `${prefix}-c`, messages: 1 },
        { name: `${prefix}-b`, messages: 0 },
      ]);
      assert.equal(byDepth.filtered_count, 3);
      const byPublished = await pollJson<Json>(
        ctx.api,
        `${base}&sort=message_stats.publish&columns=name,message_stats.publish`,
        (v) => (v.items as Json[]).map((i) => ((i.message_stats as Json | undefined)?.publish as number | undefined) ?? 0).join() === '0,1,2',
        'queues sorted by message_stats.publish',
      );
      assert.deepEqual((byPublished.items as Json[]).map((i) => i.name), [`${prefix}-b`, `${prefix}-c`, `${prefix}-a`]);
      // Wharf sorts these columns by reading the queue objects, not their JSON: each page must be in the JSON's order.
      for (const col of ['messages_ready', 'messages_unacknowledged', 'consumers', 'message_bytes', 'durable', 'type', 'message_stats.deliver_get', 'messages_details.rate', 'message_stats.publish_details.rate']) {
        const page = await ctx.api.getJson(`${base}&sort=${col}&columns=name,${col}`);
        // Only present values: RabbitMQ 3.10 places a queue without message_stats anywhere (seen: [0, missing, 0]).
        const values = (page.items as Json[]).map((i) => col.split('.').reduce<unknown>((v, k) => (v as Json | undefined)?.[k], i)).filter((v) => v !== undefined && v !== null);
        for (let i = 1; i < values.length; i++) assert.ok(sortedPair(values[i - 1], values[i]), `${col}: ${JSON.stringify(values)}`);
      }
      const second = await ctx.api.getJson(`/api/queues/%2F?page=2&page_size=2&name=${enc(prefix)}&sort=name&sort_reverse=true`);
      assert.deepEqual((second.items as Json[]).map((i) => i.name), [`${prefix}-a`]);
      const xs = [`${prefix}-x2`, `${prefix}-x1`].map((x) => ctx.clients.deleteExchangeLater(x));
      for (const x of xs) await ch.assertExchange(x, 'fanout', { durable: false });
      const exchanges = await ctx.api.getJson(`/api/exchanges/%2F?page=1&page_size=1&name=${enc(prefix)}&sort=name&columns=name,type`);
      assert.equal(exchanges.filtered_count, 2);
      assert.deepEqual(exchanges.items, [{ name: `${prefix}-x1`, type: 'fanout' }]);
    });
  });

  describe('definitions', () => {
    it('exports in RabbitMQ\'s format and imports exchanges, queues and bindings', OPTS, async () => {
      const x = ctx.clients.deleteExchangeLater(uniqueName('mgmt-defx'));
      const q = ctx.clients.deleteLater(uniqueName('mgmt-defq'));
      const imported = await ctx.api.post('/api/definitions', {
        exchanges: [{ name: x, vhost: '/', type: 'direct', durable: true, auto_delete: false, internal: false, arguments: {} }],
        queues: [{ name: q, vhost: '/', durable: true, auto_delete: false, arguments: { 'x-max-length': 5 } }],
        bindings: [{ source: x, vhost: '/', destination: q, destination_type: 'queue', routing_key: 'rk', arguments: {} }],
      });
      assert.ok(imported.status === 204 || imported.status === 201, `import: ${imported.status} ${imported.text}`);
      const ch = await ctx.clients.channel();
      await ch.checkExchange(x);
      await ch.checkQueue(q);
      const defs = await ctx.api.getJson('/api/definitions');
      for (const k of ['rabbit_version', 'users', 'vhosts', 'permissions', 'queues', 'exchanges', 'bindings', 'policies', 'parameters']) assert.ok(k in defs, k);
      assert.deepEqual((defs.queues as Json[]).find((d) => d.name === q), { name: q, vhost: '/', durable: true, auto_delete: false, arguments: { 'x-max-length': 5 } });
      assert.deepEqual((defs.bindings as Json[]).find((d) => d.source === x), { source: x, vhost: '/', destination: q, destination_type: 'queue', routing_key: 'rk', arguments: {} });
      // RabbitMQ 3.10 fails with a 500 on a malformed definitions file; Wharf answers 400.
      assert.equal((await ctx.api.post('/api/definitions', { queues: 'nope' })).status, isReference ? 500 : 400);
    });
  });

  describe('health checks', () => {
    it('alarms, local alarms, virtual hosts, port listener, aliveness test', TEST_OPTS, async () => {
      for (const p of ['/api/health/checks/alarms', '/api/health/checks/local-alarms', '/api/health/checks/virtual-hosts']) {
        assert.deepEqual(await ctx.api.getJson(p), { status: 'ok' }, p);
      }
      const port = ctx.broker.port;
      assert.deepEqual(await ctx.api.getJson(`/api/health/checks/port-listener/${port}`), { status: 'ok', port });
      const none = await ctx.api.get('/api/health/checks/port-listener/1');
      assert.equal(none.status, 503);
      assert.equal(none.json<Json>().status, 'failed');
      assert.equal(none.json<Json>().missing, 1);
      assert.deepEqual(await ctx.api.getJson('/api/aliveness-test/%2F'), { status: 'ok' });
      assert.equal((await ctx.api.get('/api/aliveness-test/no-such-vhost')).status, 404);
    });
  });

  describe('bad input', () => {
    it('malformed JSON, unknown routes, bad encodings, wrong methods, huge bodies: RabbitMQ\'s codes', OPTS, async () => {
      const q = uniqueName('mgmt-bad');
      const notJson = await ctx.api.request('PUT', `/api/queues/%2F/${enc(q)}`, undefined, { raw: '{"durable":tru' });
      assert.equal(notJson.status, 400);
      assert.deepEqual(notJson.json(), { error: 'bad_request', reason: 'not_json' });
      for (const p of ['/api/nope', '/api/a/b/c/d/e', '/nope']) {
        const r = await ctx.api.get(p);
        assert.equal(r.status, 404, p);
        assert.deepEqual(r.json(), { error: 'Object Not Found', reason: 'Not Found' });
      }
      for (const p of ['/api/queues/%2F/x/y', '/api/queues/%2F/x/y/z/w', '/api/exchanges/%2F/x/y']) assert.equal((await ctx.api.get(p)).status, 400, p);
      assert.equal((await ctx.api.get('/api/vhosts/%2')).status, 400);
      assert.equal((await ctx.api.get('/api/vhosts/%2F%2F')).status, 404);
      assert.equal((await ctx.api.request('POST', '/api/overview', {})).status, 405);
      assert.equal((await ctx.api.request('POST', `/api/queues/%2F/${enc(q)}`, {})).status, 405);
      const huge = await ctx.api.request('PUT', `/api/queues/%2F/${enc(q)}`, undefined, { raw: Buffer.alloc(21_000_000, 0x20) });
      // Above the body limit (20 MB): RabbitMQ 3.10 fails with a bare 500; Wharf answers 413.
      assert.equal(huge.status, isReference ? 500 : 413);
      assert.equal((await ctx.api.get(`/api/queues/%2F/${enc(q)}`)).status, 404);
      // Still serving.
      assert.equal((await ctx.api.get('/api/overview')).status, 200);
    });
  });
});
