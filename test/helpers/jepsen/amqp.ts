// The AMQP workload of the Jepsen-style runs (docs/cluster.md, "Proving it"): a durable quorum
// queue on three `wharf serve --cluster` nodes, amqplib publishers on confirm channels (one per
// node to start with, each reconnecting to any live node after losing its connection), publishing
// with `mandatory` (a body returned unroutable is not a confirmed one), that record every confirmed
// body and every publish left without a confirm, and the seeded nemesis
// (nemesis.ts) on the queue's leader, its log's leader: kill -9, SIGSTOP, etcd's kill -9 and
// SIGSTOP and, with network: 'netns' (the clients in the root namespace reach the nodes over the
// bridge, as the Kafka workload's do), the network faults, etcd cut off and the splits. After the
// heal, one consumer drains the queue from any node, and the check holds the deliveries against
// the confirms: a confirmed body never delivered is lost, a body delivered that no publisher sent
// is a phantom (none of either may be); duplicates and unconfirmed bodies delivered are counted
// only (at least once: a publish retried or a delivery whose ack was lost comes again). No confirm
// may be given for a publish sent while the log's leader held its ISR alone or no node held a
// lease (nemesis.ts, quorumlessAcks).

import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { sleep } from '../async.js';
import { destroySocket } from '../amqplib.js';
import { loopbackHosts, netnsHosts, NODE_NAMES as NAMES, TestCluster, type LeaderSeen } from '../cluster.js';
import { ClusterKeys } from '../../../src/cluster/keys.js';
import { DEFAULT_CLUSTER_NAME } from '../../../src/cluster/control-plane.js';
import { INTERNAL_STREAM_PREFIX } from '../../../src/broker/stream/registry.js';
import { seededRandom } from '../../../src/util/random.js';
import {
  checkFaults, defaultFaults, ETCD_FAULTS, faultLines, nemesis, nemesisLine, NETNS_FAULTS, quorumlessAcks, waitFor,
  type Fault, type NemesisEvent, type TimedAck,
} from './nemesis.js';
import type { RunOptions } from './run.js';

/** The faults a queue's leader gets: all but kill-two (which leaves no majority to confirm anything). */
export const AMQP_FAULTS: readonly Fault[] = ['kill', 'pause', ...ETCD_FAULTS, ...NETNS_FAULTS];
/** A publish not confirmed within this is given up (its connection dropped): the node is likely paused. */
const CONFIRM_WAIT_MS = 5_000;
/** The drain ends once the queue has stayed empty this long. */
const DRAIN_QUIET_MS = 3_000;

export interface AmqpCheck {
  /** Confirmed bodies never delivered. */
  readonly lost: number;
  /** Deliveries beyond the first of a body. */
  readonly duplicates: number;
  /** Bodies delivered whose publish got no confirm (allowed: the confirm was lost in a failover). */
  readonly unconfirmedDelivered: number;
  /** Bodies delivered that no publisher sent (none may be). */
  readonly phantoms: number;
  /** The first few lost bodies, for a failure message. */
  readonly problems: string[];
}

export interface AmqpRunResult {
  readonly seed: number;
  readonly queue: string;
  readonly operations: number;
  readonly confirmed: number;
  readonly unconfirmed: number;
  /** Publishes that failed, by what ended them (nack, confirm timeout, the connection's error). */
  readonly failures: Readonly<Record<string, number>>;
  readonly events: readonly NemesisEvent[];
  readonly delivered: number;
  readonly drainMs: number;
  readonly check: AmqpCheck;
  /** Confirms given when no node could rightly give them (quorumlessAcks): none may be. */
  readonly quorumless: { readonly count: number; readonly problems: readonly string[] };
}

/** Holds the deliveries (body -> times delivered) against the confirmed and unconfirmed bodies. */
export function checkQueue(confirmed: ReadonlySet<string>, unconfirmed: ReadonlySet<string>, delivered: ReadonlyMap<string, number>): AmqpCheck {
  const problems: string[] = [];
  let lost = 0;
  for (const b of confirmed) {
    if (delivered.has(b)) continue;
    lost++;
    if (problems.length < 10) problems.push(`confirmed ${b} was never delivered`);
  }
  let duplicates = 0;
  let unconfirmedDelivered = 0;
  let phantoms = 0;
  for (const [b, n] of delivered) {
    duplicates += n - 1;
    if (!confirmed.has(b) && unconfirmed.has(b)) unconfirmedDelivered++;
    if (!confirmed.has(b) && !unconfirmed.has(b)) {
      phantoms++;
      if (problems.length < 10) problems.push(`${JSON.stringify(b)} was delivered but never published`);
    }
  }
  return { lost, duplicates, unconfirmedDelivered, phantoms, problems };
}

interface QueueView {
  readonly leader: string | null;
  readonly online: readonly string[];
}

/** The queue as /api/queues on a node (the first running one unless named) shows it (undefined when it cannot say, or does not know the queue). */
async function queueView(cluster: TestCluster, queue: string, on?: string): Promise<QueueView | undefined> {
  const asked = on ?? cluster.names.find((n) => cluster.up(n));
  if (asked === undefined) return undefined;
  try {
    const res = await fetch(`http://${cluster.hosts.address(asked)}:${cluster.node(asked).httpPort}/api/queues/%2F/${encodeURIComponent(queue)}`, {
      headers: { authorization: `Basic ${Buffer.from(cluster.hosts.login).toString('base64')}` },
      signal: AbortSignal.timeout(2000),
    });
    return res.ok ? ((await res.json()) as QueueView) : undefined;
  } catch {
    return undefined;
  }
}

const KEYS = new ClusterKeys(DEFAULT_CLUSTER_NAME);

/**
 * The size of the ISR that the queue's log's leader last wrote to etcd (undefined when etcd does
 * not answer within a second: killed, paused). Read through etcd's JSON gateway, from the test
 * process, which no fault cuts off from etcd.
 */
async function qlogIsr(cluster: TestCluster, queue: string): Promise<number | undefined> {
  const key = KEYS.state({ kind: 'stream', vhost: '/', name: INTERNAL_STREAM_PREFIX + queue, partition: 0 }, 'isr');
  try {
    const res = await fetch(`${cluster.etcd.endpoint}/v3/kv/range`, {
      method: 'POST',
      body: JSON.stringify({ key: Buffer.from(key).toString('base64') }),
      signal: AbortSignal.timeout(1000),
    });
    const value = ((await res.json()) as { kvs?: { value?: string }[] }).kvs?.[0]?.value;
    return value === undefined ? undefined : (JSON.parse(Buffer.from(value, 'base64').toString('utf8')) as string[]).length;
  } catch {
    return undefined;
  }
}

/** A connection (with its errors swallowed: the caller notices the loss through `lost`) to the first live node from `from` on. */
async function connectAny(cluster: TestCluster, from: number): Promise<{ conn: ChannelModel; lost: Promise<void> }> {
  const order = NAMES.map((_, i) => NAMES[(from + i) % NAMES.length] ?? '').filter((n) => cluster.up(n));
  for (const name of order) {
    try {
      const conn = await connect(cluster.amqpUrl(name), { timeout: 2000 });
      conn.on('error', () => undefined);
      const lost = new Promise<void>((resolve) => conn.once('close', () => resolve()));
      return { conn, lost };
    } catch {
      // down or not yet listening: the next one
    }
  }
  throw new Error('no node took the connection');
}

/**
 * Publishes one persistent body, mandatory, and waits for its confirm; the error says why not. A
 * body the node returned (basic.return: no queue of that name there, e.g. one whose declare has not
 * reached it yet) is confirmed too, as RabbitMQ does, but it reached no queue: `returned` holds it
 * (the return comes before the confirm, AMQP 0-9-1 and RabbitMQ's confirms).
 */
function publishOne(ch: ConfirmChannel, queue: string, body: string, lost: Promise<void>, returned: ReadonlySet<string>): Promise<string | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('confirm timeout'), CONFIRM_WAIT_MS);
    const done = (why: string | undefined): void => {
      clearTimeout(timer);
      resolve(why);
    };
    void lost.then(() => done('connection lost'));
    try {
      ch.sendToQueue(queue, Buffer.from(body), { persistent: true, mandatory: true }, (err) => done(err !== null && err !== undefined ? 'nack' : returned.has(body) ? 'returned (unroutable)' : undefined));
    } catch (err) {
      done((err as Error).name);
    }
  });
}

/** Runs a quorum queue under publishers and the nemesis, heals, drains it, checks. Always tears down. */
export async function amqpRun(o: RunOptions): Promise<AmqpRunResult> {
  const log = o.log ?? (() => undefined);
  const faults = o.faults ?? defaultFaults(AMQP_FAULTS, o.network);
  checkFaults(faults, AMQP_FAULTS, o.network, 'amqp');
  const rand = seededRandom(o.seed);
  const queue = `jepsen-${o.seed}-${Date.now().toString(36)}`;
  const cluster = new TestCluster(NAMES, o.network === 'netns' ? netnsHosts(NAMES) : loopbackHosts);
  try {
    await cluster.start();
    const first = await connectAny(cluster, 0);
    const ch = await first.conn.createChannel();
    await ch.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await first.conn.close();
    // Every node knows the queue and its leader (a publish to a node that does not know it yet is returned), all in sync.
    const whole = async (): Promise<boolean> => {
      const views = await Promise.all(NAMES.map((n) => (cluster.up(n) ? queueView(cluster, queue, n) : undefined)));
      const leader = views[0]?.leader;
      return views.every((v) => v !== undefined && v.leader === leader && leader !== null && v.online.length === NAMES.length) && (await qlogIsr(cluster, queue)) === NAMES.length;
    };
    if (!(await waitFor(whole, 30_000))) throw new Error(`${queue}: no leader with three members online and in sync within 30 s`);
    log(`quorum queue ${queue}: three members online and in sync, leader ${(await queueView(cluster, queue))?.leader}; seed ${o.seed}`);

    // The workload: each publisher sends one persistent body at a time and waits for its confirm.
    const confirmed = new Set<string>();
    const timed: TimedAck[] = [];
    const unconfirmed = new Set<string>();
    const returned = new Set<string>();
    const failures: Record<string, number> = {};
    let operations = 0;
    let running = true;
    const worker = async (w: number): Promise<void> => {
      let link: { conn: ChannelModel; ch: ConfirmChannel; lost: Promise<void> } | undefined;
      let from = w;
      for (let i = 0; running; i++) {
        const body = `p${w}-${i}`;
        operations++;
        let why: string | undefined;
        try {
          if (link === undefined) {
            const c = await connectAny(cluster, from);
            const confirmCh = await c.conn.createConfirmChannel();
            confirmCh.on('error', () => undefined);
            confirmCh.on('return', (m: { content: Buffer }) => returned.add(m.content.toString()));
            link = { ...c, ch: confirmCh };
          }
          const startedAt = Date.now();
          why = await publishOne(link.ch, queue, body, link.lost, returned);
          if (why === undefined) timed.push({ resource: 0, startedAt, ackedAt: Date.now(), what: body });
        } catch (err) {
          why = (err as Error).message;
        }
        if (why === undefined) {
          confirmed.add(body);
          continue;
        }
        unconfirmed.add(body);
        failures[why] = (failures[why] ?? 0) + 1;
        // Whatever went wrong, a new connection, to the next live node.
        if (link !== undefined) destroySocket(link.conn);
        link = undefined;
        from++;
        await sleep(100);
      }
      if (link !== undefined) await link.conn.close().catch(() => destroySocket(link.conn));
    };
    const workers = Array.from({ length: o.producers ?? 3 }, (_, w) => worker(w));

    // The nemesis, on the queue's leader: its log's, with the epoch, as /api/nodes names it.
    const leaderOf = async (): Promise<LeaderSeen | undefined> => (await cluster.leaders(INTERNAL_STREAM_PREFIX + queue)).get(0);
    const events = await nemesis(cluster, o, rand, faults, {
      resources: 1,
      label: () => queue,
      leader: leaderOf,
      moved: async (_, was) => {
        const now = await leaderOf();
        return now !== undefined && now.epoch > was.epoch;
      },
      isr: () => qlogIsr(cluster, queue),
      whole,
      wholeName: 'every member online and in sync',
    });
    running = false;
    await Promise.all(workers);
    await cluster.heal();
    if (!(await waitFor(whole, 30_000))) log('healed: the queue does NOT show three members online after 30 s');

    // The drain: one consumer from any node, acking each delivery, until the queue stays empty.
    const d0 = Date.now();
    const delivered = new Map<string, number>();
    let lastAt = Date.now();
    for (let from = 0; Date.now() - lastAt < DRAIN_QUIET_MS && Date.now() - d0 < 120_000; from++) {
      try {
        const { conn, lost } = await connectAny(cluster, from);
        const consumer = await conn.createChannel();
        consumer.on('error', () => undefined);
        await consumer.prefetch(100);
        await consumer.consume(queue, (m) => {
          if (m === null) return;
          const b = m.content.toString();
          delivered.set(b, (delivered.get(b) ?? 0) + 1);
          lastAt = Date.now();
          consumer.ack(m);
        });
        lastAt = Date.now();
        const quiet = (async () => {
          while (Date.now() - lastAt < DRAIN_QUIET_MS) await sleep(200);
        })();
        await Promise.race([quiet, lost]);
        await conn.close().catch(() => destroySocket(conn));
      } catch {
        await sleep(500);
        lastAt = Date.now();
      }
    }
    const drainMs = Date.now() - d0;
    const deliveries = [...delivered.values()].reduce((a, b) => a + b, 0);
    log(`drained ${deliveries} deliveries in ${drainMs} ms`);
    const check = checkQueue(confirmed, unconfirmed, delivered);
    const quorumless = quorumlessAcks(events, timed);
    if (check.lost > 0 || check.phantoms > 0 || quorumless.count > 0) log(`the check failed: the nodes' and etcd's logs are in ${await cluster.saveLogs(`amqp-${o.seed}`)}`);
    return { seed: o.seed, queue, operations, confirmed: confirmed.size, unconfirmed: unconfirmed.size, failures, events, delivered: deliveries, drainMs, check, quorumless };
  } finally {
    await cluster.stop().catch(() => undefined);
    await cluster.removeData();
  }
}

/** The run's figures, one line each. */
export function amqpSummary(r: AmqpRunResult): string[] {
  return [
    `seed ${r.seed}, quorum queue ${r.queue}`,
    `operations ${r.operations}, confirmed ${r.confirmed}, unconfirmed ${r.unconfirmed}`,
    nemesisLine(r.events),
    ...faultLines(r.events),
    `publishes failed, by why: ${JSON.stringify(r.failures)}`,
    `drained ${r.delivered} deliveries in ${r.drainMs} ms: lost ${r.check.lost}, never published ${r.check.phantoms}, duplicates ${r.check.duplicates}, unconfirmed delivered ${r.check.unconfirmedDelivered}`,
    `confirmed without a quorum (sent while the leader held the ISR alone, or no node held a lease): ${r.quorumless.count}`,
    ...r.check.problems.map((p) => `problem: ${p}`),
    ...r.quorumless.problems.map((p) => `problem: ${p}`),
  ];
}
