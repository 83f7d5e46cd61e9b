// Consumer groups (Kafka's classic protocol) and committed offsets: each API maps 1:1 onto the
// vhost's GroupCoordinator (src/broker/stream/groups/), whose error kinds become Kafka codes here.
// In a cluster the coordinator is the one of the group's offsets partition, on its leader only
// (docs/cluster.md, "Consumer groups and producer ids"); other nodes answer NOT_COORDINATOR.

import type { CoordinatorRefusal, GroupCoordinator, GroupErrorKind, SubscriptionDecoder } from '../../../broker/stream/groups/index.js';
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

export const REFUSAL_CODES: Readonly<Record<CoordinatorRefusal, number>> = {
  'not-coordinator': ErrorCode.NOT_COORDINATOR,
  'coordinator-load-in-progress': ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  'coordinator-not-available': ErrorCode.COORDINATOR_NOT_AVAILABLE,
};

/**
 * The group's coordinator on this node, or the Kafka error code saying why this node does not
 * answer for the group: in a cluster, only the leader of the group's offsets partition does
 * (NOT_COORDINATOR elsewhere, so clients ask FindCoordinator again).
 */
export function coordinator(ctx: KafkaContext, groupId: string): GroupCoordinator | number {
  const cluster = ctx.broker.clusterGroups(ctx.vhost);
  if (cluster !== undefined) {
    const found = cluster.lookup(groupId);
    return 'coordinator' in found ? found.coordinator : REFUSAL_CODES[found.error];
  }
  const g = ctx.vhost.groups;
  if (!g) throw new Error('this vhost has no group coordinator');
  return g;
}

/** The coordinators whose groups this node lists (ListGroups: in a cluster, those it coordinates). */
function localCoordinators(ctx: KafkaContext): GroupCoordinator[] {
  const cluster = ctx.broker.clusterGroups(ctx.vhost);
  if (cluster !== undefined) return cluster.coordinators();
  return ctx.vhost.groups ? [ctx.vhost.groups] : [];
}

export const joinGroup: Handler<11> = async (ctx, req, v, source) => {
  const c = coordinator(ctx, req.groupId);
  if (typeof c === 'number') {
    return { throttleTimeMs: 0, errorCode: c, generationId: -1, protocolType: null, protocolName: v >= 7 ? null : '', leader: '', skipAssignment: false, memberId: req.memberId, members: [] };
  }
  const r = await c.join({
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
  const c = coordinator(ctx, req.groupId);
  if (typeof c === 'number') return { throttleTimeMs: 0, errorCode: c, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) };
  const r = await c.sync({
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
  const c = coordinator(ctx, req.groupId);
  if (typeof c === 'number') return { throttleTimeMs: 0, errorCode: c };
  const r = await c.heartbeat({
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
  const c = coordinator(ctx, req.groupId);
  if (typeof c === 'number') return { throttleTimeMs: 0, errorCode: c, members: [] };
  const r = await c.leave({ groupId: req.groupId, members });
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
  const groups = [];
  for (const groupId of req.groups) {
    const c = coordinator(ctx, groupId);
    // Kafka answers a group this node does not coordinate with the error and the group Dead.
    if (typeof c === 'number') groups.push({ groupId, errorCode: c, state: 'Dead', protocolType: '', protocolData: '', members: [] });
    else groups.push(...(await c.describe([groupId])).map((g) => ({ ...g, errorCode: groupErrorCode(g.error) })));
  }
  return {
    throttleTimeMs: 0,
    groups: groups.map((g) => ({
      errorCode: g.errorCode,
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
  const lists = await Promise.all(localCoordinators(ctx).map((c) => c.list(v >= 4 ? req.statesFilter : [], v >= 5 ? req.typesFilter : [])));
  return {
    throttleTimeMs: 0,
    errorCode: groupErrorCode(lists.find((r) => r.error !== undefined)?.error),
    groups: lists.flatMap((r) => r.groups).map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, groupState: g.state, groupType: g.groupType })),
  };
};

export const deleteGroups: Handler<42> = async (ctx, req) => {
  const results = [];
  for (const groupId of req.groupsNames) {
    const c = coordinator(ctx, groupId);
    if (typeof c === 'number') results.push({ groupId, errorCode: c });
    else results.push(...(await c.delete([groupId])).map((r) => ({ groupId: r.groupId, errorCode: groupErrorCode(r.error) })));
  }
  return { throttleTimeMs: 0, results };
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
  const c = coordinator(ctx, req.groupId);
  const results = typeof c === 'number' ? [] : await c.commit({
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
  // Not the coordinator: every partition gets the error (Kafka checks the coordinator first).
  if (typeof c === 'number') for (const o of offsets) add(o.topic, o.partition, c);
  for (const u of unknown) add(u.topic, u.partition, typeof c === 'number' ? c : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  return { throttleTimeMs: 0, topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })) };
};

async function fetchOffsets(ctx: KafkaContext, groupId: string, topics: readonly { name: string; partitionIndexes: readonly number[] }[] | null, requireStable: boolean) {
  const wanted = topics === null ? null : topics.flatMap((t) => t.partitionIndexes.map((partition) => ({ topic: t.name, partition })));
  const c = coordinator(ctx, groupId);
  if (typeof c === 'number') {
    const topicsOut = (topics ?? []).map((t) => ({
      name: t.name,
      partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, committedOffset: -1n, committedLeaderEpoch: -1, metadata: '', errorCode: c })),
    }));
    return { errorCode: c, topics: topicsOut };
  }
  const r = await c.fetch(groupId, wanted, requireStable);
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
  const c = coordinator(ctx, req.groupId);
  if (typeof c === 'number') return { errorCode: c, throttleTimeMs: 0, topics: [] };
  const r = await c.deleteOffsets(req.groupId, wanted);
  const byTopic = new Map<string, { partitionIndex: number; errorCode: number }[]>();
  for (const p of r.partitions) {
    const list = byTopic.get(p.topic) ?? [];
    list.push({ partitionIndex: p.partition, errorCode: groupErrorCode(p.error) });
    byTopic.set(p.topic, list);
  }
  return { errorCode: groupErrorCode(r.error), throttleTimeMs: 0, topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })) };
};
