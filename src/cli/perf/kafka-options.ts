// `wharf perf-kafka` command line -> KafkaPerfOptions. Pure (no I/O), so every rule is
// unit-tested. The flags and the final JSON line are a contract: bench/streams.ts drives the
// tool through them, so rename nothing.

import { parseArgs } from 'node:util';
import { parseBootstrap } from '../../client/kafka/index.js';
import { UsageError } from '../config.js';

export type CompressionName = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
export const COMPRESSIONS: readonly CompressionName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

export interface KafkaPerfOptions {
  /** host:port[,host:port...] of any broker(s) of the cluster. */
  bootstrap: string;
  topic: string;
  /** Partitions of the topic when this run creates it. */
  partitions: number;
  producers: number;
  consumers: number;
  /** Value size; the value starts with the record's creation time (float64), the rest is random letters. */
  sizeBytes: number;
  /** 0, 1 or -1 (all). */
  acks: number;
  /** Records per batch (one batch per partition per produce request). */
  batchRecords: number;
  /** A partly filled batch is sent once its oldest record is this old (with --rate). */
  lingerMs: number;
  /** Produce requests in flight per connection (Kafka's max.in.flight.requests.per.connection). */
  maxInFlight: number;
  compression: CompressionName;
  /** Records per second per producer; 0 = flat out. */
  ratePerSec: number;
  /** Run time limit; undefined = none (--records or --drain ends the run). */
  durationSec: number | undefined;
  /** Seconds of load before the measured window; 0 = none. */
  warmupSec: number;
  /** Records per producer; 0 = no limit. */
  records: number;
  /** Consumers read what the topic held when they started, then stop (no producers). */
  drain: boolean;
  /** Consumers start at the log start offset instead of the end. */
  fromBeginning: boolean;
  /** Fetch max_bytes (Kafka's fetch.max.bytes). */
  fetchMaxBytes: number;
  /** Fetch partition_max_bytes (Kafka's max.partition.fetch.bytes). */
  partitionMaxBytes: number;
  /** Fetch max_wait_ms (Kafka's fetch.max.wait.ms). */
  fetchMaxWaitMs: number;
  /** Create the topic if it is missing (and delete it at the end, if this run created it and --no-cleanup is not given). */
  create: boolean;
  cleanup: boolean;
  json: boolean;
}

/** The creation time (float64, ms since the epoch) at the start of every value. */
export const VALUE_HEADER_BYTES = 8;
const DEFAULT_DURATION_SEC = 10;

export const kafkaPerfDefaults: Readonly<Omit<KafkaPerfOptions, 'bootstrap'>> = {
  topic: 'perf-kafka',
  partitions: 1,
  producers: 1,
  consumers: 1,
  sizeBytes: 100,
  acks: -1,
  batchRecords: 1000,
  lingerMs: 5,
  maxInFlight: 5,
  compression: 'none',
  ratePerSec: 0,
  durationSec: DEFAULT_DURATION_SEC,
  warmupSec: 0,
  records: 0,
  drain: false,
  fromBeginning: false,
  fetchMaxBytes: 52428800,
  partitionMaxBytes: 1048576,
  fetchMaxWaitMs: 500,
  create: true,
  cleanup: true,
  json: false,
};

export const kafkaPerfHelpText = `Usage: wharf perf-kafka --bootstrap HOST:PORT [options]

Load generator for any Kafka broker (Wharf or Kafka): N producers and M consumers, each with
its own connections, reporting produce and fetch throughput, produce (acknowledgement) latency
and end-to-end latency from the creation time carried in every record's value.

  --bootstrap HOST:PORT[,..] brokers to start from (required)
  --topic NAME              topic (perf-kafka); created if missing unless --no-create
  --partitions P            partitions of the topic when this run creates it (1)
  --producers N             producers, each with its own connections (1)
  --consumers M             consumers, each with its own connections (1)
  --size BYTES              record value size, at least ${VALUE_HEADER_BYTES} (100); no key, no headers
  --acks 0|1|all            0: no response; 1: leader appended; all (or --acks=-1): durable (all)
  --batch-records N         records per batch; one batch per partition per request (1000)
  --linger MS               with --rate: send a partly filled batch once its oldest record is MS old (5)
  --max-in-flight N         produce requests in flight per connection (5)
  --compression CODEC       none, gzip, snappy, lz4 or zstd (none)
  --rate R                  records/s per producer; 0 = flat out (0)
  --duration SECONDS        run time (10, or no limit with --records or --drain)
  --warmup SECONDS          run the load this long first, unmeasured (0)
  --records N               produce N records per producer, then stop
  --drain                   consumers read what the topic holds, then stop (with --producers 0)
  --from-beginning          consumers start at the earliest offset (default: the end)
  --fetch-max-bytes B       fetch max bytes per request (52428800)
  --partition-max-bytes B   fetch max bytes per partition (1048576)
  --fetch-max-wait MS       fetch long-poll wait (500)
  --no-create               use an existing topic: create nothing, delete nothing
  --no-cleanup              keep the topic this run created
  --json                    print only the final JSON line
  --help, -h                show this help

Output: a progress line per second, a summary, and a final JSON line:
  {"produced","acked","consumed","produceRate","ackRate","consumeRate","producedMBps","consumedMBps",
   "durationMs","produceLatencyMs":{"p50","p95","p99","p999","max"},"latencyMs":{...},
   "cpu":{"userMs","systemMs","percentOfOneCore"},"requests":{"produce","fetch"},"config"}
Exit codes: 0 ok, 1 the run failed (connection refused, a broker error...), 2 bad options.
`;

const flags = {
  bootstrap: { type: 'string' },
  topic: { type: 'string' },
  partitions: { type: 'string' },
  producers: { type: 'string' },
  consumers: { type: 'string' },
  size: { type: 'string' },
  acks: { type: 'string' },
  'batch-records': { type: 'string' },
  linger: { type: 'string' },
  'max-in-flight': { type: 'string' },
  compression: { type: 'string' },
  rate: { type: 'string' },
  duration: { type: 'string' },
  warmup: { type: 'string' },
  records: { type: 'string' },
  drain: { type: 'boolean' },
  'from-beginning': { type: 'boolean' },
  'fetch-max-bytes': { type: 'string' },
  'partition-max-bytes': { type: 'string' },
  'fetch-max-wait': { type: 'string' },
  'no-create': { type: 'boolean' },
  'no-cleanup': { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export type KafkaPerfCommand =
  | { readonly command: 'help'; readonly text: string }
  | { readonly command: 'perf-kafka'; readonly options: KafkaPerfOptions };

const INT32_MAX = 0x7fffffff;

export function parseKafkaPerfArgs(args: readonly string[]): KafkaPerfCommand {
  let values;
  try {
    ({ values } = parseArgs({ args: [...args], options: flags, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError(`perf-kafka: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (values.help) return { command: 'help', text: kafkaPerfHelpText };
  if (values.bootstrap === undefined) throw new UsageError("perf-kafka: --bootstrap is required (e.g. --bootstrap 127.0.0.1:9092); try 'wharf perf-kafka --help'");
  try {
    parseBootstrap(values.bootstrap);
  } catch (err) {
    throw new UsageError(`perf-kafka: --bootstrap: ${err instanceof Error ? err.message : String(err)}`);
  }

  const count = (flag: keyof typeof flags, dflt: number, min = 0, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = (values as Record<string, unknown>)[flag];
    if (raw === undefined) return dflt;
    const n = typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
      throw new UsageError(`perf-kafka: invalid --${flag}: ${JSON.stringify(raw)} (expected a whole number ${range})`);
    }
    return n;
  };

  const acksText = values.acks ?? '-1';
  const acks = acksText === 'all' ? -1 : ['0', '1', '-1'].includes(acksText.trim()) ? Number(acksText) : NaN;
  if (Number.isNaN(acks)) throw new UsageError(`perf-kafka: invalid --acks: ${JSON.stringify(acksText)} (expected 0, 1, -1 or all)`);
  const compression = (values.compression ?? 'none') as CompressionName;
  if (!COMPRESSIONS.includes(compression)) {
    throw new UsageError(`perf-kafka: invalid --compression: ${JSON.stringify(values.compression)} (expected ${COMPRESSIONS.join(', ')})`);
  }
  const topic = values.topic ?? kafkaPerfDefaults.topic;
  if (!/^[a-zA-Z0-9._-]{1,249}$/.test(topic) || topic === '.' || topic === '..') {
    throw new UsageError('perf-kafka: invalid --topic: 1 to 249 characters of a-z A-Z 0-9 . _ -');
  }

  const records = count('records', 0);
  const drain = values.drain ?? false;
  const countEnds = records > 0 || drain;
  const options: KafkaPerfOptions = {
    bootstrap: values.bootstrap,
    topic,
    partitions: count('partitions', kafkaPerfDefaults.partitions, 1, 10_000),
    producers: count('producers', kafkaPerfDefaults.producers, 0, 1000),
    consumers: count('consumers', kafkaPerfDefaults.consumers, 0, 1000),
    sizeBytes: count('size', kafkaPerfDefaults.sizeBytes, VALUE_HEADER_BYTES, 1024 * 1024),
    acks,
    batchRecords: count('batch-records', kafkaPerfDefaults.batchRecords, 1, 1_000_000),
    lingerMs: count('linger', kafkaPerfDefaults.lingerMs, 0, 60_000),
    maxInFlight: count('max-in-flight', kafkaPerfDefaults.maxInFlight, 1, 1000),
    compression,
    ratePerSec: count('rate', 0),
    durationSec: values.duration !== undefined ? count('duration', 0, 1) : countEnds ? undefined : DEFAULT_DURATION_SEC,
    warmupSec: count('warmup', 0, 0, 3600),
    records,
    drain,
    fromBeginning: values['from-beginning'] ?? false,
    fetchMaxBytes: count('fetch-max-bytes', kafkaPerfDefaults.fetchMaxBytes, 1, INT32_MAX),
    partitionMaxBytes: count('partition-max-bytes', kafkaPerfDefaults.partitionMaxBytes, 1, INT32_MAX),
    fetchMaxWaitMs: count('fetch-max-wait', kafkaPerfDefaults.fetchMaxWaitMs, 0, INT32_MAX),
    create: !(values['no-create'] ?? false),
    cleanup: !(values['no-cleanup'] ?? false),
    json: values.json ?? false,
  };
  checkCombination(options);
  return { command: 'perf-kafka', options };
}

function checkCombination(o: KafkaPerfOptions): void {
  if (o.producers + o.consumers === 0) throw new UsageError('perf-kafka: nothing to do: --producers and --consumers are both 0');
  if (o.records > 0 && o.producers === 0) throw new UsageError('perf-kafka: --records needs at least one producer');
  if (o.drain && o.consumers === 0) throw new UsageError('perf-kafka: --drain needs at least one consumer');
  if (o.drain && o.producers > 0) throw new UsageError('perf-kafka: --drain reads what the topic holds: use it with --producers 0');
  if (o.producers > 0 && o.records === 0 && o.durationSec === undefined) {
    throw new UsageError('perf-kafka: the producers would never stop: give --duration or --records');
  }
  if (o.warmupSec > 0 && (o.records > 0 || o.drain || o.durationSec === undefined)) {
    throw new UsageError('perf-kafka: --warmup needs a timed run (--duration), not --records or --drain');
  }
}

/** The options as reported in the JSON line's "config". */
export function reportedKafkaConfig(o: KafkaPerfOptions): Record<string, unknown> {
  return { ...o };
}
