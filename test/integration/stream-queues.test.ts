// Stream queues through amqplib: publishing (any exchange, confirms, transactions), consuming from
// x-stream-offset with prefetch credit, several consumers, what RabbitMQ 3.10 refuses for streams
// (basic.get, purge, nack, reject, automatic acks), deletion cancelling consumers, and (Wharf only)
// restarts. Passes against the reference RabbitMQ too (WHARF_TEST_REFERENCE_URL).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Channel, ConsumeMessage, Options } from 'amqplib';
import { Collector, SETTLE_MS, TEST_OPTS, sleep, uniqueName } from '../helpers/async.js';
import { isReference, skipUnderReference } from '../helpers/broker.js';
import { assertRejectsWith, bodies, consumeInto, serverClose, tx, useBroker, type AmqpError } from '../helpers/amqplib.js';

const STREAM = { 'x-queue-type': 'stream' } as const;

describe('stream queues: publish and consume', () => {
  const ctx = useBroker();

  async function stream(args: Record<string, unknown> = {}): Promise<string> {
    const q = ctx.clients.deleteLater(uniqueName('sq'));
    const ch = await ctx.clients.channel();
    await ch.assertQueue(q, { durable: true, arguments: { ...STREAM, ...args } });
    await ch.close();
    return q;
  }

  /** Publishes with confirms through the default exchange; resolves once all are confirmed. */
  async function publish(q: string, items: string[], options?: Options.Publish): Promise<void> {
    const ch = await ctx.clients.confirmChannel();
    for (const s of items) ch.sendToQueue(q, Buffer.from(s), options);
    await ch.waitForConfirms();
    await ch.close();
  }

  /** A consumer with prefetch `prefetch` from x-stream-offset `offset` (undefined: the default, next). */
  async function consumer(q: string, offset: unknown, prefetch = 100, ack = true): Promise<{ ch: Channel; got: Collector<ConsumeMessage>; tag: string }> {
    const ch = await ctx.clients.channel();
    await ch.prefetch(prefetch);
    const got = new Collector<ConsumeMessage>();
    const args = offset === undefined ? {} : { 'x-stream-offset': offset };
    const { consumerTag } = await ch.consume(q, (m) => {
      if (!m) return;
      got.push(m);
      if (ack) ch.ack(m);
    }, { arguments: args });
    return { ch, got, tag: consumerTag };
  }

  const offsets = (msgs: ConsumeMessage[]): unknown[] => msgs.map((m) => m.properties.headers?.['x-stream-offset']);

  it('delivers from first with every property kept and x-stream-offset added', TEST_OPTS, async () => {
    const q = await stream();
    const props: Options.Publish = {
      contentType: 'text/plain',
      contentEncoding: 'utf-8',
      headers: { s: 'x', n: 5, big: 2 ** 40, f: 1.5, b: true },
      persistent: true,
      priority: 3,
      correlationId: 'c1',
      replyTo: 'r',
      expiration: '60000',
      messageId: 'id-1',
      timestamp: 1_700_000_000,
      type: 't',
      appId: 'app',
    };
    await publish(q, ['with-props'], props);
    await publish(q, ['bare']);
    const { got } = await consumer(q, 'first');
    const [a, b] = await got.waitFor(2);
    assert.equal(a.content.toString(), 'with-props');
    assert.deepEqual(a.fields, { consumerTag: a.fields.consumerTag, deliveryTag: 1, redelivered: false, exchange: '', routingKey: q });
    const { headers, ...rest } = a.properties;
    assert.deepEqual(headers, { s: 'x', n: 5, big: 2 ** 40, f: 1.5, b: true, 'x-stream-offset': 0 });
    assert.deepEqual(
      Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)),
      { contentType: 'text/plain', contentEncoding: 'utf-8', deliveryMode: 2, priority: 3, correlationId: 'c1', replyTo: 'r', expiration: '60000', messageId: 'id-1', timestamp: 1_700_000_000, type: 't', appId: 'app' },
    );
    assert.equal(b.content.toString(), 'bare');
    assert.deepEqual(b.properties.headers, { 'x-stream-offset': 1 });
    assert.equal(b.properties.deliveryMode, undefined);
  });

  it('keeps nested tables and arrays in headers', { ...TEST_OPTS, skip: isReference ? 'RabbitMQ 3.10 drops table and array headers of stream messages' : false }, async () => {
    const q = await stream();
    await publish(q, ['nested'], { headers: { t: { x: 1, y: 'z' }, a: [1, 'two'] } });
    const { got } = await consumer(q, 'first');
    const [m] = await got.waitFor(1);
    assert.deepEqual(m.properties.headers, { t: { x: 1, y: 'z' }, a: [1, 'two'], 'x-stream-offset': 0 });
  });

  it('starts at first, last, next, an offset, below the start and past the end', TEST_OPTS, async () => {
    const q = await stream();
    await publish(q, ['a0', 'a1', 'a2']);
    // Published after the first batch was confirmed: a chunk (record batch) of its own.
    await publish(q, ['b3']);
    const cases: [unknown, string[]][] = [
      ['first', ['a0', 'a1', 'a2', 'b3']],
      ['last', ['b3']],
      [2, ['a2', 'b3']],
      [-1, ['a0', 'a1', 'a2', 'b3']],
    ];
    for (const [offset, want] of cases) {
      const { got } = await consumer(q, offset);
      assert.deepEqual(bodies(await got.waitFor(want.length)), want, `x-stream-offset ${String(offset)}`);
    }
    const next = await consumer(q, 'next');
    const byDefault = await consumer(q, undefined);
    const ahead = await consumer(q, 5);
    await publish(q, ['c4', 'c5', 'c6']);
    assert.deepEqual(bodies(await next.got.waitFor(3)), ['c4', 'c5', 'c6']);
    assert.deepEqual(bodies(await byDefault.got.waitFor(3)), ['c4', 'c5', 'c6']);
    // Offset 5 did not exist yet: the consumer waited for it.
    assert.deepEqual(bodies(await ahead.got.waitFor(2)), ['c5', 'c6']);
    assert.deepEqual(offsets(await ahead.got.waitFor(2)), [5, 6]);
  });

  it('starts at a point in time: an AMQP timestamp or an interval', TEST_OPTS, async () => {
    const q = await stream();
    await publish(q, ['t0', 't1']);
    const nowSeconds = Math.floor(Date.now() / 1000);
    const hourAgo = await consumer(q, { '!': 'timestamp', value: nowSeconds - 3600 });
    assert.deepEqual(bodies(await hourAgo.got.waitFor(2)), ['t0', 't1']);
    const interval = await consumer(q, '1h');
    assert.deepEqual(bodies(await interval.got.waitFor(2)), ['t0', 't1']);
    const future = await consumer(q, { '!': 'timestamp', value: nowSeconds + 3600 });
    await publish(q, ['t2']);
    // No record is that new: the consumer starts at the end and gets what comes after it.
    assert.deepEqual(bodies(await future.got.waitFor(1)), ['t2']);
  });

  it('gives every consumer everything, in offset order, and waits at the end for more', TEST_OPTS, async () => {
    const q = await stream();
    await publish(q, ['x0', 'x1']);
    const one = await consumer(q, 'first');
    const two = await consumer(q, 'first', 1);
    assert.deepEqual(bodies(await one.got.waitFor(2)), ['x0', 'x1']);
    assert.deepEqual(bodies(await two.got.waitFor(2)), ['x0', 'x1']);
    await publish(q, ['x2', 'x3']);
    assert.deepEqual(offsets(await one.got.waitFor(4)), [0, 1, 2, 3]);
    assert.deepEqual(offsets(await two.got.waitFor(4)), [0, 1, 2, 3]);
  });

  it('needs acks to deliver past the prefetch; acks only return credit', TEST_OPTS, async () => {
    const q = await stream();
    await publish(q, Array.from({ length: 6 }, (_, i) => `p${i}`));
    const { ch, got } = await consumer(q, 'first', 2, false);
    await got.waitFor(2);
    await sleep(SETTLE_MS);
    // RabbitMQ 3.10 grants credit per chunk and may deliver past the prefetch; Wharf never does.
    if (!isReference) assert.equal(got.length, 2);
    for (let acked = 0; got.length < 6; ) {
      const upTo = got.items[got.length - 1];
      if (got.length > acked) {
        ch.ack(upTo, true);
        acked = got.length;
      }
      await sleep(10);
    }
    assert.deepEqual(bodies(got.items), ['p0', 'p1', 'p2', 'p3', 'p4', 'p5']);
    // Nothing was removed: a new consumer reads all of it again.
    const again = await consumer(q, 'first');
    assert.equal((await again.got.waitFor(6)).length, 6);
  });

  it('acks in a transaction give credit back at the commit; a rollback leaves them unacked', { ...TEST_OPTS, skip: isReference ? 'RabbitMQ 3.10 grants stream credit per chunk, past the prefetch' : false }, async () => {
    const q = await stream();
    await publish(q, ['t0', 't1', 't2']);
    const { ch, got } = await consumer(q, 'first', 1, false);
    await tx.select(ch);
    const [m0] = await got.waitFor(1);
    ch.ack(m0);
    await sleep(SETTLE_MS);
    assert.equal(got.length, 1);
    await tx.commit(ch);
    const [, m1] = await got.waitFor(2);
    ch.ack(m1);
    await tx.rollback(ch);
    await sleep(SETTLE_MS);
    assert.equal(got.length, 2);
    // Unacked again: acking it (and committing) is what frees the credit.
    ch.ack(m1);
    await tx.commit(ch);
    assert.deepEqual(bodies(await got.waitFor(3)), ['t0', 't1', 't2']);
  });

  it('routes to a stream through exchanges like to a queue', TEST_OPTS, async () => {
    const q = await stream();
    const classic = ctx.clients.deleteLater(uniqueName('cq'));
    const fanout = ctx.clients.deleteExchangeLater(uniqueName('fx'));
    const direct = ctx.clients.deleteExchangeLater(uniqueName('dx'));
    const ch = await ctx.clients.confirmChannel();
    await ch.assertQueue(classic, { durable: true });
    await ch.assertExchange(fanout, 'fanout', { durable: true });
    await ch.assertExchange(direct, 'direct', { durable: true });
    await ch.bindQueue(q, fanout, '');
    await ch.bindQueue(classic, fanout, '');
    await ch.bindQueue(q, direct, 'k');
    ch.publish(fanout, 'rk1', Buffer.from('via-fanout'));
    ch.publish(direct, 'k', Buffer.from('via-direct'));
    ch.publish(direct, 'other', Buffer.from('not-routed'));
    await ch.waitForConfirms();
    await ch.unbindQueue(q, direct, 'k');
    ch.publish(direct, 'k', Buffer.from('after-unbind'));
    await ch.waitForConfirms();
    const { got } = await consumer(q, 'first');
    const msgs = await got.waitFor(2);
    assert.deepEqual(msgs.map((m) => [m.content.toString(), m.fields.exchange, m.fields.routingKey]), [
      ['via-fanout', fanout, 'rk1'],
      ['via-direct', direct, 'k'],
    ]);
    assert.equal((await ch.get(classic, { noAck: true }) || undefined)?.content.toString(), 'via-fanout');
    await sleep(SETTLE_MS);
    assert.equal(got.length, 2);
  });

  it('returns a mandatory publish only when no queue or stream takes it', TEST_OPTS, async () => {
    const q = await stream();
    const ch = await ctx.clients.confirmChannel();
    const returned: string[] = [];
    ch.on('return', (m: ConsumeMessage) => returned.push(m.content.toString()));
    ch.publish('', q, Buffer.from('kept'), { mandatory: true });
    ch.publish('', `${q}-missing`, Buffer.from('returned'), { mandatory: true });
    await ch.waitForConfirms();
    await sleep(SETTLE_MS);
    assert.deepEqual(returned, ['returned']);
  });

  it('takes dead letters from a classic queue, x-death and all', { ...TEST_OPTS, skip: isReference ? 'RabbitMQ 3.10 drops dead letters routed to a stream queue' : false }, async () => {
    const q = await stream();
    const dlx = ctx.clients.deleteExchangeLater(uniqueName('dlx'));
    const source = ctx.clients.deleteLater(uniqueName('src'));
    const ch = await ctx.clients.confirmChannel();
    await ch.assertExchange(dlx, 'fanout', { durable: true });
    await ch.bindQueue(q, dlx, '');
    await ch.assertQueue(source, { durable: true, arguments: { 'x-dead-letter-exchange': dlx } });
    ch.sendToQueue(source, Buffer.from('doomed'), { headers: { h: 1 } });
    await ch.waitForConfirms();
    const m = await ch.get(source);
    assert.ok(m);
    ch.reject(m, false);
    const { got } = await consumer(q, 'first');
    const [dead] = await got.waitFor(1);
    assert.equal(dead.content.toString(), 'doomed');
    assert.equal(dead.fields.exchange, dlx);
    assert.equal(dead.properties.headers?.h, 1);
    assert.equal(dead.properties.headers?.['x-stream-offset'], 0);
    const death = (dead.properties.headers?.['x-death'] as unknown as Record<string, unknown>[])[0];
    assert.equal(death.queue, source);
    assert.equal(death.reason, 'rejected');
  });

  it('publishes in transactions', TEST_OPTS, async () => {
    const q = await stream();
    const ch = await ctx.clients.channel();
    await tx.select(ch);
    ch.sendToQueue(q, Buffer.from('tx-1'));
    ch.sendToQueue(q, Buffer.from('tx-2'));
    await tx.commit(ch);
    const { got } = await consumer(q, 'first');
    assert.deepEqual(bodies(await got.waitFor(2)), ['tx-1', 'tx-2']);
  });

  describe('what stream queues refuse', () => {
    const consumeErrors: { what: string; prefetch?: [number, boolean]; options: Options.Consume; text: (q: string) => string }[] = [
      { what: 'no prefetch', options: {}, text: (q) => `consumer prefetch count is not set for 'queue '${q}' in vhost '/''` },
      { what: 'only a channel-wide prefetch', prefetch: [10, true], options: {}, text: (q) => `consumer prefetch count is not set for 'queue '${q}' in vhost '/''` },
      { what: 'x-priority', prefetch: [10, false], options: { arguments: { 'x-priority': 1 } }, text: (q) => `invalid arg 'x-priority' for queue '${q}' in vhost '/' of queue type rabbit_stream_queue` },
      {
        what: 'an offset string that is no duration',
        prefetch: [10, false],
        options: { arguments: { 'x-stream-offset': '2' } },
        text: (q) => `invalid arg 'x-stream-offset' for queue '${q}' in vhost '/': {invalid_stream_offset_arg,{longstr,<<"2">>}}`,
      },
    ];
    for (const c of consumeErrors) {
      it(`basic.consume with ${c.what}: 406`, TEST_OPTS, async () => {
        const q = await stream();
        const ch = await ctx.clients.channel();
        if (c.prefetch) await ch.prefetch(c.prefetch[0], c.prefetch[1]);
        await assertRejectsWith(ch.consume(q, () => {}, c.options), 406, `PRECONDITION_FAILED - ${c.text(q)}`);
      });
    }

    /** Runs `op` and expects the server to close the connection with 540 and `text`. */
    async function refusedWith540(op: (ch: Channel, q: string) => Promise<unknown>, text: (q: string) => string): Promise<void> {
      const q = await stream();
      await publish(q, ['m']);
      const conn = await ctx.clients.connect();
      const ch = await ctx.clients.channel(conn);
      const closed = serverClose(conn);
      await op(ch, q).catch(() => undefined);
      const err: AmqpError = await closed;
      assert.equal(err.code, 540);
      assert.ok(err.message.endsWith(`"NOT_IMPLEMENTED - ${text(q)}"`), err.message);
    }

    it('basic.consume with no-ack: 540', TEST_OPTS, () =>
      refusedWith540(async (ch, q) => {
        await ch.prefetch(10);
        await ch.consume(q, () => {}, { noAck: true });
      }, (q) => `automatic acknowledgement not supported by stream queues queue '${q}' in vhost '/'`));

    it('basic.get: 540', TEST_OPTS, () =>
      refusedWith540((ch, q) => ch.get(q), (q) => `basic.get not supported by stream queues queue '${q}' in vhost '/'`));

    it('queue.purge: 540', TEST_OPTS, () =>
      refusedWith540((ch, q) => ch.purgeQueue(q), (q) => `queue.purge not supported by stream queues queue '${q}' in vhost '/'`));

    for (const [what, settle] of [
      ['basic.nack with requeue', (ch: Channel, m: ConsumeMessage) => ch.nack(m, false, true)],
      ['basic.nack without requeue', (ch: Channel, m: ConsumeMessage) => ch.nack(m, false, false)],
      ['basic.reject', (ch: Channel, m: ConsumeMessage) => ch.reject(m, true)],
    ] as const) {
      it(`${what}: 540`, TEST_OPTS, () =>
        refusedWith540(async (ch, q) => {
          await ch.prefetch(10);
          const got = new Collector<ConsumeMessage>();
          await ch.consume(q, (m) => m && got.push(m), { arguments: { 'x-stream-offset': 'first' } });
          settle(ch, (await got.waitFor(1))[0]);
          await sleep(SETTLE_MS);
        }, (q) => `basic.nack and basic.reject not supported by stream queues queue '${q}' in vhost '/'`));
    }

    it('an unknown delivery tag is still 406 for a stream consumer\'s channel', TEST_OPTS, async () => {
      const q = await stream();
      await publish(q, ['m']);
      const { ch, got } = await consumer(q, 'first', 10, false);
      await got.waitFor(1);
      const closed = serverClose(ch);
      ch.ack({ fields: { deliveryTag: 99 } } as ConsumeMessage);
      const err = await closed;
      assert.equal(err.code, 406);
      assert.match(err.message, /PRECONDITION_FAILED - unknown delivery tag 99/);
    });
  });

  it('deleting a stream queue cancels its consumers (consumer cancel notify)', TEST_OPTS, async () => {
    const q = await stream();
    await publish(q, ['m']);
    const ch = await ctx.clients.channel();
    await ch.prefetch(10);
    const { cancelled, collector } = await consumeInto(ch, q, { arguments: { 'x-stream-offset': 'first' } });
    await collector.waitFor(1);
    const other = await ctx.clients.channel();
    assert.deepEqual(await other.deleteQueue(q), { messageCount: 0 });
    await cancelled;
    // The channel lives on.
    await ch.checkExchange('amq.direct');
  });

  it('keeps messages, offsets and bindings across a restart', { ...TEST_OPTS, skip: skipUnderReference }, async () => {
    // Not deleteLater: the clients' clean-up before the restart would delete it.
    const q = uniqueName('sq');
    const x = uniqueName('fx');
    const ch = await ctx.clients.channel();
    await ch.assertQueue(q, { durable: true, arguments: { ...STREAM, 'x-max-age': '1D' } });
    await ch.assertExchange(x, 'fanout', { durable: true });
    await ch.bindQueue(q, x, '');
    await publish(q, ['r0', 'r1']);
    await ctx.restart();
    const after = await ctx.clients.confirmChannel();
    // Equivalence still holds against the persisted arguments.
    await after.assertQueue(q, { durable: true, arguments: { ...STREAM, 'x-max-age': '1D' } });
    after.publish(x, '', Buffer.from('r2'));
    await after.waitForConfirms();
    const { got } = await consumer(q, 'first');
    const msgs = await got.waitFor(3);
    assert.deepEqual(bodies(msgs), ['r0', 'r1', 'r2']);
    assert.deepEqual(offsets(msgs), [0, 1, 2]);
    ctx.clients.deleteLater(q);
    ctx.clients.deleteExchangeLater(x);
  });
});
