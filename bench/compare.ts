// Wharf vs RabbitMQ side by side on this machine (issues 4 and 10): installs Debian's
// rabbitmq-server if missing, measures the disk's fsync rate, then runs each
// workload against Wharf, RabbitMQ and (for a, b, c) the byte-forwarding
// ceiling in alternation, a fresh broker and data dir per run, sampling the
// broker's RSS and CPU every 250 ms. Prints a table of medians (min-max) and
// ratios and writes bench/results/<timestamp>.json and .md. Prints numbers;
// asserts nothing. See bench/README.md.
//
//   npm run bench:compare -- --workloads a,b --rounds 3 --duration 10

import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { COMPARE_HELP, parseCompareArgs, type CompareOptions } from './lib/args.js';
import { startBroker, type BrokerKind } from './lib/brokers.js';
import { cleanupAll, wasInterrupted } from './lib/cleanup.js';
import { driverCommand, runDriver, type DriverResult } from './lib/driver.js';
import { ResourceSampler } from './lib/proc.js';
import { ensureRabbitmqInstalled, rabbitmqVersion } from './lib/rabbitmq-install.js';
import { makeRealtime, realtimePrefix } from './lib/realtime.js';
import { buildTable, formatNumber, renderText, writeResults, type ResultsFile, type RunRecord } from './lib/report.js';
import { WORKLOADS, type Workload, type WorkloadOptions } from './lib/workloads.js';
import { formatDisk, measureDisk } from './fsync.js';

const DEFAULT_RESULTS_DIR = fileURLToPath(new URL('../../bench/results', import.meta.url));

const log = (line: string): void => void process.stdout.write(line + '\n');

/** Time allowed for one driver step before it is killed. */
function stepTimeoutMs(o: WorkloadOptions): number {
  return (o.durationSecs + o.warmupSecs + 120) * 1000 + Math.ceil(o.deepMessages / 500) * 1000;
}

async function runOnce(w: Workload, broker: BrokerKind, round: number, opts: CompareOptions, driverArgv: string[]): Promise<RunRecord> {
  const wo: WorkloadOptions = { durationSecs: opts.durationSecs, warmupSecs: opts.warmupSecs, deepMessages: opts.deepMessages, idleConnections: opts.idleConnections };
  const realtime = opts.realtime && w.realtimeOk === true;
  const record: RunRecord = { workload: w.id, broker, round, ...(realtime && { realtime }) };
  const label = `[${w.id} round ${round}/${opts.rounds} ${broker}${realtime ? ' realtime' : ''}]`;
  let running;
  try {
    running = await startBroker(broker, opts.dataDirBase);
  } catch (err) {
    record.error = `start failed: ${(err as Error).message.split('\n')[0]}`;
    log(`${label} ${record.error}`);
    return record;
  }
  const sampler = new ResourceSampler(running.pid);
  try {
    if (realtime) makeRealtime(running.pid);
    const argv = realtime ? [...realtimePrefix(), ...driverArgv] : driverArgv;
    const steps = w.steps(wo);
    const run = (args: string[]): Promise<DriverResult> => runDriver(argv, running.url, args, stepTimeoutMs(wo));
    const results: DriverResult[] = [];
    if (w.parallel) results.push(...(await Promise.all(steps.map((step) => run(step.args)))));
    else for (const step of steps) results.push(await run(step.args));
    record.metrics = w.measure(results, sampler.stop());
    record.driver = results;
    log(`${label} ${w.metrics.map((m) => `${m.label} ${formatNumber(record.metrics?.[m.key] ?? NaN)} ${m.unit}`).join(', ')}`);
  } catch (err) {
    sampler.stop();
    record.error = (err as Error).message.split('\n')[0];
    log(`${label} failed: ${record.error}`);
  } finally {
    await running.stop();
  }
  return record;
}

async function main(): Promise<void> {
  let opts: CompareOptions;
  try {
    opts = parseCompareArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench/compare: ${(err as Error).message}\n\n${COMPARE_HELP}`);
    process.exit(2);
  }
  if (opts.help) {
    process.stdout.write(COMPARE_HELP);
    return;
  }
  const startedAt = new Date().toISOString();
  const loadBefore = loadavg();
  if (opts.brokers.includes('rabbitmq')) ensureRabbitmqInstalled(log);
  const driver = driverCommand(opts.driver, opts.driverCmd);
  log(`driver: ${driver.name}`);
  log(`machine: ${cpus().length} cores, load average ${loadBefore.map((x) => x.toFixed(2)).join(' ')} (numbers from a loaded machine are indicative only)`);

  let fsyncText = 'not measured (--fsync-seconds 0)\n';
  let disk: unknown;
  if (opts.fsyncSecs > 0) {
    const d = measureDisk(opts.dataDirBase, opts.fsyncSecs);
    disk = d;
    fsyncText = formatDisk(opts.dataDirBase, d);
    process.stdout.write(fsyncText);
  }

  const runs: RunRecord[] = [];
  for (const id of opts.workloads) {
    const w = WORKLOADS[id];
    log(`\nworkload ${id}: ${w.title}`);
    const brokers = opts.brokers.filter((b) => w.brokers.includes(b));
    for (let round = 1; round <= opts.rounds; round++) {
      for (const broker of brokers) {
        if (wasInterrupted()) break;
        runs.push(await runOnce(w, broker, round, opts, driver.argv));
      }
    }
  }

  const table = buildTable(opts.workloads.map((id) => WORKLOADS[id]), runs);
  const results: ResultsFile = {
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: {
      cores: cpus().length,
      cpu: cpus()[0]?.model,
      memoryMB: Math.round(totalmem() / 1024 / 1024),
      node: process.version,
      rabbitmq: opts.brokers.includes('rabbitmq') ? rabbitmqVersion() : undefined,
      loadBefore,
      loadAfter: loadavg(),
    },
    options: { ...opts },
    driver: driver.name,
    fsync: disk,
    workloads: opts.workloads.map((id) => ({ id, title: WORKLOADS[id].title })),
    runs,
    table,
  };
  log('');
  process.stdout.write(renderText(table));
  const files = writeResults(opts.resultsDir ?? DEFAULT_RESULTS_DIR, results, fsyncText);
  log(`\nwrote ${files.json}\n      ${files.md}`);
  const failed = runs.filter((r) => r.error !== undefined).length;
  if (failed > 0) log(`${failed} run(s) failed; see the results files`);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`bench/compare: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => cleanupAll());
