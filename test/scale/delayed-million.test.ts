// A million delayed messages: the broker (a child process, as in production)
// holds 1,000,000 small persistent messages with long delays; its resident
// memory must stay bounded, since bodies live on disk and each held message
// costs a few numbers in a typed-array heap. Prints the RSS and the publish
// rate so they can be reported; asserts only a generous bound. Recovery time
// and the rate without x-delay: bench/delayed.ts.

import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import amqp from 'amqplib';
import { publishConfirmed } from '../../bench/lib/publish-confirmed.js';
import { makeDataDir, skipUnderReference, spawnBroker } from '../helpers/broker.js';
import { withTimeout } from '../helpers/async.js';

const MESSAGES = 1_000_000;
/** Unconfirmed publishes in flight. */
const WINDOW = 20_000;
const DELAY_MS = 3_600_000;
const RSS_LIMIT_MB = 700;
const EXCHANGE = 'million-delayed-x';
const QUEUE = 'million-delayed-q';

/** VmRSS (now) and VmHWM (peak) of a process, in MB, from /proc. */
function memoryMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

function dirBytes(dir: string): number {
  return readdirSync(dir).reduce((n, name) => n + statSync(join(dir, name)).size, 0);
}

/** Publishes `n` messages with confirms, at most WINDOW unconfirmed; resolves when all are confirmed. */
async function publishAll(ch: amqp.ConfirmChannel, n: number, headers: Record<string, unknown>, sample: (sent: number) => void): Promise<void> {
  const body = Buffer.from('0123456789abcdef');
  await publishConfirmed(ch, n, WINDOW, (i, onConfirm) => {
    if ((i + 1) % 100_000 === 0) sample(i + 1);
    return ch.publish(EXCHANGE, 'k', body, { persistent: true, headers }, onConfirm);
  });
}

test('1,000,000 delayed messages keep the broker\'s memory bounded', { skip: skipUnderReference, timeout: 120_000 }, async (t) => {
  const dataDir = await makeDataDir();
  try {
    const b = await spawnBroker(dataDir);
    const pid = b.process.pid as number;
    const conn = await amqp.connect(b.url);
    const ch = await conn.createConfirmChannel();
    await ch.assertExchange(EXCHANGE, 'x-delayed-message', { durable: true, arguments: { 'x-delayed-type': 'direct' } });
    await ch.assertQueue(QUEUE, { durable: true });
    await ch.bindQueue(QUEUE, EXCHANGE, 'k');
    const before = memoryMb(pid);
    let maxRss = before.rss;
    const started = Date.now();
    await withTimeout(
      publishAll(ch, MESSAGES, { 'x-delay': DELAY_MS }, () => {
        maxRss = Math.max(maxRss, memoryMb(pid).rss);
      }),
      100_000,
      'a million confirmed delayed publishes',
    );
    const seconds = (Date.now() - started) / 1000;
    const after = memoryMb(pid);
    maxRss = Math.max(maxRss, after.rss);
    assert.equal((await ch.checkQueue(QUEUE)).messageCount, 0, 'all held, none routed yet');
    await conn.close();
    const logMb = dirBytes(join(dataDir, 'delayed')) / 2 ** 20;
    t.diagnostic(
      `broker RSS: ${before.rss.toFixed(0)} MB idle, ${after.rss.toFixed(0)} MB holding 1M delayed messages ` +
        `(max sampled ${maxRss.toFixed(0)} MB, VmHWM ${after.peak.toFixed(0)} MB); ` +
        `publish rate ${(MESSAGES / seconds).toFixed(0)} msg/s with confirms; delayed log ${logMb.toFixed(0)} MB on disk`,
    );
    assert.ok(after.peak < RSS_LIMIT_MB, `broker peak RSS ${after.peak.toFixed(0)} MB exceeds ${RSS_LIMIT_MB} MB`);
    await b.kill('SIGTERM');
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
