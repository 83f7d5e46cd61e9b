// Delivery counting and poison messages: a consumer that crashes mid-batch
// gets every unacked message back, in order, redelivered, with x-delivery-count
// incremented; x-delivery-limit N dead-letters a message (reason delivery_limit)
// once it came back more than N times (by nack/reject with requeue, channel or
// connection loss), while good messages behind it keep flowing. Quorum queues
// do this in RabbitMQ; Wharf also on classic queues (those cases are Wharf-only).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Message } from 'amqplib';
import { SETTLE_MS, TEST_OPTS, sleep, uniqueName } from '../helpers/async.js';
import { skipUnderReference } from '../helpers/broker.js';
import { Clients, bodies, consumeInto, destroySocket, sendAll, useBroker, waitForReady } from '../helpers/amqplib.js';
import { consumeWith, declareDeadLetters, deliveryCount, range, xDeaths } from '../helpers/reliable.js';

/** Queue types under test: RabbitMQ counts deliveries on quorum queues only; Wharf on both. */
const KINDS = [
  { kind: 'quorum', args: { 'x-queue-type': 'quorum' }, opts: TEST_OPTS },
  { kind: 'classic', args: {}, opts: { ...TEST_OPTS, skip: skipUnderReference } },
] as const;

describe('delivery counting and x-delivery-limit', () => {
  const ctx = useBroker();

  /** A durable queue of the given kind holding `items` as persistent, confirmed messages. */
  async function filledQueue(args: Record<string, unknown>, items: string[], c: Clients = ctx.clients): Promise<string> {
    const q = uniqueName('work');
    if (c === ctx.clients) ctx.clients.deleteLater(q);
    const ch = await c.confirmChannel();
    await ch.assertQueue(q, { durable: true, arguments: args });
    sendAll(ch, q, items, { persistent: true });
    await ch.waitForConfirms();
    return q;
  }

  for (const { kind, args, opts } of KINDS) {
    it(`${kind}: a consumer crashing mid-batch gets every unacked message back, in order, redelivered and counted`, opts, async () => {
      const q = await filledQueue(args, range(10));
      const crashOnce = async (expect: string[], count: number, ackIdx: number[]): Promise<void> => {
        const victim = await ctx.clients.connect();
        const ch = await ctx.clients.channel(victim);
        await ch.prefetch(20);
        const { collector } = await consumeInto(ch, q, { noAck: false });
        const got = await collector.waitFor(expect.length);
        assert.deepEqual(bodies(got), expect);
        for (const m of got) {
          assert.equal(m.fields.redelivered, count > 0, `redelivered flag of ${m.content.toString()}`);
          assert.equal(deliveryCount(m), count, `x-delivery-count of ${m.content.toString()}`);
        }
        for (const i of ackIdx) ch.ack(got[i]);
        // Methods on a channel are handled in order: once this answers, the acks are in.
        await ch.checkQueue(q);
        destroySocket(victim);
      };
      await crashOnce(range(10), 0, [0, 2]);
      const ch = await ctx.clients.channel();
      await waitForReady(ch, q, 8);
      const left = ['m1', ...range(10).slice(3)];
      await crashOnce(left, 1, [0]);
      await waitForReady(ch, q, 7);
      const { collector } = await consumeInto(ch, q, { noAck: false });
      const last = await collector.waitFor(7);
      assert.deepEqual(bodies(last), left.slice(1));
      assert.deepEqual(last.map(deliveryCount), left.slice(1).map(() => 2));
      for (const m of last) ch.ack(m);
      await waitForReady(ch, q, 0);
      await sleep(SETTLE_MS);
      assert.equal(collector.length, 7, 'nothing delivered twice after the acks');
    });

    it(`${kind}: a poison message with x-delivery-limit 3 is delivered 4 times, then dead-lettered; good messages keep flowing`, opts, async () => {
      const setup = await ctx.clients.channel();
      const { dlx, dlq } = await declareDeadLetters(setup, { cleanup: ctx.clients, durable: true });
      const goods = range(10, 'good');
      const q = await filledQueue(
        { ...args, 'x-delivery-limit': 3, 'x-dead-letter-exchange': dlx },
        ['poison', ...goods],
      );
      const ch = await ctx.clients.channel();
      await ch.prefetch(3);
      const poisoned: Message[] = [];
      const good: Message[] = [];
      await consumeWith(ch, q, (m) => {
        if (m.content.toString() === 'poison') {
          poisoned.push(m);
          ch.nack(m, false, true);
        } else {
          good.push(m);
          ch.ack(m);
        }
      });
      const dead = await consumeInto(await ctx.clients.channel(), dlq, { noAck: false });
      const [d] = await dead.collector.waitFor(1);
      await waitForReady(ch, q, 0);
      assert.deepEqual(bodies(good), goods, 'good messages all arrive, in order, once');
      assert.ok(good.every((m) => !m.fields.redelivered));
      assert.equal(poisoned.length, 4, 'delivered once plus 3 redeliveries');
      assert.deepEqual(poisoned.map((m) => m.fields.redelivered), [false, true, true, true]);
      assert.deepEqual(poisoned.map(deliveryCount), [0, 1, 2, 3]);

      assert.equal(d.content.toString(), 'poison');
      assert.equal(d.fields.exchange, dlx);
      assert.equal(d.fields.routingKey, q);
      assert.equal(d.properties.deliveryMode, 2, 'still persistent');
      const [death, ...older] = xDeaths(d);
      assert.deepEqual(older, []);
      assert.deepEqual(
        { queue: death.queue, reason: death.reason, count: death.count, exchange: death.exchange, keys: death.routingKeys },
        { queue: q, reason: 'delivery_limit', count: 1, exchange: '', keys: [q] },
      );
      assert.ok(Math.abs(death.time - Date.now() / 1000) < 600, 'x-death time is about now (seconds)');
      const h = d.properties.headers ?? {};
      assert.equal(h['x-first-death-reason'], 'delivery_limit');
      assert.equal(h['x-first-death-queue'], q);
      assert.equal(h['x-first-death-exchange'], '');
      await sleep(SETTLE_MS);
      assert.equal(dead.collector.length, 1, 'dead-lettered once');
      assert.equal(poisoned.length, 4, 'never delivered again');
    });

    it(`${kind}: returns by channel close, connection loss and basic.reject count towards the limit`, opts, async () => {
      const setup = await ctx.clients.channel();
      const { dlx, dlq } = await declareDeadLetters(setup, { cleanup: ctx.clients, durable: true });
      const q = await filledQueue({ ...args, 'x-delivery-limit': 2, 'x-dead-letter-exchange': dlx }, ['once']);
      // Return 1: the consuming channel closes.
      const ch1 = await ctx.clients.channel();
      const c1 = await consumeInto(ch1, q, { noAck: false });
      await c1.collector.waitFor(1);
      await ch1.close();
      // Return 2: basic.reject with requeue.
      const ch2 = await ctx.clients.channel();
      await waitForReady(ch2, q, 1);
      const m2 = await ch2.get(q, { noAck: false });
      assert.ok(m2);
      assert.equal(deliveryCount(m2), 1);
      ch2.reject(m2, true);
      // Return 3 (> 2): the connection dies.
      const victim = await ctx.clients.connect();
      const ch3 = await ctx.clients.channel(victim);
      await waitForReady(ch3, q, 1);
      const m3 = await ch3.get(q, { noAck: false });
      assert.ok(m3);
      assert.equal(deliveryCount(m3), 2);
      destroySocket(victim);
      const dead = await consumeInto(await ctx.clients.channel(), dlq, { noAck: true });
      const [d] = await dead.collector.waitFor(1);
      assert.equal(d.content.toString(), 'once');
      assert.equal(xDeaths(d)[0].reason, 'delivery_limit');
      await waitForReady(ch2, q, 0);
    });

    it(`${kind}: without a dead-letter exchange a message over the limit is dropped`, opts, async () => {
      const q = await filledQueue({ ...args, 'x-delivery-limit': 1 }, ['drop-me', 'keep']);
      const ch = await ctx.clients.channel();
      for (let i = 0; i < 2; i++) {
        const m = await ch.get(q, { noAck: false });
        assert.ok(m);
        assert.equal(m.content.toString(), 'drop-me');
        ch.nack(m, false, true);
      }
      const keep = await ch.get(q, { noAck: false });
      assert.ok(keep);
      assert.equal(keep.content.toString(), 'keep');
      ch.ack(keep);
      await waitForReady(ch, q, 0);
    });
  }

  // RabbitMQ 4.0: a quorum queue that sets no limit gets 20; x-delivery-limit -1 is unlimited.
  for (const { name, args, deliveries } of [
    { name: 'no x-delivery-limit: the default 20', args: {}, deliveries: 21 },
    { name: 'x-delivery-limit -1: unlimited', args: { 'x-delivery-limit': -1 }, deliveries: 30 },
  ]) {
    // RabbitMQ 3.x (the reference run) has no default limit.
    it(`quorum, ${name}`, { ...TEST_OPTS, skip: skipUnderReference }, async () => {
      const q = await filledQueue({ 'x-queue-type': 'quorum', ...args }, ['poison', 'next']);
      const ch = await ctx.clients.channel();
      for (let i = 0; i < deliveries; i++) {
        const m = await ch.get(q, { noAck: false });
        assert.ok(m);
        assert.equal(m.content.toString(), 'poison', `delivery ${i + 1}`);
        assert.equal(deliveryCount(m), i);
        ch.nack(m, false, true);
      }
      const m = await ch.get(q, { noAck: false });
      assert.ok(m);
      // Over the default limit the poison message is dropped (no dead-letter exchange); unlimited keeps it.
      assert.equal(m.content.toString(), deliveries === 21 ? 'next' : 'poison');
      ch.ack(m);
    });
  }

  it('quorum: delivery counts survive a restart, and the limit still applies', { ...TEST_OPTS, skip: skipUnderReference }, async () => {
    // Nothing is registered for deletion before the restart: the broker's URL changes with it.
    const pre = new Clients(ctx.broker.url);
    const setup = await pre.channel();
    const { dlx, dlq } = await declareDeadLetters(setup, { durable: true });
    const q = await filledQueue({ 'x-queue-type': 'quorum', 'x-delivery-limit': 2, 'x-dead-letter-exchange': dlx }, ['p'], pre);
    const ch = await pre.channel();
    for (let i = 0; i < 2; i++) {
      const m = await ch.get(q, { noAck: false });
      assert.ok(m);
      ch.nack(m, false, true);
    }
    await waitForReady(ch, q, 1);
    await pre.closeAll();
    await ctx.restart();
    ctx.clients.deleteLater(q);
    ctx.clients.deleteLater(dlq);
    ctx.clients.deleteExchangeLater(dlx);
    const ch2 = await ctx.clients.channel();
    const m = await ch2.get(q, { noAck: false });
    assert.ok(m);
    assert.equal(m.fields.redelivered, true);
    assert.equal(deliveryCount(m), 2, 'the two returns before the restart still count');
    ch2.nack(m, false, true);
    await waitForReady(ch2, dlq, 1);
    await waitForReady(ch2, q, 0);
    const d = await ch2.get(dlq, { noAck: true });
    assert.ok(d);
    assert.equal(xDeaths(d)[0].reason, 'delivery_limit');
  });
});
