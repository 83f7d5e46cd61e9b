// Exchanges, queues and bindings through amqplib: declare/delete semantics,
// the errors and exact reply texts RabbitMQ sends when a declaration is
// refused (checked against RabbitMQ 3.10), and the counts in the -ok replies.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TEST_OPTS, uniqueName, waitUntil } from '../helpers/async.js';
import { assertRejectsWith, sendAll, serverClose, useBroker, waitForReady } from '../helpers/amqplib.js';

const SERVER_NAMED = /^amq\.gen-[A-Za-z0-9_-]{22}$/;

describe('amqplib: exchanges', () => {
  const ctx = useBroker();

  it('declares direct, fanout, topic and headers exchanges; redeclaring equivalently is fine', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    for (const type of ['direct', 'fanout', 'topic', 'headers']) {
      const name = ctx.clients.deleteExchangeLater(uniqueName(`x-${type}`));
      const ok = await ch.assertExchange(name, type, { durable: false });
      assert.deepEqual(ok, { exchange: name });
      await ch.assertExchange(name, type, { durable: false });
      await ch.checkExchange(name);
    }
  });

  it('refuses a passive declare of a missing exchange with 404, closing the channel only', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const name = uniqueName('x-missing');
    const closed = serverClose(ch);
    await assertRejectsWith(ch.checkExchange(name), 404, `NOT_FOUND - no exchange '${name}' in vhost '/'`);
    await closed;
    const again = await ctx.clients.channel(conn);
    await again.checkExchange('amq.direct');
  });

  it('refuses a redeclare with a different type with 406 PRECONDITION_FAILED', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const name = ctx.clients.deleteExchangeLater(uniqueName('x'));
    await ch.assertExchange(name, 'direct', { durable: false });
    await assertRejectsWith(
      ch.assertExchange(name, 'fanout', { durable: false }),
      406,
      `PRECONDITION_FAILED - inequivalent arg 'type' for exchange '${name}' in vhost '/': received 'fanout' but current is 'direct'`,
    );
  });

  it('refuses a redeclare with different durability with 406 PRECONDITION_FAILED', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const name = ctx.clients.deleteExchangeLater(uniqueName('x'));
    await ch.assertExchange(name, 'topic', { durable: false });
    await assertRejectsWith(
      ch.assertExchange(name, 'topic', { durable: true }),
      406,
      `PRECONDITION_FAILED - inequivalent arg 'durable' for exchange '${name}' in vhost '/': received 'true' but current is 'false'`,
    );
  });

  it('closes the connection with 503 COMMAND_INVALID on an unknown exchange type', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const closed = serverClose(conn);
    await assert.rejects(ch.assertExchange(uniqueName('x'), 'no-such-type'));
    const err = await closed;
    assert.equal(err.code, 503);
    assert.match(err.message, /COMMAND_INVALID - unknown exchange type 'no-such-type'/);
  });

  it('deletes an exchange; if-unused refuses while it has bindings (406)', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    let ch = await ctx.clients.channel(conn);
    const name = ctx.clients.deleteExchangeLater(uniqueName('x'));
    await ch.assertExchange(name, 'direct', { durable: false });
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, name, 'k');
    await assertRejectsWith(
      ch.deleteExchange(name, { ifUnused: true }),
      406,
      `PRECONDITION_FAILED - exchange '${name}' in vhost '/' in use`,
    );
    ch = await ctx.clients.channel(conn);
    await ch.unbindQueue(queue, name, 'k');
    await ch.deleteExchange(name, { ifUnused: true });
    await assertRejectsWith(ch.checkExchange(name), 404, `NOT_FOUND - no exchange '${name}' in vhost '/'`);
  });

  it('deleting a missing exchange succeeds', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    await ch.deleteExchange(uniqueName('x-never'));
    await ch.checkExchange('amq.direct');
  });

  it('deleting an exchange removes its bindings but not the bound queues', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const name = uniqueName('x');
    await ch.assertExchange(name, 'fanout', { durable: false });
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, name, '');
    await ch.deleteExchange(name);
    await ch.assertExchange(name, 'fanout', { durable: false });
    ctx.clients.deleteExchangeLater(name);
    ch.publish(name, '', Buffer.from('to nobody'));
    ch.sendToQueue(queue, Buffer.from('direct'));
    await waitForReady(ch, queue, 1);
    const m = await ch.get(queue, { noAck: true });
    assert.ok(m);
    assert.equal(m.content.toString(), 'direct');
  });

  it('routes through exchange-to-exchange bindings, and stops after unbind', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const src = ctx.clients.deleteExchangeLater(uniqueName('x-src'));
    const dst = ctx.clients.deleteExchangeLater(uniqueName('x-dst'));
    await ch.assertExchange(src, 'topic', { durable: false });
    await ch.assertExchange(dst, 'fanout', { durable: false });
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, dst, '');
    await ch.bindExchange(dst, src, 'a.*');
    ch.publish(src, 'a.b', Buffer.from('routed'));
    ch.publish(src, 'b.a', Buffer.from('not routed'));
    await waitForReady(ch, queue, 1);
    await ch.unbindExchange(dst, src, 'a.*');
    ch.publish(src, 'a.c', Buffer.from('after unbind'));
    ch.publish(dst, '', Buffer.from('direct to dst'));
    await waitForReady(ch, queue, 2);
    const first = await ch.get(queue, { noAck: true });
    const second = await ch.get(queue, { noAck: true });
    assert.ok(first && second);
    assert.deepEqual([first.content.toString(), second.content.toString()], ['routed', 'direct to dst']);
    assert.equal(first.fields.exchange, src, 'delivery names the exchange it was published to');
    assert.equal(first.fields.routingKey, 'a.b');
  });

  it('refuses an exchange-to-exchange binding with a missing source (404)', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const dst = ctx.clients.deleteExchangeLater(uniqueName('x-dst'));
    await ch.assertExchange(dst, 'fanout', { durable: false });
    const missing = uniqueName('x-missing');
    await assertRejectsWith(ch.bindExchange(dst, missing, ''), 404, `NOT_FOUND - no exchange '${missing}' in vhost '/'`);
  });

  it('has the amq.* exchanges pre-declared; even a passive declare of the default exchange is refused', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    for (const name of ['amq.direct', 'amq.fanout', 'amq.topic', 'amq.headers', 'amq.match']) {
      await ch.checkExchange(name);
    }
    // Redeclaring a pre-declared exchange equivalently is allowed.
    await ch.assertExchange('amq.direct', 'direct', { durable: true });
    await ch.assertExchange('amq.topic', 'topic', { durable: true });
    // The default exchange exists (it routes), but RabbitMQ refuses even a passive declare of it.
    await assertRejectsWith(ch.checkExchange(''), 403, 'ACCESS_REFUSED - operation not permitted on the default exchange');
  });

  it('refuses to declare an exchange named amq.* (403 ACCESS_REFUSED)', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const name = `amq.${uniqueName('x')}`;
    await assertRejectsWith(
      ch.assertExchange(name, 'direct', { durable: false }),
      403,
      `ACCESS_REFUSED - exchange name '${name}' contains reserved prefix 'amq.*'`,
    );
  });

  it('refuses to bind a queue to the default exchange (403 ACCESS_REFUSED)', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await assertRejectsWith(
      ch.bindQueue(queue, '', 'k'),
      403,
      "ACCESS_REFUSED - operation not permitted on the default exchange",
    );
    const ch2 = await ctx.clients.channel(conn);
    await assertRejectsWith(
      ch2.unbindQueue(queue, '', queue),
      403,
      "ACCESS_REFUSED - operation not permitted on the default exchange",
    );
  });

  it('refuses to delete the default exchange or an amq.* exchange (403 ACCESS_REFUSED)', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    await assertRejectsWith(
      (await ctx.clients.channel(conn)).deleteExchange(''),
      403,
      'ACCESS_REFUSED - operation not permitted on the default exchange',
    );
    await assertRejectsWith(
      (await ctx.clients.channel(conn)).deleteExchange('amq.direct'),
      403,
      "ACCESS_REFUSED - deletion of system exchange 'amq.direct' in vhost '/' not allowed",
    );
  });

  it('refuses to publish to an internal exchange (403 ACCESS_REFUSED)', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const name = ctx.clients.deleteExchangeLater(uniqueName('x-internal'));
    await ch.assertExchange(name, 'fanout', { durable: false, internal: true });
    const closed = serverClose(ch);
    ch.publish(name, '', Buffer.from('nope'));
    const err = await closed;
    assert.equal(err.code, 403);
    assert.match(err.message, new RegExp(`ACCESS_REFUSED - cannot publish to internal exchange '${name}' in vhost '/'`));
  });

  it('closes the channel with 404 when publishing to a missing exchange', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const name = uniqueName('x-missing');
    const closed = serverClose(ch);
    ch.publish(name, 'k', Buffer.from('nope'));
    const err = await closed;
    assert.equal(err.code, 404);
    assert.match(err.message, new RegExp(`"NOT_FOUND - no exchange '${name}' in vhost '/'"`));
  });

  it('auto-deletes an auto-delete exchange when its last binding goes', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const name = ctx.clients.deleteExchangeLater(uniqueName('x-auto'));
    await ch.assertExchange(name, 'direct', { durable: false, autoDelete: true });
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, name, 'a');
    await ch.bindQueue(queue, name, 'b');
    await ch.unbindQueue(queue, name, 'a');
    await ch.checkExchange(name);
    await ch.unbindQueue(queue, name, 'b');
    await waitUntil(async () => {
      const probe = await ctx.clients.channel(conn);
      try {
        await probe.checkExchange(name);
        await probe.close();
        return false;
      } catch {
        return true;
      }
    }, `auto-delete exchange ${name} is gone`);
  });
});

describe('amqplib: queues', () => {
  const ctx = useBroker();

  it('declares a server-named queue amq.gen-*', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const a = await ch.assertQueue('', { exclusive: true });
    const b = await ch.assertQueue('', { exclusive: true });
    assert.match(a.queue, SERVER_NAMED);
    assert.match(b.queue, SERVER_NAMED);
    assert.notEqual(a.queue, b.queue);
    assert.equal(a.messageCount, 0);
    assert.equal(a.consumerCount, 0);
  });

  it('reports message and consumer counts in declare-ok', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.clients.deleteLater(uniqueName());
    await ch.assertQueue(q, { durable: false });
    for (let i = 0; i < 3; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
    await waitForReady(ch, q, 3);
    const ok = await ch.assertQueue(q, { durable: false });
    assert.deepEqual(ok, { queue: q, messageCount: 3, consumerCount: 0 });
    const other = await ctx.clients.channel();
    await other.prefetch(1);
    await other.consume(q, () => {}, { noAck: false });
    // One message is out for delivery and unacked: declare-ok counts ready messages only.
    await waitForReady(ch, q, 2);
    const passive = await ch.checkQueue(q);
    assert.deepEqual(passive, { queue: q, messageCount: 2, consumerCount: 1 });
  });

  it('refuses a passive declare of a missing queue with 404', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const q = uniqueName();
    await assertRejectsWith(ch.checkQueue(q), 404, `NOT_FOUND - no queue '${q}' in vhost '/'`);
  });

  it('refuses another connection access to an exclusive queue with 405 RESOURCE_LOCKED', TEST_OPTS, async () => {
    const ownerConn = await ctx.clients.connect();
    const owner = await ctx.clients.channel(ownerConn);
    const { queue } = await owner.assertQueue(uniqueName(), { exclusive: true });
    const locked =
      `RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '${queue}' in vhost '/'. ` +
      'It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.';
    const other = await ctx.clients.connect();
    await assertRejectsWith((await ctx.clients.channel(other)).assertQueue(queue, { exclusive: true }), 405, locked);
    await assertRejectsWith((await ctx.clients.channel(other)).assertQueue(queue, { exclusive: false }), 405, locked);
    await assertRejectsWith((await ctx.clients.channel(other)).checkQueue(queue), 405, locked);
    await assertRejectsWith((await ctx.clients.channel(other)).consume(queue, () => {}), 405, locked);
    await assertRejectsWith((await ctx.clients.channel(other)).deleteQueue(queue), 405, locked);
    await assertRejectsWith((await ctx.clients.channel(other)).purgeQueue(queue), 405, locked);
    // The owner's other channels share the connection and may use it.
    const sibling = await ctx.clients.channel(ownerConn);
    assert.deepEqual(await sibling.checkQueue(queue), { queue, messageCount: 0, consumerCount: 0 });
    await sibling.consume(queue, () => {});
  });

  it('deletes an exclusive queue when its connection closes', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = uniqueName();
    await ch.assertQueue(q, { exclusive: true });
    await conn.close();
    const probe = await ctx.clients.channel();
    await waitUntil(async () => (await probe.checkQueue(q).then(() => false, () => true)), `exclusive queue ${q} is gone`);
  });

  it('auto-deletes an auto-delete queue after its last consumer cancels', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = ctx.clients.deleteLater(uniqueName());
    await ch.assertQueue(q, { autoDelete: true, durable: false });
    const c1 = await ch.consume(q, () => {});
    const c2 = await ch.consume(q, () => {});
    await ch.cancel(c1.consumerTag);
    const ok = await ch.checkQueue(q);
    assert.equal(ok.consumerCount, 1);
    await ch.cancel(c2.consumerTag);
    await waitUntil(async () => {
      const probe = await ctx.clients.channel(conn);
      return probe.checkQueue(q).then(async () => { await probe.close(); return false; }, () => true);
    }, `auto-delete queue ${q} is gone`);
  });

  it('keeps an auto-delete queue that never had a consumer', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.clients.deleteLater(uniqueName());
    await ch.assertQueue(q, { autoDelete: true, durable: false });
    await ch.checkQueue(q);
  });

  it('refuses a redeclare with different durable with 406 PRECONDITION_FAILED', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.clients.deleteLater(uniqueName());
    await ch.assertQueue(q, { durable: false });
    await assertRejectsWith(
      ch.assertQueue(q, { durable: true }),
      406,
      `PRECONDITION_FAILED - inequivalent arg 'durable' for queue '${q}' in vhost '/': received 'true' but current is 'false'`,
    );
  });

  it('refuses a redeclare with different auto-delete with 406 PRECONDITION_FAILED', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.clients.deleteLater(uniqueName());
    await ch.assertQueue(q, { durable: false, autoDelete: false });
    await assertRejectsWith(
      ch.assertQueue(q, { durable: false, autoDelete: true }),
      406,
      `PRECONDITION_FAILED - inequivalent arg 'auto_delete' for queue '${q}' in vhost '/': received 'true' but current is 'false'`,
    );
  });

  it('refuses to declare a queue named amq.* (403 ACCESS_REFUSED)', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const q = `amq.${uniqueName()}`;
    await assertRejectsWith(
      ch.assertQueue(q, { durable: false }),
      403,
      `ACCESS_REFUSED - queue name '${q}' contains reserved prefix 'amq.*'`,
    );
  });

  it('binds and unbinds a queue; unbinding a missing binding succeeds', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const x = ctx.clients.deleteExchangeLater(uniqueName('x'));
    await ch.assertExchange(x, 'direct', { durable: false });
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, x, 'red');
    await ch.bindQueue(queue, x, 'red'); // idempotent
    ch.publish(x, 'red', Buffer.from('1'));
    ch.publish(x, 'blue', Buffer.from('x'));
    await waitForReady(ch, queue, 1);
    await ch.unbindQueue(queue, x, 'red');
    await ch.unbindQueue(queue, x, 'never-bound');
    ch.publish(x, 'red', Buffer.from('2'));
    ch.sendToQueue(queue, Buffer.from('marker'));
    await waitForReady(ch, queue, 2);
    const a = await ch.get(queue, { noAck: true });
    const b = await ch.get(queue, { noAck: true });
    assert.ok(a && b);
    assert.deepEqual([a.content.toString(), b.content.toString()], ['1', 'marker']);
  });

  it('unbinding a missing queue or from a missing exchange succeeds (idempotent, as RabbitMQ 3.x)',
    TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    await (await ctx.clients.channel(conn)).unbindQueue(uniqueName('q-missing'), 'amq.direct', 'k');
    const ch = await ctx.clients.channel(conn);
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.unbindQueue(queue, uniqueName('x-missing'), 'k');
    await ch.unbindExchange('amq.fanout', uniqueName('x-missing'), 'k');
    await ch.checkQueue(queue);
  });

  it('refuses a headers binding with an invalid x-match (406)', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const x = ctx.clients.deleteExchangeLater(uniqueName('x-h'));
    await ch.assertExchange(x, 'headers', { durable: false });
    const { queue } = await ch.assertQueue('', { exclusive: true });
    // RabbitMQ prints the value as an Erlang binary (<<"foo">>); the rest is fixed.
    await assertRejectsWith(
      ch.bindQueue(queue, x, '', { 'x-match': 'foo', a: 1 }),
      406,
      /^PRECONDITION_FAILED - Invalid x-match field value \S*foo\S*; expected all, any, all-with-x, or any-with-x$/,
    );
  });

  it('refuses a passive declare of the empty queue name with 404', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    await assertRejectsWith(ch.checkQueue(''), 404, "NOT_FOUND - no queue '' in vhost '/'");
  });

  it('counts only ready messages in delete-ok', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const q = uniqueName();
    await ch.assertQueue(q, { durable: false });
    sendAll(ch, q, ['a', 'b']);
    await waitForReady(ch, q, 2);
    assert.ok(await ch.get(q, { noAck: false }));
    assert.deepEqual(await ch.deleteQueue(q), { messageCount: 1 });
  });

  it('refuses to bind a missing queue or to a missing exchange (404)', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const missingQ = uniqueName('q-missing');
    await assertRejectsWith(
      (await ctx.clients.channel(conn)).bindQueue(missingQ, 'amq.direct', 'k'),
      404,
      `NOT_FOUND - no queue '${missingQ}' in vhost '/'`,
    );
    const ch = await ctx.clients.channel(conn);
    const { queue } = await ch.assertQueue('', { exclusive: true });
    const missingX = uniqueName('x-missing');
    await assertRejectsWith(ch.bindQueue(queue, missingX, 'k'), 404, `NOT_FOUND - no exchange '${missingX}' in vhost '/'`);
  });

  it('purges a queue and returns the number of messages purged', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    for (let i = 0; i < 5; i++) ch.sendToQueue(queue, Buffer.from(`m${i}`));
    await waitForReady(ch, queue, 5);
    assert.deepEqual(await ch.purgeQueue(queue), { messageCount: 5 });
    assert.deepEqual(await ch.purgeQueue(queue), { messageCount: 0 });
    assert.equal((await ch.checkQueue(queue)).messageCount, 0);
  });

  it('purge leaves unacked messages alone', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    for (let i = 0; i < 3; i++) ch.sendToQueue(queue, Buffer.from(`m${i}`));
    await waitForReady(ch, queue, 3);
    const held = await ch.get(queue, { noAck: false });
    assert.ok(held);
    assert.deepEqual(await ch.purgeQueue(queue), { messageCount: 2 });
    ch.nack(held, false, true);
    await waitForReady(ch, queue, 1);
  });

  it('deletes a queue and returns its message count', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const q = uniqueName();
    await ch.assertQueue(q, { durable: false });
    ch.sendToQueue(q, Buffer.from('a'));
    ch.sendToQueue(q, Buffer.from('b'));
    await waitForReady(ch, q, 2);
    assert.deepEqual(await ch.deleteQueue(q), { messageCount: 2 });
    await assertRejectsWith(ch.checkQueue(q), 404, `NOT_FOUND - no queue '${q}' in vhost '/'`);
  });

  it('deleting a missing queue succeeds with message count 0', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    assert.deepEqual(await ch.deleteQueue(uniqueName('q-never')), { messageCount: 0 });
  });

  it('refuses delete if-unused while the queue has a consumer (406)', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = ctx.clients.deleteLater(uniqueName());
    await ch.assertQueue(q, { durable: false });
    const { consumerTag } = await ch.consume(q, () => {});
    await assertRejectsWith(
      (await ctx.clients.channel(conn)).deleteQueue(q, { ifUnused: true }),
      406,
      `PRECONDITION_FAILED - queue '${q}' in vhost '/' in use`,
    );
    await ch.cancel(consumerTag);
    assert.deepEqual(await (await ctx.clients.channel(conn)).deleteQueue(q, { ifUnused: true }), { messageCount: 0 });
  });

  it('refuses delete if-empty while the queue has messages (406)', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = ctx.clients.deleteLater(uniqueName());
    await ch.assertQueue(q, { durable: false });
    ch.sendToQueue(q, Buffer.from('x'));
    await waitForReady(ch, q, 1);
    await assertRejectsWith(
      (await ctx.clients.channel(conn)).deleteQueue(q, { ifEmpty: true }),
      406,
      `PRECONDITION_FAILED - queue '${q}' in vhost '/' not empty`,
    );
    const ch2 = await ctx.clients.channel(conn);
    await ch2.purgeQueue(q);
    assert.deepEqual(await ch2.deleteQueue(q, { ifEmpty: true }), { messageCount: 0 });
  });

  it('closes the channel with 404 when consuming from a missing queue', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const q = uniqueName();
    await assertRejectsWith(ch.consume(q, () => {}), 404, `NOT_FOUND - no queue '${q}' in vhost '/'`);
  });

  it('channel errors leave the connection and its other channels working', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const good = await ctx.clients.channel(conn);
    const bad = await ctx.clients.channel(conn);
    await assertRejectsWith(bad.checkQueue(uniqueName()), 404);
    const { queue } = await good.assertQueue('', { exclusive: true });
    good.sendToQueue(queue, Buffer.from('ok'));
    await waitForReady(good, queue, 1);
  });
});
