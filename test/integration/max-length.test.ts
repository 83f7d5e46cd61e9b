// Queue length limits: x-max-length and x-max-length-bytes with each
// x-overflow mode. drop-head drops (dead-letters, reason maxlen) the oldest;
// reject-publish refuses new messages (basic.nack under confirms, silently
// dropped without); reject-publish-dlx refuses and dead-letters them. Only
// ready messages count.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Channel, ConfirmChannel } from 'amqplib';
import { SETTLE_MS, TEST_OPTS, WAIT_MS, sleep, uniqueName, withTimeout } from '../helpers/async.js';
import { bodies, consumeInto, drainBodies, sendAll, useBroker, waitForReady } from '../helpers/amqplib.js';
import { declareDeadLetters, range, xDeaths } from '../helpers/reliable.js';

/** Publishes each body and resolves with 'ack' or 'nack' per message, in order. */
function publishConfirmed(ch: ConfirmChannel, queue: string, items: string[]): Promise<('ack' | 'nack')[]> {
  const outcomes = items.map(
    (s) =>
      new Promise<'ack' | 'nack'>((resolve) => {
        ch.sendToQueue(queue, Buffer.from(s), {}, (err) => resolve(err ? 'nack' : 'ack'));
      }),
  );
  return withTimeout(Promise.all(outcomes), WAIT_MS, 'publisher confirms');
}

describe('x-max-length and x-max-length-bytes', () => {
  const ctx = useBroker();

  async function limited(ch: Channel, args: Record<string, unknown>, dlx?: string): Promise<string> {
    const q = ctx.clients.deleteLater(uniqueName('limited'));
    await ch.assertQueue(q, { durable: false, arguments: { ...args, ...(dlx ? { 'x-dead-letter-exchange': dlx } : {}) } });
    return q;
  }

  describe('x-overflow drop-head (the default)', () => {
    it('drops the oldest messages and dead-letters them with reason maxlen', TEST_OPTS, async () => {
      const ch = await ctx.clients.channel();
      const { dlx, dlq } = await declareDeadLetters(ch, { cleanup: ctx.clients });
      const q = await limited(ch, { 'x-max-length': 3 }, dlx);
      sendAll(ch, q, range(5));
      await waitForReady(ch, dlq, 2);
      assert.deepEqual(await drainBodies(ch, q), ['m2', 'm3', 'm4']);
      const dead = await consumeInto(ch, dlq, { noAck: true });
      const got = await dead.collector.waitFor(2);
      assert.deepEqual(bodies(got), ['m0', 'm1']);
      for (const m of got) {
        assert.deepEqual(
          (({ queue, reason, count }) => ({ queue, reason, count }))(xDeaths(m)[0]),
          { queue: q, reason: 'maxlen', count: 1 },
        );
        assert.equal(m.properties.headers?.['x-first-death-reason'], 'maxlen');
      }
    });

    it('without a dead-letter exchange just drops them; publishes are still confirmed', TEST_OPTS, async () => {
      const ch = await ctx.clients.confirmChannel();
      const q = await limited(ch, { 'x-max-length': 2, 'x-overflow': 'drop-head' });
      assert.deepEqual(await publishConfirmed(ch, q, range(4)), ['ack', 'ack', 'ack', 'ack']);
      assert.deepEqual(await drainBodies(ch, q), ['m2', 'm3']);
    });

    it('x-max-length-bytes counts body bytes: the oldest go until the rest fits', TEST_OPTS, async () => {
      const ch = await ctx.clients.channel();
      const { dlx, dlq } = await declareDeadLetters(ch, { cleanup: ctx.clients });
      const q = await limited(ch, { 'x-max-length-bytes': 10 }, dlx);
      sendAll(ch, q, ['aaaa', 'bbbb', 'cccc', 'dd']);
      await waitForReady(ch, dlq, 1);
      assert.deepEqual(await drainBodies(ch, q), ['bbbb', 'cccc', 'dd']);
      const d = await ch.get(dlq, { noAck: true });
      assert.ok(d);
      assert.equal(d.content.toString(), 'aaaa');
      assert.equal(xDeaths(d)[0].reason, 'maxlen');
    });

    it('x-max-length 0 keeps nothing, but a waiting consumer still gets each message', TEST_OPTS, async () => {
      const ch = await ctx.clients.channel();
      const { dlx, dlq } = await declareDeadLetters(ch, { cleanup: ctx.clients });
      const q = await limited(ch, { 'x-max-length': 0 }, dlx);
      ch.sendToQueue(q, Buffer.from('nobody-there'));
      await waitForReady(ch, dlq, 1);
      assert.equal((await ch.checkQueue(q)).messageCount, 0);
      const c = await consumeInto(await ctx.clients.channel(), q, { noAck: true });
      sendAll(ch, q, range(3));
      assert.deepEqual(bodies(await c.collector.waitFor(3)), range(3));
      assert.equal((await ch.checkQueue(dlq)).messageCount, 1);
    });

    it('counts ready messages only: delivered, unacked ones leave room', TEST_OPTS, async () => {
      const ch = await ctx.clients.channel();
      const q = await limited(ch, { 'x-max-length': 2 });
      sendAll(ch, q, range(2));
      await waitForReady(ch, q, 2);
      const held = [await ch.get(q, { noAck: false }), await ch.get(q, { noAck: false })];
      sendAll(ch, q, ['n0', 'n1']);
      await waitForReady(ch, q, 2);
      assert.deepEqual(held.map((m) => (m ? m.content.toString() : '')), ['m0', 'm1']);
      assert.deepEqual(await drainBodies(ch, q), ['n0', 'n1']);
    });

    it('a deep queue whose content is paged out dead-letters what it drops in order', TEST_OPTS, async () => {
      const ch = await ctx.clients.channel();
      const { dlx, dlq } = await declareDeadLetters(ch, { cleanup: ctx.clients });
      const q = await limited(ch, { 'x-max-length': 5000 }, dlx);
      sendAll(ch, q, range(10_000));
      const dead = await consumeInto(await ctx.clients.channel(), dlq, { noAck: true });
      assert.deepEqual(bodies(await dead.collector.waitFor(5000)), range(5000));
      await waitForReady(ch, q, 5000);
      const m = await ch.get(q, { noAck: true });
      assert.ok(m);
      assert.equal(m.content.toString(), 'm5000');
    });

    it('a requeue into a full queue drops the head (the requeued message, back in its place) as RabbitMQ does', TEST_OPTS, async () => {
      const ch = await ctx.clients.channel();
      const { dlx, dlq } = await declareDeadLetters(ch, { cleanup: ctx.clients });
      const q = await limited(ch, { 'x-max-length': 2 }, dlx);
      sendAll(ch, q, range(2));
      await waitForReady(ch, q, 2);
      const m0 = await ch.get(q, { noAck: false });
      assert.ok(m0);
      ch.sendToQueue(q, Buffer.from('m2'));
      await waitForReady(ch, q, 2);
      ch.nack(m0, false, true);
      await waitForReady(ch, dlq, 1);
      assert.deepEqual(await drainBodies(ch, q), ['m1', 'm2']);
      const d = await ch.get(dlq, { noAck: true });
      assert.ok(d);
      assert.equal(d.content.toString(), 'm0');
      assert.equal(xDeaths(d)[0].reason, 'maxlen');
    });
  });

  describe('x-overflow reject-publish', () => {
    it('nacks publishes to a full queue under confirms, and accepts again once there is room', TEST_OPTS, async () => {
      const ch = await ctx.clients.confirmChannel();
      const q = await limited(ch, { 'x-max-length': 2, 'x-overflow': 'reject-publish' });
      assert.deepEqual(await publishConfirmed(ch, q, range(4)), ['ack', 'ack', 'nack', 'nack']);
      const first = await ch.get(q, { noAck: true });
      assert.ok(first);
      assert.equal(first.content.toString(), 'm0');
      assert.deepEqual(await publishConfirmed(ch, q, ['late', 'too-late']), ['ack', 'nack']);
      assert.deepEqual(await drainBodies(ch, q), ['m1', 'late']);
    });

    it('drops them silently without confirms; the channel stays open', TEST_OPTS, async () => {
      const ch = await ctx.clients.channel();
      const q = await limited(ch, { 'x-max-length': 2, 'x-overflow': 'reject-publish' });
      sendAll(ch, q, range(4));
      await waitForReady(ch, q, 2);
      await sleep(SETTLE_MS);
      assert.deepEqual(await drainBodies(ch, q), ['m0', 'm1']);
    });

    it('x-max-length-bytes: refuses a message that would not fit', TEST_OPTS, async () => {
      const ch = await ctx.clients.confirmChannel();
      const q = await limited(ch, { 'x-max-length-bytes': 10, 'x-overflow': 'reject-publish' });
      assert.deepEqual(await publishConfirmed(ch, q, ['aaaa', 'bbbb', 'cccc', 'dd']), ['ack', 'ack', 'nack', 'ack']);
      assert.deepEqual(await drainBodies(ch, q), ['aaaa', 'bbbb', 'dd']);
    });

    it('a message refused by one of the queues it is routed to is nacked, and still reaches the others', TEST_OPTS, async () => {
      const ch = await ctx.clients.confirmChannel();
      const x = ctx.clients.deleteExchangeLater(uniqueName('fan'));
      await ch.assertExchange(x, 'fanout', { durable: false });
      const full = await limited(ch, { 'x-max-length': 0, 'x-overflow': 'reject-publish' });
      const open = await limited(ch, {});
      await ch.bindQueue(full, x, '');
      await ch.bindQueue(open, x, '');
      const outcome = await withTimeout(
        new Promise<string>((resolve) => {
          ch.publish(x, '', Buffer.from('both'), {}, (err) => resolve(err ? 'nack' : 'ack'));
        }),
        WAIT_MS,
        'a confirm',
      );
      assert.equal(outcome, 'nack');
      assert.deepEqual(await drainBodies(ch, open), ['both']);
      assert.equal((await ch.checkQueue(full)).messageCount, 0);
    });

    it('counts ready messages only: a consumer\'s unacked messages leave room', TEST_OPTS, async () => {
      const ch = await ctx.clients.confirmChannel();
      const q = await limited(ch, { 'x-max-length': 2, 'x-overflow': 'reject-publish' });
      assert.deepEqual(await publishConfirmed(ch, q, range(2)), ['ack', 'ack']);
      const sub = await ctx.clients.channel();
      const c = await consumeInto(sub, q, { noAck: false });
      await c.collector.waitFor(2);
      await sub.cancel(c.consumerTag);
      assert.deepEqual(await publishConfirmed(ch, q, ['n0', 'n1', 'n2']), ['ack', 'ack', 'nack']);
    });
  });

  describe('x-overflow reject-publish-dlx', () => {
    it('nacks publishes to a full queue and dead-letters them with reason maxlen', TEST_OPTS, async () => {
      const ch = await ctx.clients.confirmChannel();
      const { dlx, dlq } = await declareDeadLetters(ch, { cleanup: ctx.clients });
      const q = await limited(ch, { 'x-max-length': 1, 'x-overflow': 'reject-publish-dlx' }, dlx);
      assert.deepEqual(await publishConfirmed(ch, q, range(3)), ['ack', 'nack', 'nack']);
      assert.deepEqual(await drainBodies(ch, q), ['m0']);
      const dead = await consumeInto(ch, dlq, { noAck: true });
      const got = await dead.collector.waitFor(2);
      assert.deepEqual(bodies(got), ['m1', 'm2']);
      for (const m of got) {
        const [d] = xDeaths(m);
        assert.equal(d.reason, 'maxlen');
        assert.equal(d.queue, q);
        assert.deepEqual(d.routingKeys, [q]);
      }
    });

    it('without confirms the refused messages are still dead-lettered', TEST_OPTS, async () => {
      const ch = await ctx.clients.channel();
      const { dlx, dlq } = await declareDeadLetters(ch, { cleanup: ctx.clients });
      const q = await limited(ch, { 'x-max-length-bytes': 4, 'x-overflow': 'reject-publish-dlx' }, dlx);
      sendAll(ch, q, ['aaaa', 'b']);
      await waitForReady(ch, dlq, 1);
      assert.deepEqual(await drainBodies(ch, q), ['aaaa']);
      assert.deepEqual(await drainBodies(ch, dlq), ['b']);
    });
  });
});
