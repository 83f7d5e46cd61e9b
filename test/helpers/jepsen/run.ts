// A Jepsen-style run against replicated Kafka topics (docs/cluster.md, "Proving it"): a private
// etcd and three `wharf serve --cluster` processes on loopback, a topic with replication factor
// 3, kafkajs producers with acks=all (idempotence off and on) that record every acknowledged
// (partition, offset, value) and every send left without an answer, and a seeded nemesis that
// kills a partition's leader with kill -9 (restarting it later), pauses it with SIGSTOP (and
// SIGCONT), or kills it together with another node (a majority down). Then it heals, waits for
// every ISR to hold all three replicas, stops the nodes and hands every replica's logs on disk to
// the checker. The same run serves the short seeded tests (test/integration/cluster/jepsen.test.ts,
// jepsen-netns.test.ts) and the soak (scripts/cluster-soak.ts).
//
// Where the hosts run is pluggable: all on loopback, or (network: 'netns') each node and etcd in
// a network namespace of its own on a private bridge (netns.ts), which adds the network faults:
// the leader cut off from the other nodes and etcd, from the other nodes only, from one follower
// one way, and a degraded link.

import { Kafka, logLevel, type Producer } from 'kafkajs';
import { sleep } from '../async.js';
import type { SpawnedBroker } from '../broker.js';
import { ETCD_HOST, loopbackHosts, netnsHosts, NODE_NAMES as NAMES, TestCluster, type LeaderSeen } from '../cluster.js';
import { TEST_LEASE_TTL_SEC } from '../etcd.js';
import { kafkaErrorTypes } from '../kafka.js';
import { check, recordsOnDisk, type Acked, type CheckResult } from './checker.js';
import { seededRandom } from '../../../src/util/random.js';
import { amqpRun, type AmqpRunResult } from './amqp.js';

export interface RunOptions {
  readonly seed: number;
  /** How long the producers and the nemesis run. */
  readonly seconds: number;
  /**
   * Run on past `seconds` until every fault has happened this many times (a loaded machine fits
   * fewer faults in the time), up to four times `seconds`.
   */
  readonly minRounds?: number;
  readonly producers?: number;
  readonly partitions?: number;
  /** Do not wait for the ISR to recover between faults: the next one may hit a replica still catching up. */
  readonly overlap?: boolean;
  /** Progress lines (the soak prints them; the test passes them to t.diagnostic). */
  readonly log?: (line: string) => void;
  /** Where the hosts run: all on loopback (the default), or each in a network namespace of its own. */
  readonly network?: 'loopback' | 'netns';
  /** The faults of each round (the default: the process faults, and on netns the network ones too). */
  readonly faults?: readonly Fault[];
  /** Kafka producers on a replicated topic (the default), or amqplib publishers on a quorum queue (amqp.ts). */
  readonly workload?: 'kafka' | 'amqp';
}

/**
 * kill: kill -9 of a leader, restarted later. pause: SIGSTOP of a leader, then SIGCONT. kill-two:
 * kill -9 of a leader and one other node at once (a majority down), both restarted later: the lone
 * survivor may lead only if it is in the ISR, and acks=all waits for a second in-sync replica.
 * Network faults (netns only), each healed later: partition: the leader cut off from the other
 * nodes and etcd, both ways (it steps down at its local deadline, a follower leads); partition-
 * peers: from the other nodes only (it keeps its lease, its followers cannot fetch: the ISR
 * shrinks); one-way: the leader receives nothing from one follower but can still send to it;
 * slow: the leader's link delayed (or rate-limited) and lossy.
 */
export type Fault = 'kill' | 'pause' | 'kill-two' | 'partition' | 'partition-peers' | 'one-way' | 'slow';
export const PROCESS_FAULTS: readonly Fault[] = ['kill', 'pause', 'kill-two'];
export const NETWORK_FAULTS: readonly Fault[] = ['partition', 'partition-peers', 'one-way', 'slow'];
const FAULT_NAMES: Record<Fault, string> = {
  kill: 'kill -9',
  'kill-two': 'kill -9 of two',
  pause: 'SIGSTOP',
  partition: 'partition from nodes and etcd',
  'partition-peers': 'partition from nodes',
  'one-way': 'one-way cut',
  slow: 'slow link',
};

export interface NemesisEvent {
  readonly kind: Fault;
  /** The node hit ("n1+n3" for kill-two: the leader and another). */
  readonly node: string;
  /** The partition whose leader it hit (-1: no leader at the time; a random node). */
  readonly partition: number;
  /** How long the node was down or paused. */
  readonly downMs: number;
  /** From the fault to a new leader of that partition under a higher epoch (undefined: none within the wait). */
  readonly failoverMs: number | undefined;
  /** Network faults: the smallest ISR of the partition seen during the fault. */
  readonly isrMin?: number;
  /** partition: from the cut to the leader logging that it lost its lease and stepped down. */
  readonly stepDownMs?: number;
  /** slow: what was done to the link. */
  readonly how?: string;
}

export interface RunResult {
  readonly seed: number;
  readonly topic: string;
  readonly operations: number;
  readonly acknowledged: number;
  readonly unacknowledged: number;
  /** Sends that failed for good, by the Kafka error (or kafkajs error name) they ended with. */
  readonly failures: Readonly<Record<string, number>>;
  readonly events: readonly NemesisEvent[];
  /** Whether every ISR held all three replicas again after the heal. */
  readonly isrRecovered: boolean;
  readonly healMs: number;
  readonly check: CheckResult;
}

const TTL_MS = TEST_LEASE_TTL_SEC * 1000;
/** The ISR size of every partition, from Metadata on a running node (undefined when it cannot say). */
async function isrSizes(cluster: TestCluster, topic: string): Promise<number[] | undefined> {
  const admin = kafkaOf(cluster.bootstrap()).admin();
  try {
    await admin.connect();
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    return md.topics[0]?.partitions.sort((a, b) => a.partitionId - b.partitionId).map((p) => (p.leader >= 0 ? p.isr.length : 0));
  } catch {
    return undefined;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

function kafkaOf(bootstrap: readonly string[]): Kafka {
  return new Kafka({
    clientId: 'wharf-jepsen',
    brokers: [...bootstrap],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 5000,
    retry: { retries: 6, initialRetryTime: 100, maxRetryTime: 1000 },
  });
}

export async function waitFor(cond: () => Promise<boolean>, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await cond()) return true;
    await sleep(100);
  }
  return false;
}

/** Runs the whole thing: cluster, topic (or queue), producers, nemesis, heal, checker. Always tears down. */
export async function jepsenRun(o: RunOptions & { readonly workload: 'amqp' }): Promise<AmqpRunResult>;
export async function jepsenRun(o: RunOptions & { readonly workload?: 'kafka' }): Promise<RunResult>;
export async function jepsenRun(o: RunOptions): Promise<RunResult | AmqpRunResult> {
  return o.workload === 'amqp' ? amqpRun(o) : kafkaRun(o);
}

async function kafkaRun(o: RunOptions): Promise<RunResult> {
  const log = o.log ?? (() => undefined);
  const rand = seededRandom(o.seed);
  const partitions = o.partitions ?? 2;
  const producerCount = o.producers ?? 4;
  const topic = `jepsen-${o.seed}-${Date.now().toString(36)}`;
  const faults = o.faults ?? (o.network === 'netns' ? [...PROCESS_FAULTS, ...NETWORK_FAULTS] : PROCESS_FAULTS);
  if (o.network !== 'netns' && faults.some((f) => NETWORK_FAULTS.includes(f))) throw new Error(`network faults (${NETWORK_FAULTS.join(', ')}) need network: 'netns'`);
  const cluster = new TestCluster(NAMES, o.network === 'netns' ? netnsHosts(NAMES) : loopbackHosts);
  try {
    await cluster.start();
    const admin = kafkaOf(cluster.bootstrap()).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 3 }], waitForLeaders: false });
    await admin.disconnect();
    const full = async (): Promise<boolean> => {
      const sizes = await isrSizes(cluster, topic);
      return sizes !== undefined && sizes.length === partitions && sizes.every((s) => s === 3);
    };
    if (!(await waitFor(full, 30_000))) throw new Error(`${topic}: no leader with three in-sync replicas within 30 s`);
    log(`topic ${topic}: ${partitions} partitions, replication factor 3, all in sync; seed ${o.seed}`);

    // The workload: each producer sends one record at a time to a seeded partition, acks=all.
    const acked: Acked[] = [];
    const unacked = new Set<string>();
    const failures: Record<string, number> = {};
    let operations = 0;
    let running = true;
    const producerRand = seededRandom(o.seed ^ 0x5eed);
    const idempotentOf = (w: number): boolean => w % 2 === 1;
    const worker = async (w: number): Promise<void> => {
      const idempotent = idempotentOf(w);
      const make = async (): Promise<Producer> => {
        const p = kafkaOf(cluster.bootstrap()).producer({ allowAutoTopicCreation: false, idempotent, ...(idempotent ? { maxInFlightRequests: 1 } : {}) });
        await p.connect();
        return p;
      };
      let producer: Producer | undefined;
      for (let i = 0; running; i++) {
        const value = `p${w}-${i}`;
        const partition = Math.floor(producerRand() * partitions);
        operations++;
        try {
          producer ??= await make();
          const [meta] = await producer.send({ topic, acks: -1, timeout: 5000, messages: [{ value, partition }] });
          if (meta === undefined || meta.errorCode !== 0) throw new Error(`error code ${meta?.errorCode}`);
          acked.push({ partition: meta.partition, offset: Number(meta.baseOffset), value });
        } catch (err) {
          unacked.add(value);
          const why = kafkaErrorTypes(err).at(-1) ?? (err as Error).name;
          failures[why] = (failures[why] ?? 0) + 1;
          // A producer whose node died may hold stale connections (and, idempotent, a fenced id): a new one.
          await producer?.disconnect().catch(() => undefined);
          producer = undefined;
          await sleep(100);
        }
      }
      await producer?.disconnect().catch(() => undefined);
    };
    const workers = Array.from({ length: producerCount }, (_, w) => worker(w));

    // The nemesis: a seeded order of faults, each on the leader of a seeded partition.
    const partitionTarget: NemesisTarget = {
      resources: partitions,
      label: (p) => `${topic}-${p}`,
      leader: async (p) => (await cluster.leaders(topic)).get(p),
      moved: async (p, was) => {
        const now = (await cluster.leaders(topic)).get(p);
        return now !== undefined && now.epoch > was.epoch;
      },
      whole: full,
      wholeName: 'every ISR whole',
      topic,
    };
    const events = await nemesis(cluster, o, rand, faults, partitionTarget);
    running = false;
    await Promise.all(workers);

    // Heal, then wait for every partition's ISR to hold all three replicas.
    const h0 = Date.now();
    await cluster.heal();
    const isrRecovered = await waitFor(full, 30_000);
    const healMs = Date.now() - h0;
    log(`healed: ISR ${isrRecovered ? 'recovered' : 'NOT recovered'} after ${healMs} ms`);
    // The nodes stop (kill -9: what is acknowledged is on disk) and the checker reads their logs.
    await cluster.stop();
    const replicas: Map<number, string>[][] = [];
    for (let p = 0; p < partitions; p++) {
      replicas.push(await Promise.all(NAMES.map((n) => recordsOnDisk(cluster.dirs.get(n) ?? '', topic, p))));
    }
    const result = check(replicas, acked, unacked, (v) => idempotentOf(Number(/^p(\d+)-/.exec(v)?.[1] ?? -1)));
    return { seed: o.seed, topic, operations, acknowledged: acked.length, unacknowledged: unacked.size, failures, events, isrRecovered, healMs, check: result };
  } finally {
    await cluster.stop().catch(() => undefined);
    await cluster.removeData();
  }
}

/** What the nemesis aims at: a topic's partitions (their leaders), or a quorum queue (one resource). */
export interface NemesisTarget {
  /** How many resources to pick from (a topic's partitions; 1 for a queue). */
  readonly resources: number;
  /** A resource's name in the progress lines. */
  label(i: number): string;
  /** Its leader now (undefined: none, or nobody could say; epoch -1: not known). */
  leader(i: number): Promise<LeaderSeen | undefined>;
  /** Whether a leader other than `was` leads it now. */
  moved(i: number, was: LeaderSeen): Promise<boolean>;
  /** Whether every replica is back (waited for between faults unless they overlap). */
  whole(): Promise<boolean>;
  /** What whole() waits for, in the progress lines. */
  readonly wholeName: string;
  /** The topic the network faults watch the ISR of. */
  readonly topic: string;
}

/** The seeded nemesis: faults in a seeded order, each on the leader of a seeded resource, until the run's time is up. */
export async function nemesis(cluster: TestCluster, o: RunOptions, rand: () => number, faults: readonly Fault[], aim: NemesisTarget): Promise<NemesisEvent[]> {
  const log = o.log ?? (() => undefined);
  const between = (lo: number, hi: number): number => Math.round(lo + rand() * (hi - lo));
  const events: NemesisEvent[] = [];
  const until = Date.now() + o.seconds * 1000;
  const hardUntil = Date.now() + o.seconds * 4000;
  const wanted = (o.minRounds ?? 0) * faults.length;
  const kinds: Fault[] = [];
  while (Date.now() < until || (events.length < wanted && Date.now() < hardUntil)) {
    await sleep(between(500, 2000));
    // Each round has every fault once, in a seeded order.
    if (kinds.length === 0) kinds.push(...faults.map((k) => [rand(), k] as const).sort((a, b) => a[0] - b[0]).map(([, k]) => k));
    const kind = kinds.shift() ?? 'kill';
    const partition = Math.floor(rand() * aim.resources);
    const leader = await aim.leader(partition);
    const target = leader?.node ?? NAMES[Math.floor(rand() * NAMES.length)];
    // Long enough, often, for the lease to lapse (a failover); sometimes shorter than the TTL.
    // Network faults last past the lag limit (the TTL) often enough to shrink an ISR.
    const downMs = NETWORK_FAULTS.includes(kind) ? between(TTL_MS / 2, TTL_MS * 3) : between(TTL_MS / 4, TTL_MS * 2.5);
    const node = cluster.nodes.get(target);
    const others = NAMES.filter((n) => n !== target && cluster.up(n));
    const second = others[Math.floor(rand() * others.length)];
    if (node === undefined || !cluster.up(target) || ((kind === 'kill-two' || kind === 'one-way') && second === undefined)) continue;
    const t0 = Date.now();
    let failoverMs: number | undefined;
    // A leader that keeps its lease (cut from its peers only, one way, slow) is not expected to
    // fail over: watch for one during the fault only.
    const keepsLease = kind === 'partition-peers' || kind === 'one-way' || kind === 'slow';
    const watchFailover = (async () => {
      if (leader === undefined) return;
      const moved = await waitFor(() => aim.moved(partition, leader), keepsLease ? downMs : downMs + TTL_MS * 3);
      if (moved) failoverMs = Date.now() - t0;
    })();
    let network: { isrMin?: number; stepDownMs?: number; how?: string } = {};
    if (kind === 'kill') {
      await node.kill('SIGKILL');
      await sleep(downMs);
      await Promise.race([watchFailover, sleep(TTL_MS * 2)]);
      await cluster.spawn(target);
    } else if (kind === 'kill-two') {
      await Promise.all([node.kill('SIGKILL'), cluster.nodes.get(second)?.kill('SIGKILL')]);
      await sleep(downMs);
      await Promise.race([watchFailover, sleep(TTL_MS * 2)]);
      await cluster.spawn(target);
      await cluster.spawn(second);
    } else if (kind === 'pause') {
      node.process.kill('SIGSTOP');
      cluster.paused.add(target);
      await sleep(downMs);
      node.process.kill('SIGCONT');
      cluster.paused.delete(target);
    } else {
      network = await networkFault(cluster, { kind, target, second: second ?? '', node, topic: aim.topic, partition, downMs });
    }
    await watchFailover;
    const event: NemesisEvent = { kind, node: kind === 'kill-two' || kind === 'one-way' ? `${target}${kind === 'one-way' ? '<-' : '+'}${second}` : target, partition: leader === undefined ? -1 : partition, downMs, failoverMs, ...network };
    events.push(event);
    const detail = [
      network.how,
      network.stepDownMs !== undefined ? `stepped down after ${network.stepDownMs} ms` : undefined,
      network.isrMin !== undefined ? `ISR down to ${network.isrMin}` : undefined,
    ].filter((d) => d !== undefined).map((d) => `; ${d}`).join('');
    log(`nemesis: ${kind} ${event.node} (leader of ${aim.label(partition)}${leader === undefined ? ': none' : leader.epoch >= 0 ? ` epoch ${leader.epoch}` : ''}) for ${downMs} ms; new leader after ${failoverMs ?? '-'} ms${detail}`);
    // Unless faults overlap, let every replica recover first, so each one hits a whole cluster.
    if (o.overlap !== true) {
      const w0 = Date.now();
      const whole = await waitFor(() => aim.whole(), 20_000);
      log(`  ${aim.wholeName} again ${whole ? `${Date.now() - w0} ms after the fault ended` : 'NOT within 20 s'}`);
    }
  }
  return events;
}

interface NetworkFault {
  readonly kind: Fault;
  readonly target: string;
  /** The follower of a one-way cut. */
  readonly second: string;
  readonly node: SpawnedBroker;
  readonly topic: string;
  readonly partition: number;
  readonly downMs: number;
}

/** The node's log line (its own timestamp first) when its lease lapsed and it stepped down. */
const LEASE_LOST_LINE = /^(\S+) error lost etcd: /gm;

/** When the node last logged a step-down after its `before`th, as ms since the epoch. */
function steppedDownAt(node: SpawnedBroker, before: number): number | undefined {
  const lines = [...node.stderr().matchAll(LEASE_LOST_LINE)];
  return lines.length > before ? Date.parse(lines[before]?.[1] ?? '') : undefined;
}

/** Cuts or slows the target's network for downMs, watching its partition's ISR (and its step-down), then mends it. */
async function networkFault(cluster: TestCluster, f: NetworkFault): Promise<{ isrMin?: number; stepDownMs?: number; how?: string }> {
  const net = cluster.hosts.net;
  if (net === undefined) throw new Error(`${f.kind} needs network: 'netns'`);
  const others = NAMES.filter((n) => n !== f.target);
  const stepDownsBefore = [...f.node.stderr().matchAll(LEASE_LOST_LINE)].length;
  let how: string | undefined;
  if (f.kind === 'partition') {
    net.cut(f.target, [...others, ETCD_HOST]);
    cluster.isolated.add(f.target);
  } else if (f.kind === 'partition-peers') {
    net.cut(f.target, others);
  } else if (f.kind === 'one-way') {
    net.cut(f.target, [f.second], true);
  } else {
    how = net.degrade(f.target, { delayMs: 100, jitterMs: 50, loss: 0.05 });
  }
  // From the last rule in place (each is an iptables run in the namespace, slow on a loaded machine).
  const t0 = Date.now();
  let isrMin: number | undefined;
  const until = t0 + f.downMs;
  while (Date.now() < until) {
    const size = (await isrSizes(cluster, f.topic))?.[f.partition];
    if (size !== undefined && size > 0) isrMin = Math.min(isrMin ?? size, size);
    await sleep(200);
  }
  net.mend(f.target);
  const at = steppedDownAt(f.node, stepDownsBefore);
  const stepDownMs = at === undefined || Number.isNaN(at) ? undefined : at - t0;
  cluster.isolated.delete(f.target);
  return { ...(isrMin !== undefined ? { isrMin } : {}), ...(stepDownMs !== undefined ? { stepDownMs } : {}), ...(how !== undefined ? { how } : {}) };
}

/** The run's figures, one line each. */
export function summary(r: RunResult): string[] {
  const stepDowns = r.events.map((e) => e.stepDownMs).filter((m): m is number => m !== undefined);
  const isrMins = r.events.filter((e) => e.isrMin !== undefined).map((e) => `${e.kind} ${e.isrMin}`);
  return [
    `seed ${r.seed}, topic ${r.topic}`,
    `operations ${r.operations}, acknowledged ${r.acknowledged}, unacknowledged ${r.unacknowledged}`,
    nemesisLine(r.events),
    ...(stepDowns.length > 0 ? [`partitioned leaders stepped down after ${stepDowns.join(', ')} ms`] : []),
    ...(isrMins.length > 0 ? [`smallest ISR during network faults: ${isrMins.join(', ')}`] : []),
    `sends failed for good, by error: ${JSON.stringify(r.failures)}`,
    `lost ${r.check.lost}, divergent ${r.check.divergent}, prefix gaps ${r.check.prefixGaps}, ISR recovered ${r.isrRecovered} (${r.healMs} ms after the heal)`,
    `duplicates ${r.check.duplicates} (idempotent producers' ${r.check.idempotentDuplicates}), unacknowledged sends present ${r.check.unackedPresent}, log ends ${JSON.stringify(r.check.logEnds)}`,
    ...r.check.problems.map((p) => `problem: ${p}`),
  ];
}

/** The nemesis events by kind, and the failover times. */
export function nemesisLine(events: readonly NemesisEvent[]): string {
  const failovers = events.map((e) => e.failoverMs).filter((m): m is number => m !== undefined).sort((a, b) => a - b);
  const pct = (q: number): string => (failovers.length === 0 ? '-' : `${failovers[Math.min(failovers.length - 1, Math.floor(q * failovers.length))]} ms`);
  const counts = Object.entries(FAULT_NAMES).map(([k, name]) => [name, events.filter((e) => e.kind === k).length] as const).filter(([, n]) => n > 0);
  return `nemesis events ${events.length} (${counts.map(([name, n]) => `${name} ${n}`).join(', ')}), failovers ${failovers.length}: min ${pct(0)}, median ${pct(0.5)}, max ${pct(1)}`;
}
