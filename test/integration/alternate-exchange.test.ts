// Alternate exchanges (RabbitMQ's AE, https://www.rabbitmq.com/docs/ae): the
// `alternate-exchange` argument, chains and loops, exchange-to-exchange
// bindings, the declare-time checks and redeclare equivalence, dead-lettering
// through an exchange with an AE, mandatory and confirms. Through amqplib and
// @cloudamqp/amqp-client; every expectation was checked against RabbitMQ 3.10.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AMQPClient, type AMQPMessage } from '@cloudamqp/amqp-client';
import type { ConfirmChannel, Message } from 'amqplib';
import { TEST_OPTS, WAIT_MS, uniqueName, withTimeout } from '../helpers/async.js';
import { skipUnderReference } from '../helpers/broker.js';
import { assertRejectsWith, drainBodies, useBroker, waitForReady, type BrokerScope } from '../helpers/amqplib.js';

const AE = 'alternate-exchange';

/** Publishes with mandatory on a confirm channel; resolves with how each was confirmed and the bodies returned meanwhile. */
async function publishMandatory(
  ch: ConfirmChannel,
  exchange: string,
  routingKey: string,
  body: string,
  options: Record<string, unknown> = {},
): Promise<{ acked: boolean; returned: Message[] }> {
  const returned: Message[] = [];
  const onReturn = (m: Message): void => {
    returned.push(m);
  };
  ch.on('return', onReturn);
  try {
    // RabbitMQ sends a basic.return before the confirm of the same publish.
    const acked = await withTimeout(
      new Promise<boolean>((resolve) => ch.publish(exchange, routingKey, Buffer.from(body), { mandatory: true, ...options }, (err) => resolve(err == null))),
      WAIT_MS,
      'the publish confirm',
    );
    return { acked, returned };
  } finally {
    ch.removeListener('return', onReturn);
  }
}

/** Declares a (non-durable) exchange removed after the test. */
async function exchange(ctx: BrokerScope, ch: ConfirmChannel, type: string, args: Record<string, unknown> = {}, internal = false): Promise<string> {
  const name = ctx.clients.deleteExchangeLater(uniqueName('ae-x'));
  await ch.assertExchange(name, type, { durable: false, internal, arguments: args });
  return name;
}

/** An exclusive queue bound to `source` by `key`. */
async function boundQueue(ch: ConfirmChannel, source: string, key = ''): Promise<string> {
  const { queue } = await ch.assertQueue('', { exclusive: true });
  await ch.bindQueue(queue, source, key);
  return queue;
}

describe('alternate exchanges', () => {
  const ctx = useBroker();

  it('routes what the exchange cannot route to its alternate exchange: no basic.return, the confirm is an ack', TEST_OPTS, async () => {
    const ch = await ctx.clients.confirmChannel();
    const ae = await exchange(ctx, ch, 'fanout');
    const aeQueue = await boundQueue(ch, ae);
    const x = await exchange(ctx, ch, 'direct', { [AE]: ae });
    const routedQueue = await boundQueue(ch, x, 'known');
    const unroutable = await publishMandatory(ch, x, 'unknown', 'to-ae', { headers: { h: 'v' } });
    assert.deepEqual(unroutable, { acked: true, returned: [] });
    const routed = await publishMandatory(ch, x, 'known', 'routed');
    assert.deepEqual(routed, { acked: true, returned: [] });
    const m = await ch.get(aeQueue, { noAck: true });
    assert.ok(m, 'the alternate exchange got the message');
    assert.equal(m.content.toString(), 'to-ae');
    // Delivered naming the exchange it was published to and its routing key, headers kept.
    assert.deepEqual([m.fields.exchange, m.fields.routingKey, m.properties.headers?.['h']], [x, 'unknown', 'v']);
    assert.deepEqual(await drainBodies(ch, aeQueue), [], 'a routed message does not go to the alternate exchange');
    assert.deepEqual(await drainBodies(ch, routedQueue), ['routed']);
  });

  it('follows a chain of alternate exchanges', TEST_OPTS, async () => {
    const ch = await ctx.clients.confirmChannel();
    const last = await exchange(ctx, ch, 'fanout');
    const q = await boundQueue(ch, last);
    const middle = await exchange(ctx, ch, 'topic', { [AE]: last });
    await boundQueue(ch, middle, 'other.*');
    const first = await exchange(ctx, ch, 'direct', { [AE]: middle });
    assert.deepEqual(await publishMandatory(ch, first, 'k', 'chained'), { acked: true, returned: [] });
    assert.deepEqual(await drainBodies(ch, q), ['chained']);
  });

  it('returns the message when the alternate exchanges loop or are missing', TEST_OPTS, async () => {
    const ch = await ctx.clients.confirmChannel();
    const a = ctx.clients.deleteExchangeLater(uniqueName('ae-loop'));
    const b = ctx.clients.deleteExchangeLater(uniqueName('ae-loop'));
    await ch.assertExchange(a, 'direct', { durable: false, arguments: { [AE]: b } });
    await ch.assertExchange(b, 'direct', { durable: false, arguments: { [AE]: a } });
    const self = ctx.clients.deleteExchangeLater(uniqueName('ae-self'));
    await ch.assertExchange(self, 'direct', { durable: false, arguments: { [AE]: self } });
    const missing = await exchange(ctx, ch, 'direct', { [AE]: uniqueName('ae-no-such-exchange') });
    for (const x of [a, self, missing]) {
      const out = await publishMandatory(ch, x, 'k', `via-${x}`);
      assert.equal(out.acked, true);
      assert.deepEqual(
        out.returned.map((m) => [m.content.toString(), (m.fields as unknown as { replyCode: number }).replyCode]),
        [[`via-${x}`, 312]],
      );
    }
  });

  it('uses the alternate exchange of whichever exchange on the way matches nothing', TEST_OPTS, async () => {
    const ch = await ctx.clients.confirmChannel();
    const ae = await exchange(ctx, ch, 'fanout');
    const aeQueue = await boundQueue(ch, ae);
    // An exchange-to-exchange binding is a match: the source's alternate exchange is not
    // used even though the destination routes the message nowhere (RabbitMQ 3.10).
    const emptyDest = await exchange(ctx, ch, 'direct');
    const source = await exchange(ctx, ch, 'direct', { [AE]: ae });
    await ch.bindExchange(emptyDest, source, 'k');
    const out = await publishMandatory(ch, source, 'k', 'to-empty-exchange');
    assert.deepEqual(out.returned.map((m) => m.content.toString()), ['to-empty-exchange']);
    // The destination's own alternate exchange is used.
    const destWithAe = await exchange(ctx, ch, 'direct', { [AE]: ae });
    const plain = await exchange(ctx, ch, 'direct');
    await ch.bindExchange(destWithAe, plain, 'k');
    assert.deepEqual(await publishMandatory(ch, plain, 'k', 'via-destination-ae'), { acked: true, returned: [] });
    assert.deepEqual(await drainBodies(ch, aeQueue), ['via-destination-ae']);
  });

  it('delivers once when the alternate exchange is also reached through a binding', TEST_OPTS, async () => {
    const ch = await ctx.clients.confirmChannel();
    const ae = await exchange(ctx, ch, 'fanout');
    const q = await boundQueue(ch, ae);
    const empty = await exchange(ctx, ch, 'direct', { [AE]: ae });
    const x = await exchange(ctx, ch, 'fanout');
    await ch.bindExchange(ae, x, '');
    await ch.bindExchange(empty, x, '');
    await publishMandatory(ch, x, 'k', 'once');
    assert.deepEqual(await drainBodies(ch, q), ['once']);
  });

  it('may be internal; applies to headers and topic exchanges; the default exchange as AE routes nothing', TEST_OPTS, async () => {
    const ch = await ctx.clients.confirmChannel();
    const internal = await exchange(ctx, ch, 'fanout', {}, true);
    const q = await boundQueue(ch, internal);
    const headers = await exchange(ctx, ch, 'headers', { [AE]: internal });
    await ch.bindQueue(q, headers, '', { 'x-match': 'all', want: 'this' });
    const topic = await exchange(ctx, ch, 'topic', { [AE]: internal });
    await publishMandatory(ch, headers, '', 'headers-unmatched', { headers: { want: 'that' } });
    await publishMandatory(ch, topic, 'a.b', 'topic-unmatched');
    assert.deepEqual(await drainBodies(ch, q), ['headers-unmatched', 'topic-unmatched']);
    const { queue } = await ch.assertQueue('', { exclusive: true });
    const toDefault = await exchange(ctx, ch, 'direct', { [AE]: '' });
    const out = await publishMandatory(ch, toDefault, queue, 'default-as-ae');
    assert.deepEqual(out.returned.map((m) => m.content.toString()), ['default-as-ae']);
    assert.equal((await ch.checkQueue(queue)).messageCount, 0);
  });

  it('routes a dead-lettered message that its dead-letter exchange cannot route to that exchange\'s AE', TEST_OPTS, async () => {
    const ch = await ctx.clients.confirmChannel();
    const ae = await exchange(ctx, ch, 'fanout');
    const aeQueue = await boundQueue(ch, ae);
    const dlx = await exchange(ctx, ch, 'direct', { [AE]: ae });
    const { queue } = await ch.assertQueue('', { exclusive: true, arguments: { 'x-dead-letter-exchange': dlx } });
    ch.sendToQueue(queue, Buffer.from('dead'));
    await ch.waitForConfirms();
    const m = await ch.get(queue, { noAck: false });
    assert.ok(m);
    ch.reject(m, false);
    await waitForReady(ch, aeQueue, 1);
    const dead = await ch.get(aeQueue, { noAck: true });
    assert.ok(dead);
    assert.deepEqual([dead.content.toString(), dead.fields.exchange, dead.fields.routingKey], ['dead', dlx, queue]);
    const deaths = dead.properties.headers?.['x-death'] as { reason: string; queue: string }[];
    assert.deepEqual(deaths.map((d) => [d.reason, d.queue]), [['rejected', queue]]);
  });

  it('refuses an alternate-exchange argument that is not a string with 406', TEST_OPTS, async () => {
    const cases: [unknown, string][] = [
      [5, 'byte'],
      [true, 'bool'],
      [Buffer.from('bytes'), 'binary'],
    ];
    for (const [value, type] of cases) {
      const ch = await ctx.clients.channel();
      const name = uniqueName('ae-bad');
      await assertRejectsWith(
        ch.assertExchange(name, 'direct', { durable: false, arguments: { [AE]: value } }),
        406,
        `PRECONDITION_FAILED - invalid type '${type}' for arg '${AE}' in exchange '${name}' in vhost '/'`,
      );
    }
    const ch = await ctx.clients.channel();
    const missing = uniqueName('ae-bad');
    await assert.rejects(ch.checkExchange(missing), /404/, 'nothing was created');
  });

  it('compares the alternate-exchange argument on a redeclare, and only that argument', TEST_OPTS, async () => {
    let ch = await ctx.clients.confirmChannel();
    const x = await exchange(ctx, ch, 'direct', { [AE]: 'first' });
    const plain = await exchange(ctx, ch, 'direct');
    await ch.assertExchange(x, 'direct', { durable: false, arguments: { [AE]: 'first', 'x-other': 1 } });
    const where = (name: string): string => `for exchange '${name}' in vhost '/'`;
    const cases: [string, Record<string, unknown>, string][] = [
      [x, { [AE]: 'second' }, `received 'second' but current is 'first'`],
      [x, {}, `received none but current is the value 'first' of type 'longstr'`],
      [x, { [AE]: 7 }, `received '7' but current is 'first'`],
      [plain, { [AE]: 'first' }, `received the value 'first' of type 'longstr' but current is none`],
      ['amq.direct', { [AE]: 'first' }, `received the value 'first' of type 'longstr' but current is none`],
    ];
    for (const [name, args, text] of cases) {
      ch = await ctx.clients.confirmChannel();
      await assertRejectsWith(
        ch.assertExchange(name, 'direct', { durable: name === 'amq.direct', arguments: args }),
        406,
        `PRECONDITION_FAILED - inequivalent arg '${AE}' ${where(name)}: ${text}`,
      );
    }
  });

  it('keeps the alternate exchange of a durable exchange across a restart', { ...TEST_OPTS, skip: skipUnderReference }, async () => {
    let ch = await ctx.clients.confirmChannel();
    const ae = uniqueName('ae-durable');
    const x = uniqueName('ae-durable');
    const q = uniqueName('ae-durable-q');
    await ch.assertExchange(ae, 'fanout', { durable: true });
    await ch.assertExchange(x, 'direct', { durable: true, arguments: { [AE]: ae } });
    await ch.assertQueue(q, { durable: true });
    await ch.bindQueue(q, ae, '');
    await ctx.restart();
    ctx.clients.deleteLater(q);
    ctx.clients.deleteExchangeLater(x);
    ctx.clients.deleteExchangeLater(ae);
    ch = await ctx.clients.confirmChannel();
    assert.deepEqual(await publishMandatory(ch, x, 'k', 'after-restart'), { acked: true, returned: [] });
    assert.deepEqual(await drainBodies(ch, q), ['after-restart']);
    await assertRejectsWith(ch.assertExchange(x, 'direct', { durable: true }), 406, /inequivalent arg 'alternate-exchange'/);
  });

  it('works the same through @cloudamqp/amqp-client', TEST_OPTS, async () => {
    const conn = await new AMQPClient(ctx.broker.url).connect();
    try {
      const ch = await conn.channel();
      const ae = uniqueName('ae-client');
      const x = uniqueName('ae-client');
      await ch.exchangeDeclare(ae, 'fanout', { durable: false, autoDelete: false });
      await ch.exchangeDeclare(x, 'topic', { durable: false, autoDelete: false }, { [AE]: ae });
      const { name: q } = await ch.queueDeclare('', { exclusive: true });
      await ch.queueBind(q, ae, '');
      await ch.confirmSelect();
      const returned: AMQPMessage[] = [];
      ch.onReturn = (m) => returned.push(m);
      // Resolves with the confirm, which follows any basic.return.
      await ch.basicPublish(x, 'no.match', 'via-client', {}, true);
      const m = await ch.basicGet(q, { noAck: true });
      assert.equal(m?.bodyToString(), 'via-client');
      assert.equal(m?.exchange, x);
      assert.deepEqual(returned, []);
      await ch.exchangeDelete(x);
      await ch.exchangeDelete(ae);
    } finally {
      await conn.close();
    }
  });
});
