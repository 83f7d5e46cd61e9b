// The management API and metrics under load, printed side by side:
//
// 1. listing: GET /api/queues (the full list, and one page of 500) and GET /metrics
//    (aggregated, and /metrics/per-object) with --queues (10,000) queues declared,
//    on Wharf and on RabbitMQ 3.10 with its management and prometheus plugins (a
//    private instance on kernel-chosen ports, as bench/compare). Median and min of
//    --rounds requests each, after one unmeasured request.
// 2. overhead: workload a of bench/compare (transient 16 B, auto-ack, one publisher
//    and one consumer, flat out) on Wharf with and without a poller that reads
//    /api/overview, /api/queues, /api/connections, /api/channels and /metrics every
//    second, alternating A B B A ... in the same window (the machine is shared).
//
// 3. paged (--paged, instead of 1 and 2): the dashboard's queue-table requests (one
//    page sorted by name, a deep page, name and regex filters, sorted by messages and
//    by a rate) with --queues queues, on this build and, with --baseline, on another
//    build's dist/src/cli/main.js (say a checkout of the previous commit): both brokers
//    run at once and each round asks A then B, then B then A, so both see the same load.
//
//   npm run build && node dist/bench/management.js [--queues 10000] [--rounds 5]
//     [--overhead-rounds 4] [--duration 10] [--skip-rabbitmq] [--skip-listing] [--skip-overhead]
//     [--paged [--baseline /path/to/dist/src/cli/main.js]]

import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { connect } from 'amqplib';
import { startBroker, type BrokerKind, type RunningBroker } from './lib/brokers.js';
import { cleanupAll } from './lib/cleanup.js';
import { driverCommand, runDriver } from './lib/driver.js';
import { ensureRabbitmqInstalled } from './lib/rabbitmq-install.js';
import { cpuMs } from './lib/proc.js';

interface Options {
  queues: number;
  rounds: number;
  overheadRounds: number;
  durationSecs: number;
  rabbitmq: boolean;
  listing: boolean;
  overhead: boolean;
  paged: boolean;
  baseline?: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { queues: 10_000, rounds: 5, overheadRounds: 4, durationSecs: 10, rabbitmq: true, listing: true, overhead: true, paged: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 1) throw new Error(`${a} needs a positive integer`);
      return v;
    };
    if (a === '--queues') o.queues = num();
    else if (a === '--rounds') o.rounds = num();
    else if (a === '--overhead-rounds') o.overheadRounds = num();
    else if (a === '--duration') o.durationSecs = num();
    else if (a === '--skip-rabbitmq') o.rabbitmq = false;
    else if (a === '--skip-listing') o.listing = false;
    else if (a === '--skip-overhead') o.overhead = false;
    else if (a === '--paged') o.paged = true;
    else if (a === '--baseline') o.baseline = argv[++i];
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

const agent = new Agent({ keepAlive: true });
const AUTH = `Basic ${Buffer.from('guest:guest').toString('base64')}`;

/** One GET; resolves with the time until the whole body arrived (ms) and its size. */
function timedGet(port: number, path: string): Promise<{ ms: number; bytes: number; status: number; body: string }> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent, headers: { authorization: AUTH } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ ms: performance.now() - start, bytes: body.length, status: res.statusCode ?? 0, body: body.toString('utf8') });
      });
    });
    req.setTimeout(300_000, () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function declareQueues(url: string, n: number): Promise<void> {
  const conn = await connect(url);
  const ch = await conn.createChannel();
  for (let i = 0; i < n; i += 500) {
    const batch: Promise<unknown>[] = [];
    for (let k = i; k < Math.min(n, i + 500); k++) batch.push(ch.assertQueue(`bench-mgmt-${String(k).padStart(5, '0')}`, { durable: false }));
    await Promise.all(batch);
  }
  // One message in each of the first 100, so depths are not all zero.
  for (let k = 0; k < Math.min(n, 100); k++) ch.sendToQueue(`bench-mgmt-${String(k).padStart(5, '0')}`, Buffer.from('x'));
  await ch.close();
  await conn.close();
}

/** RabbitMQ lists queues from its statistics database: wait until it has them all. */
async function waitForListing(port: number, n: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const r = await timedGet(port, '/api/overview');
    const totals = (JSON.parse(r.body) as { object_totals?: { queues?: number } }).object_totals;
    if ((totals?.queues ?? 0) >= n) return;
    await new Promise((res) => setTimeout(res, 1000));
  }
  throw new Error('the management API did not list every queue within 120 s');
}

interface ListingRow {
  readonly what: string;
  readonly ms: Partial<Record<BrokerKind, { median: number; min: number; bytes: number }>>;
}

const LISTINGS: { what: string; path: string; metrics: boolean }[] = [
  { what: 'GET /api/queues (all)', path: '/api/queues', metrics: false },
  { what: 'GET /api/queues?page=1&page_size=500', path: '/api/queues?page=1&page_size=500', metrics: false },
  { what: 'GET /metrics', path: '/metrics', metrics: true },
  { what: 'GET /metrics/per-object', path: '/metrics/per-object', metrics: true },
];

async function measureListing(kind: BrokerKind, o: Options, rows: ListingRow[]): Promise<void> {
  let b: RunningBroker | undefined;
  try {
    b = await startBroker(kind, tmpdir(), { management: true });
    const httpPort = b.httpPort as number;
    const metricsPort = b.metricsPort as number;
    log(`${kind}: declaring ${o.queues} queues`);
    await declareQueues(b.url, o.queues);
    await waitForListing(httpPort, o.queues);
    for (const l of LISTINGS) {
      const port = l.metrics ? metricsPort : httpPort;
      const warm = await timedGet(port, l.path);
      if (warm.status !== 200) throw new Error(`${kind} ${l.path}: ${warm.status}`);
      const times: number[] = [];
      for (let i = 0; i < o.rounds; i++) times.push((await timedGet(port, l.path)).ms);
      let row = rows.find((r) => r.what === l.what);
      if (!row) rows.push((row = { what: l.what, ms: {} }));
      row.ms[kind] = { median: median(times), min: Math.min(...times), bytes: warm.bytes };
      log(`${kind} ${l.what}: median ${median(times).toFixed(1)} ms, ${warm.bytes} bytes`);
    }
  } finally {
    await b?.stop();
  }
}

function renderListing(rows: ListingRow[]): string {
  const fmt = (x: { median: number; min: number; bytes: number } | undefined): string =>
    x ? `${x.median.toFixed(1)} ms (min ${x.min.toFixed(1)}, ${(x.bytes / 1e6).toFixed(2)} MB)` : '-';
  const lines = ['| request | Wharf | RabbitMQ 3.10 | RabbitMQ / Wharf |', '| --- | --- | --- | --- |'];
  for (const r of rows) {
    const w = r.ms.wharf;
    const q = r.ms.rabbitmq;
    lines.push(`| ${r.what} | ${fmt(w)} | ${fmt(q)} | ${w && q ? `${(q.median / w.median).toFixed(1)}x` : '-'} |`);
  }
  return lines.join('\n');
}

const POLLED = ['/api/overview', '/api/queues', '/api/connections', '/api/channels', '/metrics'];

/**
 * The broker CPU one poll cycle costs, measured without load noise: 200 cycles back
 * to back against a broker with 10 connections, 20 channels and 100 queues, the
 * broker's CPU time (from /proc) divided by the cycles.
 */
async function pollCycleCpuMs(): Promise<number> {
  const b = await startBroker('wharf', tmpdir());
  const conns = [];
  try {
    await declareQueues(b.url, 100);
    for (let i = 0; i < 10; i++) {
      const c = await connect(b.url);
      conns.push(c);
      for (let k = 0; k < 2; k++) {
        const ch = await c.createChannel();
        await ch.consume(`bench-mgmt-${String(i * 2 + k).padStart(5, '0')}`, () => {}, { noAck: true });
      }
    }
    const port = b.httpPort as number;
    for (const p of POLLED) await timedGet(port, p);
    const before = cpuMs(b.pid) ?? 0;
    const cycles = 200;
    for (let i = 0; i < cycles; i++) for (const p of POLLED) await timedGet(port, p);
    return ((cpuMs(b.pid) ?? 0) - before) / cycles;
  } finally {
    for (const c of conns) await c.close();
    await b.stop();
  }
}

/** Polls the API every second until stopped; counts requests. */
function startPoller(port: number): { stop: () => Promise<number> } {
  let stopped = false;
  let requests = 0;
  const loop = (async () => {
    while (!stopped) {
      const t0 = Date.now();
      for (const p of POLLED) {
        await timedGet(port, p);
        requests++;
      }
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - t0))));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return requests;
    },
  };
}

async function overheadRun(polled: boolean, o: Options, driverArgv: string[]): Promise<number> {
  const b = await startBroker('wharf', tmpdir());
  try {
    const poller = polled ? startPoller(b.httpPort as number) : undefined;
    const result = await runDriver(driverArgv, b.url, ['--size', '16', '--auto-ack', '--duration', String(o.durationSecs), '--warmup', '2'], (o.durationSecs + 120) * 1000);
    const requests = poller ? await poller.stop() : 0;
    log(`workload a ${polled ? 'polled  ' : 'unpolled'}: consumed ${Math.round(result.consumeRate)} msg/s${polled ? ` (${requests} API requests)` : ''}`);
    return result.consumeRate;
  } finally {
    await b.stop();
  }
}

/** The dashboard's queue-table requests; the rows of the paged mode. */
function pagedRequests(n: number): { what: string; path: string }[] {
  const deep = Math.max(1, Math.floor(n / 25));
  return [
    { what: 'page 1 of 20, sort=name', path: '/api/queues?page=1&page_size=20&sort=name' },
    { what: `page ${deep} of 20, sort=name`, path: `/api/queues?page=${deep}&page_size=20&sort=name` },
    { what: 'page 1 of 100, default sort', path: '/api/queues?page=1&page_size=100' },
    { what: 'name filter', path: '/api/queues?page=1&page_size=20&name=mgmt-0999' },
    { what: 'regex filter', path: '/api/queues?page=1&page_size=20&name=%5Ebench-mgmt-0%5B0-9%5D9&use_regex=true' },
    { what: 'sort=messages reversed', path: '/api/queues?page=1&page_size=20&sort=messages&sort_reverse=true' },
    { what: 'sort=message_stats.publish_details.rate', path: '/api/queues?page=1&page_size=20&sort=message_stats.publish_details.rate&sort_reverse=true' },
    { what: 'sort=arguments.x-queue-type (renders all)', path: '/api/queues?page=1&page_size=20&sort=arguments.x-queue-type' },
    { what: '/api/overview', path: '/api/overview' },
  ];
}

async function measurePaged(o: Options): Promise<string> {
  const builds: { name: string; cli?: string }[] = [{ name: 'this build' }];
  if (o.baseline) builds.push({ name: 'baseline', cli: o.baseline });
  const brokers: RunningBroker[] = [];
  try {
    for (const b of builds) {
      const running = await startBroker('wharf', tmpdir(), { wharfCli: b.cli });
      brokers.push(running);
      log(`${b.name}: declaring ${o.queues} queues`);
      await declareQueues(running.url, o.queues);
    }
    const requests = pagedRequests(o.queues);
    const times = requests.map(() => builds.map(() => [] as number[]));
    for (const [r, req] of requests.entries()) {
      for (const b of brokers) {
        const warm = await timedGet(b.httpPort as number, req.path);
        if (warm.status !== 200) throw new Error(`${req.path}: ${warm.status} ${warm.body.slice(0, 200)}`);
      }
      for (let round = 0; round < o.rounds; round++) {
        // A B, then B A: neither build always goes first.
        const order = round % 2 === 0 ? brokers.map((_, i) => i) : brokers.map((_, i) => brokers.length - 1 - i);
        for (const i of order) times[r][i].push((await timedGet(brokers[i].httpPort as number, req.path)).ms);
      }
      log(`${req.what}: ${builds.map((b, i) => `${b.name} ${median(times[r][i]).toFixed(1)} ms`).join(', ')}`);
    }
    const head = `| request (${o.queues} queues) | ${builds.map((b) => `${b.name} median (min)`).join(' | ')} |${o.baseline ? ' baseline / this |' : ''}`;
    const lines = [head, `| --- |${builds.map(() => ' --- |').join('')}${o.baseline ? ' --- |' : ''}`];
    for (const [r, req] of requests.entries()) {
      const cells = builds.map((_, i) => `${median(times[r][i]).toFixed(1)} ms (${Math.min(...times[r][i]).toFixed(1)})`);
      const ratio = o.baseline ? ` ${(median(times[r][1]) / median(times[r][0])).toFixed(1)}x |` : '';
      lines.push(`| ${req.what} | ${cells.join(' | ')} |${ratio}`);
    }
    return `Paged queue listing, median of ${o.rounds} requests each, builds interleaved:\n\n${lines.join('\n')}\n`;
  } finally {
    for (const b of brokers) await b.stop();
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (o.paged) {
    process.stdout.write((await measurePaged(o)) + '\n');
    return;
  }
  const out: string[] = [];
  if (o.listing) {
    if (o.rabbitmq) ensureRabbitmqInstalled(log);
    const rows: ListingRow[] = [];
    await measureListing('wharf', o, rows);
    if (o.rabbitmq) await measureListing('rabbitmq', o, rows);
    out.push(`Listing with ${o.queues} queues (median of ${o.rounds} requests):`, '', renderListing(rows), '');
  }
  if (o.overhead) {
    const driver = driverCommand('auto');
    const plain: number[] = [];
    const polled: number[] = [];
    for (let i = 0; i < o.overheadRounds; i++) {
      // A B B A: neither side always runs first.
      const order = i % 2 === 0 ? [false, true] : [true, false];
      for (const p of order) (p ? polled : plain).push(await overheadRun(p, o, driver.argv));
    }
    const a = median(plain);
    const b = median(polled);
    // Each round's two runs share a window of the machine's load: their ratio is less noisy than the medians.
    const paired = median(plain.map((x, i) => polled[i] / x));
    out.push(
      `Workload a (transient 16 B, auto-ack, flat out), ${o.overheadRounds} rounds of ${o.durationSecs} s, driver ${driver.name}:`,
      '',
      `| | consumed msg/s, median (all runs) |`,
      '| --- | --- |',
      `| API not polled | ${Math.round(a)} (${plain.map(Math.round).join(', ')}) |`,
      `| API polled every second | ${Math.round(b)} (${polled.map(Math.round).join(', ')}) |`,
      `| change of the medians | ${(((b - a) / a) * 100).toFixed(1)}% |`,
      `| median of each round's polled / not polled | ${((paired - 1) * 100).toFixed(1)}% |`,
      '',
    );
    const cycle = await pollCycleCpuMs();
    out.push(
      `One poll cycle (${POLLED.join(', ')}) costs ${cycle.toFixed(2)} ms of broker CPU: ${(cycle / 10).toFixed(2)}% of one core at one cycle per second.`,
      '',
    );
  }
  process.stdout.write(out.join('\n') + '\n');
}

main()
  .catch((err: unknown) => {
    log(`bench/management failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exitCode = 1;
  })
  .finally(() => cleanupAll());
