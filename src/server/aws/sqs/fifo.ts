// SQS FIFO queues (names ending `.fifo`) over two broker features: message groups
// (queue argument x-message-group-header, broker/queue/groups.ts: a group's messages in
// order, none handed out while one is in flight) and de-duplication
// (x-message-deduplication, broker/queue/dedup.ts, with SQS's 5-minute window). This
// file checks what AWS checks, with AWS's texts, and maps MessageGroupId,
// MessageDeduplicationId and SequenceNumber to headers and back.

import { createHash } from 'node:crypto';
import type { Args } from '../../../broker/message.js';
import { DEDUP_HEADER } from '../../../broker/queue/dedup.js';
import type { Queue } from '../../../broker/queue/queue.js';
import type { FieldTable } from '../../../protocol/amqp/index.js';
import { AwsError } from '../errors.js';

/** The header naming a message's group: also what an AMQP publisher sets to join a group. */
export const GROUP_HEADER = 'x-message-group-id';
/** The MessageDeduplicationId as sent (or the body's SHA-256 with ContentBasedDeduplication). */
export const DEDUP_ID_HEADER = 'x-sqs-deduplication-id';
export const SEQUENCE_HEADER = 'x-sqs-sequence-number';

/** What GetQueueAttributes shows for a FIFO queue unless set otherwise. */
export const FIFO_DEFAULTS: Readonly<Record<string, string>> = {
  FifoQueue: 'true',
  ContentBasedDeduplication: 'false',
  DeduplicationScope: 'queue',
  FifoThroughputLimit: 'perQueue',
};

const FIFO_VALUES: Readonly<Record<string, readonly string[]>> = {
  ContentBasedDeduplication: ['true', 'false'],
  DeduplicationScope: ['messageGroup', 'queue'],
  FifoThroughputLimit: ['perQueue', 'perMessageGroupId'],
};

/** The arguments that make the AMQP queue behind a FIFO queue keep groups and de-duplicate (5 minutes, the default window). */
export const FIFO_QUEUE_ARGS: Args = { 'x-message-group-header': GROUP_HEADER, 'x-message-deduplication': true };

/** MessageGroupId and MessageDeduplicationId: 1-128 alphanumeric and punctuation characters. */
const ID_PATTERN = /^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]{1,128}$/;

const invalid = (text: string): AwsError => new AwsError('InvalidParameterValue', text);
const invalidAttribute = (name: string): AwsError => new AwsError('InvalidAttributeValue', `Invalid value for the parameter ${name}.`);
const notForQueueType = (name: string, v: unknown): AwsError =>
  invalid(`Value ${String(v)} for parameter ${name} is invalid. Reason: The request include parameter that is not valid for this queue type.`);

export function isFifo(attributes: Readonly<Record<string, string>>): boolean {
  return attributes.FifoQueue === 'true';
}

/**
 * A queue name for CreateQueue: standard names are 1-80 letters, digits, `-`, `_`; with
 * FifoQueue=true the name must end in `.fifo` (80 characters in all). So a `.fifo`
 * name without FifoQueue=true gets the standard text, as at AWS.
 */
export function checkQueueName(name: string, fifoFlag: unknown): void {
  if (String(fifoFlag) !== 'true') {
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) throw invalid('Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length');
  } else if (!/^[A-Za-z0-9_-]{1,75}\.fifo$/.test(name)) {
    throw invalid('The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.');
  }
}

/**
 * One FIFO attribute's value for a queue of that name, checked (the shape of the
 * attribute-validation hook): FifoQueue `true` (`false` only where the name refuses it); the others only on a FIFO
 * queue (else "Unknown Attribute", as AWS answers for a standard queue) and from
 * their value sets.
 */
export function validateFifoAttribute(name: string, value: string, queueName: string): string {
  if (name === 'FifoQueue') {
    if (value !== 'true' && value !== 'false') throw invalidAttribute(name);
    // AWS: FifoQueue=false does not make a standard queue, it is an unknown attribute of one.
    if (value === 'false' && !queueName.endsWith('.fifo')) throw new AwsError('InvalidAttributeName', 'Unknown Attribute FifoQueue.');
    return value;
  }
  if (!queueName.endsWith('.fifo')) {
    // AWS's two texts for a standard queue (LocalStack's snapshots of AWS).
    if (name === 'DeduplicationScope' || name === 'FifoThroughputLimit') throw new AwsError('InvalidAttributeName', `You can specify the ${name} only when FifoQueue is set to true.`);
    throw new AwsError('InvalidAttributeName', `Unknown Attribute ${name}.`);
  }
  if (!FIFO_VALUES[name]?.includes(value)) throw invalidAttribute(name);
  return value;
}

/** Rules across FIFO attributes, on the attributes a FIFO queue will have. */
export function checkFifoCombination(attributes: Readonly<Record<string, string>>): void {
  // AWS: "The perMessageGroupId value is allowed only when the value for DeduplicationScope is messageGroup."
  if (attributes.FifoThroughputLimit === 'perMessageGroupId' && attributes.DeduplicationScope !== 'messageGroup') throw invalidAttribute('FifoThroughputLimit');
}

/**
 * CreateQueue's name and FIFO attributes (checkQueueName, validateFifoAttribute,
 * checkFifoCombination). Returns the FIFO attributes to store (undefined: a standard
 * queue) and the other attributes for the common checks.
 */
export function fifoAttributes(name: string, raw: Readonly<Record<string, unknown>>): { fifo: Record<string, string> | undefined; rest: Record<string, unknown> } {
  const rest: Record<string, unknown> = {};
  const given: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (k === 'FifoQueue' || k in FIFO_VALUES) given[k] = String(v);
    else rest[k] = v;
  }
  if (given.FifoQueue !== undefined) validateFifoAttribute('FifoQueue', given.FifoQueue, name);
  checkQueueName(name, given.FifoQueue);
  for (const [k, v] of Object.entries(given)) validateFifoAttribute(k, v, name);
  if (given.FifoQueue !== 'true') return { fifo: undefined, rest };
  checkFifoCombination(given);
  return { fifo: given, rest };
}

/** A send's FIFO fields, checked: what goes into the message's headers, and the de-duplication key. */
export interface FifoSend {
  readonly headers: FieldTable;
  /** The key the queue de-duplicates on (scoped to the group with DeduplicationScope messageGroup). */
  readonly key: string;
}

/**
 * A send to a standard queue: MessageDeduplicationId is refused as AWS refuses it;
 * MessageGroupId is accepted (AWS's fair queues), checked as on a FIFO queue, and has
 * no effect on order here.
 */
export function checkStandardSend(p: Readonly<Record<string, unknown>>): void {
  if (p.MessageDeduplicationId !== undefined) throw notForQueueType('MessageDeduplicationId', p.MessageDeduplicationId);
  const group = p.MessageGroupId;
  if (group !== undefined && group !== null && (typeof group !== 'string' || !ID_PATTERN.test(group))) throw invalidGroupId(group);
}

const invalidGroupId = (group: unknown): AwsError =>
  invalid(`Value ${String(group)} for parameter MessageGroupId is invalid. Reason: MessageGroupId can only include alphanumeric and punctuation characters. 1 to 128 in length.`);

/** A send to a FIFO queue, checked in AWS's order; `attributes`: the queue's. */
export function fifoSend(p: Readonly<Record<string, unknown>>, body: string, attributes: Readonly<Record<string, string>>): FifoSend {
  if (p.DelaySeconds !== undefined && Number(p.DelaySeconds) !== 0) throw notForQueueType('DelaySeconds', p.DelaySeconds);
  const group = p.MessageGroupId;
  if (group === undefined || group === null || group === '') {
    throw new AwsError('MissingParameter', 'The request must contain the parameter MessageGroupId.');
  }
  if (typeof group !== 'string' || !ID_PATTERN.test(group)) throw invalidGroupId(group);
  let dedupId = p.MessageDeduplicationId;
  if (dedupId === undefined || dedupId === null || dedupId === '') {
    if (attributes.ContentBasedDeduplication !== 'true') {
      throw invalid('The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly');
    }
    // AWS: the SHA-256 of the body (not the attributes).
    dedupId = createHash('sha256').update(body, 'utf8').digest('hex');
  } else if (typeof dedupId !== 'string' || !ID_PATTERN.test(dedupId)) {
    throw invalid(`Value ${String(dedupId)} for parameter MessageDeduplicationId is invalid. Reason: MessageDeduplicationId can only include alphanumeric and punctuation characters. 1 to 128 in length.`);
  }
  const id = dedupId as string;
  const key = attributes.DeduplicationScope === 'messageGroup' ? `${group}\u0000${id}` : id;
  return { headers: { [GROUP_HEADER]: group, [DEDUP_ID_HEADER]: id, [DEDUP_HEADER]: key }, key };
}

/**
 * SendMessageBatch to a FIFO queue: an entry without MessageGroupId, or without a
 * de-duplication id where the queue needs one, fails the whole request (AWS, where the
 * other checks give the entry a Failed result), as InvalidParameterValue both.
 */
export function checkFifoBatchEntry(e: Readonly<Record<string, unknown>>, attributes: Readonly<Record<string, string>>): void {
  const missing = (v: unknown): boolean => v === undefined || v === null || v === '';
  if (missing(e.MessageGroupId)) throw invalid('The request must contain the parameter MessageGroupId.');
  if (missing(e.MessageDeduplicationId) && attributes.ContentBasedDeduplication !== 'true') {
    throw invalid('The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly');
  }
}

/** DeleteMessage(Batch) on a FIFO queue with a handle whose visibility timeout ended: AWS's two shapes. */
export function expiredHandle(handle: string, inBatch: boolean): AwsError {
  if (inBatch) return new AwsError('ReceiptHandleIsInvalid', 'The receipt handle has expired');
  return invalid(`Value ${handle} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.`);
}

/** ReceiveRequestAttemptId: accepted (1-128 alphanumeric and punctuation characters). */
export function checkReceiveAttempt(v: unknown): void {
  if (v === undefined || v === null) return;
  if (typeof v !== 'string' || !ID_PATTERN.test(v)) {
    throw invalid(`Value ${String(v)} for parameter ReceiveRequestAttemptId is invalid. Reason: ReceiveRequestAttemptId can only include alphanumeric and punctuation characters. 1 to 128 in length.`);
  }
}

interface Original {
  readonly messageId: string;
  readonly sequenceNumber: string;
  readonly expiresAt: number;
}

/**
 * Sequence numbers and the replies to duplicates. SequenceNumber is a 20-digit number
 * that only grows (the send time in ms times 10^7 plus a counter, so it keeps growing
 * across restarts); it is stored with the message. A duplicate within the window is
 * answered with the first copy's MessageId and SequenceNumber, remembered here for the
 * window (in memory: after a restart the queue still drops duplicates, see docs/aws.md).
 */
export class FifoSequencer {
  private last = 0n;
  private readonly originals = new WeakMap<Queue, Map<string, Original>>();

  next(now = Date.now()): string {
    const floor = BigInt(now) * 10_000_000n;
    this.last = this.last >= floor ? this.last + 1n : floor;
    return this.last.toString().padStart(20, '0');
  }

  /** The first copy of a duplicate the queue would drop; undefined when the key is new. */
  duplicateOf(q: Queue, key: string, now = Date.now()): { MessageId: string; SequenceNumber: string } | undefined {
    if (!q.dedup?.isDuplicate(key, now)) return undefined;
    const o = this.seen(q, now).get(key);
    // Known to the queue's window (recovered from disk) but not to this process: a new id.
    return o ? { MessageId: o.messageId, SequenceNumber: o.sequenceNumber } : undefined;
  }

  accepted(q: Queue, key: string, messageId: string, sequenceNumber: string, now = Date.now()): void {
    const windowMs = q.dedup?.config.windowMs ?? 0;
    const map = this.seen(q, now);
    map.delete(key);
    map.set(key, { messageId, sequenceNumber, expiresAt: now + windowMs });
    // No more than the queue's own window keeps.
    if (map.size > (q.dedup?.config.cacheSize ?? 0)) map.delete(map.keys().next().value as string);
  }

  /** The queue's remembered originals, expired ones dropped from the front (insertion order is expiry order). */
  private seen(q: Queue, now: number): Map<string, Original> {
    let map = this.originals.get(q);
    if (!map) this.originals.set(q, (map = new Map()));
    for (const [k, o] of map) {
      if (o.expiresAt > now) break;
      map.delete(k);
    }
    return map;
  }
}

/** One per process (services live for one request): originals are kept per Queue object, so brokers never share them. */
export const FIFO_SEQUENCER = new FifoSequencer();

/** What a replayed receive needs of the receiver's leases. */
export interface Leases {
  leased(queue: string, handle: string): boolean;
  changeVisibility(queue: string, handle: string, visibilityS: number): void;
}

/** AWS keeps a ReceiveRequestAttemptId for the de-duplication interval. */
const ATTEMPT_WINDOW_MS = 5 * 60_000;

interface Attempt {
  readonly reply: Readonly<Record<string, unknown>>;
  readonly handles: readonly string[];
  readonly expiresAt: number;
}

/**
 * ReceiveRequestAttemptId (FIFO queues): a receive retried with the same id within 5
 * minutes, while none of the messages it returned was deleted or made visible again,
 * returns the same messages and receipt handles, their visibility timeout restarted
 * (AWS). Otherwise the retry is a new receive.
 */
export class ReceiveAttempts {
  private readonly byQueue = new WeakMap<Queue, Map<string, Attempt>>();

  replay(q: Queue, id: unknown, leases: Leases, visibilityS: number, now = Date.now()): Readonly<Record<string, unknown>> | undefined {
    if (typeof id !== 'string' || visibilityS === 0) return undefined;
    const map = this.live(q, now);
    const a = map.get(id);
    if (!a) return undefined;
    if (!a.handles.every((h) => leases.leased(q.name, h))) {
      map.delete(id);
      return undefined;
    }
    for (const h of a.handles) leases.changeVisibility(q.name, h, visibilityS);
    return a.reply;
  }

  remember(q: Queue, id: unknown, reply: Readonly<Record<string, unknown>>, handles: readonly string[], now = Date.now()): void {
    if (typeof id !== 'string' || handles.length === 0) return;
    const map = this.live(q, now);
    map.delete(id);
    map.set(id, { reply, handles, expiresAt: now + ATTEMPT_WINDOW_MS });
  }

  private live(q: Queue, now: number): Map<string, Attempt> {
    let map = this.byQueue.get(q);
    if (!map) this.byQueue.set(q, (map = new Map()));
    for (const [k, a] of map) {
      if (a.expiresAt > now) break;
      map.delete(k);
    }
    return map;
  }
}

export const RECEIVE_ATTEMPTS = new ReceiveAttempts();

/** The FIFO system attributes of a received message, from its headers. */
export function fifoSystemAttributes(headers: Readonly<Record<string, unknown>>): Record<string, string> {
  const out: Record<string, string> = {};
  const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : undefined);
  const group = text(headers[GROUP_HEADER]);
  const dedup = text(headers[DEDUP_ID_HEADER]);
  const seq = text(headers[SEQUENCE_HEADER]);
  if (group !== undefined) out.MessageGroupId = group;
  if (dedup !== undefined) out.MessageDeduplicationId = dedup;
  if (seq !== undefined) out.SequenceNumber = seq;
  return out;
}
