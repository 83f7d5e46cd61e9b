// What survives a clean restart, as on RabbitMQ: durable topology and
// persistent messages on durable queues; not transient queues, exchanges or
// non-persistent messages; acked messages never come back.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import amqp from 'amqplib';
import { TEST_OPTS } from '../helpers/async.js';
import { skipUnderReference, startTestBroker, type TestBroker } from '../helpers/broker.js';

const opts = { ...TEST_OPTS, skip: skipUnderReference };

describe('restart', () => {
  let broker: TestBroker;
  before(async () => {
    broker = await startTestBroker();
  });
  after(async () => {
    await broker.close();
  });

  async function withChannel<T>(fn: (ch: amqp.ConfirmChannel) => Promise<T>): Promise<T> {
    const conn = await amqp.connect(broker.url);
    try {
      return await fn(await conn.createConfirmChannel());
    } finally {
      await conn.close().catch(() => undefined);
    }
  }

  async function exists(kind: 'queue' | 'exchange', name: string): Promise<boolean> {
    const conn = await amqp.connect(broker.url);
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    try {
      if (kind === 'queue') await ch.checkQueue(name);
      else await ch.checkExchange(name);
      return true;
    } catch {
      return false;
    } finally {
      await conn.close().catch(() => undefined);
    }
  }

  it('keeps durable topology and persistent messages; drops transient ones; acked messages stay gone', opts, async () => {
    await withChannel(async (ch) => {
      await ch.assertExchange('r-durable-x', 'topic', { durable: true });
      await ch.assertExchange('r-transient-x', 'fanout', { durable: false });
      await ch.assertQueue('r-durable-q', { durable: true, arguments: { 'x-custom': 'kept' } });
      await ch.assertQueue('r-transient-q', { durable: false });
      await ch.bindQueue('r-durable-q', 'r-durable-x', 'a.*');
      for (let i = 0; i < 6; i++) {
        ch.publish('r-durable-x', 'a.b', Buffer.from(`p${i}`), { persistent: true, headers: { i } });
        ch.publish('r-durable-x', 'a.b', Buffer.from(`t${i}`), { persistent: false });
        ch.sendToQueue('r-transient-q', Buffer.from(`x${i}`), { persistent: true });
      }
      await ch.waitForConfirms();
      // Ack the first two persistent ones (and the first transient one).
      for (let i = 0; i < 3; i++) {
        const m = await ch.get('r-durable-q', { noAck: false });
        assert.ok(m);
        ch.ack(m);
      }
      // A synchronous method after the acks: once it answers, the broker has the acks
      // (amqplib may send connection.close ahead of buffered channel frames).
      await ch.checkQueue('r-durable-q');
    });

    await broker.restart();

    assert.equal(await exists('exchange', 'r-durable-x'), true);
    assert.equal(await exists('exchange', 'r-transient-x'), false);
    assert.equal(await exists('queue', 'r-transient-q'), false);
    await withChannel(async (ch) => {
      // Same arguments: the re-declare is equivalent (a mismatch would be 406).
      const ok = await ch.assertQueue('r-durable-q', { durable: true, arguments: { 'x-custom': 'kept' } });
      // p0, t0, p1 were acked: p2..p5 remain; transient t1..t5 are gone.
      assert.equal(ok.messageCount, 4);
      const got: { body: string; i: unknown; redelivered: boolean }[] = [];
      for (;;) {
        const m = await ch.get('r-durable-q', { noAck: true });
        if (!m) break;
        got.push({ body: m.content.toString(), i: m.properties.headers?.i, redelivered: m.fields.redelivered });
      }
      assert.deepEqual(
        got.map((g) => [g.body, g.i]),
        [['p2', 2], ['p3', 3], ['p4', 4], ['p5', 5]],
      );
      // The binding survived too.
      ch.publish('r-durable-x', 'a.z', Buffer.from('after'), { persistent: true });
      await ch.waitForConfirms();
      const m = await ch.get('r-durable-q', { noAck: true });
      assert.equal(m && m.content.toString(), 'after');
    });
  });

  it('redelivers delivered-but-unacked persistent messages after a restart, marked redelivered', opts, async () => {
    const conn = await amqp.connect(broker.url);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue('r-unacked', { durable: true });
    ch.sendToQueue('r-unacked', Buffer.from('held'), { persistent: true });
    await ch.waitForConfirms();
    const m = await ch.get('r-unacked', { noAck: false });
    assert.equal(m && m.content.toString(), 'held');
    // Restart without acking (the connection is forced closed by the shutdown).
    conn.on('error', () => undefined);
    await broker.restart();
    await withChannel(async (c) => {
      const again = await c.get('r-unacked', { noAck: true });
      assert.equal(again && again.content.toString(), 'held');
      assert.equal(again && again.fields.redelivered, true);
    });
  });

  it('keeps a deleted durable queue deleted', opts, async () => {
    await withChannel(async (ch) => {
      await ch.assertQueue('r-deleted', { durable: true });
      ch.sendToQueue('r-deleted', Buffer.from('gone'), { persistent: true });
      await ch.waitForConfirms();
      await ch.deleteQueue('r-deleted');
    });
    await broker.restart();
    assert.equal(await exists('queue', 'r-deleted'), false);
  });
});
