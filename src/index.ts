// Wharf's embedding API: start a broker inside your own process (tests, tools).
//   const broker = await startBroker({ amqpPort: 0, dataDir: tmp });
//   ... amqplib.connect(broker.amqpUrl) ...
//   await broker.close();

import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { importDefinitions, importFailure } from './definitions/index.js';
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
import type { ClusterInfo } from './http/context.js';
import { WHARF_VERSION } from './http/version.js';
import type { ControlPlane } from './cluster/index.js';
import type { MetadataSync } from './cluster/meta/sync.js';
import type { StreamReplicas } from './cluster/streams/replicas.js';
import type { TxnMarkerSender } from './broker/stream/txn/markers.js';
import type { ProducerIdBlocks } from './cluster/producer-ids.js';
// Pure functions: importing them does not load the etcd client.
import { nodeId } from './cluster/streams/placement.js';
import { JoiningReplication } from './broker/stream/replication.js';
import type { TLSSocket } from 'node:tls';
import { AmqpListener, type PublishBudgetReport } from './server/amqp/listener.js';
import { ClusterLinks } from './server/amqp/cluster-links.js';
import { KafkaListener, type KafkaTlsOptions } from './server/kafka/listener.js';
import { AwsListener, DEFAULT_AWS_ACCOUNT, DEFAULT_AWS_CREDENTIALS, DEFAULT_AWS_REGION, type AwsCredential } from './server/aws/listener.js';
import { isSaslMechanism, SASL_MECHANISMS, type SaslMechanismName } from './server/kafka/sasl/mechanism.js';
import { kafkaSubscriptions } from './server/kafka/handlers/groups.js';
import { DEFAULT_VHOST } from './broker/broker.js';
import type { Vhost } from './broker/vhost.js';
import type { FsyncPolicy } from './store/index.js';
import { startLatencyTrace, stopLatencyTrace } from './util/latency-trace.js';
import { createLogger, type LogFormat, type LogLevel, type Logger } from './util/logger.js';
import {
  TLS_HANDSHAKE_TIMEOUT_MS,
  loadContextOptions,
  peerCertificateRejected,
  readTlsMaterial,
  secureContext,
  serverOptions,
  type CertLoginFrom,
  type TlsSettings,
} from './util/tls.js';

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
  /** A second Kafka listener, with TLS (SSL, or SASL_SSL with mechanisms), on `tls`'s certificate; needs `tls`. */
  kafkaTlsPort?: number;
  /** The AWS APIs' port (SQS; `wharf serve` defaults to 4566, as LocalStack; absent here: no listener). */
  awsPort?: number;
  /** Access keys for the AWS APIs, each on a vhost (default: test/test on `/`, loopback only). */
  awsCredentials?: readonly AwsCredential[];
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
  /** Log lines as text (default) or JSON objects; ignored when `logger` is given. */
  logFormat?: LogFormat;
  users?: { name: string; password: string }[];
  /** A definitions file (RabbitMQ's JSON format) applied at start, before any listener opens (RabbitMQ's load_definitions). */
  definitions?: string;
  logger?: Logger;
  /** AMQP limits offered in connection.tune (RabbitMQ's defaults). */
  channelMax?: number;
  frameMax?: number;
  heartbeatSec?: number;
  /** Largest message body accepted on AMQP and HTTP publish (RabbitMQ's max_message_size; default 128 MiB). */
  maxMessageSize?: number;
  /** Publish data per AMQP connection not yet durable or confirmed before the connection stops being read (default 64 MiB). */
  maxUnconfirmedBytes?: number;
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
  /** Certificate, key, CA and peer verification for AMQPS and HTTPS; without it neither listener exists. */
  tls?: TlsSettings;
  /** AMQPS port (default 5671 when `tls` is set; 0 picks a free port). */
  amqpsPort?: number;
  /** HTTPS port for the same HTTP API (only when set, and `tls` too; 0 picks a free port). */
  httpsPort?: number;
  /** Where EXTERNAL takes the user name from in a client certificate (default common_name). */
  certLoginFrom?: CertLoginFrom;
  /** RabbitMQ's ssl_handshake_timeout (default 5000 ms): a TLS handshake not done by then is dropped. */
  tlsHandshakeTimeoutMs?: number;
  /** RabbitMQ's handshake_timeout (default 10000 ms): an AMQP handshake not done by then is dropped. */
  amqpHandshakeTimeoutMs?: number;
  /** Join a cluster through etcd (docs/cluster.md); absent: a single node, and etcd is never touched. */
  cluster?: ClusterOptions;
}

export interface ClusterOptions {
  /** etcd client URLs. */
  readonly endpoints: readonly string[];
  /** This node's name, unique in the cluster. */
  readonly nodeName: string;
  /** The cluster's name: its prefix in etcd (default wharf). */
  readonly clusterName?: string;
  /** The host other nodes and clients reach this node at (default: the bind address; the host name when binding to all). */
  readonly advertiseHost?: string;
  /** The node lease's TTL in seconds (default 10). */
  readonly leaseTtlSec?: number;
  /** How long to wait for etcd at start (default 5000 ms). */
  readonly connectTimeoutMs?: number;
}

export interface ResourceReport extends ResourceStatus {
  /** Connections that published during an alarm and are not being read until it clears. */
  readonly blockedConnections: number;
}

export interface BrokerHandle {
  readonly amqpPort: number;
  readonly httpPort: number;
  readonly kafkaPort: number;
  /** undefined without TLS. */
  readonly amqpsPort: number | undefined;
  /** undefined unless httpsPort and TLS were given. */
  readonly httpsPort: number | undefined;
  /** The Kafka TLS listener's port, when kafkaTlsPort was given. */
  readonly kafkaTlsPort?: number;
  /** The AWS APIs' port, when awsPort was given. */
  readonly awsPort?: number;
  /** SQS ReceiveMessage calls waiting for messages now (long polls), across vhosts. */
  sqsWaiting(): number;
  readonly host: string;
  readonly amqpUrl: string;
  /** amqps://guest:guest@HOST:PORT, undefined without TLS. */
  readonly amqpsUrl: string | undefined;
  /** host:port for Kafka clients' bootstrap servers. */
  readonly kafkaBootstrap: string;
  /** Resource alarms in effect: while any is, publishing connections are blocked. */
  alarms(): ResourceAlarm[];
  /** The alarms and the numbers behind them. */
  resources(): ResourceReport;
  /** AMQP connections' publish budgets (--max-unconfirmed-bytes, docs/limits.md). */
  publishBudgets(): PublishBudgetReport;
  /**
   * For tests and tools: hold every store sync (so every confirm of a persistent message)
   * until the returned function is called.
   */
  holdDurability(): () => void;
  /** Changes the memory watermark and/or free-disk limit; resolves once alarms reflect them. */
  setResourceLimits(limits: Partial<ResourceLimits>): Promise<ResourceReport>;
  /**
   * Re-reads the TLS certificate, key and CA files (SIGHUP) for new connections;
   * open ones are not touched. A file that is missing or does not parse, or a key
   * that does not match, is logged and the old material stays: resolves false.
   */
  reloadTls(): Promise<boolean>;
  /** The cluster's control plane, when started with `cluster`. */
  readonly cluster: ControlPlane | undefined;
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
  amqpsPort: 5671,
  maxMessageSize: 128 * 1024 * 1024,
  maxUnconfirmedBytes: 64 * 1024 * 1024,
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

export async function startBroker(opts: BrokerOptions = {}): Promise<BrokerHandle> {
  const logger = opts.logger ?? createLogger(opts.logLevel ?? 'info', undefined, opts.logFormat ?? 'text');
  const saslMechanisms = kafkaSaslMechanisms(opts.kafkaSaslMechanisms);
  if (opts.kafkaTlsPort !== undefined && !opts.tls) throw new Error('kafkaTlsPort needs TLS (tls: a certificate and key)');
  const dataDir = opts.dataDir ?? DEFAULTS.dataDir;
  // TLS files first: a missing file or a key that does not match its certificate
  // stops the start before the data dir is opened.
  const tls = opts.tls;
  let tlsOptions;
  let tlsMaterial;
  if (tls) {
    tlsMaterial = await readTlsMaterial(tls);
    secureContext(tlsMaterial);
    tlsOptions = serverOptions(tls, tlsMaterial, opts.tlsHandshakeTimeoutMs ?? TLS_HANDSHAKE_TIMEOUT_MS);
  }
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
  // Until the cluster's stream replication is running, a cluster node leads no stream: the
  // listeners open before it joins, and must not take writes replication never sees.
  if (opts.cluster !== undefined) {
    broker.clustered = true;
    broker.replication = new JoiningReplication(nodeId(opts.cluster.nodeName));
    // Producer ids come from the cluster's counter once joined; none is handed out before.
    broker.useProducerIdBlocks(() => Promise.reject(new Error('this node is joining the cluster')));
  }
  if (opts.definitions !== undefined) {
    try {
      await loadDefinitionsFile(broker, opts.definitions);
    } catch (err) {
      await broker.close();
      throw err;
    }
  }
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
  // Undone in reverse if a later listener fails to start.
  const started: (() => Promise<void> | void)[] = [() => broker.close(), () => resources.stop()];
  const unwind = async (): Promise<void> => {
    for (const stop of started.reverse()) await stop();
  };
  const limits = {
    channelMax: opts.channelMax ?? DEFAULTS.channelMax,
    frameMax: opts.frameMax ?? DEFAULTS.frameMax,
    heartbeatSec: opts.heartbeatSec ?? DEFAULTS.heartbeatSec,
    maxMessageBytes: opts.maxMessageSize ?? DEFAULTS.maxMessageSize,
    maxUnconfirmedBytes: opts.maxUnconfirmedBytes ?? DEFAULTS.maxUnconfirmedBytes,
    ...(opts.amqpHandshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: opts.amqpHandshakeTimeoutMs } : {}),
    ...(opts.certLoginFrom !== undefined ? { certLoginFrom: opts.certLoginFrom } : {}),
  };
  const amqp = new AmqpListener(broker, { port: opts.amqpPort ?? DEFAULTS.amqpPort, host: bind, ...limits }, logger, resources);
  let amqpAddr;
  try {
    amqpAddr = await amqp.listen();
    started.push(() => amqp.close());
  } catch (err) {
    await unwind();
    throw err;
  }
  let amqps: AmqpListener | undefined;
  let amqpsAddr: { host: string; port: number } | undefined;
  if (tls && tlsOptions) {
    try {
      amqps = new AmqpListener(
        broker,
        { port: opts.amqpsPort ?? DEFAULTS.amqpsPort, host: bind, ...limits, tls: { options: tlsOptions, settings: tls } },
        logger,
        resources,
      );
      amqpsAddr = await amqps.listen();
      const listener = amqps;
      started.push(() => listener.close());
    } catch (err) {
      await unwind();
      throw err;
    }
  }
  const amqpListeners = amqps ? [amqp, amqps] : [amqp];
  const connectionCount = (): number => amqpListeners.reduce((n, l) => n + l.connectionCount, 0);
  const blockedConnections = (): number => amqpListeners.reduce((n, l) => n + l.blockedConnectionCount, 0);
  const report = (): ResourceReport => ({ ...resources.status(), blockedConnections: blockedConnections() });
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
  // The Kafka TLS listener serves the same certificate as AMQPS (SSL, or SASL_SSL with mechanisms).
  const kafkaTlsListener = tlsMaterial !== undefined && opts.kafkaTlsPort !== undefined ? kafkaListener(opts.kafkaTlsPort, tlsMaterial) : undefined;
  let kafkaAddr: { host: string; port: number };
  let kafkaTlsAddr: { host: string; port: number } | undefined;
  try {
    kafkaAddr = await kafka.listen();
    started.push(() => kafka.close());
    kafkaTlsAddr = await kafkaTlsListener?.listen();
    if (kafkaTlsListener) started.push(() => kafkaTlsListener.close());
  } catch (err) {
    await unwind();
    throw err;
  }
  let awsAddr: { host: string; port: number } | undefined;
  let aws: AwsListener | undefined;
  if (opts.awsPort !== undefined) {
    const listener = new AwsListener(
      broker,
      { port: opts.awsPort, host: bind, region: DEFAULT_AWS_REGION, account: DEFAULT_AWS_ACCOUNT, credentials: opts.awsCredentials ?? DEFAULT_AWS_CREDENTIALS, dataDir },
      logger,
    );
    aws = listener;
    try {
      awsAddr = await listener.listen();
      started.push(() => listener.close());
    } catch (err) {
      await unwind();
      throw err;
    }
  }
  let plane: ControlPlane | undefined;
  let replicas: StreamReplicas | undefined;
  let metadata: MetadataSync | undefined;
  let producerIds: ProducerIdBlocks | undefined;
  const clusterInfo = (): ClusterInfo | undefined => {
    const cp = plane;
    if (cp === undefined) return undefined;
    return {
      clusterName: cp.clusterName,
      nodes: () => cp.nodes(),
      forget: (node) => cp.forget(node),
      rebalance: (timeoutMs) => {
        if (replicas === undefined) return Promise.reject(new Error('this node has not joined the cluster yet'));
        return replicas.rebalance(timeoutMs);
      },
    };
  };
  let http;
  try {
    http = await startHttpServer({
      port: opts.httpPort ?? DEFAULTS.httpPort,
      host: bind,
      ...(tls && tlsOptions && opts.httpsPort !== undefined
        ? { https: { port: opts.httpsPort, options: tlsOptions, refuse: (s: TLSSocket) => peerCertificateRejected(s, tls) } }
        : {}),
      health: () => ({ ...broker.stats(), connections: connectionCount(), ...report() }),
      management: {
        broker,
        resources,
        listeners: () => [
          { protocol: 'amqp', ip: amqpAddr.host, port: amqpAddr.port },
          ...(amqpsAddr ? [{ protocol: 'amqp/ssl', ip: amqpsAddr.host, port: amqpsAddr.port }] : []),
          { protocol: 'kafka', ip: kafkaAddr.host, port: kafkaAddr.port },
          ...(kafkaTlsAddr !== undefined ? [{ protocol: 'kafka/ssl', ip: kafkaTlsAddr.host, port: kafkaTlsAddr.port }] : []),
          ...(awsAddr !== undefined ? [{ protocol: 'aws', ip: awsAddr.host, port: awsAddr.port }] : []),
        ],
        blockedConnections,
        maxMessageBytes: opts.maxMessageSize ?? DEFAULTS.maxMessageSize,
        ...(opts.cluster !== undefined ? { nodeName: opts.cluster.nodeName, cluster: clusterInfo } : {}),
        ...(opts.statsIntervalMs !== undefined ? { statsIntervalMs: opts.statsIntervalMs } : {}),
        ...(opts.metricsQueueSeriesMax !== undefined ? { metricsQueueSeriesMax: opts.metricsQueueSeriesMax } : {}),
      },
    });
  } catch (err) {
    await unwind();
    throw err;
  }
  const host = amqpAddr.host;
  const urlHost = host === '::' || host === '0.0.0.0' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  if (opts.cluster !== undefined) {
    const httpPort = http.port;
    started.push(() => http.close());
    try {
      plane = await joinCluster(opts.cluster, bind, dataDir, logger, {
        amqp: amqpAddr.port,
        ...(amqpsAddr !== undefined ? { amqps: amqpsAddr.port } : {}),
        kafka: kafkaAddr.port,
        http: httpPort,
        ...(awsAddr !== undefined ? { aws: awsAddr.port } : {}),
      });
      metadata = await replicateMetadata(opts.cluster, plane, broker, opts.users ?? [], logger);
      const view = plane;
      const links = new ClusterLinks({
        address: (node) => view.nodes().find((n) => n.name === node && n.up)?.addresses.amqp,
        secret: () => broker.access.clusterSecret,
        logger,
      });
      broker.remote = links;
      started.push(() => links.close());
      replicas = await replicateStreams(opts.cluster, plane, broker, logger);
      broker.replication = replicas;
      broker.txnMarkerSender = await txnMarkerSender(replicas, broker, started);
      broker.startQuorumQueues();
      producerIds = await producerIdBlocks(opts.cluster, plane);
      const blocks = producerIds;
      broker.useProducerIdBlocks(() => blocks.take());
    } catch (err) {
      await unwind();
      throw err;
    }
  }
  const tracing = (opts.latencyTraceSec ?? 0) > 0;
  if (tracing) startLatencyTrace(logger, opts.latencyTraceSec);
  const httpHandle = http;
  let closing: Promise<void> | undefined;
  // holdDurability(): one extra "store" that every sync waits for; released by the returned function.
  let gate: Promise<void> | undefined;
  let gated = false;
  const holdDurability = (): (() => void) => {
    let open!: () => void;
    gate = new Promise<void>((resolve) => (open = resolve));
    if (!gated) {
      gated = true;
      broker.store.syncWith({ sync: () => gate ?? Promise.resolve() });
    }
    return () => {
      gate = undefined;
      open();
    };
  };
  return {
    amqpPort: amqpAddr.port,
    httpPort: http.port,
    amqpsPort: amqpsAddr?.port,
    httpsPort: http.httpsPort,
    host,
    kafkaPort: kafkaAddr.port,
    ...(kafkaTlsAddr !== undefined ? { kafkaTlsPort: kafkaTlsAddr.port } : {}),
    ...(awsAddr !== undefined ? { awsPort: awsAddr.port } : {}),
    sqsWaiting: () => aws?.waiting ?? 0,
    amqpUrl: `amqp://guest:guest@${urlHost}:${amqpAddr.port}`,
    amqpsUrl: amqpsAddr ? `amqps://guest:guest@${urlHost}:${amqpsAddr.port}` : undefined,
    kafkaBootstrap: `${urlHost}:${kafkaAddr.port}`,
    alarms: () => [...resources.alarms],
    resources: report,
    publishBudgets: () => amqp.publishBudgets(),
    holdDurability: () => holdDurability(),
    async setResourceLimits(limits) {
      await resources.setLimits(limits);
      return report();
    },
    async reloadTls() {
      if (!tls || !amqps) return false;
      try {
        const options = await loadContextOptions(tls);
        amqps.setSecureContext(options);
        httpHandle.setSecureContext(options);
        kafkaTlsListener?.setSecureContext(options);
        logger.info('TLS certificate reloaded', { cert: tls.certFile });
        return true;
      } catch (err) {
        logger.error('TLS certificate reload failed; still serving the previous certificate', {
          error: err instanceof Error ? err.message : String(err),
        });
        return false;
      }
    },
    get cluster() {
      return plane;
    },
    close() {
      closing ??= (async () => {
        // Leave the cluster first: the leaderships move at once instead of after a lease TTL.
        broker.replication = undefined;
        await replicas?.close();
        producerIds?.close();
        await metadata?.close();
        await plane?.close();
        resources.stop();
        await amqp.close();
        await amqps?.close();
        await kafka.close();
        await kafkaTlsListener?.close();
        await aws?.close();
        await httpHandle.close();
        await broker.close();
        if (tracing) stopLatencyTrace(logger);
        logger.info('stopped');
      })();
      return closing;
    },
  };
}

export type { LogFormat, LogLevel, Logger } from './util/logger.js';
export type { PublishBudgetReport } from './server/amqp/listener.js';
export type { FsyncPolicy } from './store/index.js';
export type { DiskFreeLimit, MemoryHighWatermark, ResourceAlarm, ResourceLimits, ResourceStatus } from './broker/resource-monitor.js';

/**
 * Joins the cluster (loaded only then: a single node never loads the etcd client).
 * Every listener is up by now, so the addresses published are ones that answer.
 */
async function joinCluster(
  cluster: ClusterOptions,
  bind: string,
  dataDir: string,
  logger: Logger,
  ports: Readonly<Record<string, number>>,
): Promise<ControlPlane> {
  const { ControlPlane, CONTROLLER } = await import('./cluster/index.js');
  const host = cluster.advertiseHost ?? (bind === '::' || bind === '0.0.0.0' ? hostname() : bind);
  const at = host.includes(':') ? `[${host}]` : host;
  const plane = await ControlPlane.start({
    endpoints: cluster.endpoints,
    node: cluster.nodeName,
    addresses: Object.fromEntries(Object.entries(ports).map(([protocol, port]) => [protocol, `${at}:${port}`])),
    version: WHARF_VERSION,
    dataDir,
    logger,
    ...(cluster.clusterName !== undefined ? { cluster: cluster.clusterName } : {}),
    ...(cluster.leaseTtlSec !== undefined ? { leaseTtlSec: cluster.leaseTtlSec } : {}),
    ...(cluster.connectTimeoutMs !== undefined ? { connectTimeoutMs: cluster.connectTimeoutMs } : {}),
  });
  // The controller (docs/cluster.md) will place replicas; for now every node stands for it.
  plane.lead(CONTROLLER);
  return plane;
}

/** The control plane's DEFAULT_LEASE_TTL_SEC, not imported: a single node never loads src/cluster. */
const CLUSTER_LEASE_TTL_DEFAULT_SEC = 4;

/**
 * Users, vhosts, permissions, limits and policies the same on every node (docs/cluster.md,
 * "Metadata"): this node takes the cluster's records, and its changes go through etcd.
 */
async function replicateMetadata(
  cluster: ClusterOptions,
  plane: ControlPlane,
  broker: Broker,
  bootUsers: readonly { name: string; password: string }[],
  logger: Logger,
): Promise<MetadataSync> {
  const { MetadataSync } = await import('./cluster/meta/sync.js');
  broker.nodeName = cluster.nodeName;
  return MetadataSync.start({ plane, endpoints: cluster.endpoints, broker, bootUsers, logger });
}

/**
 * Stream replication over the control plane (docs/cluster.md, "Streams: the data plane"):
 * followers fetch with Kafka's follower Fetch on the leader's Kafka listener.
 */
async function replicateStreams(cluster: ClusterOptions, plane: ControlPlane, broker: Broker, logger: Logger): Promise<StreamReplicas> {
  const { StreamReplicas } = await import('./cluster/streams/replicas.js');
  const { KafkaReplicaSession } = await import('./server/kafka/replica-fetcher.js');
  return StreamReplicas.start({
    plane,
    endpoints: cluster.endpoints,
    broker,
    protocol: 'kafka',
    // Each follower logs in as the cluster's link user, in its partition's vhost.
    sessions: (vhost) => new KafkaReplicaSession(vhost, () => broker.access.clusterSecret),
    // Kafka's replica.lag.time.max.ms, tied to the lease TTL: a follower as late as a dead node's lease leaves the ISR.
    lagMs: (cluster.leaseTtlSec ?? CLUSTER_LEASE_TTL_DEFAULT_SEC) * 1000,
    logger,
  });
}

/** Transaction markers to partitions other nodes lead: Kafka's WriteTxnMarkers on their Kafka listeners (docs/cluster.md, "Transactions"). */
async function txnMarkerSender(replicas: StreamReplicas, broker: Broker, started: (() => Promise<void> | void)[]): Promise<TxnMarkerSender> {
  const { KafkaTxnMarkerSender } = await import('./server/kafka/txn-marker-sender.js');
  const sender = new KafkaTxnMarkerSender({
    address: (nodeId) => replicas.nodes().find((n) => n.id === nodeId),
    secret: () => broker.access.clusterSecret,
  });
  started.push(() => sender.close());
  return (vhost, nodeId, topic, partition, marker) => sender.send(vhost, nodeId, topic, partition, marker);
}

/** Blocks of producer ids from the cluster's etcd counter, unique across nodes (KIP-730's job for Kafka's controller). */
async function producerIdBlocks(cluster: ClusterOptions, plane: ControlPlane): Promise<ProducerIdBlocks> {
  const { ProducerIdBlocks } = await import('./cluster/producer-ids.js');
  return new ProducerIdBlocks(cluster.endpoints, plane.keys.root);
}

/** Applies a definitions file at start; a file that is missing, not JSON or refused stops the start. */
async function loadDefinitionsFile(broker: Broker, path: string): Promise<void> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`definitions file '${path}': ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  try {
    await importDefinitions(broker, doc, { source: `definitions file '${path}'` });
  } catch (err) {
    const failure = importFailure(err);
    throw failure === undefined ? err : new Error(`definitions file '${path}' refused: ${failure}`, { cause: err });
  }
}
