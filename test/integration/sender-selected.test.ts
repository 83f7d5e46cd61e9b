// Sender-selected distribution (https://www.rabbitmq.com/docs/sender-selected):
// the CC and BCC headers add routing keys to one publish, on direct, topic and
// the default exchange; BCC never reaches a consumer; bad header types are 406;
// dead-lettering routes by the CC keys again. Through amqplib and
// @cloudamqp/amqp-client; every expectation was checked against RabbitMQ 3.10.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AMQPClient } from '@cloudamqp/amqp-client';
import type { Channel, Message } from 'amqplib';
import { SETTLE_MS, TEST_OPTS, sleep, uniqueName } from '../helpers/async.js';
import { skipUnderReference } from '../helpers/broker.js';
import { assertReply, drainBodies, serverClose, tx, useBroker, waitForReady, type BrokerScope } from '../helpers/amqplib.js';
import { xDeaths } from '../helpers/reliable.js';

/** An exchange removed after the test, with an exclusive queue bound by each key (by key). */
async function fanIn(ctx: BrokerScope, ch: Channel, type: string, keys: string[]): Promise<{ x: string; q: Record<string, string> }> {
  const x = ctx.clients.deleteExchangeLater(uniqueName('ss-x'));
  await ch.assertExchange(x, type, { durable: false });
  const q: Record<string, string> = {};
  for (const k of keys) {
    q[k] = (await ch.assertQueue('', { exclusive: true })).queue;
    await ch.bindQueue(q[k], x, k);
  }
  return { x, q };
}

/** Every ready message of `queue` (no ack). */
async function takeAll(ch: Channel, queue: string): Promise<Message[]> {
  const out: Message[] = [];
  for (let m = await ch.get(queue, { noAck: true }); m; m = await ch.get(queue, { noAck: true })) out.push(m);
  return out;
}

describe('sender-selected distribution (CC and BCC)', () => {
  const ctx = useBroker();

  it('routes by the CC and BCC keys too on a direct exchange, each queue once, and removes BCC', TEST_OPTS, async () => {
    const ch = await ctx.clients.confirmChannel();
    const { x, q } = await fanIn(ctx, ch, 'direct', ['a', 'b', 'c', 'd']);
    ch.publish(x, 'a', Buffer.from('m'), { headers: { CC: ['b', 'a', 'b'], BCC: ['c'], other: 1 } });
    await ch.waitForConfirms();
    for (const k of ['a', 'b', 'c']) {
      const got = await takeAll(ch, q[k]);
      assert.equal(got.length, 1, `queue bound by '${k}' gets one copy`);
      const [m] = got;
      assert.deepEqual([m.fields.exchange, m.fields.routingKey], [x, 'a'], 'delivered with the routing key it was published with');
      assert.deepEqual(m.properties.headers, { CC: ['b', 'a', 'b'], other: 1 }, 'CC is kept, BCC is removed');
    }
    assert.deepEqual(await drainBodies(ch, q['d']), []);
  });

  it('matches CC keys against topic patterns and routes the default exchange by them', TEST_OPTS, async () => {
    const ch = await ctx.clients.confirmChannel();
    const { x, q } = await fanIn(ctx, ch, 'topic', ['orders.*', 'audit.#']);
    ch.publish(x, 'nothing.here', Buffer.from('topic'), { headers: { CC: ['orders.eu'], BCC: ['audit.x.y'] } });
    const { queue: byCc } = await ch.assertQueue('', { exclusive: true });
    const { queue: byBcc } = await ch.assertQueue('', { exclusive: true });
    ch.publish('', uniqueName('ss-missing'), Buffer.from('default'), { headers: { CC: [byCc], BCC: [byBcc] } });
    await ch.waitForConfirms();
    assert.deepEqual(await drainBodies(ch, q['orders.*']), ['topic']);
    assert.deepEqual(await drainBodies(ch, q['audit.#']), ['topic']);
    assert.deepEqual(await drainBodies(ch, byCc), ['default']);
    assert.deepEqual(await drainBodies(ch, byBcc), ['default']);
  });

  it('changes nothing for fanout and headers exchanges except removing BCC', TEST_OPTS, async () => {
    const ch = await ctx.clients.confirmChannel();
    const fanout = await fanIn(ctx, ch, 'fanout', ['']);
    const headers = ctx.clients.deleteExchangeLater(uniqueName('ss-h'));
    await ch.assertExchange(headers, 'headers', { durable: false });
    const { queue: hq } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(hq, headers, '', { 'x-match': 'all', kind: 'k' });
    ch.publish(fanout.x, 'k', Buffer.from('fanout'), { headers: { CC: ['a', 'b'] } });
    ch.publish(headers, '', Buffer.from('headers'), { headers: { kind: 'k', BCC: ['z'] } });
    await ch.waitForConfirms();
    assert.deepEqual(await drainBodies(ch, fanout.q['']), ['fanout']);
    const [m] = await takeAll(ch, hq);
    assert.deepEqual(m.properties.headers, { kind: 'k' });
  });

  it('uses only the string elements of the arrays', TEST_OPTS, async () => {
    const ch = await ctx.clients.confirmChannel();
    const { x, q } = await fanIn(ctx, ch, 'direct', ['a', 'b', 'c', '5', 'true']);
    ch.publish(x, 'a', Buffer.from('mixed'), { headers: { CC: ['b', 5, Buffer.from('c'), true], BCC: [] } });
    await ch.waitForConfirms();
    assert.deepEqual(await drainBodies(ch, q['a']), ['mixed']);
    assert.deepEqual(await drainBodies(ch, q['b']), ['mixed']);
    for (const k of ['c', '5', 'true']) assert.deepEqual(await drainBodies(ch, q[k]), [], `'${k}' is not a string element`);
  });

  it('counts a publish routed only by CC as routed for mandatory; a return carries no BCC', TEST_OPTS, async () => {
    const ch = await ctx.clients.confirmChannel();
    const { x, q } = await fanIn(ctx, ch, 'direct', ['b']);
    const returned: Message[] = [];
    ch.on('return', (m: Message) => returned.push(m));
    ch.publish(x, 'nowhere', Buffer.from('by-cc'), { mandatory: true, headers: { CC: ['b'] } });
    ch.publish(x, 'nowhere', Buffer.from('by-bcc'), { mandatory: true, headers: { BCC: ['b'] } });
    ch.publish(x, 'nowhere', Buffer.from('unroutable'), { mandatory: true, headers: { CC: ['y'], BCC: ['z'], h: 1 } });
    await ch.waitForConfirms(); // each basic.return comes before its confirm
    assert.deepEqual(await drainBodies(ch, q['b']), ['by-cc', 'by-bcc']);
    assert.deepEqual(returned.map((m) => [m.content.toString(), m.fields.routingKey, m.properties.headers]), [
      ['unroutable', 'nowhere', { CC: ['y'], h: 1 }],
    ]);
  });

  it('closes the channel with 406 when CC or BCC is not an array', TEST_OPTS, async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ CC: 'b' }, '"CC",longstr'],
      [{ BCC: 5 }, '"BCC",byte'],
      [{ CC: { a: 1 } }, '"CC",table'],
      [{ CC: ['ok'], BCC: null }, '"BCC",void'],
    ];
    const { queue } = await (await ctx.clients.channel()).assertQueue(uniqueName('ss-bad'), { durable: false, autoDelete: true });
    ctx.clients.deleteLater(queue);
    for (const [headers, detail] of cases) {
      const ch = await ctx.clients.channel();
      ch.sendToQueue(queue, Buffer.from('bad'), { headers });
      assertReply(await serverClose(ch), 406, `PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,${detail}}`);
    }
    const ch = await ctx.clients.channel();
    assert.equal((await ch.checkQueue(queue)).messageCount, 0, 'nothing was enqueued');
  });

  it('refuses a bad CC inside a transaction at the publish, not at the commit', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    await tx.select(ch);
    const closed = serverClose(ch);
    ch.sendToQueue(uniqueName('ss-tx'), Buffer.from('bad'), { headers: { CC: 'x' } });
    assertReply(await closed, 406, 'PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"CC",longstr}');
  });

  it('dead-letters by the routing key and CC keys; x-dead-letter-routing-key drops the CC header', TEST_OPTS, async () => {
    const ch = await ctx.clients.confirmChannel();
    const { x: dlx, q } = await fanIn(ctx, ch, 'direct', ['src', 'b', 'dlrk']);
    const source = ctx.clients.deleteExchangeLater(uniqueName('ss-src'));
    await ch.assertExchange(source, 'direct', { durable: false });
    const { queue: plain } = await ch.assertQueue('', { exclusive: true, arguments: { 'x-dead-letter-exchange': dlx, 'x-message-ttl': 0 } });
    const { queue: withKey } = await ch.assertQueue('', {
      exclusive: true,
      arguments: { 'x-dead-letter-exchange': dlx, 'x-dead-letter-routing-key': 'dlrk', 'x-message-ttl': 0 },
    });
    await ch.bindQueue(plain, source, 'src');
    await ch.bindQueue(withKey, source, 'keyed');
    ch.publish(source, 'src', Buffer.from('plain'), { headers: { CC: ['b'] } });
    ch.publish(source, 'keyed', Buffer.from('keyed'), { headers: { CC: ['b'] } });
    await ch.waitForConfirms();
    await waitForReady(ch, q['dlrk'], 1);
    await waitForReady(ch, q['src'], 1);
    for (const k of ['src', 'b']) {
      const [m] = await takeAll(ch, q[k]);
      assert.equal(m.content.toString(), 'plain');
      assert.equal(m.properties.headers?.['CC']?.[0], 'b');
      assert.deepEqual(xDeaths(m)[0].routingKeys, ['src', 'b']);
    }
    const [keyed] = await takeAll(ch, q['dlrk']);
    assert.deepEqual([keyed.content.toString(), keyed.fields.routingKey], ['keyed', 'dlrk']);
    assert.equal(keyed.properties.headers?.['CC'], undefined, 'the CC header is removed');
    assert.deepEqual(xDeaths(keyed)[0].routingKeys, ['keyed', 'b'], 'x-death keeps the keys it was published with');
    await sleep(SETTLE_MS);
    assert.deepEqual(await drainBodies(ch, q['b']), [], 'only the dead-letter routing key is used');
  });

  it('does not route a dead-lettered message by its BCC keys (deliberate difference)', { ...TEST_OPTS, skip: skipUnderReference }, async () => {
    // RabbitMQ keeps BCC keys with the message and routes its dead-lettered copy by them
    // too; Wharf stores the message without its BCC header, as delivered
    // (docs/rabbitmq-differences.md).
    const ch = await ctx.clients.confirmChannel();
    const { x: dlx, q } = await fanIn(ctx, ch, 'direct', ['a', 'c']);
    const { queue } = await ch.assertQueue('', { exclusive: true, arguments: { 'x-dead-letter-exchange': dlx, 'x-message-ttl': 0 } });
    const source = ctx.clients.deleteExchangeLater(uniqueName('ss-src'));
    await ch.assertExchange(source, 'direct', { durable: false });
    await ch.bindQueue(queue, source, 'a');
    ch.publish(source, 'a', Buffer.from('dl'), { headers: { BCC: ['c'] } });
    await ch.waitForConfirms();
    await waitForReady(ch, q['a'], 1);
    await sleep(SETTLE_MS);
    assert.deepEqual(await drainBodies(ch, q['c']), []);
  });

  it('works the same through @cloudamqp/amqp-client', TEST_OPTS, async () => {
    const conn = await new AMQPClient(ctx.broker.url).connect();
    try {
      const ch = await conn.channel();
      const x = uniqueName('ss-client');
      await ch.exchangeDeclare(x, 'direct', { durable: false, autoDelete: false });
      const names: string[] = [];
      for (const k of ['to', 'cc', 'bcc']) {
        const { name } = await ch.queueDeclare('', { exclusive: true });
        await ch.queueBind(name, x, k);
        names.push(name);
      }
      await ch.confirmSelect();
      await ch.basicPublish(x, 'to', 'client', { headers: { CC: ['cc'], BCC: ['bcc'] } });
      for (const name of names) {
        const m = await ch.basicGet(name, { noAck: true });
        assert.equal(m?.bodyToString(), 'client');
        assert.deepEqual(m?.properties.headers, { CC: ['cc'] });
      }
      await ch.exchangeDelete(x);
    } finally {
      await conn.close();
    }
  });
});
