// A small Kafka client over one or more brokers: it bootstraps from a list of addresses,
// learns the cluster from Metadata (brokers, topics, partition leaders), opens one connection
// per broker it talks to, and offers the requests `wharf perf-kafka`, the benchmarks and the
// tests need: Metadata, CreateTopics, DeleteTopics, ListOffsets, Produce (any acks) and Fetch.
// Produce and Fetch take the leader's connection, so a caller can keep several requests in
// flight on it (pipelining) and batch as it likes.

import { ErrorCode, type FetchResponsePartitionData, type ProduceResponsePartitionProduceResponse } from '../../protocol/kafka/index.js';
import { KafkaConnection, type KafkaConnectOptions } from './connection.js';
import { KafkaClientError, brokerError } from './errors.js';

export interface BrokerAddress {
  readonly host: string;
  readonly port: number;
}

export interface PartitionInfo {
  readonly partition: number;
  readonly leader: number;
  readonly errorCode: number;
}

export interface TopicInfo {
  readonly name: string;
  readonly topicId: string;
  readonly errorCode: number;
  readonly partitions: readonly PartitionInfo[];
}

export interface ClusterInfo {
  readonly clusterId: string | null;
  readonly brokers: ReadonlyMap<number, BrokerAddress>;
  readonly topics: ReadonlyMap<string, TopicInfo>;
}

export interface ProduceSpec {
  readonly topic: string;
  /** Record batches per partition: one buffer, or several sent back to back in one records field. */
  readonly partitions: readonly { readonly partition: number; readonly records: Buffer | readonly Buffer[] }[];
  /** 0 (no response), 1 (leader appended) or -1 (all in-sync replicas; on Wharf: fsync'd). */
  readonly acks: number;
  readonly timeoutMs?: number;
}

export interface ProduceResult {
  readonly partition: number;
  readonly errorCode: number;
  readonly baseOffset: number;
  readonly errorMessage: string | null;
}

export interface FetchSpec {
  readonly topic: string;
  readonly partitions: readonly { readonly partition: number; readonly offset: number; readonly maxBytes: number }[];
  readonly maxWaitMs: number;
  readonly minBytes: number;
  readonly maxBytes: number;
}

export interface FetchedPartition {
  readonly partition: number;
  readonly errorCode: number;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  /** Whole record batches (the last one may be cut short by the size limit), or null. */
  readonly records: Buffer | null;
}

/** ListOffsets' special timestamps. */
export const LATEST_OFFSET = -1;
export const EARLIEST_OFFSET = -2;

const PRODUCE = 0;
const FETCH = 1;
const LIST_OFFSETS = 2;
const METADATA = 3;
const CREATE_TOPICS = 19;
const DELETE_TOPICS = 20;
/** Fetch v13+ names topics by id; the client stays with names. */
const FETCH_BY_NAME_MAX = 12;
/** DeleteTopics v6 changes the request's shape to topic states; names are enough. */
const DELETE_TOPICS_MAX = 5;
const ADMIN_TIMEOUT_MS = 30_000;

/**
 * "host:port,host:port" (IPv6 as "[::1]:9092") -> addresses. Throws a KafkaClientError for an
 * empty list or an address without a valid port.
 */
export function parseBootstrap(list: string): BrokerAddress[] {
  const out: BrokerAddress[] = [];
  for (const raw of list.split(',')) {
    const s = raw.trim();
    if (s === '') continue;
    const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:[\]]+):(\d+)$/.exec(s);
    const port = m ? Number(m[2]) : NaN;
    if (!m || !Number.isInteger(port) || port < 1 || port > 65535) throw new KafkaClientError(`'${s}' is not host:port`);
    out.push({ host: m[1], port });
  }
  if (out.length === 0) throw new KafkaClientError('no broker address given');
  return out;
}

export class KafkaClient {
  private readonly nodes = new Map<number, Promise<KafkaConnection>>();
  private brokers = new Map<number, BrokerAddress>();
  private readonly topics = new Map<string, TopicInfo>();
  private closed = false;

  private constructor(
    private readonly bootstrap: KafkaConnection,
    private readonly options: KafkaConnectOptions,
  ) {}

  /** Connects to the first reachable bootstrap address. */
  static async connect(bootstrap: string | readonly BrokerAddress[], options: KafkaConnectOptions = {}): Promise<KafkaClient> {
    const addresses = typeof bootstrap === 'string' ? parseBootstrap(bootstrap) : bootstrap;
    let last: unknown;
    for (const a of addresses) {
      try {
        return new KafkaClient(await KafkaConnection.open(a.host, a.port, options), options);
      } catch (err) {
        last = err;
      }
    }
    throw last instanceof KafkaClientError ? last : new KafkaClientError(String(last));
  }

  /** The connection to the bootstrap broker (any broker answers Metadata and admin requests). */
  get any(): KafkaConnection {
    return this.bootstrap;
  }

  /** Topics and partition leaders; null asks for every topic. Updates the client's view. */
  async metadata(topics: readonly string[] | null, allowAutoTopicCreation = false): Promise<ClusterInfo> {
    const c = this.bootstrap;
    const v = c.version(METADATA);
    const res = await c.request(METADATA, v, {
      topics: topics === null ? null : topics.map((name) => ({ name })),
      allowAutoTopicCreation,
    });
    this.brokers = new Map(res.brokers.map((b) => [b.nodeId, { host: b.host, port: b.port }]));
    const out = new Map<string, TopicInfo>();
    for (const t of res.topics) {
      if (t.name === null) continue;
      const info: TopicInfo = {
        name: t.name,
        topicId: t.topicId,
        errorCode: t.errorCode,
        partitions: t.partitions
          .map((p) => ({ partition: p.partitionIndex, leader: p.leaderId, errorCode: p.errorCode }))
          .sort((a, b) => a.partition - b.partition),
      };
      out.set(t.name, info);
      if (t.errorCode === ErrorCode.NONE) this.topics.set(t.name, info);
    }
    return { clusterId: res.clusterId, brokers: this.brokers, topics: out };
  }

  /** A topic's metadata, fetched if the client has none; throws the broker's error for a missing topic. */
  async topic(name: string): Promise<TopicInfo> {
    const known = this.topics.get(name);
    if (known) return known;
    const t = (await this.metadata([name])).topics.get(name);
    if (!t) throw new KafkaClientError(`topic '${name}': not in the broker's metadata`);
    if (t.errorCode !== ErrorCode.NONE) throw brokerError(`topic '${name}'`, t.errorCode);
    return t;
  }

  /** The connection to a broker by node id, opened on first use (the bootstrap one if it is that broker). */
  connectionTo(nodeId: number): Promise<KafkaConnection> {
    if (this.closed) return Promise.reject(new KafkaClientError('client is closed'));
    const open = this.nodes.get(nodeId);
    if (open) return open;
    const addr = this.brokers.get(nodeId);
    if (!addr) return Promise.reject(new KafkaClientError(`broker ${nodeId} is not in the metadata`));
    const b = this.bootstrap;
    const same = addr.port === b.port && addr.host === b.host;
    const p = same ? Promise.resolve(b) : KafkaConnection.open(addr.host, addr.port, this.options);
    this.nodes.set(nodeId, p);
    p.catch(() => this.nodes.delete(nodeId));
    return p;
  }

  /** The connection to the leader of a partition. */
  async leader(topic: string, partition: number): Promise<KafkaConnection> {
    const t = await this.topic(topic);
    const p = t.partitions.find((x) => x.partition === partition);
    if (!p) throw new KafkaClientError(`topic '${topic}' has no partition ${partition}`);
    if (p.leader < 0) throw new KafkaClientError(`partition ${topic}-${partition} has no leader`);
    return this.connectionTo(p.leader);
  }

  /** Creates a topic; resolves false if it already exists. */
  async createTopic(name: string, partitions: number, configs: Readonly<Record<string, string>> = {}): Promise<boolean> {
    const c = this.bootstrap;
    const res = await c.request(CREATE_TOPICS, c.version(CREATE_TOPICS), {
      topics: [{
        name,
        numPartitions: partitions,
        replicationFactor: -1,
        assignments: [],
        configs: Object.entries(configs).map(([k, value]) => ({ name: k, value })),
      }],
      timeoutMs: ADMIN_TIMEOUT_MS,
      validateOnly: false,
    });
    const r = res.topics.find((t) => t.name === name);
    if (!r) throw new KafkaClientError(`create topic '${name}': no result in the response`);
    if (r.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS) return false;
    if (r.errorCode !== ErrorCode.NONE) throw brokerError(`create topic '${name}'`, r.errorCode, r.errorMessage);
    this.topics.delete(name);
    return true;
  }

  /** Deletes a topic; resolves false if there was none. */
  async deleteTopic(name: string): Promise<boolean> {
    const c = this.bootstrap;
    const res = await c.request(DELETE_TOPICS, c.version(DELETE_TOPICS, DELETE_TOPICS_MAX), { topicNames: [name], timeoutMs: ADMIN_TIMEOUT_MS });
    this.topics.delete(name);
    const r = res.responses[0];
    if (r === undefined) throw new KafkaClientError(`delete topic '${name}': no result in the response`);
    if (r.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) return false;
    if (r.errorCode !== ErrorCode.NONE) throw brokerError(`delete topic '${name}'`, r.errorCode, r.errorMessage);
    return true;
  }

  /** Each partition's earliest (EARLIEST_OFFSET) or next (LATEST_OFFSET) offset, asked of its leader. */
  async listOffsets(topic: string, partitions: readonly number[], timestamp: number): Promise<Map<number, number>> {
    const byLeader = new Map<KafkaConnection, number[]>();
    for (const p of partitions) {
      const c = await this.leader(topic, p);
      byLeader.set(c, [...(byLeader.get(c) ?? []), p]);
    }
    const out = new Map<number, number>();
    for (const [c, ps] of byLeader) {
      const res = await c.request(LIST_OFFSETS, c.version(LIST_OFFSETS), {
        replicaId: -1,
        isolationLevel: 0,
        topics: [{ name: topic, partitions: ps.map((partitionIndex) => ({ partitionIndex, currentLeaderEpoch: -1, timestamp: BigInt(timestamp), maxNumOffsets: 1 })) }],
        timeoutMs: ADMIN_TIMEOUT_MS,
      });
      for (const t of res.topics) {
        for (const p of t.partitions) {
          if (p.errorCode !== ErrorCode.NONE) throw brokerError(`list offsets of ${topic}-${p.partitionIndex}`, p.errorCode);
          out.set(p.partitionIndex, Number(p.offset >= 0n ? p.offset : (p.oldStyleOffsets[0] ?? -1n)));
        }
      }
    }
    return out;
  }

  /**
   * Produces to partitions that `conn` leads, as one request. With acks=0 nothing comes back
   * (undefined); otherwise the per-partition results, errors included (not thrown).
   */
  static produce(conn: KafkaConnection, spec: ProduceSpec): Promise<ProduceResult[]> | undefined {
    const body = {
      transactionalId: null,
      acks: spec.acks,
      timeoutMs: spec.timeoutMs ?? ADMIN_TIMEOUT_MS,
      // The codec's writer takes a list of buffers for a records field and sends them without a copy.
      topicData: [{ name: spec.topic, partitionData: spec.partitions.map((p) => ({ index: p.partition, records: p.records as Buffer })) }],
    };
    const v = conn.version(PRODUCE);
    if (spec.acks === 0) {
      conn.sendOnly(PRODUCE, v, body);
      return undefined;
    }
    return conn.request(PRODUCE, v, body).then((res) => {
      const out: ProduceResult[] = [];
      for (const t of res.responses) for (const p of t.partitionResponses) out.push(produceResult(p));
      return out;
    });
  }

  /** One Fetch of partitions that `conn` leads. */
  static async fetch(conn: KafkaConnection, spec: FetchSpec): Promise<FetchedPartition[]> {
    const res = await conn.request(FETCH, conn.version(FETCH, FETCH_BY_NAME_MAX), {
      replicaId: -1,
      maxWaitMs: spec.maxWaitMs,
      minBytes: spec.minBytes,
      maxBytes: spec.maxBytes,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{
        topic: spec.topic,
        partitions: spec.partitions.map((p) => ({ partition: p.partition, currentLeaderEpoch: -1, fetchOffset: BigInt(p.offset), logStartOffset: -1n, partitionMaxBytes: p.maxBytes })),
      }],
      forgottenTopicsData: [],
      rackId: '',
    });
    if (res.errorCode !== ErrorCode.NONE) throw brokerError(`fetch from ${conn.where}`, res.errorCode);
    const out: FetchedPartition[] = [];
    for (const t of res.responses) for (const p of t.partitions) out.push(fetchedPartition(p));
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const conns = new Set<KafkaConnection>([this.bootstrap]);
    for (const p of this.nodes.values()) {
      const c = await p.catch(() => undefined);
      if (c) conns.add(c);
    }
    await Promise.all([...conns].map((c) => c.close()));
  }

  /** Drops every connection at once. */
  destroy(): void {
    this.closed = true;
    this.bootstrap.destroy();
    for (const p of this.nodes.values()) void p.then((c) => c.destroy(), () => undefined);
  }
}

function produceResult(p: ProduceResponsePartitionProduceResponse): ProduceResult {
  return { partition: p.index, errorCode: p.errorCode, baseOffset: Number(p.baseOffset), errorMessage: p.errorMessage };
}

function fetchedPartition(p: FetchResponsePartitionData): FetchedPartition {
  return {
    partition: p.partitionIndex,
    errorCode: p.errorCode,
    highWatermark: Number(p.highWatermark),
    logStartOffset: Number(p.logStartOffset),
    records: p.records,
  };
}

