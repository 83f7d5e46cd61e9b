// Metadata, DescribeCluster, FindCoordinator: what this one-node cluster looks like. Every
// partition's leader is this node, with leader epoch 0 and itself as the only replica.

import { StreamError } from '../../../broker/stream/errors.js';
import type { Stream } from '../../../broker/stream/stream.js';
import { topicNameProblem } from '../../../broker/stream/stream.js';
import { ErrorCode, ZERO_UUID, type Input, type MetadataResponse, type MetadataResponseMetadataResponseTopic } from '../../../protocol/kafka/index.js';
import { AUTHORIZED_OPERATIONS_OMITTED, NODE_ID, streamById, type Handler, type KafkaContext } from '../context.js';
import { failureOf } from '../errors.js';

type TopicOut = Input<MetadataResponseMetadataResponseTopic>;

export function brokerList(ctx: KafkaContext): { nodeId: number; host: string; port: number; rack: null }[] {
  return [{ nodeId: NODE_ID, host: ctx.config.advertisedHost, port: ctx.config.port, rack: null }];
}

export function describeTopic(s: Stream): TopicOut {
  return {
    errorCode: ErrorCode.NONE,
    name: s.name,
    topicId: s.topicId,
    isInternal: false,
    partitions: s.partitions.map((_, i) => ({
      errorCode: ErrorCode.NONE,
      partitionIndex: i,
      leaderId: NODE_ID,
      leaderEpoch: 0,
      replicaNodes: [NODE_ID],
      isrNodes: [NODE_ID],
      offlineReplicas: [],
    })),
    topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  };
}

function topicError(name: string | null, topicId: string, errorCode: number): TopicOut {
  return { errorCode, name, topicId, isInternal: false, partitions: [], topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED };
}

/** Creates a topic a client asked about, where auto-creation is allowed; its error code otherwise. */
export async function autoCreate(ctx: KafkaContext, name: string): Promise<Stream | number> {
  try {
    const s = await ctx.vhost.streams.create(name, { partitions: ctx.config.defaultPartitions, kafkaName: true });
    return s as Stream;
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
    for (const s of ctx.vhost.streams.list()) if (topicNameProblem(s.name) === undefined) topics.push(describeTopic(s));
  } else {
    const allowAuto = ctx.config.autoCreateTopics && (v < 4 || req.allowAutoTopicCreation);
    for (const t of req.topics ?? []) {
      if (t.name === null) {
        const s = t.topicId !== ZERO_UUID ? streamById(ctx.vhost, t.topicId) : undefined;
        topics.push(s ? describeTopic(s) : topicError(null, t.topicId, ErrorCode.UNKNOWN_TOPIC_ID));
        continue;
      }
      const existing = ctx.vhost.streams.get(t.name);
      if (existing) {
        topics.push(describeTopic(existing));
      } else if (topicNameProblem(t.name) !== undefined) {
        topics.push(topicError(t.name, ZERO_UUID, ErrorCode.INVALID_TOPIC_EXCEPTION));
      } else if (allowAuto) {
        const made = await autoCreate(ctx, t.name);
        topics.push(typeof made === 'number' ? topicError(t.name, ZERO_UUID, made) : describeTopic(made));
      } else {
        topics.push(topicError(t.name, ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
      }
    }
  }
  const res: Input<MetadataResponse> = {
    throttleTimeMs: 0,
    brokers: brokerList(ctx),
    clusterId: ctx.broker.clusterId,
    controllerId: NODE_ID,
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
  controllerId: NODE_ID,
  brokers: brokerList(ctx).map((b) => ({ brokerId: b.nodeId, host: b.host, port: b.port, rack: null })),
  clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
});

/** Group and transaction coordinators are this node. */
export const findCoordinator: Handler<10> = (ctx, req, v) => {
  const node = { nodeId: NODE_ID, host: ctx.config.advertisedHost, port: ctx.config.port };
  if (v < 4) return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, ...node };
  return {
    throttleTimeMs: 0,
    coordinators: req.coordinatorKeys.map((key) => ({ key, ...node, errorCode: ErrorCode.NONE, errorMessage: null })),
  };
};
