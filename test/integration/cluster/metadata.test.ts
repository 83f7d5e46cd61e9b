// Metadata replication (docs/cluster.md, "Metadata"): three `wharf serve --cluster` processes
// on a private etcd. Users, vhosts, permissions, limits and policies made through one node's
// management API (or a definitions import) are the same on every node: amqplib logs in on the
// others with a user created on one, a policy set on one applies to a queue declared on
// another, a vhost deleted on one is gone everywhere (its connections elsewhere closed), a node
// started later gets everything, changes made at once through two nodes (to different
// objects and to the same user) all survive, and with etcd gone a change is refused, not made
// (a durable queue's declare too: the topology is the cluster's, test/integration/cluster/topology.test.ts).

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { connect, type ChannelModel } from 'amqplib';
import { waitUntil } from '../../helpers/async.js';
import { makeDataDir, spawnBroker, type SpawnedBroker } from '../../helpers/broker.js';
import { startTestEtcd, TEST_LEASE_TTL_SEC, type EtcdProcess } from '../../helpers/etcd.js';
import { ManagementApi } from '../../helpers/management.js';

const LONG = { timeout: 120_000 } as const;

interface UserJson {
  name: string;
  password_hash: string;
  tags: string[] | string;
}

describe('metadata replication (three nodes, management API, amqplib)', () => {
  let etcd: EtcdProcess;
  const nodes = new Map<string, SpawnedBroker>();
  const dirs: string[] = [];
  const connections: ChannelModel[] = [];

  const api = (name: string): ManagementApi => new ManagementApi(`http://127.0.0.1:${nodes.get(name)?.httpPort}`);
  const clusterArgs = (name: string): string[] => [
    '--cluster', etcd.endpoint, '--node-name', name, '--advertise-host', '127.0.0.1', '--cluster-lease-ttl', String(TEST_LEASE_TTL_SEC),
  ];

  async function start(name: string): Promise<void> {
    const dir = await makeDataDir();
    dirs.push(dir);
    nodes.set(name, await spawnBroker(dir, clusterArgs(name)));
  }

  async function login(node: string, user: string, password: string, vhost: string): Promise<ChannelModel> {
    const port = nodes.get(node)?.port;
    const c = await connect(`amqp://${user}:${password}@127.0.0.1:${port}/${encodeURIComponent(vhost)}`);
    c.on('error', () => undefined);
    connections.push(c);
    return c;
  }

  async function status(node: string, path: string): Promise<number> {
    return (await api(node).get(path)).status;
  }

  before(async () => {
    etcd = await startTestEtcd();
    for (const name of ['n1', 'n2', 'n3']) await start(name);
  });
  after(async () => {
    for (const c of connections) await c.close().catch(() => undefined);
    for (const n of nodes.values()) await n.kill('SIGKILL').catch(() => undefined);
    await etcd.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('a user, vhost and permissions made on n1 log in with amqplib on n2 and n3; limits follow', LONG, async () => {
    const n1 = api('n1');
    assert.equal((await n1.put('/api/vhosts/sales', { description: 'Sales', tags: 'eu' })).status, 201);
    assert.equal((await n1.put('/api/users/alice', { password: 's3cret', tags: 'monitoring' })).status, 201);
    assert.equal((await n1.put('/api/permissions/sales/alice', { configure: '^alice\\.', write: '.*', read: '.*' })).status, 201);
    assert.equal((await n1.put('/api/vhost-limits/sales/max-queues', { value: 50 })).status, 204);
    assert.equal((await n1.put('/api/user-limits/alice/max-channels', { value: 7 })).status, 204);
    assert.equal((await n1.put('/api/topic-permissions/sales/alice', { exchange: 'amq.topic', write: '^alice\\.', read: '.*' })).status, 201);
    const onN1 = await n1.getJson<UserJson>('/api/users/alice');
    for (const name of ['n2', 'n3']) {
      await waitUntil(async () => (await status(name, '/api/permissions/sales/alice')) === 200, `${name} has alice's permissions`);
      const u = await api(name).getJson<UserJson>('/api/users/alice');
      assert.equal(u.password_hash, onN1.password_hash, 'the same password hash');
      assert.deepEqual(u.tags, onN1.tags);
      const vhost = await api(name).getJson<{ description: string; tags: string[] }>('/api/vhosts/sales');
      assert.equal(vhost.description, 'Sales');
      await waitUntil(async () => {
        const limits = await api(name).getJson<{ value: Record<string, number> }[]>('/api/vhost-limits/sales');
        return limits[0]?.value['max-queues'] === 50;
      }, `${name} has the vhost limit`);
      await waitUntil(async () => {
        const r = await api(name).get('/api/topic-permissions/sales/alice');
        if (r.status !== 200) return false;
        const topic = r.json<{ exchange: string; write: string }[]>();
        return topic.length === 1 && topic[0].exchange === 'amq.topic' && topic[0].write === '^alice\\.';
      }, `${name} has the topic permission`);
      await waitUntil(async () => {
        const limits = await api(name).getJson<{ value: Record<string, number> }[]>('/api/user-limits/alice');
        return limits[0]?.value['max-channels'] === 7;
      }, `${name} has the user limit`);
      // Log in, and the permissions decide: alice may declare alice.* and nothing else.
      const conn = await login(name, 'alice', 's3cret', 'sales');
      const ch = await conn.createChannel();
      const ok = await ch.assertQueue(`alice.q-${name}`);
      assert.equal(ok.queue, `alice.q-${name}`);
      const refused = await conn.createChannel();
      refused.on('error', () => undefined);
      await assert.rejects(refused.assertQueue('other'), /ACCESS_REFUSED/);
      await assert.rejects(login(name, 'alice', 'wrong', 'sales'), /ACCESS_REFUSED|403/);
    }
  });

  it('a policy set on n2 shows on n3 and applies to a queue declared there; clearing it on n1 clears it everywhere', LONG, async () => {
    const n2 = api('n2');
    const n3 = api('n3');
    assert.equal((await n2.put('/api/vhosts/ops', {})).status, 201);
    await waitUntil(async () => (await status('n3', '/api/vhosts/ops')) === 200, 'n3 has vhost ops');
    const policy = { pattern: '^capped\\.', definition: { 'max-length': 2 }, 'apply-to': 'queues', priority: 3 };
    assert.equal((await n2.put('/api/policies/ops/cap', policy)).status, 201);
    assert.equal((await n2.put('/api/operator-policies/ops/op-cap', { pattern: '.*', definition: { 'max-length': 100 }, 'apply-to': 'queues' })).status, 201);
    await waitUntil(async () => (await status('n3', '/api/policies/ops/cap')) === 200, 'n3 has the policy');
    const listed = await n3.getJson<{ name: string; pattern: string; priority: number; definition: Record<string, unknown> }[]>('/api/policies');
    const cap = listed.find((p) => p.name === 'cap');
    assert.deepEqual(cap && { pattern: cap.pattern, priority: cap.priority, definition: cap.definition }, { pattern: '^capped\\.', priority: 3, definition: { 'max-length': 2 } });
    await waitUntil(async () => (await status('n3', '/api/operator-policies/ops/op-cap')) === 200, 'n3 has the operator policy');
    // guest has full permissions on vhosts it creates through the API (RabbitMQ does the same).
    const conn = await login('n3', 'guest', 'guest', 'ops');
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue('capped.q');
    for (let i = 0; i < 5; i++) ch.sendToQueue('capped.q', Buffer.from(`m${i}`));
    await ch.waitForConfirms();
    const q = await n3.getJson<{ policy: string | null; operator_policy: string | null; messages: number }>('/api/queues/ops/capped.q');
    assert.equal(q.policy, 'cap');
    assert.equal(q.operator_policy, 'op-cap');
    await waitUntil(async () => (await n3.getJson<{ messages: number }>('/api/queues/ops/capped.q')).messages === 2, 'max-length 2 applied on n3');
    // Cleared through a third node: gone on n3, and its queue no longer has it.
    assert.equal((await api('n1').delete('/api/policies/ops/cap')).status, 204);
    await waitUntil(async () => (await status('n3', '/api/policies/ops/cap')) === 404, 'n3 lost the policy');
    await waitUntil(async () => (await n3.getJson<{ policy: string | null }>('/api/queues/ops/capped.q')).policy === null, 'the queue on n3 has no policy');
  });

  it('a vhost deleted on n3 is gone on n1, and its connections there are closed', LONG, async () => {
    const n3 = api('n3');
    assert.equal((await n3.put('/api/vhosts/doomed', {})).status, 201);
    assert.equal((await n3.put('/api/permissions/doomed/alice', { configure: '.*', write: '.*', read: '.*' })).status, 201);
    await waitUntil(async () => (await status('n1', '/api/permissions/doomed/alice')) === 200, 'n1 has the vhost and permission');
    const conn = await login('n1', 'alice', 's3cret', 'doomed');
    const closed = new Promise<Error | undefined>((resolve) => {
      conn.once('close', (err?: Error) => resolve(err));
    });
    await (await conn.createChannel()).assertQueue('inside');
    assert.equal((await n3.delete('/api/vhosts/doomed')).status, 204);
    const why = await closed;
    assert.match(String(why), /CONNECTION_FORCED|320/);
    for (const name of ['n1', 'n2']) {
      await waitUntil(async () => (await status(name, '/api/vhosts/doomed')) === 404, `${name} lost vhost doomed`);
      assert.equal(await status(name, '/api/permissions/doomed/alice'), 404);
      assert.equal(await status(name, '/api/queues/doomed/inside'), 404);
    }
    await assert.rejects(login('n1', 'alice', 's3cret', 'doomed'), /got <ConnectionClose/);
  });

  it('a definitions import on n2 reaches n1', LONG, async () => {
    const defs = {
      users: [{ name: 'imported', password_hash: '', hashing_algorithm: 'rabbit_password_hashing_sha256', tags: ['management'] }],
      vhosts: [{ name: 'imp' }],
      permissions: [{ user: 'imported', vhost: 'imp', configure: '', write: '.*', read: '.*' }],
    };
    const r = await api('n2').post('/api/definitions', defs);
    assert.ok(r.status === 204 || r.status === 200 || r.status === 201, `import: ${r.status} ${r.text}`);
    await waitUntil(async () => (await status('n1', '/api/permissions/imp/imported')) === 200, 'n1 has the imported user and permission');
    const u = await api('n1').getJson<UserJson>('/api/users/imported');
    assert.deepEqual([u.tags].flat(), ['management']);
  });

  it('changes made at once through two nodes all survive, to different objects and to the same user', LONG, async () => {
    const n1 = api('n1');
    const n2 = api('n2');
    const names = Array.from({ length: 12 }, (_, i) => `racer${i}`);
    // Twelve users, half through each node, all at once.
    const created = await Promise.all(names.map((n, i) => (i % 2 === 0 ? n1 : n2).put(`/api/users/${n}`, { password: n, tags: '' })));
    assert.ok(created.every((r) => r.status === 201), created.map((r) => r.status).join(','));
    // The same user changed at once on two nodes: tags through n1, a limit through n2. Neither change may be lost.
    assert.equal((await n1.put('/api/users/bob', { password: 'b', tags: '' })).status, 201);
    await waitUntil(async () => (await status('n2', '/api/users/bob')) === 200, 'n2 has bob');
    for (let round = 1; round <= 4; round++) {
      const [tags, limit] = await Promise.all([
        n1.put('/api/users/bob', { tags: `t${round}` }),
        n2.put('/api/user-limits/bob/max-connections', { value: round }),
      ]);
      assert.equal(tags.status, 204);
      assert.equal(limit.status, 204);
      for (const name of ['n1', 'n2', 'n3']) {
        await waitUntil(async () => {
          const u = await api(name).getJson<UserJson>('/api/users/bob');
          const limits = await api(name).getJson<{ value: Record<string, number> }[]>('/api/user-limits/bob');
          return [u.tags].flat().join(',') === `t${round}` && limits[0]?.value['max-connections'] === round;
        }, `${name} has bob's tags and limit of round ${round}`);
      }
    }
    for (const name of ['n1', 'n2', 'n3']) {
      await waitUntil(async () => {
        const users = await api(name).getJson<{ name: string }[]>('/api/users');
        return names.every((n) => users.some((u) => u.name === n));
      }, `${name} has all twelve users`);
    }
    // Each logs in on a node other than the one it was created through.
    const c = await login('n3', 'racer3', 'racer3', '/').catch((err: Error) => err);
    // racer3 has no permission on '/': authenticated, then refused at connection.open (amqplib's words for 530 NOT_ALLOWED).
    assert.match(String(c), /got <ConnectionClose/);
    assert.equal((await n2.put('/api/permissions/%2F/racer3', { configure: '.*', write: '.*', read: '.*' })).status, 201);
    await waitUntil(async () => (await status('n3', '/api/permissions/%2F/racer3')) === 200, 'n3 has racer3 on /');
    const ch = await (await login('n3', 'racer3', 'racer3', '/')).createChannel();
    assert.equal((await ch.assertQueue('racer3.q')).queue, 'racer3.q');
  });

  it('a node started later gets every user, vhost, permission and policy', LONG, async () => {
    await start('n4');
    const n4 = api('n4');
    await waitUntil(async () => (await status('n4', '/api/permissions/sales/alice')) === 200, 'n4 has alice on sales');
    assert.equal(await status('n4', '/api/vhosts/doomed'), 404);
    assert.equal(await status('n4', '/api/operator-policies/ops/op-cap'), 200);
    const u = await n4.getJson<UserJson>('/api/users/alice');
    assert.equal(u.password_hash, (await api('n1').getJson<UserJson>('/api/users/alice')).password_hash);
    const limits = await n4.getJson<{ value: Record<string, number> }[]>('/api/user-limits/bob');
    assert.equal(limits[0]?.value['max-connections'], 4);
    const users = await n4.getJson<{ name: string }[]>('/api/users');
    assert.equal(users.filter((x) => x.name.startsWith('racer')).length, 12);
    // Its vhosts have their topology here: alice logs in on n4 and declares a queue.
    const conn = await login('n4', 'alice', 's3cret', 'sales');
    assert.equal((await (await conn.createChannel()).assertQueue('alice.late')).queue, 'alice.late');
  });

  it('with etcd gone, a change is refused with the reason and not made; what a node has it still serves', LONG, async () => {
    await etcd.stop();
    const r = await api('n1').put('/api/users/offline', { password: 'x', tags: '' });
    assert.equal(r.status, 500);
    assert.match(r.text, /cannot write the change to etcd, so it was not made/);
    assert.equal(await status('n1', '/api/users/offline'), 404, 'undone on the node asked');
    const conn = await login('n1', 'alice', 's3cret', 'sales');
    // A transient queue is this node's alone: declared without etcd. A durable one is the cluster's: refused.
    assert.equal((await (await conn.createChannel()).assertQueue('alice.offline', { durable: false })).queue, 'alice.offline');
    const durable = await login('n1', 'alice', 's3cret', 'sales');
    const closed = new Promise<Error>((resolve) => durable.once('error', resolve));
    const ch = await durable.createChannel();
    ch.on('error', () => undefined);
    await assert.rejects(ch.assertQueue('alice.offline-durable', { durable: true }));
    assert.match((await closed).message, /INTERNAL_ERROR - internal error: cannot write the change to etcd, so it was not made/);
  });
});
