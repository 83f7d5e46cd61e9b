// A queue: FIFO of entries with requeued entries returning to their place,
// round-robin delivery to consumers that have credit, and paging of message
// content so a deep queue holds only small bookkeeping per message.

import { Deque } from '../../util/deque.js';
import { MinHeap } from '../../util/heap.js';
import { BrokerError, accessRefused, preconditionFailed } from '../errors.js';
import type { Args, MessageContent } from '../message.js';
import { QueueEntry } from '../message.js';
import type { MessageStore } from '../message-store.js';
import { DedupCache, parseDedupArgs } from './dedup.js';

/** The broker side of a consumer: implemented by a channel session. */
export interface Consumer {
  readonly tag: string;
  readonly noAck: boolean;
  readonly exclusive: boolean;
  /** RabbitMQ's consumer priority (x-priority): higher ones get messages first while they have credit. */
  readonly priority: number;
  /** Has credit (prefetch), flow is on and the connection is writable. */
  canAccept(): boolean;
  deliver(queue: Queue, entry: QueueEntry, content: MessageContent): void;
  /** The queue went away under the consumer (RabbitMQ: basic.cancel to the client). */
  cancelledByBroker(queue: Queue): void;
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
}

/** How much message content a queue keeps in memory ahead of its consumers. */
export const QUEUE_MEMORY_MESSAGES_MAX = 4096;
export const QUEUE_MEMORY_BYTES_MAX = 16 * 1024 * 1024;
const LOAD_BATCH_MESSAGES = 512;

export class Queue {
  readonly name: string;
  readonly id: number;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly exclusiveOwner: string | undefined;
  readonly args: Args;
  readonly vhost: string;
  /** The de-duplication window (x-message-deduplication), if enabled. */
  readonly dedup: DedupCache | undefined;

  private readonly ready = new Deque<QueueEntry>();
  private readonly requeued = new MinHeap<QueueEntry>((e) => e.msg.id);
  private readyBytes = 0;
  private consumers: Consumer[] = [];
  private nextConsumer = 0;
  private draining = false;
  private mixedPriorities = false;
  /** One read of paged-out content at a time; everyone waiting shares it. */
  private loading: Promise<void> | undefined;
  private loadFailures = 0;
  private hadConsumer = false;
  /** Delivered and not yet acked, across all channels. */
  unacked = 0;
  deleted = false;
  /** Called when an auto-delete queue loses its last consumer. */
  onUnused: ((q: Queue) => void) | undefined;
  /** Called when loading paged-out content fails. */
  onError: ((q: Queue, err: unknown) => void) | undefined;

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
    const dedup = parseDedupArgs(opts.args, `queue '${opts.name}' in vhost '${opts.vhost}'`);
    this.dedup = dedup && new DedupCache(dedup);
  }

  get messageCount(): number {
    return this.ready.length + this.requeued.length;
  }

  get consumerCount(): number {
    return this.consumers.length;
  }

  /** Messages in this queue are written to the log when persistent. */
  get persistsMessages(): boolean {
    return this.durable && this.id > 0;
  }

  /** Add a routed message; pages its content out when the queue is already deep. */
  enqueue(entry: QueueEntry): void {
    const msg = entry.msg;
    msg.refs++;
    if (
      msg.content &&
      (this.ready.length >= QUEUE_MEMORY_MESSAGES_MAX || this.readyBytes >= QUEUE_MEMORY_BYTES_MAX)
    ) {
      // Deep queue: keep only the position. Transient messages are written first.
      if (!msg.written) this.store.write(msg, [], msg.content);
      if (msg.written) msg.content = undefined;
    }
    this.ready.push(entry);
    this.readyBytes += msg.bodySize;
    if (this.consumers.length > 0) this.drain();
  }

  /** Recovered messages (content on disk; refs already counted by recovery). */
  restore(entry: QueueEntry): void {
    this.ready.push(entry);
    this.readyBytes += entry.msg.bodySize;
  }

  /** Entries that were delivered and came back (nack/reject requeue, channel closed). */
  requeue(entry: QueueEntry): void {
    this.unacked--;
    if (this.deleted) {
      this.release(entry, false);
      return;
    }
    entry.redelivered = true;
    this.requeued.push(entry);
    this.readyBytes += entry.msg.bodySize;
  }

  /** A delivered entry is done with (acked, or rejected without requeue). */
  settle(entry: QueueEntry): void {
    this.unacked--;
    this.release(entry, !this.deleted);
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
    this.drain();
  }

  removeConsumer(c: Consumer): void {
    const i = this.consumers.indexOf(c);
    if (i < 0) return;
    this.consumers.splice(i, 1);
    this.updatePriorities();
    if (this.nextConsumer > i) this.nextConsumer--;
    if (this.consumers.length === 0 && this.autoDelete && this.hadConsumer && !this.deleted) this.onUnused?.(this);
  }

  /** Take the next message for basic.get; undefined when empty. Content may need loading first. */
  async take(): Promise<QueueEntry | undefined> {
    let failures = 0;
    for (;;) {
      const entry = this.peekReady();
      if (!entry) return undefined;
      if (entry.msg.content) {
        this.popReady();
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

  /** Deliver to consumers while there are messages and consumers with credit. */
  drain(): void {
    if (this.draining || this.loading || this.deleted) return;
    this.draining = true;
    try {
      while (this.consumers.length > 0) {
        const entry = this.peekReady();
        if (!entry) break;
        const consumer = this.pickConsumer();
        if (!consumer) break;
        const content = entry.msg.content;
        if (!content) {
          void this.loadAhead();
          break;
        }
        this.popReady();
        entry.deliveryCount++;
        this.unacked++;
        consumer.deliver(this, entry, content);
      }
    } finally {
      this.draining = false;
    }
  }

  /** Drop all ready messages (queue.purge); returns how many. */
  purge(): number {
    const n = this.messageCount;
    // Each purged message gets an Ack record: a Purge-up-to-id record would also
    // remove delivered, unacked messages (lower ids) on replay.
    for (const e of this.ready) this.release(e, true);
    for (const e of this.requeued.drain()) this.release(e, true);
    this.ready.clear();
    this.readyBytes = 0;
    return n;
  }

  /** The queue is being deleted: tell consumers, drop messages. */
  delete(): number {
    const n = this.messageCount;
    this.deleted = true;
    const consumers = this.consumers;
    this.consumers = [];
    for (const c of consumers) c.cancelledByBroker(this);
    // No Ack records: the queue's id leaves meta.json, so replay ignores its messages.
    for (const e of this.ready) this.release(e, false);
    for (const e of this.requeued.drain()) this.release(e, false);
    this.ready.clear();
    this.readyBytes = 0;
    return n;
  }

  checkEquivalent(durable: boolean, autoDelete: boolean, exclusive: boolean, args: Args): void {
    const where = `queue '${this.name}' in vhost '${this.vhost}'`;
    if (durable !== this.durable) {
      throw preconditionFailed(
        `inequivalent arg 'durable' for ${where}: received '${durable}' but current is '${this.durable}'`,
      );
    }
    if (autoDelete !== this.autoDelete) {
      throw preconditionFailed(
        `inequivalent arg 'auto_delete' for ${where}: received '${autoDelete}' but current is '${this.autoDelete}'`,
      );
    }
    if (exclusive !== (this.exclusiveOwner !== undefined)) {
      throw preconditionFailed(
        `inequivalent arg 'exclusive' for ${where}: received '${exclusive}' but current is '${!exclusive}'`,
      );
    }
    for (const key of new Set([...Object.keys(args), ...Object.keys(this.args)])) {
      if (!key.startsWith('x-')) continue;
      if (!sameArg(args[key], this.args[key])) {
        throw preconditionFailed(
          `inequivalent arg '${key}' for ${where}: received ${describeArg(args[key])} but current is ${describeArg(this.args[key])}`,
        );
      }
    }
  }

  private peekReady(): QueueEntry | undefined {
    // Messages whose content could not be read back (their write failed and was nacked) are dropped here.
    for (let e = this.headEntry(); e; e = this.headEntry()) {
      if (!e.msg.unreadable) return e;
      this.popReady();
      this.release(e, false);
    }
    return undefined;
  }

  private headEntry(): QueueEntry | undefined {
    const a = this.requeued.peek();
    const b = this.ready.peek();
    if (!a) return b;
    if (!b) return a;
    return a.msg.id < b.msg.id ? a : b;
  }

  private popReady(): QueueEntry | undefined {
    const a = this.requeued.peek();
    const b = this.ready.peek();
    const entry = a && (!b || a.msg.id < b.msg.id) ? this.requeued.pop() : this.ready.shift();
    if (entry) this.readyBytes -= entry.msg.bodySize;
    return entry;
  }

  /** Round-robin among the highest-priority consumers that can take a message now. */
  private pickConsumer(): Consumer | undefined {
    const n = this.consumers.length;
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
        this.drain();
      },
      (err: unknown) => {
        this.loading = undefined;
        this.loadFailures++;
        this.onError?.(this, err);
      },
    );
    return this.loading;
  }

  private load(): Promise<void> {
    const batch = [];
    for (const e of this.requeued) if (!e.msg.content) batch.push(e.msg);
    for (let i = 0; i < this.ready.length && batch.length < LOAD_BATCH_MESSAGES; i++) {
      const e = this.ready.at(i) as QueueEntry;
      if (!e.msg.content) batch.push(e.msg);
    }
    return this.store.load(batch);
  }

  private release(entry: QueueEntry, logAck = true): void {
    const msg = entry.msg;
    if (logAck && this.persistsMessages && msg.persistent) this.store.ack(this.id, msg.id);
    msg.refs--;
    if (msg.refs === 0) {
      this.store.release(msg);
      msg.content = undefined;
    }
  }
}

function sameArg(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return false;
  if (typeof a === 'object' && typeof b === 'object') return toJson(a) === toJson(b);
  return Number(a) === Number(b) && typeof a !== 'string' && typeof b !== 'string';
}

function describeArg(v: unknown): string {
  if (v === undefined) return 'none';
  if (typeof v === 'string') return `the value '${v}' of type 'longstr'`;
  if (typeof v === 'number' || typeof v === 'bigint') return `the value '${v}' of type 'long'`;
  if (typeof v === 'boolean') return `the value '${v}' of type 'bool'`;
  return `the value '${toJson(v)}'`;
}

/** JSON for comparing and printing argument values; JSON.stringify alone throws on bigint. */
function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
}
