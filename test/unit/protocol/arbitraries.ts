// fast-check generators for AMQP values, shared by the protocol unit tests and
// the fuzz tests. Method generators are driven by the generated METHOD_FIELDS,
// so every method of the spec is covered without listing them here.

import fc from 'fast-check';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  Decimal,
  METHOD_FIELDS,
  METHOD_NAMES,
  Timestamp,
  TypedNumber,
  type BasicProperties,
  type FieldTable,
  type FieldValue,
  type Method,
  type MethodField,
  type MethodName,
} from '../../../src/protocol/amqp/index.js';

const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

export const uint32 = fc.oneof(
  fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xffffffff),
  fc.tuple(fc.nat(0xffff), fc.nat(0xffff)).map(([high, low]) => high * 0x10000 + low),
);

export const shortstr: fc.Arbitrary<string> = fc
  .oneof(
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.nat(255).map((n) => 'k'.repeat(n)),
    fc.nat(127).map((n) => 'é'.repeat(n)), // 2 bytes each: up to 254 bytes
  )
  .filter((s) => utf8Bytes(s) <= 255);

export const longstr = fc.string({ unit: 'grapheme', maxLength: 300 });
export const bytes = fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u));
const key = fc.string({ unit: 'grapheme', maxLength: 20 }).filter((s) => utf8Bytes(s) <= 255);

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Builds a table like a decoder would, so '__proto__' stays an own key. */
export function toTable(entries: [string, FieldValue][]): FieldTable {
  const t: FieldTable = {};
  for (const [k, v] of entries) Object.defineProperty(t, k, { value: v, enumerable: true, writable: true, configurable: true });
  return t;
}

/** Values whose encoding is chosen so decoding gives back an equal value. */
const leafValue: fc.Arbitrary<FieldValue> = fc.oneof(
  fc.boolean(),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.double(),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).filter((b) => b < MIN_SAFE || b > MAX_SAFE),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  bytes,
  fc.constant(null),
  fc.tuple(fc.nat(255), uint32).map(([scale, value]) => new Decimal(scale, value)),
  fc.maxSafeNat().map((s) => new Timestamp(s)),
  fc.integer({ min: -128, max: 127 }).map((v) => new TypedNumber('int8', v)),
  fc.nat(255).map((v) => new TypedNumber('uint8', v)),
  fc.integer({ min: -32768, max: 32767 }).map((v) => new TypedNumber('int16', v)),
  fc.nat(65535).map((v) => new TypedNumber('uint16', v)),
  uint32.map((v) => new TypedNumber('uint32', v)),
  fc.float().map((v) => new TypedNumber('float', v)),
);

/** Field tables using every type letter, nested. */
export const fieldTable: fc.Arbitrary<FieldTable> = fc.letrec<{ value: FieldValue; array: FieldValue[]; table: FieldTable }>(
  (tie) => ({
    value: fc.oneof({ depthSize: 'small' }, leafValue, tie('array'), tie('table')),
    array: fc.array(tie('value'), { maxLength: 4 }),
    table: fc.array(fc.tuple(key, tie('value')), { maxLength: 5 }).map(toTable),
  }),
).table;

/** Tables whose encoding amqplib produces identically (it picks other letters for numbers). */
export const simpleTable: fc.Arbitrary<FieldTable> = fc.letrec<{ value: FieldValue; table: FieldTable }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.boolean(),
    fc.string({ maxLength: 20 }),
    fc.constant(null),
    bytes,
    fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
    tie('table'),
  ),
  // amqplib reads a '!' key as its type annotation, so leave it out.
  table: fc.dictionary(fc.string({ maxLength: 10 }).filter((k) => k !== '!'), tie('value'), { maxKeys: 4, noNullPrototype: true }),
})).table;

function fieldArbitrary(f: MethodField, table: fc.Arbitrary<FieldTable>): fc.Arbitrary<unknown> {
  switch (f.type) {
    case 'bit':
      return fc.boolean();
    case 'octet':
      return fc.nat(255);
    case 'short':
      return fc.nat(65535);
    case 'long':
      return uint32;
    case 'longlong':
    case 'timestamp':
      return fc.oneof(fc.constantFrom(0, Number.MAX_SAFE_INTEGER), fc.maxSafeNat());
    case 'shortstr':
      return shortstr;
    case 'longstr':
      return f.bytes ? bytes : longstr;
    case 'table':
      return table;
  }
}

/** Any value of one method, every field drawn from its wire type's full range. */
export function methodArbitrary(name: MethodName, table: fc.Arbitrary<FieldTable> = fieldTable): fc.Arbitrary<Method> {
  const fields: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of METHOD_FIELDS[name]) fields[f.name] = fieldArbitrary(f, table);
  return fc.record(fields, { noNullPrototype: true }).map((values) => ({ name, ...values }) as Method);
}

export const anyMethod: fc.Arbitrary<Method> = fc.constantFrom(...METHOD_NAMES).chain((name) => methodArbitrary(name));

export function basicPropertiesArbitrary(table: fc.Arbitrary<FieldTable> = fieldTable): fc.Arbitrary<BasicProperties> {
  const octet = fc.nat(255);
  const timestamp = fc.maxSafeNat();
  return fc.record(
    {
      contentType: shortstr,
      contentEncoding: shortstr,
      headers: table,
      deliveryMode: octet,
      priority: octet,
      correlationId: shortstr,
      replyTo: shortstr,
      expiration: shortstr,
      messageId: shortstr,
      timestamp,
      type: shortstr,
      userId: shortstr,
      appId: shortstr,
      clusterId: shortstr,
    },
    { requiredKeys: [], noNullPrototype: true },
  );
}

/** amqplib's generated codec (lib/defs.js), an independent implementation to compare bytes with. */
export interface AmqplibDefs {
  encodeMethod(id: number, channel: number, fields: Record<string, unknown>): Buffer;
  encodeProperties(id: number, channel: number, size: number, fields: Record<string, unknown>): Buffer;
  decode(id: number, buf: Buffer): Record<string, unknown>;
}

export function loadAmqplibDefs(): AmqplibDefs {
  const require = createRequire(import.meta.url);
  // The package's "exports" hide lib/, so resolve it next to the main entry.
  return require(join(dirname(require.resolve('amqplib')), 'lib', 'defs.js')) as AmqplibDefs;
}

/** A whole frame: type, channel, size, payload, end byte. */
export function frame(type: number, channel: number, payload: Buffer, end = 0xce): Buffer {
  const head = Buffer.alloc(7);
  head[0] = type;
  head.writeUInt16BE(channel, 1);
  head.writeUInt32BE(payload.length, 3);
  return Buffer.concat([head, payload, Buffer.from([end])]);
}
