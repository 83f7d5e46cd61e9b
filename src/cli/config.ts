// The `wharf` command line, as data: argv + environment (+ an optional JSON
// config file, read through the function passed in) -> the command to run and
// its fully resolved options. No I/O of its own, so every rule is unit-tested.
//
// Precedence for each option: flag > environment variable > config file > default.
// The user list follows the same rule as a whole: the highest source that names
// any users replaces the lower ones (guest, made on first start, is kept besides them;
// docs/security.md: these users are created or updated as administrators at each start).

import { parseArgs } from 'node:util';
import type { DiskFreeLimit, MemoryHighWatermark } from '../broker/resource-monitor.js';
import { logFormats, logLevels, parseLogFormat, parseLogLevel, type LogFormat, type LogLevel } from '../util/logger.js';
import { certLoginFroms, type CertLoginFrom, type TlsSettings } from '../util/tls.js';
import { adminVerbs, adminHelpSummary } from './admin/verbs.js';
import { clusterConfigKeys, clusterFlags, clusterHelpText, resolveCluster, type ClusterSpec } from './cluster-options.js';
import { parseKafkaPerfArgs, type KafkaPerfOptions } from './perf/kafka-options.js';
import { parsePerfArgs, type PerfOptions } from './perf/options.js';

export type FsyncMode = 'always' | 'batch' | 'never';

/** An AWS access key as `--aws-credentials KEY:SECRET[:VHOST]` gives it. */
export interface AwsCredentialSpec {
  accessKey: string;
  secret: string;
  vhost: string;
}

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
  /** A Kafka TLS listener's port (SSL, or SASL_SSL with mechanisms), on the TLS certificate; needs --tls-cert and --tls-key. */
  kafkaTlsPort?: number;
  /** The AWS APIs' port (SQS); 0 picks one. */
  awsPort: number;
  /** AWS access keys, each on a vhost; empty: the default test:test on /, loopback only. */
  awsCredentials: AwsCredentialSpec[];
  bind: string;
  fsync: FsyncMode;
  logLevel: LogLevel;
  /** text for people, json (one object per line) for log shippers. */
  logFormat: LogFormat;
  users: UserSpec[];
  memoryHighWatermark: MemoryHighWatermark;
  /** Ack timeout (ms) for deliveries on queues without x-consumer-timeout; 0 turns it off. */
  consumerTimeoutMs: number;
  diskFreeLimit: DiskFreeLimit;
  /** How often the stream cleaner looks for compacted partitions to clean (default: the broker's, 15 s). */
  streamCleanerIntervalMs?: number;
  /** Log the latency breakdown (docs/perf.md) every this many seconds; 0 = off. */
  latencyTraceSec: number;
  /** Certificate and key (and CA, peer verification) for AMQPS and HTTPS; absent: no TLS listener. */
  tls?: TlsSettings;
  /** With tls: the AMQPS port (5671 unless given). */
  amqpsPort?: number;
  /** With tls: HTTPS on this port too (none unless given). */
  httpsPort?: number;
  /** Where EXTERNAL takes the user name from in a client certificate (common_name unless given). */
  certLoginFrom?: CertLoginFrom;
  /** A definitions file (RabbitMQ's JSON format) applied at every start, as RabbitMQ's load_definitions. */
  definitions?: string;
  /** Largest message body accepted (RabbitMQ's max_message_size; default 128 MiB, at most 512 MiB). */
  maxMessageSize?: number;
  /** AMQP channel-max offered in connection.tune (RabbitMQ's default 2047). */
  channelMax?: number;
  /** AMQP frame-max offered in connection.tune (RabbitMQ's default 131072). */
  frameMax?: number;
  /** Publish data a connection may have in flight (received, not yet durable/confirmed) before it is not read (64 MiB). */
  maxUnconfirmedBytes?: number;
  /** Join a cluster through etcd (docs/cluster.md); absent: a single node. */
  cluster?: ClusterSpec;
}

export type Command =
  | { readonly command: 'help'; readonly text: string }
  | { readonly command: 'version' }
  | { readonly command: 'serve'; readonly options: ServeOptions }
  | { readonly command: 'perf'; readonly options: PerfOptions }
  | { readonly command: 'perf-kafka'; readonly options: KafkaPerfOptions }
  /** An operator verb over the HTTP API (src/cli/admin/); it parses its own arguments. */
  | { readonly command: 'admin'; readonly verb: string; readonly args: readonly string[] }
  | { readonly command: 'definitions'; readonly argv: readonly string[] };

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
  awsPort: 4566,
  awsCredentials: [],
  bind: '::',
  fsync: 'batch',
  logLevel: 'info',
  logFormat: 'text',
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
${adminHelpSummary()}
  help VERB       help for one command (also: wharf VERB --help)
  --help, -h      show this help (wharf serve --help for the broker's options)
  --version, -v   print the version

Operator commands talk to the management HTTP API:
  --url URL (WHARF_URL, http://localhost:15672), --user/--password (WHARF_USER,
  WHARF_PASSWORD, guest/guest), --vhost (/). See docs/cli.md.
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
  --aws-port PORT       WHARF_AWS_PORT   the AWS APIs (SQS and SNS, with SigV4), 0 picks a free one (4566)
  --aws-credentials KEY:SECRET[:VHOST]
                        WHARF_AWS_CREDENTIALS
                                         an access key for the AWS APIs, on VHOST (/); repeat the flag,
                                         or separate keys with commas (test:test on /, loopback only)
  --bind ADDRESS        WHARF_BIND       address to listen on; :: means IPv6 and IPv4 (::)
  --fsync MODE          WHARF_FSYNC      always | batch | never (batch)
  --log-level LEVEL     WHARF_LOG_LEVEL  ${logLevels.join(' | ')} (info)
  --log-format FORMAT   WHARF_LOG_FORMAT ${logFormats.join(' | ')}: json is one object per line
                                         with time, level, msg and the event's fields (text)
  --user NAME:PASSWORD  WHARF_USERS      an administrator with full permissions on /, made or
                                         updated at each start; repeat the flag, or
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
  --tls-cert FILE       WHARF_TLS_CERT   PEM certificate chain for AMQPS, HTTPS and Kafka TLS; with --tls-key
                                         it turns TLS on (no TLS listener without it)
  --tls-key FILE        WHARF_TLS_KEY    PEM private key of --tls-cert
  --tls-ca FILE         WHARF_TLS_CA     PEM CA bundle client certificates must chain to (system CAs)
  --tls-verify-peer     WHARF_TLS_VERIFY_PEER
                                         ask clients for a certificate; one that does not verify is
                                         refused (false)
  --tls-fail-if-no-peer-cert
                        WHARF_TLS_FAIL_IF_NO_PEER_CERT
                                         with --tls-verify-peer: refuse clients without one (false)
  --tls-cert-login-from common_name|subject_alternative_name
                        WHARF_TLS_CERT_LOGIN_FROM
                                         EXTERNAL login: the user name is the client certificate's
                                         CN, or its first DNS (else email) SAN (common_name)
  --amqps-port PORT     WHARF_AMQPS_PORT AMQP over TLS port, 0 picks a free one (5671 with TLS)
  --https-port PORT     WHARF_HTTPS_PORT the HTTP API over TLS too, on PORT (none)
  --definitions FILE    WHARF_DEFINITIONS
                                         definitions (RabbitMQ's JSON format: users, vhosts, permissions,
                                         policies, queues, ...) applied at every start, as RabbitMQ's
                                         load_definitions; a bad file stops the start
  --max-message-size SIZE
                        WHARF_MAX_MESSAGE_SIZE
                                         larger messages close their channel with 406 (134217728 = 128MiB;
                                         at most 536870912 = 512MiB, RabbitMQ's max_message_size)
  --channel-max N       WHARF_CHANNEL_MAX channels per AMQP connection, 1 to 65535 (2047)
  --frame-max BYTES     WHARF_FRAME_MAX  largest AMQP frame, 4096 to 1073741824 (131072)
  --max-unconfirmed-bytes SIZE
                        WHARF_MAX_UNCONFIRMED_BYTES
                                         a connection with this much publish data not yet durable or
                                         confirmed is not read until some is (64MiB; docs/limits.md)
${clusterHelpText}  --config FILE         WHARF_CONFIG     JSON file: {"users": [{"name": "...", "password": "..."}],
                                         "dataDir", "amqpPort", "httpPort", "kafkaPort", "kafkaAdvertisedHost",
                                         "kafkaAutoCreateTopics", "kafkaSaslMechanisms", "kafkaTlsPort", "awsPort",
                                         "awsCredentials", "bind", "fsync", "logLevel", "logFormat",
                                         "memoryHighWatermark", "diskFreeLimit", "consumerTimeoutMs",
                                         "streamCleanerIntervalMs", "latencyTraceSec", "tlsCert", "tlsKey",
                                         "tlsCa", "tlsVerifyPeer", "tlsFailIfNoPeerCert", "tlsCertLoginFrom",
                                         "amqpsPort", "httpsPort",
                                         "definitions", "maxMessageSize", "channelMax", "frameMax",
                                         "maxUnconfirmedBytes", "cluster", "nodeName", "advertiseHost",
                                         "clusterName", "clusterLeaseTtlSec"}
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
      if (rest.length > 0 && first === 'help') return helpFor(rest[0]);
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
    case 'definitions':
      // With --data-dir: offline, on a stopped broker's data dir (cli/definitions.ts); else over the HTTP API.
      if (rest.some((a) => a === '--data-dir' || a.startsWith('--data-dir='))) return { command: 'definitions', argv: rest };
      return { command: 'admin', verb: first, args: rest };
    default:
      if (adminVerbs.has(first)) return { command: 'admin', verb: first, args: rest };
      throw new UsageError(
        first.startsWith('-')
          ? `unknown option '${first}'; try 'wharf --help'`
          : `unknown command '${first}'; try 'wharf --help'`,
      );
  }
}

/** `wharf help VERB`: the same text as `wharf VERB --help`. */
function helpFor(verb: string): Command {
  switch (verb) {
    case 'serve':
    case 'perf':
    case 'perf-kafka':
      return parseCommandLine([verb, '--help'], {}, () => '');
    default:
      if (adminVerbs.has(verb)) return { command: 'admin', verb, args: ['--help'] };
      throw new UsageError(`unknown command '${verb}'; try 'wharf --help'`);
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
  'aws-port': { type: 'string' },
  'aws-credentials': { type: 'string', multiple: true },
  bind: { type: 'string' },
  fsync: { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  user: { type: 'string', multiple: true },
  'memory-high-watermark': { type: 'string' },
  'consumer-timeout': { type: 'string' },
  'disk-free-limit': { type: 'string' },
  'stream-cleaner-interval': { type: 'string' },
  'latency-trace': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-verify-peer': { type: 'boolean' },
  'tls-fail-if-no-peer-cert': { type: 'boolean' },
  'tls-cert-login-from': { type: 'string' },
  'amqps-port': { type: 'string' },
  'https-port': { type: 'string' },
  definitions: { type: 'string' },
  'max-message-size': { type: 'string' },
  'channel-max': { type: 'string' },
  'frame-max': { type: 'string' },
  'max-unconfirmed-bytes': { type: 'string' },
  ...clusterFlags,
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
  const resolve = <T>(flag: string, envName: string, fileKey: ConfigKey, parse: Parser<T>, dflt: T): T => {
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
    awsPort: resolve('aws-port', 'WHARF_AWS_PORT', 'awsPort', parsePort, serveDefaults.awsPort),
    awsCredentials: resolve('aws-credentials', 'WHARF_AWS_CREDENTIALS', 'awsCredentials', parseAwsCredentials, serveDefaults.awsCredentials),
    kafkaAutoCreateTopics: resolve('kafka-auto-create-topics', 'WHARF_KAFKA_AUTO_CREATE_TOPICS', 'kafkaAutoCreateTopics', parseBool,
      serveDefaults.kafkaAutoCreateTopics),
    kafkaSaslMechanisms: resolve('kafka-sasl-mechanisms', 'WHARF_KAFKA_SASL_MECHANISMS', 'kafkaSaslMechanisms', parseSaslMechanisms,
      serveDefaults.kafkaSaslMechanisms),
    bind: resolve('bind', 'WHARF_BIND', 'bind', parseBind, serveDefaults.bind),
    fsync: resolve('fsync', 'WHARF_FSYNC', 'fsync', parseFsync, serveDefaults.fsync),
    logLevel: resolve('log-level', 'WHARF_LOG_LEVEL', 'logLevel', parseLevel, serveDefaults.logLevel),
    logFormat: resolve('log-format', 'WHARF_LOG_FORMAT', 'logFormat', parseFormat, serveDefaults.logFormat),
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
  const kafkaTlsPort = resolve('kafka-tls-port', 'WHARF_KAFKA_TLS_PORT', 'kafkaTlsPort', parsePort, undefined);
  if (kafkaTlsPort !== undefined) options.kafkaTlsPort = kafkaTlsPort;
  const cleanerMs = resolve('stream-cleaner-interval', 'WHARF_STREAM_CLEANER_INTERVAL', 'streamCleanerIntervalMs', parseMillis, undefined);
  if (cleanerMs !== undefined) options.streamCleanerIntervalMs = Math.max(1, cleanerMs);
  resolveTls(options, resolve);
  if (options.kafkaTlsPort !== undefined && options.tls === undefined) throw new UsageError('--kafka-tls-port needs --tls-cert and --tls-key');
  const definitions = resolve('definitions', 'WHARF_DEFINITIONS', 'definitions', parsePath, undefined);
  if (definitions !== undefined) options.definitions = definitions;
  const maxMessageSize = resolve('max-message-size', 'WHARF_MAX_MESSAGE_SIZE', 'maxMessageSize', parseMaxMessageSize, undefined);
  if (maxMessageSize !== undefined) options.maxMessageSize = maxMessageSize;
  const channelMax = resolve('channel-max', 'WHARF_CHANNEL_MAX', 'channelMax', parseChannelMax, undefined);
  if (channelMax !== undefined) options.channelMax = channelMax;
  const frameMax = resolve('frame-max', 'WHARF_FRAME_MAX', 'frameMax', parseFrameMax, undefined);
  if (frameMax !== undefined) options.frameMax = frameMax;
  const unconfirmed = resolve('max-unconfirmed-bytes', 'WHARF_MAX_UNCONFIRMED_BYTES', 'maxUnconfirmedBytes', parseUnconfirmed, undefined);
  if (unconfirmed !== undefined) options.maxUnconfirmedBytes = unconfirmed;
  const cluster = resolveCluster(resolve);
  if (cluster !== undefined) options.cluster = cluster;
  return { command: 'serve', options };
}

export type Resolve = <T>(flag: string, envName: string, fileKey: ConfigKey, parse: Parser<T>, dflt: T) => T;

/**
 * TLS is on when a certificate and its key are given; the TLS-only options
 * without them are a mistake worth stopping for (a broker the operator
 * believes is encrypted but is not).
 */
function resolveTls(options: ServeOptions, resolve: Resolve): void {
  const certFile = resolve('tls-cert', 'WHARF_TLS_CERT', 'tlsCert', parseFile, undefined);
  const keyFile = resolve('tls-key', 'WHARF_TLS_KEY', 'tlsKey', parseFile, undefined);
  const caFile = resolve('tls-ca', 'WHARF_TLS_CA', 'tlsCa', parseFile, undefined);
  const verifyPeer = resolve('tls-verify-peer', 'WHARF_TLS_VERIFY_PEER', 'tlsVerifyPeer', parseBool, false);
  const failIfNoPeerCert = resolve('tls-fail-if-no-peer-cert', 'WHARF_TLS_FAIL_IF_NO_PEER_CERT', 'tlsFailIfNoPeerCert', parseBool, false);
  const certLoginFrom = resolve('tls-cert-login-from', 'WHARF_TLS_CERT_LOGIN_FROM', 'tlsCertLoginFrom', parseCertLoginFrom, undefined);
  const amqpsPort = resolve('amqps-port', 'WHARF_AMQPS_PORT', 'amqpsPort', parsePort, undefined);
  const httpsPort = resolve('https-port', 'WHARF_HTTPS_PORT', 'httpsPort', parsePort, undefined);
  if (certFile === undefined || keyFile === undefined) {
    if (certFile !== undefined) throw new UsageError('--tls-cert needs --tls-key (the private key of the certificate)');
    if (keyFile !== undefined) throw new UsageError('--tls-key needs --tls-cert');
    const stray = [
      caFile !== undefined && '--tls-ca', verifyPeer && '--tls-verify-peer', failIfNoPeerCert && '--tls-fail-if-no-peer-cert',
      certLoginFrom !== undefined && '--tls-cert-login-from', amqpsPort !== undefined && '--amqps-port', httpsPort !== undefined && '--https-port',
    ].filter((s) => s !== false);
    if (stray.length > 0) {
      throw new UsageError(`${stray.join(', ')} ${stray.length === 1 ? 'needs' : 'need'} TLS: give --tls-cert and --tls-key`);
    }
    return;
  }
  if (failIfNoPeerCert && !verifyPeer) throw new UsageError('--tls-fail-if-no-peer-cert needs --tls-verify-peer');
  options.tls = { certFile, keyFile, ...(caFile !== undefined ? { caFile } : {}), verifyPeer, failIfNoPeerCert };
  options.amqpsPort = amqpsPort ?? 5671;
  if (httpsPort !== undefined) options.httpsPort = httpsPort;
  if (certLoginFrom !== undefined) options.certLoginFrom = certLoginFrom;
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

const parseFile: Parser<string> = (raw, source) => {
  if (typeof raw !== 'string' || raw.trim() === '') throw invalid(source, raw, 'a file path');
  return raw;
};

const parseCertLoginFrom: Parser<CertLoginFrom> = (raw, source) => {
  if (typeof raw !== 'string' || !(certLoginFroms as readonly string[]).includes(raw)) {
    throw invalid(source, raw, certLoginFroms.join(' or '));
  }
  return raw as CertLoginFrom;
};

const parsePath: Parser<string> = (raw, source) => {
  if (typeof raw !== 'string' || raw.trim() === '') throw invalid(source, raw, 'a directory path');
  return raw;
};

/** KEY:SECRET[:VHOST] entries: flags (repeated), comma-separated in the environment, an array of strings in the config file. */
const parseAwsCredentials: Parser<AwsCredentialSpec[]> = (raw, source) => {
  const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : undefined;
  if (!items) throw invalid(source, raw, 'KEY:SECRET[:VHOST] entries');
  return items.map((item) => {
    const parts = typeof item === 'string' ? item.trim().split(':') : [];
    const [accessKey, secret, ...rest] = parts;
    if (!accessKey || !secret) throw new UsageError(`invalid ${source}: '${String(item)}' (expected KEY:SECRET or KEY:SECRET:VHOST)`);
    return { accessKey, secret, vhost: rest.length > 0 ? rest.join(':') : '/' };
  });
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

const parseFormat: Parser<LogFormat> = (raw, source) => {
  if (typeof raw === 'string') {
    try {
      return parseLogFormat(raw);
    } catch {
      // fall through to the uniform message
    }
  }
  throw invalid(source, raw, logFormats.join(', '));
};

/** RabbitMQ refuses a max_message_size above 512 MiB. */
export const MAX_MESSAGE_SIZE_LIMIT = 512 * 2 ** 20;

/** A size in bytes (a plain number, or with a unit) from `min` to `max`. */
function sizeParser(min: number, max: number, expected: string): Parser<number> {
  return (raw, source) => {
    const bytes = typeof raw === 'number' ? raw : typeof raw === 'string' ? parseSize(raw) : undefined;
    if (bytes === undefined || !Number.isSafeInteger(bytes) || bytes < min || bytes > max) throw invalid(source, raw, expected);
    return bytes;
  };
}

const parseMaxMessageSize = sizeParser(1, MAX_MESSAGE_SIZE_LIMIT, 'a size from 1 byte to 512MiB like 16MiB');
// AMQP 0-9-1 §4.2.3: frame-max is at least 4096 (frame-min-size); RabbitMQ's own ceiling is far below 1 GiB.
const parseFrameMax = sizeParser(4096, 2 ** 30, 'a size from 4096 bytes to 1GiB');
const parseUnconfirmed = sizeParser(64 * 1024, 2 ** 40, 'a size of at least 64KiB like 64MiB');

const parseChannelMax: Parser<number> = (raw, source) => {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw invalid(source, raw, 'a number of channels from 1 to 65535');
  return n;
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

/** The config file's keys: the options' names, with the TLS settings flat ("tlsCert", not "tls": {...}). */
type ConfigKey = Exclude<keyof ServeOptions, 'tls' | 'certLoginFrom' | 'cluster'>
  | (typeof clusterConfigKeys)[number]
  | 'tlsCert' | 'tlsKey' | 'tlsCa' | 'tlsVerifyPeer' | 'tlsFailIfNoPeerCert' | 'tlsCertLoginFrom';

const configKeys: readonly ConfigKey[] = [
  'dataDir', 'amqpPort', 'httpPort', 'kafkaPort', 'kafkaAdvertisedHost', 'kafkaAutoCreateTopics', 'kafkaSaslMechanisms', 'kafkaTlsPort', 'awsPort', 'awsCredentials', 'bind', 'fsync', 'logLevel', 'logFormat', 'users', 'memoryHighWatermark', 'diskFreeLimit', 'consumerTimeoutMs',
  'streamCleanerIntervalMs', 'latencyTraceSec', 'tlsCert', 'tlsKey', 'tlsCa', 'tlsVerifyPeer', 'tlsFailIfNoPeerCert', 'tlsCertLoginFrom',
  'amqpsPort', 'httpsPort', 'definitions', 'maxMessageSize', 'channelMax', 'frameMax', 'maxUnconfirmedBytes',
  ...clusterConfigKeys,
];

/** The config file's top-level object; unknown keys are refused so typos do not pass silently. */
function loadConfigFile(path: string, readFile: ReadFile): Partial<Record<ConfigKey, unknown>> {
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
  return parsed as Partial<Record<ConfigKey, unknown>>;
}

/** The one line `serve` prints on stdout once both listeners are up. */
export function listeningLine(where: {
  host: string;
  amqpPort: number;
  httpPort: number;
  kafkaPort: number;
  amqpsPort?: number | undefined;
  httpsPort?: number | undefined;
  kafkaTlsPort?: number | undefined;
  awsPort?: number | undefined;
}): string {
  return (
    `wharf listening amqp=${hostPort(where.host, where.amqpPort)} http=${hostPort(where.host, where.httpPort)}` +
    ` kafka=${hostPort(where.host, where.kafkaPort)}` +
    (where.amqpsPort !== undefined ? ` amqps=${hostPort(where.host, where.amqpsPort)}` : '') +
    (where.httpsPort !== undefined ? ` https=${hostPort(where.host, where.httpsPort)}` : '') +
    (where.kafkaTlsPort !== undefined ? ` kafka-tls=${hostPort(where.host, where.kafkaTlsPort)}` : '') +
    (where.awsPort !== undefined ? ` aws=${hostPort(where.host, where.awsPort)}` : '')
  );
}

/** host:port, with IPv6 addresses in brackets as in URLs (RFC 3986 §3.2.2). */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
