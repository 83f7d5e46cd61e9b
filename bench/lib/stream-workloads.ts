// The stream workloads of bench/streams.ts (issue 11) as perf-kafka flags and the metrics read
// from its JSON lines and the broker's resource samples, plus the command line. Pure:
// bench/streams.ts runs the steps; test/unit/bench checks the flags.

import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import type { KafkaPerfResult } from '../../src/cli/perf/kafka-report.js';
import type { BrokerKind } from './brokers.js';
import type { ResourceSummary } from './proc.js';

export type StreamWorkloadId = 'k1' | 'k2' | 'k3' | 'k4';
export const STREAM_WORKLOAD_IDS: readonly StreamWorkloadId[] = ['k1', 'k2', 'k3', 'k4'];

export interface StreamMetric {
  readonly key: string;
  readonly label: string;
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  /** The target, where it sets one. */
  readonly target?: number;
}

export interface StreamOptions {
  workloads: StreamWorkloadId[];
  rounds: number;
  durationSecs: number;
  warmupSecs: number;
  /** Record value size (100 B in the issue). */
  sizeBytes: number;
  /** Producer batching for k1 and the fills of k2 and k4. */
  batchRecords: number;
  maxInFlight: number;
  /** Partitions of k1's topic. */
  partitions: number;
  /** Records k2 prefills and then consumes from the beginning. */
  k2Records: number;
  /** k3's fixed rate, records/s. */
  k3Rate: number;
  /** Bytes k4 retains in one stream. */
  k4Bytes: number;
  /** k4 reads the whole stream back after the recovery. */
  k4ReadBack: boolean;
  brokers: BrokerKind[];
  dataDirBase: string;
  resultsDir?: string;
  /** Seconds of the disk's fsync latency measurement; 0 skips it. */
  fsyncSecs: number;
  help: boolean;
}

export interface StreamStep {
  readonly name: string;
  readonly args: string[];
  /** Unmeasured steps fill a topic or warm the broker up. */
  readonly measured: boolean;
}

export interface StreamWorkload {
  readonly id: StreamWorkloadId;
  readonly title: string;
  readonly brokers: readonly BrokerKind[];
  readonly metrics: readonly StreamMetric[];
  /** k4 is run by its own procedure (kill -9 and restart), not by steps. */
  steps(o: StreamOptions): StreamStep[];
  /** Metric values from the measured step's result and the broker's samples over the whole run. */
  measure(r: KafkaPerfResult, resources: ResourceSummary): Record<string, number>;
}

const MB = 1024 * 1024;
const GB = 1024 * MB;
const recs = (key: string, label: string, target?: number): StreamMetric => ({ key, label, unit: 'records/s', better: 'higher', target });
const ms = (key: string, label: string, target?: number): StreamMetric => ({ key, label, unit: 'ms', better: 'lower', target });
const rssMetric: StreamMetric = { key: 'peakRssMB', label: 'broker peak RSS', unit: 'MB', better: 'lower' };
const cpuMetric: StreamMetric = { key: 'brokerCpuPercent', label: 'broker CPU', unit: '% of a core', better: 'lower' };
const driverCpuMetric: StreamMetric = { key: 'driverCpuPercent', label: 'perf-kafka CPU', unit: '% of a core', better: 'lower' };

const WITH_CEILING: readonly BrokerKind[] = ['wharf', 'kafka-ceiling'];

function common(r: KafkaPerfResult, res: ResourceSummary): Record<string, number> {
  return { peakRssMB: res.peakRssBytes / MB, brokerCpuPercent: res.cpuPercent, driverCpuPercent: r.cpu.percentOfOneCore };
}

/** The producer flags every fill uses: batching as configured, acks=all. */
function producing(o: StreamOptions): string[] {
  return ['--size', String(o.sizeBytes), '--acks', 'all', '--batch-records', String(o.batchRecords), '--max-in-flight', String(o.maxInFlight)];
}

const timed = (o: StreamOptions): string[] => ['--duration', String(o.durationSecs), ...(o.warmupSecs > 0 ? ['--warmup', String(o.warmupSecs)] : [])];

export const STREAM_WORKLOADS: Readonly<Record<StreamWorkloadId, StreamWorkload>> = {
  k1: {
    id: 'k1',
    title: 'produce 100 B records with acks=all (answered after fsync), 1 producer, no consumer',
    brokers: WITH_CEILING,
    metrics: [recs('ackRate', 'produced (acked)', 1_000_000), ms('p50', 'produce latency p50'), ms('p99', 'produce latency p99'), { key: 'mibps', label: 'produced', unit: 'MiB/s', better: 'higher' }, rssMetric, cpuMetric, driverCpuMetric],
    steps: (o) => [{ name: 'k1', measured: true, args: [...producing(o), '--consumers', '0', '--partitions', String(o.partitions), '--topic', 'k1', ...timed(o)] }],
    measure: (r, res) => ({ ackRate: r.ackRate, p50: r.produceLatencyMs.p50, p99: r.produceLatencyMs.p99, mibps: r.produceMiBps, ...common(r, res) }),
  },
  k2: {
    id: 'k2',
    title: 'fetch: 1 consumer reads a prefilled topic (1 partition) from the beginning (read once unmeasured, then measured)',
    brokers: WITH_CEILING,
    metrics: [recs('consumeRate', 'fetched', 2_000_000), { key: 'mibps', label: 'fetched', unit: 'MiB/s', better: 'higher' }, rssMetric, cpuMetric, driverCpuMetric],
    steps: (o) => {
      const read = ['--producers', '0', '--consumers', '1', '--drain', '--from-beginning', '--no-create', '--topic', 'k2'];
      return [
        { name: 'k2-fill', measured: false, args: [...producing(o), '--consumers', '0', '--topic', 'k2', '--records', String(o.k2Records), '--no-cleanup'] },
        { name: 'k2-warm', measured: false, args: read },
        { name: 'k2', measured: true, args: read },
      ];
    },
    measure: (r, res) => ({ consumeRate: r.consumeRate, mibps: r.consumeMiBps, ...common(r, res) }),
  },
  k3: {
    id: 'k3',
    title: 'latency: 1 producer at a fixed rate (acks=all, linger 0, 5 requests in flight), 1 consumer',
    brokers: WITH_CEILING,
    metrics: [
      ms('p50', 'produce latency p50'), ms('p99', 'produce latency p99', 5), ms('p999', 'produce latency p99.9'),
      ms('e2eP50', 'end-to-end p50'), ms('e2eP99', 'end-to-end p99'), ms('e2eP999', 'end-to-end p99.9'),
      recs('ackRate', 'produced (acked)'), rssMetric, cpuMetric,
    ],
    steps: (o) => [{
      name: 'k3',
      measured: true,
      args: ['--size', String(o.sizeBytes), '--acks', 'all', '--rate', String(o.k3Rate), '--linger', '0', '--max-in-flight', '5', '--batch-records', String(o.batchRecords), '--consumers', '1', '--topic', 'k3', ...timed(o)],
    }],
    measure: (r, res) => ({
      p50: r.produceLatencyMs.p50, p99: r.produceLatencyMs.p99, p999: r.produceLatencyMs.p999,
      // The ceiling's records carry no creation times: no end-to-end latency there.
      ...(r.latencyMs.max > 0 ? { e2eP50: r.latencyMs.p50, e2eP99: r.latencyMs.p99, e2eP999: r.latencyMs.p999 } : {}),
      ackRate: r.ackRate, ...common(r, res),
    }),
  },
  k4: {
    id: 'k4',
    title: 'retention: fill one stream with --k4-bytes, kill -9, restart (recovery), then read it all back',
    brokers: ['wharf'],
    metrics: [
      { key: 'retainedGB', label: 'retained on disk', unit: 'GiB', better: 'higher' },
      recs('fillRate', 'fill (acked)'),
      { key: 'peakRssMB', label: 'broker peak RSS while filling', unit: 'MB', better: 'lower', target: 300 },
      { key: 'rssAfterFillMB', label: 'broker RSS after the fill', unit: 'MB', better: 'lower', target: 300 },
      ms('listenMs', 'restart after kill -9: spawn to listening'),
      ms('firstFetchMs', 'restart after kill -9: spawn to first fetched batch'),
      { key: 'rssAfterRecoveryMB', label: 'broker RSS after recovery', unit: 'MB', better: 'lower', target: 300 },
      recs('readBackRate', 'read back from the beginning'),
      { key: 'peakRssReadMB', label: 'broker peak RSS while reading back', unit: 'MB', better: 'lower', target: 300 },
    ],
    steps: () => [],
    measure: () => ({}),
  },
};

/** Records of `sizeBytes` values it takes to retain about `bytes` (record and batch overheads counted). */
export function recordsForBytes(bytes: number, sizeBytes: number, batchRecords: number): number {
  // A record: length, attributes, timestamp and offset deltas, null key, value length, value, no headers.
  const record = sizeBytes + 8;
  const batch = 61 + 9; // batch header + the store's record header
  return Math.ceil((bytes * batchRecords) / (record * batchRecords + batch));
}

export const STREAMS_HELP = `Usage: npm run bench:streams -- [options]

Kafka stream workloads k1-k4 against Wharf and the do-nothing Kafka endpoint
(bench/kafka-ceiling.ts), a fresh process and data dir per run; prints medians and
writes bench/results/<timestamp>-streams.json and .md. See bench/README.md.

  --workloads LIST        k1,k2,k3,k4 or all (all)
  --rounds N              rounds per workload and endpoint (3)
  --duration SECS         length of each timed run (10)
  --warmup SECS           unmeasured load before each timed run (2)
  --size BYTES            record value size (100)
  --batch-records N       records per produce batch (1000)
  --max-in-flight N       produce requests in flight (20; k3 uses 5)
  --partitions N          partitions of k1's topic (1)
  --k2-records N          records k2 prefills and reads back (5000000)
  --k3-rate R             k3's fixed rate in records/s (50000)
  --k4-bytes SIZE         bytes k4 retains, e.g. 10GiB, 500MiB (10GiB)
  --no-k4-read-back       skip reading k4's stream back after the recovery
  --brokers LIST          wharf,kafka-ceiling (both)
  --data-dir-base DIR     where broker data dirs and the fsync test go (${tmpdir()})
  --results-dir DIR       where results are written (bench/results)
  --fsync-seconds SECS    seconds of the disk's fsync latency measurement, 0 to skip (3)
  --help
`;

const BROKERS: readonly BrokerKind[] = ['wharf', 'kafka-ceiling'];

function int(name: string, text: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got '${text}'`);
  return n;
}

/** "10GiB", "500MiB", "2GB", "123456" -> bytes. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|TiB|kB|KB|MB|GB|TB)?\s*$/.exec(text);
  if (!m) throw new Error(`'${text}' is not a size (e.g. 10GiB, 500MiB, 2GB)`);
  const unit = m[2] ?? 'B';
  const mult: Record<string, number> = { B: 1, KiB: 1024, MiB: MB, GiB: GB, TiB: 1024 * GB, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };
  return Math.round(Number(m[1]) * mult[unit]);
}

export function parseStreamWorkloads(list: string): StreamWorkloadId[] {
  if (list.trim() === 'all') return [...STREAM_WORKLOAD_IDS];
  const ids = list.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
  for (const id of ids) {
    if (!(STREAM_WORKLOAD_IDS as readonly string[]).includes(id)) throw new Error(`unknown workload '${id}' (known: ${STREAM_WORKLOAD_IDS.join(',')})`);
  }
  if (ids.length === 0) throw new Error('no workloads selected');
  return [...new Set(ids)] as StreamWorkloadId[];
}

export function parseStreamArgs(argv: string[]): StreamOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      workloads: { type: 'string', default: 'all' },
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      size: { type: 'string', default: '100' },
      'batch-records': { type: 'string', default: '1000' },
      'max-in-flight': { type: 'string', default: '20' },
      partitions: { type: 'string', default: '1' },
      'k2-records': { type: 'string', default: '5000000' },
      'k3-rate': { type: 'string', default: '50000' },
      'k4-bytes': { type: 'string', default: '10GiB' },
      'no-k4-read-back': { type: 'boolean', default: false },
      brokers: { type: 'string', default: BROKERS.join(',') },
      'data-dir-base': { type: 'string', default: tmpdir() },
      'results-dir': { type: 'string' },
      'fsync-seconds': { type: 'string', default: '3' },
      help: { type: 'boolean', default: false },
    },
  });
  const brokers = (values.brokers as string).split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const b of brokers) if (!(BROKERS as readonly string[]).includes(b)) throw new Error(`unknown endpoint '${b}' in --brokers (known: ${BROKERS.join(',')})`);
  if (brokers.length === 0) throw new Error('--brokers names no endpoint');
  return {
    workloads: parseStreamWorkloads(values.workloads as string),
    rounds: int('rounds', values.rounds as string),
    durationSecs: int('duration', values.duration as string),
    warmupSecs: int('warmup', values.warmup as string, 0),
    sizeBytes: int('size', values.size as string, 8),
    batchRecords: int('batch-records', values['batch-records'] as string),
    maxInFlight: int('max-in-flight', values['max-in-flight'] as string),
    partitions: int('partitions', values.partitions as string),
    k2Records: int('k2-records', values['k2-records'] as string),
    k3Rate: int('k3-rate', values['k3-rate'] as string),
    k4Bytes: parseSize(values['k4-bytes'] as string),
    k4ReadBack: !(values['no-k4-read-back'] as boolean),
    brokers: BROKERS.filter((b) => brokers.includes(b)),
    dataDirBase: values['data-dir-base'] as string,
    resultsDir: values['results-dir'],
    fsyncSecs: int('fsync-seconds', values['fsync-seconds'] as string, 0),
    help: values.help === true,
  };
}
