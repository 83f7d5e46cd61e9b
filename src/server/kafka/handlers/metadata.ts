// Metadata, DescribeCluster, FindCoordinator. On a single node every partition's leader is this
// node, with leader epoch 0 and itself as the only replica. In a cluster (docs/cluster.md) the
// brokers are the live members and a replicated partition names its leader, epoch, replicas and
// ISR; a consumer group's coordinator is the leader of its offsets partition, the transaction
// coordinator stays the node asked.

import { StreamError } from '../../../broker/stream/errors.js';
import { OFFSETS_TOPIC } from '../../../broker/stream/groups/index.js';
import { TXN_TOPIC } from '../../../broker/stream/txn/index.js';
import type { Stream } from '../../../broker/stream/stream.js';
import { topicNameProblem } from '../../../broker/stream/stream.js';
import { ErrorCode, ZERO_UUID, type Input, type MetadataResponse, type MetadataResponseMetadataResponseTopic } from '../../../protocol/kafka/index.js';
import { AUTHORIZED_OPERATIONS_OMITTED, NODE_ID, streamById, type Handler, type KafkaContext } from '../context.js';
import { failureOf } from '../errors.js';

type TopicOut = Input<MetadataResponseMetadataResponseTopic>;

/** This node's broker id: 0 on a single node, its cluster id in a cluster. */
export function selfId(ctx: KafkaContext): number {
  return ctx.broker.replication?.selfId ?? NODE_ID;
}

/** This node, or in a cluster every live member (docs/cluster.md). */
export function brokerList(ctx: KafkaContext): { nodeId: number; host: string; port: number; rack: null }[] {
  const self = { nodeId: selfId(ctx), host: ctx.config.advertisedHost, port: ctx.config.port, rack: null };
  const r = ctx.broker.replication;
  if (r === undefined) return [self];
  const others = r.nodes().filter((n) => n.id !== self.nodeId).map((n) => ({ nodeId: n.id, host: n.host, port: n.port, rack: null }));
  return [self, ...others].sort((a, b) => a.nodeId - b.nodeId);
}

export function describeTopic(ctx: KafkaContext, s: Stream): TopicOut {
  const r = ctx.broker.replication;
  const self = selfId(ctx);
  const live = r === undefined ? undefined : new Set(r.nodes().map((n) => n.id));
  return {
    errorCode: ErrorCode.NONE,
    name: s.name,
    topicId: s.topicId,
    // In a cluster the offsets topic is the group coordinators' (Kafka marks it internal).
    isInternal: r !== undefined && (s.name === OFFSETS_TOPIC || s.name === TXN_TOPIC),
    partitions: s.partitions.map((_, i) => {
      const role = r?.role(ctx.vhost.name, s.name, i);
      if (role === undefined) {
        return { errorCode: ErrorCode.NONE, partitionIndex: i, leaderId: self, leaderEpoch: 0, replicaNodes: [self], isrNodes: [self], offlineReplicas: [] };
      }
      return {
        // Kafka answers LEADER_NOT_AVAILABLE while a partition elects its leader.
        errorCode: role.leaderId === -1 ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.NONE,
        partitionIndex: i,
        leaderId: role.leaderId,
        leaderEpoch: role.epoch,
        replicaNodes: [...role.replicas],
        isrNodes: [...role.isr],
        offlineReplicas: role.replicas.filter((id) => live?.has(id) !== true),
      };
    }),
    topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  };
}

function topicError(name: string | null, topicId: string, errorCode: number): TopicOut {
  return { errorCode, name, topicId, isInternal: false, partitions: [], topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED };
}

/** Creates a topic a client asked about, where auto-creation is allowed; its error code otherwise. */
export async function autoCreate(ctx: KafkaContext, name: string): Promise<Stream | number> {
  const internal = name === OFFSETS_TOPIC ? ctx.broker.clusterGroups(ctx.vhost) : name === TXN_TOPIC ? ctx.broker.clusterTransactions(ctx.vhost) : undefined;
  if (internal !== undefined) {
    // The coordinators' topics are made with their partition count and configs, not a client's defaults.
    internal.createTopic();
    return ErrorCode.LEADER_NOT_AVAILABLE;
  }
  try {
    // In a cluster, only a node that can place the topic creates it.
    ctx.broker.replication?.checkReplicationFactor(-1);
    const s = (await ctx.vhost.streams.create(name, { partitions: ctx.config.defaultPartitions, kafkaName: true })) as Stream;
    await ctx.broker.replication?.created(ctx.vhost.name, { name, topicId: s.topicId, partitions: s.partitions.length, configs: s.configs }, -1);
    return s;
  } catch (err) {
    // A concurrent request created it first.
    if (err instanceof StreamError && err.kind === 'exists') return ctx.vhost.streams.get(name) ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    return failureOf(err).code;
  }
}

export const metadata: Handler<3> = async (ctx, req, v) => {
  const topics: TopicOut[] = [];
  // v0: an empty list means every topic; v1+: null does.
  const all = req.topics === null || (v === 0 && req.topics.length === 0);
  if (all) {
    for (const s of ctx.vhost.streams.list()) if (topicNameProblem(s.name) === undefined) topics.push(describeTopic(ctx, s));
  } else {
    const allowAuto = ctx.config.autoCreateTopics && (v < 4 || req.allowAutoTopicCreation);
    for (const t of req.topics ?? []) {
      if (t.name === null) {
        const s = t.topicId !== ZERO_UUID ? streamById(ctx.vhost, t.topicId) : undefined;
        topics.push(s ? describeTopic(ctx, s) : topicError(null, t.topicId, ErrorCode.UNKNOWN_TOPIC_ID));
        continue;
      }
      const existing = ctx.vhost.streams.get(t.name);
      if (existing) {
        topics.push(describeTopic(ctx, existing));
      } else if (topicNameProblem(t.name) !== undefined) {
        topics.push(topicError(t.name, ZERO_UUID, ErrorCode.INVALID_TOPIC_EXCEPTION));
      } else if (allowAuto) {
        const made = await autoCreate(ctx, t.name);
        topics.push(typeof made === 'number' ? topicError(t.name, ZERO_UUID, made) : describeTopic(ctx, made));
      } else {
        topics.push(topicError(t.name, ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
      }
    }
  }
  const res: Input<MetadataResponse> = {
    throttleTimeMs: 0,
    brokers: brokerList(ctx),
    clusterId: ctx.broker.clusterId,
    controllerId: selfId(ctx),
    topics,
    clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  };
  return res;
};

export const describeCluster: Handler<60> = (ctx) => ({
  throttleTimeMs: 0,
  errorCode: ErrorCode.NONE,
  errorMessage: null,
  endpointType: 1,
  clusterId: ctx.broker.clusterId,
  controllerId: selfId(ctx),
  brokers: brokerList(ctx).map((b) => ({ brokerId: b.nodeId, host: b.host, port: b.port, rack: null })),
  clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
});

/** FindCoordinator's key types (KIP-98). */
const KEY_TYPE_GROUP = 0;
const KEY_TYPE_TRANSACTION = 1;

interface CoordinatorOut {
  readonly errorCode: number;
  readonly errorMessage: string | null;
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

/**
 * A consumer group's or a transactional id's coordinator. In a cluster, the leader of the key's
 * partition of the offsets topic or the transaction state topic (docs/cluster.md, "Consumer
 * groups", "Transactions"), COORDINATOR_NOT_AVAILABLE while it has none; on a single node, the
 * node asked.
 */
function coordinatorOf(ctx: KafkaContext, keyType: number, key: string): CoordinatorOut {
  const self = { errorCode: ErrorCode.NONE, errorMessage: null, nodeId: selfId(ctx), host: ctx.config.advertisedHost, port: ctx.config.port };
  const cluster = keyType === KEY_TYPE_GROUP ? ctx.broker.clusterGroups(ctx.vhost) : keyType === KEY_TYPE_TRANSACTION ? ctx.broker.clusterTransactions(ctx.vhost) : undefined;
  if (cluster === undefined) return self;
  const unavailable = { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: 'The coordinator is not available.', nodeId: -1, host: '', port: -1 };
  const found = cluster.coordinatorId(key);
  if ('error' in found) return unavailable;
  if (found.nodeId === self.nodeId) return self;
  const node = ctx.broker.replication?.nodes().find((n) => n.id === found.nodeId);
  return node === undefined ? unavailable : { errorCode: ErrorCode.NONE, errorMessage: null, nodeId: node.id, host: node.host, port: node.port };
}

export const findCoordinator: Handler<10> = (ctx, req, v) => {
  if (v < 4) return { throttleTimeMs: 0, ...coordinatorOf(ctx, v >= 1 ? req.keyType : KEY_TYPE_GROUP, req.key) };
  return {
    throttleTimeMs: 0,
    coordinators: req.coordinatorKeys.map((key) => ({ key, ...coordinatorOf(ctx, req.keyType, key) })),
  };
};
