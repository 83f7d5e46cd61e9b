// Single active consumer (x-single-active-consumer): only the oldest consumer
// receives; when it is cancelled, its channel closes or its connection dies,
// the next one takes over, in order, with nothing lost. Plus what the older
// suites do not cover of exclusive consume.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Channel } from 'amqplib';
import { SETTLE_MS, TEST_OPTS, sleep, uniqueName, waitUntil } from '../helpers/async.js';
import { bodies, consumeInto, destroySocket, sendAll, useBroker, waitForReady } from '../helpers/amqplib.js';
import { range } from '../helpers/reliable.js';

describe('single active consumer', () => {
  const ctx = useBroker();

  async function sacQueue(ch: Channel): Promise<string> {
    const q = ctx.clients.deleteLater(uniqueName('sac'));
    await ch.assertQueue(q, { durable: true, arguments: { 'x-single-active-consumer': true } });
    return q;
  }

  it('delivers only to the first consumer, even when it is at its prefetch limit', TEST_OPTS, async () => {
    const pub = await ctx.clients.channel();
    const q = await sacQueue(pub);
    const chA = await ctx.clients.channel();
    await chA.prefetch(2);
    const a = await consumeInto(chA, q, { noAck: false });
    const b = await consumeInto(await ctx.clients.channel(), q, { noAck: true });
    sendAll(pub, q, range(5));
    await a.collector.waitFor(2);
    await waitForReady(pub, q, 3);
    await sleep(SETTLE_MS);
    assert.equal(b.collector.length, 0, 'the waiting consumer gets nothing');
    assert.deepEqual((await pub.checkQueue(q)).consumerCount, 2);
    chA.ack(a.collector.items[1], true);
    await a.collector.waitFor(4);
    assert.deepEqual(bodies(a.collector.items), range(4));
  });

  it('hands over to the next consumer when the active one is cancelled; nothing lost, in order', TEST_OPTS, async () => {
    const pub = await ctx.clients.channel();
    const q = await sacQueue(pub);
    const chA = await ctx.clients.channel();
    const a = await consumeInto(chA, q, { noAck: false });
    const chB = await ctx.clients.channel();
    const b = await consumeInto(chB, q, { noAck: false });
    const chC = await ctx.clients.channel();
    const c = await consumeInto(chC, q, { noAck: false });
    sendAll(pub, q, range(4));
    const firstFour = await a.collector.waitFor(4);
    for (const m of firstFour) chA.ack(m);
    await chA.cancel(a.consumerTag);
    sendAll(pub, q, range(4, 'n'));
    const fromB = await b.collector.waitFor(4);
    assert.deepEqual(bodies(fromB), range(4, 'n'));
    assert.ok(fromB.every((m) => !m.fields.redelivered));
    for (const m of fromB) chB.ack(m);
    assert.equal(c.collector.length, 0, 'the third consumer waits its turn');
    await chB.cancel(b.consumerTag);
    sendAll(pub, q, ['last']);
    const [last] = await c.collector.waitFor(1);
    assert.equal(last.content.toString(), 'last');
    chC.ack(last);
    await waitForReady(pub, q, 0);
  });

  it('cancelling a waiting consumer changes nothing for the active one', TEST_OPTS, async () => {
    const pub = await ctx.clients.channel();
    const q = await sacQueue(pub);
    const a = await consumeInto(await ctx.clients.channel(), q, { noAck: true });
    const chB = await ctx.clients.channel();
    const b = await consumeInto(chB, q, { noAck: true });
    await chB.cancel(b.consumerTag);
    sendAll(pub, q, range(3));
    assert.deepEqual(bodies(await a.collector.waitFor(3)), range(3));
    assert.equal(b.collector.length, 0);
  });

  for (const how of ['its channel closes', 'its connection dies'] as const) {
    it(`when ${how}, the next consumer gets the unacked messages first, in order and redelivered, then the rest`, TEST_OPTS, async () => {
      const pub = await ctx.clients.confirmChannel();
      const q = await sacQueue(pub);
      sendAll(pub, q, range(10), { persistent: true });
      await pub.waitForConfirms();
      const connA = await ctx.clients.connect();
      const chA = await ctx.clients.channel(connA);
      await chA.prefetch(4);
      const a = await consumeInto(chA, q, { noAck: false });
      const b = await consumeInto(await ctx.clients.channel(), q, { noAck: true });
      const held = await a.collector.waitFor(4);
      chA.ack(held[0]);
      await chA.checkQueue(q); // the ack is in, and with the credit it gave back m4 went out to A
      await a.collector.waitFor(5);
      if (how === 'its channel closes') await chA.close();
      else destroySocket(connA);
      const got = await b.collector.waitFor(9);
      assert.deepEqual(bodies(got), range(10).slice(1), 'in order, nothing lost');
      assert.deepEqual(got.map((m) => m.fields.redelivered), [true, true, true, true, ...Array<boolean>(5).fill(false)]);
      await sleep(SETTLE_MS);
      assert.equal(b.collector.length, 9, 'nothing twice');
    });
  }
});

describe('exclusive consume', () => {
  const ctx = useBroker();

  it('once the exclusive consumer is cancelled, others may consume again', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.clients.deleteLater(uniqueName('excl'));
    await ch.assertQueue(q, { durable: false });
    const a = await consumeInto(ch, q, { noAck: true, exclusive: true });
    await ch.cancel(a.consumerTag);
    const b = await consumeInto(await ctx.clients.channel(), q, { noAck: true });
    const c = await consumeInto(await ctx.clients.channel(), q, { noAck: true });
    sendAll(ch, q, range(4));
    await waitForReady(ch, q, 0);
    await sleep(SETTLE_MS);
    assert.equal(b.collector.length + c.collector.length, 4);
    assert.equal(a.collector.length, 0);
  });

  it('once the exclusive consumer\'s connection dies, others may consume and get its unacked messages', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.clients.deleteLater(uniqueName('excl'));
    await ch.assertQueue(q, { durable: false });
    sendAll(ch, q, range(3));
    const victim = await ctx.clients.connect();
    const a = await consumeInto(await ctx.clients.channel(victim), q, { noAck: false, exclusive: true });
    await a.collector.waitFor(3);
    destroySocket(victim);
    // The broker notices the dead socket a moment later.
    await waitUntil(async () => (await ch.checkQueue(q)).consumerCount === 0, 'the exclusive consumer is gone');
    const b = await consumeInto(ch, q, { noAck: true });
    const got = await b.collector.waitFor(3);
    assert.deepEqual(bodies(got), range(3));
    assert.ok(got.every((m) => m.fields.redelivered));
  });
});
