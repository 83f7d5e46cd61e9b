// The core flows through a second, independent client: @cloudamqp/amqp-client.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { AMQPClient, type AMQPBaseClient, type AMQPChannel, type AMQPMessage } from '@cloudamqp/amqp-client';
import { Collector, TEST_OPTS, WAIT_MS, uniqueName, withTimeout } from '../helpers/async.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

describe('@cloudamqp/amqp-client', () => {
  let broker: TestBroker;
  const open: AMQPBaseClient[] = [];

  before(async () => {
    broker = await startTestBroker();
  });
  after(async () => {
    await broker.close();
  });
  afterEach(async () => {
    for (const c of open.splice(0)) await c.close().catch(() => undefined);
  });

  async function channel(): Promise<AMQPChannel> {
    const conn = await new AMQPClient(broker.url).connect();
    open.push(conn);
    return conn.channel();
  }

  const text = (m: AMQPMessage): string => m.bodyToString() ?? '';

  it('publishes with confirms and consumes in order with manual acks', TEST_OPTS, async () => {
    const ch = await channel();
    const q = uniqueName();
    await ch.queueDeclare(q, { durable: true, autoDelete: false });
    await ch.confirmSelect();
    const tags = await Promise.all([0, 1, 2, 3, 4].map((i) => ch.basicPublish('', q, `m${i}`, { deliveryMode: 2 })));
    assert.deepEqual(tags, [1, 2, 3, 4, 5]);
    const got = new Collector<AMQPMessage>();
    await ch.basicConsume(q, { noAck: false }, (m) => {
      got.push(m);
      void m.ack();
    });
    assert.deepEqual((await got.waitFor(5)).map(text), ['m0', 'm1', 'm2', 'm3', 'm4']);
    await ch.queueDelete(q);
  });

  it('basic.get, nack with requeue (redelivered, same place) and reject without requeue', TEST_OPTS, async () => {
    const ch = await channel();
    const q = uniqueName();
    await ch.queueDeclare(q, { durable: false, exclusive: true });
    await ch.basicPublish('', q, 'a');
    await ch.basicPublish('', q, 'b');
    const first = await withTimeout(waitGet(ch, q), WAIT_MS, 'get');
    assert.equal(text(first), 'a');
    assert.equal(first.redelivered, false);
    assert.equal(first.messageCount, 1);
    await first.nack(true);
    const again = await waitGet(ch, q);
    assert.equal(text(again), 'a');
    assert.equal(again.redelivered, true);
    await again.reject(false);
    const second = await waitGet(ch, q);
    assert.equal(text(second), 'b');
    await second.ack();
    assert.equal(await ch.basicGet(q), null);
  });

  it('transactions: rollback discards publishes, commit makes them visible', TEST_OPTS, async () => {
    const ch = await channel();
    const q = uniqueName();
    await ch.queueDeclare(q, { exclusive: true });
    await ch.txSelect();
    await ch.basicPublish('', q, 'rolled back');
    await ch.txRollback();
    await ch.basicPublish('', q, 'committed');
    assert.equal((await ch.queueDeclare(q, { passive: true })).messageCount, 0);
    await ch.txCommit();
    const m = await waitGet(ch, q);
    assert.equal(text(m), 'committed');
  });

  it('routes through topic and exchange-to-exchange bindings', TEST_OPTS, async () => {
    const ch = await channel();
    const src = uniqueName('x-src');
    const dst = uniqueName('x-dst');
    const q = uniqueName();
    await ch.exchangeDeclare(src, 'topic', { autoDelete: false });
    await ch.exchangeDeclare(dst, 'fanout', { autoDelete: false });
    await ch.exchangeBind(dst, src, 'orders.#');
    await ch.queueDeclare(q, { exclusive: true });
    await ch.queueBind(q, dst, '');
    await ch.basicPublish(src, 'orders.eu.new', 'routed');
    await ch.basicPublish(src, 'invoices.eu', 'not routed');
    const m = await waitGet(ch, q);
    assert.equal(text(m), 'routed');
    assert.equal(await ch.basicGet(q), null);
    await ch.exchangeUnbind(dst, src, 'orders.#');
    await ch.exchangeDelete(src);
    await ch.exchangeDelete(dst);
  });

  it('keeps every property and header intact', TEST_OPTS, async () => {
    const ch = await channel();
    const q = uniqueName();
    await ch.queueDeclare(q, { exclusive: true });
    const props = {
      contentType: 'application/json',
      contentEncoding: 'gzip',
      headers: { s: 'x', n: 42, f: 1.5, b: true, nested: { deep: ['a', 1] } },
      deliveryMode: 2,
      priority: 3,
      correlationId: 'corr',
      replyTo: 'reply',
      expiration: '60000',
      messageId: 'mid',
      timestamp: new Date(1_700_000_000_000),
      type: 'kind',
      userId: 'guest',
      appId: 'app',
    };
    await ch.basicPublish('', q, '{}', props);
    const m = await waitGet(ch, q);
    for (const [k, v] of Object.entries(props)) assert.deepEqual((m.properties as Record<string, unknown>)[k], v, k);
  });

  it('tells the consumer when its queue is deleted, and a missing queue is a 404 channel error', TEST_OPTS, async () => {
    const ch = await channel();
    const q = uniqueName();
    await ch.queueDeclare(q, { exclusive: true });
    const consumer = await ch.basicConsume(q, { noAck: true }, () => undefined);
    const ended = consumer.wait();
    const other = await channel();
    await assert.rejects(other.queueDeclare(q, { passive: true }), /RESOURCE_LOCKED|405/);
    await ch.queueDelete(q);
    await withTimeout(ended.then(() => 'ended', () => 'ended'), WAIT_MS, 'server-sent basic.cancel');
    const third = await channel();
    await assert.rejects(third.queueDeclare(uniqueName('missing'), { passive: true }), /NOT_FOUND - no queue/);
  });
});

async function waitGet(ch: AMQPChannel, q: string): Promise<AMQPMessage> {
  for (let i = 0; i < 200; i++) {
    const m = await ch.basicGet(q, { noAck: false });
    if (m) return m;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no message in ${q}`);
}
