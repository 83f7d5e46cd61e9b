// Subscribe, ConfirmSubscription, Unsubscribe, ListSubscriptions(ByTopic) and
// Get/SetSubscriptionAttributes over bindings (topics.ts has the mapping). An sqs
// subscription binds the topic to the SQS queue its endpoint ARN names; an http/https
// one to an internal durable queue amq.sns.<id> that the push worker drains, and it
// stays PendingConfirmation (not delivered to) until ConfirmSubscription gets the
// token the SubscriptionConfirmation carried.

import { randomBytes, randomUUID } from 'node:crypto';
import type { Exchange } from '../../../broker/exchange/exchange.js';
import { FILTER_POLICY_ARG, FILTER_SCOPE_ARG } from '../../../broker/exchange/filtering.js';
import { compileFilterPolicy, FilterPolicyError, type FilterScope } from '../../../broker/filter/index.js';
import type { Args } from '../../../broker/message.js';
import type { Queue } from '../../../broker/queue/queue.js';
import { AwsError } from '../errors.js';
import {
  invalidParameter,
  page,
  requiredString,
  SNS_CONNECTION,
  stringMap,
  subscriptionArn,
  subscriptionNotFound,
  topicArn,
  topicNameOf,
  topicOf,
  type Params,
  type SnsContext,
} from './context.js';
import { effectiveDeliveryPolicyJson, validateSubscriptionDeliveryPolicy } from './delivery-policy.js';
import { enqueueConfirmation } from './publish.js';
import { HTTP_QUEUE_PREFIX, SUBSCRIPTION_ARG, SUBSCRIPTION_ATTRIBUTES_ARG, topicAttributes, type Subscription } from './topics.js';

const PAGE_SIZE = 100;
const PROTOCOLS = new Set(['sqs', 'http', 'https']);
/** Every protocol SNS knows: the others are refused as unsupported here, not unknown. */
const KNOWN_PROTOCOLS = new Set(['sqs', 'http', 'https', 'email', 'email-json', 'sms', 'application', 'lambda', 'firehose']);
/** Attributes a subscriber may set (Subscribe's Attributes, SetSubscriptionAttributes). */
const SETTABLE = new Set(['DeliveryPolicy', 'FilterPolicy', 'FilterPolicyScope', 'RawMessageDelivery', 'RedrivePolicy', 'SubscriptionRoleArn', 'ReplayPolicy']);
/** Stored but never shown by GetSubscriptionAttributes. */
const HIDDEN = new Set(['Token']);

export async function subscribe(ctx: SnsContext, p: Params): Promise<Params> {
  const topic = topicOf(ctx, p);
  const protocol = requiredString(p, 'Protocol').toLowerCase();
  if (!KNOWN_PROTOCOLS.has(protocol)) throw invalidParameter(`Amazon SNS does not support this protocol string: ${protocol}`);
  if (!PROTOCOLS.has(protocol)) throw invalidParameter(`Wharf does not deliver to protocol ${protocol}; it delivers to sqs, http and https`);
  const endpoint = typeof p.Endpoint === 'string' ? p.Endpoint : '';
  const requested = checkSettable(stringMap(p, 'Attributes'), {}, 'Attributes Reason: ');
  const returnArn = p.ReturnSubscriptionArn === true || p.ReturnSubscriptionArn === 'true';
  const existing = [...ctx.topics.subscriptions(topic).byId.values()].find((s) => s.attributes.Protocol === protocol && s.attributes.Endpoint === endpoint);
  if (existing) {
    const differs = Object.entries(requested).some(([k, v]) => (existing.attributes[k] ?? defaultOf(k)) !== v);
    if (differs) throw invalidParameter('Attributes Reason: Subscription already exists with different attributes');
    const pending = existing.attributes.PendingConfirmation === 'true';
    return { SubscriptionArn: pending && !returnArn ? 'pending confirmation' : subscriptionArn(ctx, topic.name, existing.id) };
  }
  const id = randomUUID();
  let queue: Queue;
  const attributes: Record<string, string> = { Protocol: protocol, Endpoint: endpoint, ...requested };
  if (protocol === 'sqs') {
    queue = sqsQueueOf(ctx, endpoint);
    // AWS's text, "Invalid parameter:" twice included.
    if (queue.name.endsWith('.fifo') && topicAttributes(topic).FifoTopic !== 'true') {
      throw invalidParameter('Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to standard SNS topics');
    }
    checkFifoDeadLetter(topic, attributes);
    attributes.PendingConfirmation = 'false';
    attributes.ConfirmationWasAuthenticated = 'true';
  } else {
    if (!endpoint.toLowerCase().startsWith(`${protocol}://`)) throw invalidParameter('Endpoint must match the specified protocol');
    try {
      new URL(endpoint);
    } catch {
      throw invalidParameter('Endpoint must match the specified protocol');
    }
    queue = (await ctx.vhost.declareQueue(HTTP_QUEUE_PREFIX + id, { passive: false, durable: true, exclusive: false, autoDelete: false, args: {}, reserved: true }, SNS_CONNECTION)) as Queue;
    attributes.PendingConfirmation = 'true';
    attributes.ConfirmationWasAuthenticated = 'false';
    attributes.Token = randomBytes(64).toString('hex');
  }
  ctx.vhost.bindQueue(queue.name, topic.name, '', bindingArgs(id, attributes), SNS_CONNECTION);
  if (attributes.Token !== undefined) enqueueConfirmation(ctx, await ctx.signingKey(), topic, { queue, token: attributes.Token });
  ctx.topics.changed(topic.name);
  await Promise.all([ctx.broker.topologySaved(), ctx.broker.store.sync()]);
  const pending = attributes.PendingConfirmation === 'true';
  return { SubscriptionArn: pending && !returnArn ? 'pending confirmation' : subscriptionArn(ctx, topic.name, id) };
}

export async function confirmSubscription(ctx: SnsContext, p: Params): Promise<Params> {
  const token = requiredString(p, 'Token');
  // AWS: a token not of a token's form is "Invalid token"; one no subscription has is "Invalid
  // parameter: Token" (not NotFound). The token names the subscription: a well-formed TopicArn of
  // another (even missing) topic still confirms it.
  if (!/^[0-9a-f]+$/i.test(token)) throw new AwsError('InvalidParameter', 'Invalid token');
  topicNameOf(ctx, requiredString(p, 'TopicArn'));
  const sub = [...ctx.topics.allSubscriptions()].find((s) => s.attributes.Token === token);
  const topic = sub ? ctx.topics.topic(sub.topic) : undefined;
  if (!topic || !sub) throw invalidParameter('Token');
  if (sub.attributes.PendingConfirmation === 'true') {
    const authenticated = p.AuthenticateOnUnsubscribe === true || p.AuthenticateOnUnsubscribe === 'true';
    await rebind(ctx, topic, sub, { ...sub.attributes, PendingConfirmation: 'false', ConfirmationWasAuthenticated: String(authenticated) });
  }
  return { SubscriptionArn: subscriptionArn(ctx, topic.name, sub.id) };
}

export async function unsubscribe(ctx: SnsContext, p: Params): Promise<Params> {
  const found = findSubscription(ctx, requiredString(p, 'SubscriptionArn'), false);
  if (!found) return {}; // AWS: unsubscribing twice succeeds
  await removeSubscription(ctx, found.topic, found.sub);
  await ctx.broker.topologySaved();
  return {};
}

/** Unbinds a subscription; an HTTP/S one's queue goes with it. */
export async function removeSubscription(ctx: SnsContext, topic: Exchange, sub: Subscription): Promise<void> {
  if (sub.queue.name.startsWith(HTTP_QUEUE_PREFIX)) await ctx.vhost.deleteQueue(sub.queue.name, { ifUnused: false, ifEmpty: false }, SNS_CONNECTION);
  else ctx.vhost.unbindQueue(sub.queue.name, topic.name, '', sub.args, SNS_CONNECTION);
  ctx.topics.changed(topic.name);
}

export function listSubscriptions(ctx: SnsContext, p: Params): Params {
  const all = [...ctx.topics.allSubscriptions()].map((s) => ({ key: `${s.topic}:${s.id}`, s })).sort((a, b) => (a.key < b.key ? -1 : 1));
  const { items, next } = page(all, (x) => x.key, p.NextToken, PAGE_SIZE);
  return { Subscriptions: items.map((x) => listed(ctx, x.s)), ...(next ? { NextToken: next } : {}) };
}

export function listSubscriptionsByTopic(ctx: SnsContext, p: Params): Params {
  const topic = topicOf(ctx, p);
  const all = [...ctx.topics.subscriptions(topic).byId.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  const { items, next } = page(all, (s) => s.id, p.NextToken, PAGE_SIZE);
  return { Subscriptions: items.map((s) => listed(ctx, s)), ...(next ? { NextToken: next } : {}) };
}

export function getSubscriptionAttributes(ctx: SnsContext, p: Params): Params {
  const { topic, sub } = findSubscription(ctx, requiredString(p, 'SubscriptionArn'), true) as { topic: Exchange; sub: Subscription };
  const a = sub.attributes;
  const out: Record<string, string> = {
    Owner: ctx.account,
    RawMessageDelivery: 'false',
    TopicArn: topicArn(ctx, topic.name),
    SubscriptionArn: subscriptionArn(ctx, topic.name, sub.id),
    SubscriptionPrincipal: `arn:aws:iam::${ctx.account}:user/wharf`,
  };
  for (const [k, v] of Object.entries(a)) if (!HIDDEN.has(k)) out[k] = v;
  // AWS shows FilterPolicyScope only alongside a FilterPolicy (a scope set alone is kept, not shown).
  if (a.FilterPolicy !== undefined && a.FilterPolicyScope === undefined) out.FilterPolicyScope = 'MessageAttributes';
  if (a.FilterPolicy === undefined) delete out.FilterPolicyScope;
  if (a.Protocol === 'http' || a.Protocol === 'https') out.EffectiveDeliveryPolicy = effectiveDeliveryPolicyJson(topicAttributes(topic).DeliveryPolicy, a.DeliveryPolicy);
  return { Attributes: out };
}

export async function setSubscriptionAttributes(ctx: SnsContext, p: Params): Promise<Params> {
  const { topic, sub } = findSubscription(ctx, requiredString(p, 'SubscriptionArn'), true) as { topic: Exchange; sub: Subscription };
  const name = requiredString(p, 'AttributeName');
  const value = p.AttributeValue === undefined || p.AttributeValue === null ? '' : String(p.AttributeValue);
  const changed = checkSettable({ [name]: value }, sub.attributes, '');
  checkFifoDeadLetter(topic, { ...sub.attributes, ...changed });
  const next: Record<string, string> = { ...sub.attributes };
  for (const [k, v] of Object.entries(changed)) {
    if (v === '' && (k === 'FilterPolicy' || k === 'RedrivePolicy' || k === 'DeliveryPolicy')) delete next[k];
    else next[k] = v;
  }
  await rebind(ctx, topic, sub, next);
  return {};
}

/** The attributes checked as SNS checks them (given the subscription's current ones). */
/** `reason` prefixes the RawMessageDelivery text as AWS does: `Attributes Reason: ` for Subscribe, nothing for SetSubscriptionAttributes. */
function checkSettable(attrs: Record<string, string>, current: Readonly<Record<string, string>>, reason: string): Record<string, string> {
  for (const k of Object.keys(attrs)) if (!SETTABLE.has(k)) throw invalidParameter('AttributeName');
  const out: Record<string, string> = { ...attrs };
  if (out.RawMessageDelivery !== undefined) {
    const v = out.RawMessageDelivery.toLowerCase();
    if (v !== 'true' && v !== 'false') throw invalidParameter(`${reason}RawMessageDelivery: Invalid value [${out.RawMessageDelivery}]. Must be true or false.`);
    out.RawMessageDelivery = v;
  }
  if (out.FilterPolicyScope !== undefined && out.FilterPolicyScope !== 'MessageAttributes' && out.FilterPolicyScope !== 'MessageBody') {
    throw invalidParameter(`FilterPolicyScope: Invalid value [${out.FilterPolicyScope}]. Please use either MessageBody or MessageAttributes`);
  }
  const policy = out.FilterPolicy ?? current.FilterPolicy;
  if (policy !== undefined && policy !== '' && (out.FilterPolicy !== undefined || out.FilterPolicyScope !== undefined)) {
    const scope = (out.FilterPolicyScope ?? current.FilterPolicyScope ?? 'MessageAttributes') as FilterScope;
    try {
      compileFilterPolicy(policy, scope);
    } catch (err) {
      // AWS: Subscribe's texts read "Attributes Reason: FilterPolicy: ...", SetSubscriptionAttributes' "FilterPolicy: ...".
      if (err instanceof FilterPolicyError) throw invalidParameter((err.detail.startsWith('FilterPolicy:') ? reason + err.detail : err.detail) + err.location);
      throw err;
    }
  }
  for (const k of ['DeliveryPolicy', 'RedrivePolicy', 'ReplayPolicy'] as const) {
    const v = out[k];
    if (v === undefined || v === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch {
      throw invalidParameter(`${k}: failed to parse JSON.`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalidParameter(`${k}: failed to parse JSON.`);
    if (k === 'DeliveryPolicy') validateSubscriptionDeliveryPolicy(v);
    if (k === 'RedrivePolicy') {
      const target = (parsed as { deadLetterTargetArn?: unknown }).deadLetterTargetArn;
      if (typeof target !== 'string' || !/^arn:aws:sqs:[^:]*:\d{12}:[^:]+$/.test(target)) throw invalidParameter('RedrivePolicy: deadLetterTargetArn is an invalid arn');
    }
  }
  return out;
}

/** AWS: an SQS FIFO queue's subscription to a FIFO topic needs a FIFO dead-letter queue. */
function checkFifoDeadLetter(topic: Exchange, attributes: Readonly<Record<string, string>>): void {
  if (topicAttributes(topic).FifoTopic !== 'true' || attributes.Protocol !== 'sqs' || !attributes.Endpoint.endsWith('.fifo')) return;
  if (attributes.RedrivePolicy === undefined || attributes.RedrivePolicy === '') return;
  const target = (JSON.parse(attributes.RedrivePolicy) as { deadLetterTargetArn: string }).deadLetterTargetArn;
  if (!target.endsWith('.fifo')) throw invalidParameter('RedrivePolicy: must use a FIFO queue as DLQ for a FIFO Subscription to a FIFO Topic.');
}

function defaultOf(k: string): string | undefined {
  return k === 'RawMessageDelivery' ? 'false' : k === 'FilterPolicyScope' ? 'MessageAttributes' : undefined;
}

/** Replaces a subscription's binding with one carrying new attributes. */
async function rebind(ctx: SnsContext, topic: Exchange, sub: Subscription, attributes: Record<string, string>): Promise<void> {
  ctx.vhost.unbindQueue(sub.queue.name, topic.name, '', sub.args, SNS_CONNECTION);
  ctx.vhost.bindQueue(sub.queue.name, topic.name, '', bindingArgs(sub.id, attributes), SNS_CONNECTION);
  ctx.topics.changed(topic.name);
  await ctx.broker.topologySaved();
}

/** The binding arguments of a subscription: its id, attributes, and a filter the AMQP router also applies. */
export function bindingArgs(id: string, attributes: Record<string, string>): Args {
  const args: Record<string, unknown> = { [SUBSCRIPTION_ARG]: id, [SUBSCRIPTION_ATTRIBUTES_ARG]: JSON.stringify(attributes) };
  // A pending subscription's filter is not applied by AMQP routing either way; confirmed ones filter alike.
  if (attributes.FilterPolicy !== undefined && attributes.FilterPolicy !== '') {
    args[FILTER_POLICY_ARG] = attributes.FilterPolicy;
    args[FILTER_SCOPE_ARG] = attributes.FilterPolicyScope ?? 'MessageAttributes';
  }
  return args;
}

function sqsQueueOf(ctx: SnsContext, endpoint: string): Queue {
  const parts = endpoint.split(':');
  if (parts.length !== 6 || parts[0] !== 'arn' || parts[2] !== 'sqs' || parts[5] === '') throw invalidParameter('SQS endpoint ARN');
  const q = parts[4] === ctx.account ? ctx.vhost.queues.get(parts[5]) : undefined;
  if (!q) throw invalidParameter('SQS endpoint ARN');
  return q;
}

/** The subscription an ARN names; undefined (or NotFound when `required`) if there is none. */
function findSubscription(ctx: SnsContext, arn: string, required: boolean): { topic: Exchange; sub: Subscription } | undefined {
  const parts = arn.split(':');
  // AWS's texts: too few parts, then a topic ARN without the subscription's id.
  if (parts.length < 6) throw invalidParameter(`SubscriptionArn Reason: An ARN must have at least 6 elements, not ${parts.length}`);
  if (parts.length === 6) throw invalidParameter('SubscriptionId');
  if (parts.length !== 7 || parts[0] !== 'arn' || parts[2] !== 'sns') throw invalidParameter('SubscriptionArn');
  const topic = parts[4] === ctx.account ? ctx.topics.topic(parts[5]) : undefined;
  const sub = topic ? ctx.topics.subscriptions(topic).byId.get(parts[6]) : undefined;
  if (!topic || !sub) {
    if (required) throw subscriptionNotFound();
    return undefined;
  }
  return { topic, sub };
}

function listed(ctx: SnsContext, s: Subscription): Params {
  return {
    SubscriptionArn: s.attributes.PendingConfirmation === 'true' ? 'PendingConfirmation' : subscriptionArn(ctx, s.topic, s.id),
    Owner: ctx.account,
    Protocol: s.attributes.Protocol,
    Endpoint: s.attributes.Endpoint,
    TopicArn: topicArn(ctx, s.topic),
  };
}

export const DEFAULT_HTTP_DELIVERY_POLICY = JSON.stringify({
  healthyRetryPolicy: { minDelayTarget: 20, maxDelayTarget: 20, numRetries: 3, numMaxDelayRetries: 0, numNoDelayRetries: 0, numMinDelayRetries: 0, backoffFunction: 'linear' },
  sicklyRetryPolicy: null,
  throttlePolicy: null,
  guaranteed: false,
});
