// Quorum queues in a cluster (docs/cluster.md, "Quorum queues"): each is a replicated command
// log (an internal stream of one partition, replicated as Kafka topics are) plus a local Queue on
// the log's leader. Publishes append an Enqueue and reach the Queue (and their confirm) once the
// high watermark passes it; acks, drops and returns append Settle and Return records. Followers
// only replicate the log; their Queue object (every node has one, for declares and bindings)
// stays empty. A node that wins the log's leadership replays it into its Queue (every message
// not settled, with its delivery count, marked redelivered), and one that loses it cancels the
// consumers and forgets the messages. Protocol-neutral: it sees the replication through
// StreamReplication; on a single node none of this exists.

import { EventEmitter } from 'node:events';
import { decodeRecords, readBatchHeader, type KafkaRecord } from '../../protocol/kafka/record-batch.js';
import type { Logger } from '../../util/logger.js';
import { BrokerError } from '../errors.js';
import { StoredMessage, type PublishInput, type QueueEntry } from '../message.js';
import type { Partition } from '../stream/partition.js';
import type { MessageStore } from '../message-store.js';
import { applyToQueue, type PolicyLookup } from '../policy/apply.js';
import { INTERNAL_STREAM_PREFIX, isInternalStream } from '../stream/registry.js';
import { replicatedCommit, ReplicationError, type StreamReplication } from '../stream/replication.js';
import { StreamAppender } from '../stream/stream-appender.js';
import type { Stream } from '../stream/stream.js';
import type { Vhost } from '../vhost.js';
import { argNumber, parseQueueArgs } from './args.js';
import { Queue, type QueueJournal } from './queue.js';
import { cutPoint, enqueueRecord, isEnqueue, liveMessageOf, QuorumLiveSet, returnRecord, settleRecord } from './quorum-log.js';

const TICK_MS = 200;
/** A new leader waits this long for its log to be committed before it replays (then tries again). */
const TAKEOVER_COMMIT_MS = 10_000;
/** A declare waits this long for the new queue's first leader. */
const FIRST_LEADER_WAIT_MS = 10_000;
const READ_BYTES = 1024 * 1024;
const RECORD_OVERHEAD_BYTES = 64;
/**
 * The log is never deleted by age or size: the leader cuts the prefix no live message needs
 * (maybeCut), and whole segments below the cut go, so segments are small (docs/cluster.md).
 */
export const LOG_SEGMENT_BYTES = 8 * 1024 * 1024;
const LOG_CONFIGS: Record<string, string> = { 'retention.ms': '-1', 'retention.bytes': '-1', 'segment.bytes': String(LOG_SEGMENT_BYTES) };
/** The leader cuts its log once this many records below the cut point are garbage (and checks at most every CUT_CHECK_MS). */
export const CUT_RECORDS_MIN = 4096;
const CUT_CHECK_MS = 1000;
/**
 * A cut held back by a few old messages (one a consumer keeps unacked): once this many records
 * are behind the log start, and at most MOVE_MESSAGES_MAX live messages are in the older half of
 * the log, those are re-appended at the tail (moveOld) so the log can be cut past them.
 */
export const MOVE_RECORDS_MIN = 8 * CUT_RECORDS_MIN;
const MOVE_MESSAGES_MAX = 256;

/** What the vhost asks of quorum queue replication (Queue.journal set: the queue is replicated). */
export interface QueueReplication {
  /** A quorum queue was declared here: its log is created and placed; resolves once it has a leader. */
  declared(vhost: Vhost, q: Queue): Promise<void>;
  /** queue.delete on this node: the log goes, and the queue with it on every node. */
  deleted(vhost: Vhost, name: string): Promise<void>;
  /** Throws unless this node leads the queue and has replayed its log (clients elsewhere are forwarded to it). */
  checkServing(q: Queue): void;
  /** A publish routed to the queue: resolves once committed and in the queue (a confirm waits for it). */
  publish(q: Queue, input: PublishInput): Promise<void>;
}

export interface QuorumQueuesContext {
  vhosts(): Iterable<Vhost>;
  replication(): StreamReplication | undefined;
  nextMessageId(): number;
  readonly store: MessageStore;
  readonly policies?: PolicyLookup;
  readonly logger: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
}

/** What /api/queues shows of a quorum queue (RabbitMQ's fields). */
export interface QuorumMembers {
  readonly leader: string | undefined;
  readonly members: readonly string[];
  readonly online: readonly string[];
}

type Phase = 'follower' | 'starting' | 'leading';

interface QuorumState extends QueueJournal {
  readonly vhost: Vhost;
  readonly queue: Queue;
  readonly log: string;
  phase: Phase;
  /** Grows at every change of phase: work begun in an older term is dropped. */
  term: number;
  offsets: Map<StoredMessage, number>;
  /** Enqueues appended and not in the queue yet (their commit is awaited): the log is not cut past them. */
  pending: Set<number>;
  /** Enqueues settled whose Settle is not committed yet: a failover before it must still find them. */
  settling: Set<number>;
  /** A cut of the log's prefix is under way; when the cut point was last computed. */
  cutting: boolean;
  cutCheckedMs: number;
  /** Old messages are being re-appended at the tail (moveOld). */
  moving: boolean;
  /** The delivery count of each message returned at least once (what a Return record last said). */
  returnCounts: Map<StoredMessage, number>;
  appender: StreamAppender | undefined;
  settles: number[];
  returns: [number, number][];
  flushing: boolean;
  leader: string | undefined;
}

export function logNameOf(queue: string): string {
  return `${INTERNAL_STREAM_PREFIX}${queue}`;
}

export class QuorumQueues extends EventEmitter implements QueueReplication {
  private readonly states = new Map<string, QuorumState>();
  private readonly byQueue = new WeakMap<Queue, QuorumState>();
  /** Queues being deleted from this node: their logs are still here for a moment, the queues must not come back. */
  private readonly deleting = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly ctx: QuorumQueuesContext) {
    super();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.tick();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }

  /** The node that leads the quorum queue now (its name), or undefined (none, or not a replicated quorum queue). */
  quorumLeader(vhost: string, queue: string): string | undefined {
    return this.states.get(keyOf(vhost, queue))?.leader;
  }

  /** A replicated quorum queue the cluster knows (its leader may be none for now). */
  has(vhost: string, queue: string): boolean {
    return this.states.has(keyOf(vhost, queue));
  }

  /** Subscribes to leader changes: (vhost, queue, leader node name or undefined). */
  onLeaderChange(cb: (vhost: string, queue: string, leader: string | undefined) => void): void {
    this.on('leader', cb);
  }

  members(vhost: string, queue: string): QuorumMembers | undefined {
    const st = this.states.get(keyOf(vhost, queue));
    const r = this.ctx.replication();
    const role = st && r?.role(vhost, st.log, 0);
    if (role === undefined || r === undefined) return undefined;
    const live = new Set(r.nodes().map((n) => n.name));
    return { leader: role.leaderName, members: role.replicaNames, online: role.replicaNames.filter((n) => live.has(n)) };
  }

  async declared(vhost: Vhost, q: Queue): Promise<void> {
    const r = this.ctx.replication();
    if (r === undefined) return;
    r.checkReplicationFactor(-1);
    const log = logNameOf(q.name);
    let stream = vhost.streams.getAny(log);
    if (stream === undefined) {
      stream = (await vhost.streams.create(log, { partitions: 1, configs: LOG_CONFIGS, amqpArgs: q.args })) as Stream;
      // RabbitMQ's x-quorum-initial-group-size: that many members, at most the live nodes; min(3, live) by default.
      const size = argNumber(q.args['x-quorum-initial-group-size']);
      const factor = size === undefined ? -1 : Math.max(1, Math.min(size, r.nodes().length));
      await r.created(vhost.name, { name: log, topicId: stream.topicId, partitions: 1, configs: stream.configs, amqpArgs: q.args }, factor);
    }
    this.register(vhost, stream);
    this.tick();
    const st = this.byQueue.get(q);
    const deadline = Date.now() + FIRST_LEADER_WAIT_MS;
    while (st !== undefined && st.leader === undefined && Date.now() < deadline && !this.closed) {
      await new Promise((res) => setTimeout(res, TICK_MS / 4));
      this.tick();
    }
  }

  async deleted(vhost: Vhost, name: string): Promise<void> {
    const key = keyOf(vhost.name, name);
    const st = this.states.get(key);
    if (st !== undefined) this.forget(st);
    this.deleting.add(key);
    try {
      await this.ctx.replication()?.deleted(vhost.name, logNameOf(name));
    } finally {
      this.deleting.delete(key);
    }
  }

  checkServing(q: Queue): void {
    const st = this.byQueue.get(q);
    if (st === undefined || st.phase === 'leading') return;
    throw notServing(st);
  }

  publish(q: Queue, input: PublishInput): Promise<void> {
    const st = this.byQueue.get(q);
    if (st === undefined) return Promise.reject(new BrokerError('internal-error', `queue '${q.name}' is not replicated`));
    const appender = st.appender;
    if (st.phase !== 'leading' || appender === undefined) throw notServing(st);
    const now = Date.now();
    const term = st.term;
    let offset = -1;
    const bytes = input.body.length + input.properties.length + RECORD_OVERHEAD_BYTES;
    const pending = st.pending;
    const placed = (o: number): void => {
      offset = o;
      pending.add(o);
    };
    const done = appender.append(enqueueRecord(input, now), bytes, placed).then(() => {
      pending.delete(offset);
      if (st.term !== term) throw new ReplicationError('not-leader', `this node stopped leading queue '${q.name}' before the message was committed`);
      const content = { exchange: input.exchange, routingKey: input.routingKey, properties: input.properties, body: input.body };
      const msg = new StoredMessage(this.ctx.nextMessageId(), input.persistent, input.body.length, content, undefined, now, input.expiration, input.priority);
      st.offsets.set(msg, offset);
      q.enqueue(msg, now);
    });
    done.catch(() => pending.delete(offset)); // only confirms look at it
    return done;
  }

  /** Finds new and deleted quorum queues and leadership changes. */
  private tick(): void {
    if (this.closed) return;
    const r = this.ctx.replication();
    if (r === undefined) return;
    const seen = new Set<string>();
    for (const vhost of this.ctx.vhosts()) {
      for (const stream of vhost.streams.internal()) {
        const st = this.register(vhost, stream);
        if (st === undefined) continue;
        seen.add(keyOf(vhost.name, st.queue.name));
        const role = r.role(vhost.name, st.log, 0);
        if (role === undefined) continue; // not placed yet
        if (role.leader && st.phase === 'follower') void this.lead(st, stream);
        else if (!role.leader && st.phase !== 'follower') this.stepDown(st, 'this node no longer leads it');
        else if (st.phase === 'leading') {
          if (st.settles.length > 0 && !st.flushing) this.flush(st); // Settles whose append failed, again
          this.maybeCut(st, stream.partitions[0]);
        }
        const leader = role.leaderName;
        if (leader !== st.leader) {
          st.leader = leader;
          this.emit('leader', vhost.name, st.queue.name, leader);
        }
      }
    }
    // A log that went (deleted on some node): its queue goes here too.
    for (const [key, st] of this.states) {
      if (seen.has(key)) continue;
      this.forget(st);
      st.vhost.removeQueue(st.queue);
    }
  }

  /** Tracks the quorum queue whose log `stream` is; creates its Queue here if this node lacks it. */
  private register(vhost: Vhost, stream: Stream): QuorumState | undefined {
    if (!isInternalStream(stream.name)) return undefined;
    const name = stream.name.slice(INTERNAL_STREAM_PREFIX.length);
    const key = keyOf(vhost.name, name);
    if (this.deleting.has(key)) return undefined;
    const known = this.states.get(key);
    if (known !== undefined && vhost.queues.get(name) === known.queue) return known;
    let q = vhost.queues.get(name);
    if (q === undefined) {
      const args = { ...(stream.definition.amqpArgs ?? { 'x-queue-type': 'quorum' }) };
      let config;
      try {
        config = parseQueueArgs(args, { queue: name, vhost: vhost.name }, { durable: true, exclusive: false });
      } catch (err) {
        this.ctx.logger.error('cannot create a replicated quorum queue here', { queue: name, error: (err as Error).message });
        return undefined;
      }
      // Id 0: not in the broker's message log (its log is the replicated one).
      q = new Queue({ name, id: 0, durable: true, autoDelete: false, exclusiveOwner: undefined, args, vhost: vhost.name, config }, this.ctx.store);
      applyToQueue(this.ctx.policies, q);
      vhost.addQueue(q);
    }
    const st: QuorumState = {
      vhost,
      queue: q,
      log: stream.name,
      phase: 'follower',
      term: 0,
      offsets: new Map(),
      pending: new Set(),
      settling: new Set(),
      cutting: false,
      cutCheckedMs: 0,
      moving: false,
      returnCounts: new Map(),
      appender: undefined,
      settles: [],
      returns: [],
      flushing: false,
      leader: undefined,
      owns: (entry: QueueEntry) => st.offsets.has(entry.msg),
      removed: (entry: QueueEntry) => this.record(st, entry, 'settle'),
      returned: (entry: QueueEntry) => this.record(st, entry, 'return'),
    };
    q.journal = st;
    this.states.set(key, st);
    this.byQueue.set(q, st);
    return st;
  }

  private forget(st: QuorumState): void {
    const key = keyOf(st.vhost.name, st.queue.name);
    if (this.states.get(key) !== st) return;
    this.states.delete(key);
    st.term++;
    st.phase = 'follower';
    st.appender = undefined;
    this.clearTerm(st);
    if (st.leader !== undefined) this.emit('leader', st.vhost.name, st.queue.name, undefined);
  }

  /** Won the log's leadership: replay the committed log into the Queue, then serve. */
  private async lead(st: QuorumState, stream: Stream): Promise<void> {
    st.phase = 'starting';
    const term = ++st.term;
    const r = this.ctx.replication();
    try {
      const p = stream.partitions[0];
      const end = p.logEndOffset;
      // Everything this leader has is committed before a consumer may see it.
      if (end > 0) await r?.committed(st.vhost.name, st.log, 0, end - 1, TAKEOVER_COMMIT_MS);
      // Two passes, so a queue far larger than memory replays: the live offsets first (numbers),
      // then their Enqueues read again, restored in offset order (a deep queue pages them out).
      const from = p.logStartOffset;
      const live = new QuorumLiveSet();
      await this.scan(p, from, end, (rec) => live.apply(rec));
      if (st.term !== term) return;
      let restored = 0;
      await this.scan(p, from, end, (rec) => {
        const returns = isEnqueue(rec) ? live.returnsOf(Number(rec.offset)) : undefined;
        if (returns === undefined || st.term !== term) return;
        const m = liveMessageOf(rec, returns);
        const msg = new StoredMessage(this.ctx.nextMessageId(), m.persistent, m.content.body.length, m.content, undefined, m.publishedAt, m.expiration, m.priority);
        msg.refs++;
        st.offsets.set(msg, m.offset);
        if (m.returns > 0) st.returnCounts.set(msg, m.returns);
        // Marked redelivered: it may have been out to a consumer of the old leader (RabbitMQ redelivers those).
        st.queue.restore(msg, m.returns);
        restored++;
      });
      if (st.term !== term) return;
      // A grouped queue (x-message-group-header) files the restored messages by group, as a restart does.
      await st.queue.restoreGroups();
      if (st.term !== term) return;
      st.queue.recovered();
      // Every batch of this leadership carries its epoch (a follower's truncation goes by it): taken
      // once, here, not asked at each append, where a moment without a known role left batches unstamped.
      const role = r?.role(st.vhost.name, st.log, 0);
      if (role === undefined || !role.leader) throw new ReplicationError('not-leader', `this node stopped leading queue '${st.queue.name}' while it replayed its log`);
      const epoch = role.epoch;
      st.appender = new StreamAppender(
        p,
        (last) => replicatedCommit(this.ctx.replication(), st.vhost.name, st.log, last),
        () => epoch,
      );
      st.phase = 'leading';
      // Messages that expired while the replay went on: their Settles were held until now.
      this.flush(st);
      this.ctx.logger.info('leading a quorum queue', { queue: st.queue.name, vhost: st.vhost.name, messages: restored, logStart: from, logEnd: end });
    } catch (err) {
      if (st.term !== term) return;
      this.ctx.logger.warn('cannot take over a quorum queue yet; retrying', { queue: st.queue.name, error: (err as Error).message });
      st.phase = 'follower';
      st.term++;
      this.clearTerm(st);
      st.queue.abandon(); // what the replay restored before it failed
    }
  }

  /** Reads the records of [from, end) in offset order, one read of READ_BYTES at a time. */
  private async scan(p: Partition, from: number, end: number, each: (rec: KafkaRecord) => void): Promise<void> {
    let at = from;
    while (at < end) {
      const read = await p.read(at, READ_BYTES, 'uncommitted');
      if (read.batches.length === 0) break;
      for (const b of read.batches) {
        const h = readBatchHeader(b);
        for (const rec of decodeRecords(b, h)) if (Number(rec.offset) < end) each(rec);
        at = Number(h.baseOffset) + h.lastOffsetDelta + 1;
      }
    }
  }

  /**
   * Leader side, on the tick: cuts the log's prefix that no live message needs (Kafka's
   * DeleteRecords: the log start offset moves up and the segments wholly below it go; followers
   * take the leader's log start from their fetches and cut theirs). Lazily: only once at least
   * CUT_RECORDS_MIN records are garbage, computed at most every CUT_CHECK_MS.
   */
  private maybeCut(st: QuorumState, p: Partition | undefined): void {
    if (p === undefined || st.cutting) return;
    // No transactions in this log: its last stable offset is the replicated high watermark.
    const hw = p.lastStableOffset;
    if (hw - p.logStartOffset < CUT_RECORDS_MIN) return;
    const now = Date.now();
    if (now - st.cutCheckedMs < CUT_CHECK_MS) return;
    st.cutCheckedMs = now;
    const cut = cutPoint(neededOffsets(st), hw);
    if (cut - p.logStartOffset < CUT_RECORDS_MIN) {
      if (hw - p.logStartOffset >= MOVE_RECORDS_MIN && !st.moving) void this.moveOld(st, p.logStartOffset + Math.floor((hw - p.logStartOffset) / 2));
      return;
    }
    st.cutting = true;
    const from = p.logStartOffset;
    p.deleteRecordsBefore(cut)
      .then((start) => this.ctx.logger.debug('quorum queue log cut', { queue: st.queue.name, vhost: st.vhost.name, from, to: start, bytes: p.sizeBytes }))
      .catch((err: unknown) => this.ctx.logger.warn('cannot cut a quorum queue\'s log', { queue: st.queue.name, vhost: st.vhost.name, error: (err as Error).message }))
      .finally(() => {
        st.cutting = false;
      });
  }

  /**
   * The few live messages below `below` pin the log (RabbitMQ's quorum queues have the same
   * problem: rabbitmq-server#3776): each is appended again at the tail, a new Enqueue carrying its
   * delivery count, and once that is committed it is the message's offset and the old one is
   * settled, so the next cut passes it. The queue's order here does not change; after a failover a
   * moved message comes after those published before its move (docs/cluster.md).
   */
  private async moveOld(st: QuorumState, below: number): Promise<void> {
    const old: [StoredMessage, number][] = [];
    for (const [msg, o] of st.offsets) {
      if (o >= below) continue;
      old.push([msg, o]);
      if (old.length > MOVE_MESSAGES_MAX) return; // not a few old messages: a backlog, nothing to gain
    }
    const appender = st.appender;
    if (old.length === 0 || appender === undefined) return;
    st.moving = true;
    const term = st.term;
    try {
      old.sort((a, b) => a[1] - b[1]);
      await this.ctx.store.load(old.map(([m]) => m));
      if (st.term !== term) return;
      const moves = old.map(async ([msg, from]) => {
        const content = msg.content;
        if (content === undefined) return; // unreadable: it stays where it is
        const returns = st.returnCounts.get(msg) ?? 0;
        const input = { ...content, persistent: msg.persistent, expiration: msg.expiration, priority: msg.priority };
        let to = -1;
        const pending = st.pending;
        await appender
          .append(enqueueRecord(input, msg.publishedAt, returns), content.body.length + content.properties.length + RECORD_OVERHEAD_BYTES, (o) => {
            to = o;
            pending.add(o);
          })
          .finally(() => pending.delete(to));
        if (st.term !== term) return;
        if (st.offsets.get(msg) === from) {
          st.offsets.set(msg, to);
          this.settleLater(st, from);
          // A Return recorded while the copy was on its way named the old offset.
          const now = st.returnCounts.get(msg) ?? 0;
          if (now !== returns) st.returns.push([to, now]);
        } else this.settleLater(st, to); // settled meanwhile: the copy is garbage
      });
      const results = await Promise.allSettled(moves);
      const failed = results.filter((r) => r.status === 'rejected').length;
      if (failed > 0) this.ctx.logger.debug('old quorum queue messages not moved; the log stays pinned for now', { queue: st.queue.name, failed });
      else this.ctx.logger.debug('old quorum queue messages moved to the log\'s tail', { queue: st.queue.name, messages: old.length });
      if (st.term === term && !st.flushing) this.flush(st);
    } catch (err) {
      this.ctx.logger.warn('cannot move old quorum queue messages', { queue: st.queue.name, error: (err as Error).message });
    } finally {
      if (st.term === term) st.moving = false;
    }
  }

  private settleLater(st: QuorumState, offset: number): void {
    st.settles.push(offset);
    st.settling.add(offset);
  }

  /** Forgets the work of a term: its messages' offsets, what it had not appended yet. */
  private clearTerm(st: QuorumState): void {
    st.offsets = new Map();
    st.pending = new Set();
    st.settling = new Set();
    st.settles = [];
    st.returns = [];
    st.returnCounts = new Map();
    st.moving = false;
  }

  private stepDown(st: QuorumState, why: string): void {
    this.ctx.logger.info('no longer serving a quorum queue', { queue: st.queue.name, vhost: st.vhost.name, why });
    st.phase = 'follower';
    st.term++;
    st.appender = undefined;
    this.clearTerm(st);
    st.queue.abandon();
  }

  /** An entry settled or returned on the leader: its record is batched and appended (nothing waits for it). */
  private record(st: QuorumState, entry: QueueEntry, kind: 'settle' | 'return'): void {
    const offset = st.offsets.get(entry.msg);
    // While starting (replaying), records wait in settles and returns until it leads.
    if (offset === undefined || st.phase === 'follower') return;
    if (kind === 'settle') {
      st.offsets.delete(entry.msg);
      st.returnCounts.delete(entry.msg);
      this.settleLater(st, offset);
    } else {
      st.returns.push([offset, entry.returns]);
      st.returnCounts.set(entry.msg, entry.returns);
    }
    if (st.flushing) return;
    st.flushing = true;
    queueMicrotask(() => this.flush(st));
  }

  private flush(st: QuorumState): void {
    st.flushing = false;
    const appender = st.appender;
    if (appender === undefined || st.phase !== 'leading') return;
    // Returns first: a message returned and then settled in one turn ends settled on replay.
    if (st.returns.length > 0) {
      const rec = returnRecord(st.returns);
      st.returns = [];
      appender.append(rec, (rec.value?.length ?? 0) + RECORD_OVERHEAD_BYTES).catch((err: unknown) => this.recordFailed(st, err));
    }
    if (st.settles.length > 0) {
      const offsets = st.settles;
      const rec = settleRecord(offsets);
      st.settles = [];
      const { term, settling } = st;
      appender.append(rec, (rec.value?.length ?? 0) + RECORD_OVERHEAD_BYTES).then(
        () => {
          for (const o of offsets) settling.delete(o);
        },
        (err: unknown) => {
          this.recordFailed(st, err);
          // Still leading: appended again at the next tick (a Settle twice is the same as once).
          if (st.term === term) st.settles.push(...offsets);
        },
      );
    }
  }

  private recordFailed(st: QuorumState, err: unknown): void {
    // A Settle or Return that is not committed is at worst a redelivery after a failover.
    this.ctx.logger.debug('a quorum queue record was not committed', { queue: st.queue.name, error: (err as Error).message });
  }
}

/** The offsets the log must keep from: live messages, Enqueues not in the queue yet, Settles not committed yet. */
function* neededOffsets(st: QuorumState): Generator<number> {
  yield* st.offsets.values();
  yield* st.pending;
  yield* st.settling;
}

function keyOf(vhost: string, queue: string): string {
  return `${vhost}\0${queue}`;
}

function notServing(st: QuorumState): BrokerError {
  const where = `queue '${st.queue.name}' in vhost '${st.vhost.name}'`;
  if (st.phase === 'starting') return new BrokerError('not-found', `${where} is starting on this node (replaying its log); retry shortly`);
  if (st.leader === undefined) return new BrokerError('not-found', `${where} has no leader at the moment; retry shortly`);
  return new BrokerError('not-found', `${where} is led by node ${st.leader}; connect to that node`);
}
