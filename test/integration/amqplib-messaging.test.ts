// Publishing and consuming through amqplib: ordering, acks, prefetch,
// requeue semantics, basic.get, recover, cancel (client and server side),
// exclusive consumers, returns, routing through every exchange type, and
// message properties/bodies arriving byte-for-byte. Expectations checked
// against RabbitMQ 3.10.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Channel, Message } from 'amqplib';
import { SETTLE_MS, TEST_OPTS, WAIT_MS, once, sleep, uniqueName, waitUntil, withTimeout } from '../helpers/async.js';
import {
  assertRejectsWith,
  bodies,
  collect,
  consumeInto,
  destroySocket,
  rpc,
  sendAll,
  serverClose,
  useBroker,
  waitForReady,
} from '../helpers/amqplib.js';
import {
  FRAME_METHOD,
  RawAmqp,
  contentHeaderFrame,
  frame,
  longstr,
  method,
  shortstr,
  u16,
  u32,
  u64,
  u8,
} from '../helpers/raw-amqp.js';

const range = (n: number, prefix = 'm') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

async function getOrFail(ch: Channel, queue: string, noAck = false) {
  const m = await ch.get(queue, { noAck });
  assert.ok(m, `expected a message in ${queue}`);
  return m;
}

describe('amqplib: consuming and acknowledging', () => {
  const ctx = useBroker();

  it('delivers in publish order with increasing delivery tags, and acked messages are gone', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const { queue } = await ch.assertQueue('', { exclusive: true });
    sendAll(ch, queue, range(20));
    const { collector, consumerTag } = await consumeInto(ch, queue, { noAck: false });
    const msgs = await collector.waitFor(20);
    assert.deepEqual(bodies(msgs), range(20));
    assert.deepEqual(msgs.map((m) => m.fields.deliveryTag), range(20).map((_, i) => i + 1));
    for (const m of msgs) {
      assert.equal(m.fields.redelivered, false);
      assert.equal(m.fields.consumerTag, consumerTag);
      assert.equal(m.fields.exchange, '');
      assert.equal(m.fields.routingKey, queue);
      ch.ack(m);
    }
    await ch.cancel(consumerTag);
    // Closing the channel would requeue anything unacked: nothing comes back.
    await ch.close();
    const probe = await ctx.clients.channel(conn);
    await sleep(SETTLE_MS);
    assert.deepEqual(await probe.checkQueue(queue), { queue, messageCount: 0, consumerCount: 0 });
  });

  it('auto-ack (no-ack) consumers remove messages on delivery', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const { queue } = await ch.assertQueue('', { exclusive: true });
    sendAll(ch, queue, range(5));
    const msgs = await collect(ch, queue, 5, { noAck: true });
    assert.deepEqual(bodies(msgs), range(5));
    await ch.close();
    const probe = await ctx.clients.channel(conn);
    assert.equal((await probe.checkQueue(queue)).messageCount, 0);
  });

  it('basic.qos prefetch limits unacked deliveries; each ack lets one more through', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    sendAll(ch, queue, range(5));
    await waitForReady(ch, queue, 5);
    await ch.prefetch(2);
    const { collector } = await consumeInto(ch, queue, { noAck: false });
    await collector.waitFor(2);
    await sleep(SETTLE_MS);
    assert.equal(collector.length, 2, 'no more than prefetch=2 unacked deliveries');
    assert.equal((await ch.checkQueue(queue)).messageCount, 3);
    ch.ack(collector.items[0]);
    await collector.waitFor(3);
    await sleep(SETTLE_MS);
    assert.equal(collector.length, 3);
    ch.ack(collector.items[2], true); // acks 2 and 3
    await collector.waitFor(5);
    assert.deepEqual(bodies(collector.items), range(5));
  });

  it('prefetch 0 means unlimited', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.prefetch(0);
    sendAll(ch, queue, range(50));
    const msgs = await collect(ch, queue, 50, { noAck: false });
    assert.equal(msgs.length, 50);
  });

  it('distributes round-robin among competing consumers', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const pub = await ctx.clients.channel(conn);
    const q = ctx.clients.deleteLater(uniqueName());
    await pub.assertQueue(q, { durable: false });
    const a = await consumeInto(await ctx.clients.channel(conn), q, { noAck: true });
    const b = await consumeInto(await ctx.clients.channel(conn), q, { noAck: true });
    sendAll(pub, q, range(6));
    await a.collector.waitFor(3);
    await b.collector.waitFor(3);
    assert.deepEqual(bodies(a.collector.items), ['m0', 'm2', 'm4']);
    assert.deepEqual(bodies(b.collector.items), ['m1', 'm3', 'm5']);
  });

  it('prefetch 1 consumers share by acks: a busy consumer gets nothing more', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const pub = await ctx.clients.channel(conn);
    const q = ctx.clients.deleteLater(uniqueName());
    await pub.assertQueue(q, { durable: false });
    const chA = await ctx.clients.channel(conn);
    const chB = await ctx.clients.channel(conn);
    await chA.prefetch(1);
    await chB.prefetch(1);
    const a = await consumeInto(chA, q, { noAck: false });
    const b = await consumeInto(chB, q, { noAck: false });
    sendAll(pub, q, range(4));
    await a.collector.waitFor(1);
    await b.collector.waitFor(1);
    // B holds its message; A acks everything it gets and takes the rest.
    for (let i = 0; i < 3; i++) {
      const got = await a.collector.waitFor(i + 1);
      chA.ack(got[i]);
    }
    await sleep(SETTLE_MS);
    assert.equal(b.collector.length, 1);
    assert.deepEqual([...bodies(a.collector.items), ...bodies(b.collector.items)].sort(), range(4));
  });

  it('reject with requeue redelivers with redelivered=true at the head of the queue', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    sendAll(ch, queue, ['a', 'b', 'c']);
    await ch.prefetch(1);
    const { collector } = await consumeInto(ch, queue, { noAck: false });
    const [first] = await collector.waitFor(1);
    assert.equal(first.content.toString(), 'a');
    assert.equal(first.fields.redelivered, false);
    ch.reject(first, true);
    const [, again] = await collector.waitFor(2);
    assert.equal(again.content.toString(), 'a');
    assert.equal(again.fields.redelivered, true);
    assert.notEqual(again.fields.deliveryTag, first.fields.deliveryTag);
    ch.ack(again);
    const [, , next] = await collector.waitFor(3);
    assert.equal(next.content.toString(), 'b');
    assert.equal(next.fields.redelivered, false);
  });

  it('requeued messages go back to their original positions', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    sendAll(ch, queue, ['a', 'b', 'c', 'd']);
    await waitForReady(ch, queue, 4);
    const a = await getOrFail(ch, queue);
    const b = await getOrFail(ch, queue);
    ch.nack(b, false, true);
    ch.nack(a, false, true);
    await waitForReady(ch, queue, 4);
    const order: [string, boolean][] = [];
    for (let i = 0; i < 4; i++) {
      const m = await getOrFail(ch, queue, true);
      order.push([m.content.toString(), m.fields.redelivered]);
    }
    assert.deepEqual(order, [['a', true], ['b', true], ['c', false], ['d', false]]);
  });

  it('nack and reject without requeue drop the message', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    sendAll(ch, queue, ['a', 'b', 'c']);
    await waitForReady(ch, queue, 3);
    ch.nack(await getOrFail(ch, queue), false, false);
    ch.reject(await getOrFail(ch, queue), false);
    const c = await getOrFail(ch, queue);
    assert.equal(c.content.toString(), 'c');
    ch.ack(c);
    assert.equal(await ch.get(queue), false);
    await ch.recover(); // nothing unacked is left to come back
    await sleep(SETTLE_MS);
    assert.equal((await ch.checkQueue(queue)).messageCount, 0);
  });

  it('nack multiple with requeue requeues every unacked delivery up to the tag', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    sendAll(ch, queue, range(4));
    await waitForReady(ch, queue, 4);
    const got = [];
    for (let i = 0; i < 4; i++) got.push(await getOrFail(ch, queue));
    ch.nack(got[2], true, true); // m0..m2 back, m3 still unacked
    await waitForReady(ch, queue, 3);
    const m = await getOrFail(ch, queue, true);
    assert.equal(m.content.toString(), 'm0');
    assert.equal(m.fields.redelivered, true);
    ch.nackAll(false);
    await waitForReady(ch, queue, 2);
  });

  it('ack multiple acknowledges every delivery up to the tag', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = ctx.clients.deleteLater(uniqueName());
    await ch.assertQueue(q, { durable: false });
    sendAll(ch, q, range(5));
    const { collector } = await consumeInto(ch, q, { noAck: false });
    const msgs = await collector.waitFor(5);
    ch.ack(msgs[2], true); // m0..m2
    await ch.close(); // m3, m4 are requeued
    const probe = await ctx.clients.channel(conn);
    await waitForReady(probe, q, 2);
    const rest = [await getOrFail(probe, q, true), await getOrFail(probe, q, true)];
    assert.deepEqual(bodies(rest), ['m3', 'm4']);
    assert.deepEqual(rest.map((m) => m.fields.redelivered), [true, true]);
  });

  it('ackAll acknowledges everything outstanding', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = ctx.clients.deleteLater(uniqueName());
    await ch.assertQueue(q, { durable: false });
    sendAll(ch, q, range(3));
    await collect(ch, q, 3, { noAck: false });
    ch.ackAll();
    await ch.close();
    const probe = await ctx.clients.channel(conn);
    await sleep(SETTLE_MS);
    assert.equal((await probe.checkQueue(q)).messageCount, 0);
  });

  it('closes the channel with 406 on an unknown delivery tag', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const closed = serverClose(ch);
    ch.ack({ fields: { deliveryTag: 99 } } as unknown as Message);
    const err = await closed;
    assert.equal(err.code, 406);
    assert.match(err.message, /"PRECONDITION_FAILED - unknown delivery tag 99"/);
  });

  it('closes the channel with 406 when a delivery is acked twice', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    ch.sendToQueue(queue, Buffer.from('once'));
    await waitForReady(ch, queue, 1);
    const m = await getOrFail(ch, queue);
    const closed = serverClose(ch);
    ch.ack(m);
    ch.ack(m);
    const err = await closed;
    assert.equal(err.code, 406);
    assert.match(err.message, new RegExp(`"PRECONDITION_FAILED - unknown delivery tag ${m.fields.deliveryTag}"`));
  });

  it('basic.get returns the remaining message count, and get-empty when empty', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    assert.equal(await ch.get(queue), false);
    sendAll(ch, queue, ['a', 'b', 'c']);
    await waitForReady(ch, queue, 3);
    const a = await getOrFail(ch, queue, true);
    assert.equal(a.content.toString(), 'a');
    assert.equal(a.fields.messageCount, 2);
    assert.equal(a.fields.redelivered, false);
    assert.equal(a.fields.exchange, '');
    assert.equal(a.fields.routingKey, queue);
    const b = await getOrFail(ch, queue, false);
    assert.equal(b.fields.messageCount, 1);
    const c = await getOrFail(ch, queue, true);
    assert.equal(c.fields.messageCount, 0);
    assert.equal(await ch.get(queue), false);
    ch.ack(b);
  });

  it('basic.recover redelivers all unacked messages with redelivered=true', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    sendAll(ch, queue, ['a', 'b']);
    const { collector } = await consumeInto(ch, queue, { noAck: false });
    await collector.waitFor(2);
    await ch.recover();
    const all = await collector.waitFor(4);
    assert.deepEqual(all.slice(2).map((m) => [m.content.toString(), m.fields.redelivered]), [['a', true], ['b', true]]);
    ch.ackAll();
  });

  it('refuses basic.recover with requeue=false with 540 NOT_IMPLEMENTED', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const closed = serverClose(conn);
    await assert.rejects(rpc(ch, (60 << 16) | 110, { requeue: false }, (60 << 16) | 111));
    const err = await closed;
    assert.equal(err.code, 540);
    assert.match(err.message, /"NOT_IMPLEMENTED - requeue=false"/);
  });

  it('a cancelled consumer gets nothing more; messages wait in the queue', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    const { collector, consumerTag } = await consumeInto(ch, queue, { noAck: true });
    ch.sendToQueue(queue, Buffer.from('before'));
    await collector.waitFor(1);
    assert.deepEqual(await ch.cancel(consumerTag), { consumerTag });
    ch.sendToQueue(queue, Buffer.from('after'));
    await waitForReady(ch, queue, 1);
    assert.equal(collector.length, 1);
    assert.equal((await ch.checkQueue(queue)).consumerCount, 0);
  });

  it('uses the client-chosen consumer tag and refuses a duplicate on the channel (530 NOT_ALLOWED)', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const { queue } = await ch.assertQueue('', { exclusive: true });
    const tag = uniqueName('ctag');
    const ok = await ch.consume(queue, () => {}, { consumerTag: tag });
    assert.equal(ok.consumerTag, tag);
    const closed = serverClose(conn);
    await assert.rejects(ch.consume(queue, () => {}, { consumerTag: tag }));
    const err = await closed;
    assert.equal(err.code, 530);
    assert.match(err.message, new RegExp(`NOT_ALLOWED - attempt to reuse consumer tag '${tag}'`));
  });

  it('server-generated consumer tags start with amq.ctag-', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    const ok = await ch.consume(queue, () => {});
    assert.match(ok.consumerTag, /^amq\.ctag-[A-Za-z0-9_-]{22}$/);
  });

  it('sends basic.cancel to consumers when their queue is deleted', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = uniqueName();
    await ch.assertQueue(q, { durable: false });
    const cancelEvent = once<[{ consumerTag: string }]>(ch, 'cancel');
    const { cancelled, consumerTag } = await consumeInto(ch, q, { noAck: false });
    const other = await ctx.clients.channel(conn);
    await other.deleteQueue(q);
    await withTimeout(cancelled, WAIT_MS, 'the consumer callback to get null');
    const [fields] = await cancelEvent;
    assert.equal(fields.consumerTag, consumerTag);
    // The channel stays open.
    await ch.checkExchange('amq.direct');
  });

  it('refuses a second consumer on a queue with an exclusive consumer (403 ACCESS_REFUSED)', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const q = ctx.clients.deleteLater(uniqueName());
    const ch = await ctx.clients.channel(conn);
    await ch.assertQueue(q, { durable: false });
    await ch.consume(q, () => {}, { exclusive: true });
    await assertRejectsWith(
      (await ctx.clients.channel(conn)).consume(q, () => {}),
      403,
      `ACCESS_REFUSED - queue '${q}' in vhost '/' in exclusive use`,
    );
  });

  it('refuses an exclusive consumer on a queue that already has consumers (403 ACCESS_REFUSED)', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const q = ctx.clients.deleteLater(uniqueName());
    const ch = await ctx.clients.channel(conn);
    await ch.assertQueue(q, { durable: false });
    await ch.consume(q, () => {});
    await assertRejectsWith(
      (await ctx.clients.channel(conn)).consume(q, () => {}, { exclusive: true }),
      403,
      `ACCESS_REFUSED - queue '${q}' in vhost '/' in exclusive use`,
    );
  });

  it('returns an unroutable mandatory message with 312 NO_ROUTE', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const x = ctx.clients.deleteExchangeLater(uniqueName('x'));
    await ch.assertExchange(x, 'direct', { durable: false });
    const returned = once<[Message]>(ch, 'return');
    // Not mandatory: silently dropped, never returned.
    ch.publish(x, 'nowhere', Buffer.from('dropped'));
    ch.publish(x, 'nowhere', Buffer.from('bounced'), { mandatory: true, messageId: 'id-1', headers: { h: 'v' } });
    const [msg] = await returned;
    assert.equal(msg.content.toString(), 'bounced');
    const fields = msg.fields as unknown as Record<string, unknown>;
    assert.equal(fields.replyCode, 312);
    assert.equal(fields.replyText, 'NO_ROUTE');
    assert.equal(fields.exchange, x);
    assert.equal(fields.routingKey, 'nowhere');
    assert.equal(msg.properties.messageId, 'id-1');
    assert.deepEqual(msg.properties.headers, { h: 'v' });
  });

  it('returns a mandatory message published to a missing queue via the default exchange', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const returned = once<[Message]>(ch, 'return');
    const q = uniqueName('q-missing');
    ch.sendToQueue(q, Buffer.from('x'), { mandatory: true });
    const [msg] = await returned;
    const fields = msg.fields as unknown as Record<string, unknown>;
    assert.deepEqual([fields.replyCode, fields.replyText, fields.exchange, fields.routingKey], [312, 'NO_ROUTE', '', q]);
  });

  it('does not return a mandatory message that was routed', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    let returns = 0;
    ch.on('return', () => { returns += 1; });
    ch.sendToQueue(queue, Buffer.from('routed'), { mandatory: true });
    await waitForReady(ch, queue, 1);
    await sleep(SETTLE_MS);
    assert.equal(returns, 0);
  });

  it('requeues unacked messages, in order and redelivered, when the channel closes', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = ctx.clients.deleteLater(uniqueName());
    await ch.assertQueue(q, { durable: false });
    sendAll(ch, q, range(3));
    const { collector } = await consumeInto(ch, q, { noAck: false });
    const first = await collector.waitFor(3);
    ch.ack(first[1]);
    await ch.close();
    const ch2 = await ctx.clients.channel(conn);
    const again = await collect(ch2, q, 2, { noAck: true });
    assert.deepEqual(again.map((m) => [m.content.toString(), m.fields.redelivered]), [['m0', true], ['m2', true]]);
  });

  it('requeues unacked messages when the connection drops without a close', TEST_OPTS, async () => {
    const q = ctx.clients.deleteLater(uniqueName());
    const victim = await ctx.clients.connect();
    const ch = await ctx.clients.channel(victim);
    await ch.assertQueue(q, { durable: false });
    sendAll(ch, q, range(3));
    const { collector } = await consumeInto(ch, q, { noAck: false });
    await collector.waitFor(3);
    destroySocket(victim);
    const ch2 = await ctx.clients.channel();
    await waitForReady(ch2, q, 3);
    const again = await collect(ch2, q, 3, { noAck: true });
    assert.deepEqual(again.map((m) => [m.content.toString(), m.fields.redelivered]), [['m0', true], ['m1', true], ['m2', true]]);
  });

  it('honours consumer priorities (x-priority): higher priority first while it has capacity',
    TEST_OPTS, async () => {
    // RabbitMQ advertises consumer_priorities; so does a broker that copies its capabilities.
    const conn = await ctx.clients.connect();
    const q = ctx.clients.deleteLater(uniqueName());
    const pub = await ctx.clients.channel(conn);
    await pub.assertQueue(q, { durable: false });
    const chHigh = await ctx.clients.channel(conn);
    await chHigh.prefetch(2);
    const low = await consumeInto(await ctx.clients.channel(conn), q, { noAck: true, arguments: { 'x-priority': 1 } });
    const high = await consumeInto(chHigh, q, { noAck: false, arguments: { 'x-priority': 10 } });
    sendAll(pub, q, range(6));
    await high.collector.waitFor(2);
    await low.collector.waitFor(4);
    await sleep(SETTLE_MS);
    assert.deepEqual(bodies(high.collector.items), ['m0', 'm1'], 'the high-priority consumer is served first');
    assert.deepEqual(bodies(low.collector.items), ['m2', 'm3', 'm4', 'm5'], 'the rest overflow to the low-priority one');
    chHigh.ack(high.collector.items[1], true);
    sendAll(pub, q, ['n0']);
    const [, , next] = await high.collector.waitFor(3);
    assert.equal(next.content.toString(), 'n0', 'with capacity again, the high-priority consumer wins');
  });

  it('moves 20 000 messages through confirms and a prefetch window intact and in order', { timeout: 120_000 }, async () => {
    const conn = await ctx.clients.connect();
    const pub = await ctx.clients.confirmChannel(conn);
    const { queue } = await pub.assertQueue('', { exclusive: true });
    const n = 20_000;
    const payload = Buffer.alloc(1000, 'x');
    const sub = await ctx.clients.channel(conn);
    await sub.prefetch(100);
    let next = 0;
    let outOfOrder = 0;
    const done = new Promise<void>((resolve) => {
      void sub.consume(queue, (m) => {
        if (!m) return;
        if (m.properties.messageId !== String(next)) outOfOrder += 1;
        next += 1;
        sub.ack(m);
        if (next === n) resolve();
      }, { noAck: false });
    });
    for (let i = 0; i < n; i++) {
      if (!pub.sendToQueue(queue, payload, { messageId: String(i) })) await once(pub, 'drain', WAIT_MS);
    }
    await withTimeout(pub.waitForConfirms(), 60_000, 'confirms for 20 000 publishes');
    await withTimeout(done, 60_000, `20 000 deliveries (have ${next})`);
    assert.equal(outOfOrder, 0);
    await waitForReady(pub, queue, 0);
  });

  it('keeps the prefetch window per channel: messages rejected by one consumer go to another', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const q = ctx.clients.deleteLater(uniqueName());
    const chA = await ctx.clients.channel(conn);
    await chA.assertQueue(q, { durable: false });
    await chA.prefetch(1);
    const a = await consumeInto(chA, q, { noAck: false });
    chA.sendToQueue(q, Buffer.from('only'));
    const [m] = await a.collector.waitFor(1);
    const chB = await ctx.clients.channel(conn);
    const b = await consumeInto(chB, q, { noAck: true });
    await chA.cancel(a.consumerTag);
    chA.reject(m, true);
    const [got] = await b.collector.waitFor(1);
    assert.equal(got.content.toString(), 'only');
    assert.equal(got.fields.redelivered, true);
  });
});

describe('amqplib: routing', () => {
  const ctx = useBroker();

  /**
   * Binds one exclusive queue per binding, publishes each key once (with a
   * marker sent directly to every queue last), and returns which keys each
   * queue received, in order.
   */
  async function route(
    type: string,
    bindings: { key: string; args?: Record<string, unknown> }[],
    publishes: { key: string; headers?: Record<string, unknown> }[],
  ): Promise<string[][]> {
    const ch = await ctx.clients.channel();
    const x = ctx.clients.deleteExchangeLater(uniqueName(`x-${type}`));
    await ch.assertExchange(x, type, { durable: false });
    const queues: string[] = [];
    for (const b of bindings) {
      const { queue } = await ch.assertQueue('', { exclusive: true });
      await ch.bindQueue(queue, x, b.key, b.args);
      queues.push(queue);
    }
    publishes.forEach((p, i) => ch.publish(x, p.key, Buffer.from(`${i}:${p.key}`), { headers: p.headers }));
    for (const q of queues) ch.sendToQueue(q, Buffer.from('end'));
    const result: string[][] = [];
    for (const q of queues) {
      const { collector, consumerTag } = await consumeInto(ch, q, { noAck: true });
      await waitUntil(
        () => collector.items.some((m) => m.content.toString() === 'end'),
        `the end marker in ${q} (have ${bodies(collector.items).join(', ')})`,
      );
      await ch.cancel(consumerTag);
      const msgs = collector.items.slice(0, collector.items.findIndex((m) => m.content.toString() === 'end'));
      result.push(msgs.map((m) => m.content.toString().replace(/^\d+:/, '')));
    }
    return result;
  }

  it('direct: exact routing-key match, to every queue bound with that key', TEST_OPTS, async () => {
    const got = await route('direct', [{ key: 'red' }, { key: 'red' }, { key: 'blue' }, { key: '' }], [
      { key: 'red' }, { key: 'blue' }, { key: 'green' }, { key: '' }, { key: 'Red' },
    ]);
    assert.deepEqual(got, [['red'], ['red'], ['blue'], ['']]);
  });

  it('direct: a queue bound twice gets one copy', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, 'amq.direct', queue);
    await ch.bindQueue(queue, 'amq.direct', queue);
    const x = ctx.clients.deleteExchangeLater(uniqueName('x-fan'));
    await ch.assertExchange(x, 'fanout', { durable: false });
    await ch.bindQueue(queue, x, 'a');
    await ch.bindQueue(queue, x, 'b');
    ch.publish('amq.direct', queue, Buffer.from('1'));
    ch.publish(x, 'whatever', Buffer.from('2'));
    ch.sendToQueue(queue, Buffer.from('end'));
    const msgs = await collect(ch, queue, 3, { noAck: true });
    assert.deepEqual(bodies(msgs), ['1', '2', 'end']);
    await ch.unbindQueue(queue, 'amq.direct', queue);
  });

  it('fanout: every bound queue gets every message, whatever the key', TEST_OPTS, async () => {
    const got = await route('fanout', [{ key: '' }, { key: 'ignored' }], [{ key: 'a' }, { key: '' }]);
    assert.deepEqual(got, [['a', ''], ['a', '']]);
  });

  it('topic: * matches exactly one word, # zero or more', TEST_OPTS, async () => {
    const keys = ['a', 'a.b', 'a.b.c', 'b.a', 'x.b', 'x.b.c', 'c', 'a.c', 'a.x.y.c', '', 'a..b'];
    const got = await route(
      'topic',
      [{ key: '#' }, { key: 'a.#' }, { key: 'a.*' }, { key: '*.b.#' }, { key: '#.c' }, { key: 'a.#.c' }, { key: '*' }, { key: 'a.*.b' }, { key: 'a.b.c' }],
      keys.map((key) => ({ key })),
    );
    assert.deepEqual(got, [
      keys,
      ['a', 'a.b', 'a.b.c', 'a.c', 'a.x.y.c', 'a..b'],
      ['a.b', 'a.c'],
      ['a.b', 'a.b.c', 'x.b', 'x.b.c'],
      ['a.b.c', 'x.b.c', 'c', 'a.c', 'a.x.y.c'],
      ['a.b.c', 'a.c', 'a.x.y.c'],
      ['a', 'c'], // '*' needs one word: the empty key has none
      ['a..b'],
      ['a.b.c'],
    ]);
  });

  it('headers: x-match all (the default) and any', TEST_OPTS, async () => {
    const got = await route(
      'headers',
      [
        { key: '', args: { 'x-match': 'all', format: 'pdf', type: 'report' } },
        { key: '', args: { 'x-match': 'any', format: 'pdf', type: 'report' } },
        { key: 'ignored', args: { format: 'pdf' } },
        { key: '', args: { 'x-match': 'all' } },
      ],
      [
        { key: 'both', headers: { format: 'pdf', type: 'report', extra: 1 } },
        { key: 'format', headers: { format: 'pdf' } },
        { key: 'type', headers: { type: 'report' } },
        { key: 'wrong', headers: { format: 'zip', type: 'log' } },
        { key: 'none' },
      ],
    );
    assert.deepEqual(got, [
      ['both'],
      ['both', 'format', 'type'],
      ['both', 'format'],
      ['both', 'format', 'type', 'wrong', 'none'],
    ]);
  });

  it('headers: values compare with their types; x- binding arguments are not matched', TEST_OPTS, async () => {
    const got = await route(
      'headers',
      [
        { key: '', args: { 'x-match': 'all', n: 42 } },
        { key: '', args: { 'x-match': 'all', flag: true } },
        { key: '', args: { 'x-match': 'any', 'x-custom': 'zzz', k: 'v' } },
      ],
      [
        { key: 'int', headers: { n: 42 } },
        { key: 'str', headers: { n: '42' } },
        { key: 'true', headers: { flag: true } },
        { key: 'false', headers: { flag: false } },
        { key: 'k', headers: { k: 'v' } },
        { key: 'xcustom', headers: { 'x-custom': 'zzz' } },
      ],
    );
    assert.deepEqual(got, [['int'], ['true'], ['k']]);
  });

  it('the default exchange routes to the queue named by the routing key', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    ch.publish('', queue, Buffer.from('via default'));
    const [m] = await collect(ch, queue, 1, { noAck: true });
    assert.equal(m.content.toString(), 'via default');
    assert.equal(m.fields.exchange, '');
  });
});

describe('amqplib: message properties and bodies', () => {
  const ctx = useBroker(undefined, { beforeClose: () => RawAmqp.destroyAll() });

  it('round-trips every basic property and nested header tables intact', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    const headers = {
      str: 'héllo',
      empty: '',
      byte: 7,
      short: 1000,
      int: 100000,
      long: 2 ** 40,
      negative: -5,
      double: 1.5,
      yes: true,
      no: false,
      nothing: null,
      bin: Buffer.from([0, 1, 2, 255]),
      list: [1, 'two', [3, { four: 4 }], true],
      nested: { inner: { deep: 'yes', n: 1 }, arr: [] },
      ts: { '!': 'timestamp', value: 1700000000 },
    };
    const props = {
      contentType: 'application/json',
      contentEncoding: 'gzip',
      headers,
      deliveryMode: 2,
      priority: 5,
      correlationId: 'corr-1',
      replyTo: 'reply.queue',
      expiration: '600000',
      messageId: 'msg-1',
      timestamp: 1700000000,
      type: 'test.type',
      userId: 'guest',
      appId: 'wharf-tests',
    };
    ch.sendToQueue(queue, Buffer.from('{"a":1}'), props);
    const [m] = await collect(ch, queue, 1, { noAck: true });
    assert.equal(m.content.toString(), '{"a":1}');
    const { headers: gotHeaders, ...rest } = m.properties;
    const { headers: _sent, ...restSent } = props;
    assert.deepEqual({ ...rest, clusterId: undefined }, { ...restSent, clusterId: undefined });
    assert.deepEqual(gotHeaders, headers);
  });

  it('passes the encoded properties through byte for byte (field types preserved)', TEST_OPTS, async () => {
    // amqplib decodes every integer type to a JS number, so only the wire
    // shows whether a broker re-encodes 'b'/'s'/'I'/'l' or 'f'/'d' differently.
    const { raw } = await RawAmqp.open(ctx.broker.port, ctx.broker.host);
    await raw.openChannel(1);
    const queue = uniqueName();
    raw.write(method.queueDeclare(1, queue, 4 /* exclusive */));
    await raw.expectMethod(50, 11);
    const f32 = Buffer.alloc(4);
    f32.writeFloatBE(0.5);
    const f64 = Buffer.alloc(8);
    f64.writeDoubleBE(-2.25);
    const field = (name: string, tag: string, value: Buffer) => Buffer.concat([shortstr(name), Buffer.from(tag), value]);
    const inner = Buffer.concat([field('deep', 'S', longstr('yes'))]);
    const arr = Buffer.concat([Buffer.from('b'), u8(1), Buffer.from('S'), longstr('two')]);
    const entries = Buffer.concat([
      field('b', 'b', u8(0xfe)),
      field('B', 'B', u8(200)),
      field('s', 's', u16(0xfffe)),
      field('u', 'u', u16(65000)),
      field('I', 'I', u32(0xfffffffe)),
      field('i', 'i', u32(4000000000)),
      field('l', 'l', u64(2 ** 40)),
      field('f', 'f', f32),
      field('d', 'd', f64),
      field('D', 'D', Buffer.concat([u8(2), u32(12345)])),
      field('t', 't', u8(1)),
      field('T', 'T', u64(1700000000)),
      field('V', 'V', Buffer.alloc(0)),
      field('x', 'x', Buffer.concat([u32(3), Buffer.from([0, 0xff, 7])])),
      field('S', 'S', longstr('héllo')),
      field('A', 'A', Buffer.concat([u32(arr.length), arr])),
      field('F', 'F', Buffer.concat([u32(inner.length), inner])),
    ]);
    // content-type (bit 15), headers (bit 13), delivery-mode (bit 12), message-id (bit 7)
    const properties = Buffer.concat([
      u16(0x8000 | 0x2000 | 0x1000 | 0x0080),
      shortstr('application/octet-stream'),
      u32(entries.length), entries,
      u8(1),
      shortstr('raw-1'),
    ]);
    raw.write(method.basicPublish(1, '', queue));
    raw.write(contentHeaderFrame(1, 3, properties));
    raw.write(frame(3, 1, Buffer.from('abc')));
    let got: Buffer | undefined;
    for (let i = 0; i < 200 && got === undefined; i++) {
      raw.write(method.basicGet(1, queue));
      for (;;) {
        const f = await raw.nextFrame();
        if (f.type !== FRAME_METHOD || f.classId !== 60) continue;
        if (f.methodId === 72) break; // get-empty: the publish has not landed yet
        const header = await raw.nextFrame();
        assert.equal(header.type, 2);
        assert.equal(header.payload.readBigUInt64BE(4), 3n, 'body size');
        got = header.payload.subarray(12);
        const body = await raw.nextFrame();
        assert.equal(body.payload.toString(), 'abc');
        break;
      }
      if (got === undefined) await sleep(10);
    }
    raw.destroy();
    assert.ok(got, 'message never arrived');
    assert.equal(got.toString('hex'), properties.toString('hex'));
  });

  it('leaves unset properties unset', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    ch.sendToQueue(queue, Buffer.from('plain'));
    const [m] = await collect(ch, queue, 1, { noAck: true });
    for (const [k, v] of Object.entries(m.properties)) {
      if (k === 'headers') assert.ok(v === undefined || (typeof v === 'object' && v !== null && Object.keys(v).length === 0), 'headers');
      else assert.equal(v, undefined, k);
    }
  });

  it('refuses a user-id that is not the authenticated user (406)', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    const closed = serverClose(ch);
    ch.sendToQueue(queue, Buffer.from('x'), { userId: 'mallory' });
    const err = await closed;
    assert.equal(err.code, 406);
    assert.match(err.message, /"PRECONDITION_FAILED - user_id property set to 'mallory' but authenticated user was 'guest'"/);
  });

  it('carries a 1 MiB binary body across many frames byte for byte', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    const body = randomBytes(1024 * 1024);
    ch.sendToQueue(queue, body);
    ch.sendToQueue(queue, Buffer.from('after'));
    const [m, next] = await collect(ch, queue, 2, { noAck: true });
    assert.equal(m.content.length, body.length);
    assert.ok(m.content.equals(body), 'body differs');
    assert.equal(next.content.toString(), 'after');
  });

  it('carries an empty body', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    ch.sendToQueue(queue, Buffer.alloc(0), { messageId: 'empty' });
    const [m] = await collect(ch, queue, 1, { noAck: true });
    assert.equal(m.content.length, 0);
    assert.equal(m.properties.messageId, 'empty');
    ch.sendToQueue(queue, Buffer.alloc(0));
    await waitForReady(ch, queue, 1);
    const g = await getOrFail(ch, queue, true);
    assert.equal(g.content.length, 0);
  });

  it('carries bodies of exactly one frame, one byte over, and frame multiples', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    const frameBody = 131072 - 8; // frame-max minus frame overhead
    const sizes = [1, frameBody - 1, frameBody, frameBody + 1, 2 * frameBody, 3 * frameBody + 7];
    const sent = sizes.map((n) => randomBytes(n));
    for (const b of sent) ch.sendToQueue(queue, b);
    const msgs = await collect(ch, queue, sizes.length, { noAck: true });
    msgs.forEach((m, i) => assert.ok(m.content.equals(sent[i]), `body of ${sizes[i]} bytes`));
  });
});
