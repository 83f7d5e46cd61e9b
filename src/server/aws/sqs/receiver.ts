// SQS receiving over a broker Session: ReceiveMessage takes messages as unacked
// deliveries of one long-lived session per vhost, each with a lease (its visibility
// timeout) that requeues it when it runs out, as an unacked AMQP delivery comes back
// when its channel closes. DeleteMessage acks, ChangeMessageVisibility moves the
// deadline (0: back now). Receipt handles name the delivery and carry an HMAC with a
// per-process key, so they cannot be forged, and die with the process (the leased
// messages come back to their queues then anyway).

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { MessageStore } from '../../../broker/message-store.js';
import { NO_SINK, Session, type GetResult } from '../../../broker/session.js';
import type { Vhost } from '../../../broker/vhost.js';
import type { Queue } from '../../../broker/queue/queue.js';
import { AwsError } from '../errors.js';
import { SqsWaiters, type RequestLife } from './waiters.js';

/** AWS's bounds on a visibility timeout (s). */
export const VISIBILITY_MAX_S = 43_200;

interface Lease {
  readonly tag: number;
  readonly queue: string;
  /** The stored message's id (its first-receive time is kept by it). */
  readonly msgId: number;
  timer: NodeJS.Timeout;
}

/** ReceiveMessage's MaxNumberOfMessages, VisibilityTimeout and WaitTimeSeconds, checked. */
export interface ReceiveOptions {
  readonly max: number;
  readonly visibilityS: number;
  readonly waitS: number;
}

export interface Received {
  readonly result: GetResult;
  readonly receiptHandle: string;
  /** When the message was first received (ms): ApproximateFirstReceiveTimestamp. */
  readonly firstReceivedAt: number;
}

/** First-receive times kept for messages received and not yet deleted; the oldest are forgotten beyond this. */
const FIRST_RECEIVES_MAX = 100_000;

// AWS words it differently in the query protocol (LocalStack's snapshots of AWS show both).
export const queueDoesNotExist = (): AwsError =>
  new AwsError('QueueDoesNotExist', 'The specified queue does not exist.', 400, 'AWS.SimpleQueueService.NonExistentQueue', 'Sender', 'The specified queue does not exist for this wsdl version.');

export const invalidReceiptHandle = (handle: string): AwsError =>
  new AwsError('ReceiptHandleIsInvalid', `The input receipt handle "${handle}" is not a valid receipt handle.`, 400);

export class SqsReceiver {
  private readonly session: Session;
  private readonly leases = new Map<number, Lease>();
  private readonly key = randomBytes(32);
  /** First receive time by stored message id, for ApproximateFirstReceiveTimestamp (insertion order: oldest first). */
  private readonly firstReceives = new Map<number, number>();
  /** Long polls waiting for their queues (waiters.ts). */
  readonly waiters = new SqsWaiters(this, queueDoesNotExist);

  constructor(
    private readonly vhost: Vhost,
    store: MessageStore,
  ) {
    this.session = new Session(vhost, store, 'aws-sqs-receiver', NO_SINK);
  }

  /** Up to `max` ready messages of the queue, each leased for `visibilityS` seconds. */
  async receive(queue: string, max: number, visibilityS: number): Promise<Received[]> {
    const out: Received[] = [];
    for (let i = 0; i < max; i++) {
      // In a FIFO queue, as many of one group as the receive asks for, in order (AWS), then other groups.
      const result = await this.session.get(queue, false, out[out.length - 1]?.result.entry);
      if (!result) break;
      const tag = result.deliveryTag;
      this.leases.set(tag, { tag, queue, msgId: result.entry.msg.id, timer: this.arm(tag, visibilityS) });
      out.push({ result, receiptHandle: this.handleFor(queue, tag), firstReceivedAt: this.firstReceived(result.entry.msg.id) });
    }
    return out;
  }

  private firstReceived(id: number): number {
    const known = this.firstReceives.get(id);
    if (known !== undefined) return known;
    const now = Date.now();
    if (this.firstReceives.size >= FIRST_RECEIVES_MAX) this.firstReceives.delete(this.firstReceives.keys().next().value as number);
    this.firstReceives.set(id, now);
    return now;
  }

  /**
   * ReceiveMessage: what is ready now, else (waitS > 0) the first messages to arrive
   * within waitS seconds, taken in the order the calls came (a long poll).
   */
  async receiveWaiting(queue: Queue, o: ReceiveOptions, life?: RequestLife): Promise<Received[]> {
    const got = await this.receive(queue.name, o.max, o.visibilityS);
    if (got.length > 0 || o.waitS === 0) return got;
    return this.waiters.wait(queue, o.max, o.visibilityS, o.waitS * 1000, life);
  }

  /** Messages taken for a call that went away go back to their places unseen (not a receive). */
  giveBack(got: readonly Received[]): void {
    for (const g of got) {
      const lease = this.leases.get(g.result.deliveryTag);
      if (!lease) continue;
      clearTimeout(lease.timer);
      this.leases.delete(lease.tag);
      this.session.giveBack(lease.tag);
    }
  }

  /** DeleteMessage: the delivery is acked. A well-formed handle whose lease has ended (the message went back) succeeds, as in SQS. */
  delete(queue: string, handle: string): void {
    const tag = this.tagOf(queue, handle);
    const lease = this.leases.get(tag);
    if (!lease) return;
    clearTimeout(lease.timer);
    this.leases.delete(tag);
    this.firstReceives.delete(lease.msgId);
    this.session.ack(tag, false);
  }

  /**
   * ChangeMessageVisibility: a new deadline from now; 0 makes the message visible at once.
   * A well-formed handle whose lease has ended succeeds and changes nothing (AWS answers
   * 200 there too, per LocalStack's snapshot of AWS; the message stays visible here).
   */
  changeVisibility(queue: string, handle: string, visibilityS: number): void {
    const tag = this.tagOf(queue, handle);
    const lease = this.leases.get(tag);
    if (!lease) return;
    clearTimeout(lease.timer);
    if (visibilityS === 0) this.release(tag);
    else lease.timer = this.arm(tag, visibilityS);
  }

  /** The handle names a delivery that is still leased (neither deleted nor visible again). */
  leased(queue: string, handle: string): boolean {
    try {
      return this.leases.has(this.tagOf(queue, handle));
    } catch {
      return false;
    }
  }

  /** Every leased message goes back to its queue (the listener closes). */
  close(): void {
    this.waiters.close();
    for (const l of this.leases.values()) clearTimeout(l.timer);
    this.leases.clear();
    this.session.close();
  }

  get inFlight(): number {
    return this.leases.size;
  }

  private arm(tag: number, visibilityS: number): NodeJS.Timeout {
    const t = setTimeout(() => this.release(tag), visibilityS * 1000);
    t.unref();
    return t;
  }

  /** The lease ran out: the message is visible again, marked redelivered, its receive count up. */
  private release(tag: number): void {
    if (!this.leases.delete(tag)) return;
    this.session.nack(tag, false, true);
  }

  private handleFor(queue: string, tag: number): string {
    const body = `${this.vhost.name}\u0000${queue}\u0000${tag}`;
    return `${Buffer.from(body, 'utf8').toString('base64url')}.${this.mac(body)}`;
  }

  private tagOf(queue: string, handle: string): number {
    const [body64, mac] = handle.split('.', 2);
    const body = Buffer.from(body64 ?? '', 'base64url').toString('utf8');
    const expected = this.mac(body);
    if (mac === undefined || mac.length !== expected.length || !timingSafeEqual(Buffer.from(mac), Buffer.from(expected))) {
      throw invalidReceiptHandle(handle);
    }
    const [vhost, q, tag] = body.split('\u0000');
    if (vhost !== this.vhost.name || q !== queue || !/^\d+$/.test(tag ?? '')) throw invalidReceiptHandle(handle);
    return Number(tag);
  }

  private mac(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}
