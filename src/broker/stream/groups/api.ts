// What the group coordinator takes and gives: plain data, one request/result pair per Kafka group
// API (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, DescribeGroups, ListGroups, DeleteGroups,
// OffsetCommit, OffsetFetch, OffsetDelete, TxnOffsetCommit), without wire types. Absent optional fields take the
// value an old request version implies. Errors are kinds (errors.ts), never exceptions.

import type { GroupErrorKind } from './errors.js';

export type { GroupErrorKind } from './errors.js';

export interface GroupProtocol {
  readonly name: string;
  readonly metadata: Buffer;
}

export interface JoinRequest {
  readonly groupId: string;
  /** '' for a member joining for the first time. */
  readonly memberId: string;
  /** Static membership (KIP-345): the same instance id keeps its place across restarts. */
  readonly groupInstanceId?: string | null;
  readonly protocolType: string;
  /** In the member's order of preference. */
  readonly protocols: readonly GroupProtocol[];
  readonly sessionTimeoutMs: number;
  /** JoinGroup v0 has none: pass the session timeout, as Kafka does. */
  readonly rebalanceTimeoutMs: number;
  readonly clientId: string;
  readonly clientHost: string;
  /** JoinGroup v4+ (KIP-394): a new dynamic member first gets MEMBER_ID_REQUIRED and its id. */
  readonly requireKnownMemberId?: boolean;
  /** JoinGroup v9+: the client understands skipAssignment. */
  readonly supportsSkipAssignment?: boolean;
  readonly reason?: string | null;
}

export interface JoinedMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  /** The member's metadata for the chosen protocol. */
  readonly metadata: Buffer;
}

export interface JoinResult {
  readonly error?: GroupErrorKind;
  /** -1 with an error. */
  readonly generationId: number;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  /** The leader's member id ('' with an error). */
  readonly leader: string;
  /** The member's id, also the one handed out with MEMBER_ID_REQUIRED. */
  readonly memberId: string;
  /** v9+: a static leader rejoining a stable group must not compute a new assignment. */
  readonly skipAssignment: boolean;
  /** Every member with its metadata: for the leader only, empty for the others. */
  readonly members: readonly JoinedMember[];
}

export interface SyncRequest {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId?: string | null;
  /** SyncGroup v5+: checked against the group's when given. */
  readonly protocolType?: string | null;
  readonly protocolName?: string | null;
  /** The leader's assignment (members left out get an empty one); empty from the others. */
  readonly assignments: readonly { readonly memberId: string; readonly assignment: Buffer }[];
}

export interface SyncResult {
  readonly error?: GroupErrorKind;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  readonly assignment: Buffer;
}

export interface HeartbeatRequest {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId?: string | null;
}

export interface HeartbeatResult {
  readonly error?: GroupErrorKind;
}

export interface LeavingMember {
  /** '' to remove a static member by its instance id (an admin's removal). */
  readonly memberId: string;
  readonly groupInstanceId?: string | null;
  readonly reason?: string | null;
}

export interface LeaveRequest {
  readonly groupId: string;
  /** LeaveGroup v0-v2 carry one member id: pass it as the only entry. */
  readonly members: readonly LeavingMember[];
}

export interface LeaveResult {
  /** The whole request failed (then `members` is empty). */
  readonly error?: GroupErrorKind;
  readonly members: readonly { readonly memberId: string; readonly groupInstanceId: string | null; readonly error?: GroupErrorKind }[];
}

export interface DescribedMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  /** Metadata for the group's protocol: only while the group is Stable, else empty. */
  readonly metadata: Buffer;
  readonly assignment: Buffer;
}

export interface DescribedGroup {
  readonly groupId: string;
  readonly error?: GroupErrorKind;
  /** 'Dead' for a group that does not exist. */
  readonly state: string;
  readonly protocolType: string;
  /** The chosen protocol while Stable, else ''. */
  readonly protocolData: string;
  readonly members: readonly DescribedMember[];
}

export interface ListedGroup {
  readonly groupId: string;
  readonly protocolType: string;
  readonly state: string;
  /** Always 'classic' (Kafka's new consumer protocol, KIP-848, is not implemented). */
  readonly groupType: string;
}

export interface ListGroupsResult {
  readonly error?: GroupErrorKind;
  readonly groups: readonly ListedGroup[];
}

export interface DeleteGroupResult {
  readonly groupId: string;
  readonly error?: GroupErrorKind;
}

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface CommitOffset extends TopicPartition {
  readonly offset: number;
  /** -1 or absent: none. */
  readonly leaderEpoch?: number;
  /** null or absent: ''. */
  readonly metadata?: string | null;
}

export interface CommitRequest {
  readonly groupId: string;
  /** -1 for a "simple" commit by a client outside group management. */
  readonly generationId: number;
  /** '' for a simple commit. */
  readonly memberId: string;
  readonly groupInstanceId?: string | null;
  /** OffsetCommit v2-v4's retention_time_ms; -1 or absent: the broker's retention. */
  readonly retentionTimeMs?: number;
  readonly offsets: readonly CommitOffset[];
}

/** TxnOffsetCommit: offsets committed inside a producer's transaction. */
export interface TxnCommitRequest {
  readonly groupId: string;
  readonly producerId: number;
  /** TxnOffsetCommit v3+; -1 (and '' member id) before. */
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId?: string | null;
  readonly offsets: readonly CommitOffset[];
}

export interface PartitionResult extends TopicPartition {
  readonly error?: GroupErrorKind;
}

export interface FetchedOffset extends TopicPartition {
  /** -1: nothing committed. */
  readonly offset: number;
  /** -1: none. */
  readonly leaderEpoch: number;
  readonly metadata: string;
  readonly error?: GroupErrorKind;
}

export interface FetchResult {
  readonly error?: GroupErrorKind;
  readonly partitions: readonly FetchedOffset[];
}

export interface DeleteOffsetsResult {
  /** The whole request failed (then `partitions` is empty). */
  readonly error?: GroupErrorKind;
  readonly partitions: readonly PartitionResult[];
}

/**
 * Reads the topics a member subscribes to from its protocol metadata, for OffsetDelete
 * (GROUP_SUBSCRIBED_TO_TOPIC) and for expiring offsets of topics a stable group no longer reads.
 * The Kafka adapter supplies it for protocol type 'consumer' (ConsumerProtocolSubscription,
 * read as version 0, which prefixes every later version).
 */
export interface SubscriptionDecoder {
  /** The protocol type whose groups subscribe to topics ('consumer'). */
  readonly protocolType: string;
  /** The topics in one member's metadata for `protocolName`; throws if it does not parse. */
  topics(protocolName: string, metadata: Buffer): readonly string[];
}
