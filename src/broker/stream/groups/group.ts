// One consumer group's membership state in Kafka's "classic" group protocol: members, the leader,
// the generation, the protocol the group runs, and the state machine:
//
//   Empty -> PreparingRebalance        a member joins
//   PreparingRebalance -> CompletingRebalance   every member rejoined, or the rebalance timeout
//                                      passed (a new generation; the leader gets all metadata)
//   PreparingRebalance -> Empty        nobody is left
//   CompletingRebalance -> Stable      the leader's SyncGroup brings the assignment
//   CompletingRebalance, Stable -> PreparingRebalance   a join, leave or session expiry
//
// (Dead is a deleted group; it never stays in the coordinator.) Plain data and its invariants only:
// membership.ts decides when things happen and runs the timers.

import type { GroupErrorKind, GroupProtocol, JoinResult, JoinedMember, SyncResult } from './api.js';
import type { TimerHandle } from './scheduler.js';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export const EMPTY_BYTES = Buffer.alloc(0);

export function joinError(memberId: string, error: GroupErrorKind): JoinResult {
  return { error, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId, skipAssignment: false, members: [] };
}

export function syncError(error: GroupErrorKind): SyncResult {
  return { error, protocolType: null, protocolName: null, assignment: EMPTY_BYTES };
}

export interface MemberInit {
  readonly memberId: string;
  readonly groupInstanceId: string | undefined;
  readonly clientId: string;
  readonly clientHost: string;
  readonly rebalanceTimeoutMs: number;
  readonly sessionTimeoutMs: number;
  readonly protocolType: string;
  readonly protocols: readonly GroupProtocol[];
}

export class Member {
  memberId: string;
  readonly groupInstanceId: string | undefined;
  readonly clientId: string;
  readonly clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  readonly protocolType: string;
  protocols: readonly GroupProtocol[];
  assignment: Buffer = EMPTY_BYTES;
  /** Joined in this rebalance: it may be expired even while its JoinGroup is held. */
  isNew = false;
  /** Its JoinGroup is held until the rebalance completes. */
  awaitingJoin: ((r: JoinResult) => void) | undefined;
  /** Its SyncGroup is held until the leader's assignment arrives. */
  awaitingSync: ((r: SyncResult) => void) | undefined;
  heartbeatTimer: TimerHandle | undefined;

  constructor(m: MemberInit) {
    this.memberId = m.memberId;
    this.groupInstanceId = m.groupInstanceId;
    this.clientId = m.clientId;
    this.clientHost = m.clientHost;
    this.rebalanceTimeoutMs = m.rebalanceTimeoutMs;
    this.sessionTimeoutMs = m.sessionTimeoutMs;
    this.protocolType = m.protocolType;
    this.protocols = m.protocols;
  }

  get isStatic(): boolean {
    return this.groupInstanceId !== undefined;
  }

  /**
   * Whether a session expiry now leaves it in the group: a member waiting on the rebalance cannot
   * heartbeat (its request is held), unless it is new (it may have given up on that request).
   */
  get heartbeatSatisfied(): boolean {
    return !this.isNew && (this.awaitingJoin !== undefined || this.awaitingSync !== undefined);
  }

  metadata(protocolName: string): Buffer {
    const p = this.protocols.find((x) => x.name === protocolName);
    if (!p) throw new Error(`member ${this.memberId} does not support protocol ${protocolName}`);
    return p.metadata;
  }

  /** Same protocols, in the same order, with the same metadata. */
  matches(protocols: readonly GroupProtocol[]): boolean {
    if (protocols.length !== this.protocols.length) return false;
    return protocols.every((p, i) => p.name === this.protocols[i].name && p.metadata.equals(this.protocols[i].metadata));
  }

  /** Its most preferred protocol among the candidates (protocols are listed by preference). */
  vote(candidates: ReadonlySet<string>): string {
    const p = this.protocols.find((x) => candidates.has(x.name));
    if (!p) throw new Error(`member ${this.memberId} supports none of the candidate protocols`);
    return p.name;
  }

  /** Completes a held JoinGroup; false if none was held. */
  completeJoin(r: JoinResult): boolean {
    const cb = this.awaitingJoin;
    if (!cb) return false;
    this.awaitingJoin = undefined;
    cb(r);
    return true;
  }

  /** Completes a held SyncGroup; false if none was held. */
  completeSync(r: SyncResult): boolean {
    const cb = this.awaitingSync;
    if (!cb) return false;
    this.awaitingSync = undefined;
    cb(r);
    return true;
  }
}

const ALLOWED_FROM: Record<GroupState, readonly GroupState[]> = {
  Empty: ['PreparingRebalance'],
  PreparingRebalance: ['Empty', 'CompletingRebalance', 'Stable'],
  CompletingRebalance: ['PreparingRebalance'],
  Stable: ['CompletingRebalance'],
  Dead: ['Empty', 'PreparingRebalance', 'CompletingRebalance', 'Stable', 'Dead'],
};

export class ClassicGroup {
  state: GroupState = 'Empty';
  previousState: GroupState = 'Empty';
  /** When the group entered its current state (retention counts from when it became Empty). */
  stateSinceMs: number;
  /** undefined: a group that only stores offsets (a "simple" group), or never had a member. */
  protocolType: string | undefined;
  protocolName: string | undefined;
  generationId = 0;
  leaderId: string | undefined;
  readonly members = new Map<string, Member>();
  /** group.instance.id -> member id. */
  readonly staticMembers = new Map<string, string>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, not joined yet. */
  readonly pendingMembers = new Map<string, TimerHandle>();
  /** Members of this generation that have not sent SyncGroup yet. */
  readonly pendingSync = new Set<string>();
  /** Topics the members subscribe to, when the protocol says (undefined: not known). */
  subscribedTopics: ReadonlySet<string> | undefined;
  /** A member joined during the initial rebalance delay: wait a little longer. */
  newMemberAdded = false;
  joinTimer: TimerHandle | undefined;
  syncTimer: TimerHandle | undefined;
  private awaitingJoinCount = 0;
  /** protocol name -> how many members support it. */
  private readonly protocolVotes = new Map<string, number>();

  constructor(
    readonly groupId: string,
    nowMs: number,
  ) {
    this.stateSinceMs = nowMs;
  }

  is(state: GroupState): boolean {
    return this.state === state;
  }

  transitionTo(state: GroupState, nowMs: number): void {
    if (!ALLOWED_FROM[state].includes(this.state)) throw new Error(`group ${this.groupId}: no transition from ${this.state} to ${state}`);
    this.previousState = this.state;
    this.state = state;
    this.stateSinceMs = nowMs;
  }

  /** PreparingRebalance may start from here. */
  get canRebalance(): boolean {
    return ALLOWED_FROM.PreparingRebalance.includes(this.state);
  }

  get size(): number {
    return this.members.size;
  }

  get awaitingJoin(): number {
    return this.awaitingJoinCount;
  }

  isLeader(memberId: string): boolean {
    return this.leaderId === memberId;
  }

  /** The longest rebalance timeout of the members: how long a rebalance waits for rejoins. */
  get rebalanceTimeoutMs(): number {
    let ms = 0;
    for (const m of this.members.values()) ms = Math.max(ms, m.rebalanceTimeoutMs);
    return ms;
  }

  get allJoined(): boolean {
    return this.members.size === this.awaitingJoinCount && this.pendingMembers.size === 0;
  }

  add(member: Member, onJoin: ((r: JoinResult) => void) | undefined): void {
    if (member.groupInstanceId !== undefined) {
      if (this.staticMembers.has(member.groupInstanceId)) throw new Error(`static member ${member.groupInstanceId} is already in the group`);
      this.staticMembers.set(member.groupInstanceId, member.memberId);
    }
    if (this.members.size === 0) this.protocolType = member.protocolType;
    this.leaderId ??= member.memberId;
    this.members.set(member.memberId, member);
    this.countVotes(member, 1);
    member.awaitingJoin = onJoin;
    if (onJoin) this.awaitingJoinCount++;
    this.pendingMembers.get(member.memberId)?.cancel();
    this.pendingMembers.delete(member.memberId);
  }

  remove(memberId: string): void {
    const member = this.members.get(memberId);
    if (member) {
      this.members.delete(memberId);
      this.countVotes(member, -1);
      if (member.awaitingJoin) this.awaitingJoinCount--;
      if (member.groupInstanceId !== undefined) this.staticMembers.delete(member.groupInstanceId);
      member.heartbeatTimer?.cancel();
      member.heartbeatTimer = undefined;
    }
    if (this.isLeader(memberId)) this.leaderId = this.members.keys().next().value;
    this.pendingMembers.get(memberId)?.cancel();
    this.pendingMembers.delete(memberId);
    this.pendingSync.delete(memberId);
  }

  /** Replaces a member's protocols and timeouts; `onJoin` holds (or, undefined, releases) its JoinGroup. */
  updateMember(
    member: Member,
    protocols: readonly GroupProtocol[],
    rebalanceTimeoutMs: number,
    sessionTimeoutMs: number,
    onJoin: ((r: JoinResult) => void) | undefined,
  ): void {
    this.countVotes(member, -1);
    member.protocols = protocols;
    this.countVotes(member, 1);
    member.rebalanceTimeoutMs = rebalanceTimeoutMs;
    member.sessionTimeoutMs = sessionTimeoutMs;
    if (onJoin && !member.awaitingJoin) this.awaitingJoinCount++;
    else if (!onJoin && member.awaitingJoin) this.awaitingJoinCount--;
    member.awaitingJoin = onJoin;
  }

  /** Completes a member's held JoinGroup (keeping the count of held joins right). */
  completeJoin(member: Member, r: JoinResult): void {
    if (member.completeJoin(r)) this.awaitingJoinCount--;
  }

  /**
   * A static member came back with a new member id: the old id's held requests are fenced and
   * the member (assignment, leadership) continues under the new id.
   */
  replaceStaticMember(groupInstanceId: string, oldMemberId: string, newMemberId: string): Member {
    const member = this.members.get(oldMemberId);
    if (!member) throw new Error(`no member ${oldMemberId} to replace`);
    this.members.delete(oldMemberId);
    this.completeJoin(member, joinError(oldMemberId, 'fenced-instance-id'));
    member.completeSync(syncError('fenced-instance-id'));
    member.memberId = newMemberId;
    this.members.set(newMemberId, member);
    if (this.isLeader(oldMemberId)) this.leaderId = newMemberId;
    this.staticMembers.set(groupInstanceId, newMemberId);
    if (this.pendingSync.delete(oldMemberId)) this.pendingSync.add(newMemberId);
    return member;
  }

  /**
   * Whether a member may join: a new member id (or protocol) must be supported by all current
   * members, and in an empty group it needs a protocol type and at least one protocol.
   */
  supportsProtocols(protocolType: string, protocols: readonly GroupProtocol[]): boolean {
    if (this.is('Empty')) return protocolType !== '' && protocols.length > 0;
    return this.protocolType === protocolType && protocols.some((p) => (this.protocolVotes.get(p.name) ?? 0) === this.members.size);
  }

  /** The protocol every member supports that most members prefer. */
  selectProtocol(): string {
    const candidates = new Set<string>();
    for (const [name, n] of this.protocolVotes) if (n === this.members.size) candidates.add(name);
    const votes = new Map<string, number>();
    for (const m of this.members.values()) {
      const name = m.vote(candidates);
      votes.set(name, (votes.get(name) ?? 0) + 1);
    }
    let best: string | undefined;
    let bestVotes = -1;
    for (const [name, n] of votes) {
      if (n > bestVotes) {
        best = name;
        bestVotes = n;
      }
    }
    if (best === undefined) throw new Error(`group ${this.groupId} has no members to select a protocol`);
    return best;
  }

  /**
   * The leader did not rejoin in time: any member that did becomes the leader. False when nobody
   * rejoined (the rebalance then waits longer).
   */
  electJoinedLeader(): boolean {
    if (this.leaderId === undefined) return false;
    const leader = this.members.get(this.leaderId);
    if (leader?.awaitingJoin) return true;
    for (const m of this.members.values()) {
      if (m.awaitingJoin) {
        this.leaderId = m.memberId;
        return true;
      }
    }
    return false;
  }

  /** Members of this generation that did not rejoin. */
  notYetRejoined(): Member[] {
    return [...this.members.values()].filter((m) => !m.awaitingJoin);
  }

  /** Next generation: CompletingRebalance with the members that rejoined, or Empty with none. */
  initNextGeneration(nowMs: number, subscribedTopics: () => ReadonlySet<string> | undefined): void {
    this.generationId++;
    if (this.members.size > 0) {
      this.protocolName = this.selectProtocol();
      this.transitionTo('CompletingRebalance', nowMs);
    } else {
      this.protocolName = undefined;
      this.transitionTo('Empty', nowMs);
    }
    this.subscribedTopics = subscribedTopics();
    this.pendingSync.clear();
  }

  /** The members with their metadata for the chosen protocol: what the leader assigns from. */
  joinedMembers(): JoinedMember[] {
    const name = this.protocolName;
    if (name === undefined) return [];
    return [...this.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId ?? null, metadata: m.metadata(name) }));
  }

  private countVotes(member: Member, delta: number): void {
    for (const p of member.protocols) {
      const n = (this.protocolVotes.get(p.name) ?? 0) + delta;
      if (n > 0) this.protocolVotes.set(p.name, n);
      else this.protocolVotes.delete(p.name);
    }
  }
}
