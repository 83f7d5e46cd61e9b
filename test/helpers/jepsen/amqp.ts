// The AMQP workload of the Jepsen-style runs (docs/cluster.md, "Proving it"): a durable quorum
// queue on three `wharf serve --cluster` nodes, amqplib publishers on confirm channels (one per
// node to start with, each reconnecting to any live node after losing its connection) that record
// every confirmed body and every publish left without a confirm, and run.ts's seeded nemesis on
// the queue's leader (kill -9 and SIGSTOP only). After the heal, one consumer drains the queue
// from any node, and the check holds the deliveries against the confirms: a confirmed body never
// delivered is lost (none may be); duplicates and unconfirmed bodies delivered are counted only
// (at least once: a publish retried or a delivery whose ack was lost comes again).

import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { sleep } from '../async.js';
import { destroySocket } from '../amqplib.js';
import { loopbackHosts, NODE_NAMES as NAMES, TestCluster, type LeaderSeen } from '../cluster.js';
import { seededRandom } from '../../../src/util/random.js';
import { nemesis, nemesisLine, waitFor, type Fault, type NemesisEvent, type RunOptions } from './run.js';

/** The faults a queue's leader gets (the network ones need the Kafka ISR view; kill-two leaves no majority to confirm). */
export const AMQP_FAULTS: readonly Fault[] = ['kill', 'pause'];
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
  for (const [b, n] of delivered) {
    duplicates += n - 1;
    if (!confirmed.has(b) && unconfirmed.has(b)) unconfirmedDelivered++;
  }
  return { lost, duplicates, unconfirmedDelivered, problems };
}

interface QueueView {
  readonly leader: string | null;
  readonly online: readonly string[];
}

/** The queue as /api/queues on a running node shows it (undefined when none can say). */
async function queueView(cluster: TestCluster, queue: string): Promise<QueueView | undefined> {
  const asked = cluster.names.find((n) => cluster.up(n));
  if (asked === undefined) return undefined;
  try {
    const res = await fetch(`http://127.0.0.1:${cluster.node(asked).httpPort}/api/queues/%2F/${encodeURIComponent(queue)}`, {
      headers: { authorization: `Basic ${Buffer.from(cluster.hosts.login).toString('base64')}` },
      signal: AbortSignal.timeout(2000),
    });
    return res.ok ? ((await res.json()) as QueueView) : undefined;
  } catch {
    return undefined;
  }
}

/** A connection (with its errors swallowed: the caller notices the loss through `lost`) to the first live node from `from` on. */
async function connectAny(cluster: TestCluster, from: number): Promise<{ conn: ChannelModel; lost: Promise<void> }> {
  const order = NAMES.map((_, i) => NAMES[(from + i) % NAMES.length] ?? '').filter((n) => cluster.up(n));
  for (const name of order) {
    try {
      const conn = await connect(cluster.node(name).url, { timeout: 2000 });
      conn.on('error', () => undefined);
      const lost = new Promise<void>((resolve) => conn.once('close', () => resolve()));
      return { conn, lost };
    } catch {
      // down or not yet listening: the next one
    }
  }
  throw new Error('no node took the connection');
}

/** Publishes one persistent body and waits for its confirm; the error says why not. */
function publishOne(ch: ConfirmChannel, queue: string, body: string, lost: Promise<void>): Promise<string | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('confirm timeout'), CONFIRM_WAIT_MS);
    const done = (why: string | undefined): void => {
      clearTimeout(timer);
      resolve(why);
    };
    void lost.then(() => done('connection lost'));
    try {
      ch.sendToQueue(queue, Buffer.from(body), { persistent: true }, (err) => done(err === null || err === undefined ? undefined : 'nack'));
    } catch (err) {
      done((err as Error).name);
    }
  });
}

/** Runs a quorum queue under publishers and the nemesis, heals, drains it, checks. Always tears down. */
export async function amqpRun(o: RunOptions): Promise<AmqpRunResult> {
  const log = o.log ?? (() => undefined);
  const faults = o.faults ?? AMQP_FAULTS;
  const unsupported = faults.filter((f) => !AMQP_FAULTS.includes(f));
  if (unsupported.length > 0) throw new Error(`the amqp workload takes the faults ${AMQP_FAULTS.join(', ')}, not ${unsupported.join(', ')}`);
  if (o.network === 'netns') throw new Error("the amqp workload runs on loopback (network: 'netns' is for kafka)");
  const rand = seededRandom(o.seed);
  const queue = `jepsen-${o.seed}-${Date.now().toString(36)}`;
  const cluster = new TestCluster(NAMES, loopbackHosts);
  try {
    await cluster.start();
    const first = await connectAny(cluster, 0);
    const ch = await first.conn.createChannel();
    await ch.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await first.conn.close();
    const whole = async (): Promise<boolean> => {
      const v = await queueView(cluster, queue);
      return v !== undefined && v.leader !== null && v.online.length === NAMES.length;
    };
    if (!(await waitFor(whole, 30_000))) throw new Error(`${queue}: no leader with three members online within 30 s`);
    log(`quorum queue ${queue}: three members online, leader ${(await queueView(cluster, queue))?.leader}; seed ${o.seed}`);

    // The workload: each publisher sends one persistent body at a time and waits for its confirm.
    const confirmed = new Set<string>();
    const unconfirmed = new Set<string>();
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
            link = { ...c, ch: confirmCh };
          }
          why = await publishOne(link.ch, queue, body, link.lost);
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

    // The nemesis, on the queue's leader as /api/queues names it.
    const leaderOf = async (): Promise<LeaderSeen | undefined> => {
      const l = (await queueView(cluster, queue))?.leader;
      return l === null || l === undefined ? undefined : { node: l, epoch: -1 };
    };
    const events = await nemesis(cluster, o, rand, faults, {
      resources: 1,
      label: () => queue,
      leader: leaderOf,
      moved: async (_, was) => {
        const now = await leaderOf();
        return now !== undefined && now.node !== was.node;
      },
      whole,
      wholeName: 'every member online',
      topic: queue,
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
    return { seed: o.seed, queue, operations, confirmed: confirmed.size, unconfirmed: unconfirmed.size, failures, events, delivered: deliveries, drainMs, check };
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
    `publishes failed, by why: ${JSON.stringify(r.failures)}`,
    `drained ${r.delivered} deliveries in ${r.drainMs} ms: lost ${r.check.lost}, duplicates ${r.check.duplicates}, unconfirmed delivered ${r.check.unconfirmedDelivered}`,
    ...r.check.problems.map((p) => `problem: ${p}`),
  ];
}
