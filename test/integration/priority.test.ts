// Message priorities (x-max-priority and the priority property): higher
// priority first, FIFO within a priority, priorities above the maximum count
// as the maximum, requeued messages return to their place, and the order
// survives a restart. Consumer priorities (x-priority) are in
// amqplib-messaging.test.ts.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Channel } from 'amqplib';
import { TEST_OPTS, uniqueName } from '../helpers/async.js';
import { skipUnderReference } from '../helpers/broker.js';
import { Clients, consumeInto, drainBodies, useBroker, waitForReady } from '../helpers/amqplib.js';
import { declareDeadLetters } from '../helpers/reliable.js';

/** [body, priority]; priority undefined publishes without the property. */
type Item = readonly [string, number | undefined];

function publishAll(ch: Channel, queue: string, items: readonly Item[], persistent = false): void {
  for (const [body, priority] of items) {
    ch.sendToQueue(queue, Buffer.from(body), priority === undefined ? { persistent } : { priority, persistent });
  }
}

describe('message priorities', () => {
  const ctx = useBroker();

  async function priorityQueue(ch: Channel, max: number, args: Record<string, unknown> = {}): Promise<string> {
    const q = ctx.clients.deleteLater(uniqueName('prio'));
    await ch.assertQueue(q, { durable: false, arguments: { 'x-max-priority': max, ...args } });
    return q;
  }

  it('delivers higher priorities first, FIFO within a priority; no priority property counts as 0', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const q = await priorityQueue(ch, 10);
    publishAll(ch, q, [['a0', 0], ['b0', 5], ['n0', undefined], ['c0', 9], ['b1', 5], ['a1', 0], ['c1', 9]]);
    await waitForReady(ch, q, 7);
    assert.deepEqual(await drainBodies(ch, q), ['c0', 'c1', 'b0', 'b1', 'a0', 'n0', 'a1']);
  });

  it('a priority above x-max-priority counts as the maximum', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const q = await priorityQueue(ch, 5);
    publishAll(ch, q, [['low', 3], ['x0', 5], ['x1', 200], ['x2', 5], ['x3', 6]]);
    await waitForReady(ch, q, 5);
    assert.deepEqual(await drainBodies(ch, q), ['x0', 'x1', 'x2', 'x3', 'low']);
  });

  it('a queue without x-max-priority ignores the priority property', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.clients.deleteLater(uniqueName('plain'));
    await ch.assertQueue(q, { durable: false });
    publishAll(ch, q, [['a', 1], ['b', 9], ['c', 5]]);
    await waitForReady(ch, q, 3);
    assert.deepEqual(await drainBodies(ch, q), ['a', 'b', 'c']);
  });

  it('delivered messages keep their priority property', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const q = await priorityQueue(ch, 5);
    publishAll(ch, q, [['p', 200]]);
    await waitForReady(ch, q, 1);
    const m = await ch.get(q, { noAck: true });
    assert.ok(m);
    assert.equal(m.properties.priority, 200, 'the property is passed on unchanged');
  });

  it('requeued messages return to their place within their priority', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const q = await priorityQueue(ch, 5);
    publishAll(ch, q, [['h0', 5], ['h1', 5], ['l0', 1], ['h2', 5]]);
    await waitForReady(ch, q, 4);
    const h0 = await ch.get(q, { noAck: false });
    const h1 = await ch.get(q, { noAck: false });
    assert.ok(h0 && h1);
    ch.nack(h1, false, true);
    ch.nack(h0, false, true);
    await waitForReady(ch, q, 4);
    assert.deepEqual(await drainBodies(ch, q), ['h0', 'h1', 'h2', 'l0']);
  });

  it('a consumer waiting for credit gets the highest priority ready when the credit comes', TEST_OPTS, async () => {
    const pub = await ctx.clients.channel();
    const q = await priorityQueue(pub, 9);
    const ch = await ctx.clients.channel();
    await ch.prefetch(1);
    const c = await consumeInto(ch, q, { noAck: false });
    publishAll(pub, q, [['first', 0]]);
    const [first] = await c.collector.waitFor(1);
    publishAll(pub, q, [['low', 1], ['mid', 4], ['high', 9]]);
    await waitForReady(pub, q, 3);
    ch.ack(first);
    const [, next] = await c.collector.waitFor(2);
    assert.equal(next.content.toString(), 'high');
    ch.ack(next);
    ch.ack((await c.collector.waitFor(3))[2]);
    const got = await c.collector.waitFor(4);
    assert.deepEqual(got.map((m) => m.content.toString()), ['first', 'high', 'mid', 'low']);
    ch.ack(got[3]);
  });

  it('expires messages of a lower priority while a higher one waits', { ...TEST_OPTS, skip: skipUnderReference }, async () => {
    // RabbitMQ's priority queues stop looking for expired messages at the first
    // priority whose head has not expired; Wharf checks the head of every priority.
    const ch = await ctx.clients.channel();
    const { dlx, dlq } = await declareDeadLetters(ch, { cleanup: ctx.clients });
    const q = await priorityQueue(ch, 5, { 'x-dead-letter-exchange': dlx });
    publishAll(ch, q, [['high', 5]]);
    ch.sendToQueue(q, Buffer.from('low-brief'), { priority: 1, expiration: '20' });
    await waitForReady(ch, dlq, 1);
    assert.deepEqual(await drainBodies(ch, q), ['high']);
  });

  it('keeps priorities and their order across a restart', { ...TEST_OPTS, skip: skipUnderReference }, async () => {
    // Nothing is registered for deletion before the restart: the broker's URL changes with it.
    const pre = new Clients(ctx.broker.url);
    const ch = await pre.confirmChannel();
    const q = uniqueName('prio-durable');
    await ch.assertQueue(q, { durable: true, arguments: { 'x-max-priority': 10 } });
    const items: Item[] = [['a0', 1], ['c0', 10], ['b0', 4], ['a1', 1], ['c1', 42], ['n0', undefined], ['b1', 4]];
    publishAll(ch, q, items, true);
    ch.sendToQueue(q, Buffer.from('transient'), { priority: 10 });
    await ch.waitForConfirms();
    await pre.closeAll();
    await ctx.restart();
    ctx.clients.deleteLater(q);
    const ch2 = await ctx.clients.channel();
    await waitForReady(ch2, q, 7);
    const got: [string, number | undefined][] = [];
    for (;;) {
      const m = await ch2.get(q, { noAck: true });
      if (!m) break;
      got.push([m.content.toString(), m.properties.priority as number | undefined]);
    }
    assert.deepEqual(got, [['c0', 10], ['c1', 42], ['b0', 4], ['b1', 4], ['a0', 1], ['a1', 1], ['n0', undefined]]);
  });
});
