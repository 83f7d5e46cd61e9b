// Splits a byte stream into AMQP 0-9-1 frames (§4.2.3): first the 8-byte
// protocol header (§4.2.2), then frames of
//
//   type:octet  channel:short  size:long  payload:size octets  frame-end:0xce
//
// A pure incremental state machine in the style of nats.js's parser: it
// survives reads split at any byte, emits typed events and never throws for
// any input. Malformed input becomes one onError(AmqpProtocolError), after which
// the parser ignores the rest of the stream (the connection is going down).

import { AmqpProtocolError } from './errors.js';
import {
  FRAME_BODY,
  FRAME_END,
  FRAME_HEADER,
  FRAME_HEARTBEAT,
  FRAME_METHOD,
  FRAME_MIN_SIZE,
  PROTOCOL_HEADER,
  ReplyCode,
} from './generated/constants.js';

export interface Frame {
  type: number;
  channel: number;
  /** A zero-copy slice of the pushed chunk when the frame lies within one chunk. */
  payload: Buffer;
}

export interface FrameParserHandler {
  /** Once: `ok` when the peer sent "AMQP" 0 0 9 1; `received` holds the header bytes seen. */
  onProtocolHeader(ok: boolean, received: Buffer): void;
  onFrame(f: Frame): void;
  onError(e: AmqpProtocolError): void;
}

/** type, channel and size. */
const FRAME_HEADER_BYTES = 7;
/** Header plus the frame-end octet: what frame-max counts on top of the payload. */
const FRAME_OVERHEAD_BYTES = 8;
const PROTOCOL_HEADER_BYTES = 8;

const EXPECT_PROTOCOL_HEADER = 0;
const EXPECT_FRAMES = 1;
const STOPPED = 2;

export class FrameParser {
  private state = EXPECT_PROTOCOL_HEADER;
  private frameMaxBytes: number;
  private readonly protocolHeader = Buffer.alloc(PROTOCOL_HEADER_BYTES);
  private protocolHeaderBytes = 0;

  // A frame split across chunks: its header bytes so far, then its payload parts.
  private inFrame = false;
  private readonly frameHeader = Buffer.alloc(FRAME_HEADER_BYTES);
  private frameHeaderBytes = 0;
  private frameType = 0;
  private frameChannel = 0;
  private frameSize = 0;
  private parts: Buffer[] = [];
  /** Payload and frame-end bytes collected in `parts`. */
  private partsBytes = 0;

  /**
   * `frameMax` defaults to FRAME_MIN_SIZE, the only size both peers know
   * before connection.tune-ok (§4.2.3, connection.tune frame-max).
   * A client passes `expectProtocolHeader` false: the server's first bytes
   * are frames (§4.2.2: only the client sends the protocol header).
   */
  constructor(
    private readonly handler: FrameParserHandler,
    frameMax: number = FRAME_MIN_SIZE,
    expectProtocolHeader = true,
  ) {
    this.frameMaxBytes = frameMax;
    if (!expectProtocolHeader) this.state = EXPECT_FRAMES;
  }

  /** The negotiated frame-max: frames larger than this (header and end byte included) are a FRAME_ERROR. 0 = no limit. */
  setFrameMax(bytes: number): void {
    this.frameMaxBytes = bytes;
  }

  /** Ignore all further input (for a caller that has given up on the connection). */
  stop(): void {
    this.state = STOPPED;
    this.parts = [];
  }

  /**
   * Feeds the next chunk. The parser may keep references to `chunk` (frames
   * are slices of it), so callers must not reuse the buffer. Exceptions thrown
   * by the handler propagate and stop the parser, since the rest of the chunk
   * is lost with them.
   */
  push(chunk: Buffer): void {
    if (this.state === STOPPED) return;
    try {
      let pos = 0;
      if (this.state === EXPECT_PROTOCOL_HEADER) pos = this.readProtocolHeader(chunk);
      if (this.state === EXPECT_FRAMES) this.readFrames(chunk, pos);
    } catch (e) {
      this.stop();
      throw e;
    }
  }

  private readProtocolHeader(chunk: Buffer): number {
    let pos = 0;
    let ok = true;
    for (let i = 0; i < this.protocolHeaderBytes; i++) ok &&= this.protocolHeader[i] === PROTOCOL_HEADER[i];
    while (pos < chunk.length && this.protocolHeaderBytes < PROTOCOL_HEADER_BYTES) {
      const byte = chunk[pos++];
      ok &&= byte === PROTOCOL_HEADER[this.protocolHeaderBytes];
      this.protocolHeader[this.protocolHeaderBytes++] = byte;
    }
    const complete = this.protocolHeaderBytes === PROTOCOL_HEADER_BYTES;
    if (ok && !complete) return pos;
    // §4.2.2: a wrong header is certain at its first wrong byte; report it with
    // whatever of the 8 bytes has arrived, so the server can answer at once.
    this.state = ok ? EXPECT_FRAMES : STOPPED;
    this.handler.onProtocolHeader(ok, Buffer.from(this.protocolHeader.subarray(0, this.protocolHeaderBytes)));
    return pos;
  }

  private readFrames(chunk: Buffer, pos: number): void {
    const len = chunk.length;
    while (pos < len && this.state === EXPECT_FRAMES) {
      if (this.inFrame) {
        pos = this.continueFrame(chunk, pos);
        continue;
      }
      if (len - pos < FRAME_HEADER_BYTES) {
        this.inFrame = true;
        this.frameHeaderBytes = 0;
        continue;
      }
      const type = chunk[pos];
      const channel = (chunk[pos + 1] << 8) | chunk[pos + 2];
      const size = chunk.readUInt32BE(pos + 3);
      if (!this.acceptFrameHeader(type, channel, size)) return;
      const endPos = pos + FRAME_HEADER_BYTES + size;
      if (endPos >= len) {
        // The payload continues in a later chunk.
        this.beginPayload(type, channel, size);
        pos += FRAME_HEADER_BYTES;
        continue;
      }
      if (chunk[endPos] !== FRAME_END) {
        this.fail(badFrameEnd(chunk[endPos], type, channel));
        return;
      }
      const payload = chunk.subarray(pos + FRAME_HEADER_BYTES, endPos);
      pos = endPos + 1;
      this.handler.onFrame({ type, channel, payload });
    }
  }

  /** Collects a frame split across chunks; returns the position after what it consumed. */
  private continueFrame(chunk: Buffer, pos: number): number {
    if (this.frameHeaderBytes < FRAME_HEADER_BYTES) {
      const n = Math.min(FRAME_HEADER_BYTES - this.frameHeaderBytes, chunk.length - pos);
      chunk.copy(this.frameHeader, this.frameHeaderBytes, pos, pos + n);
      this.frameHeaderBytes += n;
      pos += n;
      if (this.frameHeaderBytes < FRAME_HEADER_BYTES) return pos;
      const h = this.frameHeader;
      const type = h[0];
      const channel = (h[1] << 8) | h[2];
      const size = h.readUInt32BE(3);
      if (!this.acceptFrameHeader(type, channel, size)) return chunk.length;
      this.beginPayload(type, channel, size);
    }
    const wanted = this.frameSize + 1 - this.partsBytes; // payload and frame-end
    const n = Math.min(wanted, chunk.length - pos);
    if (n > 0) this.parts.push(chunk.subarray(pos, pos + n));
    this.partsBytes += n;
    pos += n;
    if (n === wanted) this.finishFrame();
    return pos;
  }

  private beginPayload(type: number, channel: number, size: number): void {
    this.inFrame = true;
    this.frameHeaderBytes = FRAME_HEADER_BYTES;
    this.frameType = type;
    this.frameChannel = channel;
    this.frameSize = size;
    this.parts = [];
    this.partsBytes = 0;
  }

  private finishFrame(): void {
    const parts = this.parts;
    const whole = parts.length === 1 ? parts[0] : Buffer.concat(parts, this.partsBytes);
    this.inFrame = false;
    this.parts = [];
    this.partsBytes = 0;
    const end = whole[this.frameSize];
    if (end !== FRAME_END) {
      this.fail(badFrameEnd(end, this.frameType, this.frameChannel));
      return;
    }
    this.handler.onFrame({ type: this.frameType, channel: this.frameChannel, payload: whole.subarray(0, this.frameSize) });
  }

  /** Checks type and size as soon as the 7 header bytes are known, before any payload is buffered. */
  private acceptFrameHeader(type: number, channel: number, size: number): boolean {
    if (type !== FRAME_METHOD && type !== FRAME_HEADER && type !== FRAME_BODY && type !== FRAME_HEARTBEAT) {
      this.fail(new AmqpProtocolError(ReplyCode.FRAME_ERROR, `unknown frame type ${type} on channel ${channel}`));
      return false;
    }
    const frameBytes = size + FRAME_OVERHEAD_BYTES;
    if (this.frameMaxBytes > 0 && frameBytes > this.frameMaxBytes) {
      // RabbitMQ's text: the payload size and the largest payload frame_max allows.
      const payloadMax = this.frameMaxBytes - FRAME_OVERHEAD_BYTES;
      this.fail(
        new AmqpProtocolError(ReplyCode.FRAME_ERROR, `type ${type}, all octets = <<>>: {frame_too_large,${size},${payloadMax}}`),
      );
      return false;
    }
    return true;
  }

  private fail(e: AmqpProtocolError): void {
    this.stop();
    this.handler.onError(e);
  }
}

function badFrameEnd(byte: number, type: number, channel: number): AmqpProtocolError {
  const hex = (n: number): string => '0x' + n.toString(16).padStart(2, '0');
  return new AmqpProtocolError(
    ReplyCode.FRAME_ERROR,
    `frame_end byte was ${hex(byte)}, not ${hex(FRAME_END)} (frame type ${type} on channel ${channel})`,
  );
}
