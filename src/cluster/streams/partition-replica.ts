// One replicated stream partition on one node (docs/cluster.md, "Streams: the data plane"):
// as leader it keeps each follower's log end, the in-sync replica set (written fenced to etcd
// before it counts) and the high watermark; as follower it fetches the leader's log, appends
// the batches with their offsets unchanged and fsyncs before its next fetch reports them.

import { dirname } from 'node:path';
import { StreamError } from '../../broker/stream/errors.js';
import type { Partition } from '../../broker/stream/partition.js';
import { ReplicationError } from '../../broker/stream/replication.js';
import { takesWrites } from '../../store/disk.js';
import { monotonicNow } from '../../util/clock.js';
import type { Logger } from '../../util/logger.js';
import type { Term } from '../election.js';
import type { ReplicaSession } from './fetcher.js';

interface Waiter {
  readonly offset: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

interface FollowerProgress {
  /** Its last fetch offset: its log end on disk. */
  leo: number;
  /** The leader's log end when that fetch came (Kafka's lastFetchLeaderLogEndOffset). */
  leaderLeoAtFetch: number;
  /** When it last had everything the leader had (Kafka's lastCaughtUpTimeMs). */
  caughtUpMs: number;
}

/** What a replica needs of the node around it. */
export interface ReplicaHost {
  /** The local partition (a new object after reset()). */
  partition(): Partition | undefined;
  /** Empties the local partition (its files go), marked behind first; it fetches everything again. */
  reset(): Promise<void>;
  /** The partition's leader epochs and the offset each began at, oldest first (state/<resource>/epochs). */
  history(): Promise<readonly (readonly [number, number])[]>;
  /** Follower side: this copy holds everything its leader had committed when it answered. */
  caughtUp(): void;
}

export interface LeaderLink {
  readonly node: string;
  readonly host: string;
  readonly port: number;
  readonly epoch: number;
}

const FOLLOWER_WAIT_MS = 500;
/** Where a v2 record batch holds the epoch of the leader that appended it (Kafka's partitionLeaderEpoch). */
export const PARTITION_LEADER_EPOCH_AT = 12;
const FOLLOWER_RETRY_MS = 200;
/** How often a replica whose disk filled up checks whether it takes writes again. */
export const DISK_RETRY_MS = 1000;
/** What "takes writes again" means: this much more, written and fsync'd. */
export const DISK_PROBE_BYTES = 1 << 20;

export class PartitionReplica {
  /** As leader: the term; undefined as follower. */
  term: Term | undefined;
  /** The in-sync replicas as last written to etcd (or read from it). */
  isr: string[];
  /** The high watermark: as leader computed, as follower the leader's last answer. */
  hw = 0;
  private readonly progress = new Map<string, FollowerProgress>();
  private waiters: Waiter[] = [];
  private isrWriting = false;
  /** The ISR this term counts is the one in etcd (false until the first write of a first term). */
  private isrWritten = false;
  /** The follower loop's leader, while one runs. */
  private following: LeaderLink | undefined;
  private session: ReplicaSession | undefined;
  private closed = false;
  /** The nodes that hold this partition; the first is the preferred leader (a reassignment changes them). */
  replicas: readonly string[];

  constructor(
    readonly self: string,
    readonly path: string,
    readonly vhost: string,
    readonly stream: string,
    readonly index: number,
    replicas: readonly string[],
    private readonly host: ReplicaHost,
    private readonly logger: Logger,
  ) {
    this.replicas = [...replicas];
    this.isr = [...replicas];
    // Until this replica learns the high watermark, its committed reads see nothing.
    host.partition()?.setReplicatedHighWatermark(0);
  }

  /**
   * A reassignment changed the replicas (docs/cluster.md, "Reassignment"). As leader: a new
   * replica is tracked from its first fetch and joins the ISR once it has everything; a removed
   * one leaves the ISR at the next check (written to etcd first, as any ISR change).
   */
  setReplicas(replicas: readonly string[]): void {
    for (const r of replicas) {
      if (r !== this.self && !this.progress.has(r) && this.leading) this.progress.set(r, { leo: 0, leaderLeoAtFetch: 0, caughtUpMs: Number.NEGATIVE_INFINITY });
    }
    for (const r of this.replicas) if (!replicas.includes(r)) this.progress.delete(r);
    this.replicas = [...replicas];
    if (!this.leading) this.isr = this.isr.filter((r) => replicas.includes(r));
  }

  /** This node's copy of the partition (a new object after a reset). */
  local(): Partition | undefined {
    return this.host.partition();
  }

  get minInsync(): number {
    return Math.min(2, this.replicas.length);
  }

  get leading(): boolean {
    return this.term?.active === true;
  }

  /** As leader: the partition's epochs and their start offsets, this term's last. */
  private history: readonly (readonly [number, number])[] = [];

  /** This node became leader: start from the high watermark it knew, with the ISR etcd holds. */
  becomeLeader(term: Term, isr: readonly string[] | undefined, history: readonly (readonly [number, number])[]): void {
    this.stopFollowing();
    this.term = term;
    this.history = history;
    this.isr = isr !== undefined ? [...isr] : [...this.replicas];
    this.isrWritten = isr !== undefined;
    this.progress.clear();
    const now = monotonicNow();
    // Followers count as caught up from the start of the term until they show otherwise.
    for (const r of this.replicas) if (r !== this.self) this.progress.set(r, { leo: 0, leaderLeoAtFetch: 0, caughtUpMs: now });
    term.once('ended', () => {
      if (this.term !== term) return;
      this.term = undefined;
      this.failWaiters(new ReplicationError('not-leader', `this node no longer leads ${this.path}`));
    });
  }

  /** A follower fetched from `offset` (leader side). */
  followerFetched(node: string, offset: number): void {
    const p = this.host.partition();
    if (!this.leading || p === undefined) return;
    const leo = p.highWatermark; // the leader's log end on disk
    const prev = this.progress.get(node) ?? { leo: 0, leaderLeoAtFetch: 0, caughtUpMs: 0 };
    const now = monotonicNow();
    if (offset < prev.leo) {
      // Its log went backwards (a wiped or replaced data dir): out of the ISR at the next tick.
      this.logger.warn('a follower\'s log end went backwards; it leaves the in-sync replicas', { partition: this.path, follower: node, was: prev.leo, now: offset });
      prev.caughtUpMs = Number.NEGATIVE_INFINITY;
    } else if (offset >= leo) prev.caughtUpMs = now;
    else if (offset >= prev.leaderLeoAtFetch) prev.caughtUpMs = Math.max(prev.caughtUpMs, now);
    prev.leo = offset;
    prev.leaderLeoAtFetch = leo;
    this.progress.set(node, prev);
    this.advance();
  }

  /** Recomputes the high watermark over the ISR (leader side) and wakes what waited for it. */
  advance(): void {
    const p = this.host.partition();
    if (!this.leading || p === undefined) return;
    let low = p.highWatermark;
    for (const r of this.isr) {
      // A replica a reassignment removed no longer counts (it never campaigns again).
      if (r === this.self || !this.replicas.includes(r)) continue;
      low = Math.min(low, this.progress.get(r)?.leo ?? 0);
    }
    if (low <= this.hw) return;
    this.hw = low;
    p.setReplicatedHighWatermark(low);
    this.waiters = this.waiters.filter((w) => {
      if (w.offset >= this.hw) return true;
      clearTimeout(w.timer);
      w.resolve();
      return false;
    });
  }

  /** Kafka's OffsetsForLeaderEpoch answer (leader side). */
  epochEnd(epoch: number): { epoch: number; endOffset: number } {
    const p = this.host.partition();
    let found = -1;
    for (let i = 0; i < this.history.length; i++) if (this.history[i][0] <= epoch) found = i;
    if (found < 0 || p === undefined) return { epoch: -1, endOffset: -1 };
    const next = this.history[found + 1];
    return { epoch: this.history[found][0], endOffset: next === undefined ? p.logEndOffset : next[1] };
  }

  checkInSync(): void {
    if (!this.leading) throw new ReplicationError('not-leader', `this node does not lead ${this.path}`);
    if (this.isr.length < this.minInsync) {
      throw new ReplicationError(
        'not-enough-replicas',
        `The size of the current ISR ${this.isr.length} is insufficient to satisfy the min.isr requirement of ${this.minInsync} for partition ${this.stream}-${this.index}`,
      );
    }
  }

  /** Resolves once the high watermark is past `offset`. */
  committed(offset: number, timeoutMs: number): Promise<void> {
    if (!this.leading) return Promise.reject(new ReplicationError('not-leader', `this node does not lead ${this.path}`));
    // The batch is on the leader's disk by now: with an ISR of the leader alone that commits it.
    this.advance();
    if (this.hw > offset) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new ReplicationError('timeout', `the in-sync replicas of ${this.stream}-${this.index} did not take offset ${offset} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push({ offset, resolve, reject, timer });
    });
  }

  /**
   * Leader side, on a timer: drops followers that are down or lagged past `lagMs` from the ISR
   * and adds those caught up. The change is written fenced to etcd first and counts only then,
   * so a new leader is always chosen among replicas that had every committed record.
   */
  maintainIsr(live: ReadonlySet<string>, lagMs: number): void {
    const p = this.host.partition();
    const term = this.term;
    if (!this.leading || term === undefined || p === undefined || this.isrWriting) return;
    const now = monotonicNow();
    const next = this.replicas.filter((r) => {
      if (r === this.self) return true;
      const f = this.progress.get(r);
      if (!live.has(r) || f === undefined) return false;
      if (this.isr.includes(r)) return now - f.caughtUpMs <= lagMs;
      return f.leo >= p.highWatermark; // rejoins once it has everything the leader has
    });
    if (this.isrWritten && next.length === this.isr.length && next.every((r) => this.isr.includes(r))) return;
    this.isrWriting = true;
    term
      .write('isr', JSON.stringify(next))
      .then(() => {
        this.logger.info('in-sync replicas changed', { partition: this.path, epoch: term.epoch, from: this.isr, to: next });
        this.isr = next;
        this.isrWritten = true;
        this.advance();
      })
      .catch((err: unknown) => this.logger.warn('could not write the in-sync replicas', { partition: this.path, error: (err as Error).message }))
      .finally(() => {
        this.isrWriting = false;
      });
  }

  /** Follower side: fetch from this leader until it changes (idempotent for the same leader). */
  follow(leader: LeaderLink, session: () => ReplicaSession, replicaId: number): void {
    if (this.closed || this.leading) return;
    const f = this.following;
    if (f !== undefined && f.node === leader.node && f.epoch === leader.epoch && f.port === leader.port) return;
    this.stopFollowing();
    this.following = leader;
    this.session = session();
    void this.fetchLoop(leader, this.session, replicaId);
  }

  stopFollowing(): void {
    this.following = undefined;
    this.session?.close();
    this.session = undefined;
  }

  close(): void {
    this.closed = true;
    this.stopFollowing();
    this.failWaiters(new ReplicationError('not-leader', `${this.path} is closing`));
  }

  /**
   * Kafka's follower truncation (OffsetsForLeaderEpoch): the epoch of this log's last batch ended,
   * in the leader's lineage, where the next epoch began; records at or past that offset here were
   * never committed, and the log is cut there (Partition.truncateTo), keeping the prefix.
   */
  private async truncateDiverged(): Promise<void> {
    const p = this.host.partition();
    if (p === undefined || p.logEndOffset === p.logStartOffset) return;
    const lastBase = await p.lastBatchOffset('uncommitted');
    const last = lastBase < p.logEndOffset ? (await p.read(lastBase, 1)).batches[0] : undefined;
    const epoch = last === undefined ? -1 : last.readInt32BE(PARTITION_LEADER_EPOCH_AT);
    const next = (await this.host.history()).find(([e]) => e > epoch);
    // Not written under a replicated leader: nothing to match it against, so none of it is kept.
    const end = epoch < 0 ? p.logStartOffset : (next?.[1] ?? Number.POSITIVE_INFINITY);
    if (p.logEndOffset <= end) return;
    this.logger.warn('this replica\'s log diverged from the leader\'s; truncating it to the leader\'s epoch end', { partition: this.path, logEnd: p.logEndOffset, lastEpoch: epoch, divergedAt: end });
    await p.truncateTo(end);
  }

  /**
   * Kafka's follower on OFFSET_OUT_OF_RANGE (AbstractFetcherThread.fetchOffsetAndTruncate): a
   * leader whose log ends below this one's gets this log cut to its end; one whose log starts
   * above this one's end (retention, DeleteRecords) gets this log emptied and started at its
   * log start, from where the follower fetches.
   */
  private async outOfRange(leader: LeaderLink, session: ReplicaSession, replicaId: number, p: Partition): Promise<void> {
    const ask = { host: leader.host, port: leader.port, stream: this.stream, partition: this.index, epoch: leader.epoch, replicaId };
    const end = await session.listOffset({ ...ask, which: 'latest' });
    if (!end.ok) throw new Error(`the leader's log end: ${end.error}`);
    if (end.offset < p.logEndOffset) {
      this.logger.warn('this replica\'s log is longer than the leader\'s; truncating it to the leader\'s log end', { partition: this.path, logEnd: p.logEndOffset, leaderLogEnd: end.offset });
      await p.truncateTo(end.offset);
      return;
    }
    const start = await session.listOffset({ ...ask, which: 'earliest' });
    if (!start.ok) throw new Error(`the leader's log start: ${start.error}`);
    if (start.offset > p.logEndOffset) {
      this.logger.warn('the leader no longer has the records this replica needs; starting its log at the leader\'s log start', { partition: this.path, logEnd: p.logEndOffset, leaderLogStart: start.offset });
      await p.truncateFullyAndStartAt(start.offset);
    }
  }

  private async fetchLoop(leader: LeaderLink, session: ReplicaSession, replicaId: number): Promise<void> {
    let reported: string | undefined;
    try {
      await this.truncateDiverged();
    } catch (err) {
      this.logger.error('cannot check this replica against the leader\'s epochs', { partition: this.path, error: (err as Error).message });
    }
    while (this.following === leader && !this.closed) {
      const p = this.host.partition();
      if (p === undefined) return;
      // A new or emptied replica's committed reads wait for the leader's high watermark.
      p.setReplicatedHighWatermark(Math.min(this.hw, p.logEndOffset));
      const res = await session.fetch({
        host: leader.host,
        port: leader.port,
        stream: this.stream,
        partition: this.index,
        offset: p.logEndOffset,
        epoch: leader.epoch,
        replicaId,
        maxWaitMs: FOLLOWER_WAIT_MS,
      });
      if (this.following !== leader) return;
      if (!res.ok && res.error === 'OFFSET_OUT_OF_RANGE') {
        try {
          await this.outOfRange(leader, session, replicaId, p);
        } catch (err) {
          this.logger.warn('cannot bring this replica into the leader\'s range; retrying', { partition: this.path, error: (err as Error).message });
          await new Promise((r) => setTimeout(r, FOLLOWER_RETRY_MS));
        }
        continue;
      }
      if (!res.ok) {
        // A leader that is still taking over answers NOT_LEADER_OR_FOLLOWER for a moment: expected.
        const log = res.error === 'NOT_LEADER_OR_FOLLOWER' ? this.logger.debug.bind(this.logger) : this.logger.warn.bind(this.logger);
        if (reported !== res.error) log('replica fetch failed; retrying', { partition: this.path, leader: leader.node, error: res.error });
        reported = res.error;
        await new Promise((r) => setTimeout(r, FOLLOWER_RETRY_MS));
        continue;
      }
      reported = undefined;
      try {
        let durable: Promise<void> | undefined;
        for (const batch of res.batches) {
          if (Number(batch.readBigInt64BE(0)) < p.logEndOffset) continue; // already here
          durable = p.appendReplica(batch).durable;
        }
        // The next fetch's offset tells the leader these are on disk: only after the fsync.
        if (durable !== undefined) await durable;
        this.hw = Math.max(this.hw, Math.min(res.highWatermark, p.highWatermark));
        p.setReplicatedHighWatermark(this.hw);
        if (p.highWatermark >= res.highWatermark) this.host.caughtUp();
      } catch (err) {
        if (err instanceof StreamError && err.kind === 'storage') {
          await this.recoverFromStorageFailure(leader, p, err);
          continue;
        }
        this.logger.error('cannot append the leader\'s batches; retrying', { partition: this.path, error: (err as Error).message });
        await new Promise((r) => setTimeout(r, FOLLOWER_RETRY_MS));
      }
    }
  }

  /**
   * A write to this replica's disk failed (a full disk, an I/O error). The log dropped what was not
   * durable, but the partition's offsets past it are no longer backed by records, so this copy
   * cannot go on from its log end: it stops fetching (the leader drops it from the ISR for lag),
   * empties its copy (marked behind first: it may not lead until caught up), waits until the disk
   * takes writes again and then fetches the partition from the start. Logged once each way.
   */
  private async recoverFromStorageFailure(leader: LeaderLink, p: Partition, err: Error): Promise<void> {
    this.logger.error(
      'cannot write the leader\'s records to this replica\'s disk: it stops fetching (and leaves the in-sync replicas), empties its copy and fetches again once the disk takes writes',
      { partition: this.path, error: err.message },
    );
    const dir = dirname(p.dir);
    let emptied = false;
    while (this.following === leader && !this.closed) {
      try {
        if (!emptied) {
          await this.host.reset();
          emptied = true;
        }
        if (await takesWrites(dir, DISK_PROBE_BYTES)) {
          this.logger.warn('this replica\'s disk takes writes again: fetching the partition from the leader', { partition: this.path });
          return;
        }
      } catch (e) {
        this.logger.debug('still cannot write to this replica\'s disk', { partition: this.path, error: (e as Error).message });
      }
      await new Promise((r) => setTimeout(r, DISK_RETRY_MS));
    }
  }

  private failWaiters(err: Error): void {
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.waiters = [];
  }
}
