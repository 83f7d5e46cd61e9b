// Splits a Kafka TCP byte stream into size-prefixed frames
// (https://kafka.apache.org/protocol#protocol_common): every request and
// response is `size: int32` then `size` bytes. A pure incremental state machine
// (reads may split anywhere) that emits each frame without its size prefix:
// a zero-copy slice of the pushed chunk when the frame lies within one chunk,
// else one buffer joined once from its parts.
//
// A size above the limit (Kafka's socket.request.max.bytes) or below zero is
// reported as soon as the 4 size bytes are in, before any of the frame is
// buffered; the parser then ignores the rest of the stream, since Kafka closes
// such a connection.
//
// decodeRequestHeader() reads the request header (KIP-482 header v1 or v2). It
// works for api keys and versions the codecs do not support, so the server can
// still answer with UNSUPPORTED_VERSION (for ApiVersions: in the v0 format, as
// KIP-511 describes) using the correlation id.

import { isFlexibleVersion, isSupportedVersion } from './generated/apis.js';
import { requestHeaderCodec } from './generated/headers.js';
import { ErrorCode } from './errors.js';
import { KafkaProtocolError, malformed } from './protocol-error.js';
import { Reader } from './primitives.js';

/** Kafka's default socket.request.max.bytes: 100 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 104857600;
const SIZE_BYTES = 4;

export interface KafkaFrameHandler {
  /** One frame without its size prefix: a request or a response. */
  onFrame(frame: Buffer): void;
  /** Once, for an invalid or oversized size; no frames follow. */
  onError(e: KafkaProtocolError): void;
}

export class KafkaFrameParser {
  private readonly sizeBytes = Buffer.alloc(SIZE_BYTES);
  private sizeFilled = 0;
  /** Size of the frame being collected, or -1 while reading a size. */
  private frameSize = -1;
  private parts: Buffer[] = [];
  private partsBytes = 0;
  private stopped = false;

  constructor(
    private readonly handler: KafkaFrameHandler,
    private maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES,
  ) {}

  setMaxFrameBytes(bytes: number): void {
    this.maxFrameBytes = bytes;
  }

  /** Bytes held for an incomplete frame (for memory accounting). */
  get bufferedBytes(): number {
    return this.sizeFilled + this.partsBytes;
  }

  push(chunk: Buffer): void {
    let p = 0;
    while (p < chunk.length && !this.stopped) {
      if (this.frameSize < 0) {
        p = this.readSize(chunk, p);
        continue;
      }
      const need = this.frameSize - this.partsBytes;
      const take = Math.min(need, chunk.length - p);
      if (this.partsBytes === 0 && take === need) {
        // The whole frame is in this chunk: hand out a slice, no copy.
        this.emit(chunk.subarray(p, p + take));
      } else {
        this.parts.push(chunk.subarray(p, p + take));
        this.partsBytes += take;
        if (this.partsBytes === this.frameSize) this.emit(Buffer.concat(this.parts, this.frameSize));
      }
      p += take;
    }
  }

  private readSize(chunk: Buffer, p: number): number {
    if (this.sizeFilled === 0 && chunk.length - p >= SIZE_BYTES) {
      this.startFrame(chunk.readInt32BE(p));
      return p + SIZE_BYTES;
    }
    while (this.sizeFilled < SIZE_BYTES && p < chunk.length) this.sizeBytes[this.sizeFilled++] = chunk[p++];
    if (this.sizeFilled === SIZE_BYTES) {
      this.sizeFilled = 0;
      this.startFrame(this.sizeBytes.readInt32BE(0));
    }
    return p;
  }

  private startFrame(size: number): void {
    if (size < 0 || (this.maxFrameBytes > 0 && size > this.maxFrameBytes)) {
      this.stopped = true;
      const why = size < 0 ? `invalid frame size ${size}` : `frame of ${size} bytes is larger than the maximum ${this.maxFrameBytes}`;
      this.handler.onError(new KafkaProtocolError(size < 0 ? ErrorCode.INVALID_REQUEST : ErrorCode.MESSAGE_TOO_LARGE, why));
      return;
    }
    this.frameSize = size;
    if (size === 0) this.emit(Buffer.alloc(0));
  }

  private emit(frame: Buffer): void {
    this.frameSize = -1;
    this.parts = [];
    this.partsBytes = 0;
    this.handler.onFrame(frame);
  }
}

// ---- request header ----------------------------------------------------------------------

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
}

export interface DecodedRequestHeader extends RequestHeader {
  /** The codecs cover this api key and version. */
  supported: boolean;
  /** 2 (with tagged fields) for flexible versions of known APIs, else 1. */
  headerVersion: number;
  /** Where the request body starts in the frame. */
  bodyOffset: number;
}

/** Api key, api version and correlation id. */
const HEADER_FIXED_BYTES = 8;

/**
 * Decodes a request header. The correlation id is read first, so errors after
 * it carry it (KafkaProtocolError.correlationId) and the server can reply.
 * An unknown api key is read as header v1; a known key at an unknown version
 * uses that API's flexible-from version, since flexible versions are
 * open-ended (a newer ApiVersions is still read as header v2).
 */
export function decodeRequestHeader(frame: Buffer): DecodedRequestHeader {
  if (frame.length < HEADER_FIXED_BYTES) throw malformed(`request of ${frame.length} bytes is shorter than its 8-byte header`);
  const apiKey = frame.readInt16BE(0);
  const apiVersion = frame.readInt16BE(2);
  const correlationId = frame.readInt32BE(4);
  const headerVersion = isFlexibleVersion(apiKey, apiVersion) ? 2 : 1;
  const r = new Reader(frame);
  try {
    const h = requestHeaderCodec.read(r, headerVersion);
    return {
      apiKey,
      apiVersion,
      correlationId,
      clientId: h.clientId,
      supported: isSupportedVersion(apiKey, apiVersion),
      headerVersion,
      bodyOffset: r.pos,
    };
  } catch (e) {
    if (e instanceof KafkaProtocolError) throw e.withCorrelationId(correlationId);
    throw e;
  }
}
