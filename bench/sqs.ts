// SQS through AWS SDK v3 against a fresh Wharf child process. Prints numbers; asserts
// nothing. Three parts:
//
// 1. throughput: --workers loops, each SendMessageBatch (10) -> ReceiveMessage (10) ->
//    DeleteMessageBatch, over keep-alive connections, for --seconds; messages deleted/s
//    end to end (every one was fsync'd on send and its ack fsync'd on delete), and the
//    broker's CPU per message. Once with the SDK, once with raw signed HTTP (cheaper for
//    the client, which on a small machine is what limits the SDK run).
// 2. the client's ceiling: the same SDK calls against a do-nothing HTTP server (a child
//    process answering canned replies with the right MD5s), so the SDK's own cost is known.
// 3. long polls: --waiters concurrent ReceiveMessage calls (WaitTimeSeconds 20, raw HTTP
//    signed here, one keep-alive socket each) on one queue; the broker's RSS before and
//    while they wait; then --wakes SendMessage calls one after another, each timed from
//    its start to the moment a waiter's answer with the message arrives (p50/p99/max).
//
//   node dist/bench/sqs.js [--seconds 5] [--workers 16] [--waiters 10000] [--wakes 300]
//                          [--size 100] [--parts throughput,ceiling,longpoll] [--cpu-prof DIR]
//
// --cpu-prof DIR runs the broker under node --cpu-prof (written when it stops).

import { DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuMs } from './lib/proc.js';
import { signedJsonHeaders, type SigningKey } from './lib/sigv4-sign.js';
import { rssMb, startWharf, stopWharf, type WharfChild } from './lib/wharf-child.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    workers: { type: 'string', default: '16' },
    waiters: { type: 'string', default: '10000' },
    wakes: { type: 'string', default: '300' },
    size: { type: 'string', default: '100' },
    parts: { type: 'string', default: 'throughput,ceiling,longpoll' },
    'cpu-prof': { type: 'string' },
    canned: { type: 'boolean', default: false },
  },
});

const seconds = Number(values.seconds);
const workers = Number(values.workers);
const waiterCount = Number(values.waiters);
const wakes = Number(values.wakes);
const body = 'x'.repeat(Number(values.size));
const parts = new Set(values.parts.split(','));
const KEY: SigningKey = { accessKey: 'test', secret: 'test', region: 'us-east-1', service: 'sqs' };
const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

function sqsClient(port: number, agent: Agent): SQSClient {
  return new SQSClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: KEY.region,
    credentials: { accessKeyId: KEY.accessKey, secretAccessKey: KEY.secret },
    maxAttempts: 1,
    requestHandler: { httpAgent: agent },
  });
}

/** One raw signed AWS JSON call; resolves with the parsed answer. */
function call(port: number, agent: Agent, action: string, params: object): { done: Promise<Record<string, unknown>>; abort: () => void } {
  const payload = JSON.stringify(params);
  const headers = signedJsonHeaders(KEY, `127.0.0.1:${port}`, `AmazonSQS.${action}`, payload);
  const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers, agent });
  const done = new Promise<Record<string, unknown>>((resolve, reject) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) reject(new Error(`${action}: ${res.statusCode} ${text}`));
        else resolve(JSON.parse(text) as Record<string, unknown>);
      });
    });
    req.on('error', reject);
  });
  req.end(payload);
  return { done, abort: () => req.destroy() };
}

/** One worker's three calls, over the SDK or raw signed HTTP. */
interface LoopCalls {
  send(): Promise<unknown>;
  receive(): Promise<{ ReceiptHandle?: string }[]>;
  remove(entries: { Id: string; ReceiptHandle: string | undefined }[]): Promise<unknown>;
}

/** --workers SendMessageBatch -> ReceiveMessage -> DeleteMessageBatch loops for --seconds; messages deleted and calls per second. */
async function runLoops(c: LoopCalls): Promise<{ rate: number; calls: number }> {
  let deleted = 0;
  let calls = 0;
  let stop = false;
  const loop = async (): Promise<void> => {
    while (!stop) {
      await c.send();
      const msgs = await c.receive();
      calls += 2;
      if (msgs.length === 0) continue;
      await c.remove(msgs.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle })));
      calls++;
      deleted += msgs.length;
    }
  };
  const started = performance.now();
  const timer = setTimeout(() => (stop = true), seconds * 1000);
  await Promise.all(Array.from({ length: workers }, loop));
  clearTimeout(timer);
  const elapsedS = (performance.now() - started) / 1000;
  return { rate: deleted / elapsedS, calls: calls / elapsedS };
}

/** The loops through AWS SDK v3. */
async function throughput(port: number, queueUrl: string): Promise<{ rate: number; calls: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: workers * 2 });
  const sqs = sqsClient(port, agent);
  const Entries = Array.from({ length: 10 }, (_, i) => ({ Id: `e${i}`, MessageBody: body }));
  const result = await runLoops({
    send: () => sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries })),
    receive: async () => (await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }))).Messages ?? [],
    remove: (entries) => sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries })),
  });
  sqs.destroy();
  agent.destroy();
  return result;
}

/** The same loops over raw signed HTTP (bench/lib/sigv4-sign.ts): far less client CPU than the SDK, so more of the broker shows. */
async function throughputRaw(port: number, queueUrl: string): Promise<{ rate: number; calls: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: workers * 2 });
  const Entries = Array.from({ length: 10 }, (_, i) => ({ Id: `e${i}`, MessageBody: body }));
  const result = await runLoops({
    send: () => call(port, agent, 'SendMessageBatch', { QueueUrl: queueUrl, Entries }).done,
    receive: async () => ((await call(port, agent, 'ReceiveMessage', { QueueUrl: queueUrl, MaxNumberOfMessages: 10 }).done).Messages ?? []) as { ReceiptHandle: string }[],
    remove: (entries) => call(port, agent, 'DeleteMessageBatch', { QueueUrl: queueUrl, Entries: entries }).done,
  });
  agent.destroy();
  return result;
}

/** The do-nothing SQS endpoint (child process mode): canned replies by X-Amz-Target, MD5s right for `body`. */
function serveCanned(): void {
  const digest = md5(body);
  const replies: Record<string, string> = {
    SendMessageBatch: JSON.stringify({ Successful: Array.from({ length: 10 }, (_, i) => ({ Id: `e${i}`, MessageId: randomUUID(), MD5OfMessageBody: digest })), Failed: [] }),
    ReceiveMessage: JSON.stringify({ Messages: Array.from({ length: 10 }, (_, i) => ({ MessageId: randomUUID(), ReceiptHandle: `handle-${i}`, MD5OfBody: digest, Body: body })) }),
    DeleteMessageBatch: JSON.stringify({ Successful: Array.from({ length: 10 }, (_, i) => ({ Id: `d${i}` })), Failed: [] }),
  };
  const server = createServer({ keepAlive: true }, (req, res) => {
    req.resume();
    req.on('end', () => {
      const action = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
      const reply = replies[action] ?? '{}';
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': randomUUID(), 'content-length': Buffer.byteLength(reply) });
      res.end(reply);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => console.log(`canned listening ${(server.address() as AddressInfo).port}`));
}

async function ceiling(): Promise<{ rate: number; calls: number }> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, [self, '--canned', '--size', String(body.length)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        const m = /^canned listening (\d+)/.exec(line);
        if (m) resolve(Number(m[1]));
      });
    });
    return await throughput(port, `http://127.0.0.1:${port}/000000000000/canned`);
  } finally {
    child.kill('SIGTERM');
  }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function longPolls(b: WharfChild, queueUrl: string): Promise<void> {
  const port = b.awsPort;
  const before = rssMb(b).rss;
  const agent = new Agent({ keepAlive: true, maxSockets: waiterCount + 10 });
  const woken: ((n: number) => void)[] = [];
  let answeredEmpty = 0;
  const calls = Array.from({ length: waiterCount }, () => call(port, agent, 'ReceiveMessage', { QueueUrl: queueUrl, WaitTimeSeconds: 20 }));
  for (const c of calls) {
    c.done.then(
      (r) => {
        const n = Array.isArray(r.Messages) ? r.Messages.length : 0;
        if (n === 0) answeredEmpty++;
        else woken.shift()?.(n);
      },
      () => undefined,
    );
  }
  // There is no external count of waiters: wait until the broker has taken every request in, i.e. is idle.
  await quiet(b.proc.pid ?? 0);
  const waiting = rssMb(b);
  const sender = new Agent({ keepAlive: true, maxSockets: 1 });
  const latenciesMs: number[] = [];
  for (let i = 0; i < Math.min(wakes, waiterCount); i++) {
    const t0 = performance.now();
    const got = new Promise<number>((resolve) => woken.push(resolve));
    const sent = call(port, sender, 'SendMessage', { QueueUrl: queueUrl, MessageBody: body }).done;
    await got;
    latenciesMs.push(performance.now() - t0);
    await sent;
  }
  latenciesMs.sort((x, y) => x - y);
  for (const c of calls) c.abort();
  agent.destroy();
  sender.destroy();
  await new Promise((r) => setTimeout(r, 1000));
  const after = rssMb(b);
  console.log(`long polls: ${waiterCount} waiting ReceiveMessage calls on one queue`);
  console.log(`  broker RSS: ${before} MB before, ${waiting.rss} MB while they wait (peak ${waiting.peak} MB), ${after.rss} MB 1 s after they disconnected (before a GC)`);
  console.log(`  wake latency (SendMessage start -> a waiter's answer), ${latenciesMs.length} sends one at a time: p50 ${latenciesMs[Math.floor(latenciesMs.length / 2)].toFixed(2)} ms, p99 ${percentile(latenciesMs, 99).toFixed(2)} ms, max ${latenciesMs[latenciesMs.length - 1].toFixed(2)} ms`);
  if (answeredEmpty > 0) console.log(`  ${answeredEmpty} waiters timed out before the wakes ended (numbers above still hold)`);
}

/** Resolves once the process used under 10 ms of CPU in 500 ms (30 s at most). */
async function quiet(pid: number): Promise<void> {
  const until = Date.now() + 30_000;
  let last = cpuMs(pid) ?? 0;
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 500));
    const now = cpuMs(pid) ?? 0;
    if (now - last < 10) return;
    last = now;
  }
}

async function createQueue(port: number, name: string): Promise<string> {
  const agent = new Agent({ keepAlive: false });
  const r = await call(port, agent, 'CreateQueue', { QueueName: name }).done;
  return String(r.QueueUrl);
}

async function main(): Promise<void> {
  if (values.canned) {
    serveCanned();
    return;
  }
  const profDir = values['cpu-prof'];
  const nodeArgs = profDir !== undefined ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [];
  console.log(`SQS bench: ${workers} workers x (SendMessageBatch 10, ReceiveMessage 10, DeleteMessageBatch), ${body.length} B bodies, ${seconds} s; the machine may be shared, so numbers are indicative`);
  if (parts.has('throughput')) {
    const dataDir = await mkdtemp(join(tmpdir(), 'wharf-bench-sqs-'));
    const b = await startWharf(dataDir, nodeArgs);
    try {
      const url = await createQueue(b.awsPort, 'bench-sqs');
      for (const [client, run] of [['SDK', throughput], ['raw HTTP', throughputRaw]] as const) {
        const cpu0 = cpuMs(b.proc.pid ?? 0) ?? 0;
        const t = await run(b.awsPort, url);
        const perMsgUs = (((cpuMs(b.proc.pid ?? 0) ?? 0) - cpu0) * 1000) / (t.rate * seconds);
        console.log(`wharf (${client}): ${Math.round(t.rate)} msg/s end to end (${Math.round(t.calls)} calls/s), broker CPU ${perMsgUs.toFixed(0)} µs/msg (${Math.round(1e6 / perMsgUs)} msg/s per core at most), broker RSS ${rssMb(b).rss} MB`);
      }
    } finally {
      await stopWharf(b, 'SIGTERM');
      await rm(dataDir, { recursive: true, force: true });
    }
  }
  if (parts.has('ceiling')) {
    const c = await ceiling();
    console.log(`ceiling: ${Math.round(c.rate)} msg/s (${Math.round(c.calls)} calls/s): the same SDK calls against canned replies`);
  }
  if (parts.has('longpoll')) {
    const dataDir = await mkdtemp(join(tmpdir(), 'wharf-bench-sqs-'));
    const b = await startWharf(dataDir, nodeArgs);
    try {
      await longPolls(b, await createQueue(b.awsPort, 'bench-sqs-poll'));
    } finally {
      await stopWharf(b, 'SIGTERM');
      await rm(dataDir, { recursive: true, force: true });
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
