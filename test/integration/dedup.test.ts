// Message de-duplication per queue (x-message-deduplication) through amqplib:
// a message whose x-deduplication-header (else message-id) a queue accepted
// within its window is confirmed but not enqueued again, even after the first
// copy was consumed; the window, the cache-size bound, argument validation,
// transactions, and the window surviving a restart for durable queues.
// A Wharf feature: RabbitMQ has it only through a plugin, so these tests are
// skipped against the reference broker.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Channel, ConfirmChannel, Options } from 'amqplib';
import { TEST_OPTS, WAIT_MS, sleep, uniqueName, withTimeout } from '../helpers/async.js';
import { isReference, startTestBroker, type TestBroker } from '../helpers/broker.js';
import { Clients, assertRejectsWith, bodies, collect, tx, useBroker, waitForReady } from '../helpers/amqplib.js';

const skip = isReference ? 'message de-duplication is a Wharf feature (RabbitMQ needs a plugin)' : false;
const opts = { ...TEST_OPTS, skip };

const DEDUP = { 'x-message-deduplication': true };

/** Publishes and waits for the broker's confirm of this one message. */
function publishConfirmed(ch: ConfirmChannel, queue: string, body: string, options: Options.Publish = {}): Promise<void> {
  const confirmed = new Promise<void>((resolve, reject) => {
    ch.sendToQueue(queue, Buffer.from(body), options, (err) => (err ? reject(new Error(`publish of ${body} was nacked`)) : resolve()));
  });
  return withTimeout(confirmed, WAIT_MS, `the confirm of ${body}`);
}

async function readyCount(ch: Channel, queue: string): Promise<number> {
  return (await ch.checkQueue(queue)).messageCount;
}

describe('de-duplication: semantics', () => {
  const ctx = useBroker();

  async function dedupQueue(ch: Channel, args: Record<string, unknown> = {}): Promise<string> {
    const q = ctx.clients.deleteLater(uniqueName('dedup'));
    await ch.assertQueue(q, { durable: false, arguments: { ...DEDUP, ...args } });
    return q;
  }

  it('a repeated message-id is confirmed but enqueued once', opts, async () => {
    const ch = await ctx.clients.confirmChannel();
    const q = await dedupQueue(ch);
    await publishConfirmed(ch, q, 'first', { messageId: 'order-1' });
    await publishConfirmed(ch, q, 'retry', { messageId: 'order-1' });
    await publishConfirmed(ch, q, 'retry again', { messageId: 'order-1' });
    assert.equal(await readyCount(ch, q), 1);
    assert.deepEqual(bodies(await collect(ch, q, 1, { noAck: true })), ['first']);
  });

  it('x-deduplication-header is the key when present (string or number), before message-id', opts, async () => {
    const ch = await ctx.clients.confirmChannel();
    const q = await dedupQueue(ch);
    await publishConfirmed(ch, q, 'a1', { messageId: 'm-1', headers: { 'x-deduplication-header': 'k-a' } });
    await publishConfirmed(ch, q, 'a2', { messageId: 'm-2', headers: { 'x-deduplication-header': 'k-a' } });
    // Same message-id, different header: different keys.
    await publishConfirmed(ch, q, 'b1', { messageId: 'm-1', headers: { 'x-deduplication-header': 'k-b' } });
    await publishConfirmed(ch, q, 'n1', { headers: { 'x-deduplication-header': 42 } });
    await publishConfirmed(ch, q, 'n2', { headers: { 'x-deduplication-header': 42 } });
    await publishConfirmed(ch, q, 'big1', { headers: { 'x-deduplication-header': 2 ** 40 } });
    await publishConfirmed(ch, q, 'big2', { headers: { 'x-deduplication-header': 2 ** 40 } });
    assert.deepEqual(bodies(await collect(ch, q, 4, { noAck: true })), ['a1', 'b1', 'n1', 'big1']);
    assert.equal(await readyCount(ch, q), 0);
  });

  it('a duplicate is absorbed even after the first copy was consumed and acked', opts, async () => {
    const ch = await ctx.clients.confirmChannel();
    const q = await dedupQueue(ch);
    await publishConfirmed(ch, q, 'once', { messageId: 'pay-7' });
    const [m] = await collect(ch, q, 1);
    ch.ack(m);
    await waitForReady(ch, q, 0);
    await publishConfirmed(ch, q, 'again', { messageId: 'pay-7' });
    assert.equal(await readyCount(ch, q), 0);
  });

  it('different keys pass, and messages without a key are never de-duplicated', opts, async () => {
    const ch = await ctx.clients.confirmChannel();
    const q = await dedupQueue(ch);
    for (const id of ['k1', 'k2', 'k3']) await publishConfirmed(ch, q, id, { messageId: id });
    for (let i = 0; i < 3; i++) await publishConfirmed(ch, q, 'no key');
    await publishConfirmed(ch, q, 'empty id', { messageId: '' });
    await publishConfirmed(ch, q, 'empty id', { messageId: '' });
    assert.equal(await readyCount(ch, q), 8);
  });

  it('the key passes again once its window has expired', opts, async () => {
    const ch = await ctx.clients.confirmChannel();
    const q = await dedupQueue(ch, { 'x-deduplication-window': 200 });
    await publishConfirmed(ch, q, 'first', { messageId: 'w' });
    await publishConfirmed(ch, q, 'duplicate', { messageId: 'w' });
    assert.equal(await readyCount(ch, q), 1);
    await sleep(300); // longer than the window: the key must have expired by now
    await publishConfirmed(ch, q, 'after the window', { messageId: 'w' });
    assert.deepEqual(bodies(await collect(ch, q, 2, { noAck: true })), ['first', 'after the window']);
  });

  it('x-cache-size bounds the remembered keys: the oldest is forgotten first', opts, async () => {
    const ch = await ctx.clients.confirmChannel();
    const q = await dedupQueue(ch, { 'x-cache-size': 2 });
    for (const id of ['k1', 'k2', 'k3']) await publishConfirmed(ch, q, id, { messageId: id });
    await publishConfirmed(ch, q, 'k1 again', { messageId: 'k1' }); // k1 was evicted by k3
    await publishConfirmed(ch, q, 'k3 again', { messageId: 'k3' }); // k3 is still remembered
    assert.deepEqual(bodies(await collect(ch, q, 4, { noAck: true })), ['k1', 'k2', 'k3', 'k1 again']);
  });

  it('each queue de-duplicates on its own; a queue without the argument takes every copy', opts, async () => {
    const ch = await ctx.clients.confirmChannel();
    const x = ctx.clients.deleteExchangeLater(uniqueName('x'));
    await ch.assertExchange(x, 'fanout', { durable: false });
    const a = await dedupQueue(ch);
    const b = await dedupQueue(ch);
    const plain = ctx.clients.deleteLater(uniqueName('plain'));
    await ch.assertQueue(plain, { durable: false });
    for (const q of [a, b, plain]) await ch.bindQueue(q, x, '');
    await publishConfirmed(ch, a, 'only a', { messageId: 'shared' }); // through the default exchange: a only
    ch.publish(x, '', Buffer.from('fanout 1'), { messageId: 'shared' });
    ch.publish(x, '', Buffer.from('fanout 2'), { messageId: 'shared' });
    await withTimeout(ch.waitForConfirms(), WAIT_MS, 'waitForConfirms');
    assert.deepEqual(bodies(await collect(ch, a, 1, { noAck: true })), ['only a']);
    assert.deepEqual(bodies(await collect(ch, b, 1, { noAck: true })), ['fanout 1']);
    assert.deepEqual(bodies(await collect(ch, plain, 2, { noAck: true })), ['fanout 1', 'fanout 2']);
  });

  it('a mandatory duplicate counts as routed: confirmed, not returned', opts, async () => {
    const ch = await ctx.clients.confirmChannel();
    const q = await dedupQueue(ch);
    const returned: string[] = [];
    ch.on('return', (m: { content: Buffer }) => returned.push(m.content.toString()));
    await publishConfirmed(ch, q, 'first', { messageId: 'mand', mandatory: true });
    await publishConfirmed(ch, q, 'duplicate', { messageId: 'mand', mandatory: true });
    await publishConfirmed(ch, 'no-such-queue-' + uniqueName(), 'unroutable', { messageId: 'mand', mandatory: true });
    assert.deepEqual(returned, ['unroutable']);
    assert.equal(await readyCount(ch, q), 1);
  });

  it('in a transaction the check happens at commit; a rolled-back publish leaves no key behind', opts, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const observer = await ctx.clients.channel(conn);
    const q = await dedupQueue(observer);
    await tx.select(ch);
    ch.sendToQueue(q, Buffer.from('rolled back'), { messageId: 't-1' });
    await tx.rollback(ch);
    ch.sendToQueue(q, Buffer.from('committed'), { messageId: 't-1' });
    ch.sendToQueue(q, Buffer.from('same tx duplicate'), { messageId: 't-1' });
    await tx.commit(ch);
    ch.sendToQueue(q, Buffer.from('later tx duplicate'), { messageId: 't-1' });
    await tx.commit(ch);
    assert.deepEqual(bodies(await collect(observer, q, 1, { noAck: true })), ['committed']);
    assert.equal(await readyCount(observer, q), 0);
  });
});

describe('de-duplication: arguments', () => {
  const ctx = useBroker();

  const invalid: [string, Record<string, unknown>, string, RegExp][] = [
    ['a string flag', { 'x-message-deduplication': 'yes' }, 'x-message-deduplication', /expected a boolean, got 'yes'/],
    ['a negative window', { ...DEDUP, 'x-deduplication-window': -5 }, 'x-deduplication-window', /from 1 to 4294967295, got -5/],
    ['a zero window', { ...DEDUP, 'x-deduplication-window': 0 }, 'x-deduplication-window', /got 0$/],
    ['a fractional window', { ...DEDUP, 'x-deduplication-window': 1.5 }, 'x-deduplication-window', /got 1.5$/],
    ['a string window', { ...DEDUP, 'x-deduplication-window': '300000' }, 'x-deduplication-window', /expected an integer/],
    ['a window over 2^32-1', { ...DEDUP, 'x-deduplication-window': 2 ** 32 }, 'x-deduplication-window', /got 4294967296$/],
    ['a zero cache size', { ...DEDUP, 'x-cache-size': 0 }, 'x-cache-size', /got 0$/],
    ['a boolean cache size', { ...DEDUP, 'x-cache-size': true }, 'x-cache-size', /expected an integer, got true/],
  ];
  for (const [what, args, name, detail] of invalid) {
    it(`refuses ${what} with 406 naming '${name}'`, opts, async () => {
      const ch = await ctx.clients.channel();
      const q = uniqueName('bad');
      const reply = await assertRejectsWith(
        ch.assertQueue(q, { durable: false, arguments: args }),
        406,
        new RegExp(`^PRECONDITION_FAILED - invalid arg '${name}' for queue '${q}' in vhost '/': `),
      );
      assert.match(reply.text, detail);
      const probe = await ctx.clients.channel();
      await assertRejectsWith(probe.checkQueue(q), 404);
    });
  }

  it('accepts the arguments in every integer encoding, and re-declaring with the same ones', opts, async () => {
    const ch = await ctx.clients.channel();
    const args = { ...DEDUP, 'x-deduplication-window': 60_000, 'x-cache-size': 10 };
    const q = ctx.clients.deleteLater(uniqueName('ok'));
    await ch.assertQueue(q, { durable: false, arguments: args });
    await ch.assertQueue(q, { durable: false, arguments: args });
    const big = ctx.clients.deleteLater(uniqueName('ok'));
    await ch.assertQueue(big, { durable: false, arguments: { ...DEDUP, 'x-deduplication-window': 2 ** 32 - 1, 'x-cache-size': 2 ** 31 } });
    const off = ctx.clients.deleteLater(uniqueName('off'));
    await ch.assertQueue(off, { durable: false, arguments: { 'x-message-deduplication': false, 'x-deduplication-window': 5 } });
    assert.equal((await ch.checkQueue(off)).messageCount, 0);
  });
});

describe('de-duplication: durable queues across restarts', () => {
  let broker: TestBroker;

  before(async () => {
    broker = await startTestBroker();
  });
  after(async () => {
    await broker.close();
  });

  async function withClients<T>(fn: (clients: Clients) => Promise<T>): Promise<T> {
    const clients = new Clients(broker.url);
    try {
      return await fn(clients);
    } finally {
      await clients.closeAll();
    }
  }

  it('the window of a durable queue survives a restart, also for keys whose message was consumed', opts, async () => {
    const q = uniqueName('durable-dedup');
    const gone = uniqueName('deleted-dedup');
    await withClients(async (clients) => {
      const ch = await clients.confirmChannel();
      await ch.assertQueue(q, { durable: true, arguments: DEDUP });
      await ch.assertQueue(gone, { durable: true, arguments: DEDUP });
      await publishConfirmed(ch, q, 'kept', { messageId: 'kept', persistent: true });
      await publishConfirmed(ch, q, 'consumed', { messageId: 'consumed', persistent: true });
      await publishConfirmed(ch, q, 'transient', { messageId: 'transient', persistent: false });
      await publishConfirmed(ch, gone, 'x', { messageId: 'recreated', persistent: true });
      const got = await collect(ch, q, 3);
      ch.ack(got[1]); // 'consumed' is gone for good
      ch.nack(got[0], false, true);
      ch.nack(got[2], false, true);
      await waitForReady(ch, q, 2);
      await ch.deleteQueue(gone);
    });
    await broker.restart();
    await withClients(async (clients) => {
      const ch = await clients.confirmChannel();
      await ch.assertQueue(gone, { durable: true, arguments: DEDUP });
      // The restart dropped the transient message; the persistent one is back.
      assert.equal(await readyCount(ch, q), 1);
      await publishConfirmed(ch, q, 'kept again', { messageId: 'kept', persistent: true });
      await publishConfirmed(ch, q, 'consumed again', { messageId: 'consumed', persistent: true });
      // A transient message's key lives only as long as the broker process: it passes now.
      await publishConfirmed(ch, q, 'transient again', { messageId: 'transient', persistent: true });
      // A queue deleted and declared again starts with an empty window.
      await publishConfirmed(ch, gone, 'recreated', { messageId: 'recreated', persistent: true });
      assert.deepEqual(bodies(await collect(ch, q, 2, { noAck: true })), ['kept', 'transient again']);
      assert.deepEqual(bodies(await collect(ch, gone, 1, { noAck: true })), ['recreated']);
    });
    // The duplicates were absorbed before the second restart too: still exactly nothing new.
    await broker.restart();
    await withClients(async (clients) => {
      const ch = await clients.confirmChannel();
      clients.deleteLater(q);
      clients.deleteLater(gone);
      await publishConfirmed(ch, q, 'kept, third time', { messageId: 'kept', persistent: true });
      await publishConfirmed(ch, q, 'transient, third time', { messageId: 'transient', persistent: true });
      assert.equal(await readyCount(ch, q), 0);
    });
  });

  it('a key committed in a transaction survives a restart', opts, async () => {
    const q = uniqueName('tx-dedup');
    await withClients(async (clients) => {
      const ch = await clients.channel();
      await ch.assertQueue(q, { durable: true, arguments: DEDUP });
      await tx.select(ch);
      ch.sendToQueue(q, Buffer.from('in tx'), { messageId: 'tx-key', persistent: true });
      await tx.commit(ch);
    });
    await broker.restart();
    await withClients(async (clients) => {
      const ch = await clients.confirmChannel();
      clients.deleteLater(q);
      await publishConfirmed(ch, q, 'retry', { messageId: 'tx-key', persistent: true });
      assert.deepEqual(bodies(await collect(ch, q, 1, { noAck: true })), ['in tx']);
      assert.equal(await readyCount(ch, q), 0);
    });
  });
});
