// Consumer priorities (x-priority on basic.consume) beyond what
// amqplib-messaging.test.ts shows: consumers of the same priority share
// round-robin while lower ones wait, a negative priority ranks below the
// default 0, and a channel's global prefetch limit (basic.qos global) makes
// its high-priority consumer step aside like a per-consumer limit does.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SETTLE_MS, TEST_OPTS, sleep, uniqueName } from '../helpers/async.js';
import { bodies, consumeInto, sendAll, useBroker, waitForReady } from '../helpers/amqplib.js';
import { range } from '../helpers/reliable.js';

describe('consumer priorities', () => {
  const ctx = useBroker();

  it('consumers of the highest priority share round-robin; lower ones get nothing while they can take', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const pub = await ctx.clients.channel(conn);
    const q = ctx.clients.deleteLater(uniqueName('q'));
    await pub.assertQueue(q, { durable: false });
    const low = await consumeInto(await ctx.clients.channel(conn), q, { noAck: true, arguments: { 'x-priority': 1 } });
    const a = await consumeInto(await ctx.clients.channel(conn), q, { noAck: true, arguments: { 'x-priority': 5 } });
    const b = await consumeInto(await ctx.clients.channel(conn), q, { noAck: true, arguments: { 'x-priority': 5 } });
    sendAll(pub, q, range(6));
    await a.collector.waitFor(3);
    await b.collector.waitFor(3);
    assert.deepEqual(bodies(a.collector.items), ['m0', 'm2', 'm4']);
    assert.deepEqual(bodies(b.collector.items), ['m1', 'm3', 'm5']);
    await sleep(SETTLE_MS);
    assert.equal(low.collector.length, 0);
  });

  it('a negative x-priority ranks below the default', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const pub = await ctx.clients.channel(conn);
    const q = ctx.clients.deleteLater(uniqueName('q'));
    await pub.assertQueue(q, { durable: false });
    const negative = await consumeInto(await ctx.clients.channel(conn), q, { noAck: true, arguments: { 'x-priority': -3 } });
    const dflt = await consumeInto(await ctx.clients.channel(conn), q, { noAck: true });
    sendAll(pub, q, range(3));
    assert.deepEqual(bodies(await dflt.collector.waitFor(3)), range(3));
    await sleep(SETTLE_MS);
    assert.equal(negative.collector.length, 0);
  });

  it('a high-priority consumer whose channel hit its global prefetch limit steps aside', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const pub = await ctx.clients.channel(conn);
    const q = ctx.clients.deleteLater(uniqueName('q'));
    await pub.assertQueue(q, { durable: false });
    const chHigh = await ctx.clients.channel(conn);
    await chHigh.prefetch(2, true);
    const high = await consumeInto(chHigh, q, { noAck: false, arguments: { 'x-priority': 10 } });
    const low = await consumeInto(await ctx.clients.channel(conn), q, { noAck: true, arguments: { 'x-priority': 0 } });
    sendAll(pub, q, range(5));
    await high.collector.waitFor(2);
    await low.collector.waitFor(3);
    await waitForReady(pub, q, 0);
    assert.deepEqual(bodies(high.collector.items), ['m0', 'm1']);
    assert.deepEqual(bodies(low.collector.items), ['m2', 'm3', 'm4']);
    chHigh.ack(high.collector.items[1], true);
    sendAll(pub, q, ['n0', 'n1']);
    assert.deepEqual(bodies(await high.collector.waitFor(4)).slice(2), ['n0', 'n1'], 'with credit again it wins');
  });
});
