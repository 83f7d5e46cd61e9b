// Three-node RabbitMQ quorum queues against a three-node Wharf on this machine
// (issue 16): starts each cluster in turn on loopback (bench/lib/rabbitmq-cluster.ts,
// bench/lib/wharf-cluster.ts), declares a durable quorum queue, finds its leader and
// publishes persistent messages with confirms to it with `wharf perf` (the driver
// bench/compare uses): confirmed msg/s and publish->confirm latency, then a consumer
// drains the queue; an AMQP stream queue row; then kills the leader with SIGKILL
// under a publisher (bench/lib/failover.ts) and times the first confirm on a
// surviving node and the queue's new leader. Prints a table per system and the
// ratios, writes bench/results/cluster-<timestamp>.json. Asserts nothing.
//
//   npm run bench:cluster -- [--duration 10] [--window 1000] [--sizes 100,1024]

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import amqp from 'amqplib';
import { cleanupAll, wasInterrupted } from './lib/cleanup.js';
import { driverCommand, runDriver, type DriverResult } from './lib/driver.js';
import { measureFailover, type FailoverNode, type FailoverResult } from './lib/failover.js';
import { startRabbitCluster } from './lib/rabbitmq-cluster.js';
import { ensureRabbitmqInstalled, rabbitmqVersion } from './lib/rabbitmq-install.js';
import { formatNumber, timestampName } from './lib/report.js';
import { startWharfCluster } from './lib/wharf-cluster.js';

const HELP = `Usage: npm run bench:cluster -- [options]

  --systems LIST        rabbitmq,wharf (both)
  --nodes N             nodes per cluster (3)
  --duration SECONDS    measured publishing per row (10)
  --warmup SECONDS      unmeasured publishing before it (2)
  --window N            unconfirmed messages allowed per publisher (1000)
  --sizes LIST          body sizes in bytes, a quorum-queue row each (100,1024)
  --no-stream           leave out the stream-queue row (x-queue-type stream, 1 KiB, publish only)
  --failover-window N   the failover publisher's window (100)
  --failover-before S   seconds of publishing before the kill (3)
  --confirm-timeout S   the failover publisher gives a connection up after S seconds without a confirm (5)
  --lease-ttl S         Wharf's --cluster-lease-ttl (4, its default)
  --wharf-cli PATH      run another build's dist/src/cli/main.js as the Wharf nodes (this build's by default)
  --data-dir-base DIR   where the nodes' data dirs go (the OS temp dir)
  --results-dir DIR     where the JSON goes (bench/results)
`;

const DEFAULT_RESULTS_DIR = fileURLToPath(new URL('../../bench/results', import.meta.url));
const log = (line: string): void => void process.stdout.write(line + '\n');
const credentials = `Basic ${Buffer.from('guest:guest').toString('base64')}`;

type SystemId = 'rabbitmq' | 'wharf';

interface Options {
  systems: SystemId[];
  nodes: number;
  durationSecs: number;
  warmupSecs: number;
  window: number;
  sizes: number[];
  stream: boolean;
  failoverWindow: number;
  failoverBeforeSecs: number;
  confirmTimeoutSecs: number;
  leaseTtlSecs: number;
  wharfCli: string | undefined;
  dataDirBase: string;
  resultsDir: string;
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      systems: { type: 'string', default: 'rabbitmq,wharf' },
      nodes: { type: 'string', default: '3' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      window: { type: 'string', default: '1000' },
      sizes: { type: 'string', default: '100,1024' },
      'no-stream': { type: 'boolean', default: false },
      'failover-window': { type: 'string', default: '100' },
      'failover-before': { type: 'string', default: '3' },
      'confirm-timeout': { type: 'string', default: '5' },
      'lease-ttl': { type: 'string', default: '4' },
      'wharf-cli': { type: 'string' },
      'data-dir-base': { type: 'string', default: tmpdir() },
      'results-dir': { type: 'string', default: DEFAULT_RESULTS_DIR },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return undefined;
  const whole = (flag: string, raw: string, min: number): number => {
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < min) throw new Error(`--${flag}: expected a whole number >= ${min}, got ${JSON.stringify(raw)}`);
    return n;
  };
  const systems = values.systems.split(',').map((s) => s.trim());
  for (const s of systems) if (s !== 'rabbitmq' && s !== 'wharf') throw new Error(`--systems: unknown system ${JSON.stringify(s)} (rabbitmq, wharf)`);
  return {
    systems: systems as SystemId[],
    nodes: whole('nodes', values.nodes, 2),
    durationSecs: whole('duration', values.duration, 1),
    warmupSecs: whole('warmup', values.warmup, 0),
    window: whole('window', values.window, 1),
    sizes: values.sizes.split(',').map((s) => whole('sizes', s.trim(), 12)),
    stream: !values['no-stream'],
    failoverWindow: whole('failover-window', values['failover-window'], 1),
    failoverBeforeSecs: whole('failover-before', values['failover-before'], 1),
    confirmTimeoutSecs: whole('confirm-timeout', values['confirm-timeout'], 1),
    leaseTtlSecs: whole('lease-ttl', values['lease-ttl'], 2),
    wharfCli: values['wharf-cli'],
    dataDirBase: values['data-dir-base'],
    resultsDir: values['results-dir'],
  };
}

/** A running cluster, whichever system. */
interface Cluster {
  readonly id: SystemId;
  readonly label: string;
  readonly nodes: readonly (FailoverNode & { readonly httpPort: number })[];
  /** The queue's leader as the system names it, asked of `alive` in turn; undefined if none names one. */
  leaderOf(queue: string, alive: readonly FailoverNode[]): Promise<string | undefined>;
  kill(name: string): void;
  stop(): Promise<void>;
  /** Learnt from the first queue of each type: whether the system names its leader at all. */
  readonly namesLeaders: Map<'quorum' | 'stream', boolean>;
}

async function getJson(port: number, path: string): Promise<unknown> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: credentials }, signal: AbortSignal.timeout(3000) });
  if (!res.ok) return undefined;
  return res.json();
}

function portOf(c: Cluster, name: string): number {
  return c.nodes.find((n) => n.name === name)?.httpPort ?? 0;
}

async function firstAnswer(c: Cluster, alive: readonly FailoverNode[], ask: (port: number) => Promise<string | undefined>): Promise<string | undefined> {
  for (const n of alive) {
    const answer = await ask(portOf(c, n.name)).catch(() => undefined);
    if (answer !== undefined) return answer;
  }
  return undefined;
}

async function rabbitCluster(o: Options): Promise<Cluster> {
  const rc = await startRabbitCluster(o.dataDirBase, o.nodes, log);
  const c: Cluster = {
    id: 'rabbitmq',
    label: `RabbitMQ ${rabbitmqVersion()}`,
    nodes: rc.nodes.map((n) => ({ name: n.name, url: n.url, httpPort: n.httpPort })),
    // The management API's queue object names a quorum queue's leader (and its members); a
    // stream queue's object has no `leader` in 3.10, but its `node` is the stream's leader.
    leaderOf: (queue, alive) =>
      firstAnswer(c, alive, async (port) => {
        const q = (await getJson(port, `/api/queues/%2F/${encodeURIComponent(queue)}`)) as { leader?: unknown; node?: unknown; type?: unknown } | undefined;
        if (typeof q?.leader === 'string') return q.leader;
        return q?.type === 'stream' && typeof q.node === 'string' ? q.node : undefined;
      }),
    kill: (name) => rc.kill(name),
    namesLeaders: new Map(),
    stop: () => rc.stop(),
  };
  return c;
}

async function wharfCluster(o: Options): Promise<Cluster> {
  const wc = await startWharfCluster(o.dataDirBase, o.nodes, o.leaseTtlSecs, o.wharfCli);
  const c: Cluster = {
    id: 'wharf',
    label: `Wharf ${o.wharfCli === undefined ? 'this build' : o.wharfCli} (lease TTL ${o.leaseTtlSecs} s)`,
    nodes: wc.nodes.map((n) => ({ name: n.name, url: n.child.url, httpPort: n.child.httpPort })),
    // The queue object's `leader` where replicated queues name one; else the node whose /api/nodes
    // entry leads queue/<vhost>/<queue>; else none (queues are each node's own).
    leaderOf: (queue, alive) =>
      firstAnswer(c, alive, async (port) => {
        const q = (await getJson(port, `/api/queues/%2F/${encodeURIComponent(queue)}`)) as { leader?: unknown } | undefined;
        if (typeof q?.leader === 'string') return q.leader;
        // A quorum queue's resource, or a stream queue's (a stream of one partition).
        const resources = [`queue/%2F/${encodeURIComponent(queue)}`, `stream/%2F/${encodeURIComponent(queue)}/0`];
        const nodes = (await getJson(port, '/api/nodes')) as { name: string; running?: boolean; leaders?: { resource: string }[] }[] | undefined;
        return nodes?.find((n) => n.running !== false && n.leaders?.some((l) => resources.includes(l.resource)))?.name;
      }),
    kill: (name) => wc.kill(name),
    namesLeaders: new Map(),
    stop: () => wc.stop(),
  };
  return c;
}

interface Row {
  readonly label: string;
  readonly queueType: 'quorum' | 'stream';
  readonly sizeBytes: number;
  readonly leader: string;
  /** Whether the system named the leader (false: the node the queue was declared on, unreplicated). */
  readonly leaderNamed: boolean;
  readonly publish?: DriverResult;
  readonly drain?: DriverResult;
  readonly error?: string;
}

interface SystemResult {
  readonly id: SystemId;
  readonly label: string;
  readonly rows: Row[];
  failover?: FailoverResult & { leader: string; leaderNamed: boolean };
  failoverError?: string;
  error?: string;
}

async function declare(url: string, queue: string, type: 'quorum' | 'stream'): Promise<void> {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createChannel();
    await ch.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': type } });
    await ch.close();
  } finally {
    await conn.close();
  }
}

async function deleteQueue(url: string, queue: string): Promise<void> {
  const conn = await amqp.connect(url);
  conn.on('error', () => undefined);
  try {
    const ch = await conn.createChannel();
    await ch.deleteQueue(queue);
  } finally {
    await conn.close().catch(() => undefined);
  }
}

const LEADER_WAIT_MS = 5_000;

/**
 * The queue's leader, asked until the system names one (a replicated queue may elect its
 * first leader just after declare-ok); a system that named none for the type's first queue is asked
 * once after that, and the queue is taken to live on node 1, where it was declared.
 */
async function leaderFor(c: Cluster, queue: string, type: 'quorum' | 'stream'): Promise<{ leader: FailoverNode; named: boolean }> {
  const deadline = Date.now() + (c.namesLeaders.get(type) === false ? 0 : LEADER_WAIT_MS);
  for (;;) {
    const name = await c.leaderOf(queue, c.nodes);
    const leader = c.nodes.find((n) => n.name === name);
    if (leader !== undefined) {
      c.namesLeaders.set(type, true);
      return { leader, named: true };
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  c.namesLeaders.set(type, false);
  return { leader: c.nodes[0], named: false };
}

async function throughputRow(c: Cluster, o: Options, type: 'quorum' | 'stream', sizeBytes: number): Promise<Row> {
  const label = `${type} ${sizeBytes} B`;
  const prefix = `cc-${type}-${sizeBytes}`;
  const queue = `${prefix}-1`; // wharf perf's name for queue 1 of PREFIX
  const driver = driverCommand('perf').argv;
  await declare(c.nodes[0].url, queue, type);
  const { leader, named } = await leaderFor(c, queue, type);
  const base = ['--queues', '1', '--queue-prefix', prefix, '--no-declare', '--no-cleanup'];
  const timeoutMs = (o.durationSecs + o.warmupSecs + 180) * 1000;
  try {
    const publish = await runDriver(driver, leader.url, [...base, '--publishers', '1', '--consumers', '0', '--persistent', '--confirm', String(o.window), '--size', String(sizeBytes), '--duration', String(o.durationSecs), '--warmup', String(o.warmupSecs)], timeoutMs);
    // A stream queue is read from an offset, not drained: publish only.
    const drain = type === 'quorum' ? await runDriver(driver, leader.url, [...base, '--publishers', '0', '--consumers', '1', '--prefetch', '1000', '--drain'], timeoutMs) : undefined;
    return { label, queueType: type, sizeBytes, leader: leader.name, leaderNamed: named, publish, ...(drain && { drain }) };
  } catch (err) {
    return { label, queueType: type, sizeBytes, leader: leader.name, leaderNamed: named, error: (err as Error).message.split('\n')[0] };
  } finally {
    await deleteQueue(leader.url, queue).catch(() => undefined);
  }
}

async function failover(c: Cluster, o: Options): Promise<NonNullable<SystemResult['failover']>> {
  const queue = 'cc-failover';
  await declare(c.nodes[0].url, queue, 'quorum');
  const { leader, named } = await leaderFor(c, queue, 'quorum');
  log(`  failover: leader ${leader.name}${named ? '' : ' (not named by the system: the node the queue was declared on)'}`);
  const r = await measureFailover({
    nodes: c.nodes,
    leader: leader.name,
    queue,
    queueArguments: { 'x-queue-type': 'quorum' },
    sizeBytes: 1024,
    window: o.failoverWindow,
    beforeKillMs: o.failoverBeforeSecs * 1000,
    afterRecoveryMs: 2000,
    confirmTimeoutMs: o.confirmTimeoutSecs * 1000,
    deadlineMs: Math.max(60_000, o.leaseTtlSecs * 3000),
    kill: () => c.kill(leader.name),
    leaderNow: (alive) => c.leaderOf(queue, alive),
    namesLeader: named,
    log,
  });
  return { ...r, leader: leader.name, leaderNamed: named };
}

async function runSystem(id: SystemId, o: Options): Promise<SystemResult> {
  log(`\n== ${id}: starting ${o.nodes} nodes`);
  let c: Cluster;
  try {
    c = id === 'rabbitmq' ? await rabbitCluster(o) : await wharfCluster(o);
  } catch (err) {
    log(`${id}: start failed: ${(err as Error).message}`);
    return { id, label: id, rows: [], error: `start failed: ${(err as Error).message.split('\n')[0]}` };
  }
  const result: SystemResult = { id, label: c.label, rows: [] };
  try {
    const plan: ['quorum' | 'stream', number][] = o.sizes.map((s) => ['quorum', s]);
    if (o.stream) plan.push(['stream', 1024]);
    for (const [type, size] of plan) {
      if (wasInterrupted()) break;
      const row = await throughputRow(c, o, type, size);
      result.rows.push(row);
      log(`  ${row.label} on ${row.leader}: ${row.error ?? `${formatNumber(row.publish?.confirmRate ?? NaN)} confirmed msg/s, confirm p99 ${row.publish?.confirmLatencyMs?.p99 ?? '?'} ms${row.drain ? `, drain ${formatNumber(row.drain.consumeRate)} msg/s` : ''}`}`);
    }
    if (!wasInterrupted()) {
      try {
        result.failover = await failover(c, o);
      } catch (err) {
        result.failoverError = (err as Error).message.split('\n')[0];
        log(`  failover failed: ${result.failoverError}`);
      }
    }
  } finally {
    await c.stop();
  }
  return result;
}

const ms = (x: number | undefined): string => (x === undefined ? '-' : formatNumber(x));
const pad = (cells: string[], widths: number[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');

function renderSystem(r: SystemResult): string {
  const lines = [`${r.label}${r.error ? `: ${r.error}` : ''}`];
  const widths = [16, 18, 12, 10, 10, 10, 12];
  lines.push(pad(['row', 'leader', 'confirmed/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'drain/s'], widths));
  for (const row of r.rows) {
    const l = row.publish?.confirmLatencyMs;
    lines.push(
      row.error !== undefined
        ? `${row.label.padEnd(widths[0])}  failed: ${row.error}`
        : pad([row.label, `${row.leader}${row.leaderNamed ? '' : '*'}`, ms(row.publish?.confirmRate), ms(l?.p50), ms(l?.p99), ms(l?.p999), row.drain ? ms(row.drain.consumeRate) : '-'], widths),
    );
  }
  if (r.rows.some((row) => !row.leaderNamed)) lines.push('* the system names no leader for this queue: it lives on the node it was declared on, unreplicated');
  const f = r.failover;
  if (f !== undefined) {
    lines.push(
      `kill -9 of the leader ${f.leader}: reconnected after ${ms(f.reconnectMs)} ms, first confirm (on ${f.survivor ?? '-'}) after ${ms(f.firstConfirmMs)} ms` +
        `${f.confirmTimeouts > 0 ? ` (${f.confirmTimeouts} confirm timeout(s) first)` : ''}, ` +
        `new leader ${f.leaderNamed ? `${f.newLeader ?? 'none'} after ${ms(f.newLeaderMs)} ms` : 'n/a (not replicated)'}; ` +
        `${f.confirmedTotal} confirmed, ${f.lostConfirmed} of them lost (drained ${f.drained})`,
    );
  } else if (r.failoverError !== undefined) lines.push(`failover failed: ${r.failoverError}`);
  return lines.join('\n') + '\n';
}

function renderRatios(rabbit: SystemResult, wharf: SystemResult): string {
  const lines = ['Wharf against RabbitMQ (throughput: Wharf / RabbitMQ, higher is better; latency: RabbitMQ / Wharf, higher is better)'];
  const widths = [16, 14, 14, 14];
  lines.push(pad(['row', 'confirmed/s', 'p99 latency', 'drain/s'], widths));
  const x = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined || b === 0 ? '-' : `${(a / b).toFixed(2)}x`);
  for (const w of wharf.rows) {
    const r = rabbit.rows.find((row) => row.label === w.label);
    if (r === undefined) continue;
    lines.push(pad([w.label, x(w.publish?.confirmRate, r.publish?.confirmRate), x(r.publish?.confirmLatencyMs?.p99, w.publish?.confirmLatencyMs?.p99), x(w.drain?.consumeRate, r.drain?.consumeRate)], widths));
  }
  const fr = rabbit.failover;
  const fw = wharf.failover;
  if (fr !== undefined && fw !== undefined) lines.push(`first confirm after a leader kill: RabbitMQ ${ms(fr.firstConfirmMs)} ms, Wharf ${ms(fw.firstConfirmMs)} ms`);
  return lines.join('\n') + '\n';
}

async function main(): Promise<void> {
  let o: Options | undefined;
  try {
    o = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench/cluster-compare: ${(err as Error).message}\n\n${HELP}`);
    process.exit(2);
  }
  if (o === undefined) {
    process.stdout.write(HELP);
    return;
  }
  const startedAt = new Date();
  const loadBefore = loadavg();
  if (o.systems.includes('rabbitmq')) ensureRabbitmqInstalled(log);
  log(`machine: ${cpus().length} cores, load average ${loadBefore.map((x) => x.toFixed(2)).join(' ')} (numbers from a loaded machine are indicative only)`);
  log(`driver: wharf perf, 1 publisher, window ${o.window}, persistent, ${o.durationSecs} s after ${o.warmupSecs} s warm-up; failover: amqplib, window ${o.failoverWindow}, 1 KiB`);
  const results: SystemResult[] = [];
  for (const id of o.systems) {
    if (wasInterrupted()) break;
    results.push(await runSystem(id, o));
  }
  log('');
  for (const r of results) log(renderSystem(r));
  const rabbit = results.find((r) => r.id === 'rabbitmq');
  const wharf = results.find((r) => r.id === 'wharf');
  if (rabbit !== undefined && wharf !== undefined) log(renderRatios(rabbit, wharf));
  mkdirSync(o.resultsDir, { recursive: true });
  const file = join(o.resultsDir, `cluster-${timestampName(startedAt)}.json`);
  writeFileSync(file, JSON.stringify({ startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), machine: { cores: cpus().length, cpu: cpus()[0]?.model, loadBefore, loadAfter: loadavg() }, options: o, results }, null, 2) + '\n');
  log(`wrote ${file}`);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`bench/cluster-compare: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => cleanupAll());
