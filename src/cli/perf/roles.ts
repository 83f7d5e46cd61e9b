// The two active roles of `wharf perf`. A publisher sends in bursts from one
// loop that yields to the event loop between bursts (so its socket is read and
// written), stops at its confirm window or when the socket backs up, and in
// fixed-rate mode sends only what the schedule allows at each control tick: no
// timer per message. A consumer records end-to-end latency from the timestamp
// in each body and acks with multiple=true, every half prefetch and at the end
// of every chunk read.

import { encodeProperties, type BasicDeliver, type Channel, type Connection } from '../../client/amqp/index.js';
import { BODY_HEADER_BYTES, type PerfOptions } from './options.js';
import { nowMs, type Stats } from './report.js';

export interface Target {
  exchange: string;
  routingKey: string;
}

/** Messages one publisher sends before it yields to the event loop. */
const BURST_MESSAGES = 256;
/** Manual acks without a prefetch limit go out at least this often (and at the end of each read). */
const ACK_EVERY_UNLIMITED = 1000;

const PERSISTENT = encodeProperties({ deliveryMode: 2 });
const TRANSIENT = encodeProperties({});

export class Publisher {
  private readonly body: Buffer;
  private readonly properties: Buffer;
  private readonly limit: number;
  private sent = 0;
  private seq = 0;
  private next = 0;
  private scheduled = false;
  private waitingForDrain = false;
  private stopped = false;
  /** Fixed-rate mode: messages the schedule allows so far. */
  private allowed = 0;
  /** With confirms: send time of each unconfirmed publish, by tag modulo the window (at most that many are out). */
  private readonly sentAtByTag: Float64Array;
  /** The lowest confirm tag not yet timed. */
  private nextConfirmTag = 1;

  constructor(
    readonly connection: Connection,
    readonly channel: Channel,
    private readonly targets: readonly Target[],
    private readonly options: PerfOptions,
    private readonly stats: Stats,
  ) {
    this.body = Buffer.alloc(options.sizeBytes);
    this.properties = options.persistent ? PERSISTENT : TRANSIENT;
    this.limit = options.pmessages > 0 ? options.pmessages : Infinity;
    this.sentAtByTag = new Float64Array(Math.max(1, options.confirmWindow));
    channel.onConfirm = (ok, count) => {
      const s = this.stats;
      const now = nowMs();
      s.confirmed += count;
      if (!ok) s.nacked += count;
      s.lastConfirmMs = now;
      this.timeConfirms(now, count);
      this.schedule();
    };
    channel.on('return', () => this.stats.returned++);
  }

  /** True once it has sent all it will send (its count, or stop()) and every confirm is in. */
  get finished(): boolean {
    return (this.stopped || this.sent >= this.limit) && this.channel.unconfirmed === 0;
  }

  get sentAll(): boolean {
    return this.stopped || this.sent >= this.limit;
  }

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
  }

  /** Fixed-rate mode: called at each control tick with the time since the start. */
  allow(elapsedMs: number): void {
    this.allowed = Math.floor((this.options.ratePerSec * elapsedMs) / 1000);
    this.schedule();
  }

  /**
   * Confirm latency of the `count` oldest unconfirmed publishes. Brokers confirm a
   * channel's publishes in order (multiple=true acks), so they are the ones settled.
   */
  private timeConfirms(now: number, count: number): void {
    const times = this.sentAtByTag;
    for (let i = 0; i < count; i++, this.nextConfirmTag++) {
      this.stats.recordConfirmLatency(now - times[this.nextConfirmTag % times.length]);
    }
  }

  private schedule(): void {
    if (this.scheduled || this.waitingForDrain || this.sentAll) return;
    this.scheduled = true;
    setImmediate(this.pump);
  }

  private readonly pump = (): void => {
    this.scheduled = false;
    const { channel, connection, options } = this;
    const window = options.confirmWindow;
    const rated = options.ratePerSec > 0;
    for (let n = 0; n < BURST_MESSAGES; n++) {
      if (this.sentAll || !channel.isOpen) return;
      if (window > 0 && channel.unconfirmed >= window) return; // onConfirm schedules the next burst
      if (rated && this.sent >= this.allowed) return; // the next tick does
      if (!connection.writable()) {
        this.waitingForDrain = true;
        connection.once('drain', () => {
          this.waitingForDrain = false;
          this.schedule();
        });
        return;
      }
      this.publishOne();
    }
    this.schedule();
  };

  private publishOne(): void {
    const body = this.body;
    const now = nowMs();
    body.writeDoubleLE(now, 0);
    body.writeUInt32LE(this.seq, 8);
    this.seq = (this.seq + 1) >>> 0;
    const t = this.targets[this.next];
    if (++this.next === this.targets.length) this.next = 0;
    const tag = this.channel.publish(t.exchange, t.routingKey, body, this.properties);
    if (tag > 0) this.sentAtByTag[tag % this.sentAtByTag.length] = now;
    this.sent++;
    this.stats.published++;
    this.stats.lastPublishMs = now;
  }
}

export class Consumer {
  private readonly ackEvery: number;
  private readonly limit: number;
  private received = 0;
  private unacked = 0;
  private lastTag = 0;
  private readonly tags: string[] = [];
  lastDeliveryMs = 0;

  constructor(
    readonly connection: Connection,
    readonly channel: Channel,
    private readonly options: PerfOptions,
    private readonly stats: Stats,
  ) {
    this.ackEvery = options.prefetch > 0 ? Math.max(1, options.prefetch >> 1) : ACK_EVERY_UNLIMITED;
    this.limit = options.cmessages > 0 ? options.cmessages : Infinity;
    if (!options.autoAck) channel.onReadEnd = () => this.flushAcks();
  }

  /** True once it has its --cmessages. */
  get finished(): boolean {
    return this.received >= this.limit;
  }

  async start(queues: readonly string[]): Promise<void> {
    if (this.options.prefetch > 0) await this.channel.qos(this.options.prefetch);
    for (const q of queues) this.tags.push(await this.channel.consume(q, this.onDelivery, { noAck: this.options.autoAck }));
  }

  /** Stops deliveries (cancels its consumers), acking what it counted. */
  async stop(): Promise<void> {
    this.flushAcks();
    if (!this.channel.isOpen) return;
    for (const tag of this.tags.splice(0)) await this.channel.cancel(tag);
  }

  private readonly onDelivery = (d: BasicDeliver, body: Buffer): void => {
    // Past --cmessages: not counted and not acked (requeued when the channel closes).
    if (this.received >= this.limit) return;
    const now = nowMs();
    const s = this.stats;
    if (body.length >= BODY_HEADER_BYTES) s.recordLatency(now - body.readDoubleLE(0));
    s.consumed++;
    s.lastConsumeMs = now;
    this.lastDeliveryMs = now;
    this.received++;
    if (this.options.autoAck) return;
    this.lastTag = d.deliveryTag;
    if (++this.unacked >= this.ackEvery || this.received === this.limit) this.flushAcks();
  };

  private flushAcks(): void {
    if (this.unacked === 0) return;
    this.channel.ack(this.lastTag, true);
    this.unacked = 0;
  }
}
