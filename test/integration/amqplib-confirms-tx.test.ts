// Publisher confirms, transactions (tx.select/commit/rollback), channel.flow
// and basic.qos global vs per-consumer prefetch, through amqplib (plus its
// untyped Channel.rpc for tx and flow, which amqplib has no API for).
// Expectations checked against RabbitMQ 3.10.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Message } from 'amqplib';
import { Collector, SETTLE_MS, TEST_OPTS, WAIT_MS, sleep, uniqueName, withTimeout } from '../helpers/async.js';
import { skipUnderReference } from '../helpers/broker.js';
import {
  METHOD,
  assertRejectsWith,
  bodies,
  collect,
  consumeInto,
  rpc,
  sendAll,
  serverClose,
  tx,
  useBroker,
  waitForReady,
} from '../helpers/amqplib.js';

const range = (n: number, prefix = 'm') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('amqplib: publisher confirms', () => {
  const ctx = useBroker();

  it('confirms every publish, in order, and waitForConfirms resolves', TEST_OPTS, async () => {
    const ch = await ctx.clients.confirmChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    const acked: number[] = [];
    let lastTag = 0;
    let tagsIncrease = true;
    ch.on('ack', ({ deliveryTag }) => {
      if (deliveryTag <= lastTag) tagsIncrease = false;
      lastTag = deliveryTag;
    });
    const done = Array.from({ length: 200 }, (_, i) =>
      new Promise<void>((resolve, reject) => {
        ch.sendToQueue(queue, Buffer.from(`m${i}`), {}, (err) => {
          if (err) reject(new Error(`publish ${i} nacked`));
          else {
            acked.push(i);
            resolve();
          }
        });
      }));
    await withTimeout(ch.waitForConfirms(), WAIT_MS, 'waitForConfirms');
    await Promise.all(done);
    assert.equal(acked.length, 200);
    assert.ok(tagsIncrease, 'confirm delivery tags only increase');
    assert.equal(lastTag, 200, 'the last confirm covers publish sequence number 200');
    assert.equal((await ch.checkQueue(queue)).messageCount, 200);
  });

  it('confirms persistent messages on a durable queue', TEST_OPTS, async () => {
    const ch = await ctx.clients.confirmChannel();
    const q = ctx.clients.deleteLater(uniqueName());
    await ch.assertQueue(q, { durable: true });
    for (let i = 0; i < 20; i++) ch.sendToQueue(q, Buffer.from(`p${i}`), { persistent: true });
    await withTimeout(ch.waitForConfirms(), WAIT_MS, 'waitForConfirms');
    assert.equal((await ch.checkQueue(q)).messageCount, 20);
  });

  it('confirms unroutable messages too; a mandatory one is returned before its ack', TEST_OPTS, async () => {
    const ch = await ctx.clients.confirmChannel();
    const x = ctx.clients.deleteExchangeLater(uniqueName('x'));
    await ch.assertExchange(x, 'direct', { durable: false });
    const events: string[] = [];
    ch.on('return', (m: Message) => events.push(`return:${m.content.toString()}`));
    ch.on('ack', ({ deliveryTag }) => events.push(`ack:${deliveryTag}`));
    ch.publish(x, 'nowhere', Buffer.from('plain'));
    ch.publish(x, 'nowhere', Buffer.from('bounced'), { mandatory: true });
    await withTimeout(ch.waitForConfirms(), WAIT_MS, 'waitForConfirms');
    // Acks may be combined with multiple=true; the return must precede the ack covering tag 2.
    const returnAt = events.indexOf('return:bounced');
    const ackAt = events.findIndex((e) => e.startsWith('ack:') && Number(e.slice(4)) >= 2);
    assert.ok(returnAt >= 0, `no return in ${events.join(', ')}`);
    assert.ok(returnAt < ackAt, `basic.return must come before the ack: ${events.join(', ')}`);
  });

  it('confirms publishes to a fanout with many queues once each', TEST_OPTS, async () => {
    const ch = await ctx.clients.confirmChannel();
    const x = ctx.clients.deleteExchangeLater(uniqueName('x'));
    await ch.assertExchange(x, 'fanout', { durable: false });
    const queues: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { queue } = await ch.assertQueue('', { exclusive: true });
      await ch.bindQueue(queue, x, '');
      queues.push(queue);
    }
    let confirms = 0;
    for (let i = 0; i < 10; i++) ch.publish(x, '', Buffer.from(`f${i}`), {}, (err) => { if (!err) confirms += 1; });
    await withTimeout(ch.waitForConfirms(), WAIT_MS, 'waitForConfirms');
    assert.equal(confirms, 10);
    for (const q of queues) assert.equal((await ch.checkQueue(q)).messageCount, 10);
  });

  it('refuses confirm.select on a transactional channel (406)', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    await tx.select(ch);
    await assertRejectsWith(
      rpc(ch, (85 << 16) | 10, { nowait: false }, (85 << 16) | 11),
      406,
      'PRECONDITION_FAILED - cannot switch from tx to confirm mode',
    );
  });

  it('refuses tx.select on a confirm channel (406)', TEST_OPTS, async () => {
    const ch = await ctx.clients.confirmChannel();
    await assertRejectsWith(tx.select(ch), 406, 'PRECONDITION_FAILED - cannot switch from confirm to tx mode');
  });
});

describe('amqplib: transactions', () => {
  const ctx = useBroker();

  it('publishes only on commit', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const observer = await ctx.clients.channel(conn);
    const q = ctx.clients.deleteLater(uniqueName());
    await ch.assertQueue(q, { durable: false });
    await tx.select(ch);
    sendAll(ch, q, range(3));
    await sleep(SETTLE_MS);
    assert.equal((await observer.checkQueue(q)).messageCount, 0, 'uncommitted publishes are invisible');
    await tx.commit(ch);
    await waitForReady(observer, q, 3);
    assert.deepEqual(bodies(await collect(observer, q, 3, { noAck: true })), range(3));
  });

  it('rolled-back publishes never appear', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const observer = await ctx.clients.channel(conn);
    const q = ctx.clients.deleteLater(uniqueName());
    await ch.assertQueue(q, { durable: false });
    await tx.select(ch);
    sendAll(ch, q, ['gone1', 'gone2']);
    await tx.rollback(ch);
    sendAll(ch, q, ['kept']);
    await tx.commit(ch);
    await waitForReady(observer, q, 1);
    await sleep(SETTLE_MS);
    assert.equal((await observer.checkQueue(q)).messageCount, 1);
    const m = await observer.get(q, { noAck: true });
    assert.ok(m);
    assert.equal(m.content.toString(), 'kept');
  });

  it('the channel stays transactional: each commit is its own transaction', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const observer = await ctx.clients.channel(conn);
    const q = ctx.clients.deleteLater(uniqueName());
    await ch.assertQueue(q, { durable: false });
    await tx.select(ch);
    sendAll(ch, q, ['a']);
    await tx.commit(ch);
    sendAll(ch, q, ['b']);
    await sleep(SETTLE_MS);
    assert.equal((await observer.checkQueue(q)).messageCount, 1);
    await tx.rollback(ch);
    await tx.commit(ch); // empty commit is fine
    assert.equal((await observer.checkQueue(q)).messageCount, 1);
  });

  it('acks take effect on commit; rolled-back acks leave messages unacked', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = ctx.clients.deleteLater(uniqueName());
    await ch.assertQueue(q, { durable: false });
    sendAll(ch, q, range(4));
    await waitForReady(ch, q, 4);
    await tx.select(ch);
    const got = [];
    for (let i = 0; i < 4; i++) {
      const m = await ch.get(q, { noAck: false });
      assert.ok(m);
      got.push(m);
    }
    ch.ack(got[0]);
    ch.ack(got[1]);
    await tx.rollback(ch);
    // Still unacked (not requeued, not ready) after the rollback ...
    assert.equal((await ch.checkQueue(q)).messageCount, 0);
    // ... so they can be acked again, and this time committed.
    ch.ack(got[1]);
    ch.ack(got[2]);
    await tx.commit(ch);
    await ch.close(); // m0 and m3 were never committed as acked: requeued
    const probe = await ctx.clients.channel(conn);
    await waitForReady(probe, q, 2);
    const rest = await collect(probe, q, 2, { noAck: true });
    assert.deepEqual(rest.map((m) => [m.content.toString(), m.fields.redelivered]), [['m0', true], ['m3', true]]);
  });

  it('a reject with requeue inside a transaction takes effect on commit', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const observer = await ctx.clients.channel(conn);
    const q = ctx.clients.deleteLater(uniqueName());
    await ch.assertQueue(q, { durable: false });
    sendAll(ch, q, ['r']);
    await waitForReady(ch, q, 1);
    await tx.select(ch);
    const m = await ch.get(q, { noAck: false });
    assert.ok(m);
    ch.reject(m, true);
    await sleep(SETTLE_MS);
    assert.equal((await observer.checkQueue(q)).messageCount, 0, 'not requeued before commit');
    await tx.commit(ch);
    await waitForReady(observer, q, 1);
  });

  it('an ack inside a transaction gives prefetch credit back at the commit, not before; a rollback never', TEST_OPTS, async () => {
    for (const global of [false, true]) {
      const ch = await ctx.clients.channel();
      const { queue } = await ch.assertQueue('', { exclusive: true });
      sendAll(ch, queue, range(3));
      await waitForReady(ch, queue, 3);
      await ch.prefetch(1, global);
      const { collector } = await consumeInto(ch, queue, { noAck: false });
      const [m0] = await collector.waitFor(1);
      await tx.select(ch);
      ch.ack(m0);
      await sleep(SETTLE_MS);
      assert.equal(collector.length, 1, `global=${global}: no credit before the commit`);
      await tx.commit(ch);
      const m1 = (await collector.waitFor(2))[1];
      ch.ack(m1);
      await tx.rollback(ch);
      await sleep(SETTLE_MS);
      assert.equal(collector.length, 2, `global=${global}: a rolled-back ack gives no credit`);
      ch.ack(m1);
      await tx.commit(ch);
      assert.deepEqual(bodies(await collector.waitFor(3)), range(3));
    }
  });

  it('refuses tx.commit and tx.rollback without tx.select (406)', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    await assertRejectsWith(tx.commit(await ctx.clients.channel(conn)), 406, 'PRECONDITION_FAILED - channel is not transactional');
    await assertRejectsWith(tx.rollback(await ctx.clients.channel(conn)), 406, 'PRECONDITION_FAILED - channel is not transactional');
  });
});

describe('amqplib: channel.flow and basic.qos', () => {
  const ctx = useBroker();

  it('answers channel.flow active=true with flow-ok active=true', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const ok = await rpc(ch, METHOD.channelFlow, { active: true }, METHOD.channelFlowOk);
    assert.deepEqual(ok, { active: true });
    await ch.checkExchange('amq.direct');
  });

  // RabbitMQ 3.x refuses active=false with 540; Wharf really pauses deliveries, as
  // AMQP 0-9-1 §1.5.2.3 describes and the core issue asks, so this is Wharf-only.
  it('pauses deliveries on channel.flow active=false and resumes on active=true', { ...TEST_OPTS, skip: skipUnderReference }, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const { queue } = await ch.assertQueue('', { exclusive: true });
    const paused = await rpc(ch, METHOD.channelFlow, { active: false }, METHOD.channelFlowOk);
    assert.deepEqual(paused, { active: false });
    const { collector } = await consumeInto(ch, queue, { noAck: true });
    const pub = await ctx.clients.channel(conn);
    sendAll(pub, queue, range(3));
    await waitForReady(pub, queue, 3);
    await sleep(SETTLE_MS);
    assert.equal(collector.length, 0, 'nothing is delivered while flow is off');
    const resumed = await rpc(ch, METHOD.channelFlow, { active: true }, METHOD.channelFlowOk);
    assert.deepEqual(resumed, { active: true });
    assert.deepEqual(bodies(await collector.waitFor(3)), range(3));
  });

  it('refuses basic.qos with prefetch-size != 0 with 540 NOT_IMPLEMENTED', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const closed = serverClose(conn);
    await assert.rejects(rpc(ch, (60 << 16) | 10, { prefetchSize: 10, prefetchCount: 0, global: false }, (60 << 16) | 11));
    const err = await closed;
    assert.equal(err.code, 540);
    assert.match(err.message, /"NOT_IMPLEMENTED - prefetch_size!=0 \(10\)"/);
  });

  /** Two queues with `n` messages each, consumed by two consumers on one channel. */
  async function twoConsumers(setup: (ch: import('amqplib').Channel) => Promise<void>, n = 6) {
    const ch = await ctx.clients.channel();
    const collectors: Collector<import('amqplib').ConsumeMessage>[] = [];
    await setup(ch);
    for (let i = 0; i < 2; i++) {
      const { queue } = await ch.assertQueue('', { exclusive: true });
      sendAll(ch, queue, range(n, `q${i}-`));
      await waitForReady(ch, queue, n);
      collectors.push((await consumeInto(ch, queue, { noAck: false })).collector);
    }
    return { ch, a: collectors[0], b: collectors[1] };
  }

  it('per-consumer prefetch (global=false) limits each consumer separately', TEST_OPTS, async () => {
    const { a, b } = await twoConsumers((ch) => ch.prefetch(2, false).then(() => undefined));
    await a.waitFor(2);
    await b.waitFor(2);
    await sleep(SETTLE_MS);
    assert.deepEqual([a.length, b.length], [2, 2]);
  });

  it('global prefetch (global=true) limits the whole channel', TEST_OPTS, async () => {
    const { a, b } = await twoConsumers((ch) => ch.prefetch(3, true).then(() => undefined));
    await a.waitFor(3);
    await sleep(SETTLE_MS);
    // The first consumer fills the channel's window before the second subscribes.
    assert.deepEqual([a.length, b.length], [3, 0]);
  });

  it('per-consumer prefetch is fixed when the consumer subscribes', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const queues: string[] = [];
    for (let i = 0; i < 2; i++) {
      const { queue } = await ch.assertQueue('', { exclusive: true });
      sendAll(ch, queue, range(6, `q${i}-`));
      await waitForReady(ch, queue, 6);
      queues.push(queue);
    }
    await ch.prefetch(1, false);
    const a = (await consumeInto(ch, queues[0], { noAck: false })).collector;
    await ch.prefetch(3, false);
    const b = (await consumeInto(ch, queues[1], { noAck: false })).collector;
    await a.waitFor(1);
    await b.waitFor(3);
    await sleep(SETTLE_MS);
    assert.deepEqual([a.length, b.length], [1, 3]);
  });

  it('a raised global prefetch applies from the next ack on', TEST_OPTS, async () => {
    // RabbitMQ does not wake consumers blocked on the old limit when basic.qos
    // raises it; the next ack lets the channel fill up to the new limit.
    const { ch, a, b } = await twoConsumers(async (c) => {
      await c.prefetch(1, true);
    }, 4);
    await a.waitFor(1);
    await ch.prefetch(3, true);
    ch.ack(a.items[0]);
    await withTimeout((async () => {
      while (a.length + b.length < 4) await sleep(10);
    })(), WAIT_MS, 'deliveries after raising the global prefetch');
    await sleep(SETTLE_MS);
    assert.equal(a.length + b.length, 4, '1 acked + 3 unacked');
  });
});
