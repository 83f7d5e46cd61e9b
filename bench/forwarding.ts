// Publish-with-confirms throughput into a classic queue of a two-node cluster (a private
// etcd, `wharf serve --cluster` children), connected to the queue's home vs through the other
// node, which forwards each message over its link (docs/cluster.md, "Forwarding"). With
// --stream, a stream queue of two replicas instead: on its leader vs through the follower, which
// forwards to the leader (confirmed once both have it on disk). Prints numbers only.
//
//   npm run build && node dist/bench/forwarding.js [--messages 20000] [--window 100] [--rounds 3] [--stream]

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { connect } from 'amqplib';
import { startEtcd } from '../src/cluster/etcd-process.js';
import { publishConfirmed } from './lib/publish-confirmed.js';
import { startWharf, stopWharf, type WharfChild } from './lib/wharf-child.js';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function rate(url: string, queue: string, messages: number, window: number): Promise<number> {
  const conn = await connect(url);
  const ch = await conn.createConfirmChannel();
  const body = Buffer.alloc(16, 1);
  const t0 = performance.now();
  await publishConfirmed(ch, messages, window, (_i, done) => ch.sendToQueue(queue, body, { persistent: true }, done));
  const seconds = (performance.now() - t0) / 1000;
  if (!stream) await ch.purgeQueue(queue); // a stream cannot be purged (RabbitMQ: 540)
  await conn.close();
  return Math.round(messages / seconds);
}

/** The node leading the stream queue, as /api/nodes on `asked` says. */
async function streamLeader(asked: WharfChild, name: string): Promise<string | undefined> {
  const r = await fetch(`http://127.0.0.1:${asked.httpPort}/api/nodes`, { headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` } });
  const list = (await r.json()) as { name: string; leaders?: { resource: string }[] }[];
  return list.find((n) => (n.leaders ?? []).some((l) => l.resource === `stream/%2F/${name}/0`))?.name;
}

const messages = option('messages', 20_000);
const window = option('window', 100);
const rounds = option('rounds', 3);
const stream = process.argv.includes('--stream');
const queue = stream ? 'bench-fwd-stream' : 'bench-fwd';
const etcd = await startEtcd();
const dirs: string[] = [];
const nodes: WharfChild[] = [];
try {
  for (const name of ['n1', 'n2']) {
    const dir = await mkdtemp(join(tmpdir(), `wharf-bench-fwd-${name}-`));
    dirs.push(dir);
    nodes.push(await startWharf(dir, [], ['--cluster', etcd.endpoint, '--node-name', name, '--advertise-host', '127.0.0.1', '--cluster-lease-ttl', '3']));
  }
  let [home, other] = nodes as [WharfChild, WharfChild];
  const setup = await connect(home.url);
  await (await setup.createChannel()).assertQueue(queue, stream ? { durable: true, arguments: { 'x-queue-type': 'stream' } } : { durable: true });
  await setup.close();
  // The definition reaches n2 through etcd's watch; a stream queue's home is its leader.
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`http://127.0.0.1:${other.httpPort}/api/queues/%2F/${queue}`, { headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` } });
    const leader = stream ? await streamLeader(other, queue) : 'n1';
    if (r.status === 200 && leader !== undefined) {
      if (leader === 'n2') [home, other] = [other, home];
      break;
    }
    await new Promise((r2) => setTimeout(r2, 100));
  }
  console.log(`publish with confirms, ${messages} persistent 16-byte messages, window ${window}, into ${stream ? 'a stream queue of two replicas' : 'a queue homed on n1'}`);
  for (let r = 1; r <= rounds; r++) {
    const direct = await rate(home.url, queue, messages, window);
    const forwarded = await rate(other.url, queue, messages, window);
    console.log(`round ${r}: on the home ${direct} msg/s, through the other node ${forwarded} msg/s (${(forwarded / direct).toFixed(2)}x)`);
  }
} finally {
  for (const n of nodes) await stopWharf(n, 'SIGTERM').catch(() => undefined);
  await etcd.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
}
