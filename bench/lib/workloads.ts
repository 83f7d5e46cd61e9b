// The workloads of the comparison (issues 4 and 10), as driver flags and the
// metrics read from the driver's JSON line and the broker's resource samples.
// Pure: bench/compare.ts runs the steps; tests check the flags.

import type { DriverResult } from './driver.js';
import type { ResourceSummary } from './proc.js';
import type { BrokerKind } from './brokers.js';

export type WorkloadId = 'a' | 'b' | 'c' | 'd' | 'e' | 'e2' | 'f' | 'g' | 'h';
export const WORKLOAD_IDS: readonly WorkloadId[] = ['a', 'b', 'c', 'd', 'e', 'e2', 'f', 'g', 'h'];

export interface MetricSpec {
  readonly key: string;
  readonly label: string;
  readonly unit: string;
  /** Which direction is better, for reading the ratio. */
  readonly better: 'higher' | 'lower';
}

export interface WorkloadOptions {
  durationSecs: number;
  /** Unmeasured load before each timed run (a-e2, h): both brokers and the driver warm up (JIT, caches, first segment). */
  warmupSecs: number;
  /** Messages published in workload f. */
  deepMessages: number;
  /** Connections held open in workload g. */
  idleConnections: number;
}

export interface Step {
  readonly name: string;
  readonly args: string[];
}

export interface Workload {
  readonly id: WorkloadId;
  readonly title: string;
  /** The ceiling only takes part where it can carry the same traffic meaningfully. */
  readonly brokers: readonly BrokerKind[];
  readonly metrics: readonly MetricSpec[];
  /** The steps run at the same time (two flows against one broker), not one after the other. */
  readonly parallel?: boolean;
  /** Light enough on CPU to run at real-time priority with --realtime (bench/lib/realtime.ts). */
  readonly realtimeOk?: boolean;
  steps(o: WorkloadOptions): Step[];
  /** Metric values from the steps' driver results (in step order) and the broker's samples. */
  measure(results: DriverResult[], resources: ResourceSummary): Record<string, number>;
}

const MB = 1024 * 1024;
const msgs = (key: string, label: string): MetricSpec => ({ key, label, unit: 'msg/s', better: 'higher' });
const ms = (key: string, label: string): MetricSpec => ({ key, label, unit: 'ms', better: 'lower' });
const rssMetric: MetricSpec = { key: 'peakRssMB', label: 'broker peak RSS', unit: 'MB', better: 'lower' };
const cpuMetric: MetricSpec = { key: 'brokerCpuPercent', label: 'broker CPU', unit: '% of a core', better: 'lower' };
const driverCpuMetric: MetricSpec = { key: 'driverCpuPercent', label: 'driver CPU', unit: '% of a core', better: 'lower' };
/** How long the broker's threads waited for a CPU: the machine's share of a latency run's tail. */
const runqueueMetric: MetricSpec = { key: 'runqueueWaitMsPerSec', label: 'broker run-queue wait', unit: 'ms/s', better: 'lower' };
const loadMetric: MetricSpec = { key: 'loadAverage', label: 'load average (1 min) at the end', unit: 'runnable', better: 'lower' };

const BOTH: readonly BrokerKind[] = ['wharf', 'rabbitmq'];
const WITH_CEILING: readonly BrokerKind[] = ['wharf', 'rabbitmq', 'ceiling'];

/** A timed run: the warm-up, then the measured duration. */
const timed = (o: WorkloadOptions): string[] => ['--duration', String(o.durationSecs), ...(o.warmupSecs > 0 ? ['--warmup', String(o.warmupSecs)] : [])];

/** Persistent, confirm window 1000, manual acks with prefetch 1000 (workloads b, c, d). */
const RELIABLE = ['--persistent', '--confirm', '1000', '--prefetch', '1000'];

function common(results: DriverResult[], resources: ResourceSummary): Record<string, number> {
  return {
    peakRssMB: resources.peakRssBytes / MB,
    brokerCpuPercent: resources.cpuPercent,
    driverCpuPercent: results.reduce((max, r) => Math.max(max, r.cpu?.percentOfOneCore ?? 0), 0),
    runqueueWaitMsPerSec: resources.runqueueWaitMsPerSec,
    loadAverage: resources.loadAverage,
  };
}

/** Publish-to-delivery and publish-to-confirm latency of one flow (the amqplib stand-in has no confirm latency: NaN). */
function latencies(r: DriverResult): Record<string, number> {
  return { p50: r.latencyMs.p50, p99: r.latencyMs.p99, p999: r.latencyMs.p999, confirmP99: r.confirmLatencyMs?.p99 ?? NaN };
}

const LATENCY_METRICS: readonly MetricSpec[] = [
  ms('p50', 'latency p50'), ms('p99', 'latency p99'), ms('p999', 'latency p99.9'), ms('confirmP99', 'confirm latency p99'),
];

/** e and e2: persistent 16 B with confirms and acks as b, at a fixed rate. */
function paced(id: WorkloadId, ratePerSec: number): Workload {
  return {
    id,
    title: `latency: persistent 16 B with confirms at a fixed ${ratePerSec.toLocaleString('en-US')} msg/s, manual ack`,
    brokers: BOTH,
    realtimeOk: true,
    metrics: [...LATENCY_METRICS, msgs('consumeRate', 'consumed'), rssMetric, cpuMetric, runqueueMetric, loadMetric],
    steps: (o) => [{ name: id, args: ['--size', '16', ...RELIABLE, '--rate', String(ratePerSec), ...timed(o)] }],
    measure: ([r], res) => ({ ...latencies(r), consumeRate: r.consumeRate, ...common([r], res) }),
  };
}

/**
 * h: e's polite flow (queue polite-1) while another connection publishes persistent 16 B
 * flat out, without confirms, to queue noisy-1 (an auto-ack consumer takes them). Two
 * driver processes, so neither flow's client work delays the other's timestamps. Both
 * start together; the noisy one runs 2 s longer, so it covers the polite one's measured window.
 */
const noisyNeighbour: Workload = {
  id: 'h',
  title: 'noisy neighbour: e\'s flow (5,000 msg/s, confirms) beside a flat-out persistent publisher without confirms to another queue',
  brokers: BOTH,
  parallel: true,
  metrics: [
    ...LATENCY_METRICS.map((m) => ({ ...m, label: `polite ${m.label}` })),
    msgs('consumeRate', 'polite consumed'),
    msgs('noisyPublishRate', 'noisy published'),
    msgs('noisyConsumeRate', 'noisy consumed'),
    rssMetric, cpuMetric, runqueueMetric, loadMetric,
  ],
  steps: (o) => [
    { name: 'h-polite', args: ['--size', '16', ...RELIABLE, '--rate', '5000', '--queue-prefix', 'polite', ...timed(o)] },
    {
      name: 'h-noisy',
      args: ['--size', '16', '--persistent', '--auto-ack', '--queue-prefix', 'noisy', ...timed({ ...o, durationSecs: o.durationSecs + 2 })],
    },
  ],
  measure: ([polite, noisy], res) => ({
    ...latencies(polite),
    consumeRate: polite.consumeRate,
    noisyPublishRate: noisy.publishRate,
    noisyConsumeRate: noisy.consumeRate,
    ...common([polite, noisy], res),
  }),
};

function throughput(id: WorkloadId, title: string, brokers: readonly BrokerKind[], args: (o: WorkloadOptions) => string[]): Workload {
  return {
    id,
    title,
    brokers,
    metrics: [msgs('consumeRate', 'consumed'), msgs('publishRate', 'published'), rssMetric, cpuMetric, driverCpuMetric],
    steps: (o) => [{ name: id, args: [...args(o), ...timed(o)] }],
    measure: ([r], res) => ({ consumeRate: r.consumeRate, publishRate: r.publishRate, ...common([r], res) }),
  };
}

export const WORKLOADS: Readonly<Record<WorkloadId, Workload>> = {
  a: throughput('a', 'transient 16 B, auto-ack, 1 publisher / 1 consumer', WITH_CEILING, () => ['--size', '16', '--auto-ack']),
  b: throughput('b', 'persistent 16 B, confirms (window 1000), manual ack (prefetch 1000), durable queue', WITH_CEILING, () => [
    '--size', '16', ...RELIABLE,
  ]),
  c: throughput('c', 'as b with 1 KiB bodies', WITH_CEILING, () => ['--size', '1024', ...RELIABLE]),
  d: {
    id: 'd',
    title: 'fan-out: 1 publisher to a fanout exchange with 10 bound queues, 10 consumers (persistent, confirms, manual ack as b)',
    brokers: BOTH,
    metrics: [msgs('consumeRate', 'deliveries'), msgs('publishRate', 'publishes'), rssMetric, cpuMetric, driverCpuMetric],
    steps: (o) => [{
      name: 'd',
      args: ['--exchange-type', 'fanout', '--queues', '10', '--consumers', '10', '--size', '16', ...RELIABLE, ...timed(o)],
    }],
    measure: ([r], res) => ({ consumeRate: r.consumeRate, publishRate: r.publishRate, ...common([r], res) }),
  },
  e: paced('e', 5000),
  e2: paced('e2', 20_000),
  f: {
    id: 'f',
    title: 'deep queue: publish N persistent 1 KiB messages with no consumer (confirms 1000), then drain (prefetch 1000)',
    brokers: BOTH,
    metrics: [msgs('fillRate', 'fill'), msgs('drainRate', 'drain'), rssMetric, cpuMetric],
    steps: (o) => [
      {
        name: 'f-fill',
        args: ['--publishers', '1', '--consumers', '0', '--size', '1024', '--persistent', '--confirm', '1000',
          '--pmessages', String(o.deepMessages), '--queue-prefix', 'deep', '--no-cleanup'],
      },
      {
        name: 'f-drain',
        args: ['--publishers', '0', '--consumers', '1', '--persistent', '--prefetch', '1000', '--drain', '--queue-prefix', 'deep', '--no-declare'],
      },
    ],
    measure: ([fill, drain], res) => ({ fillRate: fill.publishRate, drainRate: drain.consumeRate, ...common([fill, drain], res) }),
  },
  g: {
    id: 'g',
    title: 'idle connections with one channel each: broker RSS',
    brokers: BOTH,
    metrics: [{ key: 'peakRssMB', label: 'broker peak RSS', unit: 'MB', better: 'lower' }, { key: 'baselineRssMB', label: 'RSS before', unit: 'MB', better: 'lower' }],
    steps: (o) => [{
      name: 'g',
      args: ['--publishers', '0', '--consumers', '0', '--idle-connections', String(o.idleConnections), '--duration', String(Math.max(5, o.durationSecs))],
    }],
    measure: (results, res) => ({ ...common(results, res), baselineRssMB: res.firstRssBytes / MB }),
  },
  h: noisyNeighbour,
};

/** Parses "a,b,c" (or "all") into workload ids; throws on unknown ones. */
export function parseWorkloads(list: string): WorkloadId[] {
  if (list.trim() === 'all') return [...WORKLOAD_IDS];
  const ids = list.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
  for (const id of ids) {
    if (!(WORKLOAD_IDS as readonly string[]).includes(id)) throw new Error(`unknown workload '${id}' (known: ${WORKLOAD_IDS.join(',')})`);
  }
  if (ids.length === 0) throw new Error('no workloads selected');
  return [...new Set(ids)] as WorkloadId[];
}
