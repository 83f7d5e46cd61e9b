// Replicated topology (docs/cluster.md, "Metadata: the topology"): three `wharf serve
// --cluster` processes on a private etcd, amqplib and the management API. An exchange, a
// queue and a binding declared on n1 show on n2 and n3 (the API, a passive declare), the
// queue with its home n1; two nodes declaring one queue with different arguments at once end
// with one winner and the other's client gets 406; a delete on n3 goes everywhere; a node
// restarted takes what changed while it was down.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { connect, type Channel, type ChannelModel } from 'amqplib';
import { waitUntil } from '../../helpers/async.js';
import { makeDataDir, spawnBroker, type SpawnedBroker } from '../../helpers/broker.js';
import { startTestEtcd, TEST_LEASE_TTL_SEC, type EtcdProcess } from '../../helpers/etcd.js';
import { ManagementApi } from '../../helpers/management.js';

const LONG = { timeout: 120_000 } as const;

interface QueueJson {
  name: string;
  node: string;
  arguments: Record<string, unknown>;
}

interface BindingJson {
  source: string;
  destination: string;
  routing_key: string;
}

describe('replicated topology (three nodes, amqplib)', () => {
  let etcd: EtcdProcess;
  const nodes = new Map<string, SpawnedBroker>();
  const dirs = new Map<string, string>();
  const connections: ChannelModel[] = [];

  const api = (name: string): ManagementApi => new ManagementApi(`http://127.0.0.1:${nodes.get(name)?.httpPort}`);
  const clusterArgs = (name: string): string[] => [
    '--cluster', etcd.endpoint, '--node-name', name, '--advertise-host', '127.0.0.1', '--cluster-lease-ttl', String(TEST_LEASE_TTL_SEC),
  ];

  async function start(name: string): Promise<void> {
    let dir = dirs.get(name);
    if (dir === undefined) {
      dir = await makeDataDir();
      dirs.set(name, dir);
    }
    nodes.set(name, await spawnBroker(dir, clusterArgs(name)));
  }

  async function channel(node: string): Promise<Channel> {
    const c = await connect(`amqp://guest:guest@127.0.0.1:${nodes.get(node)?.port}`);
    c.on('error', () => undefined);
    connections.push(c);
    const ch = await c.createChannel();
    ch.on('error', () => undefined);
    return ch;
  }

  async function queueOn(node: string, queue: string): Promise<QueueJson | undefined> {
    const r = await api(node).get(`/api/queues/%2F/${encodeURIComponent(queue)}`);
    return r.status === 200 ? r.json<QueueJson>() : undefined;
  }

  before(async () => {
    etcd = await startTestEtcd();
    for (const name of ['n1', 'n2', 'n3']) await start(name);
  });
  after(async () => {
    for (const c of connections) await c.close().catch(() => undefined);
    for (const n of nodes.values()) await n.kill('SIGKILL').catch(() => undefined);
    await etcd.stop();
    for (const d of dirs.values()) await rm(d, { recursive: true, force: true });
  });

  it('an exchange, a queue and a binding declared on n1 show on n2 and n3, the queue homed on n1', LONG, async () => {
    const ch = await channel('n1');
    await ch.assertExchange('orders', 'topic', { durable: true });
    await ch.assertQueue('orders.eu', { durable: true, arguments: { 'x-max-length': 1000 } });
    await ch.bindQueue('orders.eu', 'orders', 'eu.#');
    for (const name of ['n2', 'n3']) {
      await waitUntil(async () => (await queueOn(name, 'orders.eu')) !== undefined, `${name} has orders.eu`);
      const q = await queueOn(name, 'orders.eu');
      assert.equal(q?.node, 'n1', 'the home is the node it was declared on');
      assert.equal(q?.arguments['x-max-length'], 1000);
      assert.equal((await api(name).get('/api/exchanges/%2F/orders')).status, 200);
      await waitUntil(async () => {
        const bindings = await api(name).getJson<BindingJson[]>('/api/queues/%2F/orders.eu/bindings');
        return bindings.some((b) => b.source === 'orders' && b.routing_key === 'eu.#');
      }, `${name} has the binding`);
      const other = await channel(name);
      const ok = await other.checkQueue('orders.eu');
      assert.equal(ok.queue, 'orders.eu');
      await other.checkExchange('orders');
    }
  });

  it('two nodes declaring one queue with different arguments at once: one wins, the other gets 406', LONG, async () => {
    for (let round = 0; round < 3; round++) {
      const queue = `clash-${round}`;
      const [a, b] = await Promise.all([channel('n2'), channel('n3')]);
      const results = await Promise.allSettled([
        a.assertQueue(queue, { durable: true, arguments: { 'x-max-length': 1 } }),
        b.assertQueue(queue, { durable: true, arguments: { 'x-max-length': 2 } }),
      ]);
      const refused = results.filter((r) => r.status === 'rejected');
      assert.equal(refused.length, 1, `round ${round}: exactly one declare refused`);
      assert.match(String((refused[0] as PromiseRejectedResult).reason), /PRECONDITION_FAILED - inequivalent arg 'x-max-length'/);
      const winner = results[0].status === 'fulfilled' ? 1 : 2;
      for (const name of ['n1', 'n2', 'n3']) {
        await waitUntil(async () => (await queueOn(name, queue))?.arguments['x-max-length'] === winner, `${name} has the winner's ${queue}`);
      }
    }
  });

  it('a queue and an exchange deleted on n3 are gone everywhere', LONG, async () => {
    const ch = await channel('n1');
    await ch.assertExchange('doomed-x', 'fanout', { durable: true });
    await ch.assertQueue('doomed', { durable: true });
    await ch.bindQueue('doomed', 'doomed-x', '');
    await waitUntil(async () => (await queueOn('n3', 'doomed')) !== undefined, 'n3 has doomed');
    await waitUntil(async () => (await api('n3').get('/api/exchanges/%2F/doomed-x')).status === 200, 'n3 has doomed-x');
    const n3 = await channel('n3');
    await n3.deleteQueue('doomed');
    await n3.deleteExchange('doomed-x');
    for (const name of ['n1', 'n2', 'n3']) {
      await waitUntil(async () => (await queueOn(name, 'doomed')) === undefined, `doomed gone from ${name}`);
      await waitUntil(async () => (await api(name).get('/api/exchanges/%2F/doomed-x')).status === 404, `doomed-x gone from ${name}`);
    }
    const passive = await channel('n1');
    await assert.rejects(passive.checkQueue('doomed'), /NOT_FOUND - no queue 'doomed' in vhost '\/'/);
  });

  it('a node restarted takes the topology that changed while it was down', LONG, async () => {
    // A queue homed on n1 (a clash-* queue's home is whichever declare won, maybe n2, and a
    // queue whose home is down cannot be deleted, as in RabbitMQ).
    const before = await channel('n1');
    await before.assertQueue('gone-meanwhile', { durable: true });
    await waitUntil(async () => (await queueOn('n2', 'gone-meanwhile')) !== undefined, 'n2 has gone-meanwhile');
    await nodes.get('n2')?.kill('SIGKILL');
    const ch = await channel('n1');
    await ch.assertQueue('while-down', { durable: true });
    await ch.bindQueue('while-down', 'orders', 'us.*');
    await ch.deleteQueue('gone-meanwhile');
    await start('n2');
    await waitUntil(async () => (await queueOn('n2', 'while-down'))?.node === 'n1', 'n2 has while-down');
    assert.equal(await queueOn('n2', 'gone-meanwhile'), undefined, 'a queue deleted meanwhile is gone');
    assert.equal((await queueOn('n2', 'orders.eu'))?.node, 'n1', 'what it had stays');
    const bindings = await api('n2').getJson<BindingJson[]>('/api/exchanges/%2F/orders/bindings/source');
    assert.deepEqual(bindings.map((b) => `${b.destination}:${b.routing_key}`).sort(), ['orders.eu:eu.#', 'while-down:us.*']);
    const defs = await api('n3').getJson<{ queues: { name: string }[] }>('/api/definitions');
    assert.ok(defs.queues.some((q) => q.name === 'while-down'), 'the definitions export on n3 has it');
  });
});
