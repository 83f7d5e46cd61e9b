// Wharf's own AMQP client (src/client/amqp, the engine of `wharf perf`) against
// the broker: handshake, declare, publish, consume, confirms, qos, the broker
// closing a channel or the connection, and clean close.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AmqpClientError, connect, encodeProperties, type Connection } from '../../src/client/amqp/index.js';
import { Collector, TEST_OPTS, once, uniqueName } from '../helpers/async.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

describe('wharf client (src/client/amqp)', () => {
  let broker: TestBroker;

  before(async () => {
    broker = await startTestBroker();
  });
  after(async () => {
    await broker.close();
  });

  async function withConnection(fn: (c: Connection) => Promise<void>): Promise<void> {
    const c = await connect(broker.url);
    try {
      await fn(c);
    } finally {
      await c.close();
    }
  }

  it('connects, declares, publishes with confirms and consumes in order with manual acks', TEST_OPTS, async () => {
    await withConnection(async (c) => {
      assert.equal(c.isOpen, true);
      const ch = await c.channel();
      const q = uniqueName();
      const info = await ch.queueDeclare(q, { durable: true });
      assert.deepEqual(info, { queue: q, messageCount: 0, consumerCount: 0 });
      await ch.confirmSelect();
      const acked: number[] = [];
      ch.onConfirm = (ok, count) => {
        assert.equal(ok, true);
        acked.push(count);
      };
      const persistent = encodeProperties({ deliveryMode: 2 });
      const tags = [0, 1, 2, 3, 4].map((i) => ch.publish('', q, Buffer.from(`m${i}`), persistent));
      assert.deepEqual(tags, [1, 2, 3, 4, 5]);
      await ch.waitForConfirms();
      assert.equal(ch.unconfirmed, 0);
      assert.equal(acked.reduce((a, b) => a + b, 0), 5);
      assert.equal((await ch.queueDeclare(q, { passive: true })).messageCount, 5);

      const got = new Collector<string>();
      await ch.qos(2);
      await ch.consume(q, (d, body, header) => {
        assert.equal(header.classId, 60);
        got.push(body.toString());
        ch.ack(d.deliveryTag);
      });
      assert.deepEqual(await got.waitFor(5), ['m0', 'm1', 'm2', 'm3', 'm4']);
      assert.equal(await ch.queueDelete(q), 0);
      await ch.close();
      assert.equal(ch.isOpen, false);
    });
  });

  it('auto-ack consumer through a fanout exchange, properties arrive intact', TEST_OPTS, async () => {
    await withConnection(async (c) => {
      const ch = await c.channel();
      const x = uniqueName();
      const [q1, q2] = [uniqueName(), uniqueName()];
      await ch.exchangeDeclare(x, 'fanout');
      for (const q of [q1, q2]) {
        await ch.queueDeclare(q, { exclusive: true });
        await ch.queueBind(q, x, '');
      }
      const got = new Collector<string>();
      for (const q of [q1, q2]) {
        await ch.consume(q, (d, body) => got.push(`${d.routingKey === 'rk' ? q : '?'}:${body.toString()}`), { noAck: true });
      }
      ch.publish(x, 'rk', Buffer.from('hi'), { contentType: 'text/plain' });
      assert.deepEqual((await got.waitFor(2)).sort(), [`${q1}:hi`, `${q2}:hi`].sort());
      await ch.exchangeDelete(x);
    });
  });

  it('a large body crosses several frames and comes back whole', TEST_OPTS, async () => {
    await withConnection(async (c) => {
      const ch = await c.channel();
      const q = uniqueName();
      await ch.queueDeclare(q, { exclusive: true });
      const big = Buffer.alloc(300_000, 7);
      big.writeUInt32BE(0xdeadbeef, big.length - 4);
      const got = new Collector<Buffer>();
      await ch.consume(q, (_d, body) => got.push(Buffer.from(body)), { noAck: true });
      ch.publish('', q, big);
      const [body] = await got.waitFor(1);
      assert.equal(body.equals(big), true);
    });
  });

  it('the broker closing a channel rejects the call with its code and text; the connection stays up', TEST_OPTS, async () => {
    await withConnection(async (c) => {
      const ch = await c.channel();
      const closed = once(ch, 'close');
      const missing = uniqueName();
      await assert.rejects(ch.queueDeclare(missing, { passive: true }), (err: unknown) => {
        assert.ok(err instanceof AmqpClientError);
        assert.equal(err.replyCode, 404);
        assert.equal(err.connectionLevel, false);
        assert.match(err.message, /channel 1 closed by the broker: 404 NOT_FOUND/);
        assert.match(err.message, new RegExp(missing));
        return true;
      });
      const [err] = await closed;
      assert.ok(err instanceof AmqpClientError);
      assert.throws(() => ch.publish('', 'q', Buffer.from('x')), /404/);
      const again = await c.channel();
      assert.equal((await again.queueDeclare(uniqueName(), { exclusive: true })).messageCount, 0);
    });
  });

  it('a bad password fails the handshake with a clear error', TEST_OPTS, async () => {
    const url = new URL(broker.url);
    url.password = 'wrong';
    await assert.rejects(connect(url.toString()), (err: unknown) => {
      assert.ok(err instanceof AmqpClientError);
      assert.match(err.message, /ACCESS_REFUSED|handshake/);
      return true;
    });
  });

  it('nothing listening: connect rejects naming the address', TEST_OPTS, async () => {
    const probe = await connect(broker.url);
    await probe.close();
    // Port 1 on loopback: nobody listens there, and it is never a standard AMQP port.
    await assert.rejects(connect('amqp://guest:guest@127.0.0.1:1/'), /cannot connect to 127\.0\.0\.1:1 .*ECONNREFUSED/);
  });

  it('an invalid URL is refused before connecting', TEST_OPTS, async () => {
    await assert.rejects(connect('http://localhost/'), /unsupported URL scheme 'http:'/);
    await assert.rejects(connect('not a url'), /invalid AMQP URL/);
  });

  it('close() resolves, emits close without an error, and further channels are refused', TEST_OPTS, async () => {
    const c = await connect(broker.url);
    const ch = await c.channel();
    const closed = once(c, 'close');
    await c.close();
    assert.deepEqual(await closed, [undefined]);
    assert.equal(ch.isOpen, false);
    await assert.rejects(c.channel(), /closed/);
  });
});
