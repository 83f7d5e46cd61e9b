// The group coordinator of one vhost: consumer groups (Kafka's classic group protocol, in
// membership.ts) and their committed offsets (durable in an OffsetStore), also those committed
// inside a producer's transaction (TxnOffsetCommit: pending until the transaction coordinator
// ends the transaction). Protocol-neutral: the Kafka adapter maps each of JoinGroup, SyncGroup,
// Heartbeat, LeaveGroup, DescribeGroups, ListGroups, DeleteGroups, OffsetCommit, OffsetFetch and
// OffsetDelete onto one method here and
// each error kind onto Kafka's code (errors.ts). Group membership lives in memory only; offsets,
// and the protocol type, generation and empty-since time of groups, survive restarts.
// See docs/streams.md ("Consumer groups").

import { type Logger, stderrLogger } from '../../../store/index.js';
import type {
  CommitOffset,
  CommitRequest,
  DeleteGroupResult,
  DeleteOffsetsResult,
  DescribedGroup,
  FetchResult,
  FetchedOffset,
  GroupErrorKind,
  HeartbeatRequest,
  HeartbeatResult,
  JoinRequest,
  JoinResult,
  LeaveRequest,
  LeaveResult,
  ListGroupsResult,
  ListedGroup,
  PartitionResult,
  SubscriptionDecoder,
  SyncRequest,
  SyncResult,
  TopicPartition,
  TxnCommitRequest,
} from './api.js';
import { type GroupConfig, resolveGroupConfig } from './config.js';
import { ClassicGroup, EMPTY_BYTES, joinError, syncError } from './group.js';
import { Membership, memberError } from './membership.js';
import { OffsetStore, type OffsetStoreFileOptions } from './offset-store.js';
import type { OffsetEntry } from './records.js';
import { type Scheduler, type TimerHandle, realScheduler } from './scheduler.js';

export interface GroupCoordinatorOptions {
  /** Group and offset settings; Kafka's broker defaults for what is left out. */
  readonly config?: Partial<GroupConfig>;
  /** Clock and timers (tests drive them by hand). Default: Date.now and unref'd setTimeout. */
  readonly scheduler?: Scheduler;
  /** How to read subscribed topics from member metadata (the Kafka adapter supplies it). */
  readonly subscriptions?: SubscriptionDecoder;
  readonly logger?: Logger;
}

export interface GroupCoordinatorFileOptions extends GroupCoordinatorOptions {
  /** The offsets log: its directory (the broker uses `<data>/groups/`) and tuning. */
  readonly store: OffsetStoreFileOptions;
}

export class GroupCoordinator {
  private readonly groups = new Map<string, ClassicGroup>();
  private readonly membership: Membership;
  private readonly config: GroupConfig;
  private readonly scheduler: Scheduler;
  private readonly subscriptions: SubscriptionDecoder | undefined;
  private readonly logger: Logger;
  private retentionTimer: TimerHandle | undefined;
  private closing: Promise<void> | undefined;

  /** Takes over `store`: close() closes it. */
  constructor(
    private readonly store: OffsetStore,
    opts: GroupCoordinatorOptions = {},
  ) {
    this.config = resolveGroupConfig(opts.config);
    this.scheduler = opts.scheduler ?? realScheduler;
    this.subscriptions = opts.subscriptions;
    this.logger = opts.logger ?? stderrLogger;
    this.membership = new Membership({
      config: this.config,
      scheduler: guarded(this.scheduler, this.logger),
      logger: this.logger,
      group: (id) => this.groups.get(id),
      createGroup: (id) => this.createGroup(id),
      subscribedTopics: (g) => this.computeSubscribedTopics(g),
      generationStarted: (g) => this.persistGroupMeta(g),
    });
    for (const groupId of store.groupIds()) this.groups.set(groupId, this.loadGroup(groupId));
    this.scheduleRetention();
  }

  /** Opens the offsets log in `opts.store.dir` and a coordinator on it. */
  static async open(opts: GroupCoordinatorFileOptions): Promise<GroupCoordinator> {
    const store = await OffsetStore.open({ logger: opts.logger, ...opts.store });
    return new GroupCoordinator(store, opts);
  }

  // ---- group membership ----

  /** JoinGroup: resolves when the member's join completes (usually when the rebalance does). */
  join(req: JoinRequest): Promise<JoinResult> {
    if (this.closing) return Promise.resolve(joinError(req.memberId, 'coordinator-not-available'));
    return new Promise((resolve) => {
      this.guard('join', () => this.membership.join(req, resolve), () => resolve(joinError(req.memberId, 'unknown-server-error')));
    });
  }

  /** SyncGroup: a follower's resolves once the leader has sent the assignment. */
  sync(req: SyncRequest): Promise<SyncResult> {
    if (this.closing) return Promise.resolve(syncError('coordinator-not-available'));
    return new Promise((resolve) => {
      this.guard('sync', () => this.membership.sync(req, resolve), () => resolve(syncError('unknown-server-error')));
    });
  }

  heartbeat(req: HeartbeatRequest): Promise<HeartbeatResult> {
    if (this.closing) return Promise.resolve({ error: 'coordinator-not-available' });
    return Promise.resolve(this.guard('heartbeat', () => this.membership.heartbeat(req), () => ({ error: 'unknown-server-error' })));
  }

  leave(req: LeaveRequest): Promise<LeaveResult> {
    if (this.closing) return Promise.resolve({ error: 'coordinator-not-available', members: [] });
    return Promise.resolve(this.guard('leave', () => this.membership.leave(req), () => ({ error: 'unknown-server-error', members: [] })));
  }

  /** A bug must cost one request (UNKNOWN_SERVER_ERROR), never the process. */
  private guard<T>(what: string, run: () => T, fallback: () => T): T {
    try {
      return run();
    } catch (err) {
      this.logger.error(`consumer groups: ${what} failed`, { err: err instanceof Error ? err.stack : String(err) });
      return fallback();
    }
  }

  // ---- groups ----

  /** DescribeGroups: a group that does not exist is described as Dead, without an error. */
  describe(groupIds: readonly string[]): Promise<DescribedGroup[]> {
    return Promise.resolve(groupIds.map((id) => this.describeOne(id)));
  }

  private describeOne(groupId: string): DescribedGroup {
    const none = { groupId, state: 'Dead', protocolType: '', protocolData: '', members: [] };
    if (this.closing) return { ...none, state: '', error: 'coordinator-not-available' };
    const g = this.groups.get(groupId);
    if (!g) return none;
    const stable = g.is('Stable') && g.protocolName !== undefined;
    return {
      groupId,
      state: g.state,
      protocolType: g.protocolType ?? '',
      protocolData: stable ? (g.protocolName as string) : '',
      members: [...g.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId ?? null,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable ? m.metadata(g.protocolName as string) : EMPTY_BYTES,
        assignment: m.assignment,
      })),
    };
  }

  /**
   * ListGroups. `states` matches case-insensitively ('stable', 'Empty', ...); `types` matches
   * 'classic' (every group here is one). Empty or absent filters match everything.
   */
  list(states: readonly string[] = [], types: readonly string[] = []): Promise<ListGroupsResult> {
    if (this.closing) return Promise.resolve({ error: 'coordinator-not-available', groups: [] });
    const wantStates = new Set(states.map((s) => s.toLowerCase()));
    const classic = types.length === 0 || types.some((t) => t.toLowerCase() === 'classic');
    const groups: ListedGroup[] = [];
    if (!classic) return Promise.resolve({ groups });
    for (const g of this.groups.values()) {
      if (wantStates.size > 0 && !wantStates.has(g.state.toLowerCase())) continue;
      groups.push({ groupId: g.groupId, protocolType: g.protocolType ?? '', state: g.state, groupType: 'classic' });
    }
    return Promise.resolve({ groups });
  }

  /** DeleteGroups: only empty groups go, with all their offsets; resolves once that is durable. */
  async delete(groupIds: readonly string[]): Promise<DeleteGroupResult[]> {
    const unique = [...new Set(groupIds)];
    return Promise.all(unique.map((id) => this.deleteOne(id)));
  }

  private async deleteOne(groupId: string): Promise<DeleteGroupResult> {
    if (this.closing) return { groupId, error: 'coordinator-not-available' };
    const group = this.groups.get(groupId);
    if (!group) return { groupId, error: 'group-id-not-found' };
    if (!group.is('Empty')) return { groupId, error: 'non-empty-group' };
    this.dropGroup(group);
    try {
      await this.forgetStoredGroup(groupId);
      return { groupId };
    } catch (err) {
      this.logger.warn('consumer group: deleting a group failed', { groupId, err: String(err) });
      // The deletion is not on disk: the group is back (unless a new one took the name meanwhile).
      if (!this.groups.has(groupId) && this.store.hasGroup(groupId)) this.groups.set(groupId, this.loadGroup(groupId));
      return { groupId, error: 'coordinator-not-available' };
    }
  }

  // ---- offsets ----

  /**
   * OffsetCommit: one result per offset, in request order; resolves once the offsets are durable.
   * Whether the topics exist is the adapter's check (UNKNOWN_TOPIC_OR_PARTITION).
   */
  async commit(req: CommitRequest): Promise<PartitionResult[]> {
    const all = (error: GroupErrorKind): PartitionResult[] => req.offsets.map((o) => ({ topic: o.topic, partition: o.partition, error }));
    if (this.closing) return all('coordinator-not-available');
    let group = this.groups.get(req.groupId);
    if (!group) {
      // Only a client outside group management (generation -1) creates a group by committing.
      if (req.generationId >= 0) return all('group-id-not-found');
      group = this.createGroup(req.groupId);
    }
    const invalid = this.commitError(group, req);
    if (invalid) return all(invalid);
    const member = group.members.get(req.memberId);
    // A commit shows the member is alive (not in CompletingRebalance, which refused it above).
    if (member) this.membership.touch(group, member);
    const now = this.scheduler.now();
    const retentionMs = req.retentionTimeMs ?? -1;
    const expireTimestampMs = retentionMs === -1 ? -1 : now + retentionMs;
    const results: { topic: string; partition: number; error?: GroupErrorKind }[] = [];
    const entries: OffsetEntry[] = [];
    for (const o of req.offsets) {
      const error = this.offsetError(o);
      results.push(error ? { topic: o.topic, partition: o.partition, error } : { topic: o.topic, partition: o.partition });
      if (!error) entries.push(toEntry(o, now, expireTimestampMs));
    }
    if (entries.length === 0) return results;
    try {
      await this.store.commit(group.groupId, entries);
    } catch (err) {
      const error: GroupErrorKind = err instanceof RangeError ? 'invalid-commit-offset-size' : 'coordinator-not-available';
      if (error === 'coordinator-not-available') this.logger.warn('consumer group: an offset commit failed', { groupId: req.groupId, err: String(err) });
      for (const r of results) r.error ??= error;
    }
    return results;
  }

  /** Kafka's checks of OffsetCommit against the group's state. */
  private commitError(group: ClassicGroup, req: CommitRequest): GroupErrorKind | undefined {
    // Generation -1 on an empty group: an admin client or a consumer doing its own assignment.
    if (req.generationId < 0 && group.is('Empty')) return undefined;
    if (req.generationId >= 0 || req.memberId !== '' || req.groupInstanceId != null) {
      const invalid = memberError(group, req.memberId, req.groupInstanceId) ?? (req.generationId !== group.generationId ? 'illegal-generation' : undefined);
      if (invalid) return invalid;
      // Valid member and generation but no assignment yet: let it rejoin and commit then.
      return group.is('CompletingRebalance') ? 'rebalance-in-progress' : undefined;
    }
    // Members of a group with members must say who they are.
    return 'unknown-member-id';
  }

  private offsetError(o: CommitOffset): GroupErrorKind | undefined {
    if ((o.metadata ?? '').length > this.config.offsetMetadataMaxBytes) return 'offset-metadata-too-large';
    if (!Number.isSafeInteger(o.offset) || !isInt32(o.partition) || !isInt32(o.leaderEpoch ?? -1)) return 'invalid-commit-offset-size';
    return undefined;
  }

  /**
   * TxnOffsetCommit: offsets committed inside producer `producerId`'s transaction, pending (not
   * visible to OffsetFetch) until completeTxn. The transaction coordinator has checked the
   * producer and that the group is part of its transaction. Kafka's checks of the group are those
   * of OffsetCommit, except that a commit without generation or member id is accepted in any
   * state (older TxnOffsetCommit versions carry neither). Resolves once the offsets are durable.
   */
  async txnCommit(req: TxnCommitRequest): Promise<PartitionResult[]> {
    const all = (error: GroupErrorKind): PartitionResult[] => req.offsets.map((o) => ({ topic: o.topic, partition: o.partition, error }));
    if (this.closing) return all('coordinator-not-available');
    if (req.groupId === '') return all('invalid-group-id');
    const group = this.groups.get(req.groupId) ?? this.createGroup(req.groupId);
    const invalid = this.txnCommitError(group, req);
    if (invalid) return all(invalid);
    const now = this.scheduler.now();
    const results: { topic: string; partition: number; error?: GroupErrorKind }[] = [];
    const entries: OffsetEntry[] = [];
    for (const o of req.offsets) {
      const error = this.offsetError(o);
      results.push(error ? { topic: o.topic, partition: o.partition, error } : { topic: o.topic, partition: o.partition });
      if (!error) entries.push(toEntry(o, now, -1));
    }
    try {
      await this.store.txnCommit(group.groupId, req.producerId, entries);
    } catch (err) {
      const error: GroupErrorKind = err instanceof RangeError ? 'invalid-commit-offset-size' : 'coordinator-not-available';
      if (error === 'coordinator-not-available') this.logger.warn('consumer group: a transactional offset commit failed', { groupId: req.groupId, err: String(err) });
      for (const r of results) r.error ??= error;
    }
    return results;
  }

  /** Kafka's validateOffsetCommit for a transactional commit. */
  private txnCommitError(group: ClassicGroup, req: TxnCommitRequest): GroupErrorKind | undefined {
    if (req.generationId < 0 && group.is('Empty')) return undefined;
    if (req.generationId < 0 && req.memberId === '' && req.groupInstanceId == null) return undefined;
    return memberError(group, req.memberId, req.groupInstanceId) ?? (req.generationId !== group.generationId ? 'illegal-generation' : undefined);
  }

  /**
   * The transaction coordinator ended producer `producerId`'s transaction, which included the
   * group's offsets: they are committed (or dropped). Resolves once that is durable; rejects if
   * the write failed (the transaction coordinator tries again).
   */
  async completeTxn(groupId: string, producerId: number, commit: boolean): Promise<void> {
    if (this.closing) throw new Error('the group coordinator is closed');
    if (!this.store.pendingTxnProducers(groupId).includes(producerId)) return;
    await this.store.txnEnd(groupId, producerId, commit);
  }

  /**
   * A transaction marker reached this coordinator's offsets partition (Kafka's
   * GroupCoordinator.scheduleHandleTxnCompletion): every group holding offsets of producer
   * `producerId`'s transaction has them committed (or dropped). Resolves once that is durable.
   */
  async completeTxnOfProducer(producerId: number, commit: boolean): Promise<void> {
    await Promise.all([...this.groups.keys()].map((groupId) => this.completeTxn(groupId, producerId, commit)));
  }

  /** How many groups it holds (for log lines). */
  groupCount(): number {
    return this.groups.size;
  }

  /**
   * OffsetFetch: `partitions` null asks for every offset the group committed. A partition without
   * a committed offset answers offset -1 (and so does every partition of an unknown group). With
   * `requireStable` (OffsetFetch v7+), a partition an open transaction committed an offset for
   * answers UNSTABLE_OFFSET_COMMIT: the reader retries once the transaction ended.
   */
  fetch(groupId: string, partitions: readonly TopicPartition[] | null, requireStable = false): Promise<FetchResult> {
    if (this.closing) return Promise.resolve({ error: 'coordinator-not-available', partitions: [] });
    // A deleted group's offsets are gone for readers even before the deletion is durable.
    const known = this.groups.has(groupId);
    const one = (topic: string, partition: number): FetchedOffset => {
      if (known && requireStable && this.store.hasPendingTxnOffset(groupId, topic, partition)) {
        return { topic, partition, offset: -1, leaderEpoch: -1, metadata: '', error: 'unstable-offset-commit' };
      }
      const e = known ? this.store.offset(groupId, topic, partition) : undefined;
      return e ? fetched(e) : { topic, partition, offset: -1, leaderEpoch: -1, metadata: '' };
    };
    if (partitions === null) return Promise.resolve({ partitions: known ? this.store.offsets(groupId).map((e) => one(e.topic, e.partition)) : [] });
    return Promise.resolve({ partitions: partitions.map((p) => one(p.topic, p.partition)) });
  }

  /**
   * OffsetDelete: an empty group loses any offsets; a group with members only those of topics it
   * does not subscribe to (GROUP_SUBSCRIBED_TO_TOPIC), and only if its protocol tells topics
   * (else NON_EMPTY_GROUP). Resolves once the deletion is durable.
   */
  async deleteOffsets(groupId: string, partitions: readonly TopicPartition[]): Promise<DeleteOffsetsResult> {
    if (this.closing) return { error: 'coordinator-not-available', partitions: [] };
    if (groupId === '') return { error: 'invalid-group-id', partitions: [] };
    const group = this.groups.get(groupId);
    if (!group) return { error: 'group-id-not-found', partitions: [] };
    if (!group.is('Empty') && !this.usesSubscriptions(group)) return { error: 'non-empty-group', partitions: [] };
    const results: { topic: string; partition: number; error?: GroupErrorKind }[] = [];
    const doomed: TopicPartition[] = [];
    for (const p of partitions) {
      if (this.isSubscribedTo(group, p.topic)) results.push({ topic: p.topic, partition: p.partition, error: 'group-subscribed-to-topic' });
      else {
        results.push({ topic: p.topic, partition: p.partition });
        if (this.store.offset(groupId, p.topic, p.partition)) doomed.push({ topic: p.topic, partition: p.partition });
      }
    }
    try {
      await this.store.deleteOffsets(groupId, doomed);
    } catch (err) {
      this.logger.warn('consumer group: deleting offsets failed', { groupId, err: String(err) });
      for (const r of results) r.error ??= 'coordinator-not-available';
    }
    return { partitions: results };
  }

  /** A topic was deleted: every group forgets its offsets (Kafka does this on partition deletion). */
  async onTopicDeleted(topic: string): Promise<void> {
    if (this.closing) return;
    const writes: Promise<void>[] = [];
    for (const [groupId, parts] of this.store.partitionsOfTopic(topic)) {
      writes.push(this.store.deleteOffsets(groupId, parts.map((partition) => ({ topic, partition }))));
    }
    await Promise.all(writes);
  }

  // ---- retention ----

  /**
   * What the retention timer runs (offsets.retention.check.interval.ms): removes expired offsets,
   * then empty groups left with none. Resolves once the removals are durable.
   */
  async expireOffsets(): Promise<void> {
    if (this.closing) return;
    const now = this.scheduler.now();
    const writes: Promise<void>[] = [];
    for (const group of [...this.groups.values()]) {
      // An offset on its way to disk is not expired under it (Kafka: pending commits).
      if (this.store.hasPendingCommits(group.groupId)) continue;
      const { expired, allExpired } = this.expiredOffsets(group, now);
      if (group.is('Empty') && allExpired) {
        this.dropGroup(group);
        writes.push(this.forgetStoredGroup(group.groupId));
      } else if (expired.length > 0) writes.push(this.store.deleteOffsets(group.groupId, expired));
    }
    const failures = (await Promise.allSettled(writes)).filter((r) => r.status === 'rejected');
    if (failures.length > 0) this.logger.warn('consumer groups: removing expired offsets failed; retried on the next check', { failures: failures.length });
  }

  /**
   * Kafka's offset expiration: an empty group's offsets expire offsets.retention after it became
   * empty; a group without protocol (offsets only) expires each offset that long after its commit;
   * a stable group whose subscriptions are known expires offsets of topics it no longer reads;
   * other groups keep theirs. An offset committed with its own retention time expires at that time.
   */
  private expiredOffsets(group: ClassicGroup, now: number): { expired: TopicPartition[]; allExpired: boolean } {
    const offsets = this.store.offsets(group.groupId);
    const base = this.expiryBase(group);
    if (!base) return { expired: [], allExpired: offsets.length === 0 };
    const expired: TopicPartition[] = [];
    for (const e of offsets) {
      if (this.isSubscribedTo(group, e.topic)) continue;
      const gone = e.expireTimestampMs !== -1 ? now >= e.expireTimestampMs : now - base(e) >= this.config.offsetsRetentionMs;
      if (gone) expired.push({ topic: e.topic, partition: e.partition });
    }
    return { expired, allExpired: expired.length === offsets.length };
  }

  private expiryBase(group: ClassicGroup): ((e: OffsetEntry) => number) | undefined {
    if (group.protocolType === undefined) return (e) => e.commitTimestampMs;
    if (group.is('Empty')) return () => group.stateSinceMs;
    if (group.is('Stable') && this.usesSubscriptions(group) && group.subscribedTopics) return (e) => e.commitTimestampMs;
    return undefined;
  }

  private scheduleRetention(): void {
    this.retentionTimer = this.scheduler.setTimer(() => {
      this.expireOffsets()
        .catch((err: unknown) => this.logger.warn('consumer groups: offset expiry failed', { err: String(err) }))
        .finally(() => {
          if (!this.closing) this.scheduleRetention();
        });
    }, this.config.offsetsRetentionCheckIntervalMs);
  }

  // ---- lifecycle ----

  /** Stops the timers, answers held requests with COORDINATOR_NOT_AVAILABLE, closes the store. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.retentionTimer?.cancel();
      for (const g of this.groups.values()) this.membership.shutDown(g, 'coordinator-not-available');
      await this.store.close();
    })();
    return this.closing;
  }

  // ---- groups and the store ----

  private createGroup(groupId: string): ClassicGroup {
    const g = new ClassicGroup(groupId, this.scheduler.now());
    this.groups.set(groupId, g);
    return g;
  }

  /** A group as the store knows it after a restart: empty, its members gone. */
  private loadGroup(groupId: string): ClassicGroup {
    const now = this.scheduler.now();
    const g = new ClassicGroup(groupId, now);
    const meta = this.store.meta(groupId);
    if (meta) {
      g.protocolType = meta.protocolType === '' ? undefined : meta.protocolType;
      g.generationId = meta.generationId;
      if (meta.emptySinceMs >= 0) g.stateSinceMs = meta.emptySinceMs;
      // It had members when the broker stopped: they are gone now, and retention counts from here.
      else this.persistGroupMeta(g);
    }
    g.subscribedTopics = this.computeSubscribedTopics(g);
    return g;
  }

  private dropGroup(group: ClassicGroup): void {
    this.membership.shutDown(group, 'coordinator-not-available');
    group.state = 'Dead';
    this.groups.delete(group.groupId);
  }

  /** Writes the group's deletion (after any of its writes still on the way). */
  private async forgetStoredGroup(groupId: string): Promise<void> {
    await this.store.deleteGroup(groupId);
  }

  private persistGroupMeta(group: ClassicGroup): void {
    const meta = { protocolType: group.protocolType ?? '', generationId: group.generationId, emptySinceMs: group.is('Empty') ? group.stateSinceMs : -1 };
    this.store.setMeta(group.groupId, meta).catch((err: unknown) => {
      // Only retention timing and generation numbering after a restart depend on it.
      this.logger.warn('consumer group: persisting group state failed', { groupId: group.groupId, err: String(err) });
    });
  }

  private usesSubscriptions(group: ClassicGroup): boolean {
    return this.subscriptions !== undefined && group.protocolType === this.subscriptions.protocolType;
  }

  /** Kafka: when the topics are not known, a group of the subscribing protocol counts as subscribed. */
  private isSubscribedTo(group: ClassicGroup, topic: string): boolean {
    return group.subscribedTopics ? group.subscribedTopics.has(topic) : this.usesSubscriptions(group);
  }

  private computeSubscribedTopics(group: ClassicGroup): ReadonlySet<string> | undefined {
    const decoder = this.subscriptions;
    if (!decoder || group.protocolType !== decoder.protocolType) return undefined;
    if (group.size === 0) return new Set();
    const protocolName = group.protocolName;
    if (protocolName === undefined) return undefined;
    try {
      const topics = new Set<string>();
      for (const m of group.members.values()) for (const t of decoder.topics(protocolName, m.metadata(protocolName))) topics.add(t);
      return topics;
    } catch (err) {
      this.logger.warn('consumer group: member metadata does not parse; subscribed topics unknown', { groupId: group.groupId, err: String(err) });
      return undefined;
    }
  }
}

/** Timer callbacks that throw are logged: an exception in a timer would end the process. */
function guarded(scheduler: Scheduler, logger: Logger): Scheduler {
  return {
    now: () => scheduler.now(),
    setTimer: (fn, delayMs) =>
      scheduler.setTimer(() => {
        try {
          fn();
        } catch (err) {
          logger.error('consumer groups: a timer failed', { err: err instanceof Error ? err.stack : String(err) });
        }
      }, delayMs),
  };
}

function isInt32(n: number): boolean {
  return (n | 0) === n;
}

function toEntry(o: CommitOffset, now: number, expireTimestampMs: number): OffsetEntry {
  return {
    topic: o.topic,
    partition: o.partition,
    offset: o.offset,
    leaderEpoch: o.leaderEpoch ?? -1,
    metadata: o.metadata ?? '',
    commitTimestampMs: now,
    expireTimestampMs,
  };
}

function fetched(e: OffsetEntry): FetchedOffset {
  return { topic: e.topic, partition: e.partition, offset: e.offset, leaderEpoch: e.leaderEpoch, metadata: e.metadata };
}
