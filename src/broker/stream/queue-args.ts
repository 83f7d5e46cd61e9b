// RabbitMQ's stream queue arguments (queue.declare with x-queue-type: stream): validated as
// RabbitMQ 3.10 validates them, with its reply texts, and mapped onto the stream's topic configs
// (x-max-length-bytes -> retention.bytes, x-max-age -> retention.ms,
// x-stream-max-segment-size-bytes -> segment.bytes). Also the redeclare equivalence check, and
// RabbitMQ's duration strings ("7D", "12h"), which x-stream-offset uses too.

import { preconditionFailed, resourceLocked } from '../errors.js';
import type { Args } from '../message.js';
import { amqpTypeName, argNumber, argString } from '../queue/args.js';
import { Timestamp, TypedNumber } from '../../protocol/amqp/content.js';
import { RECORD_BYTES_MIN, SEGMENT_HEADER_BYTES } from '../../store/index.js';
import type { StreamStart } from './stream-consumer.js';

/** The x-queue-type value of a stream queue. */
export const STREAM_QUEUE_TYPE = 'stream';

/** RabbitMQ's name for the queue type in its error texts. */
const TYPE_NAME = 'rabbit_stream_queue';

/**
 * Arguments RabbitMQ 3.10 compares on redeclare of a stream queue, in its order (the first
 * mismatch is the one reported); others are neither checked nor compared.
 */
const EQUIVALENCE_KEYS = [
  'x-max-length-bytes',
  'x-queue-type',
  'x-max-age',
  'x-stream-max-segment-size-bytes',
  'x-initial-cluster-size',
  'x-queue-leader-locator',
] as const;

/** Arguments of other queue types that a stream queue refuses (RabbitMQ: "... of queue type rabbit_stream_queue"). */
const REFUSED_KEYS = [
  'x-expires',
  'x-message-ttl',
  'x-dead-letter-exchange',
  'x-dead-letter-routing-key',
  'x-max-length',
  'x-max-priority',
  'x-overflow',
  'x-queue-mode',
  'x-single-active-consumer',
  'x-queue-master-locator',
  'x-max-in-memory-length',
  'x-max-in-memory-bytes',
  'x-delivery-limit',
  'x-quorum-initial-group-size',
  'x-dead-letter-strategy',
] as const;

const LEADER_LOCATORS: readonly string[] = ['client-local', 'balanced', 'random', 'least-leaders'];

const DAY_MS = 24 * 60 * 60 * 1000;
/** RabbitMQ's units: a month is 30 days, a year 365. */
const UNIT_MS: Readonly<Record<string, number>> = { Y: 365 * DAY_MS, M: 30 * DAY_MS, D: DAY_MS, h: 3_600_000, m: 60_000, s: 1000 };

/**
 * A RabbitMQ duration ("7D", "12h", "30m", "10s", "1Y", "1M") in ms; undefined if it is not one.
 * Zero is not a duration (RabbitMQ: invalid_max_age).
 */
export function parseDuration(s: string): number | undefined {
  const m = /^(\d+)([YMDhms])$/.exec(s);
  if (!m) return undefined;
  const ms = Number(m[1]) * UNIT_MS[m[2]];
  // RabbitMQ takes any number of units; beyond 2^53 ms (285,000 years) it makes no difference.
  return ms > 0 ? Math.min(ms, Number.MAX_SAFE_INTEGER) : undefined;
}

export interface StreamQueueDeclare {
  readonly queue: string;
  readonly vhost: string;
  readonly durable: boolean;
  readonly exclusive: boolean;
  readonly autoDelete: boolean;
  readonly args: Args;
}

/** Is this declare one of a stream queue (x-queue-type: stream)? */
export function declaresStream(args: Args): boolean {
  return argString(args['x-queue-type']) === STREAM_QUEUE_TYPE;
}

/**
 * Validates a new stream queue's declare as RabbitMQ 3.10 does (argument types and values, then
 * arguments of other queue types, then the properties a stream cannot have) and returns its
 * topic configs. There is no age limit without x-max-age, as in RabbitMQ.
 */
export function streamConfigsOf(d: StreamQueueDeclare): Record<string, string> {
  const where = `queue '${d.queue}' in vhost '${d.vhost}'`;
  const bad = (name: string, why: string): Error => preconditionFailed(`invalid arg '${name}' for ${where}: ${why}`);
  const nonNegative = (name: string, min = 0): number | undefined => {
    const raw = d.args[name];
    if (raw === undefined) return undefined;
    const n = argNumber(raw);
    if (n === undefined || !Number.isInteger(n) || typeof raw === 'boolean') throw bad(name, `"expected integer, got ${amqpTypeName(raw)}"`);
    if (n < min) throw bad(name, n < 0 ? `{value_negative,${n}}` : `{value_zero,${n}}`);
    return n;
  };
  const maxLengthBytes = nonNegative('x-max-length-bytes');
  const maxAge = maxAgeOf(d.args['x-max-age'], (why) => bad('x-max-age', why));
  const segmentBytes = nonNegative('x-stream-max-segment-size-bytes');
  nonNegative('x-initial-cluster-size', 1);
  const locator = d.args['x-queue-leader-locator'];
  if (locator !== undefined) {
    const s = typeof locator === 'string' ? locator : undefined;
    if (s === undefined) throw bad('x-queue-leader-locator', `{unacceptable_type,${amqpTypeName(locator)}}`);
    if (!LEADER_LOCATORS.includes(s)) throw bad('x-queue-leader-locator', 'invalid_queue_locator_arg');
  }
  for (const key of REFUSED_KEYS) {
    if (d.args[key] !== undefined) throw preconditionFailed(`invalid arg '${key}' for ${where} of queue type ${TYPE_NAME}`);
  }
  // RabbitMQ's own texts for the properties a stream cannot have, in its order.
  if (d.autoDelete) throw preconditionFailed(`invalid property 'auto-delete' for ${where}`);
  if (d.exclusive) throw preconditionFailed(`invalid property 'exclusive-owner' for ${where}`);
  if (!d.durable) throw preconditionFailed(`invalid property 'non-durable' for ${where}`);
  const configs: Record<string, string> = { 'retention.ms': String(maxAge ?? -1) };
  if (maxLengthBytes !== undefined) configs['retention.bytes'] = String(maxLengthBytes);
  if (segmentBytes !== undefined) configs['segment.bytes'] = String(Math.max(segmentBytes, SEGMENT_BYTES_MIN));
  return configs;
}

/** RabbitMQ takes any segment size, 0 included; a log segment must hold its header and a record. */
export const SEGMENT_BYTES_MIN = SEGMENT_HEADER_BYTES + RECORD_BYTES_MIN;

function maxAgeOf(raw: unknown, bad: (why: string) => Error): number | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw bad(`{unacceptable_type,${amqpTypeName(raw)}}`);
  const ms = parseDuration(raw);
  // RabbitMQ 3.10 fails some malformed values with an internal error (541); all are this 406 here.
  if (ms === undefined) throw bad('invalid_max_age');
  return ms;
}

/**
 * Redeclare of an existing stream queue: RabbitMQ's assert_equivalence (exclusive access, durable,
 * auto_delete, then the stream's own arguments in their order). `current` are the arguments it
 * was declared with (a stream created by Kafka counts as declared with x-queue-type only).
 */
export function checkStreamEquivalent(d: StreamQueueDeclare, current: Args): void {
  const where = `queue '${d.queue}' in vhost '${d.vhost}'`;
  if (d.exclusive) {
    throw resourceLocked(
      `cannot obtain exclusive access to locked queue '${d.queue}' in vhost '${d.vhost}'. ` +
        `It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.`,
    );
  }
  if (!d.durable) throw preconditionFailed(`inequivalent arg 'durable' for ${where}: received 'false' but current is 'true'`);
  if (d.autoDelete) throw preconditionFailed(`inequivalent arg 'auto_delete' for ${where}: received 'true' but current is 'false'`);
  for (const key of EQUIVALENCE_KEYS) {
    const received = d.args[key];
    const now = current[key];
    if (received === undefined && now === undefined) continue;
    if (received !== undefined && now !== undefined) {
      if (sameValue(received, now)) continue;
      throw preconditionFailed(`inequivalent arg '${key}' for ${where}: received '${plain(received)}' but current is '${plain(now)}'`);
    }
    throw preconditionFailed(`inequivalent arg '${key}' for ${where}: received ${described(received)} but current is ${described(now)}`);
  }
}

/** RabbitMQ compares values of the same type class (any integer type with any other). */
function sameValue(a: unknown, b: unknown): boolean {
  const na = argNumber(a);
  const nb = argNumber(b);
  if (na !== undefined || nb !== undefined) return na === nb && typeof a !== 'boolean' && typeof b !== 'boolean';
  const sa = argString(a);
  const sb = argString(b);
  if (sa !== undefined || sb !== undefined) return sa === sb;
  return a === b;
}

function plain(v: unknown): string {
  return String(argNumber(v) ?? argString(v) ?? v);
}

function described(v: unknown): string {
  return v === undefined ? 'none' : `the value '${plain(v)}' of type '${amqpTypeName(v)}'`;
}

/**
 * basic.consume arguments on a stream queue: x-priority is refused (RabbitMQ 3.10), x-stream-offset
 * says where to start: "first", "last", "next" (the default), an offset (below the log start:
 * the first; past the end: waits for it), an AMQP timestamp (seconds), or a duration ("1h": that
 * long ago). RabbitMQ fails some malformed values with an internal error (541); all are 406 here.
 */
export function streamStartOf(args: Args, where: string, nowMs: number): StreamStart {
  if (args['x-priority'] !== undefined) throw preconditionFailed(`invalid arg 'x-priority' for ${where} of queue type ${TYPE_NAME}`);
  const v = args['x-stream-offset'];
  if (v === undefined || v === null) return { kind: 'next' };
  const bad = (): Error =>
    preconditionFailed(`invalid arg 'x-stream-offset' for ${where}: {invalid_stream_offset_arg,{${amqpTypeName(v)},${erlangTerm(v)}}}`);
  const text = argString(v);
  if (text !== undefined) {
    if (text === 'first' || text === 'last' || text === 'next') return { kind: text };
    const ago = parseDuration(text);
    if (ago === undefined) throw bad();
    return { kind: 'timestamp', ms: nowMs - ago };
  }
  if (v instanceof Timestamp) return { kind: 'timestamp', ms: v.seconds * 1000 };
  const isFloat = (typeof v === 'number' && !Number.isInteger(v)) || (v instanceof TypedNumber && v.type === 'float');
  const n = argNumber(v);
  if (n === undefined || isFloat || !Number.isSafeInteger(n)) throw bad();
  return { kind: 'offset', offset: n };
}

/** A value as Erlang prints it in RabbitMQ's error texts. */
function erlangTerm(v: unknown): string {
  const text = typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('latin1') : undefined;
  if (text !== undefined) return `<<"${text}">>`;
  return String(argNumber(v) ?? v);
}
