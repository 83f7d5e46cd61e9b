// Dead-letter replay at scale: N persistent messages in a queue (paged out to
// disk), then one move of all of them to another durable queue through the
// management API. Prints the move's time and rate, the time of a peek deep in the
// queue, and how long a client's round trip (queue.declare passive, every 10 ms
// on another connection) took at worst while the move ran: the move goes in
// batches, each yielding the event loop. Prints numbers only.
//   node dist/bench/move.js [--messages 100000] [--size 1024] [--batch 1000]

import amqp from 'amqplib';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startWharf, stopWharf, type WharfChild } from './lib/wharf-child.js';

const { values } = parseArgs({
  options: { messages: { type: 'string', default: '100000' }, size: { type: 'string', default: '1024' }, batch: { type: 'string', default: '1000' } },
});
const total = Number(values.messages);
const body = Buffer.alloc(Number(values.size), 'x');

function api(b: WharfChild, method: string, path: string, payload?: unknown): Promise<Record<string, unknown>> {
  const data = payload === undefined ? undefined : JSON.stringify(payload);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: b.httpPort, method, path, auth: 'guest:guest', headers: data ? { 'content-type': 'application/json' } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>));
      },
    );
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

async function fill(url: string): Promise<void> {
  const conn = await amqp.connect(url);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('bench-dlq', { durable: true });
  await ch.assertQueue('bench-dst', { durable: true });
  for (let i = 0; i < total; i++) {
    ch.sendToQueue('bench-dlq', body, { persistent: true });
    if (i % 2000 === 1999) await ch.waitForConfirms();
  }
  await ch.waitForConfirms();
  await conn.close();
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'wharf-bench-move-'));
  const b = await startWharf(dataDir, process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : []);
  try {
    await fill(b.url);
    const p0 = performance.now();
    await api(b, 'GET', `/api/wharf/queues/%2F/bench-dlq/messages?from=${Math.max(0, total - 500)}&count=500`);
    const peekMs = performance.now() - p0;
    const probeConn = await amqp.connect(b.url);
    const probe = await probeConn.createChannel();
    let worstMs = 0;
    let probes = 0;
    let running = true;
    const probing = (async () => {
      while (running) {
        const t = performance.now();
        await probe.checkQueue('bench-dst');
        worstMs = Math.max(worstMs, performance.now() - t);
        probes++;
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    // The same probe with the broker idle, for comparison.
    await new Promise((r) => setTimeout(r, 1000));
    const idleWorstMs = worstMs;
    worstMs = 0;
    probes = 0;
    const t0 = performance.now();
    const job = await api(b, 'POST', '/api/wharf/queues/%2F/bench-dlq/move', { destination: { queue: 'bench-dst' }, batch_size: Number(values.batch) });
    let state = job;
    while (state.state === 'running') {
      await new Promise((r) => setTimeout(r, 50));
      state = await api(b, 'GET', `/api/wharf/moves/${String(job.id)}`);
    }
    const moveSecs = (performance.now() - t0) / 1000;
    running = false;
    await probing;
    await probeConn.close();
    console.log(`messages ${total} x ${body.length} B, batch ${values.batch}`);
    console.log(`move: ${String(state.state)}, ${String(state.moved)} moved in ${moveSecs.toFixed(2)} s (${Math.round(Number(state.moved) / moveSecs)} msg/s)`);
    console.log(`peek of 500 at position ${Math.max(0, total - 500)}: ${peekMs.toFixed(0)} ms`);
    console.log(`client round trips during the move: ${probes}, worst ${worstMs.toFixed(1)} ms (idle broker: worst ${idleWorstMs.toFixed(1)} ms)`);
  } finally {
    await stopWharf(b, 'SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

void main();
