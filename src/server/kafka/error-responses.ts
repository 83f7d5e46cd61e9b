// Kafka's AbstractRequest.getErrorResponse for every API Wharf serves: when a handler fails in a
// way it did not map itself (a bug, a storage failure it did not expect), Kafka's
// KafkaApis.handle answers the request with the error in every topic, partition, resource or
// group it named, rather than closing the connection. The client sees UNKNOWN_SERVER_ERROR (or
// the mapped code) for exactly what it asked about, and the connection and its other requests
// carry on. An API without a builder here is answered by closing the connection.

import type { ApiKeyNumber, WriteTxnMarkersRequest } from '../../protocol/kafka/index.js';
import { markersAnswered } from './handlers/txn-markers.js';

/** The error response to a decoded request body: (request, version, error code, message). */
type Builder = (req: never, v: number, code: number, message: string | null) => unknown;

interface Named<P> {
  readonly name: string;
  readonly partitions: readonly P[];
}

/** Each topic of a request, each of its partitions answered by `part`. */
function perPartition<P>(topics: readonly Named<P>[], part: (p: P) => Record<string, unknown>): { name: string; partitions: Record<string, unknown>[] }[] {
  return topics.map((t) => ({ name: t.name, partitions: t.partitions.map(part) }));
}

interface ProduceReq {
  topicData: { name: string; partitionData: { index: number }[] }[];
}
interface FetchReq {
  topics: { topic: string; topicId: string; partitions: { partition: number }[] }[];
}
interface ListOffsetsReq {
  topics: Named<{ partitionIndex: number }>[];
}
interface MetadataReq {
  topics: { name: string | null; topicId: string }[] | null;
}
interface OffsetForLeaderEpochReq {
  topics: { topic: string; partitions: { partition: number }[] }[];
}
interface ResourcesReq {
  resources: { resourceType: number; resourceName: string }[];
}
interface OffsetCommitReq {
  topics: Named<{ partitionIndex: number }>[];
}
interface AddPartitionsToTxnReq {
  v3AndBelowTopics: { name: string; partitions: number[] }[];
}
interface OffsetFetchReq {
  groupId: string;
  topics: { name: string; partitionIndexes: number[] }[] | null;
  groups: { groupId: string }[];
}

const BUILDERS: ReadonlyMap<number, Builder> = new Map<number, Builder>([
  [0, (req: ProduceReq, _v, errorCode, errorMessage) => ({
    responses: req.topicData.map((t) => ({
      name: t.name,
      partitionResponses: t.partitionData.map((p) => ({ index: p.index, errorCode, errorMessage, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n })),
    })),
    throttleTimeMs: 0,
  })],
  [1, (req: FetchReq, _v, errorCode) => ({
    throttleTimeMs: 0,
    errorCode,
    sessionId: 0,
    responses: req.topics.map((t) => ({
      topic: t.topic,
      topicId: t.topicId,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partition, errorCode, highWatermark: -1n, lastStableOffset: -1n, logStartOffset: -1n, records: null })),
    })),
  })],
  [2, (req: ListOffsetsReq, _v, errorCode) => ({
    throttleTimeMs: 0,
    topics: perPartition(req.topics, (p) => ({ partitionIndex: p.partitionIndex, errorCode, timestamp: -1n, offset: -1n, leaderEpoch: -1 })),
  })],
  [3, (req: MetadataReq, _v, errorCode) => ({
    throttleTimeMs: 0,
    brokers: [],
    clusterId: null,
    controllerId: -1,
    topics: (req.topics ?? []).map((t) => ({ errorCode, name: t.name, topicId: t.topicId, isInternal: false, partitions: [] })),
  })],
  [8, (req: OffsetCommitReq, _v, errorCode) => ({
    throttleTimeMs: 0,
    topics: perPartition(req.topics, (p) => ({ partitionIndex: p.partitionIndex, errorCode })),
  })],
  [9, (req: OffsetFetchReq, v, errorCode) => {
    const partitions = (t: { name: string; partitionIndexes: number[] }): Record<string, unknown> => ({
      name: t.name,
      partitions: t.partitionIndexes.map((i) => ({ partitionIndex: i, committedOffset: -1n, committedLeaderEpoch: -1, metadata: null, errorCode })),
    });
    if (v >= 8) return { throttleTimeMs: 0, groups: req.groups.map((g) => ({ groupId: g.groupId, topics: [], errorCode })) };
    return { throttleTimeMs: 0, errorCode, topics: (req.topics ?? []).map(partitions) };
  }],
  [10, (req: { key: string; coordinatorKeys: string[] }, v, errorCode, errorMessage) => ({
    throttleTimeMs: 0,
    errorCode,
    errorMessage,
    nodeId: -1,
    host: '',
    port: -1,
    coordinators: v >= 4 ? req.coordinatorKeys.map((key) => ({ key, nodeId: -1, host: '', port: -1, errorCode, errorMessage })) : [],
  })],
  [11, (_req, _v, errorCode) => ({ throttleTimeMs: 0, errorCode, generationId: -1, protocolName: null, leader: '', memberId: '', members: [] })],
  [12, (_req, _v, errorCode) => ({ throttleTimeMs: 0, errorCode })],
  [13, (_req, _v, errorCode) => ({ throttleTimeMs: 0, errorCode, members: [] })],
  [14, (_req, _v, errorCode) => ({ throttleTimeMs: 0, errorCode, assignment: Buffer.alloc(0) })],
  [15, (req: { groups: string[] }, _v, errorCode) => ({
    throttleTimeMs: 0,
    groups: req.groups.map((groupId) => ({ errorCode, groupId, groupState: '', protocolType: '', protocolData: '', members: [] })),
  })],
  [16, (_req, _v, errorCode) => ({ throttleTimeMs: 0, errorCode, groups: [] })],
  [17, (_req, _v, errorCode) => ({ errorCode, mechanisms: [] })],
  [19, (req: { topics: { name: string }[] }, _v, errorCode, errorMessage) => ({
    throttleTimeMs: 0,
    topics: req.topics.map((t) => ({ name: t.name, errorCode, errorMessage, numPartitions: -1, replicationFactor: -1, configs: null })),
  })],
  [20, (req: { topics: { name: string | null; topicId: string }[]; topicNames: string[] }, v, errorCode, errorMessage) => ({
    throttleTimeMs: 0,
    responses: v >= 6 ? req.topics.map((t) => ({ name: t.name, topicId: t.topicId, errorCode, errorMessage })) : req.topicNames.map((name) => ({ name, errorCode, errorMessage })),
  })],
  [21, (req: ListOffsetsReq, _v, errorCode) => ({
    throttleTimeMs: 0,
    topics: perPartition(req.topics, (p) => ({ partitionIndex: p.partitionIndex, lowWatermark: -1n, errorCode })),
  })],
  [22, (_req, _v, errorCode) => ({ throttleTimeMs: 0, errorCode, producerId: -1n, producerEpoch: -1 })],
  [23, (req: OffsetForLeaderEpochReq, _v, errorCode) => ({
    throttleTimeMs: 0,
    topics: req.topics.map((t) => ({ topic: t.topic, partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode, leaderEpoch: -1, endOffset: -1n })) })),
  })],
  [24, (req: AddPartitionsToTxnReq, v, errorCode) => {
    // v4+ (the batched form) carries one top-level code, as Kafka's getErrorResponse does.
    if (v >= 4) return { throttleTimeMs: 0, errorCode, resultsByTransaction: [] };
    return {
      throttleTimeMs: 0,
      resultsByTopicV3AndBelow: req.v3AndBelowTopics.map((t) => ({
        name: t.name,
        resultsByPartition: t.partitions.map((partitionIndex) => ({ partitionIndex, partitionErrorCode: errorCode })),
      })),
    };
  }],
  [25, (_req, _v, errorCode) => ({ throttleTimeMs: 0, errorCode })],
  [26, (_req, _v, errorCode) => ({ throttleTimeMs: 0, errorCode, producerId: -1n, producerEpoch: -1 })],
  [27, (req: WriteTxnMarkersRequest, _v, errorCode) => ({ markers: markersAnswered(req.markers, () => errorCode) })],
  [28, (req: OffsetCommitReq, _v, errorCode) => ({
    throttleTimeMs: 0,
    topics: perPartition(req.topics, (p) => ({ partitionIndex: p.partitionIndex, errorCode })),
  })],
  [32, (req: ResourcesReq, _v, errorCode, errorMessage) => ({
    throttleTimeMs: 0,
    results: req.resources.map((r) => ({ errorCode, errorMessage, resourceType: r.resourceType, resourceName: r.resourceName, configs: [] })),
  })],
  [33, (req: ResourcesReq, _v, errorCode, errorMessage) => ({
    throttleTimeMs: 0,
    responses: req.resources.map((r) => ({ errorCode, errorMessage, resourceType: r.resourceType, resourceName: r.resourceName })),
  })],
  [36, (_req, _v, errorCode, errorMessage) => ({ errorCode, errorMessage, authBytes: Buffer.alloc(0), sessionLifetimeMs: 0n })],
  [37, (req: { topics: { name: string }[] }, _v, errorCode, errorMessage) => ({
    throttleTimeMs: 0,
    results: req.topics.map((t) => ({ name: t.name, errorCode, errorMessage })),
  })],
  [42, (req: { groupsNames: string[] }, _v, errorCode) => ({ throttleTimeMs: 0, results: req.groupsNames.map((groupId) => ({ groupId, errorCode })) })],
  [44, (req: ResourcesReq, _v, errorCode, errorMessage) => ({
    throttleTimeMs: 0,
    responses: req.resources.map((r) => ({ errorCode, errorMessage, resourceType: r.resourceType, resourceName: r.resourceName })),
  })],
  [47, (_req, _v, errorCode) => ({ errorCode, throttleTimeMs: 0, topics: [] })],
  [60, (_req, _v, errorCode, errorMessage) => ({ throttleTimeMs: 0, errorCode, errorMessage, clusterId: '', controllerId: -1, brokers: [] })],
  [65, (req: { transactionalIds: string[] }, _v, errorCode) => ({
    throttleTimeMs: 0,
    transactionStates: req.transactionalIds.map((transactionalId) => ({
      errorCode,
      transactionalId,
      transactionState: '',
      transactionTimeoutMs: 0,
      transactionStartTimeMs: -1n,
      producerId: -1n,
      producerEpoch: -1,
      topics: [],
    })),
  })],
  [66, (_req, _v, errorCode) => ({ throttleTimeMs: 0, errorCode, unknownStateFilters: [], transactionStates: [] })],
]);

/** The response that answers every part of `req` with `code`, or undefined if Wharf has none for the API. */
export function errorResponse(apiKey: ApiKeyNumber, version: number, req: unknown, code: number, message: string | null): unknown {
  const build = BUILDERS.get(apiKey);
  return build ? build(req as never, version, code, message) : undefined;
}

/** The api keys errorResponse() covers (for tests). */
export const ERROR_RESPONSE_APIS: readonly number[] = [...BUILDERS.keys()];
