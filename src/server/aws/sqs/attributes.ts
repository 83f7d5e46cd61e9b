// SQS queue attributes: which exist, their ranges and AWS's error texts, and how they
// map onto the AMQP queue's arguments. The attributes themselves (with the queue's
// creation and modification times) are kept as JSON in the queue argument
// `x-sqs-attributes`, its tags in `x-sqs-tags`; what the broker enforces is derived
// from them (queueArgs): MessageRetentionPeriod is x-message-ttl, a RedrivePolicy is
// x-delivery-limit with a dead-letter exchange (the default one, keyed by the DLQ's
// name) that dead-letters delivery_limit deaths only (x-dead-letter-reasons). So the
// broker applies them to AMQP consumers too, and they survive restarts with the
// topology. docs/aws.md lists them.

import type { Args } from '../../../broker/message.js';
import type { Queue } from '../../../broker/queue/queue.js';
import { AwsError } from '../errors.js';
import { VISIBILITY_MAX_S } from './receiver.js';

/** Where an SQS queue's attributes live on the AMQP queue (a JSON object as a queue argument). */
export const SQS_ATTRIBUTES_ARG = 'x-sqs-attributes';
/** Its tags (a JSON object). */
export const SQS_TAGS_ARG = 'x-sqs-tags';

/** AWS's current default and maximum message size (1 MiB since 2025). */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
export { VISIBILITY_MAX_S };
export const DELAY_MAX_S = 900;

export const DEFAULT_ATTRIBUTES: Readonly<Record<string, string>> = {
  VisibilityTimeout: '30',
  MaximumMessageSize: String(MAX_MESSAGE_BYTES),
  MessageRetentionPeriod: '345600',
  DelaySeconds: '0',
  ReceiveMessageWaitTimeSeconds: '0',
  // AWS encrypts new queues with SQS-owned keys by default (since 2022).
  SqsManagedSseEnabled: 'true',
};

/** Numeric attributes with AWS's ranges. */
const RANGES: Readonly<Record<string, readonly [number, number]>> = {
  VisibilityTimeout: [0, VISIBILITY_MAX_S],
  MaximumMessageSize: [1024, MAX_MESSAGE_BYTES],
  MessageRetentionPeriod: [60, 1_209_600],
  DelaySeconds: [0, DELAY_MAX_S],
  ReceiveMessageWaitTimeSeconds: [0, 20],
  KmsDataKeyReusePeriodSeconds: [60, 86_400],
};

/** Text attributes: stored as given (after their own checks). */
const TEXTS: ReadonlySet<string> = new Set(['Policy', 'RedrivePolicy', 'RedriveAllowPolicy', 'KmsMasterKeyId', 'SqsManagedSseEnabled']);

/** FIFO queues' attributes: the FIFO work validates and serves them through fifoAttributes. */
export const FIFO_ATTRIBUTES: readonly string[] = ['FifoQueue', 'ContentBasedDeduplication', 'DeduplicationScope', 'FifoThroughputLimit'];

/**
 * The hook for FIFO queues' attributes: undefined leaves them unknown (InvalidAttributeName,
 * as AWS answers them for a standard queue); set, it returns the normalized value or throws.
 */
export const fifoAttributes: { validate?: (name: string, value: string, queueName: string) => string } = {};

/** Attributes GetQueueAttributes computes (never set). */
export const COMPUTED_ATTRIBUTES: readonly string[] = [
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'ApproximateNumberOfMessagesDelayed',
  'CreatedTimestamp',
  'LastModifiedTimestamp',
  'QueueArn',
];

/** Every name GetQueueAttributes knows (those not set on a queue are left out of its answer). */
export const KNOWN_ATTRIBUTES: ReadonlySet<string> = new Set([...Object.keys(RANGES), ...TEXTS, ...FIFO_ATTRIBUTES, ...COMPUTED_ATTRIBUTES]);

/** What checking a RedrivePolicy needs to know about other queues. */
export interface RedriveEnv {
  /** The queue being created or changed. */
  readonly queueName: string;
  arnOf(name: string): string;
  /** The queue an ARN names in this account and vhost. */
  queueByArn(arn: string): Queue | undefined;
}

export interface RedrivePolicy {
  readonly deadLetterTargetArn: string;
  readonly maxReceiveCount: number;
}

const invalidValue = (name: string): AwsError => new AwsError('InvalidAttributeValue', `Invalid value for the parameter ${name}.`);
const invalidPolicy = (name: string, raw: string, reason: string): AwsError =>
  new AwsError('InvalidParameterValue', `Value ${raw} for parameter ${name} is invalid. Reason: ${reason}`);
/** AWS's answer to a policy that is not even of the right shape (no "Value ..." prefix). */
const malformed = (name: string, reason: string): AwsError => new AwsError('InvalidAttributeValue', `Invalid value for the parameter ${name}. Reason: ${reason}`);
// (AWS's text, with its typographic apostrophe in "it’s".)
const UNSUPPORTED_ALLOW_POLICY = "Amazon SQS can't create the redrive allow policy, as it\u2019s in an unsupported format.";

/** Attributes as CreateQueue and SetQueueAttributes take them, checked and normalized; "" clears a text attribute. */
export function validateAttributes(raw: Record<string, unknown>, env: RedriveEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(raw)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw invalidValue(name);
    const value = String(v);
    if (FIFO_ATTRIBUTES.includes(name) && fifoAttributes.validate) {
      out[name] = fifoAttributes.validate(name, value, env.queueName);
      continue;
    }
    const range = RANGES[name];
    if (range) {
      const n = /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
      if (!Number.isInteger(n) || n < range[0] || n > range[1]) throw invalidValue(name);
      out[name] = String(n);
    } else if (TEXTS.has(name)) {
      out[name] = value === '' ? '' : checkText(name, value, env);
    } else {
      throw new AwsError('InvalidAttributeName', `Unknown Attribute ${name}.`);
    }
  }
  if (out.SqsManagedSseEnabled === 'true' && out.KmsMasterKeyId) {
    // AWS's code here is InvalidAttributeName (LocalStack's snapshot of AWS).
    throw new AwsError('InvalidAttributeName', 'You can use one type of server-side encryption (SSE) at one time. You can either enable KMS SSE or SQS SSE.');
  }
  return out;
}

function checkText(name: string, value: string, env: RedriveEnv): string {
  switch (name) {
    case 'RedrivePolicy':
      return JSON.stringify(parseRedrivePolicy(value, env));
    case 'RedriveAllowPolicy':
      return checkRedriveAllowPolicy(value);
    case 'Policy':
      if (!isJsonObject(value)) throw invalidPolicy('Policy', value, 'Policy is not a valid JSON document.');
      return value;
    case 'SqsManagedSseEnabled':
      if (value !== 'true' && value !== 'false') throw invalidValue(name);
      return value;
    default:
      // KmsMasterKeyId: an alias, key id or ARN; kept, not used (Wharf does not encrypt).
      if (value.length > 2048) throw invalidValue(name);
      return value;
  }
}

/** A RedrivePolicy's JSON, checked as AWS does, its DLQ existing and allowing this queue. */
export function parseRedrivePolicy(raw: string, env: RedriveEnv): RedrivePolicy {
  const v = parseJson(raw);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw malformed('RedrivePolicy', 'Redrive policy is not a valid JSON map.');
  const o = v as Record<string, unknown>;
  // AWS's order of checks (and texts): maxReceiveCount, then deadLetterTargetArn.
  if (o.maxReceiveCount === undefined) throw invalidPolicy('RedrivePolicy', raw, 'Redrive policy does not contain mandatory attribute: maxReceiveCount.');
  if (o.deadLetterTargetArn === undefined) throw invalidPolicy('RedrivePolicy', raw, 'Redrive policy does not contain mandatory attribute: deadLetterTargetArn.');
  const count = typeof o.maxReceiveCount === 'number' || typeof o.maxReceiveCount === 'string' ? Number(o.maxReceiveCount) : NaN;
  if (!Number.isInteger(count) || count < 1 || count > 1000) {
    throw invalidPolicy('RedrivePolicy', raw, `Invalid value for maxReceiveCount: ${String(o.maxReceiveCount)}, valid values are from 1 to 1000 both inclusive.`);
  }
  const arn = o.deadLetterTargetArn;
  if (typeof arn !== 'string' || !/^arn:aws:sqs:[^:]*:\d{12}:[^:]+$/.test(arn)) throw invalidPolicy('RedrivePolicy', raw, 'Only SQS queues are valid resources for deadLetterTargetArn.');
  for (const k of Object.keys(o)) {
    if (k !== 'deadLetterTargetArn' && k !== 'maxReceiveCount') throw invalidPolicy('RedrivePolicy', raw, 'Only following attributes are supported: [maxReceiveCount, deadLetterTargetArn].');
  }
  // (AWS's text, its two full stops included.)
  if (arn.endsWith('.fifo') !== env.queueName.endsWith('.fifo')) throw invalidPolicy('RedrivePolicy', raw, 'Dead-letter queue must be same type of queue as the source..');
  const dlq = env.queueByArn(arn);
  if (!dlq) throw invalidPolicy('RedrivePolicy', raw, 'Dead letter target does not exist.');
  // The broker drops a message dead-lettered into the queue it died in (RabbitMQ's cycle rule).
  if (dlq.name === env.queueName) throw invalidPolicy('RedrivePolicy', raw, 'Dead-letter target cannot be the source queue itself.');
  const allow = storedAttributes(dlq).RedriveAllowPolicy;
  if (allow && !allows(allow, env.arnOf(env.queueName))) {
    throw invalidPolicy('RedrivePolicy', raw, `Queue ${arn} does not allow this queue to use it as a dead-letter queue.`);
  }
  return { deadLetterTargetArn: arn, maxReceiveCount: count };
}

/** RedriveAllowPolicy: {"redrivePermission": "allowAll" | "denyAll" | "byQueue", "sourceQueueArns": [1-10 ARNs] with byQueue only}. */
function checkRedriveAllowPolicy(raw: string): string {
  const bad = (reason: string): AwsError => invalidPolicy('RedriveAllowPolicy', raw, `Amazon SQS can't create the redrive allow policy. ${reason}`);
  const unsupported = malformed('RedriveAllowPolicy', UNSUPPORTED_ALLOW_POLICY);
  const v = parseJson(raw);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw unsupported;
  const o = v as Record<string, unknown>;
  const permission = o.redrivePermission;
  if (permission !== 'allowAll' && permission !== 'denyAll' && permission !== 'byQueue') throw unsupported;
  if (Object.keys(o).some((k) => k !== 'redrivePermission' && k !== 'sourceQueueArns')) throw unsupported;
  const arns = o.sourceQueueArns;
  if (arns !== undefined && (!Array.isArray(arns) || !arns.every((a) => typeof a === 'string'))) throw unsupported;
  const count = arns === undefined ? 0 : (arns as string[]).length;
  if (permission === 'byQueue' && count === 0) throw bad('When you specify the byQueue permission type, you must also specify one or more sourceQueueArns values.');
  if (permission !== 'byQueue' && count > 0) throw bad('To specify one or more source queue ARNs, you must set redrivePermission to byQueue.');
  if (count > 10) throw bad('The maximum number of source queue ARNs you can specify is 10.');
  // Returned as given (AWS keeps the text).
  return raw;
}

/** Whether a DLQ's RedriveAllowPolicy lets the queue with this ARN use it. */
function allows(policy: string, sourceArn: string): boolean {
  const o = parseJson(policy) as { redrivePermission?: string; sourceQueueArns?: string[] } | undefined;
  if (!o || o.redrivePermission === 'allowAll') return true;
  if (o.redrivePermission === 'denyAll') return false;
  return (o.sourceQueueArns ?? []).includes(sourceArn);
}

/** A queue's stored SQS attributes (and timestamps); {} for a queue declared through AMQP. */
/** The header holding a message's send time in ms (SentTimestamp; AMQP's timestamp property has seconds only). */
export const SENT_TIMESTAMP_HEADER = 'x-sqs-sent-timestamp';

/** Parsed x-sqs-attributes by the argument's text: every send and receive reads them, the text rarely changes. */
const parsedAttributes = new Map<string, Readonly<Record<string, string>>>();
const PARSED_ATTRIBUTES_MAX = 1024;

export function storedAttributes(q: Queue): Record<string, string> {
  const raw = q.args[SQS_ATTRIBUTES_ARG];
  if (typeof raw !== 'string') return {};
  let parsed = parsedAttributes.get(raw);
  if (parsed === undefined) {
    parsed = Object.freeze(jsonArg(raw));
    if (parsedAttributes.size >= PARSED_ATTRIBUTES_MAX) parsedAttributes.clear();
    parsedAttributes.set(raw, parsed);
  }
  // A copy: callers add to what they get.
  return { ...parsed };
}

export function storedTags(q: Queue): Record<string, string> {
  return jsonArg(q.args[SQS_TAGS_ARG]);
}

/** The queue's RedrivePolicy, if it has one. */
export function redrivePolicyOf(q: Queue): RedrivePolicy | undefined {
  const raw = storedAttributes(q).RedrivePolicy;
  return raw ? (parseJson(raw) as RedrivePolicy | undefined) : undefined;
}

/** The name of the queue an SQS ARN names (in `account`), if well formed. */
export function nameFromArn(arn: string, account: string): string | undefined {
  const m = /^arn:aws:sqs:[^:]*:(\d{12}):([^:]+)$/.exec(arn);
  return m && m[1] === account ? m[2] : undefined;
}

/**
 * The AMQP queue's arguments for these SQS attributes and tags: its other arguments kept,
 * those derived from SQS attributes replaced.
 */
export function queueArgs(base: Args, attrs: Readonly<Record<string, string>>, tags: Readonly<Record<string, string>>, dlqName: string | undefined): Args {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(base)) if (!DERIVED_ARGS.includes(k)) out[k] = v;
  out[SQS_ATTRIBUTES_ARG] = JSON.stringify(attrs);
  if (Object.keys(tags).length > 0) out[SQS_TAGS_ARG] = JSON.stringify(tags);
  // Messages older than the retention period are deleted: a TTL from the send.
  out['x-message-ttl'] = Number(attrs.MessageRetentionPeriod ?? DEFAULT_ATTRIBUTES.MessageRetentionPeriod) * 1000;
  const redrive = attrs.RedrivePolicy ? (parseJson(attrs.RedrivePolicy) as RedrivePolicy) : undefined;
  if (redrive && dlqName !== undefined) {
    // maxReceiveCount receives, then the DLQ: the broker dead-letters a message returned more
    // than x-delivery-limit times, so a limit of maxReceiveCount - 1 moves it when the lease of
    // its maxReceiveCount-th receive ends. Expired messages are deleted, not dead-lettered (as SQS).
    out['x-dead-letter-exchange'] = '';
    out['x-dead-letter-routing-key'] = dlqName;
    out['x-delivery-limit'] = redrive.maxReceiveCount - 1;
    out['x-dead-letter-reasons'] = 'delivery_limit';
  }
  return out;
}

const DERIVED_ARGS: readonly string[] = [
  SQS_ATTRIBUTES_ARG,
  SQS_TAGS_ARG,
  'x-message-ttl',
  'x-dead-letter-exchange',
  'x-dead-letter-routing-key',
  'x-delivery-limit',
  'x-dead-letter-reasons',
];

function jsonArg(raw: unknown): Record<string, string> {
  const text = Buffer.isBuffer(raw) ? raw.toString('utf8') : raw;
  if (typeof text !== 'string') return {};
  const v = parseJson(text);
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, string>) : {};
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isJsonObject(text: string): boolean {
  const v = parseJson(text);
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
