// Field tables and arrays with RabbitMQ's type letters (the 0-9-1 errata
// table): t b B s u I i l f d D S A T F V x. Plain JS values map to the
// natural letter; Decimal, Timestamp and TypedNumber keep a wire type that a
// plain number would lose, so tables survive a decode/encode round trip.

import { AmqpProtocolError } from './errors.js';
import { Reader, encodeExact, syntaxError, writeLongLong, writeShortStr, SHORTSTR_MAX_BYTES } from './primitives.js';

export type FieldValue =
  | boolean
  | number
  | bigint
  | string
  | Buffer
  | null
  | FieldValue[]
  | FieldTable
  | Decimal
  | Timestamp
  | TypedNumber;

export interface FieldTable {
  [key: string]: FieldValue;
}

/** 'D': value / 10^scale. */
export class Decimal {
  constructor(
    readonly scale: number,
    readonly value: number,
  ) {}
}

/** 'T': POSIX time in seconds. */
export class Timestamp {
  constructor(readonly seconds: number) {}
}

export type TypedNumberType = 'int8' | 'uint8' | 'int16' | 'uint16' | 'uint32' | 'float';

/** A number whose wire type is not the one a plain number would be encoded as. */
export class TypedNumber {
  constructor(
    readonly type: TypedNumberType,
    readonly value: number,
  ) {}
}

/** Deeper nesting is refused so a small hostile frame cannot exhaust the stack. */
export const FIELD_NESTING_MAX = 64;

const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;
const TWO_POW_32 = 4294967296;

// ---- decoding --------------------------------------------------------------

/** Decodes the table whose 4-byte length is at `offset`. Throws AmqpProtocolError 502 on bad input. */
export function decodeTable(buf: Buffer, offset: number): { value: FieldTable; next: number } {
  const r = new Reader(buf, offset);
  const value = readTable(r, 0);
  return { value, next: r.pos };
}

/** Reads a table at the reader's position (used by generated method decoders). */
export function readTable(r: Reader, depth: number): FieldTable {
  const len = r.u32();
  const start = r.need(len, 'field table');
  const outerEnd = r.end;
  r.pos = start;
  r.end = start + len;
  const table: FieldTable = {};
  while (r.pos < r.end) {
    const key = r.shortstr();
    const value = readValue(r, depth);
    if (key === '__proto__') {
      // A plain assignment would replace the object's prototype.
      Object.defineProperty(table, key, { value, enumerable: true, writable: true, configurable: true });
    } else {
      table[key] = value;
    }
  }
  r.end = outerEnd;
  return table;
}

function readArray(r: Reader, depth: number): FieldValue[] {
  const len = r.u32();
  const start = r.need(len, 'field array');
  const outerEnd = r.end;
  r.pos = start;
  r.end = start + len;
  const values: FieldValue[] = [];
  while (r.pos < r.end) values.push(readValue(r, depth));
  r.end = outerEnd;
  return values;
}

function readValue(r: Reader, depth: number): FieldValue {
  const at = r.pos;
  const type = r.u8();
  switch (type) {
    case 0x74: // t
      return r.u8() !== 0;
    case 0x62: // b
      return new TypedNumber('int8', r.i8());
    case 0x42: // B
      return new TypedNumber('uint8', r.u8());
    case 0x73: // s
      return new TypedNumber('int16', r.i16());
    case 0x75: // u
      return new TypedNumber('uint16', r.u16());
    case 0x49: // I
      return r.i32();
    case 0x69: // i
      return new TypedNumber('uint32', r.u32());
    case 0x6c: // l
      return r.i64();
    case 0x66: // f
      return new TypedNumber('float', r.f32());
    case 0x64: // d
      return r.f64();
    case 0x44: {
      // D: scale octet, then an unsigned long (RabbitMQ's decimal)
      const scale = r.u8();
      return new Decimal(scale, r.u32());
    }
    case 0x53: // S
      return r.longstr();
    case 0x78: // x
      return r.longstrBytes();
    case 0x54: // T
      return new Timestamp(r.u64Lossy());
    case 0x56: // V
      return null;
    case 0x41: // A
      if (depth >= FIELD_NESTING_MAX) throw nestingError();
      return readArray(r, depth + 1);
    case 0x46: // F
      if (depth >= FIELD_NESTING_MAX) throw nestingError();
      return readTable(r, depth + 1);
    default:
      throw syntaxError(`unknown field value type 0x${type.toString(16).padStart(2, '0')} at offset ${at}`);
  }
}

function nestingError(): AmqpProtocolError {
  return syntaxError(`field tables and arrays nested deeper than ${FIELD_NESTING_MAX} levels`);
}

// ---- encoding --------------------------------------------------------------

/** The encoded table, length prefix included. */
export function encodeTable(t: FieldTable): Buffer {
  return encodeExact(tableMaxBytes(t), (b, o) => writeTable(b, o, t));
}

/** Upper bound of the encoded size of a table, length prefix included. Undefined is an empty table. */
export function tableMaxBytes(t: FieldTable | undefined): number {
  let n = 4;
  if (t === undefined || t === null) return n;
  for (const key of Object.keys(t)) n += SHORTSTR_MAX_BYTES + valueMaxBytes(t[key]);
  return n;
}

function valueMaxBytes(v: FieldValue | undefined): number {
  switch (typeof v) {
    case 'boolean':
      return 2;
    case 'number':
    case 'bigint':
      return 9;
    case 'string':
      return 5 + v.length * 3;
    case 'object':
      if (v === null) return 1;
      if (v instanceof Uint8Array) return 5 + v.length;
      if (Array.isArray(v)) {
        let n = 5;
        for (const item of v) n += valueMaxBytes(item);
        return n;
      }
      if (v instanceof Decimal) return 6;
      if (v instanceof Timestamp) return 9;
      if (v instanceof TypedNumber) return 9;
      return 1 + tableMaxBytes(v);
    default:
      return 1; // undefined encodes as void; anything else fails in writeValue
  }
}

/** Writes a table (with its length prefix) at `o`; the caller guarantees tableMaxBytes(t) of room. */
export function writeTable(b: Buffer, o: number, t: FieldTable | undefined): number {
  const start = o;
  o += 4;
  if (t !== undefined && t !== null) {
    for (const key of Object.keys(t)) {
      o = writeShortStr(b, o, key);
      o = writeValue(b, o, t[key]);
    }
  }
  b.writeUInt32BE(o - start - 4, start);
  return o;
}

function writeValue(b: Buffer, o: number, v: FieldValue | undefined): number {
  switch (typeof v) {
    case 'boolean':
      b[o] = 0x74;
      b[o + 1] = v ? 1 : 0;
      return o + 2;
    case 'number':
      return writeNumber(b, o, v);
    case 'bigint':
      b[o] = 0x6c;
      return b.writeBigInt64BE(v, o + 1);
    case 'string': {
      b[o] = 0x53;
      const n = b.write(v, o + 5, 'utf8');
      b.writeUInt32BE(n, o + 1);
      return o + 5 + n;
    }
    case 'undefined':
      b[o] = 0x56;
      return o + 1;
    case 'object':
      return writeObject(b, o, v);
    default:
      throw new TypeError(`cannot encode a ${typeof v} in an AMQP field table`);
  }
}

function writeNumber(b: Buffer, o: number, v: number): number {
  if (Number.isInteger(v) && !Object.is(v, -0)) {
    if (v >= INT32_MIN && v <= INT32_MAX) {
      b[o] = 0x49; // I
      return b.writeInt32BE(v, o + 1);
    }
    if (Number.isSafeInteger(v)) {
      b[o] = 0x6c; // l
      const high = Math.floor(v / TWO_POW_32);
      b.writeInt32BE(high, o + 1);
      return b.writeUInt32BE(v - high * TWO_POW_32, o + 5);
    }
  }
  b[o] = 0x64; // d
  return b.writeDoubleBE(v, o + 1);
}

function writeObject(b: Buffer, o: number, v: object | null): number {
  if (v === null) {
    b[o] = 0x56; // V
    return o + 1;
  }
  if (v instanceof Uint8Array) {
    b[o] = 0x78; // x
    b.writeUInt32BE(v.length, o + 1);
    b.set(v, o + 5);
    return o + 5 + v.length;
  }
  if (Array.isArray(v)) {
    b[o] = 0x41; // A
    const start = o + 1;
    o = start + 4;
    for (const item of v as FieldValue[]) o = writeValue(b, o, item);
    b.writeUInt32BE(o - start - 4, start);
    return o;
  }
  if (v instanceof Decimal) {
    b[o] = 0x44; // D
    b[o + 1] = v.scale;
    return b.writeUInt32BE(v.value, o + 2);
  }
  if (v instanceof Timestamp) {
    b[o] = 0x54; // T
    return writeLongLong(b, o + 1, v.seconds);
  }
  if (v instanceof TypedNumber) return writeTyped(b, o, v);
  b[o] = 0x46; // F
  return writeTable(b, o + 1, v as FieldTable);
}

function writeTyped(b: Buffer, o: number, v: TypedNumber): number {
  switch (v.type) {
    case 'int8':
      b[o] = 0x62;
      return b.writeInt8(v.value, o + 1);
    case 'uint8':
      b[o] = 0x42;
      return b.writeUInt8(v.value, o + 1);
    case 'int16':
      b[o] = 0x73;
      return b.writeInt16BE(v.value, o + 1);
    case 'uint16':
      b[o] = 0x75;
      return b.writeUInt16BE(v.value, o + 1);
    case 'uint32':
      b[o] = 0x69;
      return b.writeUInt32BE(v.value, o + 1);
    case 'float':
      b[o] = 0x66;
      return b.writeFloatBE(v.value, o + 1);
    default:
      throw new TypeError(`unknown TypedNumber type '${String((v as TypedNumber).type)}'`);
  }
}

/** The numeric value of a number, bigint or TypedNumber (for reading x-arguments); else undefined. */
export function fieldNumber(v: FieldValue | undefined): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof TypedNumber) return v.value;
  return undefined;
}
