// Subscription filters on AMQP bindings (`x-filter-policy`, the SNS filter
// language; docs/filters.md) through amqplib: on fanout, topic and headers
// exchanges, over headers and over JSON bodies, refused policies (406 with SNS's
// reason, the channel only), unbinding, and a restart keeping filtered bindings.
// Wharf's own feature: RabbitMQ ignores the argument, so not run against it.

import type { Channel, ConfirmChannel } from 'amqplib';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TEST_OPTS, uniqueName } from '../helpers/async.js';
import { assertRejectsWith, drainBodies, serverClose, useBroker } from '../helpers/amqplib.js';
import { skipUnderReference } from '../helpers/broker.js';

async function queue(ch: Channel, durable = false): Promise<string> {
  const q = await ch.assertQueue(uniqueName('fq'), { durable, exclusive: !durable });
  return q.queue;
}

async function publish(ch: ConfirmChannel, exchange: string, key: string, body: string | object, headers?: Record<string, unknown>): Promise<void> {
  const content = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  ch.publish(exchange, key, content, { headers });
  await ch.waitForConfirms();
}

describe('x-filter-policy on bindings', { skip: skipUnderReference }, () => {
  const ctx = useBroker();

  it('fanout: a filtered binding gets only what its policy matches; unfiltered ones get everything', TEST_OPTS, async () => {
    const ch = await ctx.clients.confirmChannel();
    const ex = ctx.clients.deleteExchangeLater(uniqueName('fx'));
    await ch.assertExchange(ex, 'fanout', { durable: false });
    const [big, vip, all] = [await queue(ch), await queue(ch), await queue(ch)];
    await ch.bindQueue(big, ex, '', { 'x-filter-policy': JSON.stringify({ price: [{ numeric: ['>', 500] }] }) });
    await ch.bindQueue(vip, ex, '', { 'x-filter-policy': JSON.stringify({ tier: ['gold', 'platinum'], region: [{ prefix: 'eu-' }] }) });
    await ch.bindQueue(all, ex, '');
    await publish(ch, ex, '', 'cheap', { price: 100, tier: 'gold', region: 'us-east' });
    await publish(ch, ex, '', 'pricey', { price: 750 });
    await publish(ch, ex, '', 'vip', { price: 20, tier: 'platinum', region: 'eu-west' });
    await publish(ch, ex, '', 'bare');
    assert.deepEqual(await drainBodies(ch, big), ['pricey']);
    assert.deepEqual(await drainBodies(ch, vip), ['vip']);
    assert.deepEqual(await drainBodies(ch, all), ['cheap', 'pricey', 'vip', 'bare']);
  });

  it("topic: both the routing key pattern and the policy must match; the same queue bound twice gets a message once", TEST_OPTS, async () => {
    const ch = await ctx.clients.confirmChannel();
    const ex = ctx.clients.deleteExchangeLater(uniqueName('tx'));
    await ch.assertExchange(ex, 'topic', { durable: false });
    const q = await queue(ch);
    await ch.bindQueue(q, ex, 'order.*', { 'x-filter-policy': JSON.stringify({ status: [{ 'anything-but': ['test'] }] }) });
    await ch.bindQueue(q, ex, '#.eu', { 'x-filter-policy': JSON.stringify({ status: [{ exists: true }] }) });
    await publish(ch, ex, 'order.eu', 'both', { status: 'paid' });
    await publish(ch, ex, 'order.us', 'one', { status: 'paid' });
    await publish(ch, ex, 'order.us', 'test', { status: 'test' });
    await publish(ch, ex, 'refund.us', 'no-key', { status: 'paid' });
    assert.deepEqual(await drainBodies(ch, q), ['both', 'one']);
  });

  it('MessageBody scope filters on a JSON body, nested keys included; a non-JSON body matches nothing', TEST_OPTS, async () => {
    const ch = await ctx.clients.confirmChannel();
    const ex = ctx.clients.deleteExchangeLater(uniqueName('bx'));
    await ch.assertExchange(ex, 'direct', { durable: false });
    const q = await queue(ch);
    await ch.bindQueue(q, ex, 'orders', {
      'x-filter-policy': JSON.stringify({ order: { total: [{ numeric: ['>=', 500] }], items: { sku: ['gift-card'] } } }),
      'x-filter-policy-scope': 'MessageBody',
    });
    await publish(ch, ex, 'orders', { order: { total: 600, items: [{ sku: 'pen' }, { sku: 'gift-card' }] } });
    await publish(ch, ex, 'orders', { order: { total: 600, items: [{ sku: 'pen' }] } });
    await publish(ch, ex, 'orders', { order: { total: 100, items: [{ sku: 'gift-card' }] } });
    await publish(ch, ex, 'orders', 'not json');
    const got = (await drainBodies(ch, q)).map((b) => JSON.parse(b) as { order: { total: number } });
    assert.deepEqual(got.map((g) => g.order.total), [600]);
  });

  it('headers exchange: x-match and the policy together', TEST_OPTS, async () => {
    const ch = await ctx.clients.confirmChannel();
    const ex = ctx.clients.deleteExchangeLater(uniqueName('hx'));
    await ch.assertExchange(ex, 'headers', { durable: false });
    const q = await queue(ch);
    await ch.bindQueue(q, ex, '', { 'x-match': 'all', kind: 'event', 'x-filter-policy': JSON.stringify({ ip: [{ cidr: '10.0.0.0/8' }] }) });
    await publish(ch, ex, '', 'inside', { kind: 'event', ip: '10.1.2.3' });
    await publish(ch, ex, '', 'outside', { kind: 'event', ip: '192.168.0.1' });
    await publish(ch, ex, '', 'other-kind', { kind: 'metric', ip: '10.1.2.3' });
    assert.deepEqual(await drainBodies(ch, q), ['inside']);
  });

  it('unbinding a filtered binding stops it; binding it twice is one binding', TEST_OPTS, async () => {
    const ch = await ctx.clients.confirmChannel();
    const ex = ctx.clients.deleteExchangeLater(uniqueName('ux'));
    await ch.assertExchange(ex, 'fanout', { durable: false });
    const q = await queue(ch);
    const args = { 'x-filter-policy': JSON.stringify({ a: ['1'] }) };
    await ch.bindQueue(q, ex, '', args);
    await ch.bindQueue(q, ex, '', args);
    await publish(ch, ex, '', 'in', { a: '1' });
    await ch.unbindQueue(q, ex, '', args);
    await publish(ch, ex, '', 'after', { a: '1' });
    assert.deepEqual(await drainBodies(ch, q), ['in']);
  });

  it("refuses an invalid policy with 406 and SNS's reason, closing only the channel", TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const ex = ctx.clients.deleteExchangeLater(uniqueName('ix'));
    await ch.assertExchange(ex, 'fanout', { durable: false });
    const q = await queue(ch);
    const closed = serverClose(ch);
    await assertRejectsWith(
      ch.bindQueue(q, ex, '', { 'x-filter-policy': JSON.stringify({ price: [{ numeric: ['>', 5, '<', 1] }] }) }),
      406,
      "PRECONDITION_FAILED - invalid arg 'x-filter-policy': FilterPolicy: Bottom must be less than top",
    );
    await closed;
    const again = await ctx.clients.channel(conn);
    await again.checkExchange(ex);
  });

  it('filtered bindings of durable queues survive a restart', TEST_OPTS, async () => {
    let ch = await ctx.clients.confirmChannel();
    const ex = uniqueName('dx');
    await ch.assertExchange(ex, 'fanout', { durable: true });
    const q = await queue(ch, true);
    await ch.bindQueue(q, ex, '', { 'x-filter-policy': JSON.stringify({ keep: ['yes'] }) });
    await ctx.restart();
    ch = await ctx.clients.confirmChannel();
    await publish(ch, ex, '', 'kept', { keep: 'yes' });
    await publish(ch, ex, '', 'dropped', { keep: 'no' });
    assert.deepEqual(await drainBodies(ch, q), ['kept']);
    await ch.deleteQueue(q);
    await ch.deleteExchange(ex);
  });
});
