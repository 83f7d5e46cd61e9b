// Stream queues through a second client, @cloudamqp/amqp-client: confirmed publishes, consuming
// from an offset, from a Date (amqp-client sends it as an AMQP timestamp), properties kept, and
// RabbitMQ's refusals. Passes against the reference RabbitMQ too (WHARF_TEST_REFERENCE_URL).

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { AMQPClient, type AMQPBaseClient, type AMQPChannel, type AMQPMessage } from '@cloudamqp/amqp-client';
import { Collector, TEST_OPTS, uniqueName } from '../helpers/async.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

describe('@cloudamqp/amqp-client: stream queues', () => {
  let broker: TestBroker;
  const open: AMQPBaseClient[] = [];
  const streams: string[] = [];

  before(async () => {
    broker = await startTestBroker();
  });
  after(async () => {
    await broker.close();
  });
  afterEach(async () => {
    const ch = await channel();
    for (const q of streams.splice(0)) await ch.queueDelete(q).catch(() => undefined);
    for (const c of open.splice(0)) await c.close().catch(() => undefined);
  });

  async function channel(): Promise<AMQPChannel> {
    const conn = await new AMQPClient(broker.url).connect();
    open.push(conn);
    return conn.channel();
  }

  async function stream(): Promise<{ ch: AMQPChannel; q: string }> {
    const ch = await channel();
    const q = uniqueName('sq');
    streams.push(q);
    await ch.queueDeclare(q, { durable: true }, { 'x-queue-type': 'stream' });
    return { ch, q };
  }

  async function consume(ch: AMQPChannel, q: string, offset: unknown, n: number): Promise<AMQPMessage[]> {
    await ch.basicQos(100);
    const got = new Collector<AMQPMessage>();
    await ch.basicConsume(q, { noAck: false, args: { 'x-stream-offset': offset } }, (m) => {
      got.push(m);
      void m.ack();
    });
    return got.waitFor(n);
  }

  const text = (m: AMQPMessage): string => m.bodyToString() ?? '';

  it('publishes with confirms and consumes from an offset, properties kept', TEST_OPTS, async () => {
    const { ch, q } = await stream();
    await ch.confirmSelect();
    const tags = await Promise.all(
      [0, 1, 2].map((i) => ch.basicPublish('', q, `m${i}`, { deliveryMode: 2, contentType: 'text/plain', messageId: `id${i}`, headers: { i } })),
    );
    assert.deepEqual(tags, [1, 2, 3]);
    const reader = await channel();
    const msgs = await consume(reader, q, 1, 2);
    assert.deepEqual(msgs.map(text), ['m1', 'm2']);
    assert.deepEqual(msgs.map((m) => m.properties.headers), [{ i: 1, 'x-stream-offset': 1 }, { i: 2, 'x-stream-offset': 2 }]);
    assert.equal(msgs[0].properties.messageId, 'id1');
    assert.equal(msgs[0].properties.contentType, 'text/plain');
    assert.equal(msgs[0].properties.deliveryMode, 2);
    assert.equal(msgs[0].redelivered, false);
  });

  it('consumes from a point in time given as a Date', TEST_OPTS, async () => {
    const { ch, q } = await stream();
    await ch.confirmSelect();
    await ch.basicPublish('', q, 'dated');
    const reader = await channel();
    const msgs = await consume(reader, q, new Date(Date.now() - 60_000), 1);
    assert.deepEqual(msgs.map(text), ['dated']);
  });

  it('refuses basic.consume without a prefetch (406) and basic.get (540)', TEST_OPTS, async () => {
    const { q } = await stream();
    const ch = await channel();
    await assert.rejects(
      ch.basicConsume(q, { noAck: false }, () => {}),
      (err: Error) => err.message.includes(`PRECONDITION_FAILED - consumer prefetch count is not set for 'queue '${q}' in vhost '/''`),
    );
    const other = await channel();
    await assert.rejects(
      other.basicGet(q),
      (err: Error) => err.message === `connection closed: NOT_IMPLEMENTED - basic.get not supported by stream queues queue '${q}' in vhost '/' (540)`,
    );
  });
});
