// One connection to one Kafka broker, on the project's codecs (src/protocol/kafka): requests
// are pipelined with correlation ids, and since a broker answers the requests of a connection
// strictly in order (https://kafka.apache.org/protocol#protocol_network), the answers are
// matched to a FIFO of pending requests, checking each correlation id on the way.
//
// Opening one sends ApiVersions v0 (every broker since 0.10 answers it) and keeps the
// broker's ranges, so version() picks the highest version both sides speak.
//
// Output is batched like the AMQP client's: frames pile up and go to the socket in one
// corked write per event-loop turn, or as soon as FLUSH_BYTES are waiting. Record batches
// are passed by reference (the codec's Writer does not copy them).

import { EventEmitter } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import {
  API_CODECS,
  apiInfo,
  KafkaFrameParser,
  KafkaProtocolError,
  decodeResponse,
  encodeRequest,
  errorCodeName,
  responseCorrelationId,
  type ApiKeyNumber,
  type Input,
  type RequestOf,
  type ResponseOf,
} from '../../protocol/kafka/index.js';
import { KafkaClientError } from './errors.js';

export interface KafkaConnectOptions {
  /** The client id in every request header (shown in the broker's logs). */
  clientId?: string;
  /** Gives up on connecting and on ApiVersions after this long (10 s). */
  connectTimeoutMs?: number;
  /** A request unanswered this long fails the connection (30 s, Kafka's request.timeout.ms). */
  requestTimeoutMs?: number;
}

const API_VERSIONS = 18;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** Above this much unsent output, writable() says stop (wait for 'drain'). */
const WRITE_HIGH_WATER_BYTES = 4 * 1024 * 1024;
/** Output this big is written at once rather than at the end of the turn. */
const FLUSH_BYTES = 256 * 1024;
const TIMEOUT_CHECK_MS = 1000;

interface Pending {
  readonly apiKey: ApiKeyNumber;
  readonly version: number;
  readonly correlationId: number;
  readonly sentMs: number;
  resolve(body: unknown): void;
  reject(err: KafkaClientError): void;
}

export interface VersionRange {
  readonly min: number;
  readonly max: number;
}

/**
 * Events: 'close' (error: KafkaClientError | undefined; undefined after our own close()),
 * 'drain' (writable() is true again).
 */
export class KafkaConnection extends EventEmitter {
  private readonly socket: Socket;
  private readonly parser: KafkaFrameParser;
  private readonly pending: Pending[] = [];
  /** Index of the oldest pending request in `pending` (a FIFO without shift()). */
  private head = 0;
  private readonly out: Buffer[] = [];
  private outBytes = 0;
  private flushScheduled = false;
  private nextCorrelationId = 1;
  private readonly timeoutTimer: NodeJS.Timeout;
  private versions = new Map<number, VersionRange>();
  private closed = false;
  /** close() callers waiting for the requests in flight. */
  private readonly idleWaiters: (() => void)[] = [];
  /** Why the connection ended; undefined while open and after our own close(). */
  error: KafkaClientError | undefined;

  private constructor(
    readonly host: string,
    readonly port: number,
    private readonly options: KafkaConnectOptions,
  ) {
    super();
    this.parser = new KafkaFrameParser({
      onFrame: (frame) => this.onFrame(frame),
      onError: (e) => this.fail(new KafkaClientError(`unreadable response from ${this.where}: ${e.message}`)),
    });
    this.socket = netConnect({ host, port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.parser.push(chunk));
    this.socket.on('drain', () => this.emit('drain'));
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.fail(new KafkaClientError(`connection to ${this.where} failed: ${err.code ?? err.message}`)));
    this.socket.on('close', () => this.fail(new KafkaClientError(`connection to ${this.where} lost: the broker closed the socket`)));
    const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.timeoutTimer = setInterval(() => {
      const oldest = this.pending[this.head];
      if (oldest !== undefined && performance.now() - oldest.sentMs > requestTimeoutMs) {
        this.fail(new KafkaClientError(`request to ${this.where} (api key ${oldest.apiKey}) unanswered after ${requestTimeoutMs} ms`));
      }
    }, TIMEOUT_CHECK_MS);
    this.timeoutTimer.unref();
  }

  /** Connects and learns the broker's API versions. Rejects with a KafkaClientError saying why. */
  static async open(host: string, port: number, options: KafkaConnectOptions = {}): Promise<KafkaConnection> {
    const c = new KafkaConnection(host, port, options);
    const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new KafkaClientError(`timed out after ${timeoutMs} ms connecting to ${c.where}`)), timeoutMs);
    });
    try {
      const res = await Promise.race([c.request(API_VERSIONS, 0, {}), timeout]);
      if (res.errorCode !== 0) throw new KafkaClientError(`ApiVersions from ${c.where}: ${res.errorCode} ${errorCodeName(res.errorCode)}`, res.errorCode);
      c.versions = new Map(res.apiKeys.map((k) => [k.apiKey, { min: k.minVersion, max: k.maxVersion }]));
      return c;
    } catch (err) {
      c.destroy();
      throw err instanceof KafkaClientError ? err : new KafkaClientError(`connecting to ${c.where}: ${String(err)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  get where(): string {
    return `${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Requests sent and not answered yet. */
  get inFlight(): number {
    return this.pending.length - this.head;
  }

  /** The broker's version range of an API, if it serves it. */
  brokerVersions(apiKey: number): VersionRange | undefined {
    return this.versions.get(apiKey);
  }

  /**
   * The highest version of `apiKey` both the broker and the codecs speak, at most `highest`.
   * Throws a KafkaClientError when there is none.
   */
  version(apiKey: ApiKeyNumber, highest = Infinity): number {
    const broker = this.versions.get(apiKey);
    const codec = API_CODECS[apiKey];
    if (broker === undefined) throw new KafkaClientError(`${this.where} does not serve ${codec.name} (api key ${apiKey})`);
    const ours = Math.min(highest, apiInfo(apiKey)?.maxVersion ?? 0);
    const v = Math.min(ours, broker.max);
    if (v < broker.min) throw new KafkaClientError(`${this.where} serves ${codec.name} v${broker.min}-${broker.max}; this client speaks up to v${ours}`);
    return v;
  }

  /** False while unsent output is above the high-water mark; wait for 'drain'. */
  writable(): boolean {
    return this.outBytes + this.socket.writableLength < WRITE_HIGH_WATER_BYTES;
  }

  /** Sends a request and resolves with the decoded response body. */
  request<K extends ApiKeyNumber>(apiKey: K, version: number, body: Input<RequestOf<K>>): Promise<ResponseOf<K>> {
    if (this.closed) return Promise.reject(this.error ?? new KafkaClientError(`connection to ${this.where} is closed`));
    return new Promise<ResponseOf<K>>((resolve, reject) => {
      const correlationId = this.send(apiKey, version, body);
      this.pending.push({ apiKey, version, correlationId, sentMs: performance.now(), resolve: resolve as (b: unknown) => void, reject });
    });
  }

  /** Sends a request the broker does not answer (Produce with acks=0). */
  sendOnly<K extends ApiKeyNumber>(apiKey: K, version: number, body: Input<RequestOf<K>>): void {
    if (this.closed) throw this.error ?? new KafkaClientError(`connection to ${this.where} is closed`);
    this.send(apiKey, version, body);
  }

  private send<K extends ApiKeyNumber>(apiKey: K, version: number, body: Input<RequestOf<K>>): number {
    const correlationId = this.nextCorrelationId;
    this.nextCorrelationId = correlationId === 0x7fffffff ? 1 : correlationId + 1;
    const frame = encodeRequest(apiKey, version, correlationId, this.options.clientId ?? 'wharf-client', body);
    for (const chunk of frame) {
      this.out.push(chunk);
      this.outBytes += chunk.length;
    }
    if (this.outBytes >= FLUSH_BYTES) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
    return correlationId;
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.out.length === 0 || this.closed) return;
    this.socket.cork();
    for (const chunk of this.out) this.socket.write(chunk);
    this.socket.uncork();
    this.out.length = 0;
    this.outBytes = 0;
  };

  private onFrame(frame: Buffer): void {
    if (this.closed) return;
    const p = this.pending[this.head];
    if (p === undefined) return this.fail(new KafkaClientError(`${this.where} sent a response nobody asked for`));
    let body: unknown;
    try {
      const correlationId = responseCorrelationId(frame);
      if (correlationId !== p.correlationId) {
        return this.fail(new KafkaClientError(`${this.where} answered correlation id ${correlationId}, expected ${p.correlationId}`));
      }
      body = decodeResponse(p.apiKey, p.version, frame).body;
    } catch (err) {
      const why = err instanceof KafkaProtocolError ? err.message : String(err);
      return this.fail(new KafkaClientError(`unreadable response from ${this.where} (api key ${p.apiKey} v${p.version}): ${why}`));
    }
    this.pending[this.head++] = undefined as unknown as Pending;
    if (this.head === this.pending.length) {
      this.pending.length = 0;
      this.head = 0;
      for (const idle of this.idleWaiters.splice(0)) setImmediate(idle);
    } else if (this.head >= 1024) {
      this.pending.splice(0, this.head);
      this.head = 0;
    }
    p.resolve(body);
  }

  /** Closes after the requests in flight are answered (or fail). */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.inFlight > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    this.finish(undefined);
  }

  /** Drops the socket; requests in flight fail. */
  destroy(): void {
    this.finish(new KafkaClientError(`connection to ${this.where} closed by the client`));
  }

  private fail(err: KafkaClientError): void {
    this.finish(err);
  }

  /** The one way out: every path that ends the connection comes here once. */
  private finish(error: KafkaClientError | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.error = error;
    clearInterval(this.timeoutTimer);
    this.socket.destroy();
    const failed = error ?? new KafkaClientError(`connection to ${this.where} closed`);
    const waiting = this.pending.slice(this.head);
    this.pending.length = 0;
    this.head = 0;
    for (const p of waiting) p.reject(failed);
    for (const idle of this.idleWaiters.splice(0)) idle();
    this.emit('close', error);
  }
}

