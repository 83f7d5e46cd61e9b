// Dead-lettering as RabbitMQ does it: reasons rejected, expired and maxlen
// (delivery_limit is in delivery-limit.test.ts), the x-death history (queue,
// reason, count, time, exchange, routing-keys) with counts that grow on
// repeated deaths, x-first-death-*, x-dead-letter-routing-key, cycles broken
// unless a rejection drives them, and dead-lettered persistent messages kept
// across a restart.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Message } from 'amqplib';
import { SETTLE_MS, TEST_OPTS, sleep, uniqueName } from '../helpers/async.js';
import { skipUnderReference } from '../helpers/broker.js';
import { Clients, bodies, consumeInto, sendAll, tx, useBroker, waitForReady } from '../helpers/amqplib.js';
import { consumeWith, declareDeadLetters, range, xDeaths } from '../helpers/reliable.js';

/** The x-death entries without their time, for comparing. */
function deaths(m: Message): { queue: string; reason: string; count: number; exchange: string; routingKeys: string[] }[] {
  return xDeaths(m).map(({ queue, reason, count, exchange, routingKeys }) => ({ queue, reason, count, exchange, routingKeys }));
}

describe('dead-lettering', () => {
  const ctx = useBroker();

  it('reject and nack without requeue dead-letter with reason rejected and a full x-death', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { dlx, dlq } = await declareDeadLetters(ch, { cleanup: ctx.clients });
    const src = ctx.clients.deleteExchangeLater(uniqueName('src'));
    const q = ctx.clients.deleteLater(uniqueName('q'));
    await ch.assertExchange(src, 'direct', { durable: false });
    await ch.assertQueue(q, { durable: false, arguments: { 'x-dead-letter-exchange': dlx } });
    await ch.bindQueue(q, src, 'rk');
    for (const body of ['by-reject', 'by-nack']) {
      ch.publish(src, 'rk', Buffer.from(body), { messageId: body, headers: { keep: 'me' }, contentType: 'text/plain' });
    }
    await waitForReady(ch, q, 2);
    const a = await ch.get(q, { noAck: false });
    const b = await ch.get(q, { noAck: false });
    assert.ok(a && b);
    ch.reject(a, false);
    ch.nack(b, false, false);
    const before = Math.floor(Date.now() / 1000);
    const dead = await consumeInto(ch, dlq, { noAck: true });
    const got = await dead.collector.waitFor(2);
    assert.deepEqual(bodies(got), ['by-reject', 'by-nack']);
    for (const m of got) {
      assert.equal(m.fields.exchange, dlx, 'delivered from the dead-letter exchange');
      assert.equal(m.fields.routingKey, 'rk', 'with its original routing key');
      assert.equal(m.fields.redelivered, false);
      assert.equal(m.properties.messageId, m.content.toString(), 'properties kept');
      assert.equal(m.properties.contentType, 'text/plain');
      const h = m.properties.headers ?? {};
      assert.equal(h['keep'], 'me', 'headers kept');
      assert.deepEqual(deaths(m), [{ queue: q, reason: 'rejected', count: 1, exchange: src, routingKeys: ['rk'] }]);
      const [d] = xDeaths(m);
      assert.ok(Math.abs(d.time - before) <= 60, `x-death time ${d.time} is about now (${before})`);
      assert.equal(d.originalExpiration, undefined);
      assert.equal(h['x-first-death-reason'], 'rejected');
      assert.equal(h['x-first-death-queue'], q);
      assert.equal(h['x-first-death-exchange'], src);
    }
    await waitForReady(ch, q, 0);
  });

  it('nack multiple without requeue dead-letters every delivery up to the tag, in order', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { dlx, dlq } = await declareDeadLetters(ch, { cleanup: ctx.clients });
    const q = ctx.clients.deleteLater(uniqueName('q'));
    await ch.assertQueue(q, { durable: false, arguments: { 'x-dead-letter-exchange': dlx } });
    sendAll(ch, q, range(5));
    const { collector } = await consumeInto(ch, q, { noAck: false });
    const got = await collector.waitFor(5);
    ch.nack(got[3], true, false);
    const dead = await consumeInto(ch, dlq, { noAck: true });
    assert.deepEqual(bodies(await dead.collector.waitFor(4)), range(4));
    ch.ack(got[4]);
    await waitForReady(ch, q, 0);
  });

  it('a reject without requeue inside a transaction dead-letters on commit, and not after a rollback', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { dlx, dlq } = await declareDeadLetters(ch, { cleanup: ctx.clients, durable: true });
    const q = ctx.clients.deleteLater(uniqueName('q'));
    await ch.assertQueue(q, { durable: true, arguments: { 'x-dead-letter-exchange': dlx } });
    sendAll(ch, q, ['rolled-back', 'committed'], { persistent: true });
    await waitForReady(ch, q, 2);
    const txCh = await ctx.clients.channel();
    await tx.select(txCh);
    const a = await txCh.get(q, { noAck: false });
    const b = await txCh.get(q, { noAck: false });
    assert.ok(a && b);
    txCh.reject(a, false);
    await tx.rollback(txCh);
    txCh.reject(b, false);
    await sleep(SETTLE_MS);
    assert.equal((await ch.checkQueue(dlq)).messageCount, 0, 'nothing before the commit');
    await tx.commit(txCh);
    await waitForReady(ch, dlq, 1);
    const d = await ch.get(dlq, { noAck: true });
    assert.ok(d);
    assert.equal(d.content.toString(), 'committed');
    assert.equal(xDeaths(d)[0].reason, 'rejected');
    // The rolled-back reject left 'rolled-back' unacked on the channel: closing it requeues it.
    await txCh.close();
    await waitForReady(ch, q, 1);
  });

  it('x-dead-letter-routing-key replaces the routing key; x-death keeps the original one', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { dlx, dlq } = await declareDeadLetters(ch, { cleanup: ctx.clients, type: 'direct', bindingKey: 'dead' });
    const q = ctx.clients.deleteLater(uniqueName('q'));
    await ch.assertQueue(q, {
      durable: false,
      arguments: { 'x-dead-letter-exchange': dlx, 'x-dead-letter-routing-key': 'dead' },
    });
    ch.sendToQueue(q, Buffer.from('x'));
    await waitForReady(ch, q, 1);
    const m = await ch.get(q, { noAck: false });
    assert.ok(m);
    ch.reject(m, false);
    const dead = await consumeInto(ch, dlq, { noAck: true });
    const [d] = await dead.collector.waitFor(1);
    assert.equal(d.fields.routingKey, 'dead');
    assert.deepEqual(deaths(d), [{ queue: q, reason: 'rejected', count: 1, exchange: '', routingKeys: [q] }]);
  });

  it('drops the message when the dead-letter exchange does not exist or routes it nowhere', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { dlx, dlq } = await declareDeadLetters(ch, { cleanup: ctx.clients, type: 'direct', bindingKey: 'bound' });
    const missing = ctx.clients.deleteLater(uniqueName('q'));
    const nowhere = ctx.clients.deleteLater(uniqueName('q'));
    await ch.assertQueue(missing, { durable: false, arguments: { 'x-dead-letter-exchange': uniqueName('no-such-x') } });
    await ch.assertQueue(nowhere, { durable: false, arguments: { 'x-dead-letter-exchange': dlx } });
    for (const q of [missing, nowhere]) {
      ch.sendToQueue(q, Buffer.from(q));
      await waitForReady(ch, q, 1);
      const m = await ch.get(q, { noAck: false });
      assert.ok(m);
      ch.reject(m, false);
      await waitForReady(ch, q, 0);
    }
    await sleep(SETTLE_MS);
    assert.equal((await ch.checkQueue(dlq)).messageCount, 0);
  });

  it('a message rejected repeatedly back into its own queue (a client-driven cycle) is kept; x-death count grows', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.clients.deleteLater(uniqueName('loop'));
    // The default exchange routes the dead-lettered copy by its routing key: back to q.
    await ch.assertQueue(q, { durable: false, arguments: { 'x-dead-letter-exchange': '' } });
    ch.sendToQueue(q, Buffer.from('again'));
    const { collector } = await consumeWith(ch, q, (m) => {
      if (xDeaths(m)[0]?.count === 3) ch.ack(m);
      else ch.reject(m, false);
    });
    const got = await collector.waitFor(4);
    assert.deepEqual(got.map((m) => xDeaths(m)[0]?.count ?? 0), [0, 1, 2, 3]);
    assert.deepEqual(deaths(got[3]), [{ queue: q, reason: 'rejected', count: 3, exchange: '', routingKeys: [q] }]);
    assert.equal(got[3].fields.redelivered, false, 'a dead-lettered copy is a new message');
    assert.equal(got[3].properties.headers?.['x-first-death-reason'], 'rejected');
    await waitForReady(ch, q, 0);
    await sleep(SETTLE_MS);
    assert.equal(collector.length, 4);
  });

  it('breaks a cycle of expiries: the copy back into a queue the message already expired in is dropped', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { dlx, dlq: observer } = await declareDeadLetters(ch, { cleanup: ctx.clients });
    const a = ctx.clients.deleteLater(uniqueName('a'));
    await ch.assertQueue(a, { durable: false, arguments: { 'x-message-ttl': 20, 'x-dead-letter-exchange': dlx } });
    // The fanout dead-letter exchange routes back to a itself (a cycle) and to the observer.
    await ch.bindQueue(a, dlx, '');
    ch.sendToQueue(a, Buffer.from('cyclic'));
    const seen = await consumeInto(ch, observer, { noAck: true });
    const [d] = await seen.collector.waitFor(1);
    assert.deepEqual(deaths(d), [{ queue: a, reason: 'expired', count: 1, exchange: '', routingKeys: [a] }]);
    await waitForReady(ch, a, 0);
    await sleep(SETTLE_MS);
    assert.equal(seen.collector.length, 1, 'a copy that re-entered a would have expired again and reached the observer');
  });

  it('breaks a cycle through the default exchange: a queue dead-lettering expired messages to itself drops them', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const a = ctx.clients.deleteLater(uniqueName('self'));
    // No routing key of its own: the copy goes by the original routing key, the queue's name.
    await ch.assertQueue(a, { durable: false, arguments: { 'x-message-ttl': 20, 'x-dead-letter-exchange': '' } });
    ch.sendToQueue(a, Buffer.from('cyclic'));
    await waitForReady(ch, a, 0);
    // A copy bouncing back would sit in the queue most of the time (20 ms each round).
    for (let i = 0; i < 10; i++) {
      await sleep(SETTLE_MS / 10);
      assert.equal((await ch.checkQueue(a)).messageCount, 0, 'the copy back into the queue was dropped');
    }
  });

  it('breaks a two-queue cycle of expiries (a -> b -> a)', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { dlx, dlq: observer } = await declareDeadLetters(ch, { cleanup: ctx.clients });
    const a = ctx.clients.deleteLater(uniqueName('a'));
    const b = ctx.clients.deleteLater(uniqueName('b'));
    await ch.assertQueue(a, { durable: false, arguments: { 'x-message-ttl': 20, 'x-dead-letter-exchange': dlx } });
    await ch.assertQueue(b, {
      durable: false,
      arguments: { 'x-message-ttl': 20, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': a },
    });
    await ch.bindQueue(b, dlx, '');
    ch.sendToQueue(a, Buffer.from('cyclic'));
    const seen = await consumeInto(ch, observer, { noAck: true });
    await seen.collector.waitFor(1);
    await waitForReady(ch, b, 0);
    await waitForReady(ch, a, 0);
    await sleep(SETTLE_MS);
    assert.equal(seen.collector.length, 1, 'the copy from b back into a was dropped');
  });

  it('allows a cycle with a rejection in it; x-death lists the newest death first', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const a = ctx.clients.deleteLater(uniqueName('a'));
    const b = ctx.clients.deleteLater(uniqueName('b'));
    await ch.assertQueue(a, { durable: false, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': b } });
    await ch.assertQueue(b, {
      durable: false,
      arguments: { 'x-message-ttl': 20, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': a },
    });
    ch.sendToQueue(a, Buffer.from('retry'));
    // Rejected in a, expires in b, back in a: the classic retry-with-delay loop.
    const { collector } = await consumeWith(ch, a, (m) => {
      if (xDeaths(m).length === 0) ch.reject(m, false);
      else ch.ack(m);
    });
    const [, back] = await collector.waitFor(2);
    assert.deepEqual(deaths(back), [
      { queue: b, reason: 'expired', count: 1, exchange: '', routingKeys: [b] },
      { queue: a, reason: 'rejected', count: 1, exchange: '', routingKeys: [a] },
    ]);
    assert.equal(back.properties.headers?.['x-first-death-reason'], 'rejected');
    assert.equal(back.properties.headers?.['x-first-death-queue'], a);
    await waitForReady(ch, a, 0);
  });

  it('keeps dead-lettered persistent messages (rejected, expired, maxlen) across a restart', { ...TEST_OPTS, skip: skipUnderReference }, async () => {
    // Nothing is registered for deletion before the restart: the broker's URL changes with it.
    const pre = new Clients(ctx.broker.url);
    const ch = await pre.confirmChannel();
    const { dlx, dlq } = await declareDeadLetters(ch, { durable: true });
    const r = uniqueName('rejects');
    const t = uniqueName('expires');
    const m = uniqueName('maxlen');
    await ch.assertQueue(r, { durable: true, arguments: { 'x-dead-letter-exchange': dlx } });
    await ch.assertQueue(t, { durable: true, arguments: { 'x-dead-letter-exchange': dlx, 'x-message-ttl': 20 } });
    await ch.assertQueue(m, { durable: true, arguments: { 'x-dead-letter-exchange': dlx, 'x-max-length': 1 } });
    ch.sendToQueue(r, Buffer.from('rejected'), { persistent: true });
    ch.sendToQueue(t, Buffer.from('expired'), { persistent: true });
    ch.sendToQueue(m, Buffer.from('maxlen'), { persistent: true });
    ch.sendToQueue(m, Buffer.from('kept'), { persistent: true });
    await ch.waitForConfirms();
    const got = await ch.get(r, { noAck: false });
    assert.ok(got);
    ch.reject(got, false);
    await waitForReady(ch, dlq, 3);
    await pre.closeAll();
    await ctx.restart();
    for (const q of [r, t, m, dlq]) ctx.clients.deleteLater(q);
    ctx.clients.deleteExchangeLater(dlx);
    const ch2 = await ctx.clients.channel();
    await waitForReady(ch2, dlq, 3);
    const dead = await consumeInto(ch2, dlq, { noAck: true });
    const all = await dead.collector.waitFor(3);
    const byReason = new Map(all.map((x) => [xDeaths(x)[0].reason, x]));
    assert.deepEqual([...byReason.keys()].sort(), ['expired', 'maxlen', 'rejected']);
    assert.equal(byReason.get('rejected')?.content.toString(), 'rejected');
    assert.equal(byReason.get('expired')?.content.toString(), 'expired');
    assert.equal(byReason.get('maxlen')?.content.toString(), 'maxlen');
    for (const [reason, x] of byReason) {
      assert.equal(x.properties.headers?.['x-first-death-reason'], reason);
      assert.equal(x.properties.deliveryMode, 2);
    }
    assert.deepEqual(deaths(byReason.get('expired') as Message), [
      { queue: t, reason: 'expired', count: 1, exchange: '', routingKeys: [t] },
    ]);
    assert.equal((await ch2.checkQueue(r)).messageCount, 0);
    assert.equal((await ch2.checkQueue(t)).messageCount, 0);
    const k = await ch2.get(m, { noAck: true });
    assert.ok(k);
    assert.equal(k.content.toString(), 'kept');
  });
});
