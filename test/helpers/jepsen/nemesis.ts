// The seeded nemesis of the Jepsen-style runs (docs/cluster.md, "Proving it"), shared by both
// workloads (run.ts: Kafka partitions; amqp.ts: a quorum queue): faults in a seeded order, each on
// the leader of a seeded resource, until the run's time is up. Process faults (kill -9, SIGSTOP,
// kill -9 of two), etcd's own faults (kill -9 and a restart on its data dir, SIGSTOP), and on a
// namespaced network (netns.ts) network faults of a leader, etcd cut off from one node or from all,
// two-way splits and a kill during a partition.
//
// Besides each fault's figures (failover, step-down, smallest ISR) it notes the windows in which
// no acknowledgement may be given, for quorumlessAcks(): while a leader cut off from its followers
// holds the ISR alone, and while no node holds a lease (etcd down, paused or cut off from all).

import { sleep } from '../async.js';
import type { SpawnedBroker } from '../broker.js';
import { ETCD_HOST, NODE_NAMES as NAMES, type LeaderSeen, type TestCluster } from '../cluster.js';
import { TEST_LEASE_TTL_SEC } from '../etcd.js';

/**
 * Process faults. kill: kill -9 of a leader, restarted later. pause: SIGSTOP of a leader, then
 * SIGCONT. kill-two: kill -9 of a leader and one other node at once (a majority down), both
 * restarted later.
 *
 * Network faults (netns only), each healed later: partition: the leader cut off from the other
 * nodes and etcd, both ways (the split {leader} | {others, etcd}: it steps down at its local
 * deadline, a follower leads); partition-peers: from the other nodes only (it keeps its lease, its
 * followers cannot fetch: the ISR shrinks to it alone); one-way: the leader receives nothing from
 * one follower but can still send to it; slow: the leader's link delayed (or rate-limited) and lossy.
 *
 * etcd faults: etcd-kill: kill -9 of etcd, restarted on its data dir and ports; etcd-pause: SIGSTOP
 * of etcd, then SIGCONT; (netns) etcd-cut-one: the leader cut off from etcd only (it steps down,
 * another node leads); etcd-cut-all: etcd cut off from every node (every node steps down; nobody
 * leads until the heal).
 *
 * Splits (netns): split-with-etcd: {leader, etcd} | {the other nodes}: the others lose their leases,
 * the leader keeps leading with an ISR of itself alone and must not acknowledge; partition-kill:
 * the leader cut off from the nodes and etcd and, during it, kill -9 of the node that took over (or
 * of another), restarted before the heal.
 */
export type Fault =
  | 'kill' | 'pause' | 'kill-two'
  | 'partition' | 'partition-peers' | 'one-way' | 'slow'
  | 'etcd-kill' | 'etcd-pause' | 'etcd-cut-one' | 'etcd-cut-all'
  | 'split-with-etcd' | 'partition-kill';
export const PROCESS_FAULTS: readonly Fault[] = ['kill', 'pause', 'kill-two'];
export const NETWORK_FAULTS: readonly Fault[] = ['partition', 'partition-peers', 'one-way', 'slow'];
/** etcd's faults that need no namespaces. */
export const ETCD_FAULTS: readonly Fault[] = ['etcd-kill', 'etcd-pause'];
/** etcd cut off (netns). */
export const ETCD_NETWORK_FAULTS: readonly Fault[] = ['etcd-cut-one', 'etcd-cut-all'];
export const SPLIT_FAULTS: readonly Fault[] = ['split-with-etcd', 'partition-kill'];
/** Every fault that needs network namespaces. */
export const NETNS_FAULTS: readonly Fault[] = [...NETWORK_FAULTS, ...ETCD_NETWORK_FAULTS, ...SPLIT_FAULTS];
export const ALL_FAULTS: readonly Fault[] = [...PROCESS_FAULTS, ...ETCD_FAULTS, ...NETNS_FAULTS];

const FAULT_NAMES: Record<Fault, string> = {
  kill: 'kill -9',
  'kill-two': 'kill -9 of two',
  pause: 'SIGSTOP',
  partition: 'partition from nodes and etcd',
  'partition-peers': 'partition from nodes',
  'one-way': 'one-way cut',
  slow: 'slow link',
  'etcd-kill': 'etcd kill -9',
  'etcd-pause': 'etcd SIGSTOP',
  'etcd-cut-one': 'etcd cut from the leader',
  'etcd-cut-all': 'etcd cut from all',
  'split-with-etcd': '{leader, etcd} | {others}',
  'partition-kill': 'kill -9 during a partition',
};

/** The faults whose leader keeps its lease: a failover is looked for during the fault only. */
const KEEPS_LEASE: readonly Fault[] = ['partition-peers', 'one-way', 'slow', 'split-with-etcd'];
/** The faults that leave no node a lease. */
const NO_LEASE_ANYWHERE: readonly Fault[] = ['etcd-kill', 'etcd-pause', 'etcd-cut-all'];
/** The faults that cut the leader off from both followers while it keeps its lease (its ISR shrinks to itself). */
const LEADER_ALONE: readonly Fault[] = ['partition-peers', 'split-with-etcd'];

export interface NemesisEvent {
  readonly kind: Fault;
  /** The node hit ("n1+n3" for kill-two: the leader and another; "etcd" for etcd-kill, -pause and -cut-all). */
  readonly node: string;
  /** The partition whose leader it hit (-1: no leader at the time; a random node). */
  readonly partition: number;
  /** How long the node was down, paused or cut off. */
  readonly downMs: number;
  /** From the fault to a new leader of that partition under a higher epoch (undefined: none within the wait). */
  readonly failoverMs: number | undefined;
  /** Network faults: the smallest ISR of the partition seen during the fault. */
  readonly isrMin?: number;
  /** partition, etcd-cut-one, partition-kill: from the cut to the leader logging that it lost its lease and stepped down. */
  readonly stepDownMs?: number;
  /** slow: what was done to the link; partition-kill: which node was killed. */
  readonly how?: string;
  /** etcd's faults and network faults: how long the fault really held (past downMs when watching it was slow). */
  readonly heldMs?: number;
  /**
   * A window (test-process clock) in which no acknowledgement may be given for a send started
   * inside it: from when the ISR was seen to hold the leader alone (LEADER_ALONE), or every node
   * had logged the loss of its lease (NO_LEASE_ANYWHERE), to when the fault began to heal.
   */
  readonly quiet?: { readonly from: number; readonly until: number; readonly allResources: boolean; readonly why: string };
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
  /** Its in-sync replicas now (undefined: nobody could say). */
  isr(i: number): Promise<number | undefined>;
  /** Whether every replica is back (waited for between faults unless they overlap). */
  whole(): Promise<boolean>;
  /** What whole() waits for, in the progress lines. */
  readonly wholeName: string;
}

export interface NemesisOptions {
  readonly seconds: number;
  readonly minRounds?: number;
  readonly overlap?: boolean;
  readonly log?: (line: string) => void;
}

const TTL_MS = TEST_LEASE_TTL_SEC * 1000;

export async function waitFor(cond: () => Promise<boolean>, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await cond()) return true;
    await sleep(100);
  }
  return false;
}

/** The faults a run gets unless told: those of its workload that its network can make. */
export function defaultFaults(workload: readonly Fault[], network: 'loopback' | 'netns' | undefined): Fault[] {
  return workload.filter((f) => network === 'netns' || !NETNS_FAULTS.includes(f));
}

/** Throws unless every fault is the workload's and the network can make it. */
export function checkFaults(faults: readonly Fault[], workload: readonly Fault[], network: 'loopback' | 'netns' | undefined, name: string): void {
  const foreign = faults.filter((f) => !workload.includes(f));
  if (foreign.length > 0) throw new Error(`the ${name} workload takes the faults ${workload.join(', ')}, not ${foreign.join(', ')}`);
  const needNetns = faults.filter((f) => NETNS_FAULTS.includes(f));
  if (network !== 'netns' && needNetns.length > 0) throw new Error(`the faults ${needNetns.join(', ')} need network: 'netns'`);
}

/** The node's log line (its own timestamp first) when its lease lapsed and it stepped down. */
const LEASE_LOST_LINE = /^(\S+) error lost etcd: /gm;

function leaseLosses(node: SpawnedBroker | undefined): number {
  return node === undefined ? 0 : [...node.stderr().matchAll(LEASE_LOST_LINE)].length;
}

/** When the node last logged a step-down after its `before`th, as ms since the epoch. */
function steppedDownAt(node: SpawnedBroker, before: number): number | undefined {
  const lines = [...node.stderr().matchAll(LEASE_LOST_LINE)];
  return lines.length > before ? Date.parse(lines[before]?.[1] ?? '') : undefined;
}

/** The seeded nemesis: faults in a seeded order, each on the leader of a seeded resource, until the run's time is up. */
export async function nemesis(cluster: TestCluster, o: NemesisOptions, rand: () => number, faults: readonly Fault[], aim: NemesisTarget): Promise<NemesisEvent[]> {
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
    const downMs = NETNS_FAULTS.includes(kind) ? between(TTL_MS / 2, TTL_MS * 3) : between(TTL_MS / 4, TTL_MS * 2.5);
    const node = cluster.nodes.get(target);
    const others = NAMES.filter((n) => n !== target && cluster.up(n));
    const second = others[Math.floor(rand() * others.length)];
    if (node === undefined || !cluster.up(target) || ((kind === 'kill-two' || kind === 'one-way') && second === undefined)) continue;
    const t0 = Date.now();
    let failoverMs: number | undefined;
    // A leader that keeps its lease is not expected to fail over: watch for one during the fault
    // only. Without etcd nobody leads until it is back (a restart takes a while on a loaded machine).
    const watchMs = KEEPS_LEASE.includes(kind) ? downMs : downMs + TTL_MS * (ETCD_FAULTS.includes(kind) ? 5 : 3);
    const watchFailover = (async () => {
      if (leader === undefined) return;
      const moved = await waitFor(() => aim.moved(partition, leader), watchMs);
      if (moved) failoverMs = Date.now() - t0;
    })();
    let seen: Seen = {};
    if (kind === 'kill') {
      await node.kill('SIGKILL');
      await sleep(downMs);
      await Promise.race([watchFailover, sleep(TTL_MS * 2)]);
      await cluster.spawn(target);
    } else if (kind === 'kill-two') {
      await Promise.all([node.kill('SIGKILL'), cluster.nodes.get(second ?? '')?.kill('SIGKILL')]);
      await sleep(downMs);
      await Promise.race([watchFailover, sleep(TTL_MS * 2)]);
      await cluster.spawn(target);
      await cluster.spawn(second ?? '');
    } else if (kind === 'pause') {
      node.process.kill('SIGSTOP');
      cluster.paused.add(target);
      await sleep(downMs);
      node.process.kill('SIGCONT');
      cluster.paused.delete(target);
    } else {
      seen = await hostFault(cluster, aim, { kind, target, second: second ?? '', node, partition, downMs, leader, rand });
    }
    await watchFailover;
    const hitsEtcd = kind === 'etcd-kill' || kind === 'etcd-pause' || kind === 'etcd-cut-all';
    const who = hitsEtcd ? 'etcd' : kind === 'kill-two' ? `${target}+${second}` : kind === 'one-way' ? `${target}<-${second}` : kind === 'split-with-etcd' ? `${target}+etcd|others` : target;
    const event: NemesisEvent = { kind, node: who, partition: leader === undefined ? -1 : partition, downMs, failoverMs, ...seen };
    events.push(event);
    const detail = [
      seen.heldMs !== undefined && seen.heldMs > downMs + 1000 ? `held ${seen.heldMs} ms` : undefined,
      seen.how,
      seen.stepDownMs !== undefined ? `stepped down after ${seen.stepDownMs} ms` : undefined,
      seen.isrMin !== undefined ? `ISR down to ${seen.isrMin}` : undefined,
      seen.quiet !== undefined ? `no acknowledgement may start from ${seen.quiet.from - t0} ms (${seen.quiet.why})` : undefined,
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

/** What a fault of etcd's or of the network saw while it lasted. */
type Seen = Pick<NemesisEvent, 'isrMin' | 'stepDownMs' | 'how' | 'quiet' | 'heldMs'>;

interface HostFault {
  readonly kind: Fault;
  readonly target: string;
  /** The follower of a one-way cut. */
  readonly second: string;
  readonly node: SpawnedBroker;
  readonly partition: number;
  readonly downMs: number;
  readonly leader: LeaderSeen | undefined;
  readonly rand: () => number;
}

/**
 * Does etcd's fault or the network fault for downMs, watching the partition's ISR, the nodes'
 * step-downs and (partition-kill) the new leader, then heals what it did.
 */
async function hostFault(cluster: TestCluster, aim: NemesisTarget, f: HostFault): Promise<Seen> {
  const net = cluster.hosts.net;
  if (NETNS_FAULTS.includes(f.kind) && net === undefined) throw new Error(`${f.kind} needs network: 'netns'`);
  const others = NAMES.filter((n) => n !== f.target);
  const lossesBefore = new Map(NAMES.map((n) => [n, leaseLosses(cluster.nodes.get(n))]));
  const stepDownsBefore = lossesBefore.get(f.target) ?? 0;
  let how: string | undefined;
  /** The hosts whose cuts the heal removes. */
  const cutHosts: string[] = [f.target];
  const isolated: string[] = [];
  if (f.kind === 'etcd-kill') {
    await cluster.etcd.crash();
  } else if (f.kind === 'etcd-pause') {
    process.kill(cluster.etcd.pid, 'SIGSTOP');
  } else if (f.kind === 'etcd-cut-all') {
    net?.cut(ETCD_HOST, NAMES);
    cutHosts.splice(0, 1, ETCD_HOST);
  } else if (f.kind === 'etcd-cut-one') {
    net?.cut(f.target, [ETCD_HOST]);
    isolated.push(f.target);
  } else if (f.kind === 'partition' || f.kind === 'partition-kill') {
    net?.cut(f.target, [...others, ETCD_HOST]);
    isolated.push(f.target);
  } else if (f.kind === 'partition-peers') {
    net?.cut(f.target, others);
  } else if (f.kind === 'split-with-etcd') {
    // {leader, etcd} | {others}: the leader and the others cannot reach each other, the others not etcd.
    net?.cut(f.target, others);
    for (const n of others) net?.cut(n, [ETCD_HOST]);
    cutHosts.push(...others);
    isolated.push(...others);
  } else if (f.kind === 'one-way') {
    net?.cut(f.target, [f.second], true);
  } else {
    how = net?.degrade(f.target, { delayMs: 100, jitterMs: 50, loss: 0.05 });
  }
  for (const n of isolated) cluster.isolated.add(n);
  // From the last rule in place (each is an iptables run in the namespace, slow on a loaded machine).
  const t0 = Date.now();
  let isrMin: number | undefined;
  let quietFrom: number | undefined;
  let killed: string | undefined;
  const end = t0 + f.downMs;
  while (Date.now() < end) {
    const size = await aim.isr(f.partition);
    if (size !== undefined && size > 0) isrMin = Math.min(isrMin ?? size, size);
    if (quietFrom === undefined && LEADER_ALONE.includes(f.kind) && size === 1) quietFrom = Date.now();
    if (quietFrom === undefined && NO_LEASE_ANYWHERE.includes(f.kind) && NAMES.every((n) => leaseLosses(cluster.nodes.get(n)) > (lossesBefore.get(n) ?? 0))) quietFrom = Date.now();
    // A kill during the partition: the node that took over once there is one (or, at half time, another).
    if (f.kind === 'partition-kill' && killed === undefined) {
      const now = f.leader === undefined ? undefined : await aim.leader(f.partition);
      const tookOver = now !== undefined && now.node !== f.target ? now.node : undefined;
      if (tookOver !== undefined || Date.now() > t0 + f.downMs / 2) {
        killed = tookOver ?? others[Math.floor(f.rand() * others.length)] ?? '';
        await cluster.nodes.get(killed)?.kill('SIGKILL');
      }
    }
    await sleep(200);
  }
  const healAt = Date.now();
  if (f.kind === 'etcd-kill') await cluster.etcd.restart();
  else if (f.kind === 'etcd-pause') process.kill(cluster.etcd.pid, 'SIGCONT');
  for (const h of cutHosts) net?.mend(h);
  for (const n of isolated) cluster.isolated.delete(n);
  if (killed !== undefined) {
    await cluster.spawn(killed);
    how = `killed ${killed}${killed === f.target ? '' : ' (it led next)'}`;
  }
  const at = steppedDownAt(f.node, stepDownsBefore);
  const stepDownMs = at === undefined || Number.isNaN(at) || !['partition', 'etcd-cut-one', 'partition-kill'].includes(f.kind) ? undefined : at - t0;
  const quiet = quietFrom === undefined ? undefined : {
    from: quietFrom,
    until: healAt,
    allResources: NO_LEASE_ANYWHERE.includes(f.kind),
    why: NO_LEASE_ANYWHERE.includes(f.kind) ? 'every node had lost its lease' : `the ISR held ${f.target} alone`,
  };
  return { heldMs: healAt - t0, ...(isrMin !== undefined ? { isrMin } : {}), ...(stepDownMs !== undefined ? { stepDownMs } : {}), ...(how !== undefined ? { how } : {}), ...(quiet !== undefined ? { quiet } : {}) };
}

/** One acknowledgement (an acks=all produce response, a publisher confirm) and when its send began and ended. */
export interface TimedAck {
  /** The partition (0 for a queue). */
  readonly resource: number;
  readonly startedAt: number;
  readonly ackedAt: number;
  readonly what: string;
}

/**
 * Acknowledgements no node could rightly give: a send that began inside an event's quiet window
 * (the leader alone in its ISR, or no node with a lease) and was acknowledged before the window
 * closed. Both conditions hold until the heal begins, so nothing is timed: the send began after
 * the condition was seen.
 */
export function quorumlessAcks(events: readonly NemesisEvent[], acks: readonly TimedAck[]): { count: number; problems: string[] } {
  const problems: string[] = [];
  let count = 0;
  for (const e of events) {
    const q = e.quiet;
    if (q === undefined) continue;
    for (const a of acks) {
      if ((q.allResources || a.resource === e.partition) && a.startedAt > q.from && a.ackedAt < q.until) {
        count++;
        if (problems.length < 10) problems.push(`${a.what} acknowledged during ${e.kind} of ${e.node} (${q.why}), sent ${a.startedAt - q.from} ms into the window`);
      }
    }
  }
  return { count, problems };
}

/** The nemesis events by kind, and the failover times. */
export function nemesisLine(events: readonly NemesisEvent[]): string {
  const failovers = events.map((e) => e.failoverMs).filter((m): m is number => m !== undefined).sort((a, b) => a - b);
  const pct = (q: number): string => (failovers.length === 0 ? '-' : `${failovers[Math.min(failovers.length - 1, Math.floor(q * failovers.length))]} ms`);
  const counts = Object.entries(FAULT_NAMES).map(([k, name]) => [name, events.filter((e) => e.kind === k).length] as const).filter(([, n]) => n > 0);
  return `nemesis events ${events.length} (${counts.map(([name, n]) => `${name} ${n}`).join(', ')}), failovers ${failovers.length}: min ${pct(0)}, median ${pct(0.5)}, max ${pct(1)}`;
}

/** The lines about network faults: step-downs, the smallest ISRs, the quiet windows. */
export function faultLines(events: readonly NemesisEvent[]): string[] {
  const stepDowns = events.filter((e) => e.stepDownMs !== undefined).map((e) => `${e.kind} ${e.stepDownMs}`);
  const isrMins = events.filter((e) => e.isrMin !== undefined).map((e) => `${e.kind} ${e.isrMin}`);
  const quiet = events.filter((e) => e.quiet !== undefined).map((e) => `${e.kind} ${(e.quiet?.until ?? 0) - (e.quiet?.from ?? 0)}`);
  return [
    ...(stepDowns.length > 0 ? [`cut-off leaders stepped down after (ms): ${stepDowns.join(', ')}`] : []),
    ...(isrMins.length > 0 ? [`smallest ISR during network faults: ${isrMins.join(', ')}`] : []),
    ...(quiet.length > 0 ? [`windows with no acknowledgement allowed (ms): ${quiet.join(', ')}`] : []),
  ];
}
