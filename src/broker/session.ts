// A session is the broker side of one AMQP channel: its consumers, the
// deliveries it has not settled (by delivery tag), prefetch, flow, and the
// transaction buffer. It knows nothing of frames: a DeliverySink writes them.

import { randomBytes } from 'node:crypto';
import { BrokerError, preconditionFailed } from './errors.js';
import type { Args, MessageContent, PublishInput, QueueEntry } from './message.js';
import type { Consumer, Queue } from './queue/queue.js';
import type { PublishOutcome, Vhost } from './vhost.js';
import type { MessageStore } from './message-store.js';

export const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';

export interface DeliverySink {
  deliver(consumerTag: string, deliveryTag: number, redelivered: boolean, content: MessageContent): void;
  /** The connection can take more output now (socket backpressure). */
  writable(): boolean;
  /** The broker cancelled a consumer (its queue was deleted). */
  consumerCancelled(consumerTag: string): void;
}

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
}

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
    return this.active && this.session.canDeliver() && (this.noAck || this.prefetch === 0 || this.unacked < this.prefetch);
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
  private readonly unacked = new Map<number, Unacked>();
  private nextTag = 1;
  private prefetchPerConsumer = 0;
  private prefetchGlobal = 0;
  /** Unacked deliveries to consumers (global prefetch counts these, not basic.get). */
  private consumerUnacked = 0;
  private flowActive = true;
  /** RabbitMQ's direct reply-to: the pseudo-queue's consumer and this channel's reply address. */
  private directReply: { tag: string; address: string } | undefined;
  private tx: { publishes: PublishInput[]; settles: { u: Unacked; requeue: boolean }[] } | undefined;
  private closed = false;

  constructor(
    private readonly vhost: Vhost,
    private readonly store: MessageStore,
    readonly connectionId: string,
    private readonly sink: DeliverySink,
  ) {}

  get inTx(): boolean {
    return this.tx !== undefined;
  }

  canDeliver(): boolean {
    return (
      this.flowActive &&
      !this.closed &&
      (this.prefetchGlobal === 0 || this.consumerUnacked < this.prefetchGlobal) &&
      this.sink.writable()
    );
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
    o: { noAck: boolean; exclusive: boolean; args: Args },
  ): { tag: string; start: () => void } {
    const tag = requestedTag === '' ? `amq.ctag-${randomBytes(16).toString('base64url').slice(0, 22)}` : requestedTag;
    if (this.consumers.has(tag) || this.directReply?.tag === tag) {
      throw new BrokerError('not-allowed', `attempt to reuse consumer tag '${tag}'`, true);
    }
    if (queueName === DIRECT_REPLY_TO) return this.consumeDirectReply(tag, o.noAck);
    const queue = this.vhost.getQueue(queueName, this.connectionId);
    queue.checkConsumable(o.exclusive);
    const c = new SessionConsumer(this, tag, queue, o.noAck, o.exclusive, this.prefetchPerConsumer, o.args, consumerPriority(o.args));
    this.consumers.set(tag, c);
    return {
      tag,
      start: () => {
        if (c.active) queue.addConsumer(c);
      },
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
    if (!c) return false;
    this.consumers.delete(tag);
    c.active = false;
    c.queue.removeConsumer(c);
    return true;
  }

  async get(queueName: string, noAck: boolean): Promise<GetResult | undefined> {
    const queue = this.vhost.getQueue(queueName, this.connectionId);
    const entry = await queue.take();
    if (!entry) return undefined;
    if (this.closed) {
      // The channel went away while content was being read: the message goes back.
      queue.requeue(entry);
      queue.drain();
      return undefined;
    }
    const content = entry.msg.content as MessageContent;
    entry.deliveryCount++;
    const tag = this.nextTag++;
    if (noAck) queue.settle(entry);
    else this.unacked.set(tag, { tag, entry, queue, consumer: undefined });
    return { deliveryTag: tag, entry, content, messageCount: queue.messageCount };
  }

  ack(deliveryTag: number, multiple: boolean): void {
    const settled = this.takeUnacked(deliveryTag, multiple);
    for (const u of settled) this.settle(u, false, true);
    this.afterSettle(settled);
  }

  nack(deliveryTag: number, multiple: boolean, requeue: boolean): void {
    const settled = this.takeUnacked(deliveryTag, multiple);
    for (const u of settled) this.settle(u, requeue, false);
    this.afterSettle(settled);
  }

  /** basic.recover requeue=true: every unacked delivery goes back to its queue. */
  recover(): void {
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
  }

  publish(input: PublishInput): PublishOutcome | undefined {
    if (this.tx) {
      // Checked now so a bad exchange fails the publish, not the commit (as RabbitMQ).
      this.vhost.getExchange(input.exchange);
      this.tx.publishes.push(input);
      return undefined;
    }
    return this.vhost.publish(input);
  }

  txSelect(): void {
    this.tx ??= { publishes: [], settles: [] };
  }

  /** Apply the buffered publishes and acks atomically; resolves when durable. */
  async txCommit(): Promise<{ unroutable: PublishInput[] }> {
    const tx = this.tx;
    if (!tx) throw preconditionFailed('channel is not transactional');
    this.tx = { publishes: [], settles: [] };
    // Validate before applying anything, so a failing commit changes nothing.
    try {
      for (const p of tx.publishes) this.vhost.checkPublishable(p.exchange);
    } catch (err) {
      this.tx = tx;
      throw err;
    }
    const unroutable: PublishInput[] = [];
    const written = [];
    let needsSync = false;
    this.store.beginBatch();
    try {
      for (const p of tx.publishes) {
        const out = this.vhost.publish(p);
        if (out.queues === 0 && p.mandatory) unroutable.push(p);
        // A duplicate needs the sync too: the first copy's key may not be on disk yet.
        if (out.needsSync) needsSync = true;
        if (out.needsSync && out.message) written.push(out.message);
      }
      // Consumer credit was already given back when the ack was buffered.
      for (const s of tx.settles) {
        if (s.requeue) s.u.queue.requeue(s.u.entry);
        else {
          if (s.u.entry.msg.persistent && s.u.queue.persistsMessages) needsSync = true;
          s.u.queue.settle(s.u.entry);
        }
      }
    } finally {
      this.store.endBatch(written);
    }
    this.afterSettle(tx.settles.map((s) => s.u));
    if (needsSync) await this.store.sync();
    return { unroutable };
  }

  txRollback(): void {
    const tx = this.tx;
    if (!tx) throw preconditionFailed('channel is not transactional');
    this.tx = { publishes: [], settles: [] };
    // Rolled-back acks leave the deliveries unacked, under their old tags.
    const back = tx.settles.map((s) => s.u).sort((a, b) => a.tag - b.tag);
    const rest = [...this.unacked.values()];
    this.unacked.clear();
    for (const u of [...back, ...rest].sort((a, b) => a.tag - b.tag)) this.unacked.set(u.tag, u);
    for (const u of back) if (u.consumer) u.consumer.unacked++;
    this.consumerUnacked += back.filter((u) => u.consumer).length;
  }

  /** Channel closed: consumers go, unacked deliveries return to their queues. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.directReply) this.vhost.directReplies.delete(this.directReply.address);
    for (const c of this.consumers.values()) {
      c.active = false;
      c.queue.removeConsumer(c);
    }
    this.consumers.clear();
    const pending = [...this.unacked.values()];
    if (this.tx) for (const s of this.tx.settles) pending.push(s.u);
    this.tx = undefined;
    this.unacked.clear();
    pending.sort((a, b) => a.tag - b.tag);
    for (const u of pending) u.queue.requeue(u.entry);
    drainEach(pending.map((u) => u.queue));
  }

  // --- called by consumers -----------------------------------------------

  delivered(c: SessionConsumer, queue: Queue, entry: QueueEntry, content: MessageContent): void {
    const tag = this.nextTag++;
    if (c.noAck) {
      queue.settle(entry);
    } else {
      c.unacked++;
      this.consumerUnacked++;
      this.unacked.set(tag, { tag, entry, queue, consumer: c });
    }
    this.sink.deliver(c.tag, tag, entry.redelivered, content);
  }

  consumerGone(c: SessionConsumer): void {
    if (this.consumers.get(c.tag) !== c) return;
    this.consumers.delete(c.tag);
    c.active = false;
    this.sink.consumerCancelled(c.tag);
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

  private takeUnacked(deliveryTag: number, multiple: boolean): Unacked[] {
    const out: Unacked[] = [];
    if (multiple) {
      for (const [tag, u] of this.unacked) {
        if (deliveryTag !== 0 && tag > deliveryTag) break;
        out.push(u);
      }
      if (out.length === 0 && deliveryTag !== 0) throw preconditionFailed(`unknown delivery tag ${deliveryTag}`);
    } else {
      const u = this.unacked.get(deliveryTag);
      if (!u) throw preconditionFailed(`unknown delivery tag ${deliveryTag}`);
      out.push(u);
    }
    for (const u of out) this.unacked.delete(u.tag);
    return out;
  }

  private settle(u: Unacked, requeue: boolean, ack: boolean): void {
    if (u.consumer) {
      u.consumer.unacked--;
      this.consumerUnacked--;
    }
    if (this.tx) {
      this.tx.settles.push({ u, requeue: !ack && requeue });
      return;
    }
    if (requeue) u.queue.requeue(u.entry);
    else u.queue.settle(u.entry);
  }

  private returnToQueue(u: Unacked): void {
    if (u.consumer) {
      u.consumer.unacked--;
      this.consumerUnacked--;
    }
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
    // Channel-wide (global) credit may unblock consumers on any queue.
    drainEach(this.prefetchGlobal > 0 ? [...queues, ...this.consumerQueues()] : queues);
  }
}

/** Let each queue deliver again, once even if it appears several times. */
function drainEach(queues: readonly Queue[]): void {
  for (const q of new Set(queues)) q.drain();
}

/** x-priority on basic.consume (RabbitMQ: an integer, default 0; anything else is 406). */
function consumerPriority(args: Args): number {
  const v = args['x-priority'];
  if (v === undefined) return 0;
  const n = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : typeof v === 'object' && v !== null && typeof (v as { value?: unknown }).value === 'number' ? (v as { value: number }).value : NaN;
  if (!Number.isInteger(n)) throw preconditionFailed(`invalid arg 'x-priority' for basic.consume: ${String(v)}`);
  return n;
}
