// What a three-node RabbitMQ cluster (Debian's 3.10, bench/lib/rabbitmq-cluster.ts) and a
// three-node Wharf answer in the forwarding cases of docs/cluster.md ("Compared with RabbitMQ"):
// a client on one node using an exclusive queue of another connection on another node, a classic
// durable queue whose home node is down, and a quorum queue without a quorum (two of three nodes
// down). Each operation runs on a fresh connection, with amqplib, and prints the outcome: the
// reply code and text that closed the channel, or what came back. Not part of npm test: it prints,
// it asserts nothing.
//
//   npm run build && node dist/bench/cluster-texts.js [--only rabbitmq|wharf]

import { tmpdir } from 'node:os';
import { connect, type ChannelModel } from 'amqplib';
import { startRabbitCluster } from './lib/rabbitmq-cluster.js';
import { startWharfCluster } from './lib/wharf-cluster.js';

const OP_TIMEOUT_MS = 15_000;
/** After a kill, time for the others to see the node gone (Wharf's lease TTL is 2 s here; RabbitMQ sees the closed distribution link). */
const AFTER_KILL_MS = 6_000;

interface Target {
  readonly name: string;
  readonly urls: readonly string[];
  kill(i: number): void;
  stop(): Promise<void>;
}

type Outcome = string;

function withTimeout<T>(p: Promise<T>): Promise<T | 'timeout'> {
  return Promise.race([p, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), OP_TIMEOUT_MS))]);
}

/** Runs `op` on a fresh connection's channel; the outcome is what came back or how the channel closed. */
async function attempt(url: string, op: (conn: ChannelModel) => Promise<string>): Promise<Outcome> {
  let conn: ChannelModel | undefined;
  try {
    conn = await connect(url);
    conn.on('error', () => undefined);
    const r = await withTimeout(op(conn));
    return r === 'timeout' ? `no answer in ${OP_TIMEOUT_MS / 1000} s` : r;
  } catch (err) {
    const e = err as { code?: number; message: string };
    // amqplib: 'Operation failed: QueueDeclare; 404 (NOT-FOUND) with message "NOT_FOUND - ..."'.
    const m = /(\d{3}) \([A-Z_-]+\) with message "(.*)"$/s.exec(e.message);
    return m ? `${m[1]} ${m[2]}` : `error: ${e.message}`;
  } finally {
    // A broker stuck on the operation may never answer the close either.
    if (conn !== undefined) await withTimeout(conn.close().catch(() => undefined));
  }
}

const ops = {
  passive: (q: string) => async (c: ChannelModel) => {
    const r = await (await c.createChannel()).checkQueue(q);
    return `declare-ok messages=${r.messageCount} consumers=${r.consumerCount}`;
  },
  declare: (q: string, args: Record<string, unknown> = {}) => async (c: ChannelModel) => {
    const r = await (await c.createChannel()).assertQueue(q, { durable: true, arguments: args });
    return `declare-ok messages=${r.messageCount} consumers=${r.consumerCount}`;
  },
  consume: (q: string) => async (c: ChannelModel) => {
    const ch = await c.createChannel();
    const r = await ch.consume(q, () => undefined);
    // A channel error may follow the consume-ok: give it a moment to arrive.
    await ch.checkQueue(q);
    return `consume-ok ${r.consumerTag.slice(0, 8)}…`;
  },
  get: (q: string) => async (c: ChannelModel) => {
    const m = await (await c.createChannel()).get(q, { noAck: true });
    return m === false ? 'get-empty' : `get-ok ${m.content.toString()}`;
  },
  publish: (q: string) => async (c: ChannelModel) => {
    const ch = await c.createConfirmChannel();
    let returned = false;
    ch.on('return', () => (returned = true));
    const confirm = new Promise<string>((resolve) => ch.sendToQueue(q, Buffer.from('x'), { persistent: true, mandatory: true }, (err) => resolve(err ? 'basic.nack' : 'basic.ack')));
    const r = await confirm;
    return `${r}${returned ? ' after basic.return' : ''}`;
  },
  purge: (q: string) => async (c: ChannelModel) => `purge-ok messages=${(await (await c.createChannel()).purgeQueue(q)).messageCount}`,
};

async function scenario(t: Target): Promise<[string, Outcome][]> {
  const out: [string, Outcome][] = [];
  const [u1, u2, u3] = t.urls as [string, string, string];
  const setup = await connect(u1);
  const ch = await setup.createConfirmChannel();
  await ch.assertQueue('texts-classic', { durable: true });
  await ch.assertQueue('texts-quorum', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  ch.sendToQueue('texts-classic', Buffer.from('c1'), { persistent: true });
  ch.sendToQueue('texts-quorum', Buffer.from('q1'), { persistent: true });
  await ch.waitForConfirms();
  // An exclusive queue of this connection, on node 1; the others try it from node 2.
  await (await setup.createChannel()).assertQueue('texts-exclusive', { exclusive: true });
  await new Promise((r) => setTimeout(r, 2_000)); // the definitions reach every node
  for (const [what, op] of [
    ['passive declare', ops.passive('texts-exclusive')],
    ['declare (not exclusive)', ops.declare('texts-exclusive')],
    ['consume', ops.consume('texts-exclusive')],
    ['get', ops.get('texts-exclusive')],
  ] as const) out.push([`exclusive queue of a connection on node 1, ${what} on node 2`, await attempt(u2, op)]);
  out.push(['classic queue on node 1 (up), declare on node 2', await attempt(u2, ops.declare('texts-classic'))]);
  await setup.close().catch(() => undefined);

  t.kill(0);
  await new Promise((r) => setTimeout(r, AFTER_KILL_MS));
  for (const [what, op] of [
    ['passive declare', ops.passive('texts-classic')],
    ['declare', ops.declare('texts-classic')],
    ['consume', ops.consume('texts-classic')],
    ['get', ops.get('texts-classic')],
    ['publish (confirm, mandatory)', ops.publish('texts-classic')],
    ['purge', ops.purge('texts-classic')],
  ] as const) out.push([`classic durable queue, home node 1 down: ${what} on node 2`, await attempt(u2, op)]);

  t.kill(1);
  await new Promise((r) => setTimeout(r, AFTER_KILL_MS));
  for (const [what, op] of [
    ['passive declare', ops.passive('texts-quorum')],
    ['declare', ops.declare('texts-quorum', { 'x-queue-type': 'quorum' })],
    ['consume', ops.consume('texts-quorum')],
    ['get', ops.get('texts-quorum')],
    ['publish (confirm, mandatory)', ops.publish('texts-quorum')],
  ] as const) out.push([`quorum queue, nodes 1 and 2 down (no quorum): ${what} on node 3`, await attempt(u3, op)]);
  return out;
}

const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const results = new Map<string, Map<string, Outcome>>();
const targets: (() => Promise<Target>)[] = [];
if (only !== 'wharf') {
  targets.push(async () => {
    const c = await startRabbitCluster(tmpdir(), 3, (line) => console.error(line));
    return { name: 'RabbitMQ 3.10', urls: c.nodes.map((n) => n.url), kill: (i) => c.kill(c.nodes[i]?.name ?? ''), stop: () => c.stop() };
  });
}
if (only !== 'rabbitmq') {
  targets.push(async () => {
    const c = await startWharfCluster(tmpdir(), 3, 2);
    return { name: 'Wharf', urls: c.nodes.map((n) => n.child.url), kill: (i) => c.kill(c.nodes[i]?.name ?? ''), stop: () => c.stop() };
  });
}
for (const start of targets) {
  const t = await start();
  try {
    console.error(`${t.name}: running the cases`);
    const rows = await scenario(t);
    for (const [c, o] of rows) console.error(`${t.name} | ${c} | ${o}`);
    results.set(t.name, new Map(rows));
  } finally {
    await t.stop();
  }
}
const names = [...results.keys()];
console.log(`| case | ${names.join(' | ')} |`);
console.log(`| --- | ${names.map(() => '---').join(' | ')} |`);
const cases = [...(results.values().next().value ?? new Map<string, Outcome>()).keys()];
for (const c of cases) console.log(`| ${c} | ${names.map((n) => (results.get(n)?.get(c) ?? '').replaceAll('|', '\\|')).join(' | ')} |`);
process.exit(0);
