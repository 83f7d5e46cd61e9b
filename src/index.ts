// Wharf's embedding API: start a broker inside your own process (tests, tools).
//   const broker = await startBroker({ amqpPort: 0, dataDir: tmp });
//   ... amqplib.connect(broker.amqpUrl) ...
//   await broker.close();

import { Broker } from './broker/broker.js';
import {
  ResourceMonitor,
  type DiskFreeLimit,
  type MemoryHighWatermark,
  type ResourceAlarm,
  type ResourceLimits,
  type ResourceStatus,
} from './broker/resource-monitor.js';
import { startHttpServer } from './http/server.js';
import { AmqpListener } from './server/amqp/listener.js';
import { readFileSync } from 'node:fs';
import { KafkaListener, type KafkaTlsOptions } from './server/kafka/listener.js';
import { isSaslMechanism, SASL_MECHANISMS, type SaslMechanismName } from './server/kafka/sasl/mechanism.js';
import { kafkaSubscriptions } from './server/kafka/handlers/groups.js';
import { DEFAULT_VHOST } from './broker/broker.js';
import type { Vhost } from './broker/vhost.js';
import type { FsyncPolicy } from './store/index.js';
import { startLatencyTrace, stopLatencyTrace } from './util/latency-trace.js';
import { createLogger, type LogLevel, type Logger } from './util/logger.js';

export interface BrokerOptions {
  /** Where messages and metadata live (default ./data). */
  dataDir?: string;
  /** AMQP port (default 5672; 0 picks a free port). */
  amqpPort?: number;
  /** HTTP port for health and management (default 15672; 0 picks a free port). */
  httpPort?: number;
  /** Kafka protocol port (default 9092; 0 picks a free port). */
  kafkaPort?: number;
  /** Host Kafka clients are told to connect to (default: the bind address; 127.0.0.1 for a wildcard). */
  kafkaAdvertisedHost?: string;
  /** Create topics clients ask for (Kafka's auto.create.topics.enable; default true). */
  kafkaAutoCreateTopics?: boolean;
  /**
   * Kafka's sasl.enabled.mechanisms for both Kafka listeners: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512.
   * Empty or absent: no authentication (every connection works in `/`).
   */
  kafkaSaslMechanisms?: string[];
  /** A second Kafka listener, with TLS (SSL, or SASL_SSL with mechanisms); needs tlsCert and tlsKey. */
  kafkaTlsPort?: number;
  /** PEM files for TLS listeners: certificate chain, private key, CA bundle. */
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  /** How often stream retention runs, in ms (default 60 s). */
  retentionCheckMs?: number;
  /** How often the stream cleaner looks for compacted partitions worth cleaning, in ms (default 15 s). */
  streamCleanerIntervalMs?: number;
  /** Memory of the stream cleaner's key -> offset map, in bytes (default 32 MiB, ~1.2 million keys per pass). */
  streamCleanerMapBytes?: number;
  /** Kafka's group.initial.rebalance.delay.ms (default 3000): a new group waits this long for more members. */
  kafkaGroupInitialRebalanceDelayMs?: number;
  /** Kafka's transaction.max.timeout.ms (default 900000): longer producer transaction timeouts are refused. */
  kafkaTransactionMaxTimeoutMs?: number;
  /** Kafka's transaction.abort.timed.out.transaction.cleanup.interval.ms (default 10000). */
  kafkaTransactionAbortCheckMs?: number;
  /** Address to bind (default '::', IPv6 and IPv4). */
  bind?: string;
  fsync?: FsyncPolicy;
  logLevel?: LogLevel;
  users?: { name: string; password: string }[];
  logger?: Logger;
  /** AMQP limits offered in connection.tune (RabbitMQ's defaults). */
  channelMax?: number;
  frameMax?: number;
  heartbeatSec?: number;
  /** Consumer (ack) timeout in ms for every queue without x-consumer-timeout; 0 disables (RabbitMQ: 30 min). */
  consumerTimeoutMs?: number;
  /** Memory alarm above this much RSS (RabbitMQ's vm_memory_high_watermark; default { relative: 0.4 }). */
  memoryHighWatermark?: MemoryHighWatermark;
  /** Disk alarm below this much free space on the data dir's filesystem (disk_free_limit; default { bytes: 50e6 }). */
  diskFreeLimit?: DiskFreeLimit;
  /** How often the management API samples message rates (RabbitMQ's collect_statistics_interval; default 5000 ms). */
  statsIntervalMs?: number;
  /** /metrics has per-queue series up to this many queues, the aggregate above (default 1000). */
  metricsQueueSeriesMax?: number;
  /** Developers: log the latency breakdown (docs/perf.md) every this many seconds; 0 or absent = off. */
  latencyTraceSec?: number;
}

export interface ResourceReport extends ResourceStatus {
  /** Connections that published during an alarm and are not being read until it clears. */
  readonly blockedConnections: number;
}

export interface BrokerHandle {
  readonly amqpPort: number;
  readonly httpPort: number;
  readonly kafkaPort: number;
  /** The Kafka TLS listener's port, when kafkaTlsPort was given. */
  readonly kafkaTlsPort?: number;
  readonly host: string;
  readonly amqpUrl: string;
  /** host:port for Kafka clients' bootstrap servers. */
  readonly kafkaBootstrap: string;
  /** Resource alarms in effect: while any is, publishing connections are blocked. */
  alarms(): ResourceAlarm[];
  /** The alarms and the numbers behind them. */
  resources(): ResourceReport;
  /** Changes the memory watermark and/or free-disk limit; resolves once alarms reflect them. */
  setResourceLimits(limits: Partial<ResourceLimits>): Promise<ResourceReport>;
  close(): Promise<void>;
}

export const DEFAULTS = {
  dataDir: './data',
  amqpPort: 5672,
  httpPort: 15672,
  kafkaPort: 9092,
  bind: '::',
  fsync: 'batch' as FsyncPolicy,
  channelMax: 2047,
  frameMax: 131072,
  heartbeatSec: 60,
};

/** The SASL mechanisms option, checked before anything starts. */
function kafkaSaslMechanisms(names: readonly string[] | undefined): SaslMechanismName[] {
  const out: SaslMechanismName[] = [];
  for (const name of names ?? []) {
    if (!isSaslMechanism(name)) throw new Error(`unknown Kafka SASL mechanism '${name}' (expected ${SASL_MECHANISMS.join(', ')})`);
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

/** The TLS files for the Kafka TLS listener, read once at start (undefined without kafkaTlsPort). */
function kafkaTls(opts: BrokerOptions): KafkaTlsOptions | undefined {
  if (opts.kafkaTlsPort === undefined) return undefined;
  if (opts.tlsCert === undefined || opts.tlsKey === undefined) throw new Error('kafkaTlsPort needs tlsCert and tlsKey');
  return {
    cert: readFileSync(opts.tlsCert),
    key: readFileSync(opts.tlsKey),
    ...(opts.tlsCa !== undefined ? { ca: readFileSync(opts.tlsCa) } : {}),
  };
}

export async function startBroker(opts: BrokerOptions = {}): Promise<BrokerHandle> {
  const logger = opts.logger ?? createLogger(opts.logLevel ?? 'info');
  const saslMechanisms = kafkaSaslMechanisms(opts.kafkaSaslMechanisms);
  const tls = kafkaTls(opts);
  const dataDir = opts.dataDir ?? DEFAULTS.dataDir;
  const broker = await Broker.open({
    dataDir,
    fsync: opts.fsync ?? DEFAULTS.fsync,
    logger,
    users: opts.users ?? [],
    ...(opts.consumerTimeoutMs !== undefined ? { consumerTimeoutMs: opts.consumerTimeoutMs } : {}),
    ...(opts.retentionCheckMs !== undefined ? { retentionCheckMs: opts.retentionCheckMs } : {}),
    ...(opts.streamCleanerIntervalMs !== undefined ? { streamCleanerIntervalMs: opts.streamCleanerIntervalMs } : {}),
    ...(opts.streamCleanerMapBytes !== undefined ? { streamCleanerMapBytes: opts.streamCleanerMapBytes } : {}),
    ...(opts.kafkaGroupInitialRebalanceDelayMs !== undefined ? { groups: { initialRebalanceDelayMs: opts.kafkaGroupInitialRebalanceDelayMs } } : {}),
    groupSubscriptions: kafkaSubscriptions,
    transactions: {
      ...(opts.kafkaTransactionMaxTimeoutMs !== undefined ? { maxTimeoutMs: opts.kafkaTransactionMaxTimeoutMs } : {}),
      ...(opts.kafkaTransactionAbortCheckMs !== undefined ? { abortCheckIntervalMs: opts.kafkaTransactionAbortCheckMs } : {}),
    },
  });
  let resources: ResourceMonitor;
  try {
    resources = new ResourceMonitor({
      dir: dataDir,
      logger,
      limits: { memoryHighWatermark: opts.memoryHighWatermark, diskFreeLimit: opts.diskFreeLimit },
    });
    await resources.start();
  } catch (err) {
    await broker.close();
    throw err;
  }
  const bind = opts.bind ?? DEFAULTS.bind;
  const amqp = new AmqpListener(
    broker,
    {
      port: opts.amqpPort ?? DEFAULTS.amqpPort,
      host: bind,
      channelMax: opts.channelMax ?? DEFAULTS.channelMax,
      frameMax: opts.frameMax ?? DEFAULTS.frameMax,
      heartbeatSec: opts.heartbeatSec ?? DEFAULTS.heartbeatSec,
    },
    logger,
    resources,
  );
  const report = (): ResourceReport => ({ ...resources.status(), blockedConnections: amqp.blockedConnectionCount });
  let amqpAddr;
  try {
    amqpAddr = await amqp.listen();
  } catch (err) {
    resources.stop();
    await broker.close();
    throw err;
  }
  const kafkaListener = (port: number, tlsFiles?: KafkaTlsOptions): KafkaListener =>
    new KafkaListener(
      broker,
      broker.vhost(DEFAULT_VHOST) as Vhost,
      {
        port,
        host: bind,
        autoCreateTopics: opts.kafkaAutoCreateTopics ?? true,
        saslMechanisms,
        ...(tlsFiles !== undefined ? { tls: tlsFiles } : {}),
        ...(opts.kafkaAdvertisedHost !== undefined ? { advertisedHost: opts.kafkaAdvertisedHost } : {}),
      },
      logger,
    );
  const kafka = kafkaListener(opts.kafkaPort ?? DEFAULTS.kafkaPort);
  const kafkaTlsListener = tls !== undefined && opts.kafkaTlsPort !== undefined ? kafkaListener(opts.kafkaTlsPort, tls) : undefined;
  let kafkaAddr;
  let kafkaTlsAddr;
  try {
    kafkaAddr = await kafka.listen();
    kafkaTlsAddr = await kafkaTlsListener?.listen();
  } catch (err) {
    resources.stop();
    await amqp.close();
    await kafka.close();
    await broker.close();
    throw err;
  }
  let http;
  try {
    http = await startHttpServer({
      port: opts.httpPort ?? DEFAULTS.httpPort,
      host: bind,
      health: () => ({ ...broker.stats(), connections: amqp.connectionCount, ...report() }),
      management: {
        broker,
        resources,
        listeners: () => [
          { protocol: 'amqp', ip: amqpAddr.host, port: amqpAddr.port },
          { protocol: 'kafka', ip: kafkaAddr.host, port: kafkaAddr.port },
          ...(kafkaTlsAddr !== undefined ? [{ protocol: 'kafka/ssl', ip: kafkaTlsAddr.host, port: kafkaTlsAddr.port }] : []),
        ],
        blockedConnections: () => amqp.blockedConnectionCount,
        ...(opts.statsIntervalMs !== undefined ? { statsIntervalMs: opts.statsIntervalMs } : {}),
        ...(opts.metricsQueueSeriesMax !== undefined ? { metricsQueueSeriesMax: opts.metricsQueueSeriesMax } : {}),
      },
    });
  } catch (err) {
    resources.stop();
    await amqp.close();
    await kafka.close();
    await kafkaTlsListener?.close();
    await broker.close();
    throw err;
  }
  const host = amqpAddr.host;
  const urlHost = host === '::' || host === '0.0.0.0' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const tracing = (opts.latencyTraceSec ?? 0) > 0;
  if (tracing) startLatencyTrace(logger, opts.latencyTraceSec);
  let closing: Promise<void> | undefined;
  return {
    amqpPort: amqpAddr.port,
    httpPort: http.port,
    host,
    kafkaPort: kafkaAddr.port,
    ...(kafkaTlsAddr !== undefined ? { kafkaTlsPort: kafkaTlsAddr.port } : {}),
    amqpUrl: `amqp://guest:guest@${urlHost}:${amqpAddr.port}`,
    kafkaBootstrap: `${urlHost}:${kafkaAddr.port}`,
    alarms: () => [...resources.alarms],
    resources: report,
    async setResourceLimits(limits) {
      await resources.setLimits(limits);
      return report();
    },
    close() {
      closing ??= (async () => {
        resources.stop();
        await amqp.close();
        await kafka.close();
        await kafkaTlsListener?.close();
        await http.close();
        await broker.close();
        if (tracing) stopLatencyTrace(logger);
        logger.info('stopped');
      })();
      return closing;
    },
  };
}

export type { LogLevel, Logger } from './util/logger.js';
export type { FsyncPolicy } from './store/index.js';
export type { DiskFreeLimit, MemoryHighWatermark, ResourceAlarm, ResourceLimits, ResourceStatus } from './broker/resource-monitor.js';
