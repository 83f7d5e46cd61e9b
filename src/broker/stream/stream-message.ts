// How a message crosses between AMQP and a stream's records (docs/streams.md, "AMQP and Kafka").
//
// AMQP publish -> record:
//   value     = the body
//   key       = the x-stream-key header (bytes as given, text as UTF-8), else the routing key
//               (an empty routing key is a null key)
//   timestamp = when the broker appended it (ms)
//   headers   = `x-amqp-content` first: the AMQP envelope (below), then one record header per
//               AMQP header, its value as text (see headerBytes) so Kafka clients can read it.
// The envelope keeps exactly what an AMQP consumer must get back: version 1 (u8), exchange and
// routing key (shortstr each: u8 length + UTF-8) and the basic properties as the publisher
// encoded them (flags + property list, headers table included, to the end of the value).
//
// Record -> AMQP delivery:
//   with an x-amqp-content header: exchange, routing key and properties from it (the other
//   record headers are ignored: they are its headers again, as text);
//   without (a Kafka producer's record): exchange '', routing key = the stream's name, headers =
//   the record headers (UTF-8 values as longstr, other bytes as byte arrays, null as void), the
//   key as x-stream-key, the timestamp property = the record timestamp in seconds.
//   Both get the x-stream-offset header (long): the record's offset.

import { isUtf8 } from 'node:buffer';
import { Decimal, Timestamp, TypedNumber, encodeProperties, withHeader, type FieldTable } from '../../protocol/amqp/content.js';
import type { KafkaRecord, RecordHeader, RecordSpec } from '../../protocol/kafka/record-batch.js';
import type { MessageContent, PublishInput } from '../message.js';

export const AMQP_CONTENT_HEADER = 'x-amqp-content';
export const KEY_HEADER = 'x-stream-key';
export const OFFSET_HEADER = 'x-stream-offset';
const ENVELOPE_VERSION = 1;
/** AMQP header names are shortstrs: longer record header keys cannot be carried. */
const SHORTSTR_MAX_BYTES = 255;

/** The record an AMQP publish becomes (its timestamp is the batch's, set when the batch is written). */
export function recordOf(input: PublishInput): RecordSpec {
  const route = routeBytes(input.exchange, input.routingKey);
  const headers: RecordHeader[] = [{ key: AMQP_CONTENT_HEADER, value: envelope(route.prefix, input.properties) }];
  let key = route.key;
  const h = input.headers;
  if (h !== undefined) {
    for (const name of Object.keys(h)) {
      const value = headerBytes(h[name]);
      if (name === KEY_HEADER && value !== null) key = value;
      headers.push({ key: name, value });
    }
  }
  return { key, value: input.body, headers };
}

interface RouteBytes {
  readonly exchange: string;
  readonly routingKey: string;
  /** The envelope up to the properties: version, exchange, routing key. */
  readonly prefix: Buffer;
  readonly key: Buffer | null;
}

/** Publishers mostly repeat one exchange and routing key: their bytes are encoded once (records only read them). */
let lastRoute: RouteBytes | undefined;

function routeBytes(exchange: string, routingKey: string): RouteBytes {
  const last = lastRoute;
  if (last !== undefined && last.exchange === exchange && last.routingKey === routingKey) return last;
  const ex = Buffer.from(exchange, 'utf8');
  const rk = Buffer.from(routingKey, 'utf8');
  const prefix = Buffer.alloc(3 + ex.length + rk.length);
  prefix[0] = ENVELOPE_VERSION;
  prefix[1] = ex.length;
  ex.copy(prefix, 2);
  prefix[2 + ex.length] = rk.length;
  rk.copy(prefix, 3 + ex.length);
  lastRoute = { exchange, routingKey, prefix, key: routingKey === '' ? null : rk };
  return lastRoute;
}

function envelope(prefix: Buffer, properties: Buffer): Buffer {
  const out = Buffer.allocUnsafe(prefix.length + properties.length);
  prefix.copy(out, 0);
  properties.copy(out, prefix.length);
  return out;
}

/** An AMQP header value as record header bytes: text as UTF-8, numbers in decimal, tables and arrays as JSON. */
function headerBytes(v: unknown): Buffer | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (Buffer.isBuffer(v)) return v;
  const j = jsonOf(v);
  return Buffer.from(typeof j === 'string' ? j : JSON.stringify(j), 'utf8');
}

/** A field value as JSON-able data (bigints beyond 2^53 and binaries as strings). */
function jsonOf(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof TypedNumber) return v.value;
  if (v instanceof Timestamp) return v.seconds;
  if (v instanceof Decimal) return v.value / 10 ** v.scale;
  if (Buffer.isBuffer(v)) return v.toString('base64');
  if (Array.isArray(v)) return v.map(jsonOf);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) out[k] = jsonOf((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

/** The AMQP delivery of a record of stream `stream`. */
export function deliveryOf(rec: KafkaRecord, stream: string): MessageContent {
  const offset = rec.offset;
  const first = rec.headers[0];
  if (first !== undefined && first.key === AMQP_CONTENT_HEADER && first.value !== null) {
    const own = fromEnvelope(first.value, rec.value, offset);
    if (own) return own;
  }
  const headers: FieldTable = {};
  for (const h of rec.headers) {
    if (Buffer.byteLength(h.key, 'utf8') > SHORTSTR_MAX_BYTES) continue;
    setField(headers, h.key, h.value === null ? null : textOrBytes(h.value));
  }
  if (rec.key !== null) setField(headers, KEY_HEADER, textOrBytes(rec.key));
  setField(headers, OFFSET_HEADER, offset);
  const ts = Number(rec.timestamp);
  const properties = encodeProperties(ts >= 0 ? { headers, timestamp: Math.floor(ts / 1000) } : { headers });
  return { exchange: '', routingKey: stream, properties, body: rec.value ?? Buffer.alloc(0) };
}

function fromEnvelope(env: Buffer, body: Buffer | null, offset: bigint): MessageContent | undefined {
  if (env.length < 3 || env[0] !== ENVELOPE_VERSION) return undefined;
  const rkAt = 2 + env[1];
  if (rkAt >= env.length) return undefined;
  const propsAt = rkAt + 1 + env[rkAt];
  if (propsAt > env.length) return undefined;
  const route = routeOf(env, rkAt, propsAt);
  return {
    exchange: route.exchange,
    routingKey: route.routingKey,
    properties: withHeader(env.subarray(propsAt), OFFSET_HEADER, offset),
    body: body ?? Buffer.alloc(0),
  };
}

/** Consecutive records mostly share exchange and routing key: decoded once while they repeat. */
let lastDecoded: RouteBytes | undefined;

function routeOf(env: Buffer, rkAt: number, propsAt: number): RouteBytes {
  const last = lastDecoded;
  if (last !== undefined && last.prefix.length === propsAt && env.compare(last.prefix, 0, propsAt, 0, propsAt) === 0) return last;
  const exchange = env.toString('utf8', 2, rkAt);
  const routingKey = env.toString('utf8', rkAt + 1, propsAt);
  lastDecoded = { exchange, routingKey, prefix: Buffer.from(env.subarray(0, propsAt)), key: null };
  return lastDecoded;
}

function textOrBytes(b: Buffer): string | Buffer {
  return isUtf8(b) ? b.toString('utf8') : b;
}

/** Record header keys come from anywhere: '__proto__' must be a key, not the table's prototype. */
function setField(t: FieldTable, key: string, value: FieldTable[string]): void {
  if (key === '__proto__') Object.defineProperty(t, key, { value, enumerable: true, writable: true, configurable: true });
  else t[key] = value;
}
