// kill -9 the broker while it is dead-lettering confirmed persistent messages
// (mass expiry of a TTL'd queue, and a consumer rejecting everything): after a
// restart every message is in the source queue or in the dead-letter queue.
// The move is one Batch record (copy's Enqueue + source's Ack), so none may be
// lost, and none should be in both.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import amqp from 'amqplib';
import { makeDataDir, skipUnderReference, spawnBroker } from '../helpers/broker.js';

const SOURCE = 'dl-crash-src';
const DLQ = 'dl-crash-dlq';
const MESSAGES = 20_000;

async function declare(ch: amqp.Channel, ttl: number | undefined): Promise<void> {
  await ch.assertQueue(DLQ, { durable: true });
  await ch.assertQueue(SOURCE, {
    durable: true,
    arguments: {
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': DLQ,
      ...(ttl !== undefined ? { 'x-message-ttl': ttl } : {}),
    },
  });
}

async function publishAll(url: string, ttl: number | undefined): Promise<void> {
  const conn = await amqp.connect(url);
  const ch = await conn.createConfirmChannel();
  await declare(ch, ttl);
  for (let i = 0; i < MESSAGES; i++) {
    ch.publish('', SOURCE, Buffer.from(`m-${i}`), { persistent: true });
    if (i % 5000 === 4999) await ch.waitForConfirms();
  }
  await ch.waitForConfirms();
  await conn.close();
}

/** Consumes a queue's current messages without acks and returns the bodies. */
async function drain(ch: amqp.Channel, queue: string): Promise<string[]> {
  const { messageCount } = await ch.checkQueue(queue);
  const got: string[] = [];
  if (messageCount === 0) return got;
  await new Promise<void>((resolve) => {
    void ch.consume(queue, (m) => {
      if (!m) return;
      got.push(m.content.toString());
      if (got.length === messageCount) resolve();
    }, { noAck: true });
  });
  return got;
}

async function survivors(url: string): Promise<{ source: string[]; dlq: string[] }> {
  const conn = await amqp.connect(url);
  const ch = await conn.createChannel();
  const source = await drain(ch, SOURCE);
  const dlq = await drain(ch, DLQ);
  await conn.close();
  return { source, dlq };
}

function check(source: string[], dlq: string[], what: string): void {
  const all = new Set([...source, ...dlq]);
  const lost: string[] = [];
  for (let i = 0; i < MESSAGES; i++) if (!all.has(`m-${i}`)) lost.push(`m-${i}`);
  assert.deepEqual(lost.slice(0, 10), [], `${what}: ${lost.length} of ${MESSAGES} confirmed messages lost`);
  const inSource = new Set(source);
  const both = dlq.filter((b) => inSource.has(b)).length;
  assert.equal(both, 0, `${what}: ${both} messages are in both queues`);
}

test('kill -9 during mass expiry into a dead-letter queue loses nothing', { skip: skipUnderReference, timeout: 120_000 }, async () => {
  const dataDir = await makeDataDir();
  try {
    let b = await spawnBroker(dataDir);
    await publishAll(b.url, 1500);
    // Expiry starts ~1.5 s after the first publish and runs in batches: kill while it runs.
    await new Promise((r) => setTimeout(r, 1200 + Math.floor(Math.random() * 800)));
    await b.kill('SIGKILL');
    b = await spawnBroker(dataDir);
    // Give the recovered queue time to finish expiring (nothing may be lost on the way).
    const conn = await amqp.connect(b.url);
    const ch = await conn.createChannel();
    for (let i = 0; i < 200; i++) {
      const { messageCount } = await ch.checkQueue(SOURCE);
      if (messageCount === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await conn.close();
    const { source, dlq } = await survivors(b.url);
    await b.kill('SIGTERM');
    check(source, dlq, 'expiry');
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('kill -9 while a consumer rejects everything into a dead-letter queue loses nothing', { skip: skipUnderReference, timeout: 120_000 }, async () => {
  const dataDir = await makeDataDir();
  try {
    let b = await spawnBroker(dataDir);
    await publishAll(b.url, undefined);
    const conn = await amqp.connect(b.url);
    conn.on('error', () => undefined);
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    await ch.prefetch(500);
    let rejected = 0;
    const killed = new Promise<void>((resolve) => {
      void ch.consume(SOURCE, (m) => {
        if (!m) return;
        ch.nack(m, false, false);
        // Kill somewhere in the middle of the stream of rejections.
        if (++rejected === Math.floor(MESSAGES / 3)) resolve();
      });
    });
    await killed;
    await b.kill('SIGKILL');
    b = await spawnBroker(dataDir);
    const { source, dlq } = await survivors(b.url);
    await b.kill('SIGTERM');
    assert.ok(dlq.length > 0, 'some messages were dead-lettered before the kill');
    check(source, dlq, 'rejections');
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
