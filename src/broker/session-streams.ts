// One channel's consumers of stream queues and their unacked deliveries (RabbitMQ's stream queue
// consumers). An ack only returns credit (nothing is removed from a stream; in a transaction, at
// the commit, as for any queue); nack, reject and recover are refused as RabbitMQ refuses them;
// a channel that closes just stops reading.
// The Session delegates here so its classic-queue bookkeeping stays as it is.

import { BrokerError, preconditionFailed } from './errors.js';
import type { Args, MessageContent } from './message.js';
import { streamStartOf } from './stream/queue-args.js';
import type { Stream } from './stream/stream.js';
import { StreamConsumer, type StreamConsumerOwner, type StreamStart } from './stream/stream-consumer.js';
import type { StreamSubscription } from './stream/stream-queues.js';
import type { Vhost } from './vhost.js';

/** What the channel's Session provides. */
export interface StreamSessionHost {
  readonly vhost: Vhost;
  /** Open, flow on, under the channel-wide prefetch, connection writable. */
  canDeliver(): boolean;
  /** Sends a delivery under a new delivery tag, counted against the channel-wide prefetch; returns the tag. */
  deliver(consumerTag: string, content: MessageContent): number;
  /** `n` deliveries counted against the channel-wide prefetch were settled. */
  uncount(n: number): void;
  /** The broker cancelled the consumer (basic.cancel to the client). */
  consumerCancelled(consumerTag: string): void;
}

/** An acked stream delivery whose credit is still to come back (a transaction's, until commit). */
export interface StreamAck {
  readonly tag: number;
  readonly consumer: ChannelStreamConsumer;
}

class ChannelStreamConsumer implements StreamConsumerOwner, StreamSubscription {
  readonly consumer: StreamConsumer;
  active = true;
  unsubscribe: () => void = () => {};

  constructor(
    private readonly owner: SessionStreams,
    readonly stream: Stream,
    readonly tag: string,
    prefetch: number,
  ) {
    this.consumer = new StreamConsumer(stream.name, stream.partitions[0], tag, prefetch, this);
  }

  canDeliver(): boolean {
    return this.active && this.owner.host.canDeliver();
  }

  deliver(_c: StreamConsumer, _offset: number, content: MessageContent): void {
    this.owner.delivered(this, content);
  }

  failed(_c: StreamConsumer, err: unknown): void {
    this.owner.host.vhost.streamError(this.stream.name, err);
    this.owner.gone(this);
  }

  cancelledByBroker(): void {
    this.owner.gone(this);
  }
}

/**
 * RabbitMQ 3.10's checks of a basic.consume on a stream queue, in its order: consume arguments
 * (x-priority refused, x-stream-offset parsed), a per-consumer prefetch, then no automatic acks.
 * Also made before a consume is relayed to the stream's leader, so the refusal is this node's own.
 */
export function checkStreamConsume(stream: string, vhost: string, o: { noAck: boolean; args: Args }, prefetch: number): StreamStart {
  const where = `queue '${stream}' in vhost '${vhost}'`;
  const start = streamStartOf(o.args, where, Date.now());
  if (prefetch === 0) throw preconditionFailed(`consumer prefetch count is not set for '${where}'`);
  if (o.noAck) throw new BrokerError('not-implemented', `automatic acknowledgement not supported by stream queues ${where}`, true);
  return start;
}

export class SessionStreams {
  private readonly consumers = new Map<string, ChannelStreamConsumer>();
  /** Unacked deliveries by tag (insertion order is tag order): whose credit an ack returns. */
  private readonly unacked = new Map<number, ChannelStreamConsumer>();

  constructor(readonly host: StreamSessionHost) {}

  hasConsumer(tag: string): boolean {
    return this.consumers.has(tag);
  }

  /**
   * basic.consume on a stream queue (checkStreamConsume first).
   */
  consume(stream: Stream, tag: string, o: { noAck: boolean; args: Args }, prefetch: number): { tag: string; start: () => void } {
    const start = checkStreamConsume(stream.name, this.host.vhost.name, o, prefetch);
    const c = new ChannelStreamConsumer(this, stream, tag, prefetch);
    this.consumers.set(tag, c);
    return {
      tag,
      start: () => {
        if (!c.active) return;
        c.unsubscribe = this.host.vhost.streamQueues.subscribe(stream, c);
        c.consumer.begin(start);
      },
    };
  }

  /** basic.cancel: the consumer stops; its unacked deliveries stay (an ack of one is still valid). */
  cancel(tag: string): boolean {
    const c = this.consumers.get(tag);
    if (!c) return false;
    this.stop(c);
    return true;
  }

  /**
   * Stream deliveries an ack names: up to `tag` (multiple; 0 is all) or that one, taken off the
   * unacked ones. Their credit comes back with credit() (at once, or at a transaction's commit).
   */
  take(tag: number, multiple: boolean): StreamAck[] {
    const out: StreamAck[] = [];
    if (!multiple) {
      const c = this.unacked.get(tag);
      if (c) {
        this.unacked.delete(tag);
        out.push({ tag, consumer: c });
      }
      return out;
    }
    for (const [t, c] of this.unacked) {
      if (tag !== 0 && t > tag) break;
      this.unacked.delete(t);
      out.push({ tag: t, consumer: c });
    }
    return out;
  }

  /** Acked deliveries give their consumers credit back. */
  credit(acks: readonly StreamAck[]): void {
    if (acks.length === 0) return;
    const perConsumer = new Map<ChannelStreamConsumer, number>();
    for (const a of acks) perConsumer.set(a.consumer, (perConsumer.get(a.consumer) ?? 0) + 1);
    for (const [c, n] of perConsumer) c.consumer.settled(n);
    this.host.uncount(acks.length);
  }

  /** A rolled-back transaction's acks: the deliveries are unacked again, under their tags. */
  restore(acks: readonly StreamAck[]): void {
    if (acks.length === 0) return;
    const all: StreamAck[] = [...acks];
    for (const [tag, consumer] of this.unacked) all.push({ tag, consumer });
    all.sort((a, b) => a.tag - b.tag);
    this.unacked.clear();
    for (const a of all) this.unacked.set(a.tag, a.consumer);
  }

  /** basic.nack / basic.reject of a stream delivery: RabbitMQ refuses them (540, connection). */
  checkNack(tag: number, multiple: boolean): void {
    const c = this.find(tag, multiple);
    if (c) throw notSupported('basic.nack and basic.reject', c.stream.name, this.host.vhost.name);
  }

  /** basic.recover with unacked stream deliveries: nothing can be requeued into a stream. */
  checkRecover(): void {
    const first = this.unacked.values().next();
    if (!first.done) throw notSupported('basic.recover', first.value.stream.name, this.host.vhost.name);
  }

  /** The connection drained or credit grew: consumers deliver again. */
  resume(): void {
    for (const c of this.consumers.values()) c.consumer.pump();
  }

  /** The channel closed: every consumer stops; unacked deliveries simply go. */
  close(): void {
    for (const c of [...this.consumers.values()]) this.stop(c);
    this.unacked.clear();
  }

  // --- called by consumers -----------------------------------------------

  delivered(c: ChannelStreamConsumer, content: MessageContent): void {
    const tag = this.host.deliver(c.tag, content);
    this.unacked.set(tag, c);
  }

  /**
   * The stream was deleted, or reading it failed: the consumer stops at once, and the client is
   * told (basic.cancel) once the deletion is on disk, as for a classic queue (Session.consumerGone).
   */
  gone(c: ChannelStreamConsumer): void {
    if (this.consumers.get(c.tag) !== c || !c.active) return;
    this.halt(c);
    const tell = (): void => {
      if (this.consumers.get(c.tag) !== c) return;
      this.consumers.delete(c.tag);
      this.host.consumerCancelled(c.tag);
    };
    const later = (): void => void setImmediate(tell);
    this.host.vhost.topologySaved().then(later, later);
  }

  private stop(c: ChannelStreamConsumer): void {
    this.consumers.delete(c.tag);
    this.halt(c);
  }

  private halt(c: ChannelStreamConsumer): void {
    c.active = false;
    c.unsubscribe();
    c.consumer.stop();
  }

  private find(tag: number, multiple: boolean): ChannelStreamConsumer | undefined {
    if (!multiple) return this.unacked.get(tag);
    for (const [t, c] of this.unacked) {
      if (tag !== 0 && t > tag) break;
      return c;
    }
    return undefined;
  }
}

/** RabbitMQ's text for what stream queues do not do (NOT_IMPLEMENTED closes the connection). */
export function notSupported(what: string, queue: string, vhost: string): BrokerError {
  return new BrokerError('not-implemented', `${what} not supported by stream queues queue '${queue}' in vhost '${vhost}'`, true);
}
