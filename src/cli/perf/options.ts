// `wharf perf` command line -> PerfOptions. Pure (no I/O), so every rule is
// unit-tested. The flags are a contract: bench/compare drives the tool through
// them, so rename nothing.

import { parseArgs } from 'node:util';
import { parseAmqpUrl } from '../../client/amqp/index.js';
import { UsageError } from '../config.js';

export type ExchangeType = 'direct' | 'fanout';

export interface PerfOptions {
  url: string;
  publishers: number;
  consumers: number;
  queues: number;
  exchangeType: ExchangeType;
  /** Body size; the body carries the send time and a sequence number, padded. */
  sizeBytes: number;
  persistent: boolean;
  /** 0 = no publisher confirms; else at most this many unconfirmed per publisher. */
  confirmWindow: number;
  /** basic.qos prefetch count per consumer; 0 = unlimited. */
  prefetch: number;
  autoAck: boolean;
  /** Messages per second per publisher; 0 = flat out. */
  ratePerSec: number;
  /** Run time limit; undefined = none (a message count or --drain ends the run). */
  durationSec: number | undefined;
  /** Seconds of load before the measured window (counts, latency, CPU start after it); 0 = none. */
  warmupSec: number;
  /** Messages per publisher; 0 = no limit. */
  pmessages: number;
  /** Messages per consumer; 0 = no limit. */
  cmessages: number;
  drain: boolean;
  queuePrefix: string;
  declare: boolean;
  cleanup: boolean;
  json: boolean;
  idleConnections: number;
}

/** timestamp (float64, ms since the epoch) + sequence (uint32). */
export const BODY_HEADER_BYTES = 12;
const DEFAULT_DURATION_SEC = 10;

export const perfDefaults: Readonly<Omit<PerfOptions, 'url'>> = {
  publishers: 1,
  consumers: 1,
  queues: 1,
  exchangeType: 'direct',
  sizeBytes: 16,
  persistent: false,
  confirmWindow: 0,
  prefetch: 0,
  autoAck: false,
  ratePerSec: 0,
  durationSec: DEFAULT_DURATION_SEC,
  warmupSec: 0,
  pmessages: 0,
  cmessages: 0,
  drain: false,
  queuePrefix: 'perf',
  declare: true,
  cleanup: true,
  json: false,
  idleConnections: 0,
};

export const perfHelpText = `Usage: wharf perf --url URL [options]

Load generator for any AMQP 0-9-1 broker (Wharf or RabbitMQ): N publishers and
M consumers, each on its own connection, with end-to-end latency from a send
timestamp carried in every body.

  --url URL               amqp://user:password@host:port/vhost (required)
  --publishers N          publishing connections (1)
  --consumers M           consuming connections (1)
  --queues Q              queues, named PREFIX-1 .. PREFIX-Q (1)
  --exchange-type TYPE    direct: publishers spread over the queues by routing key (default exchange);
                          fanout: one fanout exchange PREFIX-fanout bound to every queue (direct)
  --size BYTES            body size, at least ${BODY_HEADER_BYTES} (16)
  --persistent            delivery-mode 2 and durable queues (transient, non-durable)
  --confirm WINDOW        publisher confirms, at most WINDOW unconfirmed per publisher; 0 = none (0)
  --prefetch P            basic.qos prefetch per consumer; 0 = unlimited (0)
  --auto-ack              no-ack consumers (manual acks, batched with multiple=true)
  --rate R                messages/s per publisher; 0 = flat out (0)
  --duration SECONDS      run time (10, or no limit with --pmessages, --cmessages or --drain)
  --warmup SECONDS        run the load this long first, unmeasured (JIT, caches, first segment) (0)
  --pmessages N           publish N messages per publisher, then stop
  --cmessages N           consume N messages per consumer, then stop
  --drain                 consumers run until the queues are empty and idle
  --queue-prefix NAME     queue name prefix (perf)
  --no-declare            use existing queues (and exchange): declare nothing, delete nothing
  --no-cleanup            keep the queues and exchange at the end
  --json                  print only the final JSON line
  --idle-connections K    also open K idle connections (one channel each) and hold them for the run
  --help, -h              show this help

Output: a progress line per second, a summary, and a final JSON line:
  {"published","consumed","publishRate","consumeRate","confirmRate","durationMs",
   "latencyMs":{"p50","p95","p99","p999","max"},"cpu":{"userMs","systemMs","percentOfOneCore"},"config"}
Exit codes: 0 ok, 1 the run failed (connection refused, channel closed by the broker...), 2 bad options.
`;

const perfFlags = {
  url: { type: 'string' },
  publishers: { type: 'string' },
  consumers: { type: 'string' },
  queues: { type: 'string' },
  'exchange-type': { type: 'string' },
  size: { type: 'string' },
  persistent: { type: 'boolean' },
  confirm: { type: 'string' },
  prefetch: { type: 'string' },
  'auto-ack': { type: 'boolean' },
  rate: { type: 'string' },
  duration: { type: 'string' },
  warmup: { type: 'string' },
  pmessages: { type: 'string' },
  cmessages: { type: 'string' },
  drain: { type: 'boolean' },
  'queue-prefix': { type: 'string' },
  'no-declare': { type: 'boolean' },
  'no-cleanup': { type: 'boolean' },
  json: { type: 'boolean' },
  'idle-connections': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export type PerfCommand = { readonly command: 'help'; readonly text: string } | { readonly command: 'perf'; readonly options: PerfOptions };

export function parsePerfArgs(args: readonly string[]): PerfCommand {
  let values;
  try {
    ({ values } = parseArgs({ args: [...args], options: perfFlags, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError(`perf: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (values.help) return { command: 'help', text: perfHelpText };
  if (values.url === undefined) throw new UsageError("perf: --url is required (e.g. --url amqp://guest:guest@127.0.0.1:5672/); try 'wharf perf --help'");
  try {
    parseAmqpUrl(values.url);
  } catch (err) {
    throw new UsageError(`perf: --url: ${err instanceof Error ? err.message : String(err)}`);
  }

  const count = (flag: keyof typeof perfFlags, dflt: number, min = 0, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = (values as Record<string, unknown>)[flag];
    if (raw === undefined) return dflt;
    const n = typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
      throw new UsageError(`perf: invalid --${flag}: ${JSON.stringify(raw)} (expected a whole number ${range})`);
    }
    return n;
  };

  const exchangeType = values['exchange-type'] ?? perfDefaults.exchangeType;
  if (exchangeType !== 'direct' && exchangeType !== 'fanout') {
    throw new UsageError(`perf: invalid --exchange-type: ${JSON.stringify(exchangeType)} (expected direct or fanout)`);
  }
  const queuePrefix = values['queue-prefix'] ?? perfDefaults.queuePrefix;
  if (queuePrefix === '' || Buffer.byteLength(queuePrefix) > 200) {
    throw new UsageError('perf: invalid --queue-prefix: expected 1 to 200 bytes');
  }

  const pmessages = count('pmessages', 0);
  const cmessages = count('cmessages', 0);
  const drain = values.drain ?? false;
  const countEnds = pmessages > 0 || cmessages > 0 || drain;
  const options: PerfOptions = {
    url: values.url,
    publishers: count('publishers', perfDefaults.publishers),
    consumers: count('consumers', perfDefaults.consumers),
    queues: count('queues', perfDefaults.queues, 1, 10_000),
    exchangeType,
    sizeBytes: count('size', perfDefaults.sizeBytes, BODY_HEADER_BYTES, 128 * 1024 * 1024),
    persistent: values.persistent ?? false,
    confirmWindow: count('confirm', 0),
    prefetch: count('prefetch', 0, 0, 65535),
    autoAck: values['auto-ack'] ?? false,
    ratePerSec: count('rate', 0),
    durationSec: values.duration !== undefined ? count('duration', 0, 1) : countEnds ? undefined : DEFAULT_DURATION_SEC,
    warmupSec: count('warmup', 0, 0, 3600),
    pmessages,
    cmessages,
    drain,
    queuePrefix,
    declare: !(values['no-declare'] ?? false),
    cleanup: !(values['no-cleanup'] ?? false),
    json: values.json ?? false,
    idleConnections: count('idle-connections', 0),
  };
  checkCombination(options);
  return { command: 'perf', options };
}

function checkCombination(o: PerfOptions): void {
  if (o.publishers + o.consumers + o.idleConnections === 0) {
    throw new UsageError('perf: nothing to do: --publishers, --consumers and --idle-connections are all 0');
  }
  if (o.pmessages > 0 && o.publishers === 0) throw new UsageError('perf: --pmessages needs at least one publisher');
  if (o.cmessages > 0 && o.consumers === 0) throw new UsageError('perf: --cmessages needs at least one consumer');
  if (o.drain && o.consumers === 0) throw new UsageError('perf: --drain needs at least one consumer');
  if (o.drain && o.cmessages > 0) throw new UsageError('perf: --drain and --cmessages are alternatives; give one');
  if (o.publishers > 0 && o.pmessages === 0 && o.durationSec === undefined && o.cmessages === 0) {
    throw new UsageError('perf: the publishers would never stop: give --duration or --pmessages');
  }
  if (o.warmupSec > 0 && (o.pmessages > 0 || o.cmessages > 0 || o.drain || o.durationSec === undefined)) {
    throw new UsageError('perf: --warmup needs a timed run (--duration), not --pmessages, --cmessages or --drain');
  }
  if (o.prefetch > 0 && o.autoAck) throw new UsageError('perf: --prefetch has no effect with --auto-ack (the broker does not limit no-ack deliveries)');
}

/** The options as reported in the JSON line's "config": the URL without its password. */
export function reportedConfig(o: PerfOptions): Record<string, unknown> {
  const u = new URL(o.url);
  if (u.password !== '') u.password = '***';
  return { ...o, url: u.toString() };
}
