// kill -9 and de-duplication: once a persistent publish to a durable
// de-duplicating queue is confirmed, its key is on disk, so after a crash a
// retry of it is still absorbed, whether the first copy is still queued or was
// consumed and acked before the crash.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import amqp from 'amqplib';
import { makeDataDir, skipUnderReference, spawnBroker } from '../helpers/broker.js';

const QUEUE = 'dedup-crash-q';
const ARGS = { 'x-message-deduplication': true };

async function publishAll(url: string, ids: string[]): Promise<void> {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue(QUEUE, { durable: true, arguments: ARGS });
    for (const id of ids) ch.sendToQueue(QUEUE, Buffer.from(id), { messageId: id, persistent: true });
    await ch.waitForConfirms();
  } finally {
    await conn.close();
  }
}

test('confirmed keys survive kill -9: retries after the crash are absorbed', { skip: skipUnderReference, timeout: 60_000 }, async () => {
  const dataDir = await makeDataDir();
  try {
    let b = await spawnBroker(dataDir);
    const ids = Array.from({ length: 200 }, (_, i) => `key-${i}`);
    await publishAll(b.url, ids);
    // Consume and ack the first half, so their copies are gone but their keys are not.
    const conn = await amqp.connect(b.url);
    const ch = await conn.createChannel();
    for (let i = 0; i < 100; i++) {
      const m = await ch.get(QUEUE, { noAck: false });
      assert.ok(m, `message ${i}`);
      ch.ack(m);
    }
    // A confirmed publish after the acks: its sync makes the acks durable too.
    await ch.checkQueue(QUEUE);
    await conn.close();
    await publishAll(b.url, ['barrier']);
    await b.kill('SIGKILL');

    b = await spawnBroker(dataDir);
    await publishAll(b.url, [...ids, 'barrier', 'new-key']);
    const check = await amqp.connect(b.url);
    const c = await check.createChannel();
    const got: string[] = [];
    for (;;) {
      const m = await c.get(QUEUE, { noAck: true });
      if (!m) break;
      got.push(m.content.toString());
    }
    await check.close();
    await b.kill('SIGTERM');
    // The unconsumed half, the barrier and the one new key: every retry was absorbed.
    assert.deepEqual(got.sort(), [...ids.slice(100), 'barrier', 'new-key'].sort());
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
