// A stand-in for `wharf perf` built on amqplib: the same flags (the subset
// bench/compare uses) and the same final JSON line, so the comparison runs
// before `wharf perf` exists and can be cross-checked with another client
// (`npm run bench:compare -- --driver amqplib`). amqplib is slower than the
// brokers, so its numbers are a floor, not a measure of the broker.
//
//   node dist/bench/lib/amqplib-driver.js --url URL [--publishers 1] [--consumers 1]
//     [--queues 1] [--exchange-type direct|fanout] [--size 16] [--persistent]
//     [--confirm 0] [--prefetch 0] [--auto-ack] [--rate 0] [--duration 10] [--warmup 0]
//     [--pmessages N] [--drain] [--queue-prefix perf] [--no-declare] [--no-cleanup]
//     [--idle-connections K] [--json]

import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    publishers: { type: 'string', default: '1' },
    consumers: { type: 'string', default: '1' },
    queues: { type: 'string', default: '1' },
    'exchange-type': { type: 'string', default: 'direct' },
    size: { type: 'string', default: '16' },
    persistent: { type: 'boolean', default: false },
    confirm: { type: 'string', default: '0' },
    prefetch: { type: 'string', default: '0' },
    'auto-ack': { type: 'boolean', default: false },
    rate: { type: 'string', default: '0' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '0' },
    pmessages: { type: 'string', default: '0' },
    cmessages: { type: 'string', default: '0' },
    drain: { type: 'boolean', default: false },
    'queue-prefix': { type: 'string', default: 'perf' },
    'no-declare': { type: 'boolean', default: false },
    'no-cleanup': { type: 'boolean', default: false },
    'idle-connections': { type: 'string', default: '0' },
    json: { type: 'boolean', default: false },
  },
});

const cfg = {
  url: values.url ?? 'amqp://guest:guest@127.0.0.1:5672',
  publishers: Number(values.publishers),
  consumers: Number(values.consumers),
  queues: Math.max(1, Number(values.queues)),
  fanout: values['exchange-type'] === 'fanout',
  size: Math.max(8, Number(values.size)),
  persistent: values.persistent === true,
  confirm: Number(values.confirm),
  prefetch: Number(values.prefetch),
  autoAck: values['auto-ack'] === true,
  rate: Number(values.rate),
  durationMs: Number(values.duration) * 1000,
  warmupMs: Number(values.warmup) * 1000,
  pmessages: Number(values.pmessages),
  drain: values.drain === true,
  prefix: values['queue-prefix'] as string,
  declare: values['no-declare'] !== true,
  cleanup: values['no-cleanup'] !== true,
  idleConnections: Number(values['idle-connections']),
};

const queueName = (i: number): string => `${cfg.prefix}-${i}`;
const exchangeName = `${cfg.prefix}-fanout`;
const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let published = 0;
let confirmed = 0;
let consumed = 0;
let lastConsumedMs = 0;
const latencies: number[] = [];
const LATENCY_SAMPLES_MAX = 2_000_000;

async function setup(conn: ChannelModel): Promise<void> {
  if (!cfg.declare) return;
  const ch = await conn.createChannel();
  if (cfg.fanout) await ch.assertExchange(exchangeName, 'fanout', { durable: cfg.persistent });
  for (let i = 0; i < cfg.queues; i++) {
    await ch.assertQueue(queueName(i), { durable: cfg.persistent, autoDelete: false });
    if (cfg.fanout) await ch.bindQueue(queueName(i), exchangeName, '');
  }
  await ch.close();
}

async function consume(conn: ChannelModel, index: number): Promise<Channel> {
  const ch = await conn.createChannel();
  if (cfg.prefetch > 0) await ch.prefetch(cfg.prefetch);
  const ackEvery = cfg.prefetch > 1 ? Math.floor(cfg.prefetch / 2) : 1;
  let unacked = 0;
  await ch.consume(
    queueName(index % cfg.queues),
    (msg: ConsumeMessage | null) => {
      if (msg === null) return;
      consumed++;
      const t = now();
      lastConsumedMs = t;
      if (latencies.length < LATENCY_SAMPLES_MAX) latencies.push(t - msg.content.readDoubleLE(0));
      if (!cfg.autoAck && ++unacked >= ackEvery) {
        ch.ack(msg, true);
        unacked = 0;
      }
    },
    { noAck: cfg.autoAck },
  );
  return ch;
}

function body(seq: number): Buffer {
  const b = Buffer.alloc(cfg.size);
  b.writeDoubleLE(now(), 0);
  if (cfg.size >= 12) b.writeUInt32LE(seq >>> 0, 8);
  return b;
}

/** Publishes until `stopAt` (epoch ms) or `pmessages`, keeping at most `confirm` unconfirmed. */
async function publish(conn: ChannelModel, index: number, stopAt: number): Promise<void> {
  const ch: Channel | ConfirmChannel = cfg.confirm > 0 ? await conn.createConfirmChannel() : await conn.createChannel();
  const exchange = cfg.fanout ? exchangeName : '';
  const routingKey = cfg.fanout ? '' : queueName(index % cfg.queues);
  const options = { persistent: cfg.persistent, deliveryMode: cfg.persistent ? 2 : 1 };
  const limit = cfg.pmessages > 0 ? cfg.pmessages : Infinity;
  const started = now();
  let sent = 0;
  let inFlight = 0;
  let wake: (() => void) | undefined;
  const onConfirm = (err: unknown): void => {
    if (err) throw err;
    inFlight--;
    confirmed++;
    if (wake !== undefined && inFlight <= cfg.confirm / 2) {
      const w = wake;
      wake = undefined;
      w();
    }
  };
  while (sent < limit && now() < stopAt) {
    if (cfg.rate > 0) {
      const due = Math.floor(((now() - started) / 1000) * cfg.rate);
      if (sent >= due) {
        await sleep(5);
        continue;
      }
    }
    if (cfg.confirm > 0 && inFlight >= cfg.confirm) {
      await new Promise<void>((r) => (wake = r));
      continue;
    }
    sent++;
    published++;
    let ok: boolean;
    if (cfg.confirm > 0) {
      inFlight++;
      ok = (ch as ConfirmChannel).publish(exchange, routingKey, body(sent), options, onConfirm);
    } else {
      ok = ch.publish(exchange, routingKey, body(sent), options);
    }
    if (!ok) await new Promise((r) => ch.once('drain', r));
    else if ((sent & 255) === 0) await new Promise((r) => setImmediate(r));
  }
  if (cfg.confirm > 0) await (ch as ConfirmChannel).waitForConfirms();
  await ch.close();
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function idle(): Promise<void> {
  const conns: ChannelModel[] = [];
  for (let i = 0; i < cfg.idleConnections; i++) {
    const c = await amqp.connect(cfg.url);
    await c.createChannel();
    conns.push(c);
  }
  await sleep(cfg.durationMs);
  for (const c of conns) await c.close();
}

async function main(): Promise<void> {
  if (cfg.warmupMs > 0 && (cfg.pmessages > 0 || cfg.drain)) throw new Error('--warmup needs a timed run, not --pmessages or --drain');
  let cpu0 = process.cpuUsage();
  let t0 = now();
  const admin = await amqp.connect(cfg.url);
  await setup(admin);
  const consumerConns: ChannelModel[] = [];
  for (let i = 0; i < cfg.consumers; i++) {
    const c = await amqp.connect(cfg.url);
    consumerConns.push(c);
    await consume(c, i);
  }
  let start = now();
  let publishEnd = start;
  const warmup =
    cfg.warmupMs > 0
      ? // --warmup: the load runs unmeasured first; then the counts, samples and CPU start over.
        setTimeout(() => {
          published = confirmed = consumed = lastConsumedMs = 0;
          latencies.length = 0;
          start = t0 = now();
          cpu0 = process.cpuUsage();
        }, cfg.warmupMs)
      : undefined;
  if (cfg.idleConnections > 0) {
    await idle();
  } else if (cfg.publishers > 0) {
    const stopAt = cfg.pmessages > 0 ? Infinity : start + cfg.warmupMs + cfg.durationMs;
    const pubConns = await Promise.all(Array.from({ length: cfg.publishers }, () => amqp.connect(cfg.url)));
    await Promise.all(pubConns.map((c, i) => publish(c, i, stopAt)));
    publishEnd = now();
    for (const c of pubConns) await c.close();
  }
  // Consumers catch up: every copy routed to them, or until nothing arrives for a while.
  const expected = cfg.consumers === 0 ? 0 : published * (cfg.fanout ? cfg.queues : 1);
  let lastSeen = consumed;
  let quietSince = now();
  while (cfg.consumers > 0 && (cfg.drain || consumed < expected)) {
    await sleep(50);
    if (consumed !== lastSeen) {
      lastSeen = consumed;
      quietSince = now();
    } else if (now() - quietSince > (cfg.drain ? 1000 : 5000)) {
      break;
    }
  }
  const end = now();
  clearTimeout(warmup);
  if (cfg.cleanup) {
    const ch = await admin.createChannel();
    for (let i = 0; i < cfg.queues; i++) await ch.deleteQueue(queueName(i));
    if (cfg.fanout) await ch.deleteExchange(exchangeName);
    await ch.close();
  }
  for (const c of consumerConns) await c.close();
  await admin.close();
  const cpu = process.cpuUsage(cpu0);
  const sorted = Float64Array.from(latencies).sort();
  const publishSecs = Math.max(publishEnd - start, 1) / 1000;
  const consumeSecs = Math.max((lastConsumedMs || end) - start, 1) / 1000;
  const r = (x: number): number => Math.round(x * 1000) / 1000;
  const result = {
    published,
    consumed,
    publishRate: Math.round(published / publishSecs),
    consumeRate: Math.round(consumed / consumeSecs),
    confirmRate: Math.round(confirmed / publishSecs),
    durationMs: Math.round(end - t0),
    latencyMs: {
      p50: r(percentile(sorted, 50)),
      p95: r(percentile(sorted, 95)),
      p99: r(percentile(sorted, 99)),
      p999: r(percentile(sorted, 99.9)),
      max: r(sorted.length ? sorted[sorted.length - 1] : 0),
    },
    cpu: {
      userMs: Math.round(cpu.user / 1000),
      systemMs: Math.round(cpu.system / 1000),
      percentOfOneCore: Math.round(((cpu.user + cpu.system) / 1000 / (end - t0)) * 1000) / 10,
    },
    config: { driver: 'amqplib', ...cfg },
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`amqplib-driver: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
