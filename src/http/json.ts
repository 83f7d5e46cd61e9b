// Conversions between the broker's AMQP field values and JSON, as RabbitMQ's
// management API shows them (arguments, headers) and reads them (PUT bodies).

import { Decimal, Timestamp, TypedNumber } from '../protocol/amqp/index.js';

/** A decoded field value (arguments, headers) as plain JSON. */
export function fieldToJson(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v !== 'object') return v;
  if (v instanceof TypedNumber) return v.value;
  if (v instanceof Timestamp) return v.seconds;
  if (v instanceof Decimal) return v.value / 10 ** v.scale;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (Array.isArray(v)) return v.map(fieldToJson);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = fieldToJson(x);
  return out;
}

export function argsToJson(args: Record<string, unknown>): Record<string, unknown> {
  return fieldToJson(args) as Record<string, unknown>;
}

/** JSON arguments from a request body as broker field values (plain JSON values are valid ones). */
export function argsFromJson(v: unknown, what = 'arguments'): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new TypeError(`${what} must be an object`);
  return v as Record<string, unknown>;
}
