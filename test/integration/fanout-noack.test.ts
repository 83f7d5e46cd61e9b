// A message routed to several queues whose consumers take it without acks: the
// first queue's consumer settles it at once, and every other queue must still
// get its content (a regression: the content was dropped after the first queue
// and the broker spun reading it back). Both for publishes and dead letters.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useBroker } from '../helpers/amqplib.js';
import { TEST_OPTS, uniqueName, waitUntil } from '../helpers/async.js';

describe('fan-out to no-ack consumers', () => {
  const ctx = useBroker();

  it('every queue of a fanout exchange delivers every message to its no-ack consumer', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const ex = ctx.clients.deleteExchangeLater(uniqueName('fan'));
    await ch.assertExchange(ex, 'fanout', { durable: false });
    const got = new Map<string, string[]>();
    for (let i = 0; i < 3; i++) {
      const q = ctx.clients.deleteLater(uniqueName('fanq'));
      await ch.assertQueue(q, { durable: false });
      await ch.bindQueue(q, ex, '');
      got.set(q, []);
      await ch.consume(q, (m) => m && got.get(q)?.push(m.content.toString()), { noAck: true });
    }
    const sent = Array.from({ length: 20 }, (_, i) => `m${i}`);
    for (const b of sent) ch.publish(ex, '', Buffer.from(b));
    await waitUntil(() => [...got.values()].every((l) => l.length === sent.length), 'every queue got every message');
    for (const l of got.values()) assert.deepEqual(l, sent);
  });

  it('dead letters fanned out to several queues reach each no-ack consumer', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const dlx = ctx.clients.deleteExchangeLater(uniqueName('dlfan'));
    await ch.assertExchange(dlx, 'fanout', { durable: false });
    const got = new Map<string, string[]>();
    for (let i = 0; i < 2; i++) {
      const q = ctx.clients.deleteLater(uniqueName('dlfanq'));
      await ch.assertQueue(q, { durable: false });
      await ch.bindQueue(q, dlx, '');
      got.set(q, []);
      await ch.consume(q, (m) => m && got.get(q)?.push(m.content.toString()), { noAck: true });
    }
    const src = ctx.clients.deleteLater(uniqueName('dlsrc'));
    await ch.assertQueue(src, { durable: false, arguments: { 'x-dead-letter-exchange': dlx, 'x-message-ttl': 0 } });
    for (let i = 0; i < 10; i++) ch.sendToQueue(src, Buffer.from(`d${i}`));
    await waitUntil(() => [...got.values()].every((l) => l.length === 10), 'both dead-letter queues got every message');
    for (const l of got.values()) assert.deepEqual(l, Array.from({ length: 10 }, (_, i) => `d${i}`));
  });
});
