// Wharf's own persistence of the access model (not comparable with RabbitMQ):
// users, vhosts, permissions, topic permissions and limits survive a restart;
// `--user` users are created with the administrator tag and full permissions on
// `/`; and no plaintext password reaches the data dir or the log.

import assert from 'node:assert/strict';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect } from 'amqplib';
import { TEST_OPTS, uniqueName } from '../../helpers/async.js';
import { makeDataDir, skipUnderReference, spawnBroker } from '../../helpers/broker.js';
import { Tenancy, openRefusal } from '../../helpers/access.js';
import { ManagementApi, enc, useManagement } from '../../helpers/management.js';

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

describe('access model persistence', { skip: skipUnderReference }, () => {
  const ctx = useManagement();

  it('restart keeps users, vhosts, permissions, topic permissions and limits', TEST_OPTS, async () => {
    const t = new Tenancy(() => ctx.api, () => ctx.broker.url);
    const u = await t.user('acc-keep', 'keep-pw', 'monitoring,custom');
    const v = await t.vhost('acc-keep');
    await t.permit(v, u.name, '^a', '^b', '^c');
    await t.topicPermit(v, u.name, 'amq.topic', '^w', '^r');
    await t.vhostLimit(v, 'max-queues', 7);
    await t.userLimit(u.name, 'max-channels', 9);
    const ch = await ctx.clients.channel(await ctx.clients.connect(undefined, t.url('guest', 'guest', v)));
    await ch.assertQueue('kept', { durable: true });
    await ctx.restart();
    assert.deepEqual(await ctx.api.getJson(`/api/permissions/${enc(v)}/${enc(u.name)}`), { user: u.name, vhost: v, configure: '^a', write: '^b', read: '^c' });
    assert.deepEqual(await ctx.api.getJson(`/api/topic-permissions/${enc(v)}/${enc(u.name)}`), [{ user: u.name, vhost: v, exchange: 'amq.topic', write: '^w', read: '^r' }]);
    assert.deepEqual(await ctx.api.getJson(`/api/vhost-limits/${enc(v)}`), [{ vhost: v, value: { 'max-queues': 7 } }]);
    const user = await ctx.api.getJson<Record<string, unknown>>(`/api/users/${enc(u.name)}`);
    assert.deepEqual(user.tags, ['monitoring', 'custom']);
    assert.deepEqual(user.limits, { 'max-channels': 9 });
    // The password still works, and the vhost's durable queue is still there.
    const conn = await ctx.clients.connect(undefined, t.url(u.name, 'keep-pw', v));
    await (await ctx.clients.channel(conn)).checkQueue('kept');
    // Deleted vhosts stay deleted.
    await ctx.api.delete(`/api/vhosts/${enc(v)}`);
    await ctx.restart();
    assert.equal((await ctx.api.get(`/api/vhosts/${enc(v)}`)).status, 404);
  });

  it('deleting a vhost removes its streams and delayed exchanges too, and a restart finds nothing of it', TEST_OPTS, async () => {
    const t = new Tenancy(() => ctx.api, () => ctx.broker.url);
    const v = await t.vhost('acc-del-all');
    const ch = await ctx.clients.channel(await ctx.clients.connect(undefined, t.url('guest', 'guest', v)));
    await ch.assertQueue('s', { durable: true, arguments: { 'x-queue-type': 'stream' } });
    await ch.assertExchange('later', 'x-delayed-message', { durable: true, arguments: { 'x-delayed-type': 'direct' } });
    await ch.assertQueue('q', { durable: true });
    await ch.bindQueue('q', 'later', 'k');
    ch.publish('later', 'k', Buffer.from('held'), { persistent: true, headers: { 'x-delay': 600_000 } });
    ch.sendToQueue('s', Buffer.from('in the stream'));
    await ch.checkQueue('q');
    assert.equal((await ctx.api.delete(`/api/vhosts/${enc(v)}`)).status, 204);
    await ctx.restart();
    assert.equal((await ctx.api.put(`/api/vhosts/${enc(v)}`, {})).status, 201);
    const again = await ctx.clients.connect(undefined, t.url('guest', 'guest', v));
    for (const q of ['s', 'q']) {
      const c = await ctx.clients.channel(again);
      await assert.rejects(c.checkQueue(q), /NOT_FOUND/);
    }
    await assert.rejects((await ctx.clients.channel(again)).checkExchange('later'), /NOT_FOUND/);
    await ctx.api.delete(`/api/vhosts/${enc(v)}`);
  });

  it('no plaintext password in the data dir or the log; --user users are administrators on /', { ...TEST_OPTS, timeout: 60_000 }, async () => {
    const bootPw = `boot-${uniqueName('secret')}`;
    const apiPw = `api-${uniqueName('secret')}`;
    const wrongPw = `wrong-${uniqueName('secret')}`;
    const dataDir = await makeDataDir();
    const b = await spawnBroker(dataDir, ['--user', `alice:${bootPw}`]);
    try {
      const api = new ManagementApi(`http://127.0.0.1:${b.httpPort}`);
      const alice = await api.get('/api/whoami', { auth: ['alice', bootPw] });
      assert.deepEqual(alice.json(), { name: 'alice', tags: ['administrator'] });
      assert.deepEqual(await api.getJson('/api/permissions/%2F/alice'), { user: 'alice', vhost: '/', configure: '.*', write: '.*', read: '.*' });
      assert.equal((await api.put('/api/users/bob', { password: apiPw, tags: '' })).status, 201);
      assert.equal((await api.put('/api/permissions/%2F/bob', { configure: '.*', write: '.*', read: '.*' })).status, 201);
      const conn = await connect(`amqp://bob:${apiPw}@127.0.0.1:${b.port}`);
      await conn.close();
      await openRefusal(`amqp://bob:${wrongPw}@127.0.0.1:${b.port}`);
      await openRefusal(`amqp://alice:${wrongPw}@127.0.0.1:${b.port}`);
      assert.equal((await api.get('/api/overview', { auth: ['bob', wrongPw] })).status, 401);
      await b.kill('SIGTERM');
      const files = await filesUnder(dataDir);
      assert.ok(files.some((f) => f.endsWith('access.json')), 'access.json exists');
      for (const f of files) {
        const text = (await readFile(f)).toString('latin1');
        for (const pw of [bootPw, apiPw, wrongPw]) assert.ok(!text.includes(pw), `${pw} found in ${f}`);
      }
      for (const pw of [bootPw, apiPw, wrongPw]) assert.ok(!b.stderr().includes(pw), 'password in the log');
      assert.match(b.stderr(), /authentication failed/, 'the log does show the refused logins');
    } finally {
      await b.kill('SIGKILL').catch(() => undefined);
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
