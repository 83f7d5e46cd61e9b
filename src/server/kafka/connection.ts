// One Kafka client connection: size-prefixed requests in, responses out in request order.
// Requests are started as they arrive (a produce waiting for its fsync does not hold up the
// next request's append) but answered strictly in order, as Kafka guarantees per connection.
// A request Wharf cannot parse, or for an API or version it does not serve, closes the
// connection as Kafka does; ApiVersions with a version too new is answered in v0 (KIP-511).

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
import type { Handler, KafkaContext, RequestSource } from './context.js';
import { SUPPORTED_VERSIONS, isSupported } from './versions.js';

const API_VERSIONS = 18;
/** Requests in flight (parsed, not yet answered) before the connection stops reading. */
const PENDING_MAX = 256;
/** Response bytes queued in the socket before the connection stops reading. */
const OUTPUT_BYTES_MAX = 16 * 1024 * 1024;

interface Slot {
  frames: Buffer[] | undefined;
  done: boolean;
}

export type HandlerTable = ReadonlyMap<number, Handler<ApiKeyNumber>>;

export class KafkaConnection {
  private readonly parser: KafkaFrameParser;
  private readonly queue: Slot[] = [];
  private paused = false;
  private closed = false;
  private clientId: string | null = null;

  constructor(
    private readonly socket: Socket,
    private readonly ctx: KafkaContext,
    private readonly handlers: HandlerTable,
    private readonly connectionId: string,
    private readonly onClose: (c: KafkaConnection) => void,
  ) {
    this.parser = new KafkaFrameParser(
      {
        onFrame: (frame) => this.onRequest(frame),
        onError: (err: KafkaProtocolError) => this.fail('unreadable request size', err),
      },
      ctx.config.requestBytesMax,
    );
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.parser.push(chunk);
      if (this.queue.length >= PENDING_MAX) this.pause();
    });
    socket.on('drain', () => this.maybeResume());
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.onClose(this);
    });
  }

  /** The client.id of the last request (for the management API's connection list). */
  get clientIdSeen(): string | null {
    return this.clientId;
  }

  private source(): RequestSource {
    return { clientId: this.clientId, clientHost: this.socket.remoteAddress ?? '', connectionId: this.connectionId };
  }

  private onRequest(frame: Buffer): void {
    if (this.closed) return;
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
    const handler = apiKey === API_VERSIONS ? (): unknown => this.apiVersions(ErrorCode.NONE) : this.handlers.get(apiKey);
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
    const respond = (data: unknown): void => {
      if (this.closed) return;
      try {
        if (data !== undefined) slot.frames = encodeResponse(apiKey as ApiKeyNumber, apiVersion, correlationId, data as never);
      } catch (err) {
        return this.fail(`encoding the response to api key ${apiKey} v${apiVersion} failed`, err);
      }
      slot.done = true;
      this.flush();
    };
    try {
      const out = (handler as Handler<ApiKeyNumber>)(this.ctx, body as never, apiVersion, this.source());
      if (out instanceof Promise) out.then(respond, (err: unknown) => this.fail(`request (api key ${apiKey}) failed`, err));
      else respond(out);
    } catch (err) {
      this.fail(`request (api key ${apiKey}) failed`, err);
    }
  }

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
    if (this.socket.writableLength > OUTPUT_BYTES_MAX) this.pause();
    else this.maybeResume();
  }

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
  }

  private maybeResume(): void {
    if (!this.paused || this.queue.length >= PENDING_MAX || this.socket.writableLength > OUTPUT_BYTES_MAX) return;
    this.paused = false;
    this.socket.resume();
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
    this.socket.destroy();
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }
}
