// Confirmed persistent publishes into a quorum queue of three replicas (docs/cluster.md,
// "Quorum queues"): a private etcd and three `wharf serve --cluster` processes on loopback
// (the cluster tests' TestCluster), one amqplib publisher on the queue's leader with a confirm
// window, then one consumer draining with acks, then each replica's log on disk once the
// leader has cut it (docs/cluster.md, "The log is cut"). With --deep: no consumer; kill -9 of
// the leader, and the new leader's resident memory (peak, from /proc) while it replays the deep
// queue. Prints numbers, asserts nothing.
//
//   npm run build && node dist/bench/quorum-cluster.js [--messages 20000] [--size 100] [--window 1000] [--deep]

import { connect, type Channel } from 'amqplib';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { NODE_NAMES, TestCluster } from '../test/helpers/cluster.js';
import { partitionDirIn } from '../test/helpers/jepsen/checker.js';
import { publishConfirmed } from './lib/publish-confirmed.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '20000' },
    size: { type: 'string', default: '100' },
    window: { type: 'string', default: '1000' },
    deep: { type: 'boolean', default: false },
  },
});
const messages = Number(values.messages);
const body = Buffer.alloc(Number(values.size), 'x');
const window = Number(values.window);
const AUTH = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };

async function leaderOf(cluster: TestCluster, q: string, via = 'n1', online = 3): Promise<string> {
  for (;;) {
    const res = await fetch(`http://127.0.0.1:${cluster.node(via).httpPort}/api/queues/%2F/${q}`, { headers: AUTH }).catch(() => undefined);
    const v = (await res?.json().catch(() => undefined)) as { leader?: string | null; online?: string[] } | undefined;
    if (v?.leader && v.online?.length === online) return v.leader;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A replica's quorum queue log on disk: its log start offset and the bytes of its segments. */
async function logOnDisk(dataDir: string, q: string): Promise<{ logStart: number; bytes: number }> {
  const dir = await partitionDirIn(dataDir, `amq.qlog/${q}`, 0);
  const meta = JSON.parse(await readFile(path.join(dir, 'partition.json'), 'utf8').catch(() => '{}')) as { logStartOffset?: number };
  let bytes = 0;
  for (const f of await readdir(dir)) if (f.endsWith('.log')) bytes += (await stat(path.join(dir, f))).size;
  return { logStart: meta.logStartOffset ?? 0, bytes };
}

/** A process's resident memory now and at its peak, in MiB (/proc/<pid>/status). */
async function memoryOf(pid: number | undefined): Promise<{ rssMiB: number; peakMiB: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => Number(/\d+/.exec(status.split('\n').find((l) => l.startsWith(field)) ?? '')?.[0] ?? 0);
  return { rssMiB: Math.round(kib('VmRSS:') / 1024), peakMiB: Math.round(kib('VmHWM:') / 1024) };
}

async function replayDeep(cluster: TestCluster, q: string, leader: string): Promise<void> {
  const survivors = NODE_NAMES.filter((n) => n !== leader);
  const before = new Map(await Promise.all(survivors.map(async (n) => [n, await memoryOf(cluster.node(n).process.pid)] as const)));
  const killed = performance.now();
  await cluster.node(leader).kill('SIGKILL');
  const next = await leaderOf(cluster, q, survivors[0], 2);
  for (;;) {
    const res = await fetch(`http://127.0.0.1:${cluster.node(next).httpPort}/api/queues/%2F/${q}`, { headers: AUTH }).catch(() => undefined);
    const v = (await res?.json().catch(() => undefined)) as { messages?: number } | undefined;
    if (v?.messages === messages) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const servingMs = performance.now() - killed;
  const was = before.get(next);
  const now = await memoryOf(cluster.node(next).process.pid);
  console.log(
    `deep quorum queue of ${messages} x ${body.length} B: kill -9 of the leader ${leader}; ${next} serves all of them ${Math.round(servingMs)} ms later; ` +
      `its resident memory ${was?.rssMiB} MiB before (peak ${was?.peakMiB}), ${now.rssMiB} MiB after, peak ${now.peakMiB} MiB (+${now.peakMiB - (was?.rssMiB ?? 0)} MiB)`,
  );
}

/** Drains the queue with acks, then prints each replica's log on disk before and after the leader cut it. */
async function drainAndCut(cluster: TestCluster, ch: Channel, q: string, publishedMs: number, leader: string): Promise<void> {
  const published = await Promise.all(NODE_NAMES.map((n) => logOnDisk(cluster.dirs.get(n) ?? '', q)));
  await ch.prefetch(1000);
  const drainStarted = performance.now();
  await new Promise<void>((resolve) => {
    let n = 0;
    void ch.consume(q, (m) => {
      if (m === null) return;
      ch.ack(m);
      if (++n === messages) resolve();
    });
  });
  const drainMs = performance.now() - drainStarted;
  console.log(
    `quorum queue, 3 replicas (leader ${leader}), ${messages} x ${body.length} B persistent, confirm window ${window}: ` +
      `${Math.round((messages / publishedMs) * 1000)} confirmed msg/s; consumed with acks ${Math.round((messages / drainMs) * 1000)} msg/s`,
  );
  // The leader cuts its log lazily (on its tick): wait for every replica's log start to pass the messages, or 20 s.
  const deadline = Date.now() + 20_000;
  let acked = published;
  while (Date.now() < deadline) {
    acked = await Promise.all(NODE_NAMES.map((n) => logOnDisk(cluster.dirs.get(n) ?? '', q)));
    if (acked.every((a) => a.logStart >= messages)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  for (const [i, n] of NODE_NAMES.entries()) {
    console.log(`  ${n}: its log ${published[i].bytes} B on disk once published, ${acked[i].bytes} B (log start ${acked[i].logStart}) once all acked`);
  }
}

const cluster = new TestCluster();
await cluster.start();
try {
  const q = 'bench-qq';
  const setup = await connect(cluster.node('n1').url);
  await (await setup.createChannel()).assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await setup.close();
  const leader = await leaderOf(cluster, q);
  const conn = await connect(cluster.node(leader).url);
  const ch = await conn.createConfirmChannel();
  const started = performance.now();
  await publishConfirmed(ch, messages, window, (_i, done) => ch.sendToQueue(q, body, { persistent: true }, done));
  const publishMs = performance.now() - started;
  if (values.deep) {
    console.log(`quorum queue, 3 replicas: ${messages} x ${body.length} B persistent published, ${Math.round((messages / publishMs) * 1000)} confirmed msg/s`);
    await conn.close();
    await replayDeep(cluster, q, leader);
  } else {
    await drainAndCut(cluster, await conn.createChannel(), q, publishMs, leader);
    await conn.close();
  }
} finally {
  await cluster.stop();
  await cluster.removeData();
}
