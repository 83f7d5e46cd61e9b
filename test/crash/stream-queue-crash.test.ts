// kill -9 and stream queues: a publish into a stream queue is confirmed only once it is durable,
// so after a crash every confirmed message is there, at its offset, and nothing unconfirmed
// leaves a gap (a record after the crash point would have had to be durable before it).

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import amqp, { type ConsumeMessage } from 'amqplib';
import { Collector } from '../helpers/async.js';
import { makeDataDir, skipUnderReference, spawnBroker } from '../helpers/broker.js';

const QUEUE = 'stream-crash-q';
const STREAM = { 'x-queue-type': 'stream' };

test('confirmed stream publishes survive kill -9 at their offsets', { skip: skipUnderReference, timeout: 90_000 }, async () => {
  const dataDir = await makeDataDir();
  try {
    let b = await spawnBroker(dataDir);
    const conn = await amqp.connect(b.url);
    conn.on('error', () => {});
    const ch = await conn.createConfirmChannel();
    ch.on('error', () => {});
    await ch.assertQueue(QUEUE, { durable: true, arguments: STREAM });
    // One publisher, so message i gets offset i; confirms come in order.
    let confirmed = 0;
    let sent = 0;
    const enough = new Promise<void>((resolve) => {
      const pump = (): void => {
        while (sent < confirmed + 500) {
          const i = sent++;
          ch.sendToQueue(QUEUE, Buffer.from(`m${i}`), {}, (err) => {
            if (err) return;
            confirmed = Math.max(confirmed, i + 1);
            if (confirmed >= 3000) resolve();
            else if (sent - confirmed < 250) setImmediate(pump);
          });
        }
      };
      pump();
    });
    await enough;
    // Killed with publishes in flight: some written, some not, some written but not yet confirmed.
    await b.kill('SIGKILL');
    const confirmedBeforeCrash = confirmed;

    b = await spawnBroker(dataDir);
    const c2 = await amqp.connect(b.url);
    const reader = await c2.createChannel();
    const { messageCount } = await reader.checkQueue(QUEUE);
    assert.ok(messageCount >= confirmedBeforeCrash, `${messageCount} messages after the crash, ${confirmedBeforeCrash} were confirmed`);
    await reader.prefetch(1000);
    const got = new Collector<ConsumeMessage>();
    await reader.consume(QUEUE, (m) => {
      if (!m) return;
      got.push(m);
      reader.ack(m);
    }, { arguments: { 'x-stream-offset': 'first' } });
    const msgs = await got.waitFor(messageCount, 30_000);
    msgs.forEach((m, i) => {
      assert.equal(m.content.toString(), `m${i}`);
      assert.equal(m.properties.headers?.['x-stream-offset'], i);
    });
    // Publishing goes on after the last record that survived.
    const writer = await c2.createConfirmChannel();
    writer.sendToQueue(QUEUE, Buffer.from('after'));
    await writer.waitForConfirms();
    const [after] = await got.waitFor(messageCount + 1).then((all) => all.slice(messageCount));
    assert.equal(after.content.toString(), 'after');
    assert.equal(after.properties.headers?.['x-stream-offset'], messageCount);
    await c2.close();
    await b.kill('SIGTERM');
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
