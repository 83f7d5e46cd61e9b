// A publisher that floods 1 MiB persistent messages on a confirm channel and
// never reads its socket (so never its confirms), against `wharf serve` in a
// child process: prints the broker's RSS over the flood, with the publish
// budget (--max-unconfirmed-bytes) at its default and effectively off.
// Prints numbers only (docs/limits.md has a run's figures).
//
// A second part runs the broker in this process and holds every fsync for
// --hold-seconds (a disk that has stopped): how much the flooding connection
// makes the broker take in, and the process's RSS, with and without the budget.
//
//   npm run build && node dist/bench/publish-flood.js [--messages 2000] [--budget 64MiB] [--hold-seconds 5]

import { rm } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import amqp from 'amqplib';
import { makeDataDir, spawnBroker } from '../test/helpers/broker.js';
import { startBroker } from '../src/index.js';
import { parseSize } from '../src/cli/config.js';
import { processRss } from '../test/fuzz/amqp-fuzz-core.js';
import { encodeMethod } from '../src/protocol/amqp/index.js';
import { frame } from '../test/fuzz/amqp-fuzz-core.js';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '2000' },
    budget: { type: 'string', default: '64MiB' },
    'message-bytes': { type: 'string', default: String(1024 * 1024) },
    'hold-seconds': { type: 'string', default: '5' },
  },
});
const messages = Number(args.messages);
const messageBytes = Number(args['message-bytes']);

function pipelinedOpen(queue: string): Buffer {
  const m = (ch: number, x: Parameters<typeof encodeMethod>[0]): Buffer => frame(1, ch, encodeMethod(x));
  return Buffer.concat([
    Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'),
    m(0, { name: 'connection.start-ok', clientProperties: {}, mechanism: 'PLAIN', response: Buffer.from('\0guest\0guest'), locale: 'en_US' }),
    m(0, { name: 'connection.tune-ok', channelMax: 2047, frameMax: 131072, heartbeat: 0 }),
    m(0, { name: 'connection.open', virtualHost: '/', capabilities: '', insist: false }),
    m(1, { name: 'channel.open', outOfBand: '' }),
    m(1, { name: 'confirm.select', nowait: false }),
    m(1, { name: 'queue.declare', ticket: 0, queue, passive: false, durable: true, exclusive: false, autoDelete: false, nowait: false, arguments: {} }),
  ]);
}

function oneMessage(queue: string): Buffer {
  const parts = [frame(1, 1, encodeMethod({ name: 'basic.publish', ticket: 0, exchange: '', routingKey: queue, mandatory: false, immediate: false }))];
  const header = Buffer.alloc(15);
  header.writeUInt16BE(60, 0);
  header.writeUInt32BE(messageBytes, 8);
  header.writeUInt16BE(0x1000, 12); // delivery-mode present
  header[14] = 2; // persistent
  parts.push(frame(2, 1, header));
  const chunk = 131_064;
  for (let off = 0; off < messageBytes; off += chunk) parts.push(frame(3, 1, Buffer.alloc(Math.min(chunk, messageBytes - off), 7)));
  return Buffer.concat(parts);
}

async function flood(budget: string): Promise<{ rssStartMiB: number; rssMaxMiB: number; seconds: number }> {
  const dir = await makeDataDir();
  const broker = await spawnBroker(dir, ['--log-level', 'error', '--max-unconfirmed-bytes', budget]);
  const pid = broker.process.pid as number;
  const queue = `flood-${Date.now()}`;
  const rssStart = processRss(pid) ?? 0;
  let rssMax = rssStart;
  const timer = setInterval(() => (rssMax = Math.max(rssMax, processRss(pid) ?? 0)), 50);
  const started = Date.now();
  const socket: Socket = netConnect({ host: '127.0.0.1', port: broker.port });
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.pause(); // never read: the confirms pile up unread
  socket.write(pipelinedOpen(queue));
  const msg = oneMessage(queue);
  for (let i = 0; i < messages; i++) {
    if (!socket.write(msg)) await new Promise((resolve) => socket.once('drain', resolve));
  }
  // Done writing: wait until the broker has every message (an amqplib check from outside).
  const conn = await amqp.connect(broker.url);
  const ch = await conn.createChannel();
  while ((await ch.checkQueue(queue)).messageCount < messages) await new Promise((r) => setTimeout(r, 100));
  const seconds = (Date.now() - started) / 1000;
  clearInterval(timer);
  await conn.close();
  socket.destroy();
  await broker.kill('SIGTERM');
  await rm(dir, { recursive: true, force: true });
  return { rssStartMiB: rssStart / 2 ** 20, rssMaxMiB: rssMax / 2 ** 20, seconds };
}

console.log(`${messages} persistent messages of ${messageBytes} bytes, confirm mode, publisher never reads its socket`);
for (const budget of [args.budget, '1TiB']) {
  const r = await flood(budget);
  const label = budget === '1TiB' ? 'budget off (1TiB)' : `--max-unconfirmed-bytes ${budget}`;
  console.log(`${label.padEnd(36)} broker RSS ${r.rssStartMiB.toFixed(0)} -> max ${r.rssMaxMiB.toFixed(0)} MiB, ${(messages * messageBytes / 2 ** 20 / r.seconds).toFixed(0)} MiB/s`);
}

/** In this process, fsyncs held for `holdMs` while the publisher floods: bytes taken in and RSS. */
async function floodHeld(budgetBytes: number, holdMs: number): Promise<{ takenMiB: number; rssMaxMiB: number; pauses: number }> {
  const dir = await makeDataDir();
  const broker = await startBroker({ dataDir: dir, amqpPort: 0, httpPort: 0, kafkaPort: 0, bind: '127.0.0.1', logLevel: 'error', maxUnconfirmedBytes: budgetBytes });
  const queue = `flood-held-${Date.now()}`;
  global.gc?.();
  let rssMax = process.memoryUsage().rss;
  const timer = setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage().rss)), 50);
  const release = broker.holdDurability();
  const socket: Socket = netConnect({ host: '127.0.0.1', port: broker.amqpPort });
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.pause();
  socket.write(pipelinedOpen(queue));
  const msg = oneMessage(queue);
  const deadline = Date.now() + holdMs;
  let taken = 0;
  for (let i = 0; i < messages && Date.now() < deadline; i++) {
    if (!socket.write(msg)) {
      await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())))]);
    }
    taken = Math.max(taken, broker.publishBudgets().bytes);
  }
  while (Date.now() < deadline) {
    taken = Math.max(taken, broker.publishBudgets().bytes);
    await new Promise((r) => setTimeout(r, 50));
  }
  const { pauses } = broker.publishBudgets();
  clearInterval(timer);
  release();
  socket.destroy();
  await broker.close();
  await rm(dir, { recursive: true, force: true });
  return { takenMiB: taken / 2 ** 20, rssMaxMiB: rssMax / 2 ** 20, pauses };
}

const holdMs = Number(args['hold-seconds']) * 1000;
console.log(`fsyncs held for ${holdMs / 1000} s (in process) while the same publisher floods:`);
for (const budget of [args.budget, '1TiB']) {
  const r = await floodHeld(parseSize(budget) as number, holdMs);
  const label = budget === '1TiB' ? 'budget off (1TiB)' : `--max-unconfirmed-bytes ${budget}`;
  console.log(`${label.padEnd(36)} unconfirmed bytes held max ${r.takenMiB.toFixed(0)} MiB, process RSS max ${r.rssMaxMiB.toFixed(0)} MiB, reading paused ${r.pauses}x`);
}
