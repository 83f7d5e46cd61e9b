// Keeps one HttpPusher per vhost pushing exactly the http/https subscriptions the
// topology holds: at the listener's start for those recovered from disk, and after
// every SNS change (SnsRegistry.onSubscriptionsChanged: a subscription made,
// confirmed, changed or removed, a topic's attributes set or the topic deleted) for
// that topic's. A pending subscription is pushed too: its queue holds the
// SubscriptionConfirmation, and nothing else until it is confirmed.

import type { Broker } from '../../../broker/broker.js';
import type { Exchange } from '../../../broker/exchange/exchange.js';
import { Queue } from '../../../broker/queue/queue.js';
import type { Logger } from '../../../store/index.js';
import { HttpPusher, type HttpPusherOptions, type PushTarget } from './http-push.js';
import type { SnsRegistry } from './registry.js';
import {
  HTTP_QUEUE_PREFIX,
  isTopic,
  parseStringMap,
  SUBSCRIPTION_ARG,
  SUBSCRIPTION_ATTRIBUTES_ARG,
  topicAttributes,
  type Subscription,
  type SubscriptionsChange,
} from './topics.js';

export interface SnsPushWorkerOptions {
  readonly region: string;
  readonly account: string;
  /** The vhosts the listener's credentials map to: their subscriptions are pushed from the start. */
  readonly vhosts: readonly string[];
  readonly pusher?: HttpPusherOptions;
}

export class SnsPushWorker {
  private readonly pushers = new Map<string, HttpPusher>();
  /** Per vhost: subscription ARN -> topic, to stop those a topic no longer has. */
  private readonly topicOf = new Map<string, Map<string, string>>();
  private readonly listener = (change: SubscriptionsChange): void => this.reconcile(change.vhost, change.topic);

  constructor(
    private readonly broker: Broker,
    private readonly registry: SnsRegistry,
    private readonly logger: Logger,
    private readonly opts: SnsPushWorkerOptions,
  ) {}

  start(): void {
    this.registry.onSubscriptionsChanged.add(this.listener);
    for (const name of new Set(this.opts.vhosts)) {
      const vhost = this.broker.vhost(name);
      if (!vhost) continue;
      for (const ex of vhost.exchanges.values()) if (isTopic(ex)) this.reconcile(name, ex.name);
    }
  }

  /** The pusher of a vhost (tests watch its results). */
  pusher(vhost: string): HttpPusher | undefined {
    return this.pushers.get(vhost);
  }

  close(): void {
    this.registry.onSubscriptionsChanged.delete(this.listener);
    for (const p of this.pushers.values()) p.close();
    this.pushers.clear();
    this.topicOf.clear();
  }

  /** Starts, updates or stops the pushes of one topic's http/https subscriptions. */
  private reconcile(vhostName: string, topicName: string): void {
    try {
      const vhost = this.broker.vhost(vhostName);
      const known = this.topicOf.get(vhostName) ?? new Map<string, string>();
      this.topicOf.set(vhostName, known);
      const topic = vhost?.exchanges.get(topicName);
      const wanted = new Map<string, PushTarget>();
      if (vhost && topic && isTopic(topic)) {
        const topicPolicy = topicAttributes(topic).DeliveryPolicy;
        for (const sub of httpSubscriptions(topic)) {
          const t = this.targetOf(sub, topicPolicy);
          if (t) wanted.set(t.subscriptionArn, t);
        }
      }
      let pusher = this.pushers.get(vhostName);
      for (const [arn, topicOfArn] of known) {
        if (topicOfArn !== topicName || wanted.has(arn)) continue;
        pusher?.stop(arn);
        known.delete(arn);
      }
      if (wanted.size === 0 || !vhost) return;
      if (!pusher) {
        pusher = new HttpPusher(vhost, this.broker.store, this.logger, this.opts.pusher);
        this.pushers.set(vhostName, pusher);
      }
      for (const t of wanted.values()) {
        known.set(t.subscriptionArn, topicName);
        pusher.start(t);
      }
    } catch (err) {
      // A push worker's trouble must never fail the SNS action that triggered it.
      this.logger.error('SNS push: could not update the HTTP/S subscriptions', { vhost: vhostName, topic: topicName, error: String(err) });
    }
  }

  private targetOf(sub: Subscription, topicPolicy: string | undefined): PushTarget | undefined {
    const a = sub.attributes;
    if (a.Protocol !== 'http' && a.Protocol !== 'https') return undefined;
    const dlq = deadLetterQueueOf(a.RedrivePolicy);
    return {
      subscriptionArn: `arn:aws:sns:${this.opts.region}:${this.opts.account}:${sub.topic}:${sub.id}`,
      endpoint: a.Endpoint ?? '',
      queue: sub.queue.name,
      ...(a.DeliveryPolicy !== undefined ? { deliveryPolicy: a.DeliveryPolicy } : {}),
      ...(topicPolicy !== undefined ? { topicDeliveryPolicy: topicPolicy } : {}),
      ...(dlq !== undefined ? { deadLetterQueue: dlq } : {}),
    };
  }
}

/**
 * The topic's http/https subscriptions, read from its bindings to amq.sns.* queues only:
 * not through SnsTopics.subscriptions(), which would compile every filter policy of the
 * topic again after each change (quadratic over 10,000 Subscribe calls).
 */
function* httpSubscriptions(topic: Exchange): Iterable<Subscription> {
  for (const b of topic.router.bindings()) {
    const queue = b.destination;
    if (!(queue instanceof Queue) || !queue.name.startsWith(HTTP_QUEUE_PREFIX)) continue;
    const rawId = b.args[SUBSCRIPTION_ARG];
    const id = Buffer.isBuffer(rawId) ? rawId.toString('utf8') : rawId;
    if (typeof id !== 'string') continue;
    yield { id, topic: topic.name, queue, args: b.args, attributes: parseStringMap(b.args[SUBSCRIPTION_ATTRIBUTES_ARG]) };
  }
}

/** The SQS queue name of a RedrivePolicy's deadLetterTargetArn (arn:aws:sqs:region:account:name). */
export function deadLetterQueueOf(redrivePolicy: string | undefined): string | undefined {
  if (redrivePolicy === undefined || redrivePolicy === '') return undefined;
  try {
    const arn: unknown = (JSON.parse(redrivePolicy) as { deadLetterTargetArn?: unknown }).deadLetterTargetArn;
    if (typeof arn !== 'string') return undefined;
    const parts = arn.split(':');
    return parts.length === 6 && parts[2] === 'sqs' && parts[5] !== '' ? parts[5] : undefined;
  } catch {
    return undefined;
  }
}
