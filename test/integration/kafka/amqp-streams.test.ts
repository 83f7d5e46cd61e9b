// One stream, two protocols: an AMQP stream queue `q` is the Kafka topic `q` with one partition,
// whichever side created it, with the same offsets on both sides (x-stream-offset = Kafka offset).
// AMQP publishes read back through librdkafka (kcat) and kafkajs's admin; records produced by
// kafkajs and kcat (every compression codec) consumed over AMQP; deletes from either side; the
// topic configs AMQP arguments become; restarts. Wharf only: the reference broker has no Kafka.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { CompressionTypes } from 'kafkajs';
import { Collector, withTimeout, WAIT_MS } from '../../helpers/async.js';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { kafkaClient, kcat, skipKafkaUnderReference, topicName } from '../../helpers/kafka.js';

const STREAM = { 'x-queue-type': 'stream' } as const;

interface KcatRecord {
  offset: number;
  key: string | null;
  payload: string | null;
  ts: number;
  headers?: string[];
}

describe('stream queues and Kafka topics are one', { skip: skipKafkaUnderReference }, () => {
  let broker: TestBroker;
  let bootstrap: string;
  const conns: ChannelModel[] = [];

  before(async () => {
    broker = await startTestBroker();
    bootstrap = broker.handle.kafkaBootstrap;
  });
  after(async () => {
    for (const c of conns) await c.close().catch(() => undefined);
    await broker?.close();
  });

  async function channel(): Promise<Channel> {
    const conn = await amqp.connect(broker.url);
    conn.on('error', () => {});
    conns.push(conn);
    const ch = await conn.createConfirmChannel();
    ch.on('error', () => {});
    return ch;
  }

  async function readKcat(topic: string): Promise<KcatRecord[]> {
    const r = await kcat(['-b', bootstrap, '-t', topic, '-C', '-p', '0', '-o', 'beginning', '-e', '-J', '-q']);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as KcatRecord);
  }

  async function consumeAll(q: string, n: number, offset: unknown = 'first'): Promise<ConsumeMessage[]> {
    const ch = await channel();
    await ch.prefetch(1000);
    const got = new Collector<ConsumeMessage>();
    const { consumerTag } = await ch.consume(q, (m) => {
      if (!m) return;
      got.push(m);
      ch.ack(m);
    }, { arguments: { 'x-stream-offset': offset } });
    const msgs = await got.waitFor(n);
    await ch.cancel(consumerTag);
    return msgs;
  }

  const headerPairs = (h: string[] | undefined): [string, string][] => {
    const out: [string, string][] = [];
    for (let i = 0; h && i < h.length; i += 2) out.push([h[i], h[i + 1]]);
    return out;
  };

  test('AMQP publishes are records of the topic: value, key, headers and offsets', async () => {
    const q = topicName('amqp-pub');
    const ch = await channel();
    await ch.assertQueue(q, { durable: true, arguments: STREAM });
    ch.sendToQueue(q, Buffer.from('v0'), { headers: { a: 'x', n: 5, t: { z: 1 } } });
    ch.sendToQueue(q, Buffer.from('v1'), { headers: { 'x-stream-key': 'my-key' } });
    ch.publish('', q, Buffer.from('v2'));
    await (ch as amqp.ConfirmChannel).waitForConfirms();
    const recs = await readKcat(q);
    assert.deepEqual(recs.map((r) => [r.offset, r.key, r.payload]), [[0, q, 'v0'], [1, 'my-key', 'v1'], [2, q, 'v2']]);
    // The AMQP envelope first, then each AMQP header as text (tables as JSON).
    const h0 = headerPairs(recs[0].headers);
    assert.equal(h0[0][0], 'x-amqp-content');
    assert.deepEqual(h0.slice(1), [['a', 'x'], ['n', '5'], ['t', '{"z":1}']]);
    assert.deepEqual(headerPairs(recs[1].headers).slice(1), [['x-stream-key', 'my-key']]);
    const admin = kafkaClient(bootstrap).admin();
    await admin.connect();
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [q] });
      assert.equal(meta.topics[0].partitions.length, 1);
      assert.deepEqual((await admin.fetchTopicOffsets(q)).map((o) => [o.partition, o.low, o.high]), [[0, '0', '3']]);
    } finally {
      await admin.disconnect();
    }
    // And AMQP reads the same offsets.
    const msgs = await consumeAll(q, 3);
    assert.deepEqual(msgs.map((m) => [m.content.toString(), m.properties.headers?.['x-stream-offset']]), [['v0', 0], ['v1', 1], ['v2', 2]]);
  });

  test('records kafkajs produced are AMQP messages: body, key, headers, timestamp, offsets', async () => {
    const q = topicName('kjs');
    const kafka = kafkaClient(bootstrap);
    const producer = kafka.producer();
    await producer.connect();
    const ts = Date.now() - 5000;
    try {
      const plain = await producer.send({
        topic: q,
        messages: [
          { key: 'k0', value: 'plain-0', headers: { h: 'one', bin: Buffer.from([0xff, 0x00]) }, timestamp: String(ts) },
          { key: null, value: 'plain-1' },
        ],
      });
      assert.equal(plain[0].baseOffset, '0');
      const gz = await producer.send({
        topic: q,
        compression: CompressionTypes.GZIP,
        messages: Array.from({ length: 20 }, (_, i) => ({ key: `g${i}`, value: `gzip-${i}` })),
      });
      assert.equal(gz[0].baseOffset, '2');
    } finally {
      await producer.disconnect();
    }
    // A Kafka-created topic of one partition is a stream queue: passive declare sees it.
    const ch = await channel();
    assert.deepEqual(await ch.checkQueue(q), { queue: q, messageCount: 22, consumerCount: 0 });
    const msgs = await consumeAll(q, 22);
    const [first, second] = msgs;
    assert.equal(first.content.toString(), 'plain-0');
    assert.deepEqual(first.fields, { consumerTag: first.fields.consumerTag, deliveryTag: 1, redelivered: false, exchange: '', routingKey: q });
    assert.equal(first.properties.timestamp, Math.floor(ts / 1000));
    assert.deepEqual(first.properties.headers, { h: 'one', bin: Buffer.from([0xff, 0x00]), 'x-stream-key': 'k0', 'x-stream-offset': 0 });
    assert.deepEqual(second.properties.headers, { 'x-stream-offset': 1 });
    assert.deepEqual(msgs.slice(2).map((m) => [m.content.toString(), m.properties.headers?.['x-stream-key'], m.properties.headers?.['x-stream-offset']]),
      Array.from({ length: 20 }, (_, i) => [`gzip-${i}`, `g${i}`, i + 2]));
    // Starting inside a compressed batch starts at that record.
    const mid = await consumeAll(q, 3, 19);
    assert.deepEqual(mid.map((m) => m.content.toString()), ['gzip-17', 'gzip-18', 'gzip-19']);
  });

  for (const codec of ['snappy', 'lz4', 'zstd']) {
    test(`records librdkafka produced with ${codec} are delivered over AMQP`, async () => {
      const q = topicName(codec);
      const lines = Array.from({ length: 50 }, (_, i) => `key${i}:${codec}-${i}`).join('\n') + '\n';
      const p = await kcat(['-b', bootstrap, '-t', q, '-P', '-K:', '-p', '0', '-z', codec, '-X', 'linger.ms=50'], lines);
      assert.equal(p.code, 0, p.stderr);
      const msgs = await consumeAll(q, 50);
      assert.deepEqual(msgs.map((m) => m.content.toString()), Array.from({ length: 50 }, (_, i) => `${codec}-${i}`));
      assert.deepEqual(msgs.map((m) => m.properties.headers?.['x-stream-offset']), Array.from({ length: 50 }, (_, i) => i));
      assert.equal(msgs[7].properties.headers?.['x-stream-key'], 'key7');
    });
  }

  test('an AMQP consumer waiting at the end gets what Kafka producers append', async () => {
    const q = topicName('live');
    const ch = await channel();
    await ch.assertQueue(q, { durable: true, arguments: STREAM });
    await ch.prefetch(10);
    const got = new Collector<ConsumeMessage>();
    await ch.consume(q, (m) => {
      if (m) {
        got.push(m);
        ch.ack(m);
      }
    });
    const producer = kafkaClient(bootstrap).producer();
    await producer.connect();
    try {
      await producer.send({ topic: q, messages: [{ value: 'from-kafka' }] });
    } finally {
      await producer.disconnect();
    }
    const [m] = await got.waitFor(1);
    assert.equal(m.content.toString(), 'from-kafka');
  });

  test('stream queue arguments are the topic\'s configs; a Kafka-created topic keeps Kafka\'s defaults', async () => {
    const declared = topicName('cfg');
    const plain = topicName('cfg-plain');
    const fromKafka = topicName('cfg-kafka');
    const ch = await channel();
    await ch.assertQueue(declared, { durable: true, arguments: { ...STREAM, 'x-max-age': '12h', 'x-max-length-bytes': 5_000_000, 'x-stream-max-segment-size-bytes': 1_000_000 } });
    await ch.assertQueue(plain, { durable: true, arguments: STREAM });
    const admin = kafkaClient(bootstrap).admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: fromKafka }] });
      const cfg = async (name: string): Promise<Record<string, string>> => {
        const r = await admin.describeConfigs({ resources: [{ type: 2, name, configNames: ['retention.ms', 'retention.bytes', 'segment.bytes'] }], includeSynonyms: false });
        return Object.fromEntries(r.resources[0].configEntries.map((e) => [e.configName, e.configValue]));
      };
      assert.deepEqual(await cfg(declared), { 'retention.ms': String(12 * 3600_000), 'retention.bytes': '5000000', 'segment.bytes': '1000000' });
      // RabbitMQ's default: no age limit.
      assert.equal((await cfg(plain))['retention.ms'], '-1');
      assert.equal((await cfg(fromKafka))['retention.ms'], '604800000');
      // The Kafka-created topic counts as declared with x-queue-type only.
      await ch.assertQueue(fromKafka, { durable: true, arguments: STREAM });
      const refused = await ch.assertQueue(fromKafka, { durable: true, arguments: { ...STREAM, 'x-max-age': '7D' } }).catch((e: Error) => e);
      assert.ok(refused instanceof Error);
      assert.match(refused.message, /inequivalent arg 'x-max-age' .* received the value '7D' of type 'longstr' but current is none/);
    } finally {
      await admin.disconnect();
    }
  });

  test('Kafka DeleteTopics cancels AMQP consumers and the queue is gone; AMQP queue.delete removes the topic', async () => {
    const byKafka = topicName('del-k');
    const byAmqp = topicName('del-a');
    const ch = await channel();
    await ch.assertQueue(byKafka, { durable: true, arguments: STREAM });
    await ch.assertQueue(byAmqp, { durable: true, arguments: STREAM });
    await ch.prefetch(10);
    let onCancel: () => void = () => {};
    const cancelled = new Promise<void>((resolve) => (onCancel = resolve));
    await ch.consume(byKafka, (m) => {
      if (m === null) onCancel();
    });
    const admin = kafkaClient(bootstrap).admin();
    await admin.connect();
    try {
      await admin.deleteTopics({ topics: [byKafka] });
      await withTimeout(cancelled, WAIT_MS, 'basic.cancel from the broker');
      const gone = await ch.checkQueue(byKafka).catch((e: Error) => e);
      assert.ok(gone instanceof Error && /404/.test(gone.message), String(gone));
      const ch2 = await channel();
      await ch2.deleteQueue(byAmqp);
      assert.ok(!(await admin.listTopics()).includes(byAmqp));
    } finally {
      await admin.disconnect();
    }
  });

  test('a topic of several partitions is not a stream queue, and its name is taken', async () => {
    const t = topicName('multi');
    const admin = kafkaClient(bootstrap).admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: t, numPartitions: 3 }] });
    } finally {
      await admin.disconnect();
    }
    const text = `queue '${t}' in vhost '/' is a stream with 3 partitions; only a stream of one partition is a stream queue (docs/streams.md)`;
    for (const declare of [
      (ch: Channel) => ch.checkQueue(t),
      (ch: Channel) => ch.assertQueue(t, { durable: true }),
      (ch: Channel) => ch.assertQueue(t, { durable: true, arguments: STREAM }),
    ]) {
      const ch = await channel();
      const err = await declare(ch).catch((e: Error) => e);
      assert.ok(err instanceof Error);
      assert.ok(err.message.includes(`406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - ${text}"`), err.message);
    }
    // Unroutable through the default exchange.
    const ch = await channel();
    const returned = new Collector<ConsumeMessage>();
    ch.on('return', (m: ConsumeMessage) => returned.push(m));
    ch.publish('', t, Buffer.from('x'), { mandatory: true });
    await returned.waitFor(1);
  });

  test('offsets and records survive a restart on both sides', async () => {
    const q = topicName('restart');
    let ch = await channel();
    await ch.assertQueue(q, { durable: true, arguments: STREAM });
    ch.sendToQueue(q, Buffer.from('before-0'));
    ch.sendToQueue(q, Buffer.from('before-1'));
    await (ch as amqp.ConfirmChannel).waitForConfirms();
    for (const c of conns.splice(0)) await c.close().catch(() => undefined);
    await broker.restart();
    bootstrap = broker.handle.kafkaBootstrap;
    const producer = kafkaClient(bootstrap).producer();
    await producer.connect();
    try {
      const r = await producer.send({ topic: q, messages: [{ value: 'kafka-2' }] });
      assert.equal(r[0].baseOffset, '2');
    } finally {
      await producer.disconnect();
    }
    ch = await channel();
    ch.sendToQueue(q, Buffer.from('amqp-3'));
    await (ch as amqp.ConfirmChannel).waitForConfirms();
    assert.deepEqual((await readKcat(q)).map((r) => [r.offset, r.payload]), [[0, 'before-0'], [1, 'before-1'], [2, 'kafka-2'], [3, 'amqp-3']]);
    const msgs = await consumeAll(q, 4);
    assert.deepEqual(msgs.map((m) => [m.properties.headers?.['x-stream-offset'], m.content.toString()]), [[0, 'before-0'], [1, 'before-1'], [2, 'kafka-2'], [3, 'amqp-3']]);
  });
});
