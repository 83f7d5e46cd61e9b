// Kafka's classic group protocol: JoinGroup, SyncGroup, Heartbeat and LeaveGroup over the groups
// of one coordinator, with the timers that drive rebalances (initial delay, rebalance timeout,
// session timeouts, pending SyncGroups). Modelled on Kafka's GroupMetadataManager (the classic
// group part of the group coordinator): the same checks in the same order, so clients see the
// same error codes. A held JoinGroup or SyncGroup is a callback completed when the rebalance
// moves on; the coordinator wraps them in promises.

import { randomUUID } from 'node:crypto';
import type { Logger } from '../../../store/index.js';
import type {
  GroupErrorKind,
  GroupProtocol,
  HeartbeatRequest,
  HeartbeatResult,
  JoinRequest,
  JoinResult,
  LeaveRequest,
  LeaveResult,
  SyncRequest,
  SyncResult,
} from './api.js';
import type { GroupConfig } from './config.js';
import { type ClassicGroup, EMPTY_BYTES, Member, joinError, syncError } from './group.js';
import type { Scheduler } from './scheduler.js';

export interface MembershipContext {
  readonly config: GroupConfig;
  readonly scheduler: Scheduler;
  readonly logger: Logger;
  group(groupId: string): ClassicGroup | undefined;
  createGroup(groupId: string): ClassicGroup;
  /** The topics the group's members subscribe to, if its protocol says. */
  subscribedTopics(group: ClassicGroup): ReadonlySet<string> | undefined;
  /** A generation began (or the group became empty): persist what outlives members. */
  generationStarted(group: ClassicGroup): void;
}

type Respond<T> = (r: T) => void;

export class Membership {
  constructor(private readonly ctx: MembershipContext) {}

  // ---- JoinGroup ----

  join(req: JoinRequest, respond: Respond<JoinResult>): void {
    if (req.groupId === '') return respond(joinError(req.memberId, 'invalid-group-id'));
    const { minSessionTimeoutMs, maxSessionTimeoutMs } = this.ctx.config;
    if (req.sessionTimeoutMs < minSessionTimeoutMs || req.sessionTimeoutMs > maxSessionTimeoutMs) {
      return respond(joinError(req.memberId, 'invalid-session-timeout'));
    }
    const isNewMember = req.memberId === '';
    let group = this.ctx.group(req.groupId);
    if (!group) {
      // A known member id for a group that does not exist: the group is gone, start over.
      if (!isNewMember) return respond(joinError(req.memberId, 'unknown-member-id'));
      group = this.ctx.createGroup(req.groupId);
    }
    if (!this.acceptsJoiningMember(group, req.memberId)) {
      group.remove(req.memberId);
      respond(joinError('', 'group-max-size-reached'));
      this.maybeCompleteJoinPhase(group);
    } else if (isNewMember) this.joinNewMember(group, req, respond);
    else this.joinExistingMember(group, req, respond);
  }

  /** group.max.size: a rebalance counts members that rejoined, so the last ones are turned away. */
  private acceptsJoiningMember(group: ClassicGroup, memberId: string): boolean {
    const max = this.ctx.config.maxSize;
    switch (group.state) {
      case 'Empty':
      case 'Dead':
        return true;
      case 'PreparingRebalance':
        return group.members.get(memberId)?.awaitingJoin !== undefined || group.awaitingJoin < max;
      default:
        return group.members.has(memberId) || group.size < max;
    }
  }

  private joinNewMember(group: ClassicGroup, req: JoinRequest, respond: Respond<JoinResult>): void {
    const protocols = uniqueProtocols(req.protocols);
    if (!group.supportsProtocols(req.protocolType, protocols)) return respond(joinError('', 'inconsistent-group-protocol'));
    const instanceId = req.groupInstanceId ?? undefined;
    const newMemberId = `${instanceId ?? req.clientId}-${randomUUID()}`;
    if (instanceId !== undefined) {
      const existing = group.staticMembers.get(instanceId);
      if (existing !== undefined) return this.replaceStaticMember(group, req, protocols, existing, newMemberId, respond);
      return this.addMember(group, req, protocols, newMemberId, respond);
    }
    if (req.requireKnownMemberId) {
      // KIP-394: the member gets its id first and must rejoin with it; until then it is pending,
      // so a client that never comes back does not hold up a rebalance for long.
      group.pendingMembers.set(
        newMemberId,
        this.ctx.scheduler.setTimer(() => this.expirePendingMember(group, newMemberId), req.sessionTimeoutMs),
      );
      return respond(joinError(newMemberId, 'member-id-required'));
    }
    this.addMember(group, req, protocols, newMemberId, respond);
  }

  private joinExistingMember(group: ClassicGroup, req: JoinRequest, respond: Respond<JoinResult>): void {
    const memberId = req.memberId;
    const protocols = uniqueProtocols(req.protocols);
    if (!group.supportsProtocols(req.protocolType, protocols)) return respond(joinError(memberId, 'inconsistent-group-protocol'));
    if (group.pendingMembers.has(memberId)) {
      // Kafka treats this as a broken invariant (a pending member is never static).
      if (req.groupInstanceId != null) return respond(joinError(memberId, 'unknown-server-error'));
      return this.addMember(group, req, protocols, memberId, respond);
    }
    const invalid = memberError(group, memberId, req.groupInstanceId);
    if (invalid) return respond(joinError(memberId, invalid));
    const member = group.members.get(memberId) as Member;
    switch (group.state) {
      case 'PreparingRebalance':
        return this.updateMember(group, member, req, protocols, respond);
      case 'CompletingRebalance':
        // The same metadata again: it probably missed the JoinGroup response; send it again.
        if (member.matches(protocols)) return respond(this.generationInfo(group, memberId, group.isLeader(memberId)));
        return this.updateMember(group, member, req, protocols, respond);
      case 'Stable':
        // The leader rejoining forces a rebalance: that is how it reacts to changes (new
        // partitions) that do not show in its metadata.
        if (group.isLeader(memberId) || !member.matches(protocols)) return this.updateMember(group, member, req, protocols, respond);
        return respond(this.generationInfo(group, memberId, false));
      default:
        return respond(joinError(memberId, 'unknown-member-id'));
    }
  }

  private generationInfo(group: ClassicGroup, memberId: string, withMembers: boolean, leader = group.leaderId, skipAssignment = false): JoinResult {
    return {
      generationId: group.generationId,
      protocolType: group.protocolType ?? null,
      protocolName: group.protocolName ?? null,
      leader: leader ?? '',
      memberId,
      skipAssignment,
      members: withMembers ? group.joinedMembers() : [],
    };
  }

  private addMember(group: ClassicGroup, req: JoinRequest, protocols: readonly GroupProtocol[], memberId: string, respond: Respond<JoinResult>): void {
    const member = new Member({
      memberId,
      groupInstanceId: req.groupInstanceId ?? undefined,
      clientId: req.clientId,
      clientHost: req.clientHost,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      sessionTimeoutMs: req.sessionTimeoutMs,
      protocolType: req.protocolType,
      protocols,
    });
    member.isNew = true;
    // A member arriving during the initial delay earns the group a little more waiting.
    if (group.is('PreparingRebalance') && group.previousState === 'Empty') group.newMemberAdded = true;
    group.add(member, respond);
    // A new member cannot heartbeat while its JoinGroup is held, and a client that gave up on that
    // request would linger: so the join itself times out.
    this.scheduleHeartbeat(group, member, this.ctx.config.newMemberJoinTimeoutMs);
    this.maybePrepareRebalanceOrCompleteJoin(group);
  }

  private updateMember(group: ClassicGroup, member: Member, req: JoinRequest, protocols: readonly GroupProtocol[], respond: Respond<JoinResult>): void {
    // A second JoinGroup from the same member replaces the first, which gets an answer to retry.
    group.completeJoin(member, joinError(member.memberId, 'rebalance-in-progress'));
    group.updateMember(member, protocols, req.rebalanceTimeoutMs, req.sessionTimeoutMs, respond);
    this.maybePrepareRebalanceOrCompleteJoin(group);
  }

  /** KIP-345: a static member restarted (new member id, same instance id) takes over its old place. */
  private replaceStaticMember(
    group: ClassicGroup,
    req: JoinRequest,
    protocols: readonly GroupProtocol[],
    oldMemberId: string,
    newMemberId: string,
    respond: Respond<JoinResult>,
  ): void {
    const previousLeader = group.leaderId;
    const member = group.replaceStaticMember(req.groupInstanceId as string, oldMemberId, newMemberId);
    this.scheduleHeartbeat(group, member);
    group.updateMember(member, protocols, req.rebalanceTimeoutMs, req.sessionTimeoutMs, respond);
    switch (group.state) {
      case 'Stable':
        if (group.protocolName !== group.selectProtocol()) return this.maybePrepareRebalanceOrCompleteJoin(group);
        // No rebalance: the member keeps its assignment under the new id.
        if (req.supportsSkipAssignment) {
          const isLeader = group.isLeader(newMemberId);
          group.completeJoin(member, this.generationInfo(group, newMemberId, isLeader, group.leaderId, isLeader));
        } else {
          // Older clients: naming the previous leader id keeps a returning leader from assigning
          // (a stable group would not pass its new assignment on).
          group.completeJoin(member, this.generationInfo(group, newMemberId, false, previousLeader));
        }
        return;
      case 'CompletingRebalance':
        // The leader may be assigning to the old member id: start over.
        return this.prepareRebalance(group);
      default:
        return this.maybeCompleteJoinPhase(group);
    }
  }

  // ---- rebalancing ----

  private maybePrepareRebalanceOrCompleteJoin(group: ClassicGroup): void {
    if (group.canRebalance) this.prepareRebalance(group);
    else this.maybeCompleteJoinPhase(group);
  }

  private prepareRebalance(group: ClassicGroup): void {
    if (group.is('CompletingRebalance')) this.propagateAssignmentError(group, 'rebalance-in-progress');
    this.cancelPendingSync(group);
    const initial = group.is('Empty');
    group.transitionTo('PreparingRebalance', this.now());
    if (initial) {
      // group.initial.rebalance.delay.ms: give the other members of a starting group a moment.
      const delayMs = this.ctx.config.initialRebalanceDelayMs;
      const remainingMs = Math.max(group.rebalanceTimeoutMs - delayMs, 0);
      this.setJoinTimer(group, delayMs, () => this.initialDelayPassed(group, delayMs, remainingMs));
    } else if (group.allJoined) this.completeJoin(group);
    else this.setJoinTimer(group, group.rebalanceTimeoutMs, () => this.completeJoin(group));
  }

  private initialDelayPassed(group: ClassicGroup, delayMs: number, remainingMs: number): void {
    if (!this.isLive(group)) return;
    if (group.newMemberAdded && remainingMs !== 0) {
      group.newMemberAdded = false;
      const nextDelayMs = Math.min(this.ctx.config.initialRebalanceDelayMs, remainingMs);
      const nextRemainingMs = Math.max(remainingMs - delayMs, 0);
      this.setJoinTimer(group, nextDelayMs, () => this.initialDelayPassed(group, nextDelayMs, nextRemainingMs));
    } else this.completeJoin(group);
  }

  /** Completes the join phase early once everyone rejoined (never during the initial delay). */
  private maybeCompleteJoinPhase(group: ClassicGroup): void {
    if (group.is('PreparingRebalance') && group.previousState !== 'Empty' && group.allJoined) this.completeJoin(group);
  }

  /** Ends the join phase: members that did not rejoin are dropped and a new generation starts. */
  private completeJoin(group: ClassicGroup): void {
    group.joinTimer?.cancel();
    group.joinTimer = undefined;
    if (!this.isLive(group) || !group.is('PreparingRebalance')) return;
    // Static members keep their place: their session timeout decides.
    for (const m of group.notYetRejoined()) if (!m.isStatic) group.remove(m.memberId);
    if (!group.electJoinedLeader() && group.size > 0) {
      // Nobody rejoined: wait another rebalance timeout, until sessions expire the silent members.
      this.ctx.logger.warn('consumer group could not complete a rebalance: no member rejoined', { groupId: group.groupId });
      this.setJoinTimer(group, group.rebalanceTimeoutMs, () => this.completeJoin(group));
      return;
    }
    group.initNextGeneration(this.now(), () => this.ctx.subscribedTopics(group));
    this.ctx.generationStarted(group);
    if (group.is('Empty')) return;
    for (const member of [...group.members.values()]) {
      group.completeJoin(member, this.generationInfo(group, member.memberId, group.isLeader(member.memberId)));
      this.scheduleHeartbeat(group, member);
      member.isNew = false;
      group.pendingSync.add(member.memberId);
    }
    // Members that never send SyncGroup are dropped after the rebalance timeout.
    const generationId = group.generationId;
    group.syncTimer?.cancel();
    group.syncTimer = this.ctx.scheduler.setTimer(() => this.pendingSyncExpired(group, generationId), group.rebalanceTimeoutMs);
  }

  private pendingSyncExpired(group: ClassicGroup, generationId: number): void {
    group.syncTimer = undefined;
    if (!this.isLive(group) || group.generationId !== generationId) return;
    if (!(group.is('CompletingRebalance') || group.is('Stable')) || group.pendingSync.size === 0) return;
    for (const memberId of [...group.pendingSync]) group.remove(memberId);
    this.prepareRebalance(group);
  }

  private cancelPendingSync(group: ClassicGroup): void {
    group.pendingSync.clear();
    group.syncTimer?.cancel();
    group.syncTimer = undefined;
  }

  private setJoinTimer(group: ClassicGroup, delayMs: number, fn: () => void): void {
    group.joinTimer?.cancel();
    group.joinTimer = this.ctx.scheduler.setTimer(fn, delayMs);
  }

  // ---- SyncGroup ----

  sync(req: SyncRequest, respond: Respond<SyncResult>): void {
    if (req.groupId === '') return respond(syncError('invalid-group-id'));
    const group = this.ctx.group(req.groupId);
    if (!group || group.is('Empty')) return respond(syncError('unknown-member-id'));
    const invalid =
      memberError(group, req.memberId, req.groupInstanceId) ??
      (req.generationId !== group.generationId ? 'illegal-generation' : undefined) ??
      (req.protocolType != null && req.protocolType !== group.protocolType ? 'inconsistent-group-protocol' : undefined) ??
      (req.protocolName != null && req.protocolName !== group.protocolName ? 'inconsistent-group-protocol' : undefined);
    if (invalid) return respond(syncError(invalid));
    const member = group.members.get(req.memberId) as Member;
    switch (group.state) {
      case 'PreparingRebalance':
        return respond(syncError('rebalance-in-progress'));
      case 'CompletingRebalance':
        member.completeSync(syncError('rebalance-in-progress')); // a repeated SyncGroup replaces the first
        member.awaitingSync = respond;
        this.syncReceived(group, req.memberId);
        if (group.isLeader(req.memberId)) this.leaderAssigned(group, req.assignments);
        return;
      default:
        // Stable: the assignment of this generation.
        this.syncReceived(group, req.memberId);
        respond({ protocolType: group.protocolType ?? null, protocolName: group.protocolName ?? null, assignment: member.assignment });
        this.scheduleHeartbeat(group, member);
    }
  }

  private syncReceived(group: ClassicGroup, memberId: string): void {
    group.pendingSync.delete(memberId);
    if (group.pendingSync.size === 0) {
      group.syncTimer?.cancel();
      group.syncTimer = undefined;
    }
  }

  /** The leader's assignment ends the rebalance: every held SyncGroup gets its part. */
  private leaderAssigned(group: ClassicGroup, assignments: SyncRequest['assignments']): void {
    const byMember = new Map<string, Buffer>();
    for (const a of assignments) byMember.set(a.memberId, a.assignment);
    for (const m of group.members.values()) m.assignment = byMember.get(m.memberId) ?? EMPTY_BYTES;
    const protocolType = group.protocolType ?? null;
    const protocolName = group.protocolName ?? null;
    for (const m of group.members.values()) {
      // Its session restarts from here: expiries while it waited on the leader were ignored.
      if (m.completeSync({ protocolType, protocolName, assignment: m.assignment })) this.scheduleHeartbeat(group, m);
    }
    group.transitionTo('Stable', this.now());
  }

  private propagateAssignmentError(group: ClassicGroup, error: GroupErrorKind): void {
    for (const m of group.members.values()) {
      m.assignment = EMPTY_BYTES;
      if (m.completeSync(syncError(error))) this.scheduleHeartbeat(group, m);
    }
  }

  // ---- Heartbeat ----

  heartbeat(req: HeartbeatRequest): HeartbeatResult {
    if (req.groupId === '') return { error: 'invalid-group-id' };
    const group = this.ctx.group(req.groupId);
    if (!group) return { error: 'unknown-member-id' };
    const invalid = memberError(group, req.memberId, req.groupInstanceId) ?? (req.generationId !== group.generationId ? 'illegal-generation' : undefined);
    if (invalid) return { error: invalid };
    if (group.is('Empty')) return { error: 'unknown-member-id' };
    this.scheduleHeartbeat(group, group.members.get(req.memberId) as Member);
    // Heartbeats are how members learn of a rebalance: they answer by rejoining.
    return group.is('PreparingRebalance') ? { error: 'rebalance-in-progress' } : {};
  }

  /** The member showed it is alive (an offset commit counts): its session starts over. */
  touch(group: ClassicGroup, member: Member): void {
    this.scheduleHeartbeat(group, member);
  }

  private scheduleHeartbeat(group: ClassicGroup, member: Member, timeoutMs = member.sessionTimeoutMs): void {
    member.heartbeatTimer?.cancel();
    member.heartbeatTimer = this.ctx.scheduler.setTimer(() => this.heartbeatExpired(group, member), timeoutMs);
  }

  private heartbeatExpired(group: ClassicGroup, member: Member): void {
    member.heartbeatTimer = undefined;
    if (!this.isLive(group) || group.members.get(member.memberId) !== member) return;
    // A member held in the rebalance cannot heartbeat: its session restarts when it is answered.
    if (member.heartbeatSatisfied) return;
    this.removeMember(group, member);
    this.afterRemoval(group);
  }

  private expirePendingMember(group: ClassicGroup, memberId: string): void {
    if (!this.isLive(group) || !group.pendingMembers.has(memberId)) return;
    group.pendingMembers.delete(memberId);
    this.maybeCompleteJoinPhase(group);
  }

  // ---- LeaveGroup ----

  leave(req: LeaveRequest): LeaveResult {
    if (req.groupId === '') return { error: 'invalid-group-id', members: [] };
    const group = this.ctx.group(req.groupId);
    if (!group) return { error: 'unknown-member-id', members: [] };
    let left = 0;
    const members = req.members.map((m) => {
      const error = this.leaveOne(group, m.memberId, m.groupInstanceId ?? undefined);
      if (!error) left++;
      return { memberId: m.memberId, groupInstanceId: m.groupInstanceId ?? null, ...(error ? { error } : {}) };
    });
    if (left > 0) this.afterRemoval(group);
    return { members };
  }

  private leaveOne(group: ClassicGroup, memberId: string, instanceId: string | undefined): GroupErrorKind | undefined {
    if (memberId === '') {
      // An admin removing a static member by its instance id.
      const current = instanceId === undefined ? undefined : group.staticMembers.get(instanceId);
      if (current === undefined) return 'unknown-member-id';
      this.removeMember(group, group.members.get(current) as Member);
      return undefined;
    }
    if (group.pendingMembers.has(memberId)) {
      group.remove(memberId);
      return undefined;
    }
    const invalid = memberError(group, memberId, instanceId);
    if (invalid) return invalid;
    this.removeMember(group, group.members.get(memberId) as Member);
    return undefined;
  }

  /** Drops a member, answering its held requests so the client retries from scratch. */
  private removeMember(group: ClassicGroup, member: Member): void {
    group.completeJoin(member, joinError('', 'unknown-member-id'));
    member.completeSync(syncError('unknown-member-id'));
    group.remove(member.memberId);
  }

  /** After members left: a stable group rebalances, a rebalancing one may be complete now. */
  private afterRemoval(group: ClassicGroup): void {
    if (group.is('Stable') || group.is('CompletingRebalance')) this.maybePrepareRebalanceOrCompleteJoin(group);
    else this.maybeCompleteJoinPhase(group);
  }

  // ---- lifecycle ----

  /** Stops every timer of the group and answers its held requests with `error`. */
  shutDown(group: ClassicGroup, error: GroupErrorKind): void {
    group.joinTimer?.cancel();
    group.syncTimer?.cancel();
    group.joinTimer = group.syncTimer = undefined;
    for (const t of group.pendingMembers.values()) t.cancel();
    group.pendingMembers.clear();
    for (const m of group.members.values()) {
      m.heartbeatTimer?.cancel();
      m.heartbeatTimer = undefined;
      group.completeJoin(m, joinError(m.memberId, error));
      m.completeSync(syncError(error));
    }
  }

  private isLive(group: ClassicGroup): boolean {
    return this.ctx.group(group.groupId) === group;
  }

  private now(): number {
    return this.ctx.scheduler.now();
  }
}

/**
 * Kafka's member validation: a static member's instance id must map to this member id (another id
 * means a newer incarnation took over: FENCED_INSTANCE_ID), and the member must exist.
 */
export function memberError(group: ClassicGroup, memberId: string, groupInstanceId: string | null | undefined): GroupErrorKind | undefined {
  if (groupInstanceId != null) {
    const current = group.staticMembers.get(groupInstanceId);
    if (current === undefined) return 'unknown-member-id';
    if (current !== memberId) return 'fenced-instance-id';
  }
  return group.members.has(memberId) ? undefined : 'unknown-member-id';
}

/** A protocol listed twice counts once (the first listing, which carries the preference). */
function uniqueProtocols(protocols: readonly GroupProtocol[]): GroupProtocol[] {
  const seen = new Set<string>();
  const out: GroupProtocol[] = [];
  for (const p of protocols) {
    if (seen.has(p.name)) continue;
    seen.add(p.name);
    out.push({ name: p.name, metadata: Buffer.from(p.metadata) });
  }
  return out;
}
