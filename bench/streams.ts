// Kafka stream workloads (issue 11): k1 produce 100 B records with acks=all, k2 fetch a
// prefilled topic from the beginning, k3 produce latency at a fixed rate, each against Wharf and
// the do-nothing Kafka endpoint (bench/kafka-ceiling.ts) in alternation, a fresh process and
// data dir per run, sampling the broker's RSS and CPU every 250 ms; and k4, a stream retaining
// --k4-bytes with a kill -9 recovery. Prints a table of medians (min-max), Wharf as a share of
// the ceiling and the issue's targets, and writes bench/results/<timestamp>-streams.json and .md.
// Prints numbers; asserts nothing. See bench/README.md.
//
//   npm run bench:streams -- --workloads k1,k2 --rounds 3 --duration 10

import { cpus, loadavg, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatSyncLatency, measureSyncLatency, type SyncLatency } from './fsync.js';
import { startBroker, type BrokerKind } from './lib/brokers.js';
import { cleanupAll, wasInterrupted } from './lib/cleanup.js';
import { runKafkaPerf } from './lib/kafka-driver.js';
import { ResourceSampler } from './lib/proc.js';
import { formatNumber, summarize, timestampName, type Summary } from './lib/report.js';
import { runRetention } from './lib/retention.js';
import { STREAMS_HELP, STREAM_WORKLOADS, parseStreamArgs, type StreamMetric, type StreamOptions, type StreamWorkload, type StreamWorkloadId } from './lib/stream-workloads.js';
import type { KafkaPerfResult } from '../src/cli/perf/kafka-report.js';

const DEFAULT_RESULTS_DIR = fileURLToPath(new URL('../../bench/results', import.meta.url));

const log = (line: string): void => void process.stdout.write(line + '\n');

interface StreamRun {
  workload: StreamWorkloadId;
  broker: BrokerKind;
  round: number;
  loadBefore: number[];
  metrics?: Record<string, number>;
  /** perf-kafka's JSON lines, one per step. */
  driver?: KafkaPerfResult[];
  error?: string;
}

interface StreamRow {
  workload: StreamWorkloadId;
  metric: StreamMetric;
  wharf?: Summary;
  ceiling?: Summary;
  /** Wharf median as a percentage of the ceiling's (throughputs only). */
  ofCeilingPercent?: number;
  /** Whether Wharf's median meets the target, where there is one. */
  met?: boolean;
}

/** "produced 1.2M records/s, ..." for the metrics a run has (the ceiling has no end-to-end latency). */
function metricsText(w: StreamWorkload, metrics: Record<string, number> | undefined): string {
  return w.metrics
    .filter((m) => metrics?.[m.key] !== undefined)
    .map((m) => `${m.label} ${formatNumber((metrics as Record<string, number>)[m.key])} ${m.unit}`)
    .join(', ');
}

function stepTimeoutMs(o: StreamOptions): number {
  return (o.durationSecs + o.warmupSecs + 180) * 1000 + Math.ceil(o.k2Records / 50_000) * 1000;
}

async function runOnce(w: StreamWorkload, broker: BrokerKind, round: number, o: StreamOptions): Promise<StreamRun> {
  const record: StreamRun = { workload: w.id, broker, round, loadBefore: loadavg() };
  const label = `[${w.id} round ${round}/${o.rounds} ${broker}]`;
  if (w.id === 'k4') {
    try {
      record.metrics = await runRetention(o, log);
      log(`${label} ${metricsText(w, record.metrics)}`);
    } catch (err) {
      record.error = (err as Error).message.split('\n')[0];
      log(`${label} failed: ${record.error}`);
    }
    return record;
  }
  let running;
  try {
    running = await startBroker(broker, o.dataDirBase);
  } catch (err) {
    record.error = `start failed: ${(err as Error).message.split('\n')[0]}`;
    log(`${label} ${record.error}`);
    return record;
  }
  const sampler = new ResourceSampler(running.pid);
  try {
    const results: KafkaPerfResult[] = [];
    let measured: KafkaPerfResult | undefined;
    for (const step of w.steps(o)) {
      const r = await runKafkaPerf(running.kafkaBootstrap as string, step.args, stepTimeoutMs(o));
      results.push(r);
      if (step.measured) measured = r;
    }
    record.metrics = w.measure(measured as KafkaPerfResult, sampler.stop());
    record.driver = results;
    log(`${label} ${metricsText(w, record.metrics)}`);
  } catch (err) {
    sampler.stop();
    record.error = (err as Error).message.split('\n')[0];
    log(`${label} failed: ${record.error}`);
  } finally {
    await running.stop();
  }
  return record;
}

export function buildStreamTable(ids: readonly StreamWorkloadId[], runs: readonly StreamRun[]): StreamRow[] {
  const rows: StreamRow[] = [];
  for (const id of ids) {
    for (const metric of STREAM_WORKLOADS[id].metrics) {
      const of = (broker: BrokerKind): Summary | undefined =>
        summarize(runs.filter((r) => r.workload === id && r.broker === broker && r.metrics?.[metric.key] !== undefined).map((r) => (r.metrics as Record<string, number>)[metric.key]));
      const wharf = of('wharf');
      const ceiling = of('kafka-ceiling');
      const throughput = metric.unit === 'records/s' || metric.unit === 'MiB/s';
      const t = metric.target;
      rows.push({
        workload: id,
        metric,
        wharf,
        ceiling,
        ofCeilingPercent: throughput && wharf && ceiling && ceiling.median > 0 ? (wharf.median / ceiling.median) * 100 : undefined,
        met: t === undefined || wharf === undefined ? undefined : metric.better === 'higher' ? wharf.median >= t : wharf.median < t,
      });
    }
  }
  return rows;
}

const HEADER = ['wl', 'metric', 'Wharf', 'ceiling', 'W % ceil', 'target'];

function cells(r: StreamRow): string[] {
  const s = (x: Summary | undefined): string => (x === undefined ? '-' : x.n === 1 ? formatNumber(x.median) : `${formatNumber(x.median)} (${formatNumber(x.min)}-${formatNumber(x.max)})`);
  const target = r.metric.target === undefined ? '-' : `${r.metric.better === 'higher' ? '>=' : '<'} ${formatNumber(r.metric.target)}${r.met === undefined ? '' : r.met ? ' met' : ' not met'}`;
  return [r.workload, `${r.metric.label} (${r.metric.unit})`, s(r.wharf), s(r.ceiling), r.ofCeilingPercent === undefined ? '-' : `${r.ofCeilingPercent.toFixed(0)}%`, target];
}

function renderText(rows: readonly StreamRow[]): string {
  const table = [HEADER, ...rows.map(cells)];
  const widths = HEADER.map((_, i) => Math.max(...table.map((r) => r[i].length)));
  return table.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n') + '\n';
}

function renderMarkdown(rows: readonly StreamRow[], meta: Record<string, unknown>, ids: readonly StreamWorkloadId[], diskText: string, errors: readonly StreamRun[]): string {
  const line = (r: string[]): string => `| ${r.join(' | ')} |`;
  return [
    `# bench/streams ${String(meta.startedAt)}`,
    '',
    `Machine: ${JSON.stringify(meta.machine)}`,
    `Options: ${JSON.stringify(meta.options)}`,
    '',
    'Medians of the rounds (min-max); ceiling = the do-nothing Kafka endpoint (bench/kafka-ceiling.ts) with the same client.',
    '',
    ...ids.map((id) => `- **${id}**: ${STREAM_WORKLOADS[id].title}`),
    '',
    line(HEADER),
    line(HEADER.map(() => '---')),
    ...rows.map((r) => line(cells(r))),
    '',
    '## Disk',
    '',
    '```',
    diskText.trimEnd() || 'not measured',
    '```',
    ...(errors.length === 0 ? [] : ['', '## Failed runs', '', ...errors.map((e) => `- ${e.workload} ${e.broker} round ${e.round}: ${e.error}`)]),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  let o: StreamOptions;
  try {
    o = parseStreamArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench/streams: ${(err as Error).message}\n\n${STREAMS_HELP}`);
    process.exit(2);
  }
  if (o.help) {
    process.stdout.write(STREAMS_HELP);
    return;
  }
  const startedAt = new Date().toISOString();
  const loadBefore = loadavg();
  log(`machine: ${cpus().length} cores, load average ${loadBefore.map((x) => x.toFixed(2)).join(' ')} (other work on the machine makes numbers indicative only)`);
  let diskText = '';
  let sync: SyncLatency | undefined;
  if (o.fsyncSecs > 0) {
    sync = measureSyncLatency(o.dataDirBase, o.fsyncSecs);
    diskText = formatSyncLatency(o.dataDirBase, sync);
    process.stdout.write(diskText);
  }

  const runs: StreamRun[] = [];
  for (const id of o.workloads) {
    const w = STREAM_WORKLOADS[id];
    log(`\nworkload ${id}: ${w.title}`);
    const brokers = o.brokers.filter((b) => w.brokers.includes(b));
    for (let round = 1; round <= o.rounds; round++) {
      for (const broker of brokers) {
        if (wasInterrupted()) break;
        runs.push(await runOnce(w, broker, round, o));
      }
    }
  }

  const rows = buildStreamTable(o.workloads, runs);
  const meta = {
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, memoryMB: Math.round(totalmem() / 1024 / 1024), node: process.version, loadBefore, loadAfter: loadavg() },
    options: { ...o },
    fsyncLatency: sync,
  };
  log('');
  process.stdout.write(renderText(rows));
  const dir = o.resultsDir ?? DEFAULT_RESULTS_DIR;
  mkdirSync(dir, { recursive: true });
  const stamp = `${timestampName(new Date(startedAt))}-streams`;
  const errors = runs.filter((r) => r.error !== undefined);
  writeFileSync(join(dir, `${stamp}.json`), JSON.stringify({ ...meta, runs, table: rows }, null, 2) + '\n');
  writeFileSync(join(dir, `${stamp}.md`), renderMarkdown(rows, meta, o.workloads, diskText, errors));
  log(`\nwrote ${join(dir, `${stamp}.json`)}\n      ${join(dir, `${stamp}.md`)}`);
  if (errors.length > 0) log(`${errors.length} run(s) failed; see the results files`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main()
    .catch((err: unknown) => {
      process.stderr.write(`bench/streams: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      process.exitCode = 1;
    })
    .finally(() => cleanupAll());
}
