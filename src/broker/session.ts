// A session is the broker side of one AMQP channel: its consumers, the
// deliveries it has not settled (by delivery tag), prefetch, flow, and the
// transaction buffer. It knows nothing of frames: a DeliverySink writes them.

import { randomBytes } from 'node:crypto';
import { withDeliveryCount } from './dead-letter.js';
import { BrokerError, PartialTxCompletion, preconditionFailed } from './errors.js';
import { argNumber } from './queue/args.js';
import type { Args, MessageContent, PublishInput, QueueEntry } from './message.js';
import type { Consumer, Queue } from './queue/queue.js';
import type { PublishOutcome, Vhost } from './vhost.js';
import type { MessageStore } from './message-store.js';
import { SessionStreams, notSupported, type StreamAck } from './session-streams.js';
import { Stream } from './stream/stream.js';
import type { MessageCounters } from './stats.js';
import type { ConsumerInfo } from './connections.js';
import { SeqMap } from '../util/seq-map.js';

export const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';

export interface DeliverySink {
  deliver(consumerTag: string, deliveryTag: number, redelivered: boolean, content: MessageContent): void;
  /** The connection can take more output now (socket backpressure). */
  writable(): boolean;
  /** The connection's output has been backed up so long that its client looks stalled, not just slower than the broker. */
  stalled(): boolean;
  /** The broker cancelled a consumer (its queue was deleted); the deletion is durable by now. */
  consumerCancelled(consumerTag: string): void;
  /** A delivery was not acked within the consumer timeout (ms): RabbitMQ closes the channel with 406. */
  timedOut(timeoutMs: number): void;
}

/**
 * A sink for sessions that only get and settle (no consumers): the management API's
 * "get messages", SQS's receiver. Nothing is ever delivered to it, and a consumer
 * timeout has no channel to close (SQS leases keep deadlines of their own).
 */
export const NO_SINK: DeliverySink = {
  deliver: () => {},
  writable: () => true,
  stalled: () => false,
  consumerCancelled: () => {},
  timedOut: () => {},
};

export interface GetResult {
  readonly deliveryTag: number;
  readonly entry: QueueEntry;
  readonly content: MessageContent;
  readonly messageCount: number;
}

interface Unacked {
  readonly tag: number;
  readonly entry: QueueEntry;
  readonly queue: Queue;
  readonly consumer: SessionConsumer | undefined;
  /** Wall-clock ms by which it must be acked (consumer timeout); 0 for never. */
  readonly deadline: number;
}

type Settlement = 'ack' | 'requeue' | 'reject';

/** A transaction's buffered work: publishes, settlements of queue deliveries, acks of stream deliveries. */
interface Tx {
  publishes: PublishInput[];
  settles: { u: Unacked; how: Settlement }[];
  streamAcks: StreamAck[];
}

function newTx(): Tx {
  return { publishes: [], settles: [], streamAcks: [] };
}

/** A mandatory publish of a transaction that nothing routed, with the properties it was stored with. */
export interface Unroutable {
  readonly input: PublishInput;
  readonly properties: Buffer;
}

/** Tags of deliveries requeued by a timeout (requeue mode) whose late acks are ignored. */
const TIMED_OUT_TAGS_MAX = 10_000;

class SessionConsumer implements Consumer {
  unacked = 0;
  active = true;
  constructor(
    private readonly session: Session,
    readonly tag: string,
    readonly queue: Queue,
    readonly noAck: boolean,
    readonly exclusive: boolean,
    readonly prefetch: number,
    readonly args: Args,
    readonly priority: number,
  ) {}

  canAccept(): boolean {
    return this.active && this.session.canDeliver() && this.hasCredit();
  }

  waitsOnConnection(): boolean {
    return this.active && this.hasCredit() && this.session.waitsOnConnection();
  }

  private hasCredit(): boolean {
    return this.noAck || this.prefetch === 0 || this.unacked < this.prefetch;
  }

  deliver(queue: Queue, entry: QueueEntry, content: MessageContent): void {
    this.session.delivered(this, queue, entry, content);
  }

  cancelledByBroker(): void {
    this.session.consumerGone(this);
  }
}

export class Session {
  private readonly consumers = new Map<string, SessionConsumer>();
  /** Insertion order is delivery-tag order (tags only grow). */
  /** By delivery tag; a SeqMap, not a Map: see util/seq-map.ts (a Map here made every scavenge promote dead messages). */
  private readonly unacked = new SeqMap<Unacked>();
  private nextTag = 1;
  private prefetchPerConsumer = 0;
  private prefetchGlobal = 0;
  /** Unacked deliveries to consumers (global prefetch counts these, not basic.get). */
  private consumerUnacked = 0;
  private flowActive = true;
  /** RabbitMQ's direct reply-to: the pseudo-queue's consumer and this channel's reply address. */
  private directReply: { tag: string; address: string } | undefined;
  private tx: Tx | undefined;
  private closed = false;
  private timeoutTimer: NodeJS.Timeout | undefined;
  private timeoutAt = 0;
  private readonly timedOutTags = new Set<number>();
  /** Consumers of stream queues and their unacked deliveries. */
  private readonly streams: SessionStreams;

  constructor(
    private readonly vhost: Vhost,
    private readonly store: MessageStore,
    readonly connectionId: string,
    private readonly sink: DeliverySink,
  ) {
    this.streams = new SessionStreams({
      vhost,
      canDeliver: () => this.canDeliver(),
      deliver: (consumerTag, content) => {
        const tag = this.nextTag++;
        this.consumerUnacked++;
        this.sink.deliver(consumerTag, tag, false, content);
        return tag;
      },
      uncount: (n) => {
        this.consumerUnacked -= n;
        // Channel-wide credit came back: classic consumers may deliver too.
        if (this.prefetchGlobal > 0) drainEach(this.consumerQueues());
      },
      consumerCancelled: (tag) => this.sink.consumerCancelled(tag),
    });
  }

  get inTx(): boolean {
    return this.tx !== undefined;
  }

  canDeliver(): boolean {
    return this.mayDeliver() && this.sink.writable();
  }

  /** Would deliver but for the connection's output being backed up, and its client is still reading. */
  waitsOnConnection(): boolean {
    return this.mayDeliver() && !this.sink.writable() && !this.sink.stalled();
  }

  /** Open, flow on, and under the channel-wide prefetch (basic.qos global). */
  private mayDeliver(): boolean {
    return this.flowActive && !this.closed && (this.prefetchGlobal === 0 || this.consumerUnacked < this.prefetchGlobal);
  }

  qos(prefetchCount: number, global: boolean): void {
    if (global) this.prefetchGlobal = prefetchCount;
    else this.prefetchPerConsumer = prefetchCount;
    this.resume();
  }

  /** Validate and register a consumer; call start() after consume-ok is written. */
  consume(
    queueName: string,
    requestedTag: string,
    o: { noAck: boolean; exclusive: boolean; args: Args; prefetch?: number },
  ): { tag: string; start: () => void } {
    const tag = requestedTag === '' ? `amq.ctag-${randomBytes(16).toString('base64url').slice(0, 22)}` : requestedTag;
    if (this.consumers.has(tag) || this.directReply?.tag === tag || this.streams.hasConsumer(tag)) {
      throw new BrokerError('not-allowed', `attempt to reuse consumer tag '${tag}'`, true);
    }
    if (queueName === DIRECT_REPLY_TO) return this.consumeDirectReply(tag, o.noAck);
    const queue = this.vhost.getQueueOrStream(queueName, this.connectionId);
    if (queue instanceof Stream) return this.streams.consume(queue, tag, o, this.prefetchPerConsumer);
    this.vhost.checkServing(queue);
    queue.checkConsumable(o.exclusive);
    // `prefetch`: a consumer that moves here keeps the prefetch it was started with (a quorum queue's new leader).
    const c = new SessionConsumer(this, tag, queue, o.noAck, o.exclusive, o.prefetch ?? this.prefetchPerConsumer, o.args, consumerPriority(o.args));
    this.consumers.set(tag, c);
    return {
      tag,
      start: () => {
        if (c.active) queue.addConsumer(c);
      },
    };
  }

  /** For the management API: prefetch, unacked deliveries, consumers. */
  info(): { prefetchCount: number; globalPrefetchCount: number; unacked: number; uncommitted: number; consumers: ConsumerInfo[] } {
    const consumers: ConsumerInfo[] = [];
    for (const c of this.consumers.values()) {
      consumers.push({
        tag: c.tag,
        queue: c.queue.name,
        ackRequired: !c.noAck,
        exclusive: c.exclusive,
        prefetchCount: c.prefetch,
        args: c.args,
        active: c.active,
      });
    }
    return {
      prefetchCount: this.prefetchPerConsumer,
      globalPrefetchCount: this.prefetchGlobal,
      unacked: this.unacked.size,
      uncommitted: this.tx ? this.tx.publishes.length : 0,
      consumers,
    };
  }

  /** The address a publish's reply-to 'amq.rabbitmq.reply-to' is rewritten to. */
  directReplyAddress(): string {
    if (!this.directReply) throw preconditionFailed('fast reply consumer does not exist');
    return this.directReply.address;
  }

  /** basic.cancel: the consumer stops; its unacked deliveries stay with the channel. */
  cancel(tag: string): boolean {
    if (this.directReply?.tag === tag) {
      this.vhost.directReplies.delete(this.directReply.address);
      this.directReply = undefined;
      return true;
    }
    const c = this.consumers.get(tag);
    if (!c) return this.streams.cancel(tag);
    this.consumers.delete(tag);
    c.active = false;
    c.queue.removeConsumer(c);
    return true;
  }

  /** basic.get; `follow`: an unsettled get of this session, whose message group may continue (Queue.take). */
  async get(queueName: string, noAck: boolean, follow?: QueueEntry): Promise<GetResult | undefined> {
    const queue = this.vhost.getQueueOrStream(queueName, this.connectionId);
    if (queue instanceof Stream) throw notSupported('basic.get', queue.name, this.vhost.name);
    this.vhost.checkServing(queue);
    const entry = await queue.take(follow);
    if (!entry) {
      queue.stats.getEmpty++;
      this.vhost.stats.getEmpty++;
      return undefined;
    }
    if (this.closed) {
      // The channel went away while content was being read: the message goes back,
      // unseen, so it is not a return (no redelivered flag, no delivery count).
      queue.requeue(entry, false);
      queue.drain();
      return undefined;
    }
    const content = deliveryContent(entry, entry.msg.content as MessageContent);
    const tag = this.nextTag++;
    countDelivery(queue.stats, this.vhost.stats, noAck ? 'getNoAck' : 'get', entry.redelivered);
    if (noAck) queue.settle(entry);
    else this.track({ tag, entry, queue, consumer: undefined, deadline: this.deadlineFor(queue) });
    return { deliveryTag: tag, entry, content, messageCount: queue.messageCount };
  }

  /** The next delivery tag of this channel, for a delivery made elsewhere (a relayed one from a queue's home node). */
  allocateTag(): number {
    return this.nextTag++;
  }

  /**
   * basic.ack; a stream delivery's ack only returns its consumer's credit (in a transaction, at the commit).
   * `settledElsewhere`: a multiple ack that also settled relayed deliveries, so none here is no error.
   */
  ack(deliveryTag: number, multiple: boolean, settledElsewhere = false): void {
    const streamed = this.streams.take(deliveryTag, multiple);
    if (streamed.length > 0) {
      if (this.tx) this.tx.streamAcks.push(...streamed);
      else this.streams.credit(streamed);
      if (!multiple) return;
    }
    const settled = this.takeUnacked(deliveryTag, multiple, streamed.length > 0 || settledElsewhere);
    for (const u of settled) this.settle(u, 'ack');
    this.afterSettle(settled);
  }

  /** basic.nack / basic.reject: requeue, or dead-letter (reason 'rejected') / drop. */
  nack(deliveryTag: number, multiple: boolean, requeue: boolean, settledElsewhere = false): void {
    this.streams.checkNack(deliveryTag, multiple);
    const settled = this.takeUnacked(deliveryTag, multiple, settledElsewhere);
    for (const u of settled) this.settle(u, requeue ? 'requeue' : 'reject');
    this.afterSettle(settled);
  }

  /**
   * A basic.get delivery goes back to its place unseen (its taker went away before it
   * could be handed on): not a return, so no redelivered flag and no delivery count.
   */
  giveBack(deliveryTag: number): void {
    const u = this.unacked.get(deliveryTag);
    if (!u || u.consumer) return;
    this.unacked.delete(deliveryTag);
    u.queue.requeue(u.entry, false);
    u.queue.drain();
  }

  /** basic.recover requeue=true: every unacked delivery goes back to its queue. */
  recover(): void {
    this.streams.checkRecover();
    const all = [...this.unacked.values()];
    this.unacked.clear();
    for (const u of all) this.returnToQueue(u);
    this.afterSettle(all);
  }

  flow(active: boolean): void {
    this.flowActive = active;
    if (active) this.resume();
  }

  /** The connection drained its output, or credit grew: let queues deliver again. */
  resume(): void {
    drainEach(this.consumerQueues());
    this.streams.resume();
  }

  publish(input: PublishInput): PublishOutcome | undefined {
    if (this.tx) {
      // Checked now so a bad exchange or CC header fails the publish, not the commit (as RabbitMQ).
      this.vhost.checkPublish(input);
      this.tx.publishes.push(input);
      return undefined;
    }
    return this.vhost.publish(input);
  }

  txSelect(): void {
    this.tx ??= newTx();
  }

  /** Apply the buffered publishes and acks atomically; resolves when durable. */
  async txCommit(): Promise<{ unroutable: Unroutable[] }> {
    const tx = this.tx;
    if (!tx) throw preconditionFailed('channel is not transactional');
    this.tx = newTx();
    // Validate before applying anything, so a failing commit changes nothing.
    try {
      for (const p of tx.publishes) this.vhost.checkPublishable(p.exchange);
    } catch (err) {
      this.tx = tx;
      throw err;
    }
    const unroutable: Unroutable[] = [];
    const streamWrites: Promise<void>[] = [];
    let needsSync = false;
    this.store.beginBatch();
    try {
      for (const p of tx.publishes) {
        const out = this.vhost.publish(p);
        if (out.queues === 0 && p.mandatory) unroutable.push({ input: p, properties: out.properties ?? p.properties });
        // A duplicate needs the sync too: the first copy's key may not be on disk yet.
        if (out.needsSync) needsSync = true;
        if (out.streamWrite) streamWrites.push(out.streamWrite);
      }
      // Consumer credit comes back now, not when the ack was buffered (as RabbitMQ).
      for (const s of tx.settles) {
        this.releaseCredit(s.u);
        if (s.u.entry.msg.persistent && s.u.queue.persistsMessages) needsSync = true;
        applySettlement(s.u, s.how, this.vhost.stats);
      }
    } finally {
      this.store.endBatch();
    }
    this.afterSettle(tx.settles.map((s) => s.u));
    this.streams.credit(tx.streamAcks);
    if (needsSync) await this.store.sync();
    // Applied already: a write that fails now (a stream's, a copy for another node) leaves the commit partial.
    if (streamWrites.length > 0) await Promise.all(streamWrites).catch((err: unknown) => Promise.reject(new PartialTxCompletion(err)));
    return { unroutable };
  }

  txRollback(): void {
    const tx = this.tx;
    if (!tx) throw preconditionFailed('channel is not transactional');
    this.tx = newTx();
    this.streams.restore(tx.streamAcks);
    // Rolled-back acks leave the deliveries unacked, under their old tags.
    const back = tx.settles.map((s) => s.u).sort((a, b) => a.tag - b.tag);
    const rest = [...this.unacked.values()];
    this.unacked.clear();
    for (const u of [...back, ...rest].sort((a, b) => a.tag - b.tag)) this.unacked.set(u.tag, u);
    // Their credit was never given back (that happens at commit).
  }

  /** Channel closed: consumers go, unacked deliveries return to their queues. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    if (this.directReply) this.vhost.directReplies.delete(this.directReply.address);
    const pending = [...this.unacked.values()];
    if (this.tx) for (const s of this.tx.settles) pending.push(s.u);
    this.tx = undefined;
    this.unacked.clear();
    pending.sort((a, b) => a.tag - b.tag);
    // Requeued before the consumers go: a single active consumer taking over gets them first.
    for (const u of pending) u.queue.requeue(u.entry);
    for (const c of this.consumers.values()) {
      c.active = false;
      c.queue.removeConsumer(c);
    }
    this.consumers.clear();
    this.streams.close();
    drainEach(pending.map((u) => u.queue));
  }

  // --- called by consumers -----------------------------------------------

  delivered(c: SessionConsumer, queue: Queue, entry: QueueEntry, content: MessageContent): void {
    const tag = this.nextTag++;
    const out = deliveryContent(entry, content);
    countDelivery(queue.stats, this.vhost.stats, c.noAck ? 'deliverNoAck' : 'deliver', entry.redelivered);
    if (c.noAck) {
      queue.settle(entry);
    } else {
      c.unacked++;
      this.consumerUnacked++;
      this.track({ tag, entry, queue, consumer: c, deadline: this.deadlineFor(queue) });
    }
    this.sink.deliver(c.tag, tag, entry.redelivered, out);
  }

  /**
   * The consumer's queue was deleted: deliveries stop now, and the client is told once the
   * deletion is on disk, just after the deleting channel's delete-ok (sent as that resolves;
   * setImmediate lets it go first). RabbitMQ's channels hear of a deletion once the queue is
   * gone from its metadata store, the deleting channel after its delete-ok: a client that
   * closes on the cancel still gets its reply. Until then the tag stays taken (as in
   * RabbitMQ); a basic.cancel from the client meanwhile, or the channel closing, leaves
   * nothing to tell.
   */
  consumerGone(c: SessionConsumer): void {
    if (this.consumers.get(c.tag) !== c) return;
    c.active = false;
    const tell = (): void => {
      if (this.closed || this.consumers.get(c.tag) !== c) return;
      this.consumers.delete(c.tag);
      this.sink.consumerCancelled(c.tag);
    };
    const later = (): void => void setImmediate(tell);
    this.vhost.topologySaved().then(later, later);
  }

  // --- helpers -----------------------------------------------------------

  private consumerQueues(): Queue[] {
    return [...this.consumers.values()].map((c) => c.queue);
  }

  private consumeDirectReply(tag: string, noAck: boolean): { tag: string; start: () => void } {
    // RabbitMQ: replies are delivered without acks; one such consumer per channel.
    if (!noAck) throw preconditionFailed('reply consumer cannot acknowledge');
    if (this.directReply) throw preconditionFailed('reply consumer already set');
    const address = `${DIRECT_REPLY_TO}.${randomBytes(18).toString('base64url')}`;
    this.directReply = { tag, address };
    return {
      tag,
      start: () => {
        this.vhost.directReplies.set(address, (content) => {
          if (!this.closed) this.sink.deliver(tag, this.nextTag++, false, content);
        });
      },
    };
  }

  /** Unacked classic deliveries named by a settlement; `found` elsewhere (streams) means none here is no error. */
  private takeUnacked(deliveryTag: number, multiple: boolean, found = false): Unacked[] {
    const out: Unacked[] = [];
    if (multiple) {
      for (const [tag, u] of this.unacked) {
        if (deliveryTag !== 0 && tag > deliveryTag) break;
        out.push(u);
      }
      if (out.length === 0 && deliveryTag !== 0 && !found && !this.timedOutTags.has(deliveryTag)) {
        throw preconditionFailed(`unknown delivery tag ${deliveryTag}`);
      }
    } else {
      const u = this.unacked.get(deliveryTag);
      if (!u) {
        // A delivery a timeout already requeued (requeue mode): its late settlement is moot.
        if (this.timedOutTags.delete(deliveryTag)) return out;
        throw preconditionFailed(`unknown delivery tag ${deliveryTag}`);
      }
      out.push(u);
    }
    for (const u of out) this.unacked.delete(u.tag);
    return out;
  }

  /** In a transaction the settlement, and the prefetch credit it gives back, wait for the commit. */
  private settle(u: Unacked, how: Settlement): void {
    if (this.tx) {
      this.tx.settles.push({ u, how });
      return;
    }
    this.releaseCredit(u);
    applySettlement(u, how, this.vhost.stats);
  }

  /** A delivery stops counting against its consumer's and the channel's prefetch. */
  private releaseCredit(u: Unacked): void {
    if (u.consumer) {
      u.consumer.unacked--;
      this.consumerUnacked--;
    }
  }

  private track(u: Unacked): void {
    this.unacked.set(u.tag, u);
    if (u.deadline !== 0 && (!this.timeoutTimer || u.deadline < this.timeoutAt)) this.armTimeout(u.deadline);
  }

  /** x-consumer-timeout of the queue, else the broker-wide default (0: none). */
  private timeoutOf(queue: Queue): number {
    return queue.config.consumerTimeout ?? this.vhost.consumerTimeoutMs;
  }

  private deadlineFor(queue: Queue): number {
    const ms = this.timeoutOf(queue);
    return ms > 0 ? Date.now() + ms : 0;
  }

  /** One timer per channel, for the soonest deadline; it fires rarely (deadlines are minutes). */
  private armTimeout(at: number): void {
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    this.timeoutAt = at;
    this.timeoutTimer = setTimeout(() => this.checkTimeouts(), Math.max(0, at - Date.now() + 1));
    this.timeoutTimer.unref();
  }

  /**
   * Deliveries past their deadline: RabbitMQ closes the channel (406), which requeues
   * everything unacked; a queue with x-consumer-timeout-mode 'requeue' only gets the late
   * message back (SQS visibility-timeout style) and the channel lives on.
   */
  private checkTimeouts(): void {
    this.timeoutTimer = undefined;
    if (this.closed) return;
    const now = Date.now();
    let next = 0;
    const late: Unacked[] = [];
    for (const u of this.unacked.values()) {
      if (u.deadline === 0) continue;
      if (u.deadline <= now) late.push(u);
      else if (next === 0 || u.deadline < next) next = u.deadline;
    }
    const closing = late.find((u) => u.queue.config.consumerTimeoutMode === 'close-channel');
    if (closing) {
      this.sink.timedOut(this.timeoutOf(closing.queue));
      return;
    }
    for (const u of late) {
      this.unacked.delete(u.tag);
      this.timedOutTags.add(u.tag);
      if (this.timedOutTags.size > TIMED_OUT_TAGS_MAX) this.timedOutTags.delete(this.timedOutTags.values().next().value as number);
      this.returnToQueue(u);
    }
    if (late.length > 0) this.afterSettle(late);
    if (next !== 0) this.armTimeout(next);
  }

  private returnToQueue(u: Unacked): void {
    this.releaseCredit(u);
    u.queue.requeue(u.entry);
  }

  /** Credit came back and messages may have been requeued: let the queues deliver. */
  private afterSettle(settled: readonly Unacked[]): void {
    if (settled.length === 1 && this.prefetchGlobal === 0) {
      // The common case (one ack): only that queue's consumers got credit back.
      settled[0].queue.drain();
      return;
    }
    const queues = settled.map((u) => u.queue);
    // Channel-wide (global) credit may unblock consumers on any queue, and of streams.
    drainEach(this.prefetchGlobal > 0 ? [...queues, ...this.consumerQueues()] : queues);
    if (this.prefetchGlobal > 0) this.streams.resume();
  }
}

function applySettlement(u: Unacked, how: Settlement, vhostStats: MessageCounters): void {
  if (how === 'ack') {
    u.queue.stats.ack++;
    vhostStats.ack++;
    u.queue.settle(u.entry);
  } else if (how === 'requeue') u.queue.requeue(u.entry);
  else u.queue.reject(u.entry);
}

/** Counts a delivery on the queue's and the vhost's counters (a few integer increments). */
function countDelivery(q: MessageCounters, v: MessageCounters, kind: 'deliver' | 'deliverNoAck' | 'get' | 'getNoAck', redelivered: boolean): void {
  q[kind]++;
  v[kind]++;
  if (redelivered) {
    q.redeliver++;
    v.redeliver++;
  }
}

/** A redelivered message carries x-delivery-count (how often it came back), as in RabbitMQ quorum queues. */
function deliveryContent(entry: QueueEntry, content: MessageContent): MessageContent {
  return entry.returns > 0 ? withDeliveryCount(content, entry.returns) : content;
}

/** Let each queue deliver again, once even if it appears several times. */
function drainEach(queues: readonly Queue[]): void {
  for (const q of new Set(queues)) q.drain();
}

/** x-priority on basic.consume (RabbitMQ: an integer, default 0; anything else is 406). */
function consumerPriority(args: Args): number {
  const v = args['x-priority'];
  if (v === undefined) return 0;
  const n = argNumber(v);
  if (n === undefined || !Number.isInteger(n)) throw preconditionFailed(`invalid arg 'x-priority' for basic.consume: ${String(v)}`);
  return n;
}
