// Queue arguments (x-args of queue.declare): parsed once into a typed config and
// validated as RabbitMQ validates them, so a bad value is a 406 naming the argument
// instead of a queue that silently ignores it.

import { preconditionFailed } from '../errors.js';
import type { Args } from '../message.js';
import type { DeathReason } from './queue.js';
import { parseDedupArgs, type DedupConfig } from './dedup.js';
import { fieldTypeName } from '../field-types.js';
import { TypedNumber } from '../../protocol/amqp/content.js';

export type Overflow = 'drop-head' | 'reject-publish' | 'reject-publish-dlx';

/** What a consumer timeout does: RabbitMQ closes the channel; SQS-style only requeues the late message. */
export type ConsumerTimeoutMode = 'close-channel' | 'requeue';

export interface QueueConfig {
  readonly queueType: 'classic' | 'quorum';
  /** x-message-ttl (ms); undefined for none. */
  readonly messageTtl: number | undefined;
  /** x-expires (ms): the queue is deleted after being unused this long. */
  readonly expires: number | undefined;
  readonly maxLength: number | undefined;
  readonly maxLengthBytes: number | undefined;
  readonly overflow: Overflow;
  readonly deadLetterExchange: string | undefined;
  readonly deadLetterRoutingKey: string | undefined;
  /** x-dead-letter-reasons (a Wharf extension): only these deaths are dead-lettered, the others dropped; undefined for all. */
  readonly deadLetterReasons: readonly DeathReason[] | undefined;
  /** x-max-priority: 0 means a plain FIFO queue. */
  readonly maxPriority: number;
  /** x-delivery-limit: returns allowed before a message is dead-lettered. */
  readonly deliveryLimit: number | undefined;
  readonly singleActiveConsumer: boolean;
  /** x-consumer-timeout (ms); undefined: the broker-wide default. */
  readonly consumerTimeout: number | undefined;
  readonly consumerTimeoutMode: ConsumerTimeoutMode;
  /** x-message-deduplication with its window and cache size (dedup.ts); undefined when off. */
  readonly dedup: DedupConfig | undefined;
  /**
   * x-message-group-header: the message header naming a message's group (groups.ts); a
   * group's messages are delivered in order, one delivery in flight at a time. Undefined: off.
   */
  readonly groupHeader: string | undefined;
}

export const DEFAULT_QUEUE_CONFIG: QueueConfig = {
  queueType: 'classic',
  messageTtl: undefined,
  expires: undefined,
  maxLength: undefined,
  maxLengthBytes: undefined,
  overflow: 'drop-head',
  deadLetterExchange: undefined,
  deadLetterRoutingKey: undefined,
  deadLetterReasons: undefined,
  maxPriority: 0,
  deliveryLimit: undefined,
  singleActiveConsumer: false,
  consumerTimeout: undefined,
  consumerTimeoutMode: 'close-channel',
  dedup: undefined,
  groupHeader: undefined,
};

/** RabbitMQ caps x-max-priority at 255. */
export const MAX_PRIORITY_LIMIT = 255;

/** The numeric value of an argument: number, bigint, or a wire-typed number ({ value }). */
export function argNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'object' && v !== null && typeof (v as { value?: unknown }).value === 'number' && !('scale' in v)) {
    return (v as { value: number }).value;
  }
  return undefined;
}

/** An argument as text (longstr arrives as a string, or as bytes from some clients). */
export function argString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return undefined;
}

interface Where {
  readonly queue: string;
  readonly vhost: string;
}

/**
 * Validates queue.declare arguments. Unknown x-arguments are kept and ignored, as
 * RabbitMQ does; known ones must have the right type and range.
 */
export function parseQueueArgs(args: Args, where: Where, o: { durable: boolean; exclusive: boolean }): QueueConfig {
  const bad = (name: string, why: string): Error =>
    preconditionFailed(`invalid arg '${name}' for queue '${where.queue}' in vhost '${where.vhost}': ${why}`);
  const int = (name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined => {
    const raw = args[name];
    if (raw === undefined || raw === null) return undefined;
    const n = argNumber(raw);
    if (n === undefined || !Number.isInteger(n)) throw bad(name, `{unacceptable_type,${describeType(raw)}}`);
    if (n < min) throw bad(name, n < 0 ? `{value_negative,${n}}` : `{value_zero,${n}}`);
    if (n > max) throw bad(name, `{value_too_large,${n},${max}}`);
    return n;
  };
  const str = (name: string): string | undefined => {
    const raw = args[name];
    if (raw === undefined || raw === null) return undefined;
    const s = argString(raw);
    if (s === undefined) throw bad(name, `{unacceptable_type,${describeType(raw)}}`);
    return s;
  };
  const oneOf = <T extends string>(name: string, values: readonly T[], dflt: T): T => {
    const s = str(name);
    if (s === undefined) return dflt;
    if (!(values as readonly string[]).includes(s)) {
      throw bad(name, `{unacceptable_value,<<"${s}">>} (expected one of ${values.join(', ')})`);
    }
    return s as T;
  };
  const bool = (name: string): boolean => {
    const raw = args[name];
    if (raw === undefined || raw === null) return false;
    if (typeof raw !== 'boolean') throw bad(name, `{unacceptable_type,${describeType(raw)}}`);
    return raw;
  };

  const queueType = queueTypeOf(args['x-queue-type'], bad);
  if (queueType === 'quorum') {
    // RabbitMQ's own texts for the properties a quorum queue cannot have.
    if (!o.durable) throw preconditionFailed(`invalid property 'non-durable' for queue '${where.queue}' in vhost '${where.vhost}'`);
    if (o.exclusive) throw preconditionFailed(`invalid property 'exclusive-declare' for queue '${where.queue}' in vhost '${where.vhost}'`);
  }
  const deadLetterExchange = str('x-dead-letter-exchange');
  const deadLetterRoutingKey = str('x-dead-letter-routing-key');
  if (deadLetterRoutingKey !== undefined && deadLetterExchange === undefined) {
    throw bad('x-dead-letter-routing-key', '{routing_key_but_no_dlx_defined}');
  }
  const deadLetterReasons = reasonsOf(str('x-dead-letter-reasons'), bad);
  // Accepted for compatibility; every Wharf queue pages to disk as a lazy queue would.
  oneOf('x-queue-mode', ['default', 'lazy'] as const, 'default');
  return {
    queueType,
    messageTtl: int('x-message-ttl', 0),
    expires: int('x-expires', 1),
    maxLength: int('x-max-length', 0),
    maxLengthBytes: int('x-max-length-bytes', 0),
    overflow: oneOf('x-overflow', ['drop-head', 'reject-publish', 'reject-publish-dlx'] as const, 'drop-head'),
    deadLetterExchange,
    deadLetterRoutingKey,
    deadLetterReasons,
    maxPriority: int('x-max-priority', 0, MAX_PRIORITY_LIMIT) ?? 0,
    deliveryLimit: queueType === 'quorum' ? quorumDeliveryLimit(int('x-delivery-limit', -1), undefined) : int('x-delivery-limit', 0),
    singleActiveConsumer: bool('x-single-active-consumer'),
    consumerTimeout: int('x-consumer-timeout', 1),
    consumerTimeoutMode: oneOf('x-consumer-timeout-mode', ['close-channel', 'requeue'] as const, 'close-channel'),
    dedup: parseDedupArgs(args, `queue '${where.queue}' in vhost '${where.vhost}'`),
    groupHeader: groupHeaderOf(str('x-message-group-header'), argNumber(args['x-max-priority']) ?? 0, bad),
  };
}

/** RabbitMQ 4.0's delivery limit for a quorum queue that sets none (rabbit_quorum_queue). */
export const QUORUM_DEFAULT_DELIVERY_LIMIT = 20;

/**
 * A quorum queue's delivery limit from its x-delivery-limit and its policies' delivery-limit, as
 * RabbitMQ 4 resolves them (rabbit_quorum_queue:resolve_delivery_limit): neither set is the
 * default of 20; a negative one on either side makes the larger win, so -1 means unlimited
 * (undefined here); otherwise the lower wins.
 */
export function quorumDeliveryLimit(arg: number | undefined, policy: number | undefined): number | undefined {
  let limit: number;
  if (arg === undefined && policy === undefined) limit = QUORUM_DEFAULT_DELIVERY_LIMIT;
  else if (arg === undefined || policy === undefined) limit = (arg ?? policy) as number;
  else limit = arg < 0 || policy < 0 ? Math.max(arg, policy) : Math.min(arg, policy);
  return limit < 0 ? undefined : limit;
}

const DEATH_REASONS: readonly DeathReason[] = ['rejected', 'expired', 'maxlen', 'delivery_limit'];

/** x-dead-letter-reasons: a comma-separated list of death reasons (SQS's redrive dead-letters delivery_limit only). */
function reasonsOf(s: string | undefined, bad: (name: string, why: string) => Error): readonly DeathReason[] | undefined {
  if (s === undefined) return undefined;
  const list = s.split(',').map((r) => r.trim());
  for (const r of list) {
    if (!(DEATH_REASONS as readonly string[]).includes(r)) throw bad('x-dead-letter-reasons', `{unacceptable_value,<<"${r}">>} (expected some of ${DEATH_REASONS.join(', ')})`);
  }
  return list as DeathReason[];
}

/**
 * x-queue-type of a classic or quorum queue, with RabbitMQ's texts. Stream queues never get here
 * (Vhost.declareQueue hands them to broker/stream/).
 */
function queueTypeOf(raw: unknown, bad: (name: string, why: string) => Error): 'classic' | 'quorum' {
  if (raw === undefined || raw === null) return 'classic';
  const s = argString(raw);
  if (s === undefined) throw bad('x-queue-type', `{unacceptable_type,${amqpTypeName(raw)}}`);
  if (s === 'classic' || s === 'quorum') return s;
  throw bad('x-queue-type', `"unsupported queue type '${s}'"`);
}

/** RabbitMQ's names of AMQP field types, for error texts. */
function describeType(v: unknown): string {
  if (typeof v === 'string' || Buffer.isBuffer(v)) return 'longstr';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'long' : 'double';
  if (typeof v === 'bigint') return 'long';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object' && v !== null) {
    if ('seconds' in v) return 'timestamp';
    if ('scale' in v) return 'decimal';
    if ('type' in v) return String((v as { type: unknown }).type);
    return 'table';
  }
  return typeof v;
}

/**
 * RabbitMQ's type name of an argument value (field-types.ts), also for values read back from
 * meta.json, where a wire-typed number is a plain { type, value } object, and for integers
 * beyond 32 bits (which came as a long).
 */
const WIRE_TYPES: readonly string[] = ['int8', 'uint8', 'int16', 'uint16', 'uint32', 'float'];

export function amqpTypeName(v: unknown): string {
  if (typeof v === 'number' && Number.isInteger(v) && (v < -0x80000000 || v > 0x7fffffff)) return 'long';
  if (v !== null && typeof v === 'object' && !(v instanceof TypedNumber) && !Buffer.isBuffer(v)) {
    const t = (v as { type?: unknown }).type;
    if (typeof t === 'string' && WIRE_TYPES.includes(t) && typeof (v as { value?: unknown }).value === 'number') {
      return fieldTypeName(new TypedNumber(t as TypedNumber['type'], (v as { value: number }).value));
    }
  }
  return fieldTypeName(v);
}

/** x-message-group-header: a header name; a group's order is its publish order, so not with priorities. */
function groupHeaderOf(header: string | undefined, maxPriority: number, bad: (name: string, why: string) => Error): string | undefined {
  if (header === '') throw bad('x-message-group-header', '{value_empty,<<"">>}');
  if (header !== undefined && maxPriority > 0) throw bad('x-message-group-header', '{incompatible_with,x-max-priority}');
  return header;
}
