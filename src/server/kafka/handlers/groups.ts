// Consumer groups (Kafka's classic protocol) and committed offsets: each API maps 1:1 onto the
// vhost's GroupCoordinator (src/broker/stream/groups/), whose error kinds become Kafka codes here.

import type { GroupErrorKind, SubscriptionDecoder } from '../../../broker/stream/groups/index.js';
import { ErrorCode, decodeSubscription } from '../../../protocol/kafka/index.js';
import type { Handler, KafkaContext } from '../context.js';

const GROUP_CODES: Readonly<Record<GroupErrorKind, number>> = {
  'coordinator-not-available': ErrorCode.COORDINATOR_NOT_AVAILABLE,
  'illegal-generation': ErrorCode.ILLEGAL_GENERATION,
  'inconsistent-group-protocol': ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
  'invalid-group-id': ErrorCode.INVALID_GROUP_ID,
  'unknown-member-id': ErrorCode.UNKNOWN_MEMBER_ID,
  'invalid-session-timeout': ErrorCode.INVALID_SESSION_TIMEOUT,
  'rebalance-in-progress': ErrorCode.REBALANCE_IN_PROGRESS,
  'invalid-commit-offset-size': ErrorCode.INVALID_COMMIT_OFFSET_SIZE,
  'offset-metadata-too-large': ErrorCode.OFFSET_METADATA_TOO_LARGE,
  'non-empty-group': ErrorCode.NON_EMPTY_GROUP,
  'group-id-not-found': ErrorCode.GROUP_ID_NOT_FOUND,
  'member-id-required': ErrorCode.MEMBER_ID_REQUIRED,
  'group-max-size-reached': ErrorCode.GROUP_MAX_SIZE_REACHED,
  'fenced-instance-id': ErrorCode.FENCED_INSTANCE_ID,
  'group-subscribed-to-topic': ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC,
  'unstable-offset-commit': ErrorCode.UNSTABLE_OFFSET_COMMIT,
  'unknown-server-error': ErrorCode.UNKNOWN_SERVER_ERROR,
};

export function groupErrorCode(kind: GroupErrorKind | undefined): number {
  return kind === undefined ? ErrorCode.NONE : GROUP_CODES[kind];
}

/** Topics in a Kafka consumer's subscription metadata (protocol type 'consumer'). */
export const kafkaSubscriptions: SubscriptionDecoder = {
  protocolType: 'consumer',
  topics: (_protocolName, metadata) => decodeSubscription(metadata).data.topics,
};

function coordinator(ctx: KafkaContext) {
  const g = ctx.vhost.groups;
  if (!g) throw new Error('this vhost has no group coordinator');
  return g;
}

export const joinGroup: Handler<11> = async (ctx, req, v, source) => {
  const r = await coordinator(ctx).join({
    groupId: req.groupId,
    memberId: req.memberId,
    groupInstanceId: v >= 5 ? req.groupInstanceId : null,
    protocolType: req.protocolType,
    protocols: req.protocols.map((p) => ({ name: p.name, metadata: p.metadata })),
    sessionTimeoutMs: req.sessionTimeoutMs,
    // JoinGroup v0 has no rebalance timeout: Kafka uses the session timeout.
    rebalanceTimeoutMs: v >= 1 ? req.rebalanceTimeoutMs : req.sessionTimeoutMs,
    clientId: source.clientId ?? '',
    clientHost: `/${source.clientHost}`,
    requireKnownMemberId: v >= 4,
    supportsSkipAssignment: v >= 9,
    reason: req.reason,
  });
  return {
    throttleTimeMs: 0,
    errorCode: groupErrorCode(r.error),
    generationId: r.generationId,
    protocolType: v >= 7 ? r.protocolType : null,
    protocolName: r.protocolName ?? (v >= 7 ? null : ''),
    leader: r.leader,
    skipAssignment: v >= 9 && r.skipAssignment,
    memberId: r.memberId,
    members: r.members.map((m) => ({ memberId: m.memberId, groupInstanceId: v >= 5 ? m.groupInstanceId : null, metadata: m.metadata })),
  };
};

export const syncGroup: Handler<14> = async (ctx, req, v) => {
  const r = await coordinator(ctx).sync({
    groupId: req.groupId,
    generationId: req.generationId,
    memberId: req.memberId,
    groupInstanceId: v >= 3 ? req.groupInstanceId : null,
    protocolType: v >= 5 ? req.protocolType : null,
    protocolName: v >= 5 ? req.protocolName : null,
    assignments: req.assignments.map((a) => ({ memberId: a.memberId, assignment: a.assignment })),
  });
  return {
    throttleTimeMs: 0,
    errorCode: groupErrorCode(r.error),
    protocolType: v >= 5 ? r.protocolType : null,
    protocolName: v >= 5 ? r.protocolName : null,
    assignment: r.assignment,
  };
};

export const heartbeat: Handler<12> = async (ctx, req, v) => {
  const r = await coordinator(ctx).heartbeat({
    groupId: req.groupId,
    generationId: req.generationId,
    memberId: req.memberId,
    groupInstanceId: v >= 3 ? req.groupInstanceId : null,
  });
  return { throttleTimeMs: 0, errorCode: groupErrorCode(r.error) };
};

export const leaveGroup: Handler<13> = async (ctx, req, v) => {
  // v0-v2 name one member; v3+ (KIP-345) a batch, possibly by instance id.
  const members = v >= 3 ? req.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, reason: v >= 5 ? m.reason : null })) : [{ memberId: req.memberId }];
  const r = await coordinator(ctx).leave({ groupId: req.groupId, members });
  if (v < 3) {
    return { throttleTimeMs: 0, errorCode: groupErrorCode(r.error ?? r.members[0]?.error) };
  }
  return {
    throttleTimeMs: 0,
    errorCode: groupErrorCode(r.error),
    members: r.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode: groupErrorCode(m.error) })),
  };
};

export const describeGroups: Handler<15> = async (ctx, req, v) => {
  const groups = await coordinator(ctx).describe(req.groups);
  return {
    throttleTimeMs: 0,
    groups: groups.map((g) => ({
      errorCode: groupErrorCode(g.error),
      groupId: g.groupId,
      groupState: g.state,
      protocolType: g.protocolType,
      protocolData: g.protocolData,
      members: g.members.map((m) => ({
        memberId: m.memberId,
        groupInstanceId: v >= 4 ? m.groupInstanceId : null,
        clientId: m.clientId,
        clientHost: m.clientHost,
        memberMetadata: m.metadata,
        memberAssignment: m.assignment,
      })),
    })),
  };
};

export const listGroups: Handler<16> = async (ctx, req, v) => {
  const r = await coordinator(ctx).list(v >= 4 ? req.statesFilter : [], v >= 5 ? req.typesFilter : []);
  return {
    throttleTimeMs: 0,
    errorCode: groupErrorCode(r.error),
    groups: r.groups.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, groupState: g.state, groupType: g.groupType })),
  };
};

export const deleteGroups: Handler<42> = async (ctx, req) => {
  const results = await coordinator(ctx).delete(req.groupsNames);
  return { throttleTimeMs: 0, results: results.map((r) => ({ groupId: r.groupId, errorCode: groupErrorCode(r.error) })) };
};

export const offsetCommit: Handler<8> = async (ctx, req, v) => {
  const offsets = [];
  const unknown: { topic: string; partition: number }[] = [];
  for (const t of req.topics) {
    const stream = ctx.vhost.streams.get(t.name);
    for (const p of t.partitions) {
      if (!stream?.partition(p.partitionIndex)) {
        unknown.push({ topic: t.name, partition: p.partitionIndex });
        continue;
      }
      offsets.push({
        topic: t.name,
        partition: p.partitionIndex,
        offset: Number(p.committedOffset),
        leaderEpoch: v >= 6 ? p.committedLeaderEpoch : -1,
        metadata: p.committedMetadata,
      });
    }
  }
  const results = await coordinator(ctx).commit({
    groupId: req.groupId,
    generationId: req.generationIdOrMemberEpoch,
    memberId: req.memberId,
    groupInstanceId: v >= 7 ? req.groupInstanceId : null,
    retentionTimeMs: v >= 2 && v <= 4 ? Number(req.retentionTimeMs) : -1,
    offsets,
  });
  const codeOf = (kind: GroupErrorKind | undefined): number =>
    // Before v9 a commit to a group that does not exist (with a generation) is ILLEGAL_GENERATION.
    kind === 'group-id-not-found' && v < 9 ? ErrorCode.ILLEGAL_GENERATION : groupErrorCode(kind);
  const byTopic = new Map<string, { partitionIndex: number; errorCode: number }[]>();
  const add = (topic: string, partitionIndex: number, errorCode: number): void => {
    const list = byTopic.get(topic) ?? [];
    list.push({ partitionIndex, errorCode });
    byTopic.set(topic, list);
  };
  for (const r of results) add(r.topic, r.partition, codeOf(r.error));
  for (const u of unknown) add(u.topic, u.partition, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  return { throttleTimeMs: 0, topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })) };
};

async function fetchOffsets(ctx: KafkaContext, groupId: string, topics: readonly { name: string; partitionIndexes: readonly number[] }[] | null, requireStable: boolean) {
  const wanted = topics === null ? null : topics.flatMap((t) => t.partitionIndexes.map((partition) => ({ topic: t.name, partition })));
  const r = await coordinator(ctx).fetch(groupId, wanted, requireStable);
  const byTopic = new Map<string, { partitionIndex: number; committedOffset: bigint; committedLeaderEpoch: number; metadata: string; errorCode: number }[]>();
  for (const p of r.partitions) {
    const list = byTopic.get(p.topic) ?? [];
    list.push({ partitionIndex: p.partition, committedOffset: BigInt(p.offset), committedLeaderEpoch: p.leaderEpoch, metadata: p.metadata, errorCode: groupErrorCode(p.error) });
    byTopic.set(p.topic, list);
  }
  return { errorCode: groupErrorCode(r.error), topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })) };
}

export const offsetFetch: Handler<9> = async (ctx, req, v) => {
  if (v >= 8) {
    const groups = [];
    for (const g of req.groups) {
      const r = await fetchOffsets(ctx, g.groupId, g.topics, req.requireStable);
      groups.push({ groupId: g.groupId, errorCode: r.errorCode, topics: r.topics });
    }
    return { throttleTimeMs: 0, groups };
  }
  // require_stable is a v7+ field (read_committed consumers set it, KIP-447).
  const r = await fetchOffsets(ctx, req.groupId, req.topics, v >= 7 && req.requireStable);
  const topics = r.topics.map((t) => ({
    name: t.name,
    partitions: t.partitions.map((p) => ({ ...p, committedLeaderEpoch: v >= 5 ? p.committedLeaderEpoch : -1 })),
  }));
  return { throttleTimeMs: 0, topics, errorCode: v >= 2 ? r.errorCode : ErrorCode.NONE };
};

export const offsetDelete: Handler<47> = async (ctx, req) => {
  const wanted = req.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex })));
  const r = await coordinator(ctx).deleteOffsets(req.groupId, wanted);
  const byTopic = new Map<string, { partitionIndex: number; errorCode: number }[]>();
  for (const p of r.partitions) {
    const list = byTopic.get(p.topic) ?? [];
    list.push({ partitionIndex: p.partition, errorCode: groupErrorCode(p.error) });
    byTopic.set(p.topic, list);
  }
  return { errorCode: groupErrorCode(r.error), throttleTimeMs: 0, topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })) };
};
