// A million TTL'd persistent messages in one queue: the broker's memory stays
// bounded while they wait (bodies on disk, small bookkeeping per message), and
// they all expire into the dead-letter queue with no consumer present and no
// scan of the queue per tick. Prints the broker's RSS for the note.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import amqp from 'amqplib';
import { makeDataDir, skipUnderReference, spawnBroker } from '../helpers/broker.js';

const MESSAGES = 1_000_000;
const WINDOW = 20_000;
/** Generous: a million messages cost ~150 MB of bookkeeping; the bodies stay on disk. */
const RSS_BOUND_BYTES = 1024 * 1024 * 1024;

export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

test('a million TTL\'d messages keep the broker\'s memory bounded and all expire into the DLQ', { skip: skipUnderReference, timeout: 240_000 }, async (t) => {
  const dataDir = await makeDataDir();
  const b = await spawnBroker(dataDir);
  try {
    const conn = await amqp.connect(b.url);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue('ttl-dlq', { durable: true });
    // Long enough for the whole publish to finish before the first message expires.
    await ch.assertQueue('ttl-million', {
      durable: true,
      arguments: { 'x-message-ttl': 40_000, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'ttl-dlq' },
    });
    const body = Buffer.alloc(64, 'x');
    const started = Date.now();
    let peak = 0;
    for (let i = 0; i < MESSAGES; i++) {
      ch.publish('', 'ttl-million', body, { persistent: true });
      if (i % WINDOW === WINDOW - 1) {
        await ch.waitForConfirms();
        peak = Math.max(peak, rssOf(b.process.pid as number));
      }
    }
    await ch.waitForConfirms();
    const publishMs = Date.now() - started;
    const { messageCount } = await ch.checkQueue('ttl-million');
    const rssFull = rssOf(b.process.pid as number);
    peak = Math.max(peak, rssFull);
    t.diagnostic(`published ${MESSAGES} in ${publishMs} ms (${Math.round(MESSAGES / (publishMs / 1000))}/s); queue ${messageCount}; broker RSS ${Math.round(rssFull / 1e6)} MB (peak ${Math.round(peak / 1e6)} MB)`);
    assert.ok(messageCount > 0, 'messages are waiting in the queue');
    assert.ok(peak < RSS_BOUND_BYTES, `broker RSS ${Math.round(peak / 1e6)} MB stays under ${RSS_BOUND_BYTES / 1e6} MB`);

    // All of them expire (nobody consumes) and are dead-lettered.
    for (;;) {
      const src = await ch.checkQueue('ttl-million');
      const dlq = await ch.checkQueue('ttl-dlq');
      peak = Math.max(peak, rssOf(b.process.pid as number));
      if (src.messageCount === 0 && dlq.messageCount === MESSAGES) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const rssAfter = rssOf(b.process.pid as number);
    t.diagnostic(`all expired into the DLQ ${Date.now() - started} ms after the first publish; broker RSS ${Math.round(rssAfter / 1e6)} MB (peak ${Math.round(peak / 1e6)} MB)`);
    assert.ok(peak < RSS_BOUND_BYTES, `broker RSS ${Math.round(peak / 1e6)} MB stays under ${RSS_BOUND_BYTES / 1e6} MB while expiring`);
    await conn.close();
  } finally {
    await b.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
});
