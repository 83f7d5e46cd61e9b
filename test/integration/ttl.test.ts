// Time to live: x-message-ttl and the per-message expiration property expire
// messages with no consumer present (dead-lettered with reason expired), the
// smaller of the two wins, TTL 0 means "deliver now or never", a requeued
// message keeps its expiry, a bad expiration is a 406; x-expires deletes an
// unused queue; TTLs of durable messages keep counting across a restart.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Channel, ChannelModel } from 'amqplib';
import { SETTLE_MS, TEST_OPTS, sleep, uniqueName, waitUntil } from '../helpers/async.js';
import { skipUnderReference } from '../helpers/broker.js';
import {
  Clients,
  bodies,
  consumeInto,
  sendAll,
  serverClose,
  useBroker,
  waitForReady,
} from '../helpers/amqplib.js';
import { declareDeadLetters, range, xDeaths } from '../helpers/reliable.js';

describe('message TTL and queue expiry', () => {
  const ctx = useBroker();

  async function ttlQueue(ch: Channel, args: Record<string, unknown>): Promise<{ q: string; dlq: string }> {
    const { dlx, dlq } = await declareDeadLetters(ch, { cleanup: ctx.clients });
    const q = ctx.clients.deleteLater(uniqueName('ttl'));
    await ch.assertQueue(q, { durable: false, arguments: { 'x-dead-letter-exchange': dlx, ...args } });
    return { q, dlq };
  }

  it('x-message-ttl expires messages with no consumer present: dead-lettered as expired, in order', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { q, dlq } = await ttlQueue(ch, { 'x-message-ttl': 30 });
    sendAll(ch, q, range(5));
    await waitForReady(ch, dlq, 5);
    assert.equal((await ch.checkQueue(q)).messageCount, 0);
    const dead = await consumeInto(ch, dlq, { noAck: true });
    const got = await dead.collector.waitFor(5);
    assert.deepEqual(bodies(got), range(5));
    for (const m of got) {
      const [d] = xDeaths(m);
      assert.equal(d.reason, 'expired');
      assert.equal(d.queue, q);
      assert.equal(d.originalExpiration, undefined, 'no per-message expiration to keep');
    }
  });

  it('per-message expiration expires the message; x-death keeps it as original-expiration and the copy has none', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { q, dlq } = await ttlQueue(ch, {});
    ch.sendToQueue(q, Buffer.from('short'), { expiration: '30' });
    ch.sendToQueue(q, Buffer.from('long'), { expiration: '600000' });
    await waitForReady(ch, dlq, 1);
    await sleep(SETTLE_MS);
    assert.equal((await ch.checkQueue(dlq)).messageCount, 1, 'the copy does not expire again in the dead-letter queue');
    const d = await ch.get(dlq, { noAck: true });
    assert.ok(d);
    assert.equal(d.content.toString(), 'short');
    assert.equal(d.properties.expiration, undefined);
    assert.equal(xDeaths(d)[0].originalExpiration, '30');
    assert.equal(xDeaths(d)[0].reason, 'expired');
    const long = await ch.get(q, { noAck: true });
    assert.ok(long);
    assert.equal(long.properties.expiration, '600000', 'a delivered message keeps its expiration property');
  });

  it('the smaller of x-message-ttl and the message expiration applies', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const a = await ttlQueue(ch, { 'x-message-ttl': 600_000 });
    const b = await ttlQueue(ch, { 'x-message-ttl': 30 });
    ch.sendToQueue(a.q, Buffer.from('own-expiration-shorter'), { expiration: '30' });
    ch.sendToQueue(b.q, Buffer.from('queue-ttl-shorter'), { expiration: '600000' });
    await waitForReady(ch, a.dlq, 1);
    await waitForReady(ch, b.dlq, 1);
    assert.equal((await ch.checkQueue(a.q)).messageCount, 0);
    assert.equal((await ch.checkQueue(b.q)).messageCount, 0);
  });

  it('TTL 0: a message nobody can take at once is dead-lettered at once; a waiting consumer gets it', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { q, dlq } = await ttlQueue(ch, { 'x-message-ttl': 0 });
    const plain = await ttlQueue(ch, {});
    ch.sendToQueue(q, Buffer.from('nobody-there'));
    ch.sendToQueue(plain.q, Buffer.from('expiration-0'), { expiration: '0' });
    await waitForReady(ch, dlq, 1);
    await waitForReady(ch, plain.dlq, 1);
    assert.equal((await ch.checkQueue(q)).messageCount, 0);
    const consumerCh = await ctx.clients.channel();
    const c = await consumeInto(consumerCh, q, { noAck: true });
    const c2 = await consumeInto(consumerCh, plain.q, { noAck: true });
    // Many, so some are published across a millisecond tick: none may expire on the way to the consumer.
    sendAll(ch, q, range(300, 'taken'));
    sendAll(ch, plain.q, range(300, 'taken-too'), { expiration: '0' });
    assert.deepEqual(bodies(await c.collector.waitFor(300)), range(300, 'taken'));
    assert.deepEqual(bodies(await c2.collector.waitFor(300)), range(300, 'taken-too'));
    assert.equal((await ch.checkQueue(dlq)).messageCount, 1);
    assert.equal((await ch.checkQueue(plain.dlq)).messageCount, 1);
  });

  it('TTL 0: a consumer at its prefetch limit cannot take it, so it is dead-lettered', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { q, dlq } = await ttlQueue(ch, { 'x-message-ttl': 0 });
    const consumerCh = await ctx.clients.channel();
    await consumerCh.prefetch(1);
    const c = await consumeInto(consumerCh, q, { noAck: false });
    ch.sendToQueue(q, Buffer.from('first'));
    await c.collector.waitFor(1);
    ch.sendToQueue(q, Buffer.from('second'));
    await waitForReady(ch, dlq, 1);
    const d = await ch.get(dlq, { noAck: true });
    assert.ok(d);
    assert.equal(d.content.toString(), 'second');
  });

  it('a requeued message keeps its original expiry: past it, it is dead-lettered instead of redelivered', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { q, dlq } = await ttlQueue(ch, { 'x-message-ttl': 200 });
    const sentAt = Date.now();
    ch.sendToQueue(q, Buffer.from('late'));
    const m = await ch.get(q, { noAck: false });
    assert.ok(m, 'fetched before it expired');
    // Hold it past its expiry, then give it back.
    await waitUntil(() => Date.now() > sentAt + 300, 'the TTL to pass');
    await ch.recover();
    await waitForReady(ch, dlq, 1);
    assert.equal(await ch.get(q, { noAck: true }), false);
  });

  it('refuses an expiration that is not a non-negative integer string with 406', TEST_OPTS, async () => {
    for (const expiration of ['soon', '-5', '1.5']) {
      const ch = await ctx.clients.channel();
      const q = ctx.clients.deleteLater(uniqueName('q'));
      await ch.assertQueue(q, { durable: false });
      const closed = serverClose(ch);
      ch.sendToQueue(q, Buffer.from('x'), { expiration });
      const err = await closed;
      assert.equal(err.code, 406, err.message);
      assert.match(err.message, new RegExp(`invalid expiration '${expiration.replace('.', '\\.')}'`));
    }
  });

  it('x-expires deletes a queue nobody uses; a passive declare then gets 404', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = ctx.clients.deleteLater(uniqueName('expiring'));
    await ch.assertQueue(q, { durable: false, arguments: { 'x-expires': 100 } });
    sendAll(ch, q, range(3));
    await waitUntil(() => queueGone(conn, q), 'the queue to be deleted');
  });

  it('x-expires keeps a queue while it has a consumer, and deletes it once the consumer is gone', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = ctx.clients.deleteLater(uniqueName('expiring'));
    await ch.assertQueue(q, { durable: false, arguments: { 'x-expires': 100 } });
    const c = await consumeInto(ch, q, { noAck: true });
    await sleep(SETTLE_MS);
    const probe = await ctx.clients.channel(conn);
    assert.equal((await probe.checkQueue(q)).consumerCount, 1, 'still there with its consumer');
    await ch.cancel(c.consumerTag);
    await waitUntil(() => queueGone(conn, q), 'the queue to be deleted');
  });

  it('expires a deep queue whose content is paged out, dead-lettering every message in order', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { q, dlq } = await ttlQueue(ch, { 'x-message-ttl': 300 });
    const n = 6000;
    sendAll(ch, q, range(n));
    const dead = await consumeInto(await ctx.clients.channel(), dlq, { noAck: true });
    const got = await dead.collector.waitFor(n);
    assert.deepEqual(bodies(got), range(n));
    await waitForReady(ch, q, 0);
  });

  it('expires a message behind a non-expiring one as soon as that one is consumed', TEST_OPTS, async () => {
    // Messages expire only at the head; RabbitMQ drops expired heads right after each fetch.
    const ch = await ctx.clients.channel();
    const { q, dlq } = await ttlQueue(ch, {});
    ch.sendToQueue(q, Buffer.from('forever'));
    ch.sendToQueue(q, Buffer.from('brief'), { expiration: '20' });
    await waitForReady(ch, q, 2);
    await sleep(50);
    const head = await ch.get(q, { noAck: true });
    assert.ok(head);
    assert.equal(head.content.toString(), 'forever');
    await waitForReady(ch, dlq, 1);
  });

  describe('across a restart', () => {
    it('a closed broker\'s queue timers stay stopped: an x-expires lease running out after a restart does not touch the new broker', { ...TEST_OPTS, skip: skipUnderReference }, async () => {
      const pre = new Clients(ctx.broker.url);
      const ch = await pre.channel();
      const q = uniqueName('lease');
      await ch.assertQueue(q, { durable: true, arguments: { 'x-expires': 300 } });
      const kept = uniqueName('kept');
      await pre.closeAll();
      await ctx.restart();
      const ch2 = await ctx.clients.channel();
      // Declared on the new broker, while the old broker's lease on q would still be running.
      await ch2.assertQueue(kept, { durable: true });
      const conn = await ctx.clients.connect();
      await waitUntil(() => queueGone(conn, q), 'the new broker to expire q');
      await sleep(SETTLE_MS);
      await ctx.restart();
      ctx.clients.deleteLater(kept);
      const ch3 = await ctx.clients.channel();
      assert.equal((await ch3.checkQueue(kept)).messageCount, 0, 'the new broker\'s topology was not overwritten');
    });


    it('keeps unexpired durable messages, and expires the rest on time with no consumer present', { ...TEST_OPTS, skip: skipUnderReference }, async () => {
      // Nothing is registered for deletion before the restart: the broker's URL changes with it.
      const pre = new Clients(ctx.broker.url);
      const ch = await pre.confirmChannel();
      const { dlx, dlq } = await declareDeadLetters(ch, { durable: true });
      const longQ = uniqueName('long');
      const shortQ = uniqueName('short');
      await ch.assertQueue(longQ, { durable: true, arguments: { 'x-message-ttl': 600_000, 'x-dead-letter-exchange': dlx } });
      await ch.assertQueue(shortQ, { durable: true, arguments: { 'x-message-ttl': 1500, 'x-dead-letter-exchange': dlx } });
      const ownQ = uniqueName('own');
      await ch.assertQueue(ownQ, { durable: true, arguments: { 'x-dead-letter-exchange': dlx } });
      ch.sendToQueue(longQ, Buffer.from('queue-ttl'), { persistent: true });
      ch.sendToQueue(ownQ, Buffer.from('own-ttl'), { persistent: true, expiration: '1500' });
      ch.sendToQueue(shortQ, Buffer.from('short-ttl'), { persistent: true });
      await ch.waitForConfirms();
      await pre.closeAll();
      await ctx.restart();
      for (const q of [longQ, shortQ, ownQ, dlq]) ctx.clients.deleteLater(q);
      ctx.clients.deleteExchangeLater(dlx);
      const ch2 = await ctx.clients.channel();
      await waitForReady(ch2, dlq, 2);
      await waitForReady(ch2, shortQ, 0);
      await waitForReady(ch2, ownQ, 0);
      const dead = await consumeInto(ch2, dlq, { noAck: true });
      const got = await dead.collector.waitFor(2);
      assert.deepEqual(bodies(got).sort(), ['own-ttl', 'short-ttl']);
      assert.ok(got.every((m) => xDeaths(m)[0].reason === 'expired'));
      const kept = await ch2.get(longQ, { noAck: true });
      assert.ok(kept);
      assert.equal(kept.content.toString(), 'queue-ttl');
    });
  });
});

/** A passive declare on a fresh channel: true when it gets 404 (the queue is gone). */
async function queueGone(conn: ChannelModel, q: string): Promise<boolean> {
  const probe = await conn.createChannel();
  probe.on('error', () => undefined);
  try {
    await probe.checkQueue(q);
    await probe.close();
    return false;
  } catch (err) {
    assert.match(String(err), /404/);
    return true;
  }
}
