// The x-delayed-message exchange (RabbitMQ's delayed-message plugin), through
// amqplib: declare errors, release order, routing as the x-delayed-type, the
// x-delay header rules, restarts, and exchange deletion. Wharf-only: the
// reference broker need not have the plugin, and Wharf differs from it on
// purpose for mandatory publishes (docs/architecture.md, "Delayed messages").

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Channel, ConsumeMessage } from 'amqplib';
import { Collector, SETTLE_MS, TEST_OPTS, WAIT_MS, sleep, uniqueName, withTimeout } from '../helpers/async.js';
import { skipUnderReference } from '../helpers/broker.js';
import { assertRejectsWith, bodies, collect, consumeInto, tx, useBroker, waitForReady } from '../helpers/amqplib.js';

const opts = { ...TEST_OPTS, skip: skipUnderReference };
const DELAYED = 'x-delayed-message';

describe('delayed-message exchange', () => {
  const ctx = useBroker();

  /** A delayed exchange of `type` with a fresh exclusive queue bound to it by `key`. */
  async function setup(
    ch: Channel,
    type = 'direct',
    key = 'k',
    o: { durable?: boolean; bindArgs?: Record<string, unknown> } = {},
  ): Promise<{ exchange: string; queue: string }> {
    const exchange = ctx.clients.deleteExchangeLater(uniqueName('dx'));
    await ch.assertExchange(exchange, DELAYED, { durable: o.durable ?? false, arguments: { 'x-delayed-type': type } });
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, exchange, key, o.bindArgs ?? {});
    return { exchange, queue };
  }

  /**
   * A durable delayed exchange with a durable queue bound to it by 'k', for the
   * restart tests: registered for deletion only after the restart (restartAndConsume).
   */
  async function declareDurable(ch: Channel, exchange: string, queue: string): Promise<void> {
    await ch.assertExchange(exchange, DELAYED, { durable: true, arguments: { 'x-delayed-type': 'direct' } });
    await ch.assertQueue(queue, { durable: true });
    await ch.bindQueue(queue, exchange, 'k');
  }

  /** Restarts the broker, then consumes `queue` without acks; `queue` and `exchanges` are deleted after the test. */
  async function restartAndConsume(queue: string, ...exchanges: string[]): Promise<Collector<ConsumeMessage>> {
    await ctx.restart();
    ctx.clients.deleteLater(queue);
    for (const x of exchanges) ctx.clients.deleteExchangeLater(x);
    const ch = await ctx.clients.confirmChannel();
    const { collector } = await consumeInto(ch, queue, { noAck: true });
    return collector;
  }

  const delayed = (ms: unknown, extra: Record<string, unknown> = {}) => ({ headers: { 'x-delay': ms, ...extra } });

  it('refuses a declare without a valid x-delayed-type with 406', opts, async () => {
    const text = "PRECONDITION_FAILED - Invalid argument, 'x-delayed-type' must be an existing exchange type";
    for (const args of [{}, { 'x-delayed-type': 'no-such-type' }, { 'x-delayed-type': DELAYED }, { 'x-delayed-type': 7 }]) {
      const ch = await ctx.clients.channel();
      await assertRejectsWith(ch.assertExchange(uniqueName('dx'), DELAYED, { arguments: args }), 406, text);
    }
  });

  it('releases messages by due time, FIFO among equal delays, with x-delay negated', opts, async () => {
    const ch = await ctx.clients.confirmChannel();
    const { exchange, queue } = await setup(ch);
    ch.publish(exchange, 'k', Buffer.from('d900'), delayed(900));
    ch.publish(exchange, 'k', Buffer.from('d300-a'), delayed(300));
    ch.publish(exchange, 'k', Buffer.from('d600'), delayed(600));
    ch.publish(exchange, 'k', Buffer.from('d300-b'), delayed(300));
    ch.publish(exchange, 'k', Buffer.from('d300-c'), delayed(300));
    await ch.waitForConfirms();
    assert.equal((await ch.checkQueue(queue)).messageCount, 0, 'nothing is routed before its delay is over');
    const msgs = await collect(ch, queue, 5, { noAck: true });
    assert.deepEqual(bodies(msgs), ['d300-a', 'd300-b', 'd300-c', 'd600', 'd900']);
    // The plugin rewrites x-delay to the negated delay, so a republish is not delayed again.
    assert.deepEqual(msgs.map((m) => m.properties.headers?.['x-delay']), [-300, -300, -300, -600, -900]);
  });

  it('routes at once without x-delay, or with x-delay <= 0, not a number, or too large', opts, async () => {
    const ch = await ctx.clients.confirmChannel();
    const { exchange, queue } = await setup(ch);
    ch.publish(exchange, 'k', Buffer.from('late'), delayed(500));
    ch.publish(exchange, 'k', Buffer.from('none'));
    ch.publish(exchange, 'k', Buffer.from('zero'), delayed(0));
    ch.publish(exchange, 'k', Buffer.from('negative'), delayed(-100));
    ch.publish(exchange, 'k', Buffer.from('text'), delayed('soon'));
    ch.publish(exchange, 'k', Buffer.from('fraction'), delayed(0.5)); // truncated to 0
    ch.publish(exchange, 'k', Buffer.from('too-long'), delayed(2 ** 32)); // past the plugin's 2^32-1 ms
    ch.publish(exchange, 'k', Buffer.from('other-headers'), { headers: { a: 1 } });
    await ch.waitForConfirms();
    const msgs = await collect(ch, queue, 8, { noAck: true });
    assert.deepEqual(bodies(msgs), ['none', 'zero', 'negative', 'text', 'fraction', 'too-long', 'other-headers', 'late']);
    // Not held: properties are left alone.
    assert.equal(msgs[1].properties.headers?.['x-delay'], 0);
  });

  it('accepts x-delay as a string or a float, as the plugin does', opts, async () => {
    const ch = await ctx.clients.confirmChannel();
    const { exchange, queue } = await setup(ch);
    ch.publish(exchange, 'k', Buffer.from('string'), delayed('400'));
    ch.publish(exchange, 'k', Buffer.from('float'), delayed(200.7));
    ch.publish(exchange, 'k', Buffer.from('now'));
    await ch.waitForConfirms();
    const msgs = await collect(ch, queue, 3, { noAck: true });
    assert.deepEqual(bodies(msgs), ['now', 'float', 'string']);
    assert.deepEqual(msgs.map((m) => m.properties.headers?.['x-delay']), [undefined, -200, -400]);
  });

  it('routes as a topic exchange when x-delayed-type is topic', opts, async () => {
    const ch = await ctx.clients.confirmChannel();
    const { exchange, queue } = await setup(ch, 'topic', 'orders.*.created');
    ch.publish(exchange, 'orders.eu.created', Buffer.from('match'), delayed(150));
    ch.publish(exchange, 'orders.eu.deleted', Buffer.from('no-match'), delayed(100));
    ch.publish(exchange, 'orders.us.created', Buffer.from('match-now'));
    await ch.waitForConfirms();
    const msgs = await collect(ch, queue, 2, { noAck: true });
    assert.deepEqual(bodies(msgs), ['match-now', 'match']);
    await sleep(SETTLE_MS);
    assert.equal((await ch.checkQueue(queue)).messageCount, 0, 'the non-matching message is never routed');
  });

  it('routes as a headers exchange when x-delayed-type is headers', opts, async () => {
    const ch = await ctx.clients.confirmChannel();
    const { exchange, queue } = await setup(ch, 'headers', '', { bindArgs: { 'x-match': 'all', region: 'eu' } });
    ch.publish(exchange, '', Buffer.from('eu'), delayed(120, { region: 'eu' }));
    ch.publish(exchange, '', Buffer.from('us'), delayed(100, { region: 'us' }));
    await ch.waitForConfirms();
    const msgs = await collect(ch, queue, 1, { noAck: true });
    assert.deepEqual(bodies(msgs), ['eu']);
    await sleep(SETTLE_MS);
    assert.equal((await ch.checkQueue(queue)).messageCount, 0);
  });

  it('keeps the priority of a delayed message', opts, async () => {
    const ch = await ctx.clients.confirmChannel();
    const exchange = ctx.clients.deleteExchangeLater(uniqueName('dx'));
    await ch.assertExchange(exchange, DELAYED, { arguments: { 'x-delayed-type': 'direct' } });
    const { queue } = await ch.assertQueue('', { exclusive: true, arguments: { 'x-max-priority': 5 } });
    await ch.bindQueue(queue, exchange, 'k');
    ch.publish(exchange, 'k', Buffer.from('low'), { priority: 1, ...delayed(150) });
    ch.publish(exchange, 'k', Buffer.from('high'), { priority: 5, ...delayed(150) });
    await ch.waitForConfirms();
    await waitForReady(ch, queue, 2);
    const got = [await ch.get(queue, { noAck: true }), await ch.get(queue, { noAck: true })];
    assert.deepEqual(got.map((m) => (m ? m.content.toString() : m)), ['high', 'low']);
  });

  it('starts a per-message TTL when the message is released, not when it is published', opts, async () => {
    const ch = await ctx.clients.confirmChannel();
    const { exchange, queue } = await setup(ch);
    const { collector } = await consumeInto(ch, queue, { noAck: true });
    // Expired long before its release if the TTL ran from the publish.
    ch.publish(exchange, 'k', Buffer.from('ttl'), { expiration: '100', ...delayed(400) });
    await ch.waitForConfirms();
    assert.deepEqual(bodies(await collector.waitFor(1)), ['ttl']);
  });

  it('routes through the bindings as they are at release time', opts, async () => {
    const ch = await ctx.clients.confirmChannel();
    const exchange = ctx.clients.deleteExchangeLater(uniqueName('dx'));
    await ch.assertExchange(exchange, DELAYED, { arguments: { 'x-delayed-type': 'fanout' } });
    const early = (await ch.assertQueue('', { exclusive: true })).queue;
    const late = (await ch.assertQueue('', { exclusive: true })).queue;
    await ch.bindQueue(early, exchange, '');
    ch.publish(exchange, '', Buffer.from('m'), delayed(400));
    await ch.waitForConfirms();
    await ch.unbindQueue(early, exchange, '');
    await ch.bindQueue(late, exchange, '');
    assert.deepEqual(bodies(await collect(ch, late, 1, { noAck: true })), ['m']);
    assert.equal((await ch.checkQueue(early)).messageCount, 0);
  });

  it('follows exchange-to-exchange bindings at release time', opts, async () => {
    const ch = await ctx.clients.confirmChannel();
    const exchange = ctx.clients.deleteExchangeLater(uniqueName('dx'));
    const fanout = ctx.clients.deleteExchangeLater(uniqueName('fx'));
    await ch.assertExchange(exchange, DELAYED, { arguments: { 'x-delayed-type': 'direct' } });
    await ch.assertExchange(fanout, 'fanout');
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindExchange(fanout, exchange, 'k');
    await ch.bindQueue(queue, fanout, '');
    ch.publish(exchange, 'k', Buffer.from('via-e2e'), delayed(150));
    await ch.waitForConfirms();
    assert.deepEqual(bodies(await collect(ch, queue, 1, { noAck: true })), ['via-e2e']);
  });

  it('never returns a held message as unroutable, even with mandatory', opts, async () => {
    const ch = await ctx.clients.confirmChannel();
    const exchange = ctx.clients.deleteExchangeLater(uniqueName('dx'));
    await ch.assertExchange(exchange, DELAYED, { arguments: { 'x-delayed-type': 'direct' } });
    const returned: string[] = [];
    ch.on('return', (m: ConsumeMessage) => returned.push(m.content.toString()));
    ch.publish(exchange, 'nowhere', Buffer.from('held'), { mandatory: true, ...delayed(100) });
    ch.publish(exchange, 'nowhere', Buffer.from('now'), { mandatory: true });
    await ch.waitForConfirms();
    await sleep(100 + SETTLE_MS);
    // Routed now, unroutable: returned as by any exchange. Held: accepted, then dropped at release.
    assert.deepEqual(returned, ['now']);
  });

  it('holds a delayed publish made in a transaction once the commit applies', opts, async () => {
    const ch = await ctx.clients.channel();
    const { exchange, queue } = await setup(ch);
    await tx.select(ch);
    ch.publish(exchange, 'k', Buffer.from('tx-delayed'), { persistent: true, ...delayed(150) });
    await sleep(SETTLE_MS);
    assert.equal((await ch.checkQueue(queue)).messageCount, 0, 'not before the commit');
    await tx.commit(ch);
    assert.deepEqual(bodies(await collect(ch, queue, 1, { noAck: true })), ['tx-delayed']);
  });

  it('drops held messages when the exchange is deleted, also across a restart', opts, async () => {
    const ch = await ctx.clients.confirmChannel();
    const exchange = uniqueName('dx');
    const q = uniqueName('dq');
    await declareDurable(ch, exchange, q);
    for (let i = 0; i < 50; i++) ch.publish(exchange, 'k', Buffer.from(`old-${i}`), { persistent: true, ...delayed(700) });
    await ch.waitForConfirms();
    await ch.deleteExchange(exchange);
    // Same name again: it starts empty.
    await declareDurable(ch, exchange, q);
    ch.publish(exchange, 'k', Buffer.from('new'), { persistent: true, ...delayed(400) });
    await ch.waitForConfirms();
    const collector = await restartAndConsume(q, exchange);
    await collector.waitFor(1);
    await sleep(700 + SETTLE_MS);
    assert.deepEqual(bodies(collector.items), ['new']);
  });

  it('keeps durable persistent delayed messages across a restart with their due times', opts, async () => {
    const ch = await ctx.clients.confirmChannel();
    const exchange = uniqueName('dx');
    const q = uniqueName('dq');
    await declareDurable(ch, exchange, q);
    ch.publish(exchange, 'k', Buffer.from('p-overdue'), { persistent: true, ...delayed(50) });
    ch.publish(exchange, 'k', Buffer.from('p-later'), { persistent: true, ...delayed(1500) });
    ch.publish(exchange, 'k', Buffer.from('transient'), { persistent: false, ...delayed(60) });
    await ch.waitForConfirms();
    // Close before the first ones are due, so they are still held when the broker stops.
    const collector = await restartAndConsume(q, exchange);
    const msgs = await collector.waitFor(2, WAIT_MS);
    // Either released before the restart (then already in the durable queue) or after it.
    assert.deepEqual(bodies(msgs), ['p-overdue', 'p-later']);
    await sleep(SETTLE_MS);
    assert.equal(collector.length, 2, 'no duplicates after a clean restart');
  });

  it('neither loses nor duplicates messages when a clean restart interrupts a release', opts, async () => {
    const ch = await ctx.clients.confirmChannel();
    const exchange = uniqueName('dx');
    const q = uniqueName('dq');
    await declareDurable(ch, exchange, q);
    const n = 6000;
    for (let i = 0; i < n; i++) ch.publish(exchange, 'k', Buffer.from(String(i)), { persistent: true, ...delayed(300) });
    await withTimeout(ch.waitForConfirms(), WAIT_MS, 'confirms');
    while ((await ch.checkQueue(q)).messageCount === 0) await sleep(1);
    const collector = await restartAndConsume(q, exchange);
    await collector.waitFor(n);
    await sleep(SETTLE_MS);
    const got = bodies(collector.items).map(Number).sort((a, b) => a - b);
    assert.deepEqual(got, Array.from({ length: n }, (_, i) => i));
  });

  it('drops transient delayed messages and those of transient exchanges at a restart', opts, async () => {
    const ch = await ctx.clients.confirmChannel();
    const durableX = uniqueName('dx');
    const transientX = uniqueName('dx');
    const q = uniqueName('dq');
    await ch.assertExchange(durableX, DELAYED, { durable: true, arguments: { 'x-delayed-type': 'direct' } });
    await ch.assertExchange(transientX, DELAYED, { durable: false, arguments: { 'x-delayed-type': 'direct' } });
    await ch.assertQueue(q, { durable: true });
    await ch.bindQueue(q, durableX, 'k');
    await ch.bindQueue(q, transientX, 'k');
    ch.publish(durableX, 'k', Buffer.from('transient-msg'), { persistent: false, ...delayed(600) });
    ch.publish(transientX, 'k', Buffer.from('transient-x'), { persistent: true, ...delayed(600) });
    ch.publish(durableX, 'k', Buffer.from('kept'), { persistent: true, ...delayed(700) });
    await ch.waitForConfirms();
    const collector = await restartAndConsume(q, durableX);
    await collector.waitFor(1);
    await sleep(SETTLE_MS);
    assert.deepEqual(bodies(collector.items), ['kept']);
  });

  it('releases a large backlog of due messages completely and in order', opts, async () => {
    const ch = await ctx.clients.confirmChannel();
    const { exchange, queue } = await setup(ch);
    const n = 5000;
    for (let i = 0; i < n; i++) ch.publish(exchange, 'k', Buffer.from(String(i)), delayed(200));
    await withTimeout(ch.waitForConfirms(), WAIT_MS, 'confirms');
    const msgs = await collect(ch, queue, n, { noAck: true });
    const got = bodies(msgs).map(Number);
    assert.deepEqual(got, Array.from({ length: n }, (_, i) => i));
  });
});
