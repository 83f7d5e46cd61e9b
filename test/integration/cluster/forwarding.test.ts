// Forwarding to a queue's home node (docs/cluster.md, "Forwarding"): three `wharf serve
// --cluster` processes on a private etcd and amqplib. A classic queue homed on n1 is used from
// n2 and n3 as if it were theirs: a publish on n2 through a topic exchange is confirmed once
// n1 has it and reaches a consumer on n3 with the original exchange and routing key; acks from
// n3 remove it on n1; basic.get, a passive declare, a purge and a delete through other nodes
// act on n1; when n1 is killed, the consumer on n3 gets basic.cancel, and n1 restarted keeps
// its queue's messages, which a get through n2 reaches.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { connect, type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage, type GetMessage } from 'amqplib';
import { waitUntil } from '../../helpers/async.js';
import { makeDataDir, spawnBroker, type SpawnedBroker } from '../../helpers/broker.js';
import { startTestEtcd, TEST_LEASE_TTL_SEC, type EtcdProcess } from '../../helpers/etcd.js';
import { ManagementApi } from '../../helpers/management.js';

const LONG = { timeout: 120_000 } as const;

interface QueueJson {
  name: string;
  node: string;
  messages: number;
  messages_ready: number;
  consumers: number;
}

describe('forwarding to a queue\'s home node (three nodes, amqplib)', () => {
  let etcd: EtcdProcess;
  const nodes = new Map<string, SpawnedBroker>();
  const dirs: string[] = [];
  const connections: ChannelModel[] = [];

  const clusterArgs = (name: string): string[] => [
    '--cluster', etcd.endpoint, '--node-name', name, '--advertise-host', '127.0.0.1', '--cluster-lease-ttl', String(TEST_LEASE_TTL_SEC),
  ];
  const api = (name: string): ManagementApi => new ManagementApi(`http://127.0.0.1:${nodes.get(name)?.httpPort}`);

  async function open(node: string): Promise<ChannelModel> {
    const c = await connect(`amqp://guest:guest@127.0.0.1:${nodes.get(node)?.port}`);
    c.on('error', () => undefined);
    connections.push(c);
    return c;
  }

  async function channel(node: string): Promise<Channel> {
    const ch = await (await open(node)).createChannel();
    ch.on('error', () => undefined);
    return ch;
  }

  async function confirmChannel(node: string): Promise<ConfirmChannel> {
    const ch = await (await open(node)).createConfirmChannel();
    ch.on('error', () => undefined);
    return ch;
  }

  async function messagesOnHome(queue: string): Promise<number | undefined> {
    const r = await api('n1').get(`/api/queues/%2F/${queue}`);
    return r.status === 200 ? r.json<QueueJson>().messages : undefined;
  }

  async function everywhere(queue: string): Promise<void> {
    for (const name of ['n2', 'n3']) {
      await waitUntil(async () => (await api(name).get(`/api/queues/%2F/${queue}`)).status === 200, `${name} has ${queue}`);
    }
  }

  before(async () => {
    etcd = await startTestEtcd();
    for (const name of ['n1', 'n2', 'n3']) {
      const dir = await makeDataDir();
      dirs.push(dir);
      nodes.set(name, await spawnBroker(dir, clusterArgs(name)));
    }
  });
  after(async () => {
    for (const c of connections) await c.close().catch(() => undefined);
    for (const n of nodes.values()) await n.kill('SIGKILL').catch(() => undefined);
    await etcd.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('a publish on n2 through a topic exchange reaches the consumer on n3 of a queue homed on n1; acks from n3 remove it on n1', LONG, async () => {
    const n1 = await channel('n1');
    await n1.assertExchange('fx', 'topic', { durable: true });
    await n1.assertQueue('fq', { durable: true });
    await n1.bindQueue('fq', 'fx', 'orders.#');
    await everywhere('fq');
    await waitUntil(async () => (await api('n2').getJson<unknown[]>('/api/queues/%2F/fq/bindings')).length === 2, 'n2 has the binding');

    const consumer = await channel('n3');
    await consumer.prefetch(5);
    const received: ConsumeMessage[] = [];
    await consumer.consume('fq', (msg) => {
      if (msg === null) return;
      received.push(msg);
      consumer.ack(msg);
    });
    const publisher = await confirmChannel('n2');
    const count = 30;
    for (let i = 0; i < count; i++) {
      publisher.publish('fx', `orders.eu.${i}`, Buffer.from(`m${i}`), { persistent: true, headers: { 'x-mine': i } });
    }
    await publisher.waitForConfirms();
    await waitUntil(() => received.length === count, 'n3 received every message');
    received.forEach((msg, i) => {
      assert.equal(msg.content.toString(), `m${i}`);
      assert.equal(msg.fields.exchange, 'fx', 'the original exchange');
      assert.equal(msg.fields.routingKey, `orders.eu.${i}`, 'the original routing key');
      assert.equal(msg.fields.redelivered, false);
      assert.deepEqual(msg.properties.headers, { 'x-mine': i }, 'the forwarding headers are gone');
    });
    await waitUntil(async () => (await messagesOnHome('fq')) === 0, 'acked on n1');
    const mandatory = await channel('n2');
    const returned: unknown[] = [];
    mandatory.on('return', (m) => returned.push(m));
    mandatory.publish('fx', 'orders.us', Buffer.from('routed'), { mandatory: true });
    await waitUntil(() => received.length === count + 1, 'the mandatory publish was delivered');
    assert.equal(returned.length, 0, 'routed to a queue homed elsewhere counts as routed');
    // n3's relayed consumer is a consumer on the home: every node's API counts it, as n1's does
    // (counts from the home are up to a second old, as RabbitMQ's are a few seconds old).
    const onHome = await api('n1').getJson<QueueJson>('/api/queues/%2F/fq');
    assert.equal(onHome.consumers, 1);
    for (const name of ['n2', 'n3']) {
      await waitUntil(async () => (await api(name).getJson<QueueJson>('/api/queues/%2F/fq')).consumers === onHome.consumers, `${name} shows the home's consumer count`);
    }
  });

  it('the link user is no user: not listed, and no login without the cluster secret', LONG, async () => {
    const users = await api('n2').getJson<{ name: string }[]>('/api/users');
    assert.deepEqual(users.map((u) => u.name), ['guest']);
    await assert.rejects(connect(`amqp://wharf-cluster-link:guess@127.0.0.1:${nodes.get('n2')?.port}`), /ACCESS_REFUSED|403/);
  });

  it('basic.get, a passive declare, a purge and a delete through other nodes act on the home', LONG, async () => {
    const n1 = await channel('n1');
    await n1.assertQueue('gq', { durable: true });
    await everywhere('gq');
    for (let i = 0; i < 3; i++) n1.sendToQueue('gq', Buffer.from(`g${i}`), { persistent: true });
    await waitUntil(async () => (await messagesOnHome('gq')) === 3, 'three on n1');

    const n2 = await channel('n2');
    assert.equal((await n2.checkQueue('gq')).messageCount, 3, 'a passive declare on n2 counts the home\'s messages');
    assert.equal((await n2.assertQueue('gq', { durable: true })).messageCount, 3, 'so does a declare on n2');
    // The API of every node shows the home's counts, for the queue and in the lists.
    for (const name of ['n2', 'n3']) {
      let one: QueueJson | undefined;
      await waitUntil(async () => {
        one = await api(name).getJson<QueueJson>('/api/queues/%2F/gq');
        return one.messages === 3;
      }, `${name}: /api/queues/%2F/gq counts the home's messages`);
      assert.deepEqual([one?.messages, one?.messages_ready, one?.consumers, one?.node], [3, 3, 0, 'n1'], `${name}: /api/queues/%2F/gq`);
      for (const path of ['/api/queues', '/api/queues/%2F', '/api/queues?sort=messages&reverse=true&page=1&page_size=100']) {
        const body = await api(name).getJson<QueueJson[] | { items: QueueJson[] }>(path);
        const listed = (Array.isArray(body) ? body : body.items).find((q) => q.name === 'gq');
        assert.equal(listed?.messages, 3, `${name}: ${path}`);
      }
    }
    const got = await n2.get('gq', { noAck: false });
    assert.ok(got !== false);
    assert.equal(got.content.toString(), 'g0');
    assert.equal(got.fields.exchange, '');
    assert.equal(got.fields.routingKey, 'gq');
    n2.nack(got, false, true);
    const again = await n2.get('gq', { noAck: false });
    assert.ok(again !== false);
    assert.equal(again.content.toString(), 'g0');
    assert.equal(again.fields.redelivered, true, 'requeued by the nack: redelivered');
    n2.ack(again);
    await waitUntil(async () => (await messagesOnHome('gq')) === 2, 'the ack on n2 removed it on n1');

    const n3 = await channel('n3');
    assert.equal((await n3.purgeQueue('gq')).messageCount, 2);
    assert.equal(await messagesOnHome('gq'), 0);
    n1.sendToQueue('gq', Buffer.from('last'), { persistent: true });
    await waitUntil(async () => (await messagesOnHome('gq')) === 1, 'one on n1');
    const refused = await channel('n3');
    await assert.rejects(refused.deleteQueue('gq', { ifEmpty: true }), /PRECONDITION_FAILED - queue 'gq' in vhost '\/' not empty/);
    assert.equal((await n3.deleteQueue('gq')).messageCount, 1);
    for (const name of ['n1', 'n2', 'n3']) {
      await waitUntil(async () => (await api(name).get('/api/queues/%2F/gq')).status === 404, `gq gone from ${name}`);
    }
  });

  it('the home node killed: the consumer on n3 gets basic.cancel; restarted, it keeps its messages', LONG, async () => {
    const n1 = await channel('n1');
    await n1.assertQueue('fragile', { durable: true });
    await everywhere('fragile');
    const consumer = await channel('n3');
    let cancelled = false;
    const seen: string[] = [];
    await consumer.consume('fragile', (msg) => {
      if (msg === null) cancelled = true;
      else seen.push(msg.content.toString());
    }, { noAck: true });
    n1.sendToQueue('fragile', Buffer.from('before'));
    await waitUntil(() => seen.length === 1, 'delivered before the kill');
    await n1.assertQueue('keeper', { durable: true });
    await everywhere('keeper');
    const confirming = await confirmChannel('n1');
    confirming.sendToQueue('keeper', Buffer.from('kept'), { persistent: true });
    await confirming.waitForConfirms();
    await nodes.get('n1')?.kill('SIGKILL');
    await waitUntil(() => cancelled, 'n3\'s consumer was cancelled');
    // While the home is down, a get through n2 is RabbitMQ's channel error, not a closed connection.
    const whileDown = await channel('n2');
    await assert.rejects(whileDown.get('keeper', { noAck: true }), /404.*home node 'n1' of durable queue 'keeper' in vhost '\/' is down or inaccessible/);

    // The home restarted on its data dir keeps its queue and messages; the others reach them again.
    nodes.set('n1', await spawnBroker(dirs[0] as string, clusterArgs('n1')));
    await waitUntil(async () => (await messagesOnHome('keeper')) === 1, 'n1 kept keeper\'s message');
    const got: GetMessage[] = [];
    await waitUntil(async () => {
      // Until n2's view has n1's new address, its link cannot connect (the attempt fails with 404).
      const m = await (await channel('n2')).get('keeper', { noAck: true }).catch(() => false as const);
      if (m !== false) got.push(m);
      return got.length > 0;
    }, 'a get via n2 reaches the restarted home');
    assert.equal(got[0]?.content.toString(), 'kept');
  });
});
