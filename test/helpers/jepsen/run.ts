// A Jepsen-style run against replicated Kafka topics (docs/cluster.md, "Proving it"): a private
// etcd and three `wharf serve --cluster` processes on loopback, a topic with replication factor
// 3, kafkajs producers with acks=all (idempotence off and on) that record every acknowledged
// (partition, offset, value) and every send left without an answer, and the seeded nemesis
// (nemesis.ts: kill -9, SIGSTOP, kill -9 of two, etcd's kill -9 and SIGSTOP). Then it heals, waits for
// every ISR to hold all three replicas, stops the nodes and hands every replica's logs on disk to
// the checker. The same run serves the short seeded tests (test/integration/cluster/jepsen.test.ts,
// jepsen-netns.test.ts) and the soak (scripts/cluster-soak.ts).
//
// Where the hosts run is pluggable: all on loopback, or (network: 'netns') each node and etcd in
// a network namespace of its own on a private bridge (netns.ts), which adds the network faults:
// the leader cut off from the other nodes and etcd, from the other nodes only, from one follower
// one way, a degraded link, etcd cut off from one node or all, two-way splits, a kill during a
// partition.

import { Kafka, logLevel, type Producer } from 'kafkajs';
import { sleep } from '../async.js';
import { loopbackHosts, netnsHosts, NODE_NAMES as NAMES, TestCluster } from '../cluster.js';
import { kafkaErrorTypes } from '../kafka.js';
import { check, recordsOnDisk, type Acked, type CheckResult } from './checker.js';
import { seededRandom } from '../../../src/util/random.js';
import { amqpRun, type AmqpRunResult } from './amqp.js';
import {
  ALL_FAULTS, checkFaults, defaultFaults, faultLines, nemesis, nemesisLine, quorumlessAcks, waitFor,
  type Fault, type NemesisEvent, type NemesisTarget, type TimedAck,
} from './nemesis.js';

export { ALL_FAULTS, ETCD_FAULTS, ETCD_NETWORK_FAULTS, NETNS_FAULTS, NETWORK_FAULTS, PROCESS_FAULTS, SPLIT_FAULTS, type Fault } from './nemesis.js';
/** The Kafka workload's faults: all of them. */
export const KAFKA_FAULTS: readonly Fault[] = ALL_FAULTS;

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
  /** The faults of each round (the default: every fault of the workload that the network can make). */
  readonly faults?: readonly Fault[];
  /** Kafka producers on a replicated topic (the default), or amqplib publishers on a quorum queue (amqp.ts). */
  readonly workload?: 'kafka' | 'amqp';
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
  /** Acknowledgements given when no node could rightly give them (quorumlessAcks): none may be. */
  readonly quorumless: { readonly count: number; readonly problems: readonly string[] };
}

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
  const faults = o.faults ?? defaultFaults(KAFKA_FAULTS, o.network);
  checkFaults(faults, KAFKA_FAULTS, o.network, 'kafka');
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
    const timed: TimedAck[] = [];
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
          const startedAt = Date.now();
          const [meta] = await producer.send({ topic, acks: -1, timeout: 5000, messages: [{ value, partition }] });
          if (meta === undefined || meta.errorCode !== 0) throw new Error(`error code ${meta?.errorCode}`);
          acked.push({ partition: meta.partition, offset: Number(meta.baseOffset), value });
          timed.push({ resource: meta.partition, startedAt, ackedAt: Date.now(), what: `${value} (partition ${meta.partition} offset ${meta.baseOffset})` });
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
      isr: async (p) => (await isrSizes(cluster, topic))?.[p],
      whole: full,
      wholeName: 'every ISR whole',
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
    await cluster.killAll();
    const replicas: Map<number, string>[][] = [];
    for (let p = 0; p < partitions; p++) {
      replicas.push(await Promise.all(NAMES.map((n) => recordsOnDisk(cluster.dirs.get(n) ?? '', topic, p))));
    }
    const result = check(replicas, acked, unacked, (v) => idempotentOf(Number(/^p(\d+)-/.exec(v)?.[1] ?? -1)));
    const quorumless = quorumlessAcks(events, timed);
    if (result.lost > 0 || result.divergent > 0 || result.prefixGaps > 0 || quorumless.count > 0) log(`the check failed: the nodes' and etcd's logs are in ${await cluster.saveLogs(`kafka-${o.seed}`)}`);
    return { seed: o.seed, topic, operations, acknowledged: acked.length, unacknowledged: unacked.size, failures, events, isrRecovered, healMs, check: result, quorumless };
  } finally {
    await cluster.stop().catch(() => undefined);
    await cluster.removeData();
  }
}

/** The run's figures, one line each. */
export function summary(r: RunResult): string[] {
  return [
    `seed ${r.seed}, topic ${r.topic}`,
    `operations ${r.operations}, acknowledged ${r.acknowledged}, unacknowledged ${r.unacknowledged}`,
    nemesisLine(r.events),
    ...faultLines(r.events),
    `sends failed for good, by error: ${JSON.stringify(r.failures)}`,
    `lost ${r.check.lost}, divergent ${r.check.divergent}, prefix gaps ${r.check.prefixGaps}, ISR recovered ${r.isrRecovered} (${r.healMs} ms after the heal)`,
    `duplicates ${r.check.duplicates} (idempotent producers' ${r.check.idempotentDuplicates}), unacknowledged sends present ${r.check.unackedPresent}, log ends ${JSON.stringify(r.check.logEnds)}`,
    `acknowledged without a quorum (sent while the leader held the ISR alone, or no node held a lease): ${r.quorumless.count}`,
    ...r.check.problems.map((p) => `problem: ${p}`),
    ...r.quorumless.problems.map((p) => `problem: ${p}`),
  ];
}
