// Stream queues and transactions across the nodes of a cluster (docs/cluster.md, "Stream queues"
// and "Transactions across nodes"): three `wharf serve --cluster` processes on a private etcd,
// amqplib and @cloudamqp/amqp-client.
//
// - A node holding no replica of a stream queue relays its consumers (and passive declares) to the
//   leader and forwards its publishes there: confirmed, read from the first offset in order; what
//   RabbitMQ refuses on a stream (nack, no prefetch) is refused the same way; pika does the same.
// - Transactions through a node that is not the queue's home: publishes land at tx.commit (and not
//   at a rollback), acks of relayed deliveries are committed on the home (rolled back ones are not),
//   a transactional publish into a stream led elsewhere is committed there.
// - Publishes confirmed on a node that does not lead the stream, read by a consumer on a follower
//   from the first offset; the leader is killed; the consumer goes on on its own node, and
//   publishes through a node that is not the new leader reach it. A transaction whose queue's home
//   is down fails its commit with RabbitMQ's 406 "partial tx completion".

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AMQPClient, type AMQPChannel, type AMQPMessage } from '@cloudamqp/amqp-client';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import { Collector, waitUntil } from '../../helpers/async.js';
import { assertReply, bodies, consumeInto, serverClose, tx } from '../../helpers/amqplib.js';
import { NODE_NAMES, useCluster } from '../../helpers/cluster.js';
import { etcdClient } from '../../helpers/etcd.js';
import { ManagementApi } from '../../helpers/management.js';
import { leaderVia } from '../../helpers/quorum.js';
import { runPython } from '../../helpers/python-kafka.js';

const LONG = { timeout: 180_000 } as const;

/** pika: five publishes with confirms (a nack raises), then a consumer from the first offset, an ack each, until n. */
const PIKA_STREAM = `
import json, sys, pika
url, q, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
conn = pika.BlockingConnection(pika.URLParameters(url))
ch = conn.channel()
ch.confirm_delivery()
for i in range(5):
    ch.basic_publish('', q, ('p%d' % i).encode(), pika.BasicProperties(delivery_mode=2))
ch.basic_qos(prefetch_count=5)
got = []
for method, props, body in ch.consume(q, arguments={'x-stream-offset': 'first'}, inactivity_timeout=30):
    if method is None:
        break
    got.append([body.decode(), props.headers.get('x-stream-offset')])
    ch.basic_ack(method.delivery_tag)
    if len(got) == n:
        break
ch.cancel()
conn.close()
print(json.dumps({'got': got}))
`;
const STREAM = { durable: true, arguments: { 'x-queue-type': 'stream' } } as const;

describe('stream queues and transactions across nodes (three nodes)', () => {
  const { cluster, clientsOf } = useCluster();
  const amqpClients: AMQPClient[] = [];

  const api = (name: string): ManagementApi => new ManagementApi(`http://127.0.0.1:${cluster.node(name).httpPort}`);

  /** The stream queue's leader, once it has one other than `not`. */
  async function leaderOf(q: string, not?: string): Promise<string> {
    const resource = `stream/%2F/${q}/0`;
    let leader = '';
    await waitUntil(async () => {
      leader = (await cluster.leadersUnder(resource)).get(resource)?.node ?? '';
      return leader !== '' && leader !== not;
    }, `${q} has a leader${not === undefined ? '' : ` other than ${not}`}`, 30_000);
    return leader;
  }

  async function knownOn(name: string, q: string): Promise<void> {
    await waitUntil(async () => (await api(name).get(`/api/queues/%2F/${q}`)).status === 200, `${name} knows ${q}`, 20_000);
  }

  /** Publishes with confirms and waits for them (rejects if any was nacked). */
  async function confirmed(ch: ConfirmChannel, q: string, items: readonly string[]): Promise<void> {
    for (const s of items) ch.sendToQueue(q, Buffer.from(s), { persistent: true });
    await ch.waitForConfirms();
  }

  async function amqpClientChannel(name: string): Promise<AMQPChannel> {
    const c = new AMQPClient(cluster.node(name).url);
    amqpClients.push(c);
    await c.connect();
    return c.channel();
  }

  it('a node with no replica: consumers relayed to the leader, publishes forwarded and confirmed, RabbitMQ\'s refusals kept', LONG, async () => {
    const q = 'sq-outside';
    await (await clientsOf('n1').channel()).assertQueue(q, { ...STREAM, arguments: { ...STREAM.arguments, 'x-initial-cluster-size': 2 } });
    await leaderOf(q);
    const etcd = etcdClient(cluster.etcd);
    const placement = JSON.parse((await etcd.get(`/wharf/wharf/meta/streams/%2F/${q}`).string()) ?? '{}') as { replicas: string[][] };
    etcd.close();
    assert.equal(placement.replicas[0].length, 2);
    const outsider = NODE_NAMES.find((n) => !placement.replicas[0].includes(n)) ?? '';
    assert.notEqual(outsider, '');
    await knownOn(outsider, q);

    const sent = Array.from({ length: 20 }, (_, i) => `o${i}`);
    await confirmed(await clientsOf(outsider).confirmChannel(), q, sent);
    // Confirmed means committed on the leader: the passive declare on the outsider answers the leader's count.
    const counting = await clientsOf(outsider).channel();
    assert.equal((await counting.checkQueue(q)).messageCount, 20);

    // RabbitMQ's refusal of a stream consumer without a prefetch, from the outsider itself (406, channel).
    const unlimited = await clientsOf(outsider).channel();
    const refused = serverClose(unlimited);
    unlimited.consume(q, () => undefined, { arguments: { 'x-stream-offset': 'first' } }).catch(() => undefined);
    assertReply(await refused, 406, /consumer prefetch count is not set/);

    const conn = await clientsOf(outsider).connect();
    const ch = await clientsOf(outsider).channel(conn);
    await ch.prefetch(5);
    const { collector } = await consumeInto(ch, q, { arguments: { 'x-stream-offset': 'first' } });
    const got: ConsumeMessage[] = [];
    while (got.length < 20) {
      const m = (await collector.waitFor(got.length + 1))[got.length];
      got.push(m);
      ch.ack(m);
    }
    assert.deepEqual(bodies(got), sent);
    assert.deepEqual(got.map((m) => Number(m.properties.headers?.['x-stream-offset'])), sent.map((_, i) => i));
    assert.ok(got.every((m) => m.fields.routingKey === q));

    // Routed by an exchange on the outsider (a binding there): forwarded with its exchange and routing key.
    const viaExchange = await clientsOf(outsider).confirmChannel();
    await viaExchange.bindQueue(q, 'amq.topic', 'sq.#');
    viaExchange.publish('amq.topic', 'sq.x', Buffer.from('o20'), { persistent: true });
    await viaExchange.waitForConfirms();
    const last = (await collector.waitFor(21))[20];
    assert.equal(last.content.toString(), 'o20');
    assert.equal(last.fields.exchange, 'amq.topic');
    assert.equal(last.fields.routingKey, 'sq.x');

    // A stream delivery cannot be nacked (RabbitMQ: 540, a connection error), relayed or not.
    const closed = serverClose(conn);
    ch.nack(last);
    assertReply(await closed, 540, /basic.nack and basic.reject not supported by stream queues/);

    // Python's pika (Debian's python3-pika) on the same node: publishes confirmed, a consumer from the first offset.
    const r = await runPython(PIKA_STREAM, [cluster.node(outsider).url, q, '26']);
    assert.deepEqual(r.got, [...sent, 'o20', 'p0', 'p1', 'p2', 'p3', 'p4'].map((b, i) => [b, i]));
  });

  it('transactions through a node that is not the home: publishes land at commit, relayed acks are committed on the home', LONG, async () => {
    const q = 'tx-classic';
    await (await clientsOf('n1').channel()).assertQueue(q, { durable: true });
    await knownOn('n2', q);
    await knownOn('n3', q);
    const onHome = await clientsOf('n1').channel();

    // Publishes in a transaction on n2 reach n1 at tx.commit, not at tx.rollback.
    const pub = await clientsOf('n2').channel();
    await tx.select(pub);
    for (let i = 0; i < 5; i++) pub.sendToQueue(q, Buffer.from(`t${i}`), { persistent: true });
    assert.equal((await onHome.checkQueue(q)).messageCount, 0, 'nothing before the commit');
    await tx.commit(pub);
    assert.equal((await onHome.checkQueue(q)).messageCount, 5, 'commit-ok comes once the home has them');
    pub.sendToQueue(q, Buffer.from('rolled-back'), { persistent: true });
    await tx.rollback(pub);
    pub.sendToQueue(q, Buffer.from('t5'), { persistent: true });
    await tx.commit(pub);
    assert.equal((await onHome.checkQueue(q)).messageCount, 6);

    // Acks of deliveries relayed from n1 to n3, in a transaction: a rolled-back ack is not applied,
    // a committed one is; closing the channel requeues the rest.
    const consumer = await clientsOf('n3').channel();
    await consumer.prefetch(10);
    await tx.select(consumer);
    const { collector } = await consumeInto(consumer, q);
    const six = await collector.waitFor(6);
    assert.deepEqual(bodies(six), ['t0', 't1', 't2', 't3', 't4', 't5']);
    consumer.ack(six[2], true);
    await tx.rollback(consumer);
    consumer.ack(six[1], true);
    await tx.commit(consumer);
    await consumer.close();
    const again = await clientsOf('n2').channel();
    await again.prefetch(10);
    const { collector: rest } = await consumeInto(again, q);
    const four = await rest.waitFor(4);
    assert.deepEqual(bodies(four), ['t2', 't3', 't4', 't5'], 'the rolled-back ack of t2 was not applied, the committed ones of t0 and t1 were');
    assert.ok(four.every((m) => m.fields.redelivered));
    for (const m of four) again.ack(m);

    // A quorum queue: a transaction on a node that does not lead it publishes three (each committed
    // by the queue's log before commit-ok) and, on another such node, acks them.
    const qq = 'tx-quorum';
    await (await clientsOf('n1').channel()).assertQueue(qq, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    let qLeader = '';
    await waitUntil(async () => {
      const r = await api('n1').get(`/api/queues/%2F/${qq}`);
      qLeader = r.status === 200 ? (r.json<{ leader: string | null }>().leader ?? '') : '';
      return qLeader !== '';
    }, `${qq} has a leader`, 30_000);
    const [qpub, qcons] = NODE_NAMES.filter((n) => n !== qLeader);
    await knownOn(qpub, qq);
    await knownOn(qcons, qq);
    // Both nodes forward to the leader only once they know it (until then: 404 "has no leader at the moment").
    for (const n of [qpub, qcons]) await waitUntil(async () => (await leaderVia(cluster, n, qq)) === qLeader, `${n} knows ${qq}'s leader`, 30_000);
    const qch = await clientsOf(qpub).channel();
    await tx.select(qch);
    for (let i = 0; i < 3; i++) qch.sendToQueue(qq, Buffer.from(`q${i}`), { persistent: true });
    await tx.commit(qch);
    const onLeader = await clientsOf(qLeader).channel();
    assert.equal((await onLeader.checkQueue(qq)).messageCount, 3);
    const qack = await clientsOf(qcons).channel();
    await qack.prefetch(10);
    await tx.select(qack);
    const { collector: qgot } = await consumeInto(qack, qq);
    const three = await qgot.waitFor(3);
    assert.deepEqual(bodies(three), ['q0', 'q1', 'q2']);
    qack.ack(three[2], true);
    await tx.commit(qack);
    const onLeaderApi = (await api(qLeader).get(`/api/queues/%2F/${qq}`)).json<{ messages: number }>();
    assert.equal(onLeaderApi.messages, 0, 'commit-ok comes once the acks removed them on the leader (ready and unacked)');

    // @cloudamqp/amqp-client: a transactional publish into a stream queue led by another node.
    const sq = 'sq-tx';
    await (await clientsOf('n1').channel()).assertQueue(sq, STREAM);
    const leader = await leaderOf(sq);
    const via = NODE_NAMES.find((n) => n !== leader) ?? '';
    await knownOn(via, sq);
    const ch = await amqpClientChannel(via);
    await ch.txSelect();
    for (let i = 0; i < 3; i++) await ch.basicPublish('', sq, `s${i}`, { deliveryMode: 2 });
    await ch.txCommit();
    const counted = await clientsOf(leader).channel();
    assert.equal((await counted.checkQueue(sq)).messageCount, 3, 'commit-ok comes once the leader committed them');
    for (const c of amqpClients.splice(0)) await c.close().catch(() => undefined);
  });

  it('published on a node that does not lead, read on a follower; the leader killed, the follower reads on, publishes reach the new leader', LONG, async () => {
    const q = 'sq-failover';
    await (await clientsOf('n1').channel()).assertQueue(q, STREAM);
    const leader = await leaderOf(q);
    const [publisher, reader] = NODE_NAMES.filter((n) => n !== leader);
    await knownOn(publisher, q);
    await knownOn(reader, q);
    // A classic queue homed on the leader's node, for a transaction once that node is down.
    const homedThere = 'tx-dead-home';
    await (await clientsOf(leader).channel()).assertQueue(homedThere, { durable: true });
    await knownOn(publisher, homedThere);

    const first = Array.from({ length: 40 }, (_, i) => `a${i}`);
    await confirmed(await clientsOf(publisher).confirmChannel(), q, first);

    // @cloudamqp/amqp-client on the follower `reader`, from the first offset, an ack each.
    const ch = await amqpClientChannel(reader);
    await ch.basicQos(10);
    const got = new Collector<AMQPMessage>();
    await ch.basicConsume(q, { noAck: false, args: { 'x-stream-offset': 'first' } }, (m) => {
      got.push(m);
      void m.ack();
    });
    const text = (m: AMQPMessage): string => m.bodyToString() ?? '';
    assert.deepEqual((await got.waitFor(40)).map(text), first);

    // On the other follower, where consumers start: an offset, the last chunk, the next message.
    const starts = await clientsOf(publisher).channel();
    await starts.prefetch(1000);
    const { collector: fromOffset } = await consumeInto(starts, q, { arguments: { 'x-stream-offset': 30 } });
    assert.deepEqual(bodies(await fromOffset.waitFor(10)), first.slice(30));
    const { collector: fromLast } = await consumeInto(starts, q, { arguments: { 'x-stream-offset': 'last' } });
    const lastChunk = bodies(await fromLast.waitFor(1));
    assert.ok(first.includes(lastChunk[0]));
    const { collector: fromNext } = await consumeInto(starts, q, { arguments: { 'x-stream-offset': 'next' } });

    await cluster.node(leader).kill('SIGKILL');
    const next = await leaderOf(q, leader);
    assert.ok(next === publisher || next === reader);
    const through = next === publisher ? reader : publisher;

    // Through the survivor that does not lead: once its view has the new leader, publishes are
    // forwarded there. Until then they may be nacked (nobody to forward to): a probe, sent again
    // under a new body until one is confirmed.
    const pub = await clientsOf(through).confirmChannel();
    const probes: string[] = [];
    await waitUntil(async () => {
      const probe = `probe${probes.length}`;
      probes.push(probe);
      pub.sendToQueue(q, Buffer.from(probe), { persistent: true });
      return pub.waitForConfirms().then(() => true, () => false);
    }, 'a publish through the survivor is confirmed', 30_000);
    const second = Array.from({ length: 40 }, (_, i) => `b${i}`);
    await confirmed(pub, q, second);

    // The consumer on `reader` never stopped: every confirmed message, in order, at increasing offsets.
    await waitUntil(() => got.items.some((m) => text(m) === 'b39'), 'the follower\'s consumer has the second round', 30_000);
    const all = got.items.map(text);
    assert.deepEqual(all.filter((b) => !b.startsWith('probe')), [...first, ...second]);
    assert.ok(all.includes(probes[probes.length - 1]), 'the confirmed probe was delivered');
    const offsets = got.items.map((m) => Number(m.properties.headers?.['x-stream-offset']));
    assert.ok(offsets.every((o, i) => i === 0 || o > offsets[i - 1]), 'offsets increase');

    await waitUntil(() => fromNext.items.some((m) => m.content.toString() === 'b39'), 'the next-offset consumer has the second round', 30_000);
    assert.ok(bodies(fromNext.items).every((b) => !b.startsWith('a')), '"next" starts after what was there');
    assert.deepEqual(bodies(fromLast.items).slice(0, 40 - first.indexOf(lastChunk[0])), first.slice(first.indexOf(lastChunk[0])), '"last" starts at the last chunk');

    // A transaction publishing to a queue whose home is down: RabbitMQ's 406 "partial tx completion".
    const txch = await clientsOf(publisher).channel();
    const failed = serverClose(txch);
    await tx.select(txch);
    txch.sendToQueue(homedThere, Buffer.from('lost'), { persistent: true });
    tx.commit(txch).catch(() => undefined);
    assertReply(await failed, 406, /partial tx completion/);
    for (const c of amqpClients.splice(0)) await c.close().catch(() => undefined);
  });
});
