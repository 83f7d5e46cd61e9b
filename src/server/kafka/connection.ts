// One Kafka client connection: size-prefixed requests in, responses out in request order.
// Requests are started as they arrive (a produce waiting for its fsync does not hold up the
// next request's append) but answered strictly in order, as Kafka guarantees per connection.
// A request Wharf cannot parse, or for an API or version it does not serve, closes the
// connection as Kafka does; ApiVersions with a version too new is answered in v0 (KIP-511).
// A handler that fails unexpectedly gets Kafka's error response for its request (every part
// of it answered with the error code), as KafkaApis.handle does; the connection carries on.
//
// Memory per connection is bounded: at most PENDING_MAX requests are in flight; none starts
// while more than OUTPUT_BYTES_MAX of responses wait in the socket for a client that does not
// read them, nor a Fetch whose max bytes could take the output past that while other Fetches
// are in flight. Frames read past those limits wait in a backlog and the socket stops reading,
// so a backlog is at most one read's worth plus one request.
//
// On a listener with SASL mechanisms, frames go to the SASL authenticator until the client has
// authenticated (sasl/authenticator.ts); the login then picks the vhost the connection works in.

import type { Socket } from 'node:net';
import {
  ErrorCode,
  KafkaFrameParser,
  decodeRequest,
  decodeRequestHeader,
  encodeResponse,
  type ApiKeyNumber,
  type DecodedRequestHeader,
  type FetchRequest,
  type KafkaProtocolError,
} from '../../protocol/kafka/index.js';
import { AFTER_WRITE, CloseConnection, type Handler, type KafkaContext, type RequestSource } from './context.js';
import { errorResponse } from './error-responses.js';
import { fetchResponseBytesMax } from './handlers/fetch.js';
import { failureOf } from './errors.js';
import { SUPPORTED_VERSIONS, isSupported } from './versions.js';
import { KafkaSaslAuthenticator, type SaslStep } from './sasl/authenticator.js';
import { linkBackend, saslBackend } from './sasl/backend.js';
import type { SaslIdentity } from './sasl/mechanism.js';

const API_VERSIONS = 18;
const FETCH = 1;
const SASL_HANDSHAKE = 17;
/** Requests in flight (parsed, not yet answered) before the connection stops reading. */
export const PENDING_MAX = 256;
/** Response bytes queued in the socket before the connection stops starting requests and reading. */
export const OUTPUT_BYTES_MAX = 16 * 1024 * 1024;
/** Kafka's sasl.server.max.receive.size: the biggest frame read before authentication. */
export const SASL_RECEIVE_BYTES_MAX = 524_288;
/** KIP-511's pattern for ApiVersions v3+ client software names and versions. */
const SOFTWARE_NAME = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;

interface Slot {
  frames: Buffer[] | undefined;
  done: boolean;
  /** Response bytes set aside for it until it is written (Fetch: its max bytes). */
  reserve: number;
  /** The response's AFTER_WRITE function, called once the socket has taken the frames. */
  afterWrite?: () => void;
}

/** A request read and decoded, waiting to start. */
interface Decoded {
  readonly header: DecodedRequestHeader;
  readonly body: unknown;
  /** Undefined: ApiVersions at a version too new, answered in v0. */
  readonly handler: Handler<ApiKeyNumber> | undefined;
  readonly reserve: number;
  readonly frameBytes: number;
}

/** A frame the SASL authenticator answered itself: nothing to start. */
const ANSWERED = Symbol('answered');

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
  /** Frames read but not started; the head may be decoded already (it waits for room). */
  private readonly backlog: (Buffer | Decoded)[] = [];
  private backlogBytes = 0;
  /** Sum of the reserves of requests in flight. */
  private reserved = 0;
  private pumping = false;
  private paused = false;
  private closed = false;
  private flushScheduled = false;
  private clientId: string | null = null;
  private readonly gone = new AbortController();
  /** Set while the client has yet to authenticate on a SASL listener. */
  private sasl: KafkaSaslAuthenticator | undefined;
  private identity: SaslIdentity | undefined;
  /** A request other than ApiVersions was served: too late for a login. */
  private served = false;
  /** A last response is being written before the connection closes: read and start nothing more. */
  private draining = false;
  /** The listener's context, with the vhost the connection's login selected. */
  private ctx: KafkaContext;

  constructor(
    private readonly socket: Socket,
    listenerCtx: KafkaContext,
    private readonly handlers: HandlerTable,
    private readonly connectionId: string,
    private readonly onClose: (c: KafkaConnection) => void,
  ) {
    this.ctx = listenerCtx;
    const { saslMechanisms } = listenerCtx.config;
    if (saslMechanisms.length > 0) {
      const note = (reason: string): void =>
        listenerCtx.logger.warn('kafka SASL authentication refused', { client: socket.remoteAddress, reason });
      this.sasl = new KafkaSaslAuthenticator(saslMechanisms, saslBackend(listenerCtx.broker, socket.remoteAddress ?? ''), note, () => linkBackend(listenerCtx.broker));
    }
    this.parser = new KafkaFrameParser(
      {
        onFrame: (frame) => {
          this.backlog.push(frame);
          this.backlogBytes += frame.length;
        },
        onError: (err: KafkaProtocolError) => this.fail('unreadable request size', err),
      },
      listenerCtx.config.requestBytesMax,
    );
    // Before authentication a stranger may only send small frames, as in Kafka.
    if (this.sasl !== undefined) this.parser.setMaxFrameBytes(Math.min(SASL_RECEIVE_BYTES_MAX, listenerCtx.config.requestBytesMax));
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

  /** The authenticated user, or undefined (no SASL on this listener, or not yet authenticated). */
  get user(): string | undefined {
    return this.identity?.user;
  }

  /** The SASL mechanism the client authenticated with, or undefined. */
  get authMechanism(): string | undefined {
    return this.identity?.mechanism;
  }

  /** The vhost the connection works in. */
  get vhostName(): string {
    return this.ctx.vhost.name;
  }

  /** The client.id of the last request (for the management API's connection list). */
  get clientIdSeen(): string | null {
    return this.clientId;
  }

  private source(): RequestSource {
    return { clientId: this.clientId, clientHost: this.socket.remoteAddress ?? '', connectionId: this.connectionId, signal: this.gone.signal, user: this.identity?.user };
  }

  /**
   * Whether a request that may answer with up to `reserve` bytes can start now: not past the
   * in-flight limit, not while the client leaves more than OUTPUT_BYTES_MAX unread, and (unless
   * nothing else is reserved) not if the responses in flight could push the output past it.
   */
  private mayStart(reserve: number): boolean {
    const out = this.socket.writableLength;
    if (this.queue.length >= PENDING_MAX || out > OUTPUT_BYTES_MAX) return false;
    return this.reserved === 0 || out + this.reserved + reserve <= OUTPUT_BYTES_MAX;
  }

  /** Starts backlogged requests while the limits allow, then reads on or stops reading. */
  private pump(): void {
    if (this.pumping) return; // a request answered synchronously: the outer loop goes on
    this.pumping = true;
    let blocked = false;
    try {
      while (!this.closed && !this.draining && this.backlog.length > 0) {
        const head = this.backlog[0];
        const req = Buffer.isBuffer(head) ? this.decode(head) : head;
        if (!req) return; // closed
        if (req === ANSWERED) {
          this.backlog.shift();
          this.backlogBytes -= (head as Buffer).length;
          continue;
        }
        this.backlog[0] = req;
        if (!this.mayStart(req.reserve)) {
          blocked = true;
          break;
        }
        this.backlog.shift();
        this.backlogBytes -= req.frameBytes;
        this.start(req);
      }
    } finally {
      this.pumping = false;
    }
    if (this.closed) return;
    if (this.draining) {
      this.socket.pause();
      return;
    }
    const hold = blocked || this.backlog.length > 0 || !this.mayStart(0);
    if (hold && !this.paused) {
      this.paused = true;
      this.socket.pause();
    } else if (!hold && this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  /**
   * A frame's header and body; ANSWERED when the SASL authenticator answered it; undefined once
   * the connection is closed for it (as Kafka does).
   */
  private decode(frame: Buffer): Decoded | typeof ANSWERED | undefined {
    if (this.sasl === undefined && this.identity === undefined && !this.served && frame.length >= 2 && frame.readInt16BE(0) === SASL_HANDSHAKE) {
      // A listener without SASL: in a cluster the other nodes still log in (PLAIN, as the link
      // user) to fetch a vhost's partitions (docs/cluster.md); other mechanisms get Kafka's refusal.
      const link = handshakeMechanism(frame) === 'PLAIN' ? linkBackend(this.ctx.broker) : undefined;
      if (link !== undefined) {
        const note = (reason: string): void => this.ctx.logger.warn('kafka SASL authentication refused', { client: this.socket.remoteAddress, reason });
        this.sasl = new KafkaSaslAuthenticator([], link, note, () => link);
      }
    }
    if (this.sasl !== undefined) {
      const step = this.sasl.receive(frame);
      if (step.kind === 'close') {
        this.fail(`SASL: ${step.reason}`);
        return undefined;
      }
      if (step.kind === 'reply') return this.saslReply(step);
      // ApiVersions before the handshake: served as usual below.
    }
    let header: DecodedRequestHeader;
    try {
      header = decodeRequestHeader(frame);
    } catch (err) {
      this.fail('malformed request header', err);
      return undefined;
    }
    const { apiKey, apiVersion } = header;
    if (apiKey === API_VERSIONS && !isSupported(apiKey, apiVersion)) {
      // KIP-511: a client newer than us gets our versions in the v0 format and retries.
      return { header, body: undefined, handler: undefined, reserve: 0, frameBytes: frame.length };
    }
    const handler = apiKey === API_VERSIONS ? this.apiVersionsHandler : this.handlers.get(apiKey);
    if (!handler || !isSupported(apiKey, apiVersion)) {
      this.fail(`unsupported request: api key ${apiKey} version ${apiVersion}`);
      return undefined;
    }
    let body: unknown;
    try {
      body = decodeRequest(frame, header).body;
    } catch (err) {
      this.fail(`malformed request (api key ${apiKey} v${apiVersion})`, err);
      return undefined;
    }
    const reserve = apiKey === FETCH ? fetchResponseBytesMax(body as FetchRequest, apiVersion) : 0;
    return { header, body, handler: handler as Handler<ApiKeyNumber>, reserve, frameBytes: frame.length };
  }

  private start(req: Decoded): void {
    const { header, body, handler, reserve } = req;
    const { apiKey, apiVersion, correlationId } = header;
    if (!handler) return this.push(correlationId, API_VERSIONS, 0, this.apiVersions(ErrorCode.UNSUPPORTED_VERSION));
    this.clientId = header.clientId;
    if (apiKey !== API_VERSIONS) this.served = true;
    const slot: Slot = { frames: undefined, done: false, reserve };
    this.reserved += reserve;
    this.queue.push(slot);
    const key = apiKey as ApiKeyNumber;
    const answer = (data: unknown): void => {
      if (this.closed) return;
      try {
        if (data !== undefined) slot.frames = encodeResponse(key, apiVersion, correlationId, data as never);
        if (typeof data === 'object' && data !== null) slot.afterWrite = (data as { [AFTER_WRITE]?: () => void })[AFTER_WRITE];
      } catch (err) {
        return failed(err);
      }
      slot.done = true;
      this.scheduleFlush();
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
      this.scheduleFlush();
    };
    try {
      const out = handler(this.ctx, body as never, apiVersion, this.source());
      if (out instanceof Promise) out.then(answer, failed);
      else answer(out);
    } catch (err) {
      failed(err);
    }
  }

  /** Queues the authenticator's answer; then closes, or switches to the login's vhost once authenticated. */
  private saslReply(step: Extract<SaslStep, { kind: 'reply' }>): typeof ANSWERED | undefined {
    const slot: Slot = { frames: step.frames, done: true, reserve: 0 };
    if (step.close !== undefined) {
      const why = step.close;
      this.draining = true;
      slot.afterWrite = () => this.end(`SASL: ${why}`);
    } else if (step.identity !== undefined) {
      const vhost = this.ctx.broker.vhost(step.identity.vhost);
      if (vhost === undefined) {
        this.fail(`vhost '${step.identity.vhost}' is gone`);
        return undefined;
      }
      this.ctx = { ...this.ctx, vhost };
      this.identity = step.identity;
      this.sasl = undefined;
      this.parser.setMaxFrameBytes(this.ctx.config.requestBytesMax);
    }
    this.queue.push(slot);
    this.scheduleFlush();
    return ANSWERED;
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
    this.queue.push({ frames: encodeResponse(apiKey, version, correlationId, data as never), done: true, reserve: 0 });
    this.scheduleFlush();
  }

  /**
   * Responses answered in the same turn leave in one write: a group commit completes many
   * produces at once, and one socket read often carries many requests. The flush runs once the
   * turn's promise callbacks are done (process.nextTick from a microtask), not a turn later.
   */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    process.nextTick(this.flush);
  }

  /** Writes every answered response at the head of the queue, in order. */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.closed) return;
    let n = 0;
    while (n < this.queue.length && this.queue[n].done) n++;
    if (n === 0) return;
    const ready = this.queue.splice(0, n);
    this.socket.cork();
    for (const s of ready) {
      this.reserved -= s.reserve;
      const frames = s.frames ?? [];
      for (let i = 0; i < frames.length; i++) this.socket.write(frames[i], i === frames.length - 1 ? s.afterWrite : undefined);
      if (frames.length === 0) s.afterWrite?.();
    }
    this.socket.uncork();
    this.pump();
  };

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

  /** Closes after what was written so far reaches the client (a refusal must arrive before the FIN). */
  private end(why: string): void {
    if (this.closed) return;
    this.ctx.logger.warn('closing kafka connection', { client: this.socket.remoteAddress, clientId: this.clientId, reason: why });
    this.closed = true;
    this.backlog.length = 0;
    this.socket.end();
    // A client that never closes its side must not keep the socket forever.
    setTimeout(() => this.socket.destroy(), 5_000).unref();
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }
}

/** The mechanism a SaslHandshake request names, or undefined if it does not decode. */
function handshakeMechanism(frame: Buffer): string | undefined {
  try {
    return (decodeRequest(frame, decodeRequestHeader(frame)).body as { mechanism?: string }).mechanism;
  } catch {
    return undefined;
  }
}
