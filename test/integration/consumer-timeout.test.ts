// Consumer (acknowledgement) timeouts: x-consumer-timeout per queue (ms) and
// the broker-wide consumerTimeoutMs. Mode 'close-channel' (RabbitMQ's) closes
// the channel with 406, which requeues its unacked messages; mode 'requeue'
// (SQS visibility-timeout style, Wharf only) returns just the late message,
// counted as a return, and ignores a late ack of its old tag. Short timeouts,
// no timing assertions: the tests wait for the events. RabbitMQ checks
// timeouts about once a minute, so these run against Wharf only.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Channel } from 'amqplib';
import { SETTLE_MS, TEST_OPTS, sleep, uniqueName } from '../helpers/async.js';
import { skipUnderReference } from '../helpers/broker.js';
import { assertReply, consumeInto, serverClose, useBroker, waitForReady, watchOf } from '../helpers/amqplib.js';
import { declareDeadLetters, deliveryCount, xDeaths } from '../helpers/reliable.js';

const opts = { ...TEST_OPTS, skip: skipUnderReference };
const TIMEOUT_MS = 300;
const TIMED_OUT = /PRECONDITION_FAILED - delivery acknowledgement on channel \d+ timed out\. Timeout value used: (\d+) ms/;

describe('consumer timeouts', () => {
  const ctx = useBroker();

  async function timedQueue(ch: Channel, args: Record<string, unknown>): Promise<string> {
    const q = ctx.clients.deleteLater(uniqueName('timed'));
    await ch.assertQueue(q, { durable: false, arguments: { 'x-consumer-timeout': TIMEOUT_MS, ...args } });
    return q;
  }

  describe("mode 'close-channel' (the default, as RabbitMQ)", () => {
    it('closes the channel with 406 when a delivery is not acked in time; the message comes back redelivered', opts, async () => {
      const conn = await ctx.clients.connect();
      const other = await ctx.clients.channel(conn);
      const q = await timedQueue(other, {});
      other.sendToQueue(q, Buffer.from('slow'));
      other.sendToQueue(q, Buffer.from('fast'));
      const ch = await ctx.clients.channel(conn);
      const closed = serverClose(ch);
      const c = await consumeInto(ch, q, { noAck: false });
      const [, fast] = await c.collector.waitFor(2);
      ch.ack(fast);
      const reply = assertReply(await closed, 406, TIMED_OUT);
      assert.equal(TIMED_OUT.exec(reply.text)?.[1], String(TIMEOUT_MS));
      // Only the channel closed: the connection and its other channels work on.
      await waitForReady(other, q, 1);
      const again = await other.get(q, { noAck: true });
      assert.ok(again);
      assert.equal(again.content.toString(), 'slow');
      assert.equal(again.fields.redelivered, true);
      assert.equal((await other.checkQueue(q)).messageCount, 0);
    });

    it('leaves a consumer that acks in time alone', opts, async () => {
      const ch = await ctx.clients.channel();
      const q = await timedQueue(ch, {});
      const c = await consumeInto(ch, q, { noAck: false });
      for (let i = 0; i < 3; i++) {
        ch.sendToQueue(q, Buffer.from(`m${i}`));
        const got = await c.collector.waitFor(i + 1);
        ch.ack(got[i]);
      }
      await sleep(TIMEOUT_MS + SETTLE_MS);
      assert.equal((await ch.checkQueue(q)).messageCount, 0);
      assert.deepEqual(watchOf(ch).errors, []);
    });

    it('no-ack consumers never time out', opts, async () => {
      const ch = await ctx.clients.channel();
      const q = await timedQueue(ch, {});
      const c = await consumeInto(ch, q, { noAck: true });
      ch.sendToQueue(q, Buffer.from('x'));
      await c.collector.waitFor(1);
      await sleep(TIMEOUT_MS + SETTLE_MS);
      assert.equal((await ch.checkQueue(q)).messageCount, 0);
      assert.deepEqual(watchOf(ch).errors, []);
    });
  });

  describe("mode 'requeue' (Wharf: SQS-style visibility timeout)", () => {
    it('requeues only the late message, counted as a return; the channel stays open and the late ack is ignored', opts, async () => {
      const ch = await ctx.clients.channel();
      const q = await timedQueue(ch, { 'x-consumer-timeout-mode': 'requeue' });
      ch.sendToQueue(q, Buffer.from('slow'));
      ch.sendToQueue(q, Buffer.from('fast'));
      await ch.prefetch(2);
      const c = await consumeInto(ch, q, { noAck: false });
      const [slow, fast] = await c.collector.waitFor(2);
      ch.ack(fast);
      const [, , back] = await c.collector.waitFor(3);
      assert.equal(back.content.toString(), 'slow');
      assert.equal(back.fields.redelivered, true);
      assert.equal(deliveryCount(back), 1);
      assert.notEqual(back.fields.deliveryTag, slow.fields.deliveryTag);
      // The late ack of the old tag is moot, not an unknown-tag error.
      ch.ack(slow);
      ch.ack(back);
      assert.equal((await ch.checkQueue(q)).messageCount, 0);
      await sleep(TIMEOUT_MS + SETTLE_MS);
      assert.equal(c.collector.length, 3, 'acked in time the second time: not requeued again');
      assert.deepEqual(watchOf(ch).errors, []);
    });

    it('the returns count towards x-delivery-limit', opts, async () => {
      const ch = await ctx.clients.channel();
      const { dlx, dlq } = await declareDeadLetters(ch, { cleanup: ctx.clients });
      const q = await timedQueue(ch, {
        'x-consumer-timeout-mode': 'requeue',
        'x-delivery-limit': 1,
        'x-dead-letter-exchange': dlx,
      });
      ch.sendToQueue(q, Buffer.from('stuck'));
      const c = await consumeInto(ch, q, { noAck: false });
      await waitForReady(ch, dlq, 1);
      assert.equal(c.collector.length, 2, 'delivered, timed out, delivered again, timed out');
      const d = await ch.get(dlq, { noAck: true });
      assert.ok(d);
      assert.equal(xDeaths(d)[0].reason, 'delivery_limit');
      assert.deepEqual(watchOf(ch).errors, []);
    });
  });
});

describe('broker-wide consumer timeout (consumerTimeoutMs)', () => {
  const ctx = useBroker({ consumerTimeoutMs: TIMEOUT_MS });

  it('applies to queues without x-consumer-timeout, basic.get deliveries included', opts, async () => {
    const conn = await ctx.clients.connect();
    const other = await ctx.clients.channel(conn);
    const q = ctx.clients.deleteLater(uniqueName('q'));
    await other.assertQueue(q, { durable: false });
    other.sendToQueue(q, Buffer.from('held'));
    const ch = await ctx.clients.channel(conn);
    const closed = serverClose(ch);
    await waitForReady(other, q, 1);
    assert.ok(await ch.get(q, { noAck: false }));
    assertReply(await closed, 406, TIMED_OUT);
    await waitForReady(other, q, 1);
  });

  it('x-consumer-timeout overrides it per queue', opts, async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.clients.deleteLater(uniqueName('q'));
    await ch.assertQueue(q, { durable: false, arguments: { 'x-consumer-timeout': 600_000 } });
    ch.sendToQueue(q, Buffer.from('held'));
    const c = await consumeInto(ch, q, { noAck: false });
    const [m] = await c.collector.waitFor(1);
    await sleep(TIMEOUT_MS + SETTLE_MS);
    assert.deepEqual(watchOf(ch).errors, []);
    ch.ack(m);
    await waitForReady(ch, q, 0);
  });
});
