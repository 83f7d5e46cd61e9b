// Turns frames into commands (§4.2.6): a method frame, and for content-bearing
// methods (basic.publish and friends) the content header frame and body frames
// that must follow it on the same channel, with nothing else in between on
// that channel. Pure and per connection; throws AmqpProtocolError on misuse.

import { AmqpProtocolError } from './errors.js';
import { FRAME_BODY, FRAME_HEADER, FRAME_HEARTBEAT, FRAME_METHOD, ReplyCode } from './generated/constants.js';
import { decodeMethod } from './generated/method-decoders.js';
import { hasContent, methodIds, type Method } from './generated/methods.js';
import type { Frame } from './frame-parser.js';
import { EMPTY_BUFFER } from './primitives.js';

export interface ContentHeader {
  classId: number;
  bodySize: number;
  /** Property flags and property list, undecoded (decode with decodeProperties when needed). */
  rawProperties: Buffer;
}

export interface Command {
  channel: number;
  method: Method;
  header?: ContentHeader;
  body?: Buffer;
}

/** RabbitMQ's default max_message_size (128 MiB). */
export const DEFAULT_MAX_BODY_BYTES = 128 * 1024 * 1024;

/** class-id, weight, body-size (§4.2.6.1), then at least the 2-byte property flags. */
const CONTENT_HEADER_MIN_BYTES = 14;
const TWO_POW_32 = 4294967296;

/**
 * A channel's content in progress. One per channel, reused from message to message:
 * `method` is undefined between messages. Deleting and re-adding a Map entry per
 * message would reallocate the Map's hash table each time, and a long-lived Map
 * allocates its tables in the old generation: garbage only a major GC collects.
 */
interface PendingContent {
  method: Method | undefined;
  classId: number;
  methodId: number;
  header: ContentHeader | undefined;
  receivedBytes: number;
  first: Buffer | undefined;
  rest: Buffer[] | undefined;
  /** The body is too large: count its frames, keep nothing, emit nothing. */
  discard: boolean;
}

/** Parses a content header frame payload; throws 502 SYNTAX_ERROR when it is too short. */
export function parseContentHeader(payload: Buffer): ContentHeader {
  if (payload.length < CONTENT_HEADER_MIN_BYTES) {
    throw new AmqpProtocolError(
      ReplyCode.SYNTAX_ERROR,
      `content header frame of ${payload.length} bytes is shorter than the ${CONTENT_HEADER_MIN_BYTES} it needs`,
    );
  }
  const high = payload.readUInt32BE(4);
  const bodySize = high * TWO_POW_32 + payload.readUInt32BE(8);
  if (!Number.isSafeInteger(bodySize)) {
    throw new AmqpProtocolError(ReplyCode.SYNTAX_ERROR, `content body size ${payload.readBigUInt64BE(4)} exceeds 2^53-1`);
  }
  // The weight field (bytes 2-3) is unused in 0-9-1 (§4.2.6.1).
  return { classId: payload.readUInt16BE(0), bodySize, rawProperties: payload.subarray(12) };
}

export class CommandAssembler {
  /** Per channel that has carried content; see PendingContent. */
  private readonly slots = new Map<number, PendingContent>();
  /** Channels with content in progress. */
  private pendingCount = 0;
  /** Body bytes kept for content in progress on all channels (for the connection's publish budget). */
  private keptBytes = 0;

  /** `maxBodyBytes`: larger bodies are refused with 406 PRECONDITION_FAILED; 0 = no limit. */
  constructor(
    private readonly onCommand: (c: Command) => void,
    private readonly maxBodyBytes: number = DEFAULT_MAX_BODY_BYTES,
  ) {}

  /** Method, content header and body frames; heartbeats are ignored. */
  handleFrame(f: Frame): void {
    switch (f.type) {
      case FRAME_METHOD:
        return this.onMethodFrame(f);
      case FRAME_HEADER:
        return this.onHeaderFrame(f);
      case FRAME_BODY:
        return this.onBodyFrame(f);
      case FRAME_HEARTBEAT:
        return;
      default:
        throw new AmqpProtocolError(ReplyCode.FRAME_ERROR, `unknown frame type ${f.type}`, 0, 0, f.channel);
    }
  }

  /** Body bytes of messages not complete yet, kept until their last body frame. */
  get bufferedBodyBytes(): number {
    return this.keptBytes;
  }

  /** Drops partial content on a channel that is closing. */
  resetChannel(channel: number): void {
    this.finish(this.slots.get(channel));
    this.slots.delete(channel);
  }

  /** The content in progress on `channel`, if any. */
  private pendingOn(channel: number): PendingContent | undefined {
    if (this.pendingCount === 0) return undefined;
    const p = this.slots.get(channel);
    return p?.method === undefined ? undefined : p;
  }

  /** Ends the content in progress (complete, or abandoned after an error). */
  private finish(p: PendingContent | undefined): void {
    if (p?.method === undefined) return;
    if (!p.discard) this.keptBytes -= p.receivedBytes;
    p.method = undefined;
    p.header = undefined;
    p.first = undefined;
    p.rest = undefined;
    this.pendingCount--;
  }

  private begin(channel: number, method: Method): void {
    const { classId, methodId } = methodIds(method.name);
    let p = this.slots.get(channel);
    if (p === undefined) {
      p = { method, classId, methodId, header: undefined, receivedBytes: 0, first: undefined, rest: undefined, discard: false };
      this.slots.set(channel, p);
    } else {
      p.method = method;
      p.classId = classId;
      p.methodId = methodId;
      p.receivedBytes = 0;
      p.discard = false;
    }
    this.pendingCount++;
  }

  private onMethodFrame(f: Frame): void {
    const channel = f.channel;
    const p = this.pendingOn(channel);
    if (p !== undefined) {
      const expected = p.header === undefined ? 'content header' : 'content body';
      const text = `expected ${expected} for ${nameOf(p)}, got a method frame instead`;
      this.finish(p);
      throw this.error(ReplyCode.UNEXPECTED_FRAME, text, p, channel);
    }
    let method: Method;
    try {
      method = decodeMethod(f.payload);
    } catch (e) {
      throw e instanceof AmqpProtocolError ? e.onChannel(channel) : e;
    }
    if (!hasContent(method.name)) {
      this.onCommand({ channel, method });
      return;
    }
    this.begin(channel, method);
  }

  private onHeaderFrame(f: Frame): void {
    const channel = f.channel;
    const p = this.pendingOn(channel);
    if (p === undefined || p.header !== undefined) {
      // RabbitMQ's text when no content method is pending; ours names what was expected otherwise.
      const text = p === undefined ? 'expected method frame, got non method frame instead' : `expected content body for ${nameOf(p)}, got a content header frame instead`;
      this.finish(p);
      throw this.error(ReplyCode.UNEXPECTED_FRAME, text, p, channel);
    }
    let header: ContentHeader;
    try {
      header = parseContentHeader(f.payload);
    } catch (e) {
      this.finish(p);
      throw e instanceof AmqpProtocolError ? this.error(e.replyCode, e.message, p, channel) : e;
    }
    if (header.classId !== p.classId) {
      this.finish(p);
      const text = `expected content header for class ${p.classId}, got one for class ${header.classId} instead`;
      throw this.error(ReplyCode.UNEXPECTED_FRAME, text, p, channel);
    }
    p.header = header;
    if (this.maxBodyBytes > 0 && header.bodySize > this.maxBodyBytes) {
      // A channel error: the body frames still arrive and are skipped here
      // until the channel is reset or the body is complete.
      p.discard = true;
      const text = `message size ${header.bodySize} is larger than configured max size ${this.maxBodyBytes}`;
      throw this.error(ReplyCode.PRECONDITION_FAILED, text, p, channel);
    }
    if (header.bodySize === 0) {
      const method = p.method as Method;
      this.finish(p);
      this.onCommand({ channel, method, header, body: EMPTY_BUFFER });
    }
  }

  private onBodyFrame(f: Frame): void {
    const channel = f.channel;
    const p = this.pendingOn(channel);
    const header = p?.header;
    if (p === undefined || header === undefined) {
      const text = p === undefined ? 'expected method frame, got non method frame instead' : `expected content header for ${nameOf(p)}, got a content body frame instead`;
      this.finish(p);
      throw this.error(ReplyCode.UNEXPECTED_FRAME, text, p, channel);
    }
    const chunk = f.payload;
    const received = p.receivedBytes + chunk.length;
    if (received > header.bodySize) {
      this.finish(p);
      const text = `content body of at least ${received} bytes exceeds the body size ${header.bodySize} in its content header`;
      throw this.error(ReplyCode.FRAME_ERROR, text, p, channel);
    }
    p.receivedBytes = received;
    if (!p.discard) this.keptBytes += chunk.length;
    if (!p.discard && chunk.length > 0) {
      if (p.first === undefined) p.first = chunk;
      else (p.rest ??= []).push(chunk);
    }
    if (received < header.bodySize) return;
    const method = p.method as Method;
    const body = p.discard ? undefined : joinBody(p, header.bodySize);
    this.finish(p);
    if (body !== undefined) this.onCommand({ channel, method, header, body });
  }

  private error(code: number, text: string, p: PendingContent | undefined, channel: number): AmqpProtocolError {
    return new AmqpProtocolError(code, text, p?.classId ?? 0, p?.methodId ?? 0, channel);
  }
}

function nameOf(p: PendingContent): string {
  return (p.method as Method).name;
}

/** One body frame is passed on as is (zero-copy); several are joined once. */
function joinBody(p: PendingContent, bodySize: number): Buffer {
  const first = p.first as Buffer;
  if (p.rest === undefined) return first;
  return Buffer.concat([first, ...p.rest], bodySize);
}
