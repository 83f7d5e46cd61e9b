// Amazon SNS actions over Wharf's exchanges and bindings, protocol-neutral like
// SqsService: params and results are shaped as the AWS API model's members (lists
// as arrays, maps as objects); a wire codec (the query protocol) speaks to them.
// A topic IS a durable fanout exchange, a subscription a binding (topics.ts);
// Publish enqueues each matching subscription's copy persistently and answers once
// it is on disk. docs/aws.md has the mapping and the differences from AWS.

import { createHash, randomUUID } from 'node:crypto';
import type { Exchange } from '../../../broker/exchange/exchange.js';
import { AwsError } from '../errors.js';
import { invalidParameter, page, requiredString, stringMap, topicArn, topicNameOf, topicOf, type Params, type SnsContext } from './context.js';
import { checkMessage, MESSAGE_BYTES_MAX, type CheckedMessage } from './message.js';
import { validateTopicDeliveryPolicy } from './delivery-policy.js';
import { deliver } from './publish.js';
import type { SnsSigningKey } from './signing.js';
import {
  confirmSubscription,
  DEFAULT_HTTP_DELIVERY_POLICY,
  getSubscriptionAttributes,
  listSubscriptions,
  listSubscriptionsByTopic,
  removeSubscription,
  setSubscriptionAttributes,
  subscribe,
  unsubscribe,
} from './subscriptions.js';
import { TOPIC_ATTRIBUTES_ARG, TOPIC_TAGS_ARG, topicAttributes, topicTags } from './topics.js';

export type { SnsContext } from './context.js';

const PAGE_SIZE = 100;
const TAGS_MAX = 50;
const NAME = /^[A-Za-z0-9_-]{1,256}$/;
const FIFO_NAME = /^[A-Za-z0-9_-]{1,251}\.fifo$/;
const FEEDBACK = /^(HTTP|SQS|Lambda|Firehose|Application)(Success|Failure)Feedback(RoleArn|SampleRate)$/;
/** Attributes SetTopicAttributes takes (FifoTopic only at CreateTopic). */
const SETTABLE = new Set(['DisplayName', 'Policy', 'DeliveryPolicy', 'SignatureVersion', 'TracingConfig', 'KmsMasterKeyId', 'ContentBasedDeduplication', 'ArchivePolicy', 'DataProtectionPolicy', 'FifoThroughputScope']);

export class SnsService {
  /** FIFO topics' sequence numbers: one increasing counter for the process (AWS: per message group). */
  private static sequence = 0n;

  constructor(private readonly ctx: SnsContext) {}

  // --- topics -------------------------------------------------------------

  async CreateTopic(p: Params): Promise<Params> {
    const name = typeof p.Name === 'string' ? p.Name : '';
    const attributes = stringMap(p, 'Attributes');
    const fifo = attributes.FifoTopic?.toLowerCase() === 'true';
    // AWS answers every bad name (a `.fifo` one without FifoTopic too) with the same text.
    if (fifo ? !FIFO_NAME.test(name) : !NAME.test(name)) throw invalidParameter('Topic Name');
    // FifoTopic=false is the default: AWS keeps (and shows) nothing for it.
    if (fifo) attributes.FifoTopic = 'true';
    else delete attributes.FifoTopic;
    for (const [k, v] of Object.entries(attributes)) if (k !== 'FifoTopic') checkTopicAttribute(k, v, fifo);
    const tags = tagsOf(p.Tags);
    const existing = this.ctx.vhost.exchanges.get(name);
    if (existing) {
      if (!this.ctx.topics.topic(name)) {
        if (existing.type !== 'fanout' || !existing.durable) throw invalidParameter('Topic Name Reason: an AMQP exchange of that name, not a durable fanout, exists');
        // A durable fanout exchange made over AMQP becomes a topic.
        this.ctx.vhost.setExchangeArgument(name, TOPIC_ATTRIBUTES_ARG, JSON.stringify(attributes));
      } else {
        const current = topicAttributes(existing);
        if (Object.entries(attributes).some(([k, v]) => (current[k] ?? defaultTopicAttribute(k)) !== v)) {
          throw invalidParameter('Attributes Reason: Topic already exists with different attributes');
        }
        const currentTags = topicTags(existing);
        if (tags && Object.entries(tags).some(([k, v]) => currentTags[k] !== v)) throw invalidParameter('Tags Reason: Topic already exists with different tags');
        return { TopicArn: topicArn(this.ctx, name) };
      }
    } else {
      this.ctx.vhost.declareExchange(name, 'fanout', { passive: false, durable: true, autoDelete: false, internal: false, args: { [TOPIC_ATTRIBUTES_ARG]: JSON.stringify(attributes) } });
    }
    if (tags && Object.keys(tags).length > 0) this.ctx.vhost.setExchangeArgument(name, TOPIC_TAGS_ARG, JSON.stringify(tags));
    await this.ctx.broker.topologySaved();
    return { TopicArn: topicArn(this.ctx, name) };
  }

  async DeleteTopic(p: Params): Promise<Params> {
    const name = topicNameOf(this.ctx, requiredString(p, 'TopicArn'));
    const topic = this.ctx.topics.topic(name);
    if (!topic) return {}; // AWS: deleting a deleted topic succeeds
    for (const sub of [...this.ctx.topics.subscriptions(topic).byId.values()]) await removeSubscription(this.ctx, topic, sub);
    this.ctx.vhost.deleteExchange(name, false);
    this.ctx.topics.changed(name);
    await this.ctx.broker.topologySaved();
    return {};
  }

  ListTopics(p: Params): Params {
    const { items, next } = page(this.ctx.topics.topics(), (t) => t.name, p.NextToken, PAGE_SIZE);
    return { Topics: items.map((t) => ({ TopicArn: topicArn(this.ctx, t.name) })), ...(next ? { NextToken: next } : {}) };
  }

  GetTopicAttributes(p: Params): Params {
    const topic = topicOf(this.ctx, p);
    const stored = topicAttributes(topic);
    const subs = [...this.ctx.topics.subscriptions(topic).byId.values()];
    const pending = subs.filter((s) => s.attributes.PendingConfirmation === 'true').length;
    const arn = topicArn(this.ctx, topic.name);
    const out: Record<string, string> = {
      TopicArn: arn,
      Owner: this.ctx.account,
      Policy: defaultPolicy(arn, this.ctx.account),
      DisplayName: '',
      SubscriptionsConfirmed: String(subs.length - pending),
      SubscriptionsPending: String(pending),
      SubscriptionsDeleted: '0',
      EffectiveDeliveryPolicy: JSON.stringify({ http: { defaultHealthyRetryPolicy: JSON.parse(DEFAULT_HTTP_DELIVERY_POLICY).healthyRetryPolicy, disableSubscriptionOverrides: false, defaultRequestPolicy: { headerContentType: 'text/plain; charset=UTF-8' } } }),
      ...stored,
    };
    if (out.FifoTopic === 'false') delete out.FifoTopic; // kept by older versions
    if (stored.FifoTopic === 'true') out.ContentBasedDeduplication = stored.ContentBasedDeduplication ?? 'false';
    return { Attributes: out };
  }

  async SetTopicAttributes(p: Params): Promise<Params> {
    const topic = topicOf(this.ctx, p);
    const name = requiredString(p, 'AttributeName');
    const value = p.AttributeValue === undefined || p.AttributeValue === null ? '' : String(p.AttributeValue);
    const current = topicAttributes(topic);
    checkTopicAttribute(name, value, current.FifoTopic === 'true');
    const next = { ...current, [name]: value };
    if (value === '' && name !== 'DisplayName') delete next[name];
    this.ctx.vhost.setExchangeArgument(topic.name, TOPIC_ATTRIBUTES_ARG, JSON.stringify(next));
    // The push worker reads the topic's DeliveryPolicy afresh.
    if (name === 'DeliveryPolicy') this.ctx.topics.changed(topic.name);
    await this.ctx.broker.topologySaved();
    return {};
  }

  // --- subscriptions (subscriptions.ts) ----------------------------------

  Subscribe(p: Params): Promise<Params> {
    return subscribe(this.ctx, p);
  }

  ConfirmSubscription(p: Params): Promise<Params> {
    return confirmSubscription(this.ctx, p);
  }

  Unsubscribe(p: Params): Promise<Params> {
    return unsubscribe(this.ctx, p);
  }

  ListSubscriptions(p: Params): Params {
    return listSubscriptions(this.ctx, p);
  }

  ListSubscriptionsByTopic(p: Params): Params {
    return listSubscriptionsByTopic(this.ctx, p);
  }

  GetSubscriptionAttributes(p: Params): Params {
    return getSubscriptionAttributes(this.ctx, p);
  }

  SetSubscriptionAttributes(p: Params): Promise<Params> {
    return setSubscriptionAttributes(this.ctx, p);
  }

  // --- publishing ---------------------------------------------------------

  async Publish(p: Params): Promise<Params> {
    // An empty TopicArn is a TopicArn (AWS: "An ARN must have at least 6 elements, not 1").
    const hasTarget = typeof p.TargetArn === 'string' && p.TargetArn !== '';
    const hasTopic = typeof p.TopicArn === 'string' && (p.TopicArn !== '' || !hasTarget);
    if (hasTopic === hasTarget) {
      if (typeof p.PhoneNumber === 'string' && p.PhoneNumber !== '') throw invalidParameter('PhoneNumber Reason: Wharf does not send SMS');
      throw invalidParameter(hasTopic ? 'TopicArn Reason: Only one of TopicArn or TargetArn may be specified' : 'TopicArn or TargetArn Reason: no value for required parameter');
    }
    if (hasTopic && p.TopicArn === '') throw invalidParameter('TopicArn Reason: An ARN must have at least 6 elements, not 1');
    // A TargetArn of a mobile endpoint (…:endpoint/APNS/app/id): Wharf has none.
    if (!hasTopic && /^arn:[^:]*:sns:[^:]*:[^:]*:endpoint\//.test(p.TargetArn as string)) {
      throw invalidParameter('TargetArn Reason: No endpoint found for the target arn specified');
    }
    const topic = topicOf(this.ctx, p, hasTopic ? 'TopicArn' : 'TargetArn');
    const m = checkMessage(p);
    const out = await this.publishOne(topic, m, await this.ctx.signingKey());
    await this.ctx.broker.store.sync();
    return out;
  }

  async PublishBatch(p: Params): Promise<Params> {
    const topic = topicOf(this.ctx, p);
    const entries = checkBatch(p.PublishBatchRequestEntries);
    // AWS counts the entries' message attributes in the batch's size too.
    const total = entries.reduce((n, e) => n + (typeof e.Message === 'string' ? Buffer.byteLength(e.Message) : 0) + rawAttributesBytes(e.MessageAttributes), 0);
    if (total > MESSAGE_BYTES_MAX) throw new AwsError('BatchRequestTooLong', 'The length of all the messages put together is more than the limit.');
    // AWS checks every entry first: a bad one fails the whole request (its error, not a Failed entry).
    const attrs = topicAttributes(topic);
    const checked = entries.map((e) => ({ id: e.Id, m: checkFifo(checkMessage(e), attrs.FifoTopic === 'true', attrs) }));
    const key = await this.ctx.signingKey();
    const Successful: Params[] = [];
    const Failed: Params[] = [];
    for (const { id, m } of checked) {
      try {
        Successful.push({ Id: id, ...(await this.publishOne(topic, m, key)) });
      } catch (err) {
        if (!(err instanceof AwsError)) throw err;
        Failed.push({ Id: id, Code: err.code, Message: err.message, SenderFault: err.fault === 'Sender' });
      }
    }
    if (Successful.length > 0) await this.ctx.broker.store.sync();
    return { Successful, Failed };
  }

  private async publishOne(topic: Exchange, m: CheckedMessage, key: SnsSigningKey): Promise<Params> {
    const attrs = topicAttributes(topic);
    const fifo = attrs.FifoTopic === 'true';
    checkFifo(m, fifo, attrs);
    if (fifo && m.groupId !== undefined) {
      // SNS's 5-minute de-duplication window: a repeat is accepted, answered as the first, not delivered.
      const dedupKey = m.dedupId ?? createHash('sha256').update(m.message).digest('hex');
      const seen = this.ctx.topics.fifoDuplicate(topic.name, dedupKey);
      if (seen) return { MessageId: seen.messageId, SequenceNumber: seen.sequenceNumber };
      const messageId = randomUUID();
      const sequenceNumber = String(++SnsService.sequence).padStart(20, '0');
      this.ctx.topics.fifoRemember(topic.name, dedupKey, { messageId, sequenceNumber });
      await deliver(this.ctx, key, topic, m, messageId, { groupId: m.groupId, dedupId: dedupKey, sequenceNumber });
      return { MessageId: messageId, SequenceNumber: sequenceNumber };
    }
    const messageId = randomUUID();
    await deliver(this.ctx, key, topic, m, messageId);
    return { MessageId: messageId };
  }

  // --- tags ----------------------------------------------------------------

  async TagResource(p: Params): Promise<Params> {
    const topic = this.resourceOf(p);
    const tags = tagsOf(p.Tags) ?? {};
    const next = { ...topicTags(topic), ...tags };
    if (Object.keys(next).length > TAGS_MAX) throw new AwsError('TagLimitExceeded', 'Could not complete request: tag quota of per resource exceeded');
    this.ctx.vhost.setExchangeArgument(topic.name, TOPIC_TAGS_ARG, JSON.stringify(next));
    await this.ctx.broker.topologySaved();
    return {};
  }

  async UntagResource(p: Params): Promise<Params> {
    const topic = this.resourceOf(p);
    const keys = Array.isArray(p.TagKeys) ? (p.TagKeys as unknown[]).map(String) : [];
    const next = topicTags(topic);
    for (const k of keys) delete next[k];
    this.ctx.vhost.setExchangeArgument(topic.name, TOPIC_TAGS_ARG, Object.keys(next).length > 0 ? JSON.stringify(next) : undefined);
    await this.ctx.broker.topologySaved();
    return {};
  }

  ListTagsForResource(p: Params): Params {
    const topic = this.resourceOf(p);
    return { Tags: Object.entries(topicTags(topic)).map(([Key, Value]) => ({ Key, Value })) };
  }

  private resourceOf(p: Params): Exchange {
    try {
      return topicOf(this.ctx, p, 'ResourceArn');
    } catch (err) {
      if (err instanceof AwsError && err.code === 'NotFound') throw new AwsError('ResourceNotFound', 'Resource does not exist', 404);
      throw err;
    }
  }
}

/** A message's FIFO members checked against its topic's kind; returns the message. */
function checkFifo(m: CheckedMessage, fifo: boolean, attrs: Readonly<Record<string, string>>): CheckedMessage {
  if (fifo) {
    if (m.groupId === undefined) throw invalidParameter('The MessageGroupId parameter is required for FIFO topics');
    if (m.dedupId === undefined && attrs.ContentBasedDeduplication !== 'true') {
      throw invalidParameter('The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly');
    }
  } else if (m.dedupId !== undefined) {
    throw invalidParameter('MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type');
  }
  return m;
}

function defaultTopicAttribute(k: string): string | undefined {
  return k === 'SignatureVersion' ? '1' : k === 'FifoTopic' || k === 'ContentBasedDeduplication' ? 'false' : k === 'DisplayName' ? '' : undefined;
}

function checkTopicAttribute(name: string, value: string, fifo: boolean): void {
  if (!SETTABLE.has(name) && !FEEDBACK.test(name)) throw invalidParameter('AttributeName');
  if (name === 'SignatureVersion' && value !== '1' && value !== '2') throw invalidParameter(`Attribute SignatureVersion: Invalid value [${value}]`);
  if (name === 'TracingConfig' && value !== 'PassThrough' && value !== 'Active') throw invalidParameter(`Attribute TracingConfig: Invalid value [${value}]`);
  if (name === 'ContentBasedDeduplication') {
    if (!fifo) throw invalidParameter('ContentBasedDeduplication Reason: Content based deduplication can only be set for FIFO topics');
    if (value !== 'true' && value !== 'false') throw invalidParameter(`Attribute ContentBasedDeduplication: Invalid value [${value}]`);
  }
  if ((name === 'Policy' || name === 'DeliveryPolicy' || name === 'DataProtectionPolicy' || name === 'ArchivePolicy') && value !== '') {
    try {
      JSON.parse(value);
    } catch {
      throw invalidParameter(`${name}: failed to parse JSON.`);
    }
    if (name === 'DeliveryPolicy') validateTopicDeliveryPolicy(value);
  }
}

/** Tags as sent ([{Key, Value}]), checked; undefined if none were sent. */
function tagsOf(raw: unknown): Record<string, string> | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw)) throw invalidParameter('Tags');
  const out: Record<string, string> = {};
  for (const t of raw as { Key?: unknown; Value?: unknown }[]) {
    if (typeof t?.Key !== 'string' || t.Key === '' || t.Key.length > 128) throw invalidParameter('Tags Reason: Tag keys must be between 1 and 128 characters');
    if (Object.hasOwn(out, t.Key)) throw invalidParameter('Duplicated keys are not allowed.');
    const value = typeof t.Value === 'string' ? t.Value : '';
    if (value.length > 256) throw invalidParameter('Tags Reason: Tag values must be at most 256 characters');
    out[t.Key] = value;
  }
  if (Object.keys(out).length > TAGS_MAX) throw new AwsError('TagLimitExceeded', 'Could not complete request: tag quota of per resource exceeded');
  return out;
}

/** The bytes of an entry's MessageAttributes as sent (name, DataType, value), before they are checked. */
function rawAttributesBytes(raw: unknown): number {
  if (typeof raw !== 'object' || raw === null) return 0;
  let n = 0;
  for (const [name, a] of Object.entries(raw as Record<string, { DataType?: unknown; StringValue?: unknown; BinaryValue?: unknown }>)) {
    n += Buffer.byteLength(name);
    if (typeof a?.DataType === 'string') n += Buffer.byteLength(a.DataType);
    if (typeof a?.StringValue === 'string') n += Buffer.byteLength(a.StringValue);
    else if (a?.BinaryValue instanceof Uint8Array) n += a.BinaryValue.length;
    else if (typeof a?.BinaryValue === 'string') n += Buffer.from(a.BinaryValue, 'base64').length;
  }
  return n;
}

interface BatchEntry extends Params {
  readonly Id: string;
}

function checkBatch(raw: unknown): BatchEntry[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new AwsError('EmptyBatchRequest', "The batch request doesn't contain any entries.");
  if (raw.length > 10) throw new AwsError('TooManyEntriesInBatchRequest', 'The batch request contains more entries than permissible.');
  const ids = new Set<string>();
  for (const e of raw as Params[]) {
    const id = e?.Id;
    if (typeof id !== 'string' || id === '') throw new AwsError('InvalidBatchEntryId', "The Id of a batch entry in a batch request doesn't abide by the specification.");
    if (id.length > 80) throw new AwsError('InvalidBatchEntryId', `The Id of a batch entry in the batch request is too long: ${id}`);
    if (!/^[A-Za-z0-9_-]+$/.test(id)) throw new AwsError('InvalidBatchEntryId', `The Id of a batch entry in the batch request contains an impermissible character: ${id}`);
    if (ids.has(id)) throw new AwsError('BatchEntryIdsNotDistinct', 'Two or more batch entries in the request have the same Id.');
    ids.add(id);
  }
  return raw as BatchEntry[];
}

function defaultPolicy(arn: string, account: string): string {
  return JSON.stringify({
    Version: '2008-10-17',
    Id: '__default_policy_ID',
    Statement: [
      {
        Sid: '__default_statement_ID',
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: ['SNS:GetTopicAttributes', 'SNS:SetTopicAttributes', 'SNS:AddPermission', 'SNS:RemovePermission', 'SNS:DeleteTopic', 'SNS:Subscribe', 'SNS:ListSubscriptionsByTopic', 'SNS:Publish'],
        Resource: arn,
        Condition: { StringEquals: { 'AWS:SourceOwner': account } },
      },
    ],
  });
}
