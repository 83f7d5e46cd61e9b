// One Kafka client connection: size-prefixed requests in, responses out in request order.
// Requests are started as they arrive (a produce waiting for its fsync does not hold up the
// next request's append) but answered strictly in order, as Kafka guarantees per connection.
// A request Wharf cannot parse, or for an API or version it does not serve, closes the
// connection as Kafka does; ApiVersions with a version too new is answered in v0 (KIP-511).

import type { Socket } from 'node:net';
import {
  API_CODECS,
  API_TABLE,
  ErrorCode,
  KafkaFrameParser,
  Reader,
  Writer,
  requestHeaderCodec,
  responseHeaderCodec,
  type ApiKeyNumber,
  type Input,
  type RequestHeader,
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
  readonly source: RequestSource;

  constructor(
    private readonly socket: Socket,
    private readonly ctx: KafkaContext,
    private readonly handlers: HandlerTable,
    connectionId: string,
    private readonly onClose: (c: KafkaConnection) => void,
  ) {
    this.source = { clientId: null, clientHost: socket.remoteAddress ?? '', connectionId };
    this.parser = new KafkaFrameParser(ctx.config.requestBytesMax);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.maybeResume());
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.onClose(this);
    });
  }

  private onData(chunk: Buffer): void {
    let frames: Buffer[];
    try {
      frames = this.parser.push(chunk);
    } catch (err) {
      return this.fail('unreadable request framing', err);
    }
    for (const f of frames) {
      if (this.closed) return;
      this.onRequest(f);
    }
    if (this.queue.length >= PENDING_MAX) this.pause();
  }

  private onRequest(frame: Buffer): void {
    if (frame.length < 8) return this.fail('request shorter than its header');
    const apiKey = frame.readInt16BE(0);
    const version = frame.readInt16BE(2);
    const correlationId = frame.readInt32BE(4);
    const codec = API_CODECS[apiKey as ApiKeyNumber];
    if (apiKey === API_VERSIONS && !isSupported(apiKey, version)) {
      // KIP-511: a client newer than us gets our versions in the v0 format and retries.
      return this.respondNow(correlationId, 0, this.apiVersions(ErrorCode.UNSUPPORTED_VERSION));
    }
    const handler = apiKey === API_VERSIONS ? () => this.apiVersions(ErrorCode.NONE) : this.handlers.get(apiKey);
    if (!codec || !handler || !isSupported(apiKey, version)) {
      return this.fail(`unsupported request: api key ${apiKey} version ${version}`);
    }
    let header: RequestHeader;
    let body: unknown;
    try {
      const r = new Reader(frame);
      header = requestHeaderCodec.read(r, flexible(apiKey, version) ? 2 : 1);
      body = codec.request.read(r, version);
    } catch (err) {
      return this.fail(`malformed ${codec.name} v${version} request`, err);
    }
    if (header.clientId !== null) (this.source as { clientId: string | null }).clientId = header.clientId;
    const slot: Slot = { frames: undefined, done: false };
    this.queue.push(slot);
    const respond = (data: unknown): void => {
      if (data !== undefined) slot.frames = this.encode(correlationId, apiKey, version, data);
      slot.done = true;
      this.flush();
    };
    try {
      const out = (handler as Handler<ApiKeyNumber>)(this.ctx, body as never, version, this.source);
      if (out instanceof Promise) out.then(respond, (err: unknown) => this.fail(`${codec.name} failed`, err));
      else respond(out);
    } catch (err) {
      this.fail(`${codec.name} failed`, err);
    }
  }

  private apiVersions(errorCode: number): Input<unknown> {
    const apiKeys = [];
    for (const [apiKey, range] of SUPPORTED_VERSIONS) {
      if (apiKey === API_VERSIONS || this.handlers.has(apiKey)) apiKeys.push({ apiKey, minVersion: range.min, maxVersion: range.max });
    }
    return { errorCode, apiKeys, throttleTimeMs: 0 };
  }

  private respondNow(correlationId: number, version: number, data: unknown): void {
    this.queue.push({ frames: this.encode(correlationId, API_VERSIONS, version, data), done: true });
    this.flush();
  }

  private encode(correlationId: number, apiKey: number, version: number, data: unknown): Buffer[] {
    const w = new Writer();
    // ApiVersions responses always use header v0, so a client can read them at any version.
    responseHeaderCodec.write(w, { correlationId }, apiKey !== API_VERSIONS && flexible(apiKey, version) ? 1 : 0);
    API_CODECS[apiKey as ApiKeyNumber].response.write(w, data as never, version);
    return w.finish();
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
    this.ctx.logger.warn('closing kafka connection', { client: this.source.clientHost, clientId: this.source.clientId, reason: why, error: err === undefined ? undefined : String(err) });
    this.closed = true;
    this.socket.destroy();
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }
}

const FLEXIBLE_FROM = new Map(API_TABLE.map((a) => [a.apiKey as number, a.flexibleFrom]));

/** Flexible versions use request header v2 and response header v1 (tagged fields). */
function flexible(apiKey: number, version: number): boolean {
  const from = FLEXIBLE_FROM.get(apiKey);
  return from !== null && from !== undefined && version >= from;
}
