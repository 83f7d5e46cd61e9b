// Users and the tenancy routes of the management API, against Wharf and (reference
// mode) the reference RabbitMQ: hashes imported in RabbitMQ's three formats log in
// with their passwords, PUT/GET/DELETE bodies and status codes, and a pika client
// refused with RabbitMQ's 403 text.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { TEST_OPTS, WAIT_MS, uniqueName, withTimeout } from '../../helpers/async.js';
import { useTenancy, openRefusal } from '../../helpers/access.js';
import { enc, skipWithoutReferenceManagement, useManagement } from '../../helpers/management.js';

/** RabbitMQ's stored form, computed here independently of Wharf's code. */
function rabbitHash(password: string, digest: 'sha256' | 'sha512' | 'md5'): string {
  const salt = randomBytes(4);
  return Buffer.concat([salt, createHash(digest).update(Buffer.concat([salt, Buffer.from(password, 'utf8')])).digest()]).toString('base64');
}

const python = ['/usr/bin/python3', 'python3'].find((exe) => spawnSync(exe, ['-c', 'import pika'], { stdio: 'ignore' }).status === 0);

describe('users and the tenancy API', { skip: skipWithoutReferenceManagement }, () => {
  const ctx = useManagement();
  const t = useTenancy(ctx);

  it('password_hash in sha256, sha512 and md5 form logs in with its password', TEST_OPTS, async () => {
    const v = await t.vhost('acc-hash');
    for (const [digest, algorithm] of [
      ['sha256', 'rabbit_password_hashing_sha256'],
      ['sha512', 'rabbit_password_hashing_sha512'],
      ['md5', 'rabbit_password_hashing_md5'],
    ] as const) {
      const u = await t.user('acc-hash');
      // ASCII: amqplib does not send non-ASCII passwords as UTF-8.
      const password = `pw-${digest}-${uniqueName('x')}`;
      const hash = rabbitHash(password, digest);
      assert.equal((await ctx.api.put(`/api/users/${enc(u.name)}`, { password_hash: hash, hashing_algorithm: algorithm, tags: '' })).status, 204);
      const got = await ctx.api.getJson(`/api/users/${enc(u.name)}`);
      assert.deepEqual(got, { name: u.name, password_hash: hash, hashing_algorithm: algorithm, tags: [], limits: {} });
      await t.permit(v, u.name, '.*', '.*', '.*');
      const conn = await ctx.clients.connect(undefined, t.url(u.name, password, v));
      await conn.close();
      await openRefusal(t.url(u.name, password + 'x', v));
    }
  });

  it('PUT /api/users: tags required, as a string or a list; not both password and password_hash; 201 then 204', TEST_OPTS, async () => {
    const name = uniqueName('acc-api');
    const path = `/api/users/${enc(name)}`;
    try {
      assert.deepEqual((await ctx.api.put(path, { password: 'a' })).json(), { error: 'bad_request', reason: 'tags_not_present' });
      const both = await ctx.api.put(path, { password: 'a', password_hash: 'x', tags: '' });
      assert.deepEqual(both.json(), { error: 'bad_request', reason: 'both_password_and_password_hash_are_provided' });
      assert.equal((await ctx.api.put(path, { password: 'a', tags: 'management,custom' })).status, 201);
      const u = await ctx.api.getJson<Record<string, unknown>>(path);
      assert.deepEqual(u.tags, ['management', 'custom']);
      assert.equal(u.hashing_algorithm, 'rabbit_password_hashing_sha256');
      assert.equal(Buffer.from(u.password_hash as string, 'base64').length, 4 + 32);
      assert.equal((await ctx.api.put(path, { password: 'b', tags: ['monitoring'] })).status, 204);
      assert.deepEqual((await ctx.api.getJson<Record<string, unknown>>(path)).tags, ['monitoring']);
      const withoutPerms = await ctx.api.getJson<{ name: string }[]>('/api/users/without-permissions');
      assert.ok(withoutPerms.some((x) => x.name === name));
    } finally {
      await ctx.api.delete(path);
    }
    assert.equal((await ctx.api.get(path)).status, 404);
    assert.equal((await ctx.api.delete(path)).status, 404);
  });

  it('bulk-delete deletes the users it knows and reports the first it does not', TEST_OPTS, async () => {
    const a = await t.user('acc-bulk');
    const missing = uniqueName('acc-missing');
    const r = await ctx.api.post('/api/users/bulk-delete', { users: [a.name, missing] });
    assert.equal(r.status, 400);
    assert.deepEqual(r.json(), { error: 'bad_request', reason: ['no_such_user', missing] });
    assert.equal((await ctx.api.get(`/api/users/${enc(a.name)}`)).status, 404);
    assert.deepEqual((await ctx.api.post('/api/users/bulk-delete', {})).json(), { error: 'bad_request', reason: '[{key_missing,users}]' });
  });

  it('permissions and topic permissions: PUT 201/204, GET, DELETE, and RabbitMQ\'s 400s', TEST_OPTS, async () => {
    const u = await t.user('acc-perm-api');
    const v = await t.vhost('acc-perm-api');
    const path = `/api/permissions/${enc(v)}/${enc(u.name)}`;
    assert.equal((await ctx.api.get(path)).status, 404);
    assert.deepEqual((await ctx.api.put(path, { configure: '.*' })).json(), { error: 'bad_request', reason: '[{key_missing,write},{key_missing,read}]' });
    assert.deepEqual(
      (await ctx.api.put(`/api/permissions/${enc(v)}/${enc(uniqueName('nobody'))}`, { configure: '', write: '', read: '' })).json(),
      { error: 'bad_request', reason: 'vhost_or_user_not_found' },
    );
    assert.equal((await ctx.api.put(path, { configure: '^a', write: '^b', read: '^c' })).status, 201);
    assert.equal((await ctx.api.put(path, { configure: '^a', write: '^b', read: '^d' })).status, 204);
    assert.deepEqual(await ctx.api.getJson(path), { user: u.name, vhost: v, configure: '^a', write: '^b', read: '^d' });
    assert.deepEqual(await ctx.api.getJson(`/api/users/${enc(u.name)}/permissions`), [{ user: u.name, vhost: v, configure: '^a', write: '^b', read: '^d' }]);
    const tp = `/api/topic-permissions/${enc(v)}/${enc(u.name)}`;
    assert.equal((await ctx.api.get(tp)).status, 404);
    assert.deepEqual((await ctx.api.put(tp, { write: '.*', read: '.*' })).json(), { error: 'bad_request', reason: '[{key_missing,exchange}]' });
    assert.equal((await ctx.api.put(tp, { exchange: 'amq.topic', write: '^w', read: '^r' })).status, 201);
    assert.deepEqual(await ctx.api.getJson(tp), [{ user: u.name, vhost: v, exchange: 'amq.topic', write: '^w', read: '^r' }]);
    assert.equal((await ctx.api.delete(tp)).status, 204);
    assert.equal((await ctx.api.delete(tp)).status, 404);
    assert.equal((await ctx.api.delete(path)).status, 204);
    assert.equal((await ctx.api.delete(path)).status, 404);
  });

  it('vhost and user limits: PUT {value}, GET lists, DELETE, and RabbitMQ\'s 400s', TEST_OPTS, async () => {
    const u = await t.user('acc-lim-api');
    const v = await t.vhost('acc-lim-api');
    assert.deepEqual(await ctx.api.getJson(`/api/vhost-limits/${enc(v)}`), []);
    assert.equal((await ctx.api.put(`/api/vhost-limits/${enc(v)}/max-queues`, { value: 3 })).status, 204);
    assert.deepEqual(await ctx.api.getJson(`/api/vhost-limits/${enc(v)}`), [{ vhost: v, value: { 'max-queues': 3 } }]);
    assert.deepEqual((await ctx.api.put(`/api/vhost-limits/${enc(v)}/max-queues`, {})).json(), { error: 'bad_request', reason: '[{key_missing,value}]' });
    assert.deepEqual((await ctx.api.put(`/api/vhost-limits/${enc(uniqueName('nov'))}/max-queues`, { value: 1 })).json(), { error: 'not_found', reason: 'vhost_not_found' });
    assert.equal((await ctx.api.delete(`/api/vhost-limits/${enc(v)}/max-queues`)).status, 204);
    assert.deepEqual(await ctx.api.getJson(`/api/vhost-limits/${enc(v)}`), []);
    assert.equal((await ctx.api.put(`/api/user-limits/${enc(u.name)}/max-channels`, { value: 5 })).status, 204);
    assert.deepEqual(await ctx.api.getJson(`/api/user-limits/${enc(u.name)}`), [{ user: u.name, value: { 'max-channels': 5 } }]);
    assert.deepEqual((await ctx.api.getJson<Record<string, unknown>>(`/api/users/${enc(u.name)}`)).limits, { 'max-channels': 5 });
    const missing = uniqueName('nou');
    assert.deepEqual((await ctx.api.put(`/api/user-limits/${enc(missing)}/max-channels`, { value: 1 })).json(), { error: 'bad_request', reason: ['no_such_user', missing] });
    assert.equal((await ctx.api.delete(`/api/user-limits/${enc(u.name)}/max-channels`)).status, 204);
    assert.deepEqual(await ctx.api.getJson(`/api/user-limits/${enc(u.name)}`), []);
  });

  it('PUT /api/vhosts keeps description and tags, and gives its creator full permissions', TEST_OPTS, async () => {
    const v = uniqueName('acc-vh');
    const path = `/api/vhosts/${enc(v)}`;
    try {
      assert.equal((await ctx.api.put(path, { description: 'team a', tags: 'a,b' })).status, 201);
      const got = await ctx.api.getJson<Record<string, unknown>>(path);
      assert.equal(got.description, 'team a');
      assert.deepEqual(got.tags, ['a', 'b']);
      assert.deepEqual(got.metadata, { description: 'team a', tags: ['a', 'b'] });
      // A PUT replaces the metadata: what it leaves out is cleared.
      assert.equal((await ctx.api.put(path, { description: 'team a2' })).status, 204);
      assert.deepEqual((await ctx.api.getJson<Record<string, unknown>>(path)).metadata, { description: 'team a2', tags: [] });
      assert.deepEqual(await ctx.api.getJson(`/api/permissions/${enc(v)}/guest`), { user: 'guest', vhost: v, configure: '.*', write: '.*', read: '.*' });
    } finally {
      assert.equal((await ctx.api.delete(path)).status, 204);
    }
    assert.equal((await ctx.api.delete(path)).status, 404);
  });

  it('a management user sees only the vhosts it has permissions in', TEST_OPTS, async () => {
    const [mine, other] = [await t.vhost('acc-vis'), await t.vhost('acc-vis')];
    const u = await t.user('acc-vis', 'pw-vis', 'management');
    await t.permit(mine, u.name, '.*', '.*', '.*');
    const names = (await ctx.api.get('/api/vhosts', { auth: [u.name, 'pw-vis'] })).json<{ name: string }[]>().map((x) => x.name);
    assert.ok(names.includes(mine));
    assert.ok(!names.includes(other));
    assert.deepEqual((await ctx.api.get(`/api/vhosts/${enc(other)}`, { auth: [u.name, 'pw-vis'] })).json(), { error: 'not_authorised', reason: 'Not administrator user' });
    assert.equal((await ctx.api.get('/api/users', { auth: [u.name, 'pw-vis'] })).status, 401);
  });

  it('the API\'s object operations check the API user\'s permissions as AMQP does', TEST_OPTS, async () => {
    const v = await t.vhost('acc-http');
    const u = await t.user('acc-http', 'pw-http', 'management');
    const as = { auth: [u.name, 'pw-http'] as [string, string] };
    assert.equal((await ctx.api.put(`/api/queues/${enc(v)}/xq`, {})).status, 201);
    assert.deepEqual((await ctx.api.put(`/api/queues/${enc(v)}/cq`, {}, as)).json(), { error: 'not_authorised', reason: 'User not authorised to access virtual host' });
    await t.permit(v, u.name, '^c', '^w', '^r');
    assert.deepEqual((await ctx.api.put(`/api/queues/${enc(v)}/xq2`, {}, as)).json(), { error: 'not_authorised', reason: 'Access refused.' });
    assert.equal((await ctx.api.put(`/api/queues/${enc(v)}/cq`, {}, as)).status, 201);
    assert.deepEqual((await ctx.api.delete(`/api/queues/${enc(v)}/xq`, as)).json(), { error: 'not_authorised', reason: 'Access refused.' });
    assert.deepEqual((await ctx.api.delete(`/api/queues/${enc(v)}/xq/contents`, as)).json(), { error: 'not_authorised', reason: 'Access refused.' });
    const refused = (kind: string, name: string): string => `ACCESS_REFUSED - access to ${kind} '${name}' in vhost '${v}' refused for user '${u.name}'`;
    const get = await ctx.api.post(`/api/queues/${enc(v)}/xq/get`, { count: 1, ackmode: 'ack_requeue_true', encoding: 'auto' }, as);
    assert.deepEqual(get.json(), { error: 'not_authorised', reason: refused('queue', 'xq') });
    const pub = await ctx.api.post(`/api/exchanges/${enc(v)}/amq.direct/publish`, { routing_key: 'k', payload: 'x', payload_encoding: 'string', properties: {} }, as);
    assert.deepEqual(pub.json(), { error: 'bad_request', reason: `403 ${refused('exchange', 'amq.direct')}` });
  });

  it('pika: a refused declare is a 403 channel close with RabbitMQ\'s text', { ...TEST_OPTS, skip: python ? false : 'python3-pika is not installed' }, async () => {
    const v = await t.vhost('acc-pika');
    const u = await t.user('acc-pika');
    await t.permit(v, u.name, '^allowed', '.*', '.*');
    const script = `
import json, sys, pika
conn = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
ch = conn.channel()
ch.queue_declare(queue='allowed-q', auto_delete=True)
out = {}
try:
    ch.queue_declare(queue='denied-q')
except pika.exceptions.ChannelClosedByBroker as e:
    out = {'code': e.reply_code, 'text': e.reply_text}
out['open'] = conn.is_open
print(json.dumps(out))
conn.close()
`;
    const child = spawn(python as string, ['-c', script, t.url(u.name, u.password, v)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
    const code = await withTimeout(new Promise<number | null>((resolve) => child.once('exit', resolve)), WAIT_MS * 2, 'pika');
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(stdout.trim()), {
      code: 403,
      text: `ACCESS_REFUSED - access to queue 'denied-q' in vhost '${v}' refused for user '${u.name}'`,
      open: true,
    });
  });
});
