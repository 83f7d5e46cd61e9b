// Amazon SQS actions over Wharf's queues, protocol-neutral (json.ts speaks AWS JSON
// 1.0 to them). An SQS queue IS an AMQP queue of the same name in the vhost the
// access key maps to: SendMessage publishes a persistent message through the
// default exchange, so AMQP consumers receive what SQS producers send
// (docs/aws.md has the mapping). The answer to a send waits until the message is
// on disk, like a publisher confirm.
//
// Served: CreateQueue, GetQueueUrl, ListQueues, DeleteQueue, Get/SetQueueAttributes
// (attributes.ts), PurgeQueue, SendMessage(Batch) (DelaySeconds: held by the broker's
// delayed store), ReceiveMessage (leases: receiver.ts), DeleteMessage(Batch),
// ChangeMessageVisibility(Batch); tags, ListDeadLetterSourceQueues and message move
// tasks in redrive.ts.

import { randomUUID } from 'node:crypto';
import type { Broker } from '../../../broker/broker.js';
import type { PublishInput } from '../../../broker/message.js';
import type { Queue } from '../../../broker/queue/queue.js';
import type { Vhost } from '../../../broker/vhost.js';
import { decodeProperties, encodeProperties, type FieldTable } from '../../../protocol/amqp/index.js';
import { AwsError } from '../errors.js';
import { md5Hex, md5OfAttributes, type MessageAttributeValue } from './md5.js';
import { DELIVERY_COUNT_HEADER, deathsOf, withoutDeathHeaders } from '../../../broker/dead-letter.js';
import { DEDUP_HEADER } from '../../../broker/queue/dedup.js';
import { queueDoesNotExist, SqsReceiver, type ReceiveOptions, type Received } from './receiver.js';
import type { RequestLife } from './waiters.js';
import {
  COMPUTED_ATTRIBUTES,
  DEFAULT_ATTRIBUTES,
  DELAY_MAX_S,
  KNOWN_ATTRIBUTES,
  MAX_MESSAGE_BYTES,
  SENT_TIMESTAMP_HEADER,
  SQS_ATTRIBUTES_ARG,
  VISIBILITY_MAX_S,
  nameFromArn,
  queueArgs,
  storedAttributes,
  storedTags,
  validateAttributes,
} from './attributes.js';
import { checkTags } from './redrive.js';

export { MAX_MESSAGE_BYTES, SQS_ATTRIBUTES_ARG };
import { FIFO_DEFAULTS, FIFO_QUEUE_ARGS, FIFO_SEQUENCER, DEDUP_ID_HEADER, GROUP_HEADER, expiredHandle, RECEIVE_ATTEMPTS, SEQUENCE_HEADER, checkFifoCombination, checkQueueName, checkFifoBatchEntry, checkReceiveAttempt, checkStandardSend, fifoSend, fifoSystemAttributes, isFifo, validateFifoAttribute } from './fifo.js';
import { fifoAttributes as fifoAttributeHook } from './attributes.js';
import { TRACE_HEADER, traceHeaderOf, traceSystemAttribute } from './trace.js';

fifoAttributeHook.validate = validateFifoAttribute;

/** The header that keeps SQS attributes' data types for the way back (AMQP headers have no "Number" type). */
export const ATTRIBUTE_TYPES_HEADER = 'x-sqs-attribute-types';
/** Headers that carry SQS's own fields or the broker's, never shown as message attributes. */
const INTERNAL_HEADERS: ReadonlySet<string> = new Set([
  ATTRIBUTE_TYPES_HEADER,
  GROUP_HEADER,
  DEDUP_ID_HEADER,
  SEQUENCE_HEADER,
  DEDUP_HEADER,
  SENT_TIMESTAMP_HEADER,
  TRACE_HEADER,
  DELIVERY_COUNT_HEADER,
]);
const CONNECTION = 'aws-sqs';

export interface SqsContext {
  readonly broker: Broker;
  readonly vhost: Vhost;
  /** The vhost's long-lived receiver (leases of received messages). */
  readonly receiver: SqsReceiver;
  /** http://host:port, the base of queue URLs. */
  readonly endpoint: string;
  readonly region: string;
  readonly account: string;
  /** The HTTP request being served: a long poll ends early when its client goes away. */
  readonly life?: RequestLife;
}

type Params = Record<string, unknown>;

export { queueDoesNotExist };

export class SqsService {
  private readonly fifo = FIFO_SEQUENCER;

  constructor(readonly ctx: SqsContext) {}

  queueUrl(name: string): string {
    return `${this.ctx.endpoint}/${this.ctx.account}/${name}`;
  }

  async CreateQueue(p: Params): Promise<Params> {
    const name = requiredString(p, 'QueueName');
    checkQueueName(name, optionalMap(p, 'Attributes').FifoQueue);
    const attributes = validateAttributes(optionalMap(p, 'Attributes'), this.redriveEnv(name));
    const fifo = isFifo(attributes);
    if (fifo) checkFifoCombination(attributes);
    const tags = p.tags === undefined || p.tags === null ? {} : checkTags(p.tags, name);
    const existing = this.ctx.vhost.queues.get(name);
    if (existing) {
      const current = storedAttributes(existing);
      const differs = Object.keys(attributes).filter((k) => (current[k] ?? DEFAULT_ATTRIBUTES[k] ?? FIFO_DEFAULTS[k] ?? '') !== attributes[k]);
      if (differs.length > 0) {
        throw new AwsError('QueueNameExists', `A queue already exists with the same name and a different value for attribute ${differs[0]}`, 400, 'QueueAlreadyExists');
      }
      return { QueueUrl: this.queueUrl(name) };
    }
    const now = String(Math.floor(Date.now() / 1000));
    const stored = withSse({ ...nonEmpty(attributes), CreatedTimestamp: now, LastModifiedTimestamp: now });
    const args = queueArgs(fifo ? FIFO_QUEUE_ARGS : {}, stored, tags, this.dlqNameOf(stored));
    await this.ctx.vhost.declareQueue(name, { passive: false, durable: true, exclusive: false, autoDelete: false, args }, CONNECTION);
    await this.ctx.broker.topologySaved();
    return { QueueUrl: this.queueUrl(name) };
  }

  GetQueueUrl(p: Params): Params {
    const name = requiredString(p, 'QueueName');
    if (!this.ctx.vhost.queues.has(name)) throw queueDoesNotExist();
    return { QueueUrl: this.queueUrl(name) };
  }

  ListQueues(p: Params): Params {
    const prefix = typeof p.QueueNamePrefix === 'string' ? p.QueueNamePrefix : '';
    const max = p.MaxResults === undefined ? undefined : Number(p.MaxResults);
    if (max !== undefined && !(Number.isInteger(max) && max >= 1 && max <= 1000)) {
      throw new AwsError('InvalidParameterValue', 'Value for parameter MaxResults is invalid. Reason: MaxResults must be an integer between 1 and 1000.');
    }
    const names = [...this.ctx.vhost.queues.values()].filter((q) => q.exclusiveOwner === undefined && q.name.startsWith(prefix)).map((q) => q.name).sort();
    const after = typeof p.NextToken === 'string' ? Buffer.from(p.NextToken, 'base64url').toString('utf8') : undefined;
    const from = after === undefined ? names : names.filter((n) => n > after);
    // Without MaxResults AWS returns up to 1,000 and no token.
    const page = from.slice(0, max ?? 1000);
    const out: Params = { QueueUrls: page.map((n) => this.queueUrl(n)) };
    if (max !== undefined && from.length > page.length) out.NextToken = Buffer.from(page[page.length - 1], 'utf8').toString('base64url');
    return out;
  }

  async DeleteQueue(p: Params): Promise<Params> {
    const q = this.queueOf(p);
    await this.ctx.vhost.deleteQueue(q.name, { ifUnused: false, ifEmpty: false }, CONNECTION);
    await this.ctx.broker.topologySaved();
    return {};
  }

  PurgeQueue(p: Params): Params {
    const q = this.queueOf(p);
    // AWS allows one purge a minute per queue (403 PurgeQueueInProgress); a queue deleted and made again starts afresh.
    const last = LAST_PURGES.get(q);
    const now = Date.now();
    if (last !== undefined && now - last < PURGE_INTERVAL_MS) {
      throw new AwsError('PurgeQueueInProgress', `Only one PurgeQueue operation on ${q.name} is allowed every 60 seconds.`, 403, 'AWS.SimpleQueueService.PurgeQueueInProgress');
    }
    this.ctx.vhost.purgeQueue(q.name, CONNECTION);
    LAST_PURGES.set(q, now);
    return {};
  }

  GetQueueAttributes(p: Params): Params {
    const q = this.queueOf(p);
    const wanted = Array.isArray(p.AttributeNames) ? (p.AttributeNames as unknown[]).map(String) : [];
    const all = this.attributesOf(q);
    const names = wanted.includes('All') ? Object.keys(all) : wanted;
    const out: Record<string, string> = {};
    for (const n of names) {
      if (!KNOWN_ATTRIBUTES.has(n)) throw new AwsError('InvalidAttributeName', `Unknown Attribute ${n}.`);
      // Known but not set on this queue (RedrivePolicy, Policy, KMS...): left out, as AWS does.
      if (n in all) out[n] = all[n];
    }
    return Object.keys(out).length > 0 ? { Attributes: out } : {};
  }

  /** SetQueueAttributes: checked as AWS checks them, in force at once (broker arguments), saved with the topology. */
  async SetQueueAttributes(p: Params): Promise<Params> {
    const q = this.queueOf(p);
    if (p.Attributes === undefined || p.Attributes === null) throw new AwsError('MissingParameter', 'The request must contain the parameter Attributes.');
    const raw = optionalMap(p, 'Attributes');
    for (const name of Object.keys(raw)) {
      if (COMPUTED_ATTRIBUTES.includes(name)) throw new AwsError('InvalidAttributeName', `Unknown Attribute ${name}.`);
    }
    const changes = validateAttributes(withoutFifoFlag(raw, q.name), this.redriveEnv(q.name));
    const attrs: Record<string, string> = { ...storedAttributes(q), ...changes };
    if (isFifo(attrs)) checkFifoCombination({ ...FIFO_DEFAULTS, ...attrs });
    for (const [k, v] of Object.entries(changes)) if (v === '') delete attrs[k];
    // One kind of SSE at a time: turning one on turns the other off.
    if (changes.KmsMasterKeyId && changes.SqsManagedSseEnabled === undefined) attrs.SqsManagedSseEnabled = 'false';
    if (changes.SqsManagedSseEnabled === 'true') {
      delete attrs.KmsMasterKeyId;
      delete attrs.KmsDataKeyReusePeriodSeconds;
    }
    attrs.LastModifiedTimestamp = String(Math.floor(Date.now() / 1000));
    await this.updateQueue(q, attrs, undefined);
    // AWS: a new retention period applies to the messages already in the queue too.
    if (changes.MessageRetentionPeriod !== undefined) q.retimeReady();
    return {};
  }

  /** New SQS attributes and/or tags for a queue: its broker arguments follow, then the topology is saved. */
  async updateQueue(q: Queue, attrs: Record<string, string> | undefined, tags: Record<string, string> | undefined): Promise<void> {
    const a = attrs ?? storedAttributes(q);
    this.ctx.vhost.setQueueArgs(q.name, queueArgs(q.args, a, tags ?? storedTags(q), this.dlqNameOf(a)));
    await this.ctx.broker.topologySaved();
  }

  arnOf(name: string): string {
    return `arn:aws:sqs:${this.ctx.region}:${this.ctx.account}:${name}`;
  }

  /** The queue an SQS ARN names in this account and vhost. */
  queueByArn(arn: string): Queue | undefined {
    const name = nameFromArn(arn, this.ctx.account);
    return name === undefined ? undefined : this.ctx.vhost.queues.get(name);
  }

  private redriveEnv(queueName: string): { queueName: string; arnOf: (n: string) => string; queueByArn: (a: string) => Queue | undefined } {
    return { queueName, arnOf: (n) => this.arnOf(n), queueByArn: (a) => this.queueByArn(a) };
  }

  private dlqNameOf(attrs: Readonly<Record<string, string>>): string | undefined {
    if (!attrs.RedrivePolicy) return undefined;
    try {
      const arn = (JSON.parse(attrs.RedrivePolicy) as { deadLetterTargetArn?: unknown }).deadLetterTargetArn;
      return typeof arn === 'string' ? nameFromArn(arn, this.ctx.account) : undefined;
    } catch {
      return undefined;
    }
  }

  async SendMessage(p: Params): Promise<Params> {
    const q = this.queueOf(p);
    const sent = this.publish(q, p);
    await this.ctx.broker.store.sync();
    return sent;
  }

  async SendMessageBatch(p: Params): Promise<Params> {
    const q = this.queueOf(p);
    const entries = checkBatch(p.Entries, 'SendMessageBatchRequestEntry');
    // AWS: the whole batch (bodies and attributes) within 1 MiB whatever the queue's MaximumMessageSize, which each entry is held to.
    const total = entries.reduce((sum, e) => sum + entrySize(e), 0);
    if (total > BATCH_BYTES_MAX) {
      throw new AwsError('BatchRequestTooLong', `Batch requests cannot be longer than ${BATCH_BYTES_MAX} bytes. You have sent ${total} bytes.`, 400, 'AWS.SimpleQueueService.BatchRequestTooLong');
    }
    const queueAttrs = storedAttributes(q);
    if (isFifo(queueAttrs)) for (const e of entries) checkFifoBatchEntry(e, queueAttrs);
    const Successful: Params[] = [];
    const Failed: Params[] = [];
    for (const e of entries) {
      try {
        Successful.push({ Id: e.Id, ...this.publish(q, e, true) });
      } catch (err) {
        if (!(err instanceof AwsError)) throw err;
        Failed.push({ Id: e.Id, SenderFault: err.fault === 'Sender', Code: err.code, Message: err.message });
      }
    }
    if (Successful.length > 0) await this.ctx.broker.store.sync();
    return { Successful, Failed };
  }

  ReceiveMessage(p: Params): Promise<Params> {
    const q = this.queueOf(p);
    const options = this.receiveOptions(q, p);
    checkReceiveAttempt(p.ReceiveRequestAttemptId);
    const attempt = isFifo(storedAttributes(q)) ? p.ReceiveRequestAttemptId : undefined;
    const replayed = RECEIVE_ATTEMPTS.replay(q, attempt, this.ctx.receiver, options.visibilityS);
    if (replayed) return Promise.resolve(replayed);
    const systemNames = names(p.AttributeNames, p.MessageSystemAttributeNames);
    const attributeNames = names(p.MessageAttributeNames);
    // A continuation, not an async frame: only what the answer needs is kept while a long poll waits.
    return this.ctx.receiver.receiveWaiting(q, options, this.ctx.life).then((got) => {
      if (got.length === 0) return {};
      this.returnIfUndelivered(got);
      const reply = { Messages: got.map((g) => receivedJson(g, systemNames, attributeNames, (name) => this.arnOf(name))) };
      RECEIVE_ATTEMPTS.remember(q, attempt, reply, got.map((g) => g.receiptHandle));
      return reply;
    });
  }

  /**
   * Messages whose answer never reaches the connection (the client went away before it
   * was written) go straight back, unseen, instead of staying leased until their
   * visibility timeout.
   */
  private returnIfUndelivered(got: readonly Received[]): void {
    const life = this.ctx.life;
    if (!life) return;
    life.onGone(() => {
      if (!life.answered()) this.ctx.receiver.giveBack(got);
    });
  }

  private receiveOptions(q: Queue, p: Params): ReceiveOptions {
    const attrs = { ...DEFAULT_ATTRIBUTES, ...storedAttributes(q) };
    return {
      max: intParam(p, 'MaxNumberOfMessages', 1, 1, 10, 'Must be between 1 and 10, if provided.'),
      visibilityS: intParam(p, 'VisibilityTimeout', Number(attrs.VisibilityTimeout), 0, VISIBILITY_MAX_S),
      waitS: intParam(p, 'WaitTimeSeconds', Number(attrs.ReceiveMessageWaitTimeSeconds), 0, 20, 'Must be >= 0 and <= 20, if provided.'),
    };
  }

  /** Answered once the ack is on disk: a deleted message never comes back after a crash. */
  async DeleteMessage(p: Params): Promise<Params> {
    const q = this.queueOf(p);
    this.deleteMessage(q, requiredString(p, 'ReceiptHandle'), false);
    await this.ctx.broker.store.sync();
    return {};
  }

  async DeleteMessageBatch(p: Params): Promise<Params> {
    const q = this.queueOf(p);
    const out = this.batch(p.Entries, 'DeleteMessageBatchRequestEntry', (e) => this.deleteMessage(q, requiredString(e, 'ReceiptHandle'), true));
    await this.ctx.broker.store.sync();
    return out;
  }

  /** A FIFO queue refuses a handle whose lease has ended (AWS); a standard queue accepts it. */
  private deleteMessage(q: Queue, handle: string, inBatch: boolean): void {
    const expired = isFifo(storedAttributes(q)) && !this.ctx.receiver.leased(q.name, handle);
    // A forged handle is ReceiptHandleIsInvalid before it can be an expired one.
    this.ctx.receiver.delete(q.name, handle);
    if (expired) throw expiredHandle(handle, inBatch);
  }

  ChangeMessageVisibility(p: Params): Params {
    const q = this.queueOf(p);
    this.changeVisibility(q, p);
    return {};
  }

  ChangeMessageVisibilityBatch(p: Params): Params {
    const q = this.queueOf(p);
    return this.batch(p.Entries, 'ChangeMessageVisibilityBatchRequestEntry', (e) => this.changeVisibility(q, e));
  }

  private changeVisibility(q: Queue, p: Params): void {
    const timeout = intParam(p, 'VisibilityTimeout', -1, 0, VISIBILITY_MAX_S);
    if (timeout < 0) throw new AwsError('MissingParameter', 'The request must contain the parameter VisibilityTimeout.');
    this.ctx.receiver.changeVisibility(q.name, requiredString(p, 'ReceiptHandle'), timeout);
  }

  /** A batch of per-entry actions: Successful by Id, Failed with each entry's error. */
  private batch(raw: unknown, what: string, each: (e: Params) => void): Params {
    const entries = checkBatch(raw, what);
    const Successful: Params[] = [];
    const Failed: Params[] = [];
    for (const e of entries) {
      try {
        each(e);
        Successful.push({ Id: e.Id });
      } catch (err) {
        if (!(err instanceof AwsError)) throw err;
        Failed.push({ Id: e.Id, SenderFault: err.fault === 'Sender', Code: err.code, Message: err.message });
      }
    }
    return { Successful, Failed };
  }

  /** The queue a request's QueueUrl names (in this account and vhost). */
  queueOf(p: Params): Queue {
    const url = requiredString(p, 'QueueUrl');
    const m = /\/([^/]+)\/([^/?]+)\/?$/.exec(url);
    const q = m && m[1] === this.ctx.account ? this.ctx.vhost.queues.get(decodeURIComponent(m[2])) : undefined;
    if (!q) throw queueDoesNotExist();
    return q;
  }

  attributesOf(q: Queue): Record<string, string> {
    // A queue declared through AMQP has no SQS timestamps: the broker's start stands in.
    const started = String(Math.floor(this.ctx.broker.startedAt / 1000));
    const stored = storedAttributes(q);
    const out: Record<string, string> = {
      ...DEFAULT_ATTRIBUTES,
      // AWS's default reuse period for a KMS key (s).
      ...(stored.KmsMasterKeyId ? { KmsDataKeyReusePeriodSeconds: '300' } : {}),
      ...(isFifo(stored) ? FIFO_DEFAULTS : {}),
      ...stored,
      ApproximateNumberOfMessages: String(q.messageCount),
      ApproximateNumberOfMessagesNotVisible: String(q.unacked),
      ApproximateNumberOfMessagesDelayed: String(this.ctx.broker.delayed.pending(this.ctx.vhost.name, '', q.name)),
      CreatedTimestamp: stored.CreatedTimestamp ?? started,
      LastModifiedTimestamp: stored.LastModifiedTimestamp ?? stored.CreatedTimestamp ?? started,
      QueueArn: this.arnOf(q.name),
    };
    // AWS shows the reuse period only with a KMS key (the key set back to "", it goes whatever the period).
    if (!stored.KmsMasterKeyId) delete out.KmsDataKeyReusePeriodSeconds;
    return out;
  }

  /** One message into the queue through the default exchange, persistent; its SQS reply fields. */
  private publish(q: Queue, p: Params, inBatch = false): Params {
    const body = p.MessageBody;
    if (typeof body !== 'string' || body === '') throw new AwsError('MissingParameter', 'The request must contain the parameter MessageBody.');
    const limit = maxMessageBytes(q, this);
    const attrs = messageAttributes(p.MessageAttributes);
    const size = Buffer.byteLength(body) + attributesSize(attrs);
    if (size > limit) {
      // AWS words it differently in a batch's Failed entry.
      throw new AwsError('InvalidParameterValue', `One or more parameters ${inBatch ? 'cannot be validated' : 'are invalid'}. Reason: Message must be shorter than ${limit} bytes.`);
    }
    const queueAttrs = storedAttributes(q);
    const fifo = isFifo(queueAttrs) ? fifoSend(p, body, queueAttrs) : checkStandardSend(p);
    const trace = traceHeaderOf(p.MessageSystemAttributes);
    const md5s: Params = {
      MD5OfMessageBody: md5Hex(body),
      ...(Object.keys(attrs).length > 0 ? { MD5OfMessageAttributes: md5OfAttributes(attrs) } : {}),
      ...(trace ? { MD5OfMessageSystemAttributes: trace.md5 } : {}),
    };
    const original = fifo && this.fifo.duplicateOf(q, fifo.key);
    // Accepted, not enqueued again: the first copy's ids (AWS).
    if (original) return { ...original, ...md5s };
    // A FIFO queue has no per-message delay (fifoSend refuses any but 0): its own DelaySeconds holds, even with 0 given (AWS).
    const queueDelayS = Number(this.attributesOf(q).DelaySeconds);
    const delayS = fifo ? queueDelayS : delaySecondsOf(p, queueDelayS);
    const messageId = randomUUID();
    const headers: FieldTable = {};
    for (const [name, a] of Object.entries(attrs)) headers[name] = a.BinaryValue ?? a.StringValue ?? '';
    if (Object.keys(attrs).length > 0) headers[ATTRIBUTE_TYPES_HEADER] = JSON.stringify(Object.fromEntries(Object.entries(attrs).map(([n, a]) => [n, a.DataType])));
    const sequenceNumber = fifo && this.fifo.next();
    if (fifo) Object.assign(headers, fifo.headers, { [SEQUENCE_HEADER]: sequenceNumber });
    if (trace) headers[TRACE_HEADER] = trace.value;
    const now = Date.now();
    headers[SENT_TIMESTAMP_HEADER] = now;
    const properties = { deliveryMode: 2, messageId, timestamp: Math.floor(now / 1000), headers };
    const input: PublishInput = {
      exchange: '',
      routingKey: q.name,
      mandatory: false,
      properties: encodeProperties(properties),
      body: Buffer.from(body, 'utf8'),
      persistent: true,
      headers,
      priority: 0,
      expiration: -1,
      messageId,
      // Invisible until due: held by the broker's delayed store (on disk, survives a restart).
      ...(delayS > 0 ? { delayMs: delayS * 1000 } : {}),
    };
    this.ctx.vhost.publish(input);
    const out: Params = { MessageId: messageId, ...md5s };
    if (fifo && sequenceNumber) {
      this.fifo.accepted(q, fifo.key, messageId, sequenceNumber);
      out.SequenceNumber = sequenceNumber;
    }
    return out;
  }
}

/**
 * SetQueueAttributes' FifoQueue (AWS): unknown on a standard queue; on a FIFO queue
 * `true` changes nothing and anything else is refused (the type cannot change).
 */
function withoutFifoFlag(raw: Record<string, unknown>, queueName: string): Record<string, unknown> {
  if (raw.FifoQueue === undefined) return raw;
  if (!queueName.endsWith('.fifo')) throw new AwsError('InvalidAttributeName', 'Unknown Attribute FifoQueue.');
  if (String(raw.FifoQueue).toLowerCase() !== 'true') {
    throw new AwsError('InvalidAttributeValue', 'Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.');
  }
  const { FifoQueue: _flag, ...rest } = raw;
  return rest;
}

/** SendMessageBatch's total limit (AWS: 1 MiB, whatever the queue's MaximumMessageSize). */
const BATCH_BYTES_MAX = 1_048_576;

/** When each queue was last purged through SQS (AWS: one PurgeQueue a minute). */
const LAST_PURGES = new WeakMap<Queue, number>();
const PURGE_INTERVAL_MS = 60_000;

function requiredString(p: Params, key: string): string {
  const v = p[key];
  if (typeof v !== 'string' || v === '') throw new AwsError('MissingParameter', `The request must contain the parameter ${key}.`);
  return v;
}

function optionalMap(p: Params, key: string): Record<string, unknown> {
  const v = p[key];
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new AwsError('InvalidParameterValue', `Value for parameter ${key} is invalid.`);
  return v as Record<string, unknown>;
}

/** A message's DelaySeconds (the queue's when absent), with AWS's text for a bad one. */
function delaySecondsOf(p: Params, queueDefault: number): number {
  const v = p.DelaySeconds;
  if (v === undefined || v === null) return queueDefault;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > DELAY_MAX_S) {
    throw new AwsError('InvalidParameterValue', `Value ${String(v)} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= ${DELAY_MAX_S}.`);
  }
  return n;
}

/** Attributes without those cleared by "". */
function nonEmpty(attrs: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(attrs).filter(([, v]) => v !== ''));
}

/** A queue with its own KMS key is not also SSE-SQS encrypted (unless the request said so). */
function withSse(attrs: Record<string, string>): Record<string, string> {
  if (attrs.KmsMasterKeyId && attrs.SqsManagedSseEnabled === undefined) attrs.SqsManagedSseEnabled = 'false';
  return attrs;
}

function maxMessageBytes(q: Queue, _s: SqsService): number {
  return Number(storedAttributes(q).MaximumMessageSize ?? DEFAULT_ATTRIBUTES.MaximumMessageSize);
}

/** MessageAttributes as sent (BinaryValue base64 in JSON), checked as SQS checks them. */
function messageAttributes(raw: unknown): Record<string, MessageAttributeValue> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new AwsError('InvalidParameterValue', 'Value for parameter MessageAttributes is invalid.');
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length > 10) throw new AwsError('InvalidParameterValue', 'Number of message attributes [' + entries.length + '] exceeds the allowed maximum [10].');
  const out: Record<string, MessageAttributeValue> = {};
  for (const [name, v] of entries) {
    const a = v as { DataType?: unknown; StringValue?: unknown; BinaryValue?: unknown };
    if (typeof a.DataType !== 'string' || !/^(String|Number|Binary)(\..+)?$/.test(a.DataType)) {
      throw new AwsError('InvalidParameterValue', `The message attribute '${name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.`);
    }
    if (a.DataType.startsWith('Binary')) {
      if (typeof a.BinaryValue !== 'string') throw new AwsError('InvalidParameterValue', `The message attribute '${name}' must contain non-empty message attribute value for message attribute type '${a.DataType}'.`);
      out[name] = { DataType: a.DataType, BinaryValue: Buffer.from(a.BinaryValue, 'base64') };
    } else {
      if (a.DataType.startsWith('String') && (typeof a.StringValue !== 'string' || a.StringValue === '')) {
        throw new AwsError('InvalidParameterValue', `Message (user) attribute '${name}' must contain a non-empty value of type '${a.DataType}'.`);
      }
      if (typeof a.StringValue !== 'string' || a.StringValue === '') {
        throw new AwsError('InvalidParameterValue', `The message attribute '${name}' must contain non-empty message attribute value for message attribute type '${a.DataType}'.`);
      }
      if (a.DataType.startsWith('Number') && !Number.isFinite(Number(a.StringValue))) {
        throw new AwsError('InvalidParameterValue', `Can't cast the value of message attribute '${name}' to a number.`);
      }
      out[name] = { DataType: a.DataType, StringValue: a.StringValue };
    }
  }
  return out;
}

/** A batch entry's size as AWS counts it for BatchRequestTooLong: body, attribute names, types and values. */
function entrySize(e: Params): number {
  let attrs: Record<string, MessageAttributeValue> = {};
  try {
    attrs = messageAttributes(e.MessageAttributes);
  } catch {
    // A bad entry fails on its own (its Failed entry), not the batch.
  }
  return Buffer.byteLength(typeof e.MessageBody === 'string' ? e.MessageBody : '') + attributesSize(attrs);
}

function attributesSize(attrs: Readonly<Record<string, MessageAttributeValue>>): number {
  let n = 0;
  for (const [name, a] of Object.entries(attrs)) n += Buffer.byteLength(name) + Buffer.byteLength(a.DataType) + (a.BinaryValue?.length ?? Buffer.byteLength(a.StringValue ?? ''));
  return n;
}

interface BatchEntry extends Params {
  readonly Id: string;
}

function checkBatch(raw: unknown, what: string): BatchEntry[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new AwsError('EmptyBatchRequest', `There should be at least one ${what} in the request.`, 400, 'AWS.SimpleQueueService.EmptyBatchRequest');
  if (raw.length > 10) throw new AwsError('TooManyEntriesInBatchRequest', `Maximum number of entries per request are 10. You have sent ${raw.length}.`, 400, 'AWS.SimpleQueueService.TooManyEntriesInBatchRequest');
  const ids = new Set<string>();
  for (const e of raw as Params[]) {
    const id = e?.Id;
    if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,80}$/.test(id)) {
      throw new AwsError('InvalidBatchEntryId', 'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.', 400, 'AWS.SimpleQueueService.InvalidBatchEntryId');
    }
    if (ids.has(id)) throw new AwsError('BatchEntryIdsNotDistinct', `Id ${id} repeated.`, 400, 'AWS.SimpleQueueService.BatchEntryIdsNotDistinct');
    ids.add(id);
  }
  return raw as BatchEntry[];
}

/** An integer parameter in [min, max]; `reason`: AWS's own words where known (ReceiveMessage's). */
function intParam(p: Params, key: string, dflt: number, min: number, max: number, reason = `must be between ${min} and ${max}.`): number {
  const v = p[key];
  if (v === undefined || v === null) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new AwsError('InvalidParameterValue', `Value ${String(v)} for parameter ${key} is invalid. Reason: ${reason}`);
  }
  return n;
}

/** Requested attribute names ("All", ".*", a name, or "prefix.*"), from any of the given lists. */
function names(...lists: unknown[]): string[] {
  return lists.flatMap((l) => (Array.isArray(l) ? l.map(String) : []));
}

function wanted(list: readonly string[], name: string): boolean {
  return list.some((w) => w === 'All' || w === '.*' || w === name || (w.endsWith('.*') && name.startsWith(w.slice(0, -1))));
}

/** A received message in SQS's shape: the body, the requested system and message attributes, their MD5s. */
function receivedJson(r: Received, systemNames: readonly string[], attributeNames: readonly string[], arnOf: (queue: string) => string): Params {
  const { result: g, receiptHandle } = r;
  const props = decodeProperties(g.content.properties);
  const body = g.content.body.toString('utf8');
  const out: Params = { MessageId: props.messageId ?? '', ReceiptHandle: receiptHandle, MD5OfBody: md5Hex(body), Body: body };
  const sent = props.headers?.[SENT_TIMESTAMP_HEADER];
  // Sent through SQS or SNS: the send's ms; through AMQP: the timestamp property (s), else unknown.
  const sentMs = typeof sent === 'number' || typeof sent === 'bigint' ? Number(sent) : props.timestamp !== undefined ? Number(props.timestamp) * 1000 : 0;
  const system: Record<string, string> = {
    ApproximateReceiveCount: String(g.entry.returns + 1),
    SentTimestamp: String(sentMs),
    ApproximateFirstReceiveTimestamp: String(r.firstReceivedAt),
    SenderId: '000000000000',
    ...fifoSystemAttributes((props.headers ?? {}) as Record<string, unknown>),
    ...traceSystemAttribute((props.headers ?? {}) as Record<string, unknown>),
    ...deadLetterSource(props.headers, arnOf),
  };
  const attrs = Object.fromEntries(Object.entries(system).filter(([n]) => wanted(systemNames, n)));
  if (Object.keys(attrs).length > 0) out.Attributes = attrs;
  // The broker's own headers (a dead-lettered message's x-death history, a redelivery's
  // x-delivery-count, in INTERNAL_HEADERS) are AMQP's, not SQS message attributes
  // (ApproximateReceiveCount says it).
  const headers = withoutDeathHeaders(props.headers ?? {}) as Record<string, unknown>;
  const types = parseTypes(headers[ATTRIBUTE_TYPES_HEADER]);
  const messageAttrs: Record<string, MessageAttributeValue> = {};
  for (const [name, v] of Object.entries(headers)) {
    if (INTERNAL_HEADERS.has(name) || !wanted(attributeNames, name)) continue;
    if (Buffer.isBuffer(v)) messageAttrs[name] = { DataType: types[name] ?? 'Binary', BinaryValue: v };
    else if (typeof v === 'string') messageAttrs[name] = { DataType: types[name] ?? 'String', StringValue: v };
    else if (typeof v === 'number' || typeof v === 'bigint') messageAttrs[name] = { DataType: types[name] ?? 'Number', StringValue: String(v) };
  }
  if (Object.keys(messageAttrs).length > 0) {
    out.MessageAttributes = Object.fromEntries(
      Object.entries(messageAttrs).map(([n, a]) => [n, a.BinaryValue !== undefined ? { DataType: a.DataType, BinaryValue: a.BinaryValue.toString('base64') } : { DataType: a.DataType, StringValue: a.StringValue }]),
    );
    out.MD5OfMessageAttributes = md5OfAttributes(messageAttrs);
  }
  return out;
}

/** A dead-lettered message's DeadLetterQueueSourceArn (AWS): the queue of its newest x-death. */
function deadLetterSource(headers: FieldTable | undefined, arnOf: (queue: string) => string): Record<string, string> {
  const source = deathsOf(headers)[0]?.queue;
  return source === undefined ? {} : { DeadLetterQueueSourceArn: arnOf(source) };
}

function parseTypes(raw: unknown): Record<string, string> {
  const text = Buffer.isBuffer(raw) ? raw.toString('utf8') : raw;
  if (typeof text !== 'string') return {};
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null ? (v as Record<string, string>) : {};
  } catch {
    return {};
  }
}
