// The x-delayed-message exchange wherever routing meets it, as RabbitMQ's
// delayed-message plugin does (its exchange type's route/2 holds any message
// with a positive x-delay): as the destination of an exchange-to-exchange
// binding, as an alternate exchange, as a dead-letter exchange; and an
// alternate exchange on a delayed exchange, BCC keys kept until the release,
// delayed publishes in transactions. Wharf-only: the reference RabbitMQ has
// no plugin; expectations follow the plugin's source and README
// (docs/delayed.md lists where Wharf differs on purpose).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Channel, ConfirmChannel, ConsumeMessage, Message } from 'amqplib';
import { SETTLE_MS, TEST_OPTS, sleep, uniqueName } from '../helpers/async.js';
import { skipUnderReference } from '../helpers/broker.js';
import { bodies, collect, consumeInto, drainBodies, tx, useBroker, waitForReady } from '../helpers/amqplib.js';
import { xDeaths } from '../helpers/reliable.js';

const opts = { ...TEST_OPTS, skip: skipUnderReference };
const DELAYED = 'x-delayed-message';
const delayed = (ms: number, extra: Record<string, unknown> = {}) => ({ headers: { 'x-delay': ms, ...extra } });

describe('delayed-message exchange in routing', () => {
  const ctx = useBroker();

  /** A transient delayed exchange routing as `type`, removed after the test. */
  async function delayedExchange(ch: Channel, type = 'direct', args: Record<string, unknown> = {}): Promise<string> {
    const x = ctx.clients.deleteExchangeLater(uniqueName('dx'));
    await ch.assertExchange(x, DELAYED, { durable: false, arguments: { 'x-delayed-type': type, ...args } });
    return x;
  }

  async function plainExchange(ch: Channel, type: string, args: Record<string, unknown> = {}): Promise<string> {
    const x = ctx.clients.deleteExchangeLater(uniqueName('x'));
    await ch.assertExchange(x, type, { durable: false, arguments: args });
    return x;
  }

  async function boundQueue(ch: Channel, source: string, key = 'k'): Promise<string> {
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, source, key);
    return queue;
  }

  /** Publishes mandatory messages on a confirm channel; the bodies returned before the confirms. */
  async function publishAll(ch: ConfirmChannel, exchange: string, key: string, items: [string, object][]): Promise<string[]> {
    const returned: string[] = [];
    const onReturn = (m: Message): void => {
      returned.push(m.content.toString());
    };
    ch.on('return', onReturn);
    for (const [body, o] of items) ch.publish(exchange, key, Buffer.from(body), { mandatory: true, ...o });
    await ch.waitForConfirms();
    ch.removeListener('return', onReturn);
    return returned;
  }

  it('holds a message that reaches it through an exchange-to-exchange binding', opts, async () => {
    const ch = await ctx.clients.confirmChannel();
    const dx = await delayedExchange(ch);
    const source = await plainExchange(ch, 'topic');
    await ch.bindExchange(dx, source, 'orders.#');
    const q = await boundQueue(ch, dx, 'orders.new');
    const returned = await publishAll(ch, source, 'orders.new', [['later', delayed(300)], ['now', {}]]);
    assert.deepEqual(returned, [], 'held counts as routed');
    const { collector } = await consumeInto(ch, q, { noAck: true });
    const [first] = await collector.waitFor(1);
    assert.equal(first.content.toString(), 'now', 'only the message with x-delay waits');
    const [, later] = await collector.waitFor(2);
    assert.equal(later.content.toString(), 'later');
    assert.equal(later.properties.headers?.['x-delay'], -300);
    // Released from the delayed exchange, which it names (the plugin names the exchange published to).
    assert.deepEqual([later.fields.exchange, later.fields.routingKey], [dx, 'orders.new']);
  });

  it('holds a dead-lettered message with a positive x-delay when it is the dead-letter exchange', opts, async () => {
    const ch = await ctx.clients.confirmChannel();
    const dlx = await delayedExchange(ch);
    const work = ctx.clients.deleteLater(uniqueName('dq-work'));
    await ch.assertQueue(work, { durable: false, arguments: { 'x-dead-letter-exchange': dlx } });
    // Dead-lettered with the routing key it was published with: the queue's name.
    const retry = await boundQueue(ch, dlx, work);
    ch.sendToQueue(work, Buffer.from('retry-me'), delayed(300));
    await ch.waitForConfirms();
    const m = await ch.get(work, { noAck: false });
    assert.ok(m);
    ch.reject(m, false);
    await sleep(100);
    assert.equal((await ch.checkQueue(retry)).messageCount, 0, 'held, not routed at once');
    await waitForReady(ch, work, 0);
    const [dead] = await collect(ch, retry, 1, { noAck: true });
    assert.deepEqual([dead.content.toString(), dead.fields.exchange, dead.fields.routingKey], ['retry-me', dlx, work]);
    assert.equal(dead.properties.headers?.['x-delay'], -300);
    assert.deepEqual(xDeaths(dead).map((d) => [d.reason, d.queue]), [['rejected', work]]);
  });

  it('keeps a message dead-lettered into a durable delayed exchange across a restart, and not in its source', opts, async () => {
    const ch = await ctx.clients.confirmChannel();
    const dlx = uniqueName('dx-durable');
    const work = uniqueName('dq-work');
    const retry = uniqueName('dq-retry');
    await ch.assertExchange(dlx, DELAYED, { durable: true, arguments: { 'x-delayed-type': 'fanout' } });
    await ch.assertQueue(retry, { durable: true });
    await ch.bindQueue(retry, dlx, '');
    await ch.assertQueue(work, { durable: true, arguments: { 'x-dead-letter-exchange': dlx } });
    ch.sendToQueue(work, Buffer.from('survivor'), { persistent: true, ...delayed(1000) });
    await ch.waitForConfirms();
    const m = await ch.get(work, { noAck: false });
    assert.ok(m);
    ch.reject(m, false);
    await waitForReady(ch, work, 0);
    assert.equal((await ch.checkQueue(retry)).messageCount, 0, 'held, not routed at once');
    await ctx.restart();
    for (const q of [work, retry]) ctx.clients.deleteLater(q);
    ctx.clients.deleteExchangeLater(dlx);
    const after = await ctx.clients.channel();
    const [released] = await collect(after, retry, 1, { noAck: true });
    assert.equal(released.content.toString(), 'survivor');
    assert.equal((await after.checkQueue(work)).messageCount, 0, 'the source let it go once it was held');
  });

  it('holds a message as an alternate exchange', opts, async () => {
    const ch = await ctx.clients.confirmChannel();
    const dx = await delayedExchange(ch, 'fanout');
    const q = await boundQueue(ch, dx, '');
    const x = await plainExchange(ch, 'direct', { 'alternate-exchange': dx });
    assert.deepEqual(await publishAll(ch, x, 'nowhere', [['via-ae', delayed(300)]]), []);
    await sleep(100);
    assert.equal((await ch.checkQueue(q)).messageCount, 0, 'held');
    const [m] = await collect(ch, q, 1, { noAck: true });
    assert.deepEqual([m.content.toString(), m.fields.exchange], ['via-ae', dx]);
  });

  it("uses a delayed exchange's alternate exchange only at release time", opts, async () => {
    // The plugin routes a held message to the alternate exchange at once as well
    // (rabbitmq-delayed-message-exchange#36); Wharf only when the release routes nowhere.
    const ch = await ctx.clients.confirmChannel();
    const ae = await plainExchange(ch, 'fanout');
    const aeQueue = await boundQueue(ch, ae, '');
    const dx = await delayedExchange(ch, 'direct', { 'alternate-exchange': ae });
    const q = await boundQueue(ch, dx, 'bound');
    await publishAll(ch, dx, 'bound', [['bound', delayed(200)]]);
    await publishAll(ch, dx, 'unbound', [['unbound', delayed(200)]]);
    assert.deepEqual(bodies(await collect(ch, q, 1, { noAck: true })), ['bound']);
    await waitForReady(ch, aeQueue, 1);
    assert.deepEqual(await drainBodies(ch, aeQueue), ['unbound']);
  });

  it('routes a held message by its BCC keys at release, without the BCC header', opts, async () => {
    const ch = await ctx.clients.confirmChannel();
    const dx = await delayedExchange(ch);
    const to = await boundQueue(ch, dx, 'to');
    const hidden = await boundQueue(ch, dx, 'hidden');
    const source = await plainExchange(ch, 'fanout');
    await ch.bindExchange(dx, source, '');
    await publishAll(ch, dx, 'to', [['direct', delayed(200, { BCC: ['hidden'] })]]);
    await publishAll(ch, source, 'to', [['via-e2e', delayed(250, { BCC: ['hidden'] })]]);
    const got: ConsumeMessage[] = [];
    for (const q of [to, hidden]) got.push(...(await collect(ch, q, 2, { noAck: true })));
    assert.deepEqual(bodies(got), ['direct', 'via-e2e', 'direct', 'via-e2e']);
    for (const m of got) assert.deepEqual(m.properties.headers, { 'x-delay': m.content.toString() === 'direct' ? -200 : -250 });
  });

  it('holds nothing of a rolled-back transaction; a committed one is held durably', opts, async () => {
    const ch = await ctx.clients.channel();
    const dx = uniqueName('dx-tx');
    const q = uniqueName('dq-tx');
    await ch.assertExchange(dx, DELAYED, { durable: true, arguments: { 'x-delayed-type': 'direct' } });
    await ch.assertQueue(q, { durable: true });
    await ch.bindQueue(q, dx, 'k');
    await tx.select(ch);
    ch.publish(dx, 'k', Buffer.from('rolled-back'), { persistent: true, ...delayed(200) });
    await tx.rollback(ch);
    ch.publish(dx, 'k', Buffer.from('committed'), { persistent: true, ...delayed(800) });
    // commit-ok comes once the held message is on disk, so a restart keeps it.
    await tx.commit(ch);
    await ctx.restart();
    ctx.clients.deleteLater(q);
    ctx.clients.deleteExchangeLater(dx);
    const after = await ctx.clients.channel();
    assert.deepEqual(bodies(await collect(after, q, 1, { noAck: true })), ['committed']);
    await sleep(SETTLE_MS);
    assert.equal((await after.checkQueue(q)).messageCount, 0);
  });
});
