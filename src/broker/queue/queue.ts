// A queue: messages in priority lanes (FIFO within a priority, requeued entries
// returning to their place), round-robin delivery to consumers with credit (or
// to one single active consumer), paging of message content so a deep queue
// holds only small bookkeeping per message, TTLs checked only at the lane heads
// with one timer, length limits with their overflow modes, and dead-lettering
// (handed to the vhost, which routes the copies).

import { BrokerError, accessRefused } from '../errors.js';
import type { Args, MessageContent, StoredMessage } from '../message.js';
import { QueueEntry } from '../message.js';
import type { MessageStore } from '../message-store.js';
import { DEFAULT_QUEUE_CONFIG, type QueueConfig } from './args.js';
import { NO_POLICIES, type AppliedPolicies } from '../policy/effective.js';
import { Lanes } from './lanes.js';
import { GroupedLanes, groupKeyOf } from './groups.js';
import { DedupCache } from './dedup.js';
import { checkEquivalent } from './equivalence.js';
import { eventLoopBusy, FlowGate } from './flow.js';
import { MessageCounters } from '../stats.js';

/** The broker side of a consumer: implemented by a channel session. */
export interface Consumer {
  readonly tag: string;
  readonly noAck: boolean;
  readonly exclusive: boolean;
  /** RabbitMQ's consumer priority (x-priority): higher ones get messages first while they have credit. */
  readonly priority: number;
  /** Has credit (prefetch), flow is on and the connection is writable. */
  canAccept(): boolean;
  /** Has credit and flow is on, but its connection's output is backed up. */
  waitsOnConnection(): boolean;
  deliver(queue: Queue, entry: QueueEntry, content: MessageContent): void;
  /** The queue went away under the consumer (RabbitMQ: basic.cancel to the client). */
  cancelledByBroker(queue: Queue): void;
}

/**
 * Told when a queue may have ready messages (an enqueue, a requeue, a give-back) or was
 * deleted: pollers that take with get() (SQS long polls) wait on this instead of polling.
 * Called synchronously inside the queue's own call; a watcher should only schedule work.
 */
export type ReadyWatcher = (queue: Queue) => void;

/** Why a message left a queue for its dead-letter exchange (the x-death reason). */
export type DeathReason = 'rejected' | 'expired' | 'maxlen' | 'delivery_limit';

/**
 * A replicated queue's record of what happens to its messages (a quorum queue in a cluster:
 * src/broker/queue/quorum-queues.ts): instead of the broker's message log, it writes Settle and
 * Return records to the queue's own replicated log.
 */
export interface QueueJournal {
  /** The entry belongs to this journal's current term (false: a delivery from before a leader change). */
  owns(entry: QueueEntry): boolean;
  /** The entry left the queue for good (acked, dropped, dead-lettered, expired, purged). */
  removed(entry: QueueEntry): void;
  /** The entry came back unsuccessfully; entry.returns is its new count. */
  returned(entry: QueueEntry): void;
}

export interface QueueOptions {
  readonly name: string;
  /** Durable queues have an id in the message log; 0 for transient ones. */
  readonly id: number;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  /** Connection id that owns an exclusive queue. */
  readonly exclusiveOwner: string | undefined;
  readonly args: Args;
  readonly vhost: string;
  /** Parsed and validated args (parseQueueArgs); defaults when absent. */
  readonly config?: QueueConfig;
}

/** How much message content a queue keeps in memory ahead of its consumers. */

export const QUEUE_MEMORY_MESSAGES_MAX = 4096;
export const QUEUE_MEMORY_BYTES_MAX = 16 * 1024 * 1024;
/** Paged-out content read back per disk read: more than a publisher's socket read carries (see flowWait). */
const LOAD_BATCH_MESSAGES = 4096;
const LOAD_BATCH_BYTES = 4 * 1024 * 1024;
/**
 * Publisher flow control (flowWait): a queue this deep whose consumers want more than their
 * connections carry holds its publishers back, below the depth where content is paged out,
 * while the event loop is busy (flow.ts).
 */
const FLOW_READY_MESSAGES = QUEUE_MEMORY_MESSAGES_MAX / 2;
/** Expired messages removed per turn of the event loop; the rest follow on the next. */
const EXPIRE_BATCH_MESSAGES = 10_000;

export class Queue {
  readonly name: string;
  readonly id: number;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly exclusiveOwner: string | undefined;
  /** Its arguments: as declared, or as last changed by Vhost.setQueueArgs. */
  args: Args;
  readonly vhost: string;
  /** The settings its arguments give (parseQueueArgs). */
  declared: QueueConfig;
  /** The settings in force: `declared` with its policies applied (policy/effective.ts); see reconfigure(). */
  private current: QueueConfig;
  /** The policies applied to it, for the management API. */
  policies: AppliedPolicies = NO_POLICIES;
  /** The de-duplication window (x-message-deduplication), if enabled. */
  readonly dedup: DedupCache | undefined;

  private readonly lanes: Lanes | GroupedLanes;
  /** The same object as `lanes` when messages are grouped (x-message-group-header). */
  private readonly groups: GroupedLanes | undefined;
  /** Recovered entries of a grouped queue, waiting for their group keys (restoreGroups). */
  private unkeyed: QueueEntry[] | undefined;
  private readyBytes = 0;
  private consumers: Consumer[] = [];
  private readonly readyWatchers = new Set<ReadyWatcher>();
  private nextConsumer = 0;
  private draining = false;
  private mixedPriorities = false;
  /** One read of paged-out content at a time; everyone waiting shares it. */
  private loading: Promise<void> | undefined;
  /** A consumer that could take a message waits for this load: publishers into the queue wait too (flowWait). */
  private starved = false;
  /** Publishers wait on this while the queue is in flow control; opened by the next delivering drain(). */
  private readonly flowGate = new FlowGate();
  private loadFailures = 0;
  private hadConsumer = false;
  /** Some entry may carry an expiry (x-message-ttl, or a message's expiration). */
  private expiring: boolean;
  private expiryTimer: NodeJS.Timeout | undefined;
  private expiryAt = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Delivered and not yet acked, across all channels. */
  unacked = 0;
  /** Message counters for the management API (message_stats). */
  readonly stats = new MessageCounters();
  deleted = false;
  /** A replicated queue's journal (instead of the message log); undefined for others. */
  journal: QueueJournal | undefined;
  /** Called when an auto-delete queue loses its last consumer. */
  onUnused: ((q: Queue) => void) | undefined;
  /** Called when x-expires passes with the queue unused. */
  onIdle: ((q: Queue) => void) | undefined;
  /** Called when loading paged-out content fails. */
  onError: ((q: Queue, err: unknown) => void) | undefined;
  /** Routes dead-lettered entries (already out of the queue) to the dead-letter exchange; must dropEntry each. */
  onDeadLetter: ((q: Queue, entries: QueueEntry[], reason: DeathReason) => void) | undefined;

  constructor(
    opts: QueueOptions,
    private readonly store: MessageStore,
  ) {
    this.name = opts.name;
    this.id = opts.id;
    this.durable = opts.durable;
    this.autoDelete = opts.autoDelete;
    this.exclusiveOwner = opts.exclusiveOwner;
    this.args = opts.args;
    this.vhost = opts.vhost;
    this.declared = this.current = opts.config ?? DEFAULT_QUEUE_CONFIG;
    this.groups = this.declared.groupHeader === undefined ? undefined : new GroupedLanes();
    this.lanes = this.groups ?? new Lanes(this.config.maxPriority);
    this.expiring = this.config.messageTtl !== undefined;
    this.touch();
    this.dedup = this.config.dedup && new DedupCache(this.config.dedup);
  }

  get config(): QueueConfig {
    return this.current;
  }

  /**
   * New effective settings (a policy was set, changed or cleared), applied at once as
   * RabbitMQ's process_args_policy does: the x-expires countdown restarts with the new
   * value, a lower length limit drops (or dead-letters) the oldest messages, a dead-letter
   * exchange or delivery limit counts from the next message it concerns. A new message TTL
   * applies to messages enqueued from now on: those already in the queue keep the expiry
   * they got on arrival (RabbitMQ stores it per message too).
   */
  reconfigure(config: QueueConfig, policies: AppliedPolicies): void {
    this.policies = policies;
    if (config === this.current) return;
    const expiresChanged = config.expires !== this.current.expires;
    this.current = config;
    if (config.messageTtl !== undefined) this.expiring = true;
    if (expiresChanged && !this.deleted) {
      if (this.idleTimer) clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
      this.touch();
    }
    this.enforceLimits();
  }

  /**
   * New arguments for the queue (Vhost.setQueueArgs), in force at once as a policy change is
   * (reconfigure). Settings fixed at creation (queue type, priorities, de-duplication) are the
   * caller's to keep unchanged.
   */
  redeclare(args: Args, config: QueueConfig): void {
    this.args = args;
    this.declared = config;
    this.reconfigure(config, this.policies);
  }

  /**
   * The queue's x-message-ttl for the messages already ready in it too, counted from
   * each one's publish (SQS: a new MessageRetentionPeriod applies to the messages in the
   * queue; AMQP's TTL changes apply only to new ones, as RabbitMQ's). Those now past it
   * expire at once. A message's own expiration still applies.
   */
  retimeReady(): void {
    const ttl = this.config.messageTtl;
    let soonest = 0;
    for (const e of this.lanes) {
      const own = e.msg.expiration >= 0 ? e.msg.publishedAt + e.msg.expiration : 0;
      const byTtl = ttl === undefined ? 0 : e.msg.publishedAt + ttl;
      e.expiresAt = own === 0 ? byTtl : byTtl === 0 ? own : Math.min(own, byTtl);
      if (e.expiresAt !== 0 && (soonest === 0 || e.expiresAt < soonest)) soonest = e.expiresAt;
    }
    if (soonest === 0) return;
    this.expiring = true;
    // Re-armed from scratch: the soonest may be later than a timer set for a shorter TTL.
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    this.armExpiry(soonest);
  }

  get messageCount(): number {
    return this.lanes.length;
  }

  /** Body bytes of the ready messages. */
  get readyBodyBytes(): number {
    return this.readyBytes;
  }

  get consumerCount(): number {
    return this.consumers.length;
  }

  /** Messages in this queue are written to the log when persistent. */
  get persistsMessages(): boolean {
    return this.durable && this.id > 0;
  }

  /** Returns are logged so delivery counts survive a restart (quorum queues and x-delivery-limit). */
  get logsReturns(): boolean {
    return this.persistsMessages && (this.config.deliveryLimit !== undefined || this.config.queueType === 'quorum');
  }

  /**
   * With x-overflow reject-publish(-dlx): would a message of this size be refused?
   * (RabbitMQ counts ready messages only.) Checked before the message is written.
   */
  refuses(bodySize: number): boolean {
    const c = this.config;
    if (c.overflow === 'drop-head') return false;
    return (
      (c.maxLength !== undefined && this.lanes.length >= c.maxLength) ||
      (c.maxLengthBytes !== undefined && this.readyBytes + bodySize > c.maxLengthBytes)
    );
  }

  /** Add a routed message; pages its content out when the queue is already deep. */
  enqueue(msg: StoredMessage, now: number): void {
    const entry = new QueueEntry(msg, this.expiryOf(msg, now));
    msg.refs++;
    this.stats.publish++;
    const key = this.groups && groupKeyOf(msg, this.declared.groupHeader);
    // Deep queue: keep only the position. Transient messages are written first.
    if (msg.content && this.deep()) this.store.pageOut(msg);
    this.pushReady(entry, key);
    this.readyBytes += msg.bodySize;
    if (entry.expiresAt !== 0) this.expiring = true;
    // Same clock as the expiry: with TTL 0 a later millisecond would expire it before a waiting consumer sees it.
    if (this.consumers.length > 0) this.drain(now);
    if (entry.expiresAt !== 0) {
      // TTL 0 (or an expiration already past): it goes unless a consumer took it just now.
      if (entry.expiresAt <= now && this.lanes.popNewest(entry)) {
        this.readyBytes -= msg.bodySize;
        this.discard([entry], 'expired');
      } else {
        this.armExpiry(entry.expiresAt);
      }
    }
    this.enforceLimits();
    this.notifyReady();
  }

  private deep(): boolean {
    return this.lanes.length >= QUEUE_MEMORY_MESSAGES_MAX || this.readyBytes >= QUEUE_MEMORY_BYTES_MAX;
  }

  /**
   * Recovered messages (refs already counted by recovery): content on disk, or in memory (a
   * replicated queue's replay), then paged out as enqueue() does once the queue is deep.
   */
  restore(msg: StoredMessage, returns: number): void {
    const entry = new QueueEntry(msg, this.expiryOf(msg, msg.publishedAt || Date.now()));
    entry.returns = returns;
    // We do not log deliveries, so a recovered message may have been seen before.
    entry.redelivered = true;
    // A grouped queue needs each message's group key, in its content on disk: restoreGroups() reads them.
    if (this.groups) (this.unkeyed ??= []).push(entry);
    else if (this.lanes instanceof Lanes) {
      if (msg.content && this.deep()) this.store.pageOut(msg);
      this.lanes.push(entry);
    }
    this.readyBytes += msg.bodySize;
    if (entry.expiresAt !== 0) {
      this.expiring = true;
      this.armExpiry(entry.expiresAt);
    }
  }

  /**
   * After restore(), for a grouped queue: reads recovered content in batches to learn each
   * message's group (a header), keeping as much in memory as a live queue would. Restores
   * come in id order, so each group's order holds; deliveries in flight at a crash are ready.
   */
  async restoreGroups(): Promise<void> {
    const entries = this.unkeyed;
    this.unkeyed = undefined;
    if (!entries || !this.groups) return;
    for (let i = 0; i < entries.length; i += LOAD_BATCH_MESSAGES) {
      const batch = entries.slice(i, i + LOAD_BATCH_MESSAGES);
      await this.store.load(batch.map((e) => e.msg));
      for (const e of batch) {
        this.groups.push(e, groupKeyOf(e.msg, this.declared.groupHeader));
        if (this.groups.length > QUEUE_MEMORY_MESSAGES_MAX) this.store.pageOut(e.msg);
      }
    }
  }

  /** After recovery: apply limits that may have changed meaning (none drop silently). */
  recovered(): void {
    this.enforceLimits();
  }

  /**
   * A delivered entry came back unsuccessfully (nack/reject requeue, channel closed,
   * consumer timeout): it counts as a return, and past x-delivery-limit it is
   * dead-lettered instead of requeued.
   */
  requeue(entry: QueueEntry, counted = true): void {
    this.unacked--;
    if (this.deleted || this.foreign(entry)) {
      this.groups?.done(entry);
      this.release(entry, false);
      return;
    }
    if (counted) {
      entry.redelivered = true;
      entry.returns++;
    }
    const limit = this.config.deliveryLimit;
    if (limit !== undefined && entry.returns > limit) {
      this.groups?.done(entry);
      this.discard([entry], 'delivery_limit');
      return;
    }
    if (this.logsReturns && entry.msg.persistent) this.store.returned(this.id, entry.msg.id, entry.returns);
    if (counted) this.journal?.returned(entry);
    this.lanes.requeue(entry);
    this.readyBytes += entry.msg.bodySize;
    if (entry.expiresAt !== 0) this.armExpiry(entry.expiresAt);
    // RabbitMQ drops the head after a requeue too (requeue_and_run: maybe_drop_head).
    this.enforceLimits();
    this.notifyReady();
  }

  /** A delivered entry is done with (acked, or rejected without requeue and no dead-letter exchange). */
  settle(entry: QueueEntry): void {
    this.unacked--;
    this.groups?.done(entry);
    this.release(entry, !this.deleted && !this.foreign(entry));
  }

  /** basic.reject/nack with requeue=false: dead-lettered with reason 'rejected' (or dropped). */
  reject(entry: QueueEntry): void {
    this.unacked--;
    this.groups?.done(entry);
    if (this.deleted || this.foreign(entry)) this.release(entry, false);
    else this.discard([entry], 'rejected');
  }

  /** Removes an entry that left the queue (dead-lettered or dropped); logs the removal. */
  dropEntry(entry: QueueEntry): void {
    this.release(entry, !this.deleted);
  }

  /** Lets go of an entry that left the queue without logging its removal (a restart brings it back). */
  forget(entry: QueueEntry): void {
    this.release(entry, false);
  }

  /** RabbitMQ: an exclusive consumer needs the queue to itself (403 otherwise). */
  checkConsumable(exclusive: boolean): void {
    if (this.consumers.some((x) => x.exclusive) || (exclusive && this.consumers.length > 0)) {
      throw accessRefused(`queue '${this.name}' in vhost '${this.vhost}' in exclusive use`);
    }
  }

  addConsumer(c: Consumer): void {
    this.checkConsumable(c.exclusive);
    this.consumers.push(c);
    this.updatePriorities();
    this.hadConsumer = true;
    this.touch();
    this.drain();
  }

  removeConsumer(c: Consumer): void {
    const i = this.consumers.indexOf(c);
    if (i < 0) return;
    this.consumers.splice(i, 1);
    this.updatePriorities();
    if (this.consumers.length === 0) this.starved = false;
    this.flowGate.open();
    if (this.nextConsumer > i) this.nextConsumer--;
    this.touch();
    if (this.consumers.length === 0 && this.autoDelete && this.hadConsumer && !this.deleted) this.onUnused?.(this);
    // With a single active consumer, the next one in line takes over now.
    else if (this.config.singleActiveConsumer && i === 0) this.drain();
  }

  /** Calls `w` whenever the queue may have ready messages, and once when it is deleted (see ReadyWatcher). */
  watchReady(w: ReadyWatcher): void {
    this.readyWatchers.add(w);
  }

  unwatchReady(w: ReadyWatcher): void {
    this.readyWatchers.delete(w);
  }

  private notifyReady(): void {
    if (this.readyWatchers.size === 0 || this.lanes.length === 0) return;
    for (const w of this.readyWatchers) w(this);
  }

  /** Queue was used (declare, get, consume): restarts the x-expires countdown. */
  touch(): void {
    const ms = this.config.expires;
    if (ms === undefined || this.deleted) return;
    if (this.idleTimer) this.idleTimer.refresh();
    else {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = undefined;
        if (this.consumers.length === 0 && !this.deleted) this.onIdle?.(this);
        else this.touch();
      }, ms);
      this.idleTimer.unref();
    }
  }

  /**
   * Take the next message for basic.get; undefined when empty. Content may need loading first.
   * `follow`: a delivery of this taker not yet settled; in a grouped queue the next message
   * of its group comes first (one batch of one taker may hold several of a group).
   */
  async take(follow?: QueueEntry): Promise<QueueEntry | undefined> {
    this.touch();
    if (follow && this.groups) {
      const next = await this.takeFollowing(follow, this.groups);
      if (next) return next;
    }
    let failures = 0;
    for (;;) {
      const entry = this.peekReady(this.expiring ? Date.now() : 0);
      if (!entry) return undefined;
      if (entry.msg.content) {
        this.popReady(true);
        this.unacked++;
        return entry;
      }
      const before = this.loadFailures;
      await this.loadAhead();
      if (this.deleted) return undefined;
      if (this.loadFailures > before && ++failures >= 3) {
        throw new BrokerError('internal-error', `cannot read message content of queue '${this.name}' from disk`);
      }
    }
  }

  /**
   * Publisher flow control (RabbitMQ's "flow" state): a promise while publishers into this
   * queue should stop reading their connection, because its consumers could take more than
   * the broker is getting to them, so accepting more would only deepen the queue. That is
   * when a consumer waits for paged-out content to be read back from disk; or when the
   * queue is FLOW_READY_MESSAGES deep, a consumer that could be given a message has credit
   * but waits on its connection's output (not stalled, see DeliverySink.stalled), and the
   * event loop is busy: then the broker is what falls behind, not the client. The promise
   * resolves when the queue next delivers (or after FLOW_WAIT_MAX_MS); the publisher reads
   * again, and its next publish asks again. Consumers out of credit (prefetch full) never
   * cause it: a backlog that slow consumers build is what a queue is for. Without it one
   * flat-out publisher buried its consumer: the queue paged out, each read-back waited
   * behind megabytes of publishes, and the consumer got 1-2k msg/s.
   */
  flowWait(): Promise<void> | undefined {
    const closed = this.flowGate.waiting;
    if (closed) return closed;
    if (!this.starved && !this.outputBound()) return undefined;
    return this.flowGate.close();
  }

  /** Deep, a consumer it could deliver to waits on its connection's output, and the broker is busy. */
  private outputBound(): boolean {
    if (this.lanes.length < FLOW_READY_MESSAGES || this.consumers.length === 0) return false;
    const waiting = this.config.singleActiveConsumer
      ? this.consumers[0].waitsOnConnection()
      : this.consumers.some((c) => c.waitsOnConnection());
    return waiting && eventLoopBusy();
  }

  /** Deliver to consumers while there are messages and consumers with credit (`at`: the time to expire by). */
  drain(at?: number): void {
    if (this.draining || this.loading || this.deleted) return;
    this.draining = true;
    let delivered = false;
    try {
      const now = this.expiring ? (at ?? Date.now()) : 0;
      while (this.consumers.length > 0) {
        const entry = this.peekReady(now);
        if (!entry) break;
        const consumer = this.pickConsumer();
        if (!consumer) break;
        const content = entry.msg.content;
        if (!content) {
          void this.loadAhead();
          this.starved = this.loading !== undefined;
          break;
        }
        this.popReady(true);
        this.unacked++;
        delivered = true;
        consumer.deliver(this, entry, content);
      }
    } finally {
      this.draining = false;
    }
    if (delivered) this.flowGate.open();
  }

  /**
   * Up to `count` ready entries from delivery position `from` on, without taking them
   * (the management API's peek). Unacked messages are not in the ready list.
   */
  peek(from: number, count: number): QueueEntry[] {
    const out: QueueEntry[] = [];
    let i = 0;
    for (const e of this.lanes.ordered()) {
      if (out.length >= count) break;
      if (i++ >= from) out.push(e);
    }
    return out;
  }

  /**
   * Takes up to `max` ready entries from the head for a move (expired ones are
   * dead-lettered on the way, as for a delivery). They count as unacked until the
   * move settles them (moved) or requeues them (left), like a basic.get.
   */
  takeReady(max: number): QueueEntry[] {
    const out: QueueEntry[] = [];
    const now = this.expiring ? Date.now() : 0;
    while (out.length < max && this.peekReady(now)) {
      const e = this.popReady(true) as QueueEntry;
      this.unacked++;
      out.push(e);
    }
    return out;
  }

  /** Gives an entry taken with takeReady back to its place, not counted as a redelivery. */
  putBack(entry: QueueEntry): void {
    this.requeue(entry, false);
    this.drain();
  }

  /** Drop all ready messages (queue.purge); returns how many. */
  purge(): number {
    // Each purged message gets an Ack record: a Purge-up-to-id record would also
    // remove delivered, unacked messages (lower ids) on replay.
    const all = this.lanes.drain();
    for (const e of all) this.release(e, true);
    this.readyBytes = 0;
    return all.length;
  }

  /** The queue is being deleted: tell consumers, drop messages. */
  delete(): number {
    this.stop();
    const consumers = this.consumers;
    this.consumers = [];
    for (const c of consumers) c.cancelledByBroker(this);
    const watchers = [...this.readyWatchers];
    this.readyWatchers.clear();
    for (const w of watchers) w(this);
    // No Ack records: the queue's id leaves meta.json, so replay ignores its messages.
    const all = this.lanes.drain();
    for (const e of all) this.release(e, false);
    this.readyBytes = 0;
    return all.length;
  }

  /**
   * This node stopped leading the replicated queue (its journal's term ended): consumers are
   * cancelled (basic.cancel), ready messages forgotten without a record, and deliveries still
   * out are forgotten when they come back (the journal no longer owns them). The queue object
   * stays, with its bindings, empty until this node leads it again and replays its log.
   */
  abandon(): void {
    const consumers = this.consumers;
    this.consumers = [];
    for (const c of consumers) c.cancelledByBroker(this);
    const all = this.lanes.drain();
    for (const e of all) this.release(e, false);
    this.readyBytes = 0;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    this.expiryAt = 0;
  }

  /** A delivery made before a leader change of a replicated queue: no longer this queue's to record. */
  private foreign(entry: QueueEntry): boolean {
    return this.journal !== undefined && !this.journal.owns(entry);
  }

  /**
   * The broker is closing (or, from delete(), the queue goes): its timers must not fire into
   * a closed log (or a restarted broker's data dir), and publishers waiting on it read again.
   */
  stop(): void {
    this.deleted = true;
    this.flowGate.open();
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
  }

  checkEquivalent(durable: boolean, autoDelete: boolean, exclusive: boolean, args: Args): void {
    checkEquivalent(this, { durable, autoDelete, exclusive, args });
  }

  private peekReady(now: number): QueueEntry | undefined {
    // Messages whose content could not be read back (their write failed and was nacked) are
    // dropped here, and so are expired ones (RabbitMQ never delivers an expired message).
    let expired: QueueEntry[] | undefined;
    let e = this.lanes.head();
    for (; e; e = this.lanes.head()) {
      if (e.msg.unreadable) {
        this.popReady();
        this.release(e, false);
      } else if (e.expiresAt !== 0 && now > e.expiresAt) {
        this.popReady();
        (expired ??= []).push(e);
      } else break;
    }
    if (expired) this.discard(expired, 'expired');
    return e;
  }

  /** Takes the head; `deliver`: to a consumer or taker (a grouped queue then holds its group back). */
  private popReady(deliver = false): QueueEntry | undefined {
    const entry = this.groups ? this.groups.shift(deliver) : this.lanes.shift();
    if (!entry) return undefined;
    this.readyBytes -= entry.msg.bodySize;
    if (this.expiring) {
      // The new head may have been waiting behind one that never expires: time it now.
      const head = this.lanes.head();
      if (head && head.expiresAt !== 0) this.armExpiry(head.expiresAt);
    }
    return entry;
  }

  /** The next message of follow's group, if it may go with follow (see take). */
  private async takeFollowing(follow: QueueEntry, groups: GroupedLanes): Promise<QueueEntry | undefined> {
    const e = groups.following(follow);
    if (!e || e.msg.unreadable || (e.expiresAt !== 0 && Date.now() > e.expiresAt)) return undefined;
    if (!e.msg.content) {
      await this.store.load([e.msg]);
      if (this.deleted || !e.msg.content || groups.following(follow) !== e) return undefined;
    }
    groups.shiftFollowing(follow);
    this.readyBytes -= e.msg.bodySize;
    this.unacked++;
    return e;
  }

  private pushReady(entry: QueueEntry, key: string | undefined): void {
    if (this.groups) this.groups.push(entry, key);
    else if (this.lanes instanceof Lanes) this.lanes.push(entry);
  }

  /** When an entry expires in this queue: the sooner of x-message-ttl and its own expiration. */
  private expiryOf(msg: StoredMessage, since: number): number {
    const ttl = this.config.messageTtl;
    let at = ttl === undefined ? 0 : since + ttl;
    if (msg.expiration >= 0) {
      const own = since + msg.expiration;
      if (at === 0 || own < at) at = own;
    }
    return at;
  }

  /** One timer per queue, for the soonest expiry among the lane heads. */
  private armExpiry(at: number): void {
    if (this.deleted) return;
    if (this.expiryTimer && this.expiryAt <= at) return;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryAt = at;
    this.expiryTimer = setTimeout(() => this.expireDue(), Math.max(0, at - Date.now() + 1));
    this.expiryTimer.unref();
  }

  /**
   * Removes expired messages from the lane heads (RabbitMQ's rule: a message expires
   * when it is at the head; with one x-message-ttl per queue heads expire first
   * anyway). Never scans the queue: the cost is the number of expired messages.
   */
  private expireDue(): void {
    this.expiryTimer = undefined;
    if (this.deleted) return;
    const now = Date.now();
    const expired: QueueEntry[] = [];
    let next = 0;
    for (const h of this.lanes.heads()) {
      if (expired.length >= EXPIRE_BATCH_MESSAGES) {
        next = now;
        break;
      }
      const e = h.head;
      if (e.expiresAt !== 0 && now > e.expiresAt) {
        h.shift();
        this.readyBytes -= e.msg.bodySize;
        expired.push(e);
      } else if (e.expiresAt !== 0 && (next === 0 || e.expiresAt < next)) {
        next = e.expiresAt;
      }
    }
    if (expired.length > 0) this.discard(expired, 'expired');
    if (next !== 0) {
      if (next === now) {
        // More to expire: continue on the next turn so other work interleaves.
        this.expiryTimer = setTimeout(() => this.expireDue(), 0);
        this.expiryTimer.unref();
        this.expiryAt = now;
      } else this.armExpiry(next);
    }
  }

  /** x-max-length / x-max-length-bytes with drop-head: the oldest go (dead-lettered 'maxlen'). */
  private enforceLimits(): void {
    const c = this.config;
    if (c.overflow !== 'drop-head' || (c.maxLength === undefined && c.maxLengthBytes === undefined)) return;
    let dropped: QueueEntry[] | undefined;
    while (
      (c.maxLength !== undefined && this.lanes.length > c.maxLength) ||
      (c.maxLengthBytes !== undefined && this.readyBytes > c.maxLengthBytes && this.lanes.length > 0)
    ) {
      const e = this.popReady();
      if (!e) break;
      (dropped ??= []).push(e);
    }
    if (dropped) this.discard(dropped, 'maxlen');
  }

  /** Entries leaving the queue for good: to the dead-letter exchange if there is one, else dropped. */
  private discard(entries: QueueEntry[], reason: DeathReason): void {
    const c = this.config;
    if (c.deadLetterExchange !== undefined && this.onDeadLetter && (c.deadLetterReasons === undefined || c.deadLetterReasons.includes(reason))) {
      this.onDeadLetter(this, entries, reason);
    }
    else for (const e of entries) this.release(e, true);
  }

  /** Round-robin among the highest-priority consumers that can take a message now. */
  private pickConsumer(): Consumer | undefined {
    const n = this.consumers.length;
    if (this.config.singleActiveConsumer) {
      const c = this.consumers[0];
      return c !== undefined && c.canAccept() ? c : undefined;
    }
    let best: Consumer | undefined;
    let bestIdx = 0;
    for (let i = 0; i < n; i++) {
      const idx = (this.nextConsumer + i) % n;
      const c = this.consumers[idx];
      if ((best === undefined || c.priority > best.priority) && c.canAccept()) {
        best = c;
        bestIdx = idx;
        if (!this.mixedPriorities) break;
      }
    }
    if (best) this.nextConsumer = (bestIdx + 1) % n;
    return best;
  }

  /** Recomputed when consumers change: with one priority (the usual case) the first with credit wins. */
  private updatePriorities(): void {
    const first = this.consumers[0];
    this.mixedPriorities = first !== undefined && this.consumers.some((c) => c.priority !== first.priority);
  }

  /** Read the content of the next paged-out messages in one batch; drains when done. */
  private loadAhead(): Promise<void> {
    this.loading ??= this.load().then(
      () => {
        this.loading = undefined;
        this.starved = false;
        this.drain();
      },
      (err: unknown) => {
        this.loading = undefined;
        this.starved = false;
        this.loadFailures++;
        this.onError?.(this, err);
      },
    );
    return this.loading;
  }

  private load(): Promise<void> {
    const batch = [];
    let bytes = 0;
    for (const e of this.lanes) {
      if (batch.length >= LOAD_BATCH_MESSAGES || bytes >= LOAD_BATCH_BYTES) break;
      if (!e.msg.content) {
        batch.push(e.msg);
        bytes += e.msg.bodySize;
      }
    }
    return this.store.load(batch);
  }

  private release(entry: QueueEntry, logAck = true): void {
    const msg = entry.msg;
    if (logAck && this.persistsMessages && msg.persistent) this.store.ack(this.id, msg.id);
    if (logAck) this.journal?.removed(entry);
    msg.refs--;
    if (msg.refs === 0) {
      this.store.release(msg);
      msg.content = undefined;
    }
  }
}
