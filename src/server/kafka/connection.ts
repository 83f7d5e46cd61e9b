// One Kafka client connection: size-prefixed requests in, responses out in request order.
// Requests are started as they arrive (a produce waiting for its fsync does not hold up the
// next request's append) but answered strictly in order, as Kafka guarantees per connection.
// A request Wharf cannot parse, or for an API or version it does not serve, closes the
// connection as Kafka does; ApiVersions with a version too new is answered in v0 (KIP-511).
// A handler that fails unexpectedly gets Kafka's error response for its request (every part
// of it answered with the error code), as KafkaApis.handle does; the connection carries on.
//
// Memory per connection is bounded: at most PENDING_MAX requests are in flight, and none is
// started while more than OUTPUT_BYTES_MAX of responses wait in the socket for a client that
// does not read them; frames read past those limits wait unparsed-for-body in a backlog and the
// socket stops reading, so a backlog is at most one read's worth plus one request.

import type { Socket } from 'node:net';
import {
  ErrorCode,
  KafkaFrameParser,
  decodeRequest,
  decodeRequestHeader,
  encodeResponse,
  type ApiKeyNumber,
  type DecodedRequestHeader,
  type KafkaProtocolError,
} from '../../protocol/kafka/index.js';
import { CloseConnection, type Handler, type KafkaContext, type RequestSource } from './context.js';
import { errorResponse } from './error-responses.js';
import { failureOf } from './errors.js';
import { SUPPORTED_VERSIONS, isSupported } from './versions.js';

const API_VERSIONS = 18;
/** Requests in flight (parsed, not yet answered) before the connection stops reading. */
export const PENDING_MAX = 256;
/** Response bytes queued in the socket before the connection stops starting requests and reading. */
export const OUTPUT_BYTES_MAX = 16 * 1024 * 1024;
/** KIP-511's pattern for ApiVersions v3+ client software names and versions. */
const SOFTWARE_NAME = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;

interface Slot {
  frames: Buffer[] | undefined;
  done: boolean;
}

export type HandlerTable = ReadonlyMap<number, Handler<ApiKeyNumber>>;

/** What a connection holds, for tests and diagnostics. */
export interface KafkaConnectionStats {
  /** Requests started and not yet written out. */
  readonly inFlight: number;
  /** Whole frames read but not started. */
  readonly backlogFrames: number;
  /** Bytes of those frames plus any partial frame in the parser. */
  readonly backlogBytes: number;
  /** Response bytes waiting in the socket. */
  readonly outputBytes: number;
  readonly paused: boolean;
}

export class KafkaConnection {
  private readonly parser: KafkaFrameParser;
  private readonly queue: Slot[] = [];
  private readonly backlog: Buffer[] = [];
  private backlogBytes = 0;
  private pumping = false;
  private paused = false;
  private closed = false;
  private clientId: string | null = null;
  private readonly gone = new AbortController();

  constructor(
    private readonly socket: Socket,
    private readonly ctx: KafkaContext,
    private readonly handlers: HandlerTable,
    private readonly connectionId: string,
    private readonly onClose: (c: KafkaConnection) => void,
  ) {
    this.parser = new KafkaFrameParser(
      {
        onFrame: (frame) => {
          this.backlog.push(frame);
          this.backlogBytes += frame.length;
        },
        onError: (err: KafkaProtocolError) => this.fail('unreadable request size', err),
      },
      ctx.config.requestBytesMax,
    );
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.parser.push(chunk);
      this.pump();
    });
    socket.on('drain', () => this.pump());
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.backlog.length = 0;
      this.gone.abort();
      this.onClose(this);
    });
  }

  get stats(): KafkaConnectionStats {
    return {
      inFlight: this.queue.length,
      backlogFrames: this.backlog.length,
      backlogBytes: this.backlogBytes + this.parser.bufferedBytes,
      outputBytes: this.socket.writableLength,
      paused: this.paused,
    };
  }

  private source(): RequestSource {
    return { clientId: this.clientId, clientHost: this.socket.remoteAddress ?? '', connectionId: this.connectionId, signal: this.gone.signal };
  }

  private mayStart(): boolean {
    return this.queue.length < PENDING_MAX && this.socket.writableLength <= OUTPUT_BYTES_MAX;
  }

  /** Starts backlogged requests while the limits allow, then reads on or stops reading. */
  private pump(): void {
    if (this.pumping) return; // a request answered synchronously: the outer loop goes on
    this.pumping = true;
    try {
      while (!this.closed && this.backlog.length > 0 && this.mayStart()) {
        const frame = this.backlog.shift() as Buffer;
        this.backlogBytes -= frame.length;
        this.onRequest(frame);
      }
    } finally {
      this.pumping = false;
    }
    if (this.closed) return;
    const hold = this.backlog.length > 0 || !this.mayStart();
    if (hold && !this.paused) {
      this.paused = true;
      this.socket.pause();
    } else if (!hold && this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private onRequest(frame: Buffer): void {
    let header: DecodedRequestHeader;
    try {
      header = decodeRequestHeader(frame);
    } catch (err) {
      return this.fail('malformed request header', err);
    }
    const { apiKey, apiVersion, correlationId } = header;
    if (apiKey === API_VERSIONS && !isSupported(apiKey, apiVersion)) {
      // KIP-511: a client newer than us gets our versions in the v0 format and retries.
      return this.push(correlationId, API_VERSIONS, 0, this.apiVersions(ErrorCode.UNSUPPORTED_VERSION));
    }
    const handler = apiKey === API_VERSIONS ? this.apiVersionsHandler : this.handlers.get(apiKey);
    if (!handler || !isSupported(apiKey, apiVersion)) {
      return this.fail(`unsupported request: api key ${apiKey} version ${apiVersion}`);
    }
    let body: unknown;
    try {
      body = decodeRequest(frame, header).body;
    } catch (err) {
      return this.fail(`malformed request (api key ${apiKey} v${apiVersion})`, err);
    }
    this.clientId = header.clientId;
    const slot: Slot = { frames: undefined, done: false };
    this.queue.push(slot);
    const key = apiKey as ApiKeyNumber;
    const answer = (data: unknown): void => {
      if (this.closed) return;
      try {
        if (data !== undefined) slot.frames = encodeResponse(key, apiVersion, correlationId, data as never);
      } catch (err) {
        return failed(err);
      }
      slot.done = true;
      this.flush();
    };
    const failed = (err: unknown): void => {
      if (this.closed) return;
      if (err instanceof CloseConnection) return this.fail(err.message);
      const f = failureOf(err);
      const data = errorResponse(key, apiVersion, body, f.code, f.message);
      this.ctx.logger.warn('kafka request failed', { clientId: this.clientId, apiKey, apiVersion, error: f.message });
      if (data === undefined) return this.fail(`request (api key ${apiKey} v${apiVersion}) failed`, err);
      try {
        slot.frames = encodeResponse(key, apiVersion, correlationId, data as never);
      } catch (encodeErr) {
        return this.fail(`encoding the error response to api key ${apiKey} v${apiVersion} failed`, encodeErr);
      }
      slot.done = true;
      this.flush();
    };
    try {
      const out = (handler as Handler<ApiKeyNumber>)(this.ctx, body as never, apiVersion, this.source());
      if (out instanceof Promise) out.then(answer, failed);
      else answer(out);
    } catch (err) {
      failed(err);
    }
  }

  /** ApiVersions at a version Wharf reads: v3+ names its client software, which KIP-511 constrains. */
  private readonly apiVersionsHandler = (_ctx: KafkaContext, req: { clientSoftwareName?: string; clientSoftwareVersion?: string }, v: number): unknown => {
    if (v >= 3 && !(SOFTWARE_NAME.test(req.clientSoftwareName ?? '') && SOFTWARE_NAME.test(req.clientSoftwareVersion ?? ''))) {
      return { errorCode: ErrorCode.INVALID_REQUEST, apiKeys: [], throttleTimeMs: 0 };
    }
    return this.apiVersions(ErrorCode.NONE);
  };

  private apiVersions(errorCode: number): unknown {
    const apiKeys = [];
    for (const [apiKey, range] of SUPPORTED_VERSIONS) {
      if (apiKey === API_VERSIONS || this.handlers.has(apiKey)) apiKeys.push({ apiKey, minVersion: range.min, maxVersion: range.max });
    }
    return { errorCode, apiKeys, throttleTimeMs: 0 };
  }

  private push(correlationId: number, apiKey: ApiKeyNumber, version: number, data: unknown): void {
    this.queue.push({ frames: encodeResponse(apiKey, version, correlationId, data as never), done: true });
    this.flush();
  }

  /** Writes every answered response at the head of the queue, in order. */
  private flush(): void {
    if (this.closed) return;
    let n = 0;
    while (n < this.queue.length && this.queue[n].done) n++;
    if (n === 0) return;
    const ready = this.queue.splice(0, n);
    this.socket.cork();
    for (const s of ready) for (const f of s.frames ?? []) this.socket.write(f);
    this.socket.uncork();
    this.pump();
  }

  private fail(why: string, err?: unknown): void {
    if (this.closed) return;
    this.ctx.logger.warn('closing kafka connection', {
      client: this.socket.remoteAddress,
      clientId: this.clientId,
      reason: why,
      ...(err === undefined ? {} : { error: err instanceof Error ? err.message : String(err) }),
    });
    this.closed = true;
    this.backlog.length = 0;
    this.socket.destroy();
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }
}
