// Reading and writing the AMQP 0-9-1 primitive domains (§4.2.5): octet, short,
// long, longlong, shortstr, longstr. Generated codecs call these in straight
// lines; every read is bounds-checked so malformed input becomes a 502
// SYNTAX_ERROR instead of a RangeError or a silently clamped string.

import { AmqpProtocolError } from './errors.js';
import { ReplyCode } from './generated/constants.js';

export const EMPTY_BUFFER: Buffer = Buffer.alloc(0);

/** Largest bytes a shortstr takes on the wire: a length octet and up to 255 bytes. */
export const SHORTSTR_MAX_BYTES = 256;
const SHORTSTR_MAX_LENGTH = 255;
const TWO_POW_32 = 4294967296;
/** The high 32 bits of Number.MAX_SAFE_INTEGER (2^53 - 1). */
const SAFE_HIGH_WORD_MAX = 0x1fffff;

export function syntaxError(message: string): AmqpProtocolError {
  return new AmqpProtocolError(ReplyCode.SYNTAX_ERROR, message);
}

/** A bounds-checked cursor over [pos, end) of a buffer. */
export class Reader {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    public end: number = buf.length,
  ) {}

  /** Throws unless `bytes` more are available; returns the current position. */
  need(bytes: number, what: string): number {
    const p = this.pos;
    if (p + bytes > this.end) {
      throw syntaxError(`${what} needs ${bytes} bytes at offset ${p} but only ${Math.max(0, this.end - p)} remain`);
    }
    this.pos = p + bytes;
    return p;
  }

  u8(): number {
    return this.buf[this.need(1, 'octet')];
  }

  i8(): number {
    return this.buf.readInt8(this.need(1, 'octet'));
  }

  u16(): number {
    const p = this.need(2, 'short');
    return (this.buf[p] << 8) | this.buf[p + 1];
  }

  i16(): number {
    return this.buf.readInt16BE(this.need(2, 'short'));
  }

  u32(): number {
    return this.buf.readUInt32BE(this.need(4, 'long'));
  }

  i32(): number {
    return this.buf.readInt32BE(this.need(4, 'long'));
  }

  /** An unsigned longlong as a safe integer; larger values are refused rather than rounded. */
  u64(): number {
    const p = this.need(8, 'longlong');
    const high = this.buf.readUInt32BE(p);
    if (high > SAFE_HIGH_WORD_MAX) {
      throw syntaxError(`longlong ${this.buf.readBigUInt64BE(p)} at offset ${p} exceeds 2^53-1`);
    }
    return high * TWO_POW_32 + this.buf.readUInt32BE(p + 4);
  }

  /** A signed 64-bit integer: a number when safe, else a bigint. */
  i64(): number | bigint {
    const p = this.need(8, 'long-long-int');
    const high = this.buf.readInt32BE(p);
    if (high > SAFE_HIGH_WORD_MAX || high < -SAFE_HIGH_WORD_MAX - 1) return this.buf.readBigInt64BE(p);
    const value = high * TWO_POW_32 + this.buf.readUInt32BE(p + 4);
    // -2^53 itself fits the high-word test but is not a safe integer.
    return Number.isSafeInteger(value) ? value : this.buf.readBigInt64BE(p);
  }

  /** An unsigned longlong that may be rounded (timestamps beyond 2^53 seconds do not occur). */
  u64Lossy(): number {
    const p = this.need(8, 'longlong');
    return this.buf.readUInt32BE(p) * TWO_POW_32 + this.buf.readUInt32BE(p + 4);
  }

  f32(): number {
    return this.buf.readFloatBE(this.need(4, 'float'));
  }

  f64(): number {
    return this.buf.readDoubleBE(this.need(8, 'double'));
  }

  shortstr(): string {
    const len = this.u8();
    if (len === 0) return '';
    const p = this.need(len, 'shortstr');
    return this.buf.toString('utf8', p, p + len);
  }

  longstr(): string {
    const len = this.u32();
    if (len === 0) return '';
    const p = this.need(len, 'longstr');
    return this.buf.toString('utf8', p, p + len);
  }

  /** A longstr as bytes, copied so it does not pin the socket chunk it came in. */
  longstrBytes(): Buffer {
    const len = this.u32();
    const p = this.need(len, 'longstr');
    return Buffer.from(this.buf.subarray(p, p + len));
  }

  /** Refuses bytes left over after the last field. */
  done(): void {
    if (this.pos !== this.end) throw syntaxError(`${this.end - this.pos} unexpected trailing bytes at offset ${this.pos}`);
  }
}

/**
 * Writes a shortstr at `o` and returns the offset after it. The caller
 * guarantees SHORTSTR_MAX_BYTES of room. Short ASCII strings, the common case
 * for exchange names, routing keys and consumer tags, skip the native call.
 */
export function writeShortStr(b: Buffer, o: number, s: string): number {
  const len = s.length;
  if (len < 64) {
    let i = 0;
    for (; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) break;
      b[o + 1 + i] = c;
    }
    if (i === len) {
      b[o] = len;
      return o + 1 + len;
    }
  }
  const bytes = Buffer.byteLength(s, 'utf8');
  if (bytes > SHORTSTR_MAX_LENGTH) {
    throw new RangeError(`shortstr of ${bytes} bytes is longer than the 255 AMQP 0-9-1 allows (§4.2.5.3)`);
  }
  b[o] = bytes;
  b.write(s, o + 1, bytes, 'utf8');
  return o + 1 + bytes;
}

/**
 * Like writeShortStr, but cuts the text to 255 bytes at a character boundary.
 * For reply texts, which the server composes from client-chosen names and
 * would otherwise fail to send the very close that reports the problem.
 */
export function writeShortStrTruncated(b: Buffer, o: number, s: string): number {
  if (s.length <= 85) return writeShortStr(b, o, s); // 85 * 3 bytes per UTF-16 unit <= 255
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.length <= SHORTSTR_MAX_LENGTH) return writeShortStr(b, o, s);
  let cut = SHORTSTR_MAX_LENGTH;
  while (cut > 0 && (bytes[cut] & 0xc0) === 0x80) cut--; // never split a UTF-8 sequence
  b[o] = cut;
  bytes.copy(b, o + 1, 0, cut);
  return o + 1 + cut;
}

/** Upper bound of the wire size of a longstr (UTF-8 needs at most 3 bytes per UTF-16 unit). */
export function longStrMaxBytes(v: string | Buffer): number {
  return 4 + (typeof v === 'string' ? v.length * 3 : v.length);
}

/** Writes a longstr; the caller guarantees longStrMaxBytes(v) of room. Accepts bytes or text. */
export function writeLongStr(b: Buffer, o: number, v: string | Buffer): number {
  const n = typeof v === 'string' ? b.write(v, o + 4, 'utf8') : v.copy(b, o + 4);
  b.writeUInt32BE(n, o);
  return o + 4 + n;
}

/** Writes an unsigned longlong from a non-negative safe integer. */
export function writeLongLong(b: Buffer, o: number, v: number): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`longlong must be a non-negative safe integer, got ${v}`);
  b.writeUInt32BE(Math.floor(v / TWO_POW_32), o);
  b.writeUInt32BE(v >>> 0, o + 4);
  return o + 8;
}

let scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * Encodes into a reused scratch buffer and returns an exact-size copy, so a
 * stand-alone encode allocates once and never pins an oversized buffer.
 */
export function encodeExact(maxBytes: number, write: (b: Buffer, o: number) => number): Buffer {
  if (maxBytes > scratch.length) scratch = Buffer.allocUnsafe(Math.max(maxBytes, scratch.length * 2));
  const end = write(scratch, 0);
  return Buffer.from(scratch.subarray(0, end));
}
