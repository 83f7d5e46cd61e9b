// kill -9 the broker at random moments while publishers with confirms write to a
// durable queue; every confirmed message that was never acked must be there after
// restart. Then damage the log's tail on disk and check the broker still starts.

import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import amqp from 'amqplib';
import { makeDataDir, skipUnderReference, spawnBroker } from '../helpers/broker.js';
import { seededRandom as rng } from '../../src/util/random.js';

const ROUNDS = 6;
const QUEUE = 'crash-q';

async function publishUntilKilled(url: string, prefix: string, confirmed: Set<string>): Promise<void> {
  let conn;
  try {
    conn = await amqp.connect(url);
    conn.on('error', () => undefined);
    const ch = await conn.createConfirmChannel();
    ch.on('error', () => undefined);
    await ch.assertQueue(QUEUE, { durable: true });
    for (let i = 0; ; i++) {
      const id = `${prefix}-${i}`;
      await new Promise<void>((resolve, reject) => {
        ch.publish('', QUEUE, Buffer.from(id), { persistent: true }, (err) => {
          if (err) reject(err);
          else {
            confirmed.add(id);
            resolve();
          }
        });
      });
    }
  } catch {
    // the broker was killed under us: expected
  }
}

async function consumeSomeUntilKilled(url: string, acked: Set<string>, next: () => number): Promise<void> {
  try {
    const conn = await amqp.connect(url);
    conn.on('error', () => undefined);
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    await ch.assertQueue(QUEUE, { durable: true });
    await ch.prefetch(50);
    await ch.consume(QUEUE, (m) => {
      if (!m) return;
      // Ack about half; the rest stay unacked and must come back.
      if (next() < 0.5) {
        ch.ack(m);
        acked.add(m.content.toString());
      }
    });
    await new Promise(() => undefined);
  } catch {
    // killed
  }
}

async function drain(url: string): Promise<string[]> {
  const conn = await amqp.connect(url);
  const ch = await conn.createChannel();
  const { messageCount } = await ch.assertQueue(QUEUE, { durable: true });
  const got: string[] = [];
  if (messageCount > 0) {
    await new Promise<void>((resolve) => {
      void ch.consume(QUEUE, (m) => {
        if (!m) return;
        got.push(m.content.toString());
        if (got.length === messageCount) resolve();
      }, { noAck: true });
    });
  }
  await conn.close();
  return got;
}

test('confirmed messages survive kill -9 at random moments', { skip: skipUnderReference, timeout: 180_000 }, async () => {
  const seed = Number(process.env.WHARF_CRASH_SEED ?? Date.now() % 100000);
  const next = rng(seed);
  const dataDir = await makeDataDir();
  const confirmed = new Set<string>();
  const acked = new Set<string>();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const b = await spawnBroker(dataDir);
      const work = [
        publishUntilKilled(b.url, `r${round}a`, confirmed),
        publishUntilKilled(b.url, `r${round}b`, confirmed),
        round % 2 === 1 ? consumeSomeUntilKilled(b.url, acked, next) : Promise.resolve(),
      ];
      await new Promise((r) => setTimeout(r, 100 + Math.floor(next() * 600)));
      await b.kill('SIGKILL');
      await Promise.race([Promise.all(work), new Promise((r) => setTimeout(r, 2000))]);
    }
    const b = await spawnBroker(dataDir);
    const present = new Set(await drain(b.url));
    await b.kill('SIGTERM');
    const lost = [...confirmed].filter((id) => !acked.has(id) && !present.has(id));
    assert.ok(confirmed.size > 0, 'publishers got some confirms');
    assert.deepEqual(lost.slice(0, 10), [], `seed ${seed}: ${lost.length} confirmed messages lost of ${confirmed.size}`);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

function segmentFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...segmentFiles(p));
    else if (/^\d{20}\.log$/.test(name)) out.push(p);
  }
  return out.sort();
}

test('a torn or corrupted tail of the log is survived', { skip: skipUnderReference, timeout: 60_000 }, async () => {
  const dataDir = await makeDataDir();
  try {
    let b = await spawnBroker(dataDir);
    const conn = await amqp.connect(b.url);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue(QUEUE, { durable: true });
    for (let i = 0; i < 100; i++) ch.publish('', QUEUE, Buffer.from(`m-${i}`), { persistent: true });
    await ch.waitForConfirms();
    await conn.close();
    await b.kill('SIGKILL');

    // A torn write: garbage after the last complete record.
    const last = segmentFiles(dataDir).at(-1) as string;
    appendFileSync(last, Buffer.from([0, 0, 0, 40, 1, 2, 3]));
    b = await spawnBroker(dataDir);
    assert.deepEqual((await drainKeep(b.url)).length, 100);
    await b.kill('SIGKILL');

    // A flipped byte inside the last record: that record is cut off, the rest served.
    const file = segmentFiles(dataDir).at(-1) as string;
    const bytes = readFileSync(file);
    bytes[bytes.length - 2] ^= 0xff;
    writeFileSync(file, bytes);
    b = await spawnBroker(dataDir);
    const after = await drainKeep(b.url);
    assert.ok(after.length >= 99 && after.length <= 100, `recovered ${after.length}`);
    await b.kill('SIGTERM');
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

/** Count the queue's messages without consuming them. */
async function drainKeep(url: string): Promise<string[]> {
  const conn = await amqp.connect(url);
  const ch = await conn.createChannel();
  const got: string[] = [];
  for (;;) {
    const m = await ch.get(QUEUE, { noAck: false });
    if (!m) break;
    got.push(m.content.toString());
  }
  await conn.close(); // unacked: they go back to the queue
  return got;
}
