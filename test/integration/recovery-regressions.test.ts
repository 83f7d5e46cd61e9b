// Regressions found in review of the store/queue interplay: each scenario once
// lost messages, froze the event loop or leaked disk. Wharf only (restarts).

import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import amqp from 'amqplib';
import { TEST_OPTS, WAIT_MS, waitUntil, withTimeout } from '../helpers/async.js';
import { tx } from '../helpers/amqplib.js';
import { skipUnderReference, startTestBroker, type TestBroker } from '../helpers/broker.js';

const opts = { ...TEST_OPTS, skip: skipUnderReference };

describe('recovery regressions', () => {
  let broker: TestBroker;
  before(async () => {
    broker = await startTestBroker();
  });
  after(async () => {
    await broker.close();
  });

  async function channel(): Promise<{ conn: amqp.ChannelModel; ch: amqp.ConfirmChannel }> {
    const conn = await amqp.connect(broker.url);
    return { conn, ch: await conn.createConfirmChannel() };
  }

  async function fill(queue: string, n: number): Promise<void> {
    const { conn, ch } = await channel();
    await ch.assertQueue(queue, { durable: true });
    for (let i = 0; i < n; i++) ch.sendToQueue(queue, Buffer.from(`m${i}`), { persistent: true });
    await ch.waitForConfirms();
    await conn.close();
  }

  it('purge keeps delivered-but-unacked messages across a restart', opts, async () => {
    await fill('purge-q', 2);
    const { conn, ch } = await channel();
    const held = await ch.get('purge-q', { noAck: false });
    assert.ok(held);
    assert.deepEqual(await ch.purgeQueue('purge-q'), { messageCount: 1 });
    await conn.close(); // the held message returns to the queue
    await broker.restart();
    const again = await channel();
    assert.equal((await again.ch.checkQueue('purge-q')).messageCount, 1);
    const m = await again.ch.get('purge-q', { noAck: true });
    assert.equal(m && m.content.toString(), 'm0');
    await again.conn.close();
  });

  it('basic.get and a consumer together on a recovered (paged-out) queue both make progress', opts, async () => {
    await fill('paged-q', 50);
    await broker.restart();
    const { conn, ch } = await channel();
    const got: string[] = [];
    await ch.consume('paged-q', (m) => {
      if (!m) return;
      got.push(m.content.toString());
      ch.ack(m);
    });
    const viaGet = [ch.get('paged-q', { noAck: true }), ch.get('paged-q', { noAck: true })];
    const gets = (await withTimeout(Promise.all(viaGet), WAIT_MS, 'basic.get on a recovered queue')).filter(Boolean) as amqp.GetMessage[];
    for (const m of gets) got.push(m.content.toString());
    // Whatever the split between get and consume, all 50 arrive exactly once.
    await waitUntil(() => got.length >= 50, 'all recovered messages');
    assert.deepEqual([...got].sort(), Array.from({ length: 50 }, (_, i) => `m${i}`).sort());
    await conn.close();
  });

  it('a tx.commit that fails changes nothing: no publish lands, the acked message comes back', opts, async () => {
    await fill('tx-in', 1);
    const setup = await channel();
    await setup.ch.assertQueue('tx-out', { durable: true });
    await setup.ch.assertExchange('tx-x', 'direct', { durable: false });
    const conn = await amqp.connect(broker.url);
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    await tx.select(ch);
    const m = await ch.get('tx-in', { noAck: false });
    assert.ok(m);
    ch.ack(m);
    ch.sendToQueue('tx-out', Buffer.from('lands only on commit'), { persistent: true });
    ch.publish('tx-x', '', Buffer.from('to an exchange deleted before commit'));
    await setup.ch.deleteExchange('tx-x');
    await assert.rejects(tx.commit(ch), /404/);
    assert.equal((await setup.ch.checkQueue('tx-out')).messageCount, 0, 'no publish of the failed tx landed');
    assert.equal((await setup.ch.checkQueue('tx-in')).messageCount, 1, 'the ack of the failed tx was not applied');
    await setup.conn.close();
    await conn.close().catch(() => undefined);
  });

  it('segments are deleted once everything in them is consumed', opts, async () => {
    // A broker of its own: messages left by other tests would (rightly) keep old segments.
    const own = await startTestBroker();
    const conn = await amqp.connect(own.url);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue('space-q', { durable: true });
    const body = Buffer.alloc(64 * 1024, 1);
    for (let i = 0; i < 1100; i++) ch.sendToQueue('space-q', body, { persistent: true });
    await ch.waitForConfirms();
    const before = readdirSync(join(own.dataDir, 'messages')).filter((f) => f.endsWith('.log')).length;
    assert.ok(before >= 2, `expected several 64 MiB segments, have ${before}`);
    assert.deepEqual(await ch.purgeQueue('space-q'), { messageCount: 1100 });
    await ch.waitForConfirms();
    await conn.close();
    // Deletion is asynchronous; poll briefly.
    let after = before;
    for (let i = 0; i < 100 && after > 1; i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = readdirSync(join(own.dataDir, 'messages')).filter((f) => f.endsWith('.log')).length;
    }
    assert.equal(after, 1, 'only the active segment remains');
    await own.close();
  });
});
