// Deep queue: publish N persistent messages with confirms and no consumer to a
// Wharf started as a child process, report its RSS, kill -9 it, time the
// restart (recovery), then drain and report the rate. Prints numbers only.
//   node dist/bench/deep-queue.js [--messages 1000000] [--size 1024]

import amqp from 'amqplib';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { rssMb, startWharf, stopWharf } from './lib/wharf-child.js';

const { values } = parseArgs({
  options: { messages: { type: 'string', default: '1000000' }, size: { type: 'string', default: '1024' } },
});
const total = Number(values.messages);
const body = Buffer.alloc(Number(values.size), 'x');

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'wharf-bench-'));
  let b = await startWharf(dataDir);
  const conn = await amqp.connect(b.url);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('deep', { durable: true });
  const t0 = Date.now();
  let inFlight = 0;
  let sent = 0;
  await new Promise<void>((resolve, reject) => {
    const pump = (): void => {
      while (sent < total && inFlight < 2000) {
        inFlight++;
        sent++;
        ch.publish('', 'deep', body, { persistent: true }, (err) => {
          if (err) return reject(err);
          inFlight--;
          if (sent === total && inFlight === 0) resolve();
          else if (inFlight < 1000) pump();
        });
      }
    };
    pump();
  });
  const fillSecs = (Date.now() - t0) / 1000;
  const afterFill = rssMb(b);
  await conn.close().catch(() => undefined);
  await stopWharf(b, 'SIGKILL');
  b = await startWharf(dataDir);
  const afterRecovery = rssMb(b);
  const conn2 = await amqp.connect(b.url);
  const ch2 = await conn2.createChannel();
  const { messageCount } = await ch2.checkQueue('deep');
  await ch2.prefetch(1000);
  const t1 = Date.now();
  let got = 0;
  await new Promise<void>((resolve) => {
    void ch2.consume('deep', (m) => {
      if (!m) return;
      got++;
      if (got % 100 === 0 || got === messageCount) ch2.ack(m, true);
      if (got === messageCount) resolve();
    });
  });
  const drainSecs = (Date.now() - t1) / 1000;
  const afterDrain = rssMb(b);
  console.log(
    JSON.stringify({
      messages: total,
      size: body.length,
      fillPerSec: Math.round(total / fillSecs),
      rssAfterFillMb: afterFill.rss,
      peakRssFillMb: afterFill.peak,
      recoveredMessages: messageCount,
      recoveryMs: b.startMs,
      rssAfterRecoveryMb: afterRecovery.rss,
      drainPerSec: Math.round(messageCount / drainSecs),
      peakRssDrainMb: afterDrain.peak,
    }),
  );
  await conn2.close();
  await stopWharf(b, 'SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
