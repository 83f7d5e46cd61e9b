// Accumulates outgoing frames in one buffer so a connection writes once per
// event-loop turn. Methods are encoded straight into that buffer (no buffer
// per method); take() hands out a slice and later frames go after it in the
// same slab, so steady-state writing allocates only when a slab fills up.

import { FRAME_BODY, FRAME_END, FRAME_HEADER, FRAME_HEARTBEAT, FRAME_METHOD } from './generated/constants.js';
import { encodeMethodInto, methodMaxBytes } from './generated/method-encoders.js';
import type { Method } from './generated/methods.js';
import { writeLongLong } from './primitives.js';

/** RabbitMQ's default frame_max. */
export const DEFAULT_FRAME_MAX = 131072;
const SLAB_BYTES = 64 * 1024;
const FRAME_HEADER_BYTES = 7;
const FRAME_OVERHEAD_BYTES = 8;
/** class-id, weight, body-size (§4.2.6.1). */
const CONTENT_HEADER_FIXED_BYTES = 12;
/** The smallest frame-max that leaves room for one payload byte. */
const FRAME_MAX_MIN = FRAME_OVERHEAD_BYTES + 1;

const HEARTBEAT = Buffer.from([FRAME_HEARTBEAT, 0, 0, 0, 0, 0, 0, FRAME_END]);

/** A heartbeat frame: type 8, channel 0, empty payload (§4.2.7). */
export function heartbeatFrame(): Buffer {
  return Buffer.from(HEARTBEAT);
}

export class FrameWriter {
  private buf: Buffer = Buffer.allocUnsafe(SLAB_BYTES);
  /** Bytes in [start, end) are written and not yet taken. */
  private start = 0;
  private end = 0;
  private frameMaxBytes = DEFAULT_FRAME_MAX;

  constructor(frameMax: number = DEFAULT_FRAME_MAX) {
    this.setFrameMax(frameMax);
  }

  /** Body frames are split so no frame exceeds this (header and end byte included); 0 = no limit. */
  setFrameMax(bytes: number): void {
    if (!Number.isInteger(bytes) || bytes < 0 || (bytes > 0 && bytes < FRAME_MAX_MIN)) {
      throw new RangeError(`frame_max must be 0 (no limit) or an integer >= ${FRAME_MAX_MIN}, got ${bytes}`);
    }
    this.frameMaxBytes = bytes;
  }

  /** Bytes accumulated since the last take(). */
  get length(): number {
    return this.end - this.start;
  }

  method(channel: number, m: Method): void {
    const b = this.reserve(methodMaxBytes(m) + FRAME_OVERHEAD_BYTES);
    const o = this.end;
    const payloadStart = o + FRAME_HEADER_BYTES;
    // Encode first: if it throws (a field out of range), nothing was added.
    const payloadEnd = encodeMethodInto(m, b, payloadStart);
    writeFrameHeader(b, o, FRAME_METHOD, channel, payloadEnd - payloadStart);
    b[payloadEnd] = FRAME_END;
    this.end = payloadEnd + 1;
  }

  /**
   * A content header frame (weight 0) and the body split into frames that fit
   * frame-max (§4.2.6.2); an empty body has no body frame.
   */
  content(channel: number, classId: number, rawProperties: Buffer, body: Buffer): void {
    const bodyBytes = body.length;
    const maxPayload = this.frameMaxBytes === 0 ? bodyBytes : this.frameMaxBytes - FRAME_OVERHEAD_BYTES;
    const bodyFrames = bodyBytes === 0 ? 0 : Math.ceil(bodyBytes / maxPayload);
    const headerPayload = CONTENT_HEADER_FIXED_BYTES + rawProperties.length;
    const b = this.reserve(FRAME_OVERHEAD_BYTES + headerPayload + bodyFrames * FRAME_OVERHEAD_BYTES + bodyBytes);
    let o = this.end;
    writeFrameHeader(b, o, FRAME_HEADER, channel, headerPayload);
    o += FRAME_HEADER_BYTES;
    o = b.writeUInt16BE(classId, o);
    b[o++] = 0; // weight
    b[o++] = 0;
    o = writeLongLong(b, o, bodyBytes);
    o += rawProperties.copy(b, o);
    b[o++] = FRAME_END;
    for (let sent = 0; sent < bodyBytes; ) {
      const n = Math.min(maxPayload, bodyBytes - sent);
      writeFrameHeader(b, o, FRAME_BODY, channel, n);
      o += FRAME_HEADER_BYTES;
      o += body.copy(b, o, sent, sent + n);
      b[o++] = FRAME_END;
      sent += n;
    }
    this.end = o;
  }

  heartbeat(): void {
    const b = this.reserve(HEARTBEAT.length);
    this.end += HEARTBEAT.copy(b, this.end);
  }

  /** Everything accumulated since the last take(), or undefined if nothing was. The caller owns it. */
  take(): Buffer | undefined {
    if (this.end === this.start) return undefined;
    const out = this.buf.subarray(this.start, this.end);
    this.start = this.end;
    return out;
  }

  /** Makes room for `bytes` more after `end`; returns the buffer to write into. */
  private reserve(bytes: number): Buffer {
    if (this.end + bytes <= this.buf.length) return this.buf;
    // Taken slices still point into the old slab, so start a new one and move
    // only the untaken bytes. Growing by half keeps repeated moves linear.
    const pending = this.end - this.start;
    const needed = pending + bytes;
    const next = Buffer.allocUnsafe(needed <= SLAB_BYTES ? SLAB_BYTES : needed + (needed >>> 1));
    this.buf.copy(next, 0, this.start, this.end);
    this.buf = next;
    this.start = 0;
    this.end = pending;
    return next;
  }
}

function writeFrameHeader(b: Buffer, o: number, type: number, channel: number, size: number): void {
  b[o] = type;
  b[o + 1] = channel >>> 8;
  b[o + 2] = channel & 0xff;
  b.writeUInt32BE(size, o + 3);
}
