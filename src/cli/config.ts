// The `wharf` command line, as data: argv + environment (+ an optional JSON
// config file, read through the function passed in) -> the command to run and
// its fully resolved options. No I/O of its own, so every rule is unit-tested.
//
// Precedence for each option: flag > environment variable > config file > default.
// The user list follows the same rule as a whole: the highest source that names
// any users replaces the lower ones (guest always exists besides them).

import { parseArgs } from 'node:util';
import type { DiskFreeLimit, MemoryHighWatermark } from '../broker/resource-monitor.js';
import { logLevels, parseLogLevel, type LogLevel } from '../util/logger.js';
import { parseKafkaPerfArgs, type KafkaPerfOptions } from './perf/kafka-options.js';
import { parsePerfArgs, type PerfOptions } from './perf/options.js';

export type FsyncMode = 'always' | 'batch' | 'never';

export interface UserSpec {
  name: string;
  password: string;
}

export interface ServeOptions {
  dataDir: string;
  amqpPort: number;
  httpPort: number;
  /** Kafka protocol port (0 picks a free one). */
  kafkaPort: number;
  /** Host Kafka clients are told to connect to (default: the bind address, 127.0.0.1 for a wildcard). */
  kafkaAdvertisedHost?: string;
  /** Kafka's auto.create.topics.enable. */
  kafkaAutoCreateTopics: boolean;
  /** Kafka's sasl.enabled.mechanisms on the Kafka listeners; empty: no authentication. */
  kafkaSaslMechanisms: string[];
  /** A Kafka TLS listener's port (SSL, or SASL_SSL with mechanisms); needs tlsCert and tlsKey. */
  kafkaTlsPort?: number;
  /** PEM files for TLS listeners: certificate chain, private key, CA bundle. */
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  bind: string;
  fsync: FsyncMode;
  logLevel: LogLevel;
  users: UserSpec[];
  memoryHighWatermark: MemoryHighWatermark;
  /** Ack timeout (ms) for deliveries on queues without x-consumer-timeout; 0 turns it off. */
  consumerTimeoutMs: number;
  diskFreeLimit: DiskFreeLimit;
  /** How often the stream cleaner looks for compacted partitions to clean (default: the broker's, 15 s). */
  streamCleanerIntervalMs?: number;
  /** Log the latency breakdown (docs/perf.md) every this many seconds; 0 = off. */
  latencyTraceSec: number;
}

export type Command =
  | { readonly command: 'help'; readonly text: string }
  | { readonly command: 'version' }
  | { readonly command: 'serve'; readonly options: ServeOptions }
  | { readonly command: 'perf'; readonly options: PerfOptions }
  | { readonly command: 'perf-kafka'; readonly options: KafkaPerfOptions };

/** Bad input from the person at the keyboard: print the one-line message, exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message.replace(/\s*\n\s*/g, ' '));
    this.name = 'UsageError';
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Reads a file as UTF-8 text; throws (e.g. ENOENT) like fs.readFileSync. */
export type ReadFile = (path: string) => string;

export const serveDefaults: Readonly<ServeOptions> = {
  dataDir: './data',
  amqpPort: 5672,
  httpPort: 15672,
  kafkaPort: 9092,
  kafkaAutoCreateTopics: true,
  kafkaSaslMechanisms: [],
  bind: '::',
  fsync: 'batch',
  logLevel: 'info',
  users: [],
  memoryHighWatermark: { relative: 0.4 },
  consumerTimeoutMs: 30 * 60 * 1000,
  diskFreeLimit: { bytes: 50_000_000 },
  latencyTraceSec: 0,
};

const fsyncModes: readonly FsyncMode[] = ['always', 'batch', 'never'];
/** The Kafka SASL mechanisms Wharf serves (docs/kafka.md, Authentication). */
const kafkaSaslMechanismNames: readonly string[] = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];

export const helpText = `Usage: wharf <command> [options]

Commands:
  serve           run the broker
  perf            load-test an AMQP 0-9-1 broker (wharf perf --help)
  perf-kafka      load-test a Kafka broker (wharf perf-kafka --help)
  --help, -h      show this help (wharf serve --help for the broker's options)
  --version, -v   print the version
`;

export const serveHelpText = `Usage: wharf serve [options]

Options (flag > environment variable > config file > default):
  --data-dir DIR        WHARF_DATA_DIR   where messages and metadata live (./data)
  --amqp-port PORT      WHARF_AMQP_PORT  AMQP port, 0 picks a free one (5672)
  --http-port PORT      WHARF_HTTP_PORT  HTTP health/management port, 0 picks a free one (15672)
  --kafka-port PORT     WHARF_KAFKA_PORT Kafka protocol port, 0 picks a free one (9092)
  --kafka-advertised-host HOST
                        WHARF_KAFKA_ADVERTISED_HOST
                                         host Kafka clients are told to connect to
                                         (the bind address; 127.0.0.1 when binding to all)
  --kafka-auto-create-topics true|false
                        WHARF_KAFKA_AUTO_CREATE_TOPICS
                                         create a topic when a client asks for it (true)
  --kafka-sasl-mechanisms LIST
                        WHARF_KAFKA_SASL_MECHANISMS
                                         require SASL on the Kafka listeners with these mechanisms,
                                         comma-separated: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512;
                                         log in as vhost:user (user alone means /) (none: no auth)
  --kafka-tls-port PORT WHARF_KAFKA_TLS_PORT
                                         also serve Kafka over TLS on PORT (needs --tls-cert and
                                         --tls-key) (off)
  --tls-cert FILE       WHARF_TLS_CERT   PEM certificate chain for TLS listeners
  --tls-key FILE        WHARF_TLS_KEY    PEM private key for TLS listeners
  --tls-ca FILE         WHARF_TLS_CA     PEM CA bundle for TLS listeners
  --bind ADDRESS        WHARF_BIND       address to listen on; :: means IPv6 and IPv4 (::)
  --fsync MODE          WHARF_FSYNC      always | batch | never (batch)
  --log-level LEVEL     WHARF_LOG_LEVEL  ${logLevels.join(' | ')} (info)
  --user NAME:PASSWORD  WHARF_USERS      a user besides guest; repeat the flag, or
                                         separate users with commas in WHARF_USERS
  --memory-high-watermark LIMIT
                        WHARF_MEMORY_HIGH_WATERMARK
                                         block publishers while the broker's memory (RSS) is above
                                         LIMIT: a fraction of RAM like 0.4, or a size like 512MB (0.4)
  --disk-free-limit LIMIT
                        WHARF_DISK_FREE_LIMIT
                                         block publishers while free space on the data dir's disk is
                                         below LIMIT: a size like 1GB, or mem_relative:N for N x RAM (50MB)
                                         Sizes: kB MB GB TB (powers of 1000), KiB MiB GiB TiB (of 1024)
  --consumer-timeout MS WHARF_CONSUMER_TIMEOUT
                                         a delivery not acked within MS closes its channel (406);
                                         0 turns it off; x-consumer-timeout overrides it (1800000)
  --stream-cleaner-interval MS
                        WHARF_STREAM_CLEANER_INTERVAL
                                         how often compacted streams are checked for cleaning (15000)
  --latency-trace SECONDS
                        WHARF_LATENCY_TRACE
                                         developers: log where a message's time goes in the broker
                                         (per-stage histograms, docs/perf.md) every SECONDS; 0 = off (0)
  --config FILE         WHARF_CONFIG     JSON file: {"users": [{"name": "...", "password": "..."}],
                                         "dataDir", "amqpPort", "httpPort", "kafkaPort", "kafkaAdvertisedHost",
                                         "kafkaAutoCreateTopics", "kafkaSaslMechanisms", "kafkaTlsPort",
                                         "tlsCert", "tlsKey", "tlsCa", "bind", "fsync", "logLevel",
                                         "memoryHighWatermark", "diskFreeLimit", "consumerTimeoutMs",
                                         "streamCleanerIntervalMs", "latencyTraceSec"}
  --help, -h                             show this help
`;

export function parseCommandLine(argv: readonly string[], env: Env, readFile: ReadFile): Command {
  const [first, ...rest] = argv;
  switch (first) {
    case undefined:
      throw new UsageError("missing command; try 'wharf --help'");
    case '--help':
    case '-h':
    case 'help':
      return { command: 'help', text: helpText };
    case '--version':
    case '-v':
    case 'version':
      return { command: 'version' };
    case 'serve':
      return parseServe(rest, env, readFile);
    case 'perf':
      return parsePerfArgs(rest);
    case 'perf-kafka':
      return parseKafkaPerfArgs(rest);
    default:
      throw new UsageError(
        first.startsWith('-')
          ? `unknown option '${first}'; try 'wharf --help'`
          : `unknown command '${first}'; try 'wharf --help'`,
      );
  }
}

const serveFlags = {
  'data-dir': { type: 'string' },
  'amqp-port': { type: 'string' },
  'http-port': { type: 'string' },
  'kafka-port': { type: 'string' },
  'kafka-advertised-host': { type: 'string' },
  'kafka-auto-create-topics': { type: 'string' },
  'kafka-sasl-mechanisms': { type: 'string' },
  'kafka-tls-port': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
  bind: { type: 'string' },
  fsync: { type: 'string' },
  'log-level': { type: 'string' },
  user: { type: 'string', multiple: true },
  'memory-high-watermark': { type: 'string' },
  'consumer-timeout': { type: 'string' },
  'disk-free-limit': { type: 'string' },
  'stream-cleaner-interval': { type: 'string' },
  'latency-trace': { type: 'string' },
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parseServe(args: readonly string[], env: Env, readFile: ReadFile): Command {
  let values;
  try {
    ({ values } = parseArgs({ args: [...args], options: serveFlags, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError(`serve: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (values.help) return { command: 'help', text: serveHelpText };

  const configPath = values.config ?? envValue(env, 'WHARF_CONFIG');
  const file = configPath === undefined ? {} : loadConfigFile(configPath, readFile);
  const fileSource = (key: string): string => `${key} in config file '${configPath}'`;

  // One option's value from the first source that sets it, parsed with that source named in errors.
  const resolve = <T>(flag: string, envName: string, fileKey: keyof ServeOptions, parse: Parser<T>, dflt: T): T => {
    const fromFlag = (values as Record<string, unknown>)[flag];
    if (fromFlag !== undefined) return parse(fromFlag, `--${flag}`);
    const fromEnv = envValue(env, envName);
    if (fromEnv !== undefined) return parse(fromEnv, envName);
    if (file[fileKey] !== undefined) return parse(file[fileKey], fileSource(fileKey));
    return dflt;
  };

  const options: ServeOptions = {
    dataDir: resolve('data-dir', 'WHARF_DATA_DIR', 'dataDir', parsePath, serveDefaults.dataDir),
    amqpPort: resolve('amqp-port', 'WHARF_AMQP_PORT', 'amqpPort', parsePort, serveDefaults.amqpPort),
    httpPort: resolve('http-port', 'WHARF_HTTP_PORT', 'httpPort', parsePort, serveDefaults.httpPort),
    kafkaPort: resolve('kafka-port', 'WHARF_KAFKA_PORT', 'kafkaPort', parsePort, serveDefaults.kafkaPort),
    kafkaAutoCreateTopics: resolve('kafka-auto-create-topics', 'WHARF_KAFKA_AUTO_CREATE_TOPICS', 'kafkaAutoCreateTopics', parseBool,
      serveDefaults.kafkaAutoCreateTopics),
    kafkaSaslMechanisms: resolve('kafka-sasl-mechanisms', 'WHARF_KAFKA_SASL_MECHANISMS', 'kafkaSaslMechanisms', parseSaslMechanisms,
      serveDefaults.kafkaSaslMechanisms),
    bind: resolve('bind', 'WHARF_BIND', 'bind', parseBind, serveDefaults.bind),
    fsync: resolve('fsync', 'WHARF_FSYNC', 'fsync', parseFsync, serveDefaults.fsync),
    logLevel: resolve('log-level', 'WHARF_LOG_LEVEL', 'logLevel', parseLevel, serveDefaults.logLevel),
    users: resolveUsers(values.user, env, file.users, fileSource('users')),
    memoryHighWatermark: resolve('memory-high-watermark', 'WHARF_MEMORY_HIGH_WATERMARK', 'memoryHighWatermark',
      parseMemoryHighWatermark, serveDefaults.memoryHighWatermark),
    diskFreeLimit: resolve('disk-free-limit', 'WHARF_DISK_FREE_LIMIT', 'diskFreeLimit', parseDiskFreeLimit,
      serveDefaults.diskFreeLimit),
    consumerTimeoutMs: resolve('consumer-timeout', 'WHARF_CONSUMER_TIMEOUT', 'consumerTimeoutMs', parseMillis,
      serveDefaults.consumerTimeoutMs),
    latencyTraceSec: resolve('latency-trace', 'WHARF_LATENCY_TRACE', 'latencyTraceSec', parseSeconds,
      serveDefaults.latencyTraceSec),
  };
  const advertised = resolve('kafka-advertised-host', 'WHARF_KAFKA_ADVERTISED_HOST', 'kafkaAdvertisedHost', parseHost, undefined);
  if (advertised !== undefined) options.kafkaAdvertisedHost = advertised;
  const optional = <K extends 'kafkaTlsPort' | 'tlsCert' | 'tlsKey' | 'tlsCa'>(flag: string, envName: string, key: K, parse: Parser<ServeOptions[K]>): void => {
    const v = resolve(flag, envName, key, parse, undefined);
    if (v !== undefined) options[key] = v;
  };
  optional('kafka-tls-port', 'WHARF_KAFKA_TLS_PORT', 'kafkaTlsPort', parsePort);
  optional('tls-cert', 'WHARF_TLS_CERT', 'tlsCert', parseFile);
  optional('tls-key', 'WHARF_TLS_KEY', 'tlsKey', parseFile);
  optional('tls-ca', 'WHARF_TLS_CA', 'tlsCa', parseFile);
  if (options.kafkaTlsPort !== undefined && (options.tlsCert === undefined || options.tlsKey === undefined)) {
    throw new UsageError('--kafka-tls-port needs --tls-cert and --tls-key');
  }
  const cleanerMs = resolve('stream-cleaner-interval', 'WHARF_STREAM_CLEANER_INTERVAL', 'streamCleanerIntervalMs', parseMillis, undefined);
  if (cleanerMs !== undefined) options.streamCleanerIntervalMs = Math.max(1, cleanerMs);
  return { command: 'serve', options };
}

/** An unset or empty variable counts as absent, so `WHARF_BIND= wharf serve` uses the default. */
function envValue(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v;
}

type Parser<T> = (raw: unknown, source: string) => T;

const invalid = (source: string, raw: unknown, expected: string): UsageError =>
  new UsageError(`invalid ${source}: ${JSON.stringify(raw)} (expected ${expected})`);

const parsePort: Parser<number> = (raw, source) => {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw invalid(source, raw, 'a port number from 0 to 65535');
  return n;
};

const parseMillis: Parser<number> = (raw, source) => {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw invalid(source, raw, 'a whole number of milliseconds, 0 or more');
  return n;
};

const parseSeconds: Parser<number> = (raw, source) => {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 0 || n > 86_400) throw invalid(source, raw, 'a whole number of seconds from 0 to 86400');
  return n;
};

const parsePath: Parser<string> = (raw, source) => {
  if (typeof raw !== 'string' || raw.trim() === '') throw invalid(source, raw, 'a directory path');
  return raw;
};

const parseFile: Parser<string> = (raw, source) => {
  if (typeof raw !== 'string' || raw.trim() === '') throw invalid(source, raw, 'a file path');
  return raw;
};

/** A comma-separated list (or, in the config file, an array) of Kafka SASL mechanism names. */
const parseSaslMechanisms: Parser<string[]> = (raw, source) => {
  const names = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',').map((n) => n.trim()).filter((n) => n !== '') : undefined;
  const expected = `a comma-separated list of ${kafkaSaslMechanismNames.join(', ')}`;
  if (names === undefined || !names.every((n) => typeof n === 'string' && kafkaSaslMechanismNames.includes(n))) throw invalid(source, raw, expected);
  return [...new Set(names as string[])];
};

const parseBool: Parser<boolean> = (raw, source) => {
  if (raw === true || raw === 'true') return true;
  if (raw === false || raw === 'false') return false;
  throw invalid(source, raw, 'true or false');
};

const parseHost: Parser<string> = (raw, source) => {
  if (typeof raw !== 'string' || raw.trim() === '' || /\s/.test(raw.trim())) throw invalid(source, raw, 'a host name or address');
  return raw.trim();
};

const parseBind: Parser<string> = (raw, source) => {
  if (typeof raw !== 'string' || !/^\S+$/.test(raw)) throw invalid(source, raw, 'an IP address or host name');
  return raw;
};

const parseFsync: Parser<FsyncMode> = (raw, source) => {
  if (typeof raw !== 'string' || !(fsyncModes as readonly string[]).includes(raw)) {
    throw invalid(source, raw, fsyncModes.join(', '));
  }
  return raw as FsyncMode;
};

const parseLevel: Parser<LogLevel> = (raw, source) => {
  if (typeof raw === 'string') {
    try {
      return parseLogLevel(raw);
    } catch {
      // fall through to the uniform message
    }
  }
  throw invalid(source, raw, logLevels.join(', '));
};

/** Units of sizes, lower-cased: RabbitMQ's spellings (MB = 1000², Mi/MiB = 1024²; a bare k/m/g/t is binary too). */
const sizeUnits: Readonly<Record<string, number>> = {
  '': 1, b: 1,
  kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12,
  k: 2 ** 10, ki: 2 ** 10, kib: 2 ** 10,
  m: 2 ** 20, mi: 2 ** 20, mib: 2 ** 20,
  g: 2 ** 30, gi: 2 ** 30, gib: 2 ** 30,
  t: 2 ** 40, ti: 2 ** 40, tib: 2 ** 40,
};

/** "512MB", "1.5GiB", "1000000" -> bytes (whole), or undefined. A number without a unit must be whole. */
export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m?.[2].toLowerCase() ?? '';
  if (!m || !Object.hasOwn(sizeUnits, unit) || (sizeUnits[unit] === 1 && m[1].includes('.'))) return undefined;
  const bytes = Math.floor(Number(m[1]) * sizeUnits[unit]);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

const memoryWatermarkExpected = 'a fraction of RAM from 0 to 1 like 0.4, or a size like 512MB or 2GiB';

/**
 * A plain number up to 1 is a fraction of RAM (RabbitMQ's relative watermark;
 * 0 blocks all publishing); anything with a unit, or a whole number above 1,
 * is bytes.
 */
const parseMemoryHighWatermark: Parser<MemoryHighWatermark> = (raw, source) => {
  const text = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw : undefined;
  if (text !== undefined && /^\s*\d+(\.\d+)?\s*$/.test(text)) {
    const n = Number(text);
    if (n <= 1) return { relative: n };
    if (Number.isSafeInteger(n)) return { bytes: n };
  } else if (text !== undefined) {
    const bytes = parseSize(text);
    if (bytes !== undefined) return { bytes };
  }
  throw invalid(source, raw, memoryWatermarkExpected);
};

/** A size (a plain number is bytes), or mem_relative:N for N times the RAM (RabbitMQ's {mem_relative, N}). */
const parseDiskFreeLimit: Parser<DiskFreeLimit> = (raw, source) => {
  const text = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw : undefined;
  const relative = text === undefined ? null : /^\s*mem_relative\s*:\s*(\d+(?:\.\d+)?)\s*$/i.exec(text);
  if (relative) return { memRelative: Number(relative[1]) };
  const bytes = text === undefined ? undefined : parseSize(text);
  if (bytes !== undefined) return { bytes };
  throw invalid(source, raw, 'a size like 50MB or 1GiB, or mem_relative:N (N times the RAM)');
};

function resolveUsers(flags: string[] | undefined, env: Env, fromFile: unknown, fileSource: string): UserSpec[] {
  if (flags !== undefined && flags.length > 0) return checkUnique(flags.map((f) => parseUser(f, '--user')), '--user');
  const fromEnv = envValue(env, 'WHARF_USERS');
  if (fromEnv !== undefined) {
    const entries = fromEnv.split(',').map((s) => s.trim()).filter((s) => s !== '');
    return checkUnique(entries.map((e) => parseUser(e, 'WHARF_USERS')), 'WHARF_USERS');
  }
  if (fromFile === undefined) return [...serveDefaults.users];
  if (!Array.isArray(fromFile)) throw invalid(fileSource, fromFile, 'an array of {"name", "password"}');
  return checkUnique(fromFile.map((u) => parseUserObject(u, fileSource)), fileSource);
}

/** "name:password"; the password may itself contain ':'. */
function parseUser(spec: string, source: string): UserSpec {
  const colon = spec.indexOf(':');
  const name = colon < 0 ? '' : spec.slice(0, colon);
  const password = colon < 0 ? '' : spec.slice(colon + 1);
  if (name === '' || password === '') throw new UsageError(`invalid ${source}: '${spec}' (expected name:password)`);
  return { name, password };
}

function parseUserObject(u: unknown, source: string): UserSpec {
  const o = u as Record<string, unknown> | null;
  const ok =
    typeof o === 'object' && o !== null && !Array.isArray(o) &&
    typeof o.name === 'string' && o.name !== '' &&
    typeof o.password === 'string' && o.password !== '' &&
    Object.keys(o).every((k) => k === 'name' || k === 'password');
  // Not echoing the entry: it may hold a password.
  if (!ok) throw new UsageError(`invalid ${source}: each user must be {"name": "...", "password": "..."}, both non-empty`);
  return { name: o.name as string, password: o.password as string };
}

function checkUnique(users: UserSpec[], source: string): UserSpec[] {
  const seen = new Set<string>();
  for (const u of users) {
    if (seen.has(u.name)) throw new UsageError(`invalid ${source}: user '${u.name}' is given twice`);
    seen.add(u.name);
  }
  return users;
}

const configKeys: readonly (keyof ServeOptions)[] = [
  'dataDir', 'amqpPort', 'httpPort', 'kafkaPort', 'kafkaAdvertisedHost', 'kafkaAutoCreateTopics', 'kafkaSaslMechanisms', 'kafkaTlsPort',
  'tlsCert', 'tlsKey', 'tlsCa', 'bind', 'fsync', 'logLevel', 'users', 'memoryHighWatermark', 'diskFreeLimit', 'consumerTimeoutMs',
  'streamCleanerIntervalMs', 'latencyTraceSec',
];

/** The config file's top-level object; unknown keys are refused so typos do not pass silently. */
function loadConfigFile(path: string, readFile: ReadFile): Partial<Record<keyof ServeOptions, unknown>> {
  let text: string;
  try {
    text = readFile(path);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new UsageError(`cannot read config file '${path}': ${typeof code === 'string' ? code : String(err)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`config file '${path}' is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`config file '${path}' must hold a JSON object`);
  }
  for (const key of Object.keys(parsed)) {
    if (!(configKeys as readonly string[]).includes(key)) {
      throw new UsageError(`unknown key '${key}' in config file '${path}' (expected ${configKeys.join(', ')})`);
    }
  }
  return parsed as Partial<Record<keyof ServeOptions, unknown>>;
}

/** The one line `serve` prints on stdout once both listeners are up. */
export function listeningLine(where: { host: string; amqpPort: number; httpPort: number; kafkaPort: number; kafkaTlsPort?: number }): string {
  return (
    `wharf listening amqp=${hostPort(where.host, where.amqpPort)} http=${hostPort(where.host, where.httpPort)}` +
    ` kafka=${hostPort(where.host, where.kafkaPort)}` +
    (where.kafkaTlsPort !== undefined ? ` kafka-tls=${hostPort(where.host, where.kafkaTlsPort)}` : '')
  );
}

/** host:port, with IPv6 addresses in brackets as in URLs (RFC 3986 §3.2.2). */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
