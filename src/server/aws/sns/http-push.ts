// SNS HTTP/S push delivery. An http/https subscription is a binding from its topic's
// exchange to an internal durable queue (amq.sns.<uuid>); each message there is one
// POST to make: its body is exactly what to send (the signed JSON envelope, or the
// raw message) and its x-amz-sns-* AMQP headers are the HTTP headers to send. The SNS
// service puts the SubscriptionConfirmation in the same queue.
//
// Each subscription's queue is consumed through its own broker Session. Its requests
// in flight are bounded (concurrency), and so are those across all subscriptions (a
// SocketBudget); a message waiting for a retry holds no request slot, only a place in
// the session's prefetch (heldMax), so a failing endpoint's retries run side by side
// as in SNS rather than one batch after another. A message is acked only once it is delivered, dead-lettered (written
// to the subscription's SQS dead-letter queue and synced) or dropped; while it waits
// for a retry it stays an unacked delivery, so a crash or a restart delivers it again
// (at least once). Publishers never wait on any of this: they only enqueue, and a slow
// or dead endpoint only fills its own queue.

import { setMaxListeners } from 'node:events';
import { DELIVERY_COUNT_HEADER } from '../../../broker/dead-letter.js';
import type { MessageStore } from '../../../broker/message-store.js';
import type { MessageContent, PublishInput } from '../../../broker/message.js';
import { Session, type DeliverySink } from '../../../broker/session.js';
import type { Vhost } from '../../../broker/vhost.js';
import type { Logger } from '../../../store/index.js';
import { decodeProperties, encodeProperties, type FieldTable } from '../../../protocol/amqp/index.js';
import { effectiveDeliveryPolicy, retrySchedule, type EffectiveDeliveryPolicy } from './delivery-policy.js';
import { PushAgents, postOnce, REQUEST_TIMEOUT_MS, SocketBudget, USER_AGENT, type PushOutcome } from './push-request.js';

export interface PushTarget {
  readonly subscriptionArn: string;
  /** http:// or https:// URL. */
  readonly endpoint: string;
  /** The subscription's internal queue (amq.sns.<uuid>) in the pusher's vhost. */
  readonly queue: string;
  /** The subscription's DeliveryPolicy attribute (JSON text or parsed). */
  readonly deliveryPolicy?: unknown;
  /** The topic's DeliveryPolicy attribute (JSON text or parsed): its "http" defaults. */
  readonly topicDeliveryPolicy?: unknown;
  /** The SQS queue (a queue name in the same vhost) of the subscription's RedrivePolicy. */
  readonly deadLetterQueue?: string;
}

export interface HttpPusherOptions {
  /** Requests in flight per subscription. */
  readonly concurrency?: number;
  /** Messages a subscription holds unacked, in flight or waiting for a retry (its session's prefetch). */
  readonly heldMax?: number;
  /** Concurrent pushes across all subscriptions (sockets). */
  readonly socketsMax?: number;
  /** Per-request timeout (AWS: 15 s). */
  readonly requestTimeoutMs?: number;
  /** Milliseconds per policy second; tests shrink it so that a 20 s retry takes 20 ms. */
  readonly secondMs?: number;
  /** AWS jitters retry delays; Wharf takes up to this fraction off each delay. */
  readonly jitter?: number;
  /** TLS options for https endpoints (e.g. a test CA); by default the system's trusted CAs. */
  readonly tls?: { readonly ca?: string | Buffer; readonly rejectUnauthorized?: boolean };
}

/** What a pusher reports per message, for logs and tests. */
export type PushResult = 'delivered' | 'dead-lettered' | 'dropped';

const DEFAULTS = { concurrency: 10, heldMax: 1000, socketsMax: 256, secondMs: 1000, jitter: 0.1 };
const SNS_HEADER_PREFIX = 'x-amz-sns-';
const CONNECTION_PREFIX = 'aws-sns-push';

export class HttpPusher {
  private readonly subs = new Map<string, SubscriptionPusher>();
  private readonly agents: PushAgents;
  private readonly budget: SocketBudget;
  private readonly o: Required<Omit<HttpPusherOptions, 'tls'>>;
  private closed = false;
  /** Called after each message is settled (tests, metrics). */
  onResult: ((subscriptionArn: string, result: PushResult, detail: string) => void) | undefined;

  constructor(
    private readonly vhost: Vhost,
    private readonly store: MessageStore,
    private readonly logger: Logger,
    opts: HttpPusherOptions = {},
  ) {
    this.o = {
      concurrency: opts.concurrency ?? DEFAULTS.concurrency,
      heldMax: opts.heldMax ?? DEFAULTS.heldMax,
      socketsMax: opts.socketsMax ?? DEFAULTS.socketsMax,
      requestTimeoutMs: opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
      secondMs: opts.secondMs ?? DEFAULTS.secondMs,
      jitter: opts.jitter ?? DEFAULTS.jitter,
    };
    this.agents = new PushAgents(this.o.socketsMax, opts.tls ?? {});
    this.budget = new SocketBudget(this.o.socketsMax, () => {
      for (const s of this.subs.values()) s.resume();
    });
  }

  /** Starts pushing a subscription's queue; a second call updates the target (a new queue restarts it). */
  start(target: PushTarget): void {
    if (this.closed) return;
    const running = this.subs.get(target.subscriptionArn);
    if (running && running.queue === target.queue) {
      running.update(target);
      return;
    }
    running?.close();
    const ctx: PusherContext = {
      vhost: this.vhost,
      store: this.store,
      logger: this.logger,
      agents: this.agents,
      budget: this.budget,
      o: this.o,
      report: (arn, result, detail) => this.onResult?.(arn, result, detail),
      gone: (s) => {
        if (this.subs.get(s.target.subscriptionArn) === s) this.subs.delete(s.target.subscriptionArn);
      },
    };
    const s = new SubscriptionPusher(ctx, target);
    this.subs.set(target.subscriptionArn, s);
    s.start();
  }

  /** Stops pushing; messages waiting for a retry or in flight go back to the queue. */
  stop(subscriptionArn: string): void {
    this.subs.get(subscriptionArn)?.close();
    this.subs.delete(subscriptionArn);
  }

  has(subscriptionArn: string): boolean {
    return this.subs.has(subscriptionArn);
  }

  close(): void {
    this.closed = true;
    for (const s of this.subs.values()) s.close();
    this.subs.clear();
    this.agents.destroy();
  }
}

interface PusherContext {
  readonly vhost: Vhost;
  readonly store: MessageStore;
  readonly logger: Logger;
  readonly agents: PushAgents;
  readonly budget: SocketBudget;
  readonly o: Required<Omit<HttpPusherOptions, 'tls'>>;
  report(subscriptionArn: string, result: PushResult, detail: string): void;
  gone(s: SubscriptionPusher): void;
}

/** One subscription: its session, its policy, and the pushes and retries in progress. */
class SubscriptionPusher implements DeliverySink {
  readonly queue: string;
  private readonly session: Session;
  private policy: EffectiveDeliveryPolicy;
  private readonly abort = new AbortController();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** This subscription's requests in flight; a message waiting for a retry holds none. */
  private readonly slots: SocketBudget;
  private closed = false;
  /** Throttle (maxReceivesPerSecond): the earliest time the next push may start. */
  private nextStartAt = 0;

  constructor(
    private readonly ctx: PusherContext,
    public target: PushTarget,
  ) {
    this.queue = target.queue;
    this.slots = new SocketBudget(ctx.o.concurrency, () => this.resume());
    // Every request in flight listens on the one abort signal: more than Node's default 10 is expected.
    setMaxListeners(ctx.o.concurrency + 1, this.abort.signal);
    this.policy = effectiveDeliveryPolicy(target.topicDeliveryPolicy, target.deliveryPolicy);
    this.session = new Session(ctx.vhost, ctx.store, `${CONNECTION_PREFIX}:${target.subscriptionArn}`, this);
  }

  start(): void {
    try {
      this.session.qos(this.ctx.o.heldMax, false);
      const c = this.session.consume(this.queue, '', { noAck: false, exclusive: false, args: {} });
      c.start();
    } catch (err) {
      this.ctx.logger.warn('SNS push: cannot consume the subscription queue', { subscription: this.target.subscriptionArn, queue: this.queue, error: String(err) });
      this.close();
    }
  }

  update(target: PushTarget): void {
    this.target = target;
    this.policy = effectiveDeliveryPolicy(target.topicDeliveryPolicy, target.deliveryPolicy);
  }

  resume(): void {
    if (!this.closed) this.session.resume();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.abort.abort();
    // Unacked deliveries (in flight, waiting for a retry) go back to the queue.
    this.session.close();
    this.ctx.gone(this);
  }

  // --- DeliverySink ---------------------------------------------------------

  deliver(_consumerTag: string, deliveryTag: number, _redelivered: boolean, content: MessageContent): void {
    // The first attempt's slot is taken now, so that writable() counts it before the queue offers the next message.
    void this.push(deliveryTag, content, this.slots.take());
  }

  /** Take another message only with a request slot free here and across subscriptions. */
  writable(): boolean {
    return this.slots.available && this.ctx.budget.available;
  }

  stalled(): boolean {
    return false;
  }

  consumerCancelled(): void {
    // The queue was deleted (the subscription went): nothing more to push.
    this.close();
  }

  timedOut(timeoutMs: number): void {
    // A push with its retries outlasted the consumer timeout; the retry timers own the message.
    this.ctx.logger.debug('SNS push: a delivery passed the consumer timeout', { subscription: this.target.subscriptionArn, timeoutMs });
  }

  // --- one message ------------------------------------------------------------

  private async push(tag: number, content: MessageContent, holdsSlot: boolean): Promise<void> {
    const req = { endpoint: this.target.endpoint, headers: this.headersOf(content), body: content.body };
    const schedule = retrySchedule(this.policy.healthyRetryPolicy);
    let outcome: PushOutcome = { kind: 'retry', reason: 'not attempted' };
    for (let attempt = 0; attempt <= schedule.length; attempt++) {
      if (attempt > 0 && !(await this.wait(schedule[attempt - 1] * this.ctx.o.secondMs * (1 - Math.random() * this.ctx.o.jitter)))) return;
      if (!holdsSlot) await this.slots.acquire();
      holdsSlot = false;
      if (!(await this.throttle())) {
        this.slots.release();
        return;
      }
      await this.ctx.budget.acquire();
      try {
        if (this.closed) return;
        outcome = await postOnce({ ...req, endpoint: this.target.endpoint }, this.ctx.agents, this.ctx.o.requestTimeoutMs, this.abort.signal);
      } finally {
        this.ctx.budget.release();
        this.slots.release();
      }
      if (this.closed) return;
      if (outcome.kind !== 'retry') break;
      this.ctx.logger.debug('SNS push failed', { subscription: this.target.subscriptionArn, attempt: attempt + 1, reason: outcome.reason });
    }
    if (outcome.kind === 'delivered') {
      this.settle(tag, 'delivered', `HTTP ${outcome.status}`);
      return;
    }
    await this.deadLetter(tag, content, outcome.reason);
  }

  /** The x-amz-sns-* headers the SNS service stored with the message, plus SNS's own. */
  private headersOf(content: MessageContent): Record<string, string> {
    const headers: Record<string, string> = {};
    const table = content.properties.length > 0 ? decodeProperties(content.properties).headers : undefined;
    for (const [k, v] of Object.entries(table ?? {})) {
      if (!k.toLowerCase().startsWith(SNS_HEADER_PREFIX)) continue;
      if (typeof v === 'string') headers[k.toLowerCase()] = v;
      else if (Buffer.isBuffer(v)) headers[k.toLowerCase()] = v.toString('utf8');
      else if (typeof v === 'boolean' || typeof v === 'number') headers[k.toLowerCase()] = String(v);
    }
    headers['content-type'] = this.policy.headerContentType;
    headers['user-agent'] = USER_AGENT;
    return headers;
  }

  /** Resolves true after `ms`, or false if the pusher closed meanwhile. */
  private wait(ms: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (ms <= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve(!this.closed);
      }, ms);
      this.timers.add(t);
      // A closing pusher clears its timers: those waits never resolve, their messages are requeued.
    });
  }

  /** throttlePolicy.maxReceivesPerSecond: pushes start at least 1/max s apart. */
  private throttle(): Promise<boolean> {
    const perSecond = this.policy.maxReceivesPerSecond;
    if (perSecond === undefined) return Promise.resolve(!this.closed);
    const now = Date.now();
    const at = Math.max(now, this.nextStartAt);
    this.nextStartAt = at + 1000 / perSecond;
    return this.wait(at - now);
  }

  /** After the last retry (or a client-side error): to the dead-letter queue if there is one, else dropped (as SNS). */
  private async deadLetter(tag: number, content: MessageContent, reason: string): Promise<void> {
    const dlq = this.target.deadLetterQueue;
    if (dlq === undefined) {
      this.ctx.logger.warn('SNS push: delivery policy exhausted, message discarded (no dead-letter queue)', { subscription: this.target.subscriptionArn, reason });
      this.settle(tag, 'dropped', reason);
      return;
    }
    if (!this.ctx.vhost.queues.has(dlq)) {
      // SNS discards a message it cannot redrive (NumberOfNotificationsFailedToRedriveToDlq).
      this.ctx.logger.warn('SNS push: dead-letter queue missing, message discarded', { subscription: this.target.subscriptionArn, queue: dlq, reason });
      this.settle(tag, 'dropped', `dead-letter queue ${dlq} does not exist`);
      return;
    }
    try {
      this.ctx.vhost.publish(deadLetterInput(dlq, content));
      await this.ctx.store.sync();
    } catch (err) {
      // Not on disk: the message stays unacked and comes back with the next start.
      this.ctx.logger.warn('SNS push: could not dead-letter a message', { subscription: this.target.subscriptionArn, queue: dlq, error: String(err) });
      return;
    }
    this.settle(tag, 'dead-lettered', reason);
  }

  private settle(tag: number, result: PushResult, detail: string): void {
    if (this.closed) return;
    this.session.ack(tag, false);
    this.ctx.report(this.target.subscriptionArn, result, detail);
  }
}

/**
 * The message as it goes to the dead-letter queue: the body that could not be pushed
 * (the envelope or the raw message), persistent, with its SNS message id; the
 * x-amz-sns-* push headers stay behind.
 */
function deadLetterInput(queue: string, content: MessageContent): PublishInput {
  const props = content.properties.length > 0 ? decodeProperties(content.properties) : {};
  const headers: FieldTable = {};
  for (const [k, v] of Object.entries(props.headers ?? {})) {
    if (!k.toLowerCase().startsWith(SNS_HEADER_PREFIX) && k !== DELIVERY_COUNT_HEADER) headers[k] = v;
  }
  const snsId = props.headers?.[`${SNS_HEADER_PREFIX}message-id`];
  const messageId = typeof snsId === 'string' ? snsId : props.messageId;
  const hasHeaders = Object.keys(headers).length > 0;
  const properties = {
    deliveryMode: 2,
    timestamp: Math.floor(Date.now() / 1000),
    ...(messageId !== undefined ? { messageId } : {}),
    ...(hasHeaders ? { headers } : {}),
  };
  return {
    exchange: '',
    routingKey: queue,
    mandatory: false,
    properties: encodeProperties(properties),
    body: content.body,
    persistent: true,
    headers: hasHeaders ? headers : undefined,
    priority: 0,
    expiration: -1,
    messageId,
  };
}
