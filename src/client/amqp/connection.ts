// A small, fast AMQP 0-9-1 client connection on the project's own codecs: the
// handshake (§2.2.4: start/start-ok with PLAIN, tune/tune-ok, open/open-ok),
// channel multiplexing, heartbeats, blocked/unblocked, and both ways of closing.
//
// Output is batched: frames accumulate in one FrameWriter and go to the socket
// in one write per event-loop turn, or as soon as FLUSH_BYTES have piled up,
// so a publisher that sends a burst in a loop makes a few large writes. While
// an incoming chunk is being handled nothing is written; whatever the handlers
// sent (acks, replies) goes out in one write at the end of the chunk.

import { EventEmitter } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import {
  AmqpProtocolError,
  CommandAssembler,
  FrameParser,
  FrameWriter,
  PROTOCOL_HEADER,
  ReplyCode,
  replyCodeName,
  type Command,
  type Method,
} from '../../protocol/amqp/index.js';
import { Channel } from './channel.js';
import { DeliveryFastPath } from './deliveries.js';
import { AmqpClientError, closedByBroker } from './errors.js';
import { parseAmqpUrl, type AmqpUrl } from './url.js';

export interface ConnectOptions {
  /** Overrides the URL's heartbeat (seconds); 0 (the default) turns heartbeats off. */
  heartbeatSec?: number;
  /** Shown by the broker's management tools (client property connection_name). */
  connectionName?: string;
  /** Gives up on connecting and the handshake after this long (10 s). */
  timeoutMs?: number;
}

/** Above this much unsent output, writable() says stop (publishers wait for 'drain'). */
const WRITE_HIGH_WATER_BYTES = 256 * 1024;
/** A burst that piles up this much is written at once rather than at the end of the turn. */
const FLUSH_BYTES = 64 * 1024;
/** Channel ids we offer; the broker's tune may lower it (0 there means no limit: 65535). */
const CHANNEL_MAX = 2047;
const DEFAULT_TIMEOUT_MS = 10_000;
const CLOSE_OK_TIMEOUT_MS = 5_000;

type State = 'handshake' | 'open' | 'closing' | 'closed';

/** Opens a connection: TCP, then the AMQP handshake. Rejects with an AmqpClientError saying why. */
export function connect(url: string, options: ConnectOptions = {}): Promise<Connection> {
  let params: AmqpUrl;
  try {
    params = parseAmqpUrl(url);
  } catch (err) {
    return Promise.reject(err);
  }
  if (options.heartbeatSec !== undefined) params = { ...params, heartbeatSec: options.heartbeatSec };
  return new Promise((resolve, reject) => {
    new Connection(params, options, resolve, reject);
  });
}

/**
 * Events: 'close' (error: AmqpClientError | undefined: undefined after our own
 * close()), 'blocked' (reason), 'unblocked', 'drain' (writable() is true again).
 */
export class Connection extends EventEmitter {
  private readonly socket: Socket;
  private readonly parser: FrameParser;
  private readonly assembler: CommandAssembler;
  private readonly deliveries = new DeliveryFastPath((channel, d, header, body) => this.channels.get(channel)?.deliver(d, header, body));
  private readonly writer = new FrameWriter();
  private readonly channels = new Map<number, Channel>();
  private state: State = 'handshake';
  private channelMax = CHANNEL_MAX;
  private nextChannelId = 1;
  private inRead = false;
  private flushScheduled = false;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeatSec = 0;
  private lastReceivedMs = Date.now();
  private lastSentMs = Date.now();
  private closeResolvers: (() => void)[] = [];
  /** Why the connection ended; undefined while open and after our own clean close. */
  error: AmqpClientError | undefined;
  blocked = false;

  /** @internal use connect(). */
  constructor(
    private readonly params: AmqpUrl,
    private readonly options: ConnectOptions,
    private onOpen: ((c: Connection) => void) | undefined,
    private onOpenFailed: ((e: AmqpClientError) => void) | undefined,
  ) {
    super();
    this.parser = new FrameParser(
      {
        onProtocolHeader: () => undefined,
        onFrame: (f) => {
          if (!this.deliveries.take(f)) this.assembler.handleFrame(f);
        },
        onError: (e) => this.protocolError(e),
      },
      0,
      false,
    );
    this.assembler = new CommandAssembler((c) => this.onCommand(c), 0);
    this.socket = netConnect({ host: params.host, port: params.port, noDelay: true });
    this.socket.on('connect', () => this.socket.write(PROTOCOL_HEADER));
    this.socket.on('data', (chunk) => this.onData(chunk));
    this.socket.on('drain', () => this.emit('drain'));
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.lost(this.socketErrorText(err)));
    this.socket.on('close', () => this.lost('connection lost: the broker closed the socket'));
    this.handshakeTimer = setTimeout(
      () => this.lost(`timed out after ${options.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms connecting to ${this.where()}`),
      options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    );
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** False while unsent output is above the high-water mark; wait for 'drain'. */
  writable(): boolean {
    return this.writer.length + this.socket.writableLength < WRITE_HIGH_WATER_BYTES;
  }

  /** Opens a new channel. */
  async channel(): Promise<Channel> {
    if (this.state !== 'open') throw this.error ?? new AmqpClientError('connection is closed');
    const id = this.allocateChannelId();
    const ch = new Channel(this, id);
    this.channels.set(id, ch);
    await ch.open();
    return ch;
  }

  /** Closes cleanly (connection.close 200, waits for close-ok). */
  close(): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    const done = new Promise<void>((resolve) => this.closeResolvers.push(resolve));
    if (this.state === 'open' || this.state === 'handshake') {
      this.state = 'closing';
      this.sendMethod(0, { name: 'connection.close', replyCode: ReplyCode.REPLY_SUCCESS, replyText: 'OK', classId: 0, methodId: 0 });
      this.flush();
      setTimeout(() => this.finish(undefined), CLOSE_OK_TIMEOUT_MS).unref();
    }
    return done;
  }

  /** Drops the socket without a close handshake. */
  destroy(): void {
    this.finish(new AmqpClientError('connection destroyed by the client'));
  }

  /** @internal */
  sendMethod(channel: number, m: Method): void {
    this.writer.method(channel, m);
    this.scheduleFlush();
  }

  /** @internal */
  sendContent(channel: number, m: Method, rawProperties: Buffer, body: Buffer): void {
    this.writer.method(channel, m);
    this.writer.content(channel, 60, rawProperties, body);
    this.scheduleFlush();
  }

  /** @internal a channel that finished closing. */
  releaseChannel(id: number): void {
    this.channels.delete(id);
    this.assembler.resetChannel(id);
    this.deliveries.resetChannel(id);
  }

  private allocateChannelId(): number {
    for (let tries = 0; tries < this.channelMax; tries++) {
      const id = this.nextChannelId;
      this.nextChannelId = id >= this.channelMax ? 1 : id + 1;
      if (!this.channels.has(id)) return id;
    }
    throw new AmqpClientError(`no free channel: all ${this.channelMax} are open`);
  }

  private onData(chunk: Buffer): void {
    this.lastReceivedMs = Date.now();
    this.inRead = true;
    try {
      this.parser.push(chunk);
    } catch (err) {
      if (err instanceof AmqpProtocolError) this.protocolError(err);
      else throw err;
    } finally {
      this.inRead = false;
    }
    for (const ch of this.channels.values()) ch.onReadEnd?.();
    this.flush();
  }

  private onCommand(c: Command): void {
    if (c.channel === 0) {
      this.onConnectionMethod(c.method);
      return;
    }
    const ch = this.channels.get(c.channel);
    // Frames for a channel we already forgot (after close-ok) are dropped, as §2.3.5.2 allows.
    if (ch !== undefined) ch.handleCommand(c);
  }

  private onConnectionMethod(m: Method): void {
    switch (m.name) {
      case 'connection.start':
        return this.onStart(m.mechanisms);
      case 'connection.tune':
        return this.onTune(m.channelMax, m.frameMax, m.heartbeat);
      case 'connection.open-ok':
        return this.onOpenOk();
      case 'connection.close': {
        this.sendMethod(0, { name: 'connection.close-ok' });
        this.flush();
        const during = this.state === 'handshake' ? ' during the handshake' : '';
        this.finish(closedByBroker(`connection${during}`, m.replyCode, m.replyText, true));
        return;
      }
      case 'connection.close-ok':
        this.finish(this.state === 'closing' ? undefined : new AmqpClientError('unexpected connection.close-ok'));
        return;
      case 'connection.blocked':
        this.blocked = true;
        this.emit('blocked', m.reason);
        return;
      case 'connection.unblocked':
        this.blocked = false;
        this.emit('unblocked');
        return;
      default:
        this.protocolError(new AmqpProtocolError(ReplyCode.COMMAND_INVALID, `unexpected ${m.name} on channel 0`));
    }
  }

  private onStart(mechanisms: Buffer): void {
    if (!mechanisms.toString('utf8').split(' ').includes('PLAIN')) {
      this.finish(new AmqpClientError(`the broker does not offer PLAIN authentication (it offers: ${mechanisms.toString('utf8')})`));
      return;
    }
    const { username, password } = this.params;
    this.sendMethod(0, {
      name: 'connection.start-ok',
      clientProperties: {
        product: 'wharf-client',
        platform: `Node.js ${process.version}`,
        capabilities: {
          publisher_confirms: true,
          consumer_cancel_notify: true,
          'basic.nack': true,
          'connection.blocked': true,
          authentication_failure_close: true,
        },
        ...(this.options.connectionName === undefined ? {} : { connection_name: this.options.connectionName }),
      },
      mechanism: 'PLAIN',
      response: Buffer.from(`\0${username}\0${password}`, 'utf8'),
      locale: 'en_US',
    });
  }

  private onTune(channelMax: number, frameMax: number, heartbeatSec: number): void {
    // §4.2.3 / connection.tune: 0 means "no limit" from the broker; take the lower of both sides.
    this.channelMax = channelMax === 0 ? CHANNEL_MAX : Math.min(channelMax, CHANNEL_MAX);
    const ours = this.params.frameMaxBytes;
    const frameMaxBytes = frameMax === 0 ? ours : ours === 0 ? frameMax : Math.min(frameMax, ours);
    this.heartbeatSec = this.params.heartbeatSec === 0 ? 0 : heartbeatSec === 0 ? this.params.heartbeatSec : Math.min(heartbeatSec, this.params.heartbeatSec);
    this.writer.setFrameMax(frameMaxBytes);
    this.parser.setFrameMax(frameMaxBytes);
    this.sendMethod(0, { name: 'connection.tune-ok', channelMax: this.channelMax, frameMax: frameMaxBytes, heartbeat: this.heartbeatSec });
    this.sendMethod(0, { name: 'connection.open', virtualHost: this.params.vhost, capabilities: '', insist: false });
  }

  private onOpenOk(): void {
    clearTimeout(this.handshakeTimer);
    this.state = 'open';
    this.startHeartbeats();
    const resolve = this.onOpen;
    this.onOpen = this.onOpenFailed = undefined;
    resolve?.(this);
  }

  private startHeartbeats(): void {
    if (this.heartbeatSec <= 0) return;
    const intervalMs = (this.heartbeatSec * 1000) / 2;
    this.heartbeatTimer = setInterval(() => {
      const now = Date.now();
      if (now - this.lastReceivedMs > this.heartbeatSec * 2000) {
        this.lost(`connection lost: no heartbeat from the broker for ${this.heartbeatSec * 2} s`);
        return;
      }
      if (now - this.lastSentMs >= intervalMs) {
        this.writer.heartbeat();
        this.flush();
      }
    }, intervalMs);
    this.heartbeatTimer.unref();
  }

  private scheduleFlush(): void {
    if (this.inRead) return;
    if (this.writer.length >= FLUSH_BYTES) {
      this.flush();
      return;
    }
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const out = this.writer.take();
    if (out === undefined || this.socket.destroyed) return;
    this.lastSentMs = Date.now();
    this.socket.write(out);
  }

  private protocolError(e: AmqpProtocolError): void {
    if (this.state === 'closed') return;
    this.sendMethod(0, { name: 'connection.close', replyCode: e.replyCode, replyText: `${replyCodeName(e.replyCode)} - ${e.message}`, classId: e.classId, methodId: e.methodId });
    this.flush();
    this.finish(new AmqpClientError(`protocol error from the broker at ${this.where()}: ${e.message}`, e.replyCode));
  }

  private lost(text: string): void {
    if (this.state === 'closed') return;
    const hint = this.state === 'handshake' ? ' during the handshake (is this an AMQP 0-9-1 port? are the username, password and vhost right?)' : '';
    this.finish(new AmqpClientError(`${text}${hint}`));
  }

  private socketErrorText(err: NodeJS.ErrnoException): string {
    const code = err.code ?? err.message;
    if (this.state === 'handshake') return `cannot connect to ${this.where()}: ${code}`;
    return `connection to ${this.where()} lost: ${code}`;
  }

  private where(): string {
    const { host, port, vhost } = this.params;
    return `${host.includes(':') ? `[${host}]` : host}:${port} vhost '${vhost}'`;
  }

  /** The one way out: every path that ends the connection comes here once. */
  private finish(error: AmqpClientError | undefined): void {
    if (this.state === 'closed') return;
    const wasHandshake = this.state === 'handshake';
    this.state = 'closed';
    this.error = error;
    clearTimeout(this.handshakeTimer);
    clearInterval(this.heartbeatTimer);
    this.parser.stop();
    this.socket.destroy();
    const channelError = error ?? new AmqpClientError('connection closed');
    for (const ch of [...this.channels.values()]) ch.connectionClosed(channelError);
    this.channels.clear();
    if (wasHandshake && this.onOpenFailed !== undefined) {
      const reject = this.onOpenFailed;
      this.onOpen = this.onOpenFailed = undefined;
      reject(error ?? new AmqpClientError('connection closed during the handshake'));
    }
    for (const resolve of this.closeResolvers.splice(0)) resolve();
    this.emit('close', error);
  }
}
