// Publish's delivery: the topic's matching subscriptions (FilterIndex: only the
// policies filed under the message's values are evaluated), and for each one its own
// body, enqueued persistently straight onto the subscription's queue:
// - sqs, not raw: the signed Notification envelope as the SQS message body;
// - sqs, raw: the message itself, its attributes as SQS message attributes (AMQP
//   headers plus x-sqs-attribute-types, as SendMessage stores them);
// - http/https: the envelope (or the raw message) as the HTTP body to POST, the HTTP
//   headers to send as AMQP headers (x-amz-sns-message-type, -message-id, -topic-arn,
//   -subscription-arn, and x-amz-sns-rawdelivery for raw), for the push worker.
// The caller answers once store.sync() resolves: the copies are on disk.

import { randomUUID } from 'node:crypto';
import type { Exchange } from '../../../broker/exchange/exchange.js';
import { jsonBodyInput } from '../../../broker/filter/index.js';
import type { Args, PublishInput } from '../../../broker/message.js';
import { DEDUP_HEADER } from '../../../broker/queue/dedup.js';
import type { Queue } from '../../../broker/queue/queue.js';
import { encodeProperties, type FieldTable } from '../../../protocol/amqp/index.js';
import { SENT_TIMESTAMP_HEADER, storedAttributes } from '../sqs/attributes.js';
import { DEDUP_ID_HEADER, FIFO_SEQUENCER, GROUP_HEADER, SEQUENCE_HEADER } from '../sqs/fifo.js';
import { ATTRIBUTE_TYPES_HEADER } from '../sqs/service.js';
import { subscriptionArn, type SnsContext } from './context.js';
import { confirmationJson, notificationJson, notificationStringToSign } from './envelope.js';
import type { SnsSigningKey } from './signing.js';
import { envelopeAttributes, filterInput, messageFor, type CheckedMessage } from './message.js';
import { topicAttributes, type Subscription } from './topics.js';


export interface FifoDelivery {
  readonly groupId: string;
  readonly dedupId: string;
  readonly sequenceNumber: string;
}

/** The subscriptions a message goes to: unfiltered ones, and those whose policy matches. */
export function matchingSubscriptions(ctx: SnsContext, topic: Exchange, m: CheckedMessage): Set<Subscription> {
  const subs = ctx.topics.subscriptions(topic);
  const out = new Set<Subscription>(subs.unfiltered);
  if (subs.index.MessageAttributes.size > 0) subs.index.MessageAttributes.match(filterInput(m), out);
  if (subs.index.MessageBody.size > 0) subs.index.MessageBody.match(jsonBodyInput(parseJson(m.message)), out);
  return out;
}

/**
 * Enqueues the message for every matching subscription; resolves to how many copies were
 * enqueued. The signatures (one per distinct message text: they cover neither the
 * subscription nor its UnsubscribeURL) are made first, off the event loop unless `inOrder`
 * (a FIFO topic, whose deliveries must keep the order of its publishes).
 */
export async function deliver(ctx: SnsContext, key: SnsSigningKey, topic: Exchange, m: CheckedMessage, messageId: string, fifo?: FifoDelivery): Promise<number> {
  const sequenceNumber = fifo?.sequenceNumber;
  const inOrder = fifo !== undefined;
  const matched = matchingSubscriptions(ctx, topic, m);
  if (matched.size === 0) return 0;
  const version = topicAttributes(topic).SignatureVersion === '2' ? '2' : '1';
  const timestamp = new Date().toISOString();
  const arn = `arn:aws:sns:${ctx.region}:${ctx.account}:${topic.name}`;
  const signatures = new Map<string, string | Promise<string>>();
  for (const sub of matched) {
    if (sub.attributes.RawMessageDelivery === 'true') continue;
    const message = messageFor(m, sub.attributes.Protocol ?? 'sqs');
    if (signatures.has(message)) continue;
    const text = notificationStringToSign({ message, messageId, subject: m.subject, timestamp, topicArn: arn });
    signatures.set(message, inOrder ? key.signSync(text, version) : key.sign(text, version));
  }
  for (const [message, sig] of signatures) signatures.set(message, await sig);
  const attributes = envelopeAttributes(m.attributes);
  const signingCertUrl = ctx.endpoint + key.certPath;
  let n = 0;
  for (const sub of matched) {
    const protocol = sub.attributes.Protocol ?? 'sqs';
    const message = messageFor(m, protocol);
    const raw = sub.attributes.RawMessageDelivery === 'true';
    const subArn = subscriptionArn(ctx, topic.name, sub.id);
    const body = raw
      ? message
      : notificationJson(
          {
            messageId,
            topicArn: arn,
            subject: m.subject,
            message,
            timestamp,
            signatureVersion: version,
            sequenceNumber,
            unsubscribeUrl: `${ctx.endpoint}/?Action=Unsubscribe&SubscriptionArn=${subArn}`,
            signingCertUrl,
            attributes,
          },
          signatures.get(message) as string,
        );
    let headers: FieldTable | undefined;
    if (protocol === 'http' || protocol === 'https') headers = httpHeaders('Notification', messageId, arn, subArn, raw);
    else if (raw) headers = sqsAttributeHeaders(m);
    // SQS's SentTimestamp to the ms (the AMQP timestamp property has seconds).
    if (protocol === 'sqs') headers = { ...headers, [SENT_TIMESTAMP_HEADER]: Date.now() };
    // A FIFO topic's copy for an SQS queue names its group and de-duplication id as SendMessage does,
    // so a FIFO queue keeps the group's order and drops a repeat.
    if (fifo && protocol === 'sqs') headers = { ...headers, ...fifoQueueHeaders(sub.queue, fifo) };
    // A standard topic's MessageGroupId reaches the (standard) queue as AWS's fair queues keep it:
    // ReceiveMessage shows it among the system attributes; it does not order anything.
    else if (m.groupId !== undefined && protocol === 'sqs') headers = { ...headers, [GROUP_HEADER]: m.groupId };
    enqueue(ctx, topic.name, sub.queue, body, headers);
    n++;
  }
  return n;
}

/** The SubscriptionConfirmation an HTTP/S subscription's queue gets at Subscribe. */
export function enqueueConfirmation(ctx: SnsContext, key: SnsSigningKey, topic: Exchange, sub: { queue: Queue; token: string }): void {
  const arn = `arn:aws:sns:${ctx.region}:${ctx.account}:${topic.name}`;
  const messageId = randomUUID();
  const version = topicAttributes(topic).SignatureVersion === '2' ? '2' : '1';
  const body = confirmationJson(
    {
      messageId,
      topicArn: arn,
      token: sub.token,
      subscribeUrl: `${ctx.endpoint}/?Action=ConfirmSubscription&TopicArn=${arn}&Token=${sub.token}`,
      timestamp: new Date().toISOString(),
      signatureVersion: version,
      signingCertUrl: ctx.endpoint + key.certPath,
    },
    key,
  );
  enqueue(ctx, topic.name, sub.queue, body, httpHeaders('SubscriptionConfirmation', messageId, arn, undefined, false));
}

/** What SendMessage would give the FIFO queue: the group, the de-duplication key in the queue's scope, the queue's next SequenceNumber. */
function fifoQueueHeaders(queue: Queue, fifo: FifoDelivery): FieldTable {
  const key = storedAttributes(queue).DeduplicationScope === 'messageGroup' ? `${fifo.groupId}\u0000${fifo.dedupId}` : fifo.dedupId;
  return { [GROUP_HEADER]: fifo.groupId, [DEDUP_ID_HEADER]: fifo.dedupId, [DEDUP_HEADER]: key, [SEQUENCE_HEADER]: FIFO_SEQUENCER.next() };
}

function httpHeaders(type: string, messageId: string, topicArn: string, subArn: string | undefined, raw: boolean): FieldTable {
  const h: FieldTable = { 'x-amz-sns-message-type': type, 'x-amz-sns-message-id': messageId, 'x-amz-sns-topic-arn': topicArn };
  if (subArn !== undefined) h['x-amz-sns-subscription-arn'] = subArn;
  if (raw) h['x-amz-sns-rawdelivery'] = 'true';
  return h;
}

/** Raw delivery to SQS: SNS attributes become SQS message attributes (String.Array as String... kept as its type). */
function sqsAttributeHeaders(m: CheckedMessage): FieldTable | undefined {
  const names = Object.keys(m.attributes);
  if (names.length === 0) return undefined;
  const h: FieldTable = {};
  const types: Record<string, string> = {};
  for (const [name, a] of Object.entries(m.attributes)) {
    h[name] = a.BinaryValue ?? a.StringValue ?? '';
    types[name] = a.DataType;
  }
  h[ATTRIBUTE_TYPES_HEADER] = JSON.stringify(types);
  return h;
}

function enqueue(ctx: SnsContext, exchange: string, queue: Queue, body: string, headers: FieldTable | undefined): void {
  const messageId = randomUUID();
  const properties = {
    // What SNS sends HTTP/S endpoints as Content-Type, for the push worker.
    ...(headers?.['x-amz-sns-message-type'] !== undefined ? { contentType: 'text/plain; charset=UTF-8' } : {}),
    deliveryMode: 2,
    messageId,
    timestamp: Math.floor(Date.now() / 1000),
    ...(headers ? { headers } : {}),
  };
  const input: PublishInput = {
    exchange,
    routingKey: '',
    mandatory: false,
    properties: encodeProperties(properties),
    body: Buffer.from(body, 'utf8'),
    persistent: true,
    headers: headers as Args | undefined,
    priority: 0,
    expiration: -1,
    messageId,
  };
  ctx.vhost.publishTo(input, [queue]);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
