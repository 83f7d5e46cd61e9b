// What the broker keeps in memory per message. Content (properties + body) is
// held only while the message is near the head of a queue or was just published;
// otherwise it is dropped and read back from the message log by position.

import type { LogPosition } from '../store/index.js';

export type Args = Readonly<Record<string, unknown>>;

/** What a protocol adapter hands the broker for one publish. */
export interface PublishInput {
  readonly exchange: string;
  readonly routingKey: string;
  readonly mandatory: boolean;
  /** Raw AMQP content-header property bytes (flags + list), forwarded verbatim. */
  readonly properties: Buffer;
  readonly body: Buffer;
  readonly persistent: boolean;
  /** Decoded message headers, for headers exchanges; undefined when absent. */
  readonly headers: Args | undefined;
  /** The `priority` property (0-255); 0 when absent. */
  readonly priority: number;
  /** The `expiration` property as ms (per-message TTL); -1 when absent. */
  readonly expiration: number;
  /** The `message-id` property, for de-duplication. */
  readonly messageId: string | undefined;
  /** Ready this many ms from now: held by the delayed store until then, whatever the exchange (SQS's DelaySeconds). */
  readonly delayMs?: number;
}

export interface MessageContent {
  readonly exchange: string;
  readonly routingKey: string;
  readonly properties: Buffer;
  readonly body: Buffer;
}

/**
 * One message, shared by every queue it was routed to. Kept small: a deep
 * queue holds one of these (plus a QueueEntry) per message and nothing else.
 */
const UNREADABLE = -2;

export class StoredMessage {
  /** Queues still holding this message; its log space is released at zero. */
  refs = 0;
  /** Where its Enqueue record is in the log (segment -1: not written). Plain fields, not an object, to save memory. */
  private segment = -1;
  private offset = 0;
  constructor(
    /** Broker-wide, monotonically increasing; orders messages within a queue. */
    readonly id: number,
    readonly persistent: boolean,
    readonly bodySize: number,
    public content: MessageContent | undefined,
    pos: LogPosition | undefined,
    /** Wall-clock ms of the publish (or of the dead-lettering that made this copy). */
    readonly publishedAt: number,
    /** Per-message TTL in ms; -1 when none. */
    readonly expiration = -1,
    readonly priority = 0,
  ) {
    if (pos) this.pos = pos;
  }

  get pos(): LogPosition | undefined {
    return this.segment < 0 ? undefined : { segment: this.segment, offset: this.offset };
  }

  set pos(p: LogPosition | undefined) {
    this.segment = p ? p.segment : -1;
    this.offset = p ? p.offset : 0;
  }

  get written(): boolean {
    return this.segment >= 0;
  }

  /** Its record was lost (a failed, nacked write): queues drop it instead of delivering. */
  get unreadable(): boolean {
    return this.segment === UNREADABLE;
  }

  markUnreadable(): void {
    this.segment = UNREADABLE;
  }

  get logSegment(): number {
    return this.segment;
  }
}

/** A message's place in one queue. */
export class QueueEntry {
  /** Times it came back unsuccessfully (nack/reject requeue, timeout, consumer gone): x-delivery-count. */
  returns = 0;
  redelivered = false;
  constructor(
    readonly msg: StoredMessage,
    /** Wall-clock ms after which it expires in this queue; 0 for never (Queue.retimeReady may change it). */
    public expiresAt = 0,
  ) {}
}
