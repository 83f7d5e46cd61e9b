// Delayed messages: publish N small persistent messages with confirms through a
// durable x-delayed-message exchange, once without and once with an x-delay
// header, to a Wharf started as a child process; report publish rates and RSS,
// the restart (recovery) with N held, and how fast a backlog that falls due at
// once is released (and the longest AMQP round trip meanwhile, which shows
// whether releasing blocks the event loop). Prints numbers only.
//   node dist/bench/delayed.js [--messages 1000000] [--release 200000] [--size 16]

import amqp from 'amqplib';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { publishConfirmed } from './lib/publish-confirmed.js';
import { rssMb, startWharf, stopWharf } from './lib/wharf-child.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000000' },
    release: { type: 'string', default: '200000' },
    size: { type: 'string', default: '16' },
  },
});
const total = Number(values.messages);
const releaseTotal = Number(values.release);
const body = Buffer.alloc(Number(values.size), 'x');
const WINDOW = 20_000;

async function setup(url: string): Promise<{ conn: amqp.ChannelModel; ch: amqp.ConfirmChannel }> {
  const conn = await amqp.connect(url);
  const ch = await conn.createConfirmChannel();
  await ch.assertExchange('bench-delayed', 'x-delayed-message', { durable: true, arguments: { 'x-delayed-type': 'direct' } });
  await ch.assertQueue('bench-delayed-q', { durable: true });
  await ch.bindQueue('bench-delayed-q', 'bench-delayed', 'k');
  return { conn, ch };
}

/** Publishes n with confirms (WINDOW in flight); `delay(i)` gives x-delay or undefined. Returns msg/s. */
async function publish(ch: amqp.ConfirmChannel, n: number, delay: () => number | undefined): Promise<number> {
  const t0 = Date.now();
  await publishConfirmed(ch, n, WINDOW, (_i, onConfirm) => {
    const d = delay();
    return ch.publish('bench-delayed', 'k', body, { persistent: true, headers: d === undefined ? {} : { 'x-delay': d } }, onConfirm);
  });
  return Math.round(n / ((Date.now() - t0) / 1000));
}

async function run(delayed: boolean): Promise<Record<string, number>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'wharf-bench-'));
  let b = await startWharf(dataDir);
  const idle = rssMb(b);
  const { conn, ch } = await setup(b.url);
  const perSec = await publish(ch, total, () => (delayed ? 3_600_000 : undefined));
  const filled = rssMb(b);
  await conn.close();
  const out: Record<string, number> = { publishPerSec: perSec, rssIdleMb: idle.rss, rssAfterMb: filled.rss, peakRssMb: filled.peak };
  if (delayed) {
    await stopWharf(b, 'SIGKILL');
    b = await startWharf(dataDir);
    out.recoveryMs = b.startMs;
    out.rssAfterRecoveryMb = rssMb(b).rss;
  }
  await stopWharf(b, 'SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
  return out;
}

/** releaseTotal messages that all fall due at one moment, after publishing ends. */
async function releaseBacklog(): Promise<Record<string, number>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'wharf-bench-'));
  const b = await startWharf(dataDir);
  const { conn, ch } = await setup(b.url);
  // Due well after the publishing is over (~50k/s); x-delay counts from each publish.
  const dueAt = Date.now() + 2000 + releaseTotal / 20;
  await publish(ch, releaseTotal, () => Math.max(1, dueAt - Date.now()));
  const probe = await conn.createChannel();
  while (Date.now() < dueAt) await new Promise((r) => setTimeout(r, 20));
  let maxRttMs = 0;
  const t0 = Date.now();
  for (;;) {
    const t = Date.now();
    const { messageCount } = await probe.checkQueue('bench-delayed-q');
    maxRttMs = Math.max(maxRttMs, Date.now() - t);
    if (messageCount >= releaseTotal) break;
  }
  const secs = (Date.now() - t0) / 1000;
  const peak = rssMb(b).peak;
  await conn.close();
  await stopWharf(b, 'SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
  return { releasePerSec: Math.round(releaseTotal / secs), maxRoundTripMsWhileReleasing: maxRttMs, peakRssMb: peak };
}

async function main(): Promise<void> {
  const withoutDelay = await run(false);
  const withDelay = await run(true);
  const release = await releaseBacklog();
  console.log(JSON.stringify({ messages: total, size: body.length, withoutDelay, withDelay, release: { messages: releaseTotal, ...release } }, null, 2));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
