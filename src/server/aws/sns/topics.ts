// SNS topics and subscriptions as the vhost's topology holds them (docs/aws.md):
// a topic IS a durable fanout exchange of the same name whose argument
// `x-sns-attributes` holds its SNS attributes (JSON); a subscription IS a binding
// from it to a queue, the binding's arguments naming the subscription
// (`x-sns-subscription`: its id), its attributes (`x-sns-subscription-attributes`,
// JSON) and its filter (`x-filter-policy`, `x-filter-policy-scope`: the same engine
// AMQP bindings use). Nothing else is stored: the topology file persists them all.
//
// SnsTopics keeps, per topic, the subscriptions read back from the bindings and a
// FilterIndex over their policies, so a publish evaluates only the policies filed under
// its attribute values. The cache is rebuilt when the exchange changes or its binding
// count does (an AMQP client may unbind a subscribed queue), and dropped by every
// SNS change.

import type { Exchange } from '../../../broker/exchange/exchange.js';
import { compileFilterPolicy, FilterIndex, type FilterScope } from '../../../broker/filter/index.js';
import type { Args } from '../../../broker/message.js';
import { Queue } from '../../../broker/queue/queue.js';
import type { Vhost } from '../../../broker/vhost.js';

export const TOPIC_ATTRIBUTES_ARG = 'x-sns-attributes';
export const TOPIC_TAGS_ARG = 'x-sns-tags';
export const SUBSCRIPTION_ARG = 'x-sns-subscription';
export const SUBSCRIPTION_ATTRIBUTES_ARG = 'x-sns-subscription-attributes';
/** The prefix of the internal queues HTTP/S subscriptions deliver through (amq.: no AMQP client may declare one). */
export const HTTP_QUEUE_PREFIX = 'amq.sns.';

export interface Subscription {
  readonly id: string;
  /** The topic (exchange) name. */
  readonly topic: string;
  readonly queue: Queue;
  /** The binding's arguments, as bound (to unbind it). */
  readonly args: Args;
  /** Stored attributes: Protocol, Endpoint, PendingConfirmation, Token, RawMessageDelivery, FilterPolicy, ... */
  readonly attributes: Readonly<Record<string, string>>;
}

export interface TopicSubscriptions {
  readonly exchange: Exchange;
  readonly byId: ReadonlyMap<string, Subscription>;
  /** Confirmed subscriptions without a filter: every publish goes to them. */
  readonly unfiltered: readonly Subscription[];
  readonly index: Readonly<Record<FilterScope, FilterIndex<Subscription>>>;
}

/** What changed, for the HTTP push worker (it watches amq.sns.* queues of http/https subscriptions). */
export interface SubscriptionsChange {
  readonly vhost: string;
  readonly topic: string;
}

/** SNS's de-duplication interval for FIFO topics. */
export const FIFO_DEDUP_WINDOW_MS = 5 * 60 * 1000;

export interface FifoPublished {
  readonly messageId: string;
  readonly sequenceNumber: string;
  readonly expiresMs: number;
}

export type SubscriptionsListener = (change: SubscriptionsChange) => void;

/** The SNS view of one vhost's topology. */
export class SnsTopics {
  private readonly cache = new Map<string, { stamp: number; subs: TopicSubscriptions }>();
  /** FIFO topics' de-duplication windows, in memory (a restart forgets them): key -> what it was answered. */
  private readonly dedup = new Map<string, Map<string, FifoPublished>>();

  constructor(
    readonly vhost: Vhost,
    /** Called after any subscription of this vhost is made, changed, confirmed or removed (and after a topic is deleted). */
    private readonly notify?: SubscriptionsListener,
  ) {}

  /** The topic exchange of that name, if it is one. */
  topic(name: string): Exchange | undefined {
    const ex = this.vhost.exchanges.get(name);
    return ex && isTopic(ex) ? ex : undefined;
  }

  /** Every topic, by name. */
  topics(): Exchange[] {
    return [...this.vhost.exchanges.values()].filter(isTopic).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** A FIFO topic's publish already answered under this de-duplication key in the last 5 minutes. */
  fifoDuplicate(topic: string, key: string): FifoPublished | undefined {
    const window = this.dedup.get(topic);
    if (!window) return undefined;
    const now = Date.now();
    // Insertion order is expiry order: drop the expired head.
    for (const [k, v] of window) {
      if (v.expiresMs > now) break;
      window.delete(k);
    }
    return window.get(key);
  }

  fifoRemember(topic: string, key: string, published: Omit<FifoPublished, 'expiresMs'>): void {
    let window = this.dedup.get(topic);
    if (!window) this.dedup.set(topic, (window = new Map()));
    window.set(key, { ...published, expiresMs: Date.now() + FIFO_DEDUP_WINDOW_MS });
  }

  subscriptions(topic: Exchange): TopicSubscriptions {
    const hit = this.cache.get(topic.name);
    if (hit && hit.subs.exchange === topic && hit.stamp === topic.router.size) return hit.subs;
    const subs = readSubscriptions(topic);
    this.cache.set(topic.name, { stamp: topic.router.size, subs });
    return subs;
  }

  /** Forget the cached view of a topic (after an SNS change), and tell the listeners. */
  changed(topic: string): void {
    this.cache.delete(topic);
    if (!this.vhost.exchanges.has(topic)) this.dedup.delete(topic);
    this.notify?.({ vhost: this.vhost.name, topic });
  }

  /**
   * The http/https subscriptions (pending ones too: their queue holds the
   * SubscriptionConfirmation to POST): what the push worker drains, queue by queue.
   */
  *httpSubscriptions(): Iterable<Subscription> {
    for (const s of this.allSubscriptions()) if (s.attributes.Protocol === 'http' || s.attributes.Protocol === 'https') yield s;
  }

  /** Every subscription of every topic (ListSubscriptions, the push worker's start). */
  *allSubscriptions(): Iterable<Subscription> {
    for (const t of this.topics()) yield* this.subscriptions(t).byId.values();
  }
}

export function isTopic(ex: Exchange): boolean {
  return typeof ex.args[TOPIC_ATTRIBUTES_ARG] === 'string';
}

export function topicAttributes(ex: Exchange): Record<string, string> {
  return parseStringMap(ex.args[TOPIC_ATTRIBUTES_ARG]);
}

export function topicTags(ex: Exchange): Record<string, string> {
  return parseStringMap(ex.args[TOPIC_TAGS_ARG]);
}

export function parseStringMap(raw: unknown): Record<string, string> {
  const text = Buffer.isBuffer(raw) ? raw.toString('utf8') : raw;
  if (typeof text !== 'string') return {};
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return {};
    return Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  }
}

function readSubscriptions(ex: Exchange): TopicSubscriptions {
  const byId = new Map<string, Subscription>();
  const unfiltered: Subscription[] = [];
  const index = { MessageAttributes: new FilterIndex<Subscription>(), MessageBody: new FilterIndex<Subscription>() };
  for (const b of ex.router.bindings()) {
    const rawId = b.args[SUBSCRIPTION_ARG];
    const id = Buffer.isBuffer(rawId) ? rawId.toString('utf8') : rawId;
    if (typeof id !== 'string' || !(b.destination instanceof Queue)) continue;
    const sub: Subscription = { id, topic: ex.name, queue: b.destination, args: b.args, attributes: parseStringMap(b.args[SUBSCRIPTION_ATTRIBUTES_ARG]) };
    byId.set(id, sub);
    if (sub.attributes.PendingConfirmation === 'true') continue;
    const policy = sub.attributes.FilterPolicy;
    if (policy === undefined || policy === '') {
      unfiltered.push(sub);
      continue;
    }
    const scope: FilterScope = sub.attributes.FilterPolicyScope === 'MessageBody' ? 'MessageBody' : 'MessageAttributes';
    try {
      index[scope].add(sub, compileFilterPolicy(policy, scope));
    } catch {
      // Validated when set; a policy that no longer compiles matches nothing.
    }
  }
  return { exchange: ex, byId, unfiltered, index };
}
