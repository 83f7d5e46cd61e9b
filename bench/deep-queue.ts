// Deep queue: publish N persistent messages with confirms and no consumer to a
// Wharf started as a child process, report its RSS, kill -9 it, time the
// restart (recovery), then drain and report the rate. Prints numbers only.
//   node dist/bench/deep-queue.js [--messages 1000000] [--size 1024]

import amqp from 'amqplib';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const { values } = parseArgs({
  options: { messages: { type: 'string', default: '1000000' }, size: { type: 'string', default: '1024' } },
});
const total = Number(values.messages);
const body = Buffer.alloc(Number(values.size), 'x');
const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function start(dataDir: string): Promise<{ proc: ChildProcess; port: number; ms: number }> {
  const t0 = Date.now();
  const proc = spawn(process.execPath, [cli, 'serve', '--data-dir', dataDir, '--amqp-port', '0', '--http-port', '0', '--bind', '127.0.0.1', '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`broker exited ${code}`)));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const m = /amqp=\S*:(\d+)/.exec(line);
      if (m) resolve({ proc, port: Number(m[1]), ms: Date.now() - t0 });
    });
  });
}

function rssMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'wharf-bench-'));
  let b = await start(dataDir);
  const url = `amqp://guest:guest@127.0.0.1:${b.port}`;
  const conn = await amqp.connect(url);
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
  const afterFill = rssMb(b.proc.pid!);
  await conn.close().catch(() => undefined);
  b.proc.removeAllListeners('exit');
  b.proc.kill('SIGKILL');
  await new Promise((r) => b.proc.once('exit', r));
  b = await start(dataDir);
  const afterRecovery = rssMb(b.proc.pid!);
  const conn2 = await amqp.connect(`amqp://guest:guest@127.0.0.1:${b.port}`);
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
  const afterDrain = rssMb(b.proc.pid!);
  console.log(
    JSON.stringify({
      messages: total,
      size: body.length,
      fillPerSec: Math.round(total / fillSecs),
      rssAfterFillMb: afterFill.rss,
      peakRssFillMb: afterFill.peak,
      recoveredMessages: messageCount,
      recoveryMs: b.ms,
      rssAfterRecoveryMb: afterRecovery.rss,
      drainPerSec: Math.round(messageCount / drainSecs),
      peakRssDrainMb: afterDrain.peak,
    }),
  );
  await conn2.close();
  b.proc.removeAllListeners('exit');
  b.proc.kill('SIGTERM');
  await new Promise((r) => b.proc.once('exit', r));
  rmSync(dataDir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
