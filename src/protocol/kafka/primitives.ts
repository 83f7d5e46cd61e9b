// Kafka's primitive types (https://kafka.apache.org/protocol#protocol_types):
// fixed-width big-endian integers, (zigzag) varints, strings and byte arrays
// with int16/int32 or compact (unsigned varint, length + 1) prefixes, uuids and
// float64. The generated codecs call these in straight lines.
//
// Reader: every read is bounds-checked, so truncated or invalid input becomes a
// KafkaProtocolError (INVALID_REQUEST) and never a RangeError.
// Writer: grows as it goes and keeps a list of chunks, so a large external
// buffer (a `records` field: produce data, fetched batches) is appended by
// reference, never copied; finish() returns the size-prefixed frame as Buffer[]
// for socket.cork()/write or writev.

import { KafkaProtocolError, malformed, unsupportedVersion } from './protocol-error.js';

export const EMPTY_BUFFER: Buffer = Buffer.alloc(0);
export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

/** Kafka's STRING carries an int16 length: at most 32767 bytes. */
const STRING_MAX_BYTES = 0x7fff;
/** Externals smaller than this are copied in: a chunk per tiny buffer costs more than the copy. */
const EXTERNAL_COPY_MAX_BYTES = 256;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** A bounds-checked cursor over [pos, end) of a buffer. */
export class Reader {
  constructor(
    readonly buf: Buffer,
    public pos = 0,
    public end: number = buf.length,
  ) {}

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Throws unless `bytes` more are available; advances and returns the old position. */
  need(bytes: number, what: string): number {
    const p = this.pos;
    if (bytes > this.end - p) {
      throw malformed(`${what} needs ${bytes} bytes at offset ${p} but only ${Math.max(0, this.end - p)} remain`);
    }
    this.pos = p + bytes;
    return p;
  }

  bool(): boolean {
    return this.buf[this.need(1, 'boolean')] !== 0;
  }

  i8(): number {
    return this.buf.readInt8(this.need(1, 'int8'));
  }

  u8(): number {
    return this.buf[this.need(1, 'uint8')];
  }

  i16(): number {
    return this.buf.readInt16BE(this.need(2, 'int16'));
  }

  u16(): number {
    return this.buf.readUInt16BE(this.need(2, 'uint16'));
  }

  i32(): number {
    return this.buf.readInt32BE(this.need(4, 'int32'));
  }

  u32(): number {
    return this.buf.readUInt32BE(this.need(4, 'uint32'));
  }

  i64(): bigint {
    return this.buf.readBigInt64BE(this.need(8, 'int64'));
  }

  f64(): number {
    return this.buf.readDoubleBE(this.need(8, 'float64'));
  }

  /** Kafka's UNSIGNED_VARINT: at most 5 bytes, a 32-bit value. */
  uvarint(): number {
    const buf = this.buf;
    let p = this.pos;
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (p >= this.end) throw malformed(`varint truncated at offset ${p}`);
      const b = buf[p++];
      // Multiplication, not <<, so the 5th byte's bits do not wrap into the sign.
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (value > 0xffffffff) break;
        this.pos = p;
        return value;
      }
    }
    throw malformed(`varint at offset ${this.pos} is longer than 5 bytes or exceeds 32 bits`);
  }

  /** Kafka's VARINT: a zigzag-encoded int32. */
  varint(): number {
    const u = this.uvarint();
    return (u >>> 1) ^ -(u & 1);
  }

  /** Kafka's VARLONG (zigzag int64, up to 10 bytes) as a bigint. */
  varlong(): bigint {
    const buf = this.buf;
    let p = this.pos;
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (p >= this.end) throw malformed(`varlong truncated at offset ${p}`);
      const b = buf[p++];
      value |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) {
        if (value >= 1n << 64n) break;
        this.pos = p;
        return (value >> 1n) ^ -(value & 1n);
      }
    }
    throw malformed(`varlong at offset ${this.pos} is longer than 10 bytes or exceeds 64 bits`);
  }

  /**
   * A VARLONG as a number, for record timestamp deltas: the fast path reads
   * without bigints; values beyond 2^53 are refused rather than rounded.
   */
  varlongNumber(): number {
    const buf = this.buf;
    let p = this.pos;
    let value = 0;
    for (let shift = 0; shift < 56; shift += 7) {
      if (p >= this.end) throw malformed(`varlong truncated at offset ${p}`);
      const b = buf[p++];
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        this.pos = p;
        // zigzag: even -> value/2, odd -> -(value+1)/2; exact up to 2^53 (the writer's
        // largest, for 2^52), which a double holds exactly.
        if (value > 2 ** 53) break;
        return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
      }
    }
    throw malformed(`varlong at offset ${this.pos} does not fit a safe integer`);
  }

  uuid(): string {
    const p = this.need(16, 'uuid');
    const b = this.buf;
    let s = '';
    for (let i = 0; i < 16; i++) {
      if (i === 4 || i === 6 || i === 8 || i === 10) s += '-';
      s += HEX[b[p + i]];
    }
    return s;
  }

  private text(len: number, what: string): string {
    if (len === 0) return '';
    if (len > STRING_MAX_BYTES) throw malformed(`${what} of ${len} bytes is longer than 32767`);
    const p = this.need(len, what);
    return this.buf.toString('utf8', p, p + len);
  }

  /** STRING: int16 length, then UTF-8. */
  string(): string {
    const len = this.i16();
    if (len < 0) throw malformed(`non-nullable string has length ${len}`);
    return this.text(len, 'string');
  }

  /** NULLABLE_STRING: length -1 is null. */
  nullableString(): string | null {
    const len = this.i16();
    if (len < 0) {
      if (len === -1) return null;
      throw malformed(`string length ${len}`);
    }
    return this.text(len, 'string');
  }

  /** COMPACT_STRING: unsigned varint length + 1. */
  compactString(): string {
    const n = this.uvarint();
    if (n === 0) throw malformed('non-nullable compact string is null');
    return this.text(n - 1, 'compact string');
  }

  compactNullableString(): string | null {
    const n = this.uvarint();
    return n === 0 ? null : this.text(n - 1, 'compact string');
  }

  /** A zero-copy slice: it shares memory with the input buffer. */
  private slice(len: number, what: string): Buffer {
    const p = this.need(len, what);
    return this.buf.subarray(p, p + len);
  }

  /** BYTES: int32 length, then the bytes (a slice of the input). */
  bytes(): Buffer {
    const len = this.i32();
    if (len < 0) throw malformed(`non-nullable bytes have length ${len}`);
    return this.slice(len, 'bytes');
  }

  nullableBytes(): Buffer | null {
    const len = this.i32();
    if (len < 0) {
      if (len === -1) return null;
      throw malformed(`bytes length ${len}`);
    }
    return this.slice(len, 'bytes');
  }

  compactBytes(): Buffer {
    const n = this.uvarint();
    if (n === 0) throw malformed('non-nullable compact bytes are null');
    return this.slice(n - 1, 'compact bytes');
  }

  compactNullableBytes(): Buffer | null {
    const n = this.uvarint();
    return n === 0 ? null : this.slice(n - 1, 'compact bytes');
  }

  /**
   * The element count of an ARRAY (int32) or COMPACT_ARRAY (varint + 1); -1 for
   * null. Counts beyond the bytes left are refused before anything is allocated.
   */
  arrayLength(flexible: boolean, nullable: boolean, what: string): number {
    const n = flexible ? this.uvarint() - 1 : this.i32();
    if (n < 0) {
      if (n === -1 && nullable) return -1;
      throw malformed(`${what}: ${nullable ? 'invalid' : 'non-nullable'} array length ${n}`);
    }
    if (n > this.end - this.pos) throw malformed(`${what}: array of ${n} elements in ${this.end - this.pos} bytes`);
    return n;
  }

  /** RECORDS: (compact) nullable bytes, a zero-copy slice of the input. */
  records(flexible: boolean): Buffer | null {
    return flexible ? this.compactNullableBytes() : this.nullableBytes();
  }

  /** Skips a tagged-field section whose tags this codec does not know (KIP-482). */
  skipTaggedFields(): void {
    for (let n = this.uvarint(); n > 0; n--) {
      const tag = this.uvarint();
      this.pos = taggedFieldEnd(this, this.uvarint(), tag);
    }
  }

  /** Refuses bytes left over after the last field. */
  done(what: string): void {
    if (this.pos !== this.end) throw malformed(`${what}: ${this.end - this.pos} unexpected trailing bytes at offset ${this.pos}`);
  }
}

// ---- codec shapes --------------------------------------------------------------

/**
 * What an encoder accepts for a message type T: T with every field optional,
 * deeply. A field left out is written as its schema default, as Kafka's
 * generated Java classes start from their defaults.
 */
export type Input<T> = T extends Buffer | bigint | string | number | boolean | null | undefined
  ? T
  : T extends readonly (infer E)[]
    ? readonly Input<E>[]
    : { [K in keyof T]?: Input<T[K]> };

/** The generated codec of one message type, for every valid version. */
export interface MessageCodec<T> {
  read(r: Reader, version: number): T;
  write(w: Writer, data: Input<T>, version: number): void;
}

// ---- readers of array elements and helpers the generated codecs share ----------

export type ReadElement<T> = (r: Reader, v: number) => T;
export type WriteElement<T> = (w: Writer, e: T, v: number) => void;

/** An array of `read` elements, or null where the array is nullable and null on the wire. */
export function readArray<T>(r: Reader, v: number, flexible: boolean, nullable: boolean, what: string, read: ReadElement<T>): T[] | null {
  const n = r.arrayLength(flexible, nullable, what);
  if (n < 0) return null;
  const out: T[] = new Array<T>(n);
  for (let i = 0; i < n; i++) out[i] = read(r, v);
  return out;
}

export const readInt8Element: ReadElement<number> = (r) => r.i8();
export const readInt16Element: ReadElement<number> = (r) => r.i16();
export const readInt32Element: ReadElement<number> = (r) => r.i32();
export const readInt64Element: ReadElement<bigint> = (r) => r.i64();
export const readUint16Element: ReadElement<number> = (r) => r.u16();
export const readUint32Element: ReadElement<number> = (r) => r.u32();
export const readFloat64Element: ReadElement<number> = (r) => r.f64();
export const readBoolElement: ReadElement<boolean> = (r) => r.bool();
export const readUuidElement: ReadElement<string> = (r) => r.uuid();
export const readStringElement: ReadElement<string> = (r) => r.string();
export const readCompactStringElement: ReadElement<string> = (r) => r.compactString();
export const readBytesElement: ReadElement<Buffer> = (r) => r.bytes();
export const readCompactBytesElement: ReadElement<Buffer> = (r) => r.compactBytes();

export const writeInt8Element: WriteElement<number> = (w, e) => w.i8(e);
export const writeInt16Element: WriteElement<number> = (w, e) => w.i16(e);
export const writeInt32Element: WriteElement<number> = (w, e) => w.i32(e);
export const writeInt64Element: WriteElement<bigint> = (w, e) => w.i64(e);
export const writeUint16Element: WriteElement<number> = (w, e) => w.u16(e);
export const writeUint32Element: WriteElement<number> = (w, e) => w.u32(e);
export const writeFloat64Element: WriteElement<number> = (w, e) => w.f64(e);
export const writeBoolElement: WriteElement<boolean> = (w, e) => w.bool(e);
export const writeUuidElement: WriteElement<string> = (w, e) => w.uuid(e);
export const writeStringElement: WriteElement<string> = (w, e) => w.string(e);
export const writeCompactStringElement: WriteElement<string> = (w, e) => w.compactString(e);
export const writeBytesElement: WriteElement<Buffer> = (w, e) => w.bytes(e);
export const writeCompactBytesElement: WriteElement<Buffer> = (w, e) => w.compactBytes(e);

/** Writes an array (or null where `nullable`); a null where the version cannot carry one is refused. */
export function writeArray<T>(
  w: Writer,
  v: number,
  flexible: boolean,
  nullable: boolean,
  what: string,
  a: readonly T[] | null,
  write: WriteElement<T>,
): void {
  if (a === null) {
    if (!nullable) throw encodeError(`${what} is null but version ${v} cannot carry a null array`);
    if (flexible) w.u8(0);
    else w.i32(-1);
    return;
  }
  if (flexible) w.uvarint(a.length + 1);
  else w.i32(a.length);
  for (let i = 0; i < a.length; i++) write(w, a[i], v);
}

/** The empty array written for array fields left out of an encoder's input. */
export const EMPTY_ARRAY: readonly never[] = Object.freeze([]);

/** A value the caller gave as null where the version cannot carry a null. */
export function notNull<T>(x: T | null, what: string, v: number): T {
  if (x === null) throw encodeError(`${what} is null but version ${v} cannot carry a null`);
  return x;
}

/** Encoding errors are the caller's: a value the chosen version cannot carry. */
export function encodeError(message: string): KafkaProtocolError {
  return unsupportedVersion(message);
}

/**
 * Skips the tagged fields a codec does not know (KIP-482: receivers ignore
 * unknown tags) and checks that a known one did not overrun its declared size.
 */
export function endTaggedField(r: Reader, end: number, tag: number): void {
  if (r.pos > end) throw malformed(`tagged field ${tag} overran its ${end} end offset`);
  r.pos = end;
}

/** The end offset of a tagged field of `size` bytes starting here, bounds-checked. */
export function taggedFieldEnd(r: Reader, size: number, tag: number): number {
  if (size > r.end - r.pos) throw malformed(`tagged field ${tag} of ${size} bytes in ${r.end - r.pos} remaining`);
  return r.pos + size;
}

// ---- Writer ------------------------------------------------------------------

/** UTF-8 byte length, without a native call for short ASCII strings (topic names, ids). */
export function utf8Length(s: string): number {
  const len = s.length;
  if (len < 64) {
    let i = 0;
    while (i < len && s.charCodeAt(i) < 0x80) i++;
    if (i === len) return len;
  }
  return Buffer.byteLength(s, 'utf8');
}

export function uvarintBytes(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

/**
 * An append-only writer: a current buffer plus a list of finished chunks.
 * External buffers are appended as chunks of their own (zero copy).
 */
export class Writer {
  private buf: Buffer;
  private pos: number;
  /** Start of the part of `buf` not yet moved to `chunks`. */
  private start = 0;
  private readonly chunks: Buffer[] = [];
  private chunkBytes = 0;
  private readonly prefixed: boolean;

  /** `sizePrefixed` reserves the 4-byte frame size that finish() fills in. */
  constructor(initialBytes = 512, sizePrefixed = true) {
    this.buf = Buffer.allocUnsafe(Math.max(initialBytes, 16));
    this.prefixed = sizePrefixed;
    this.pos = sizePrefixed ? 4 : 0;
  }

  /** Bytes written so far, the size prefix included. */
  get length(): number {
    return this.chunkBytes + this.pos - this.start;
  }

  /**
   * Reserves n bytes and returns where they start. It may replace this.buf:
   * call it before reading this.buf (`this.buf.writeX(v, this.room(4))` would
   * write into the old buffer).
   */
  private room(n: number): number {
    if (this.pos + n > this.buf.length) this.grow(n);
    const p = this.pos;
    this.pos = p + n;
    return p;
  }

  private grow(n: number): void {
    this.flushRegion();
    this.buf = Buffer.allocUnsafe(Math.max(n, Math.min(this.buf.length * 2, 1 << 20)));
    this.start = this.pos = 0;
  }

  private flushRegion(): void {
    if (this.pos > this.start) {
      this.chunks.push(this.buf.subarray(this.start, this.pos));
      this.chunkBytes += this.pos - this.start;
    }
    this.start = this.pos;
  }

  bool(b: boolean): void {
    const p = this.room(1);
    this.buf[p] = b ? 1 : 0;
  }

  u8(n: number): void {
    const p = this.room(1);
    this.buf[p] = n;
  }

  i8(n: number): void {
    const p = this.room(1);
    this.buf.writeInt8(n, p);
  }

  i16(n: number): void {
    const p = this.room(2);
    this.buf.writeInt16BE(n, p);
  }

  u16(n: number): void {
    const p = this.room(2);
    this.buf.writeUInt16BE(n, p);
  }

  i32(n: number): void {
    const p = this.room(4);
    this.buf.writeInt32BE(n, p);
  }

  u32(n: number): void {
    const p = this.room(4);
    this.buf.writeUInt32BE(n, p);
  }

  i64(n: bigint): void {
    const p = this.room(8);
    this.buf.writeBigInt64BE(n, p);
  }

  f64(n: number): void {
    const p = this.room(8);
    this.buf.writeDoubleBE(n, p);
  }

  uvarint(n: number): void {
    if (!(n >= 0 && n <= 0xffffffff && Number.isInteger(n))) throw new RangeError(`unsigned varint out of range: ${n}`);
    const p = this.room(uvarintBytes(n));
    let i = p;
    while (n >= 0x80) {
      this.buf[i++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[i] = n;
  }

  /** Zigzag int32. */
  varint(n: number): void {
    this.uvarint(((n << 1) ^ (n >> 31)) >>> 0);
  }

  /** Zigzag int64 from a bigint. */
  varlong(n: bigint): void {
    let z = BigInt.asUintN(64, (n << 1n) ^ (n >> 63n));
    while (z >= 0x80n) {
      this.u8(Number(z & 0x7fn) | 0x80);
      z >>= 7n;
    }
    this.u8(Number(z));
  }

  /** Zigzag int64 from a safe integer (record timestamp deltas), without bigints. */
  varlongNumber(n: number): void {
    if (!Number.isSafeInteger(n) || Math.abs(n) > 2 ** 52) throw new RangeError(`varlong value out of range: ${n}`);
    let z = n >= 0 ? n * 2 : -n * 2 - 1;
    while (z >= 0x80) {
      this.u8((z % 128) | 0x80);
      z = Math.floor(z / 128);
    }
    this.u8(z);
  }

  uuid(s: string): void {
    const hex = s.length === 36 ? s.replace(/-/g, '') : s;
    if (hex.length !== 32 || !/^[0-9a-fA-F]{32}$/.test(hex)) throw new RangeError(`not a uuid: '${s}'`);
    const p = this.room(16);
    this.buf.write(hex, p, 16, 'hex');
  }

  private text(s: string, len: number): void {
    if (len === 0) return;
    const p = this.room(len);
    if (len === s.length) {
      for (let i = 0; i < len; i++) this.buf[p + i] = s.charCodeAt(i);
    } else {
      this.buf.write(s, p, len, 'utf8');
    }
  }

  string(s: string): void {
    const len = utf8Length(s);
    if (len > STRING_MAX_BYTES) throw new RangeError(`string of ${len} bytes is longer than Kafka's 32767`);
    this.i16(len);
    this.text(s, len);
  }

  nullableString(s: string | null): void {
    if (s === null) this.i16(-1);
    else this.string(s);
  }

  compactString(s: string): void {
    const len = utf8Length(s);
    if (len > STRING_MAX_BYTES) throw new RangeError(`string of ${len} bytes is longer than Kafka's 32767`);
    this.uvarint(len + 1);
    this.text(s, len);
  }

  compactNullableString(s: string | null): void {
    if (s === null) this.u8(0);
    else this.compactString(s);
  }

  bytes(b: Buffer): void {
    this.i32(b.length);
    this.append(b);
  }

  nullableBytes(b: Buffer | null): void {
    if (b === null) this.i32(-1);
    else this.bytes(b);
  }

  compactBytes(b: Buffer): void {
    this.uvarint(b.length + 1);
    this.append(b);
  }

  compactNullableBytes(b: Buffer | null): void {
    if (b === null) this.u8(0);
    else this.compactBytes(b);
  }

  /** RECORDS: like (compact) nullable bytes, appended without copying. Several buffers make one field. */
  records(r: Buffer | readonly Buffer[] | null, flexible: boolean): void {
    if (r === null) {
      if (flexible) this.u8(0);
      else this.i32(-1);
      return;
    }
    const parts: readonly Buffer[] = Array.isArray(r) ? r : [r as Buffer];
    let len = 0;
    for (const p of parts) len += p.length;
    if (flexible) this.uvarint(len + 1);
    else this.i32(len);
    for (const p of parts) this.append(p);
  }

  /** Appends bytes: small ones are copied, large ones become a chunk of their own (no copy). */
  append(b: Buffer): void {
    if (b.length <= EXTERNAL_COPY_MAX_BYTES) {
      if (b.length > 0) {
        const p = this.room(b.length);
        b.copy(this.buf, p);
      }
      return;
    }
    this.flushRegion();
    this.chunks.push(b);
    this.chunkBytes += b.length;
  }

  /** The bytes written (for sub-writers without a size prefix), as one buffer. */
  toBuffer(): Buffer {
    this.flushRegion();
    return this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.chunkBytes);
  }

  /**
   * Fills in the size prefix (the bytes after it) and returns the frame as
   * chunks. The writer must not be used afterwards.
   */
  finish(): Buffer[] {
    this.flushRegion();
    if (this.prefixed) {
      const size = this.chunkBytes - 4;
      if (size > 0x7fffffff) throw new RangeError(`frame of ${size} bytes exceeds Kafka's int32 size`);
      this.chunks[0].writeInt32BE(size, 0);
    }
    return this.chunks;
  }
}

/** A tagged field's value, written by `write` to a sub-writer so its size can precede it. */
export function writeTaggedField(w: Writer, tag: number, write: (tw: Writer) => void): void {
  const tw = new Writer(64, false);
  write(tw);
  const b = tw.toBuffer();
  w.uvarint(tag);
  w.uvarint(b.length);
  w.append(b);
}

/** A whole frame from finish() as one buffer, for tests and small messages. */
export function concatFrame(chunks: readonly Buffer[]): Buffer {
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}
