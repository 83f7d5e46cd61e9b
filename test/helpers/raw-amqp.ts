// A deliberately tiny AMQP 0-9-1 client over node:net for tests that must
// send what no real client library would: bad frame ends, unknown methods,
// frames on unopened channels, oversized frames. It hand-encodes only the
// frames the handshake needs (§2.2.4) and decodes just enough of the
// server's replies (connection.tune, connection.close, channel.close).

import { Socket, connect as netConnect } from 'node:net';
import { WAIT_MS, withTimeout } from './async.js';

export const PROTOCOL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]); // "AMQP" 0 0 9 1
export const FRAME_METHOD = 1;
export const FRAME_HEADER = 2;
export const FRAME_BODY = 3;
export const FRAME_HEARTBEAT = 8;
export const FRAME_END = 0xce;

export interface Frame {
  type: number;
  channel: number;
  payload: Buffer;
  /** For method frames. */
  classId?: number;
  methodId?: number;
}

export interface Tune {
  channelMax: number;
  frameMax: number;
  heartbeat: number;
}

export interface CloseReply {
  replyCode: number;
  replyText: string;
  classId: number;
  methodId: number;
}

// ---- encoding -------------------------------------------------------------

export function shortstr(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  if (b.length > 255) throw new RangeError('shortstr too long');
  return Buffer.concat([Buffer.from([b.length]), b]);
}

export function longstr(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

export function u8(n: number): Buffer {
  return Buffer.from([n]);
}

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

export function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

export const EMPTY_TABLE = u32(0);

/** A field table holding 'F' (nested table) and 't' (boolean) values only. */
export function table(entries: Record<string, boolean | Record<string, boolean>>): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(entries)) {
    parts.push(shortstr(k));
    if (typeof v === 'boolean') parts.push(Buffer.from('t'), u8(v ? 1 : 0));
    else parts.push(Buffer.from('F'), table(v));
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([u32(body.length), body]);
}

/** client-properties announcing `capabilities` (none: an empty table). */
function clientProperties(capabilities: Record<string, boolean>): Buffer {
  return Object.keys(capabilities).length === 0 ? EMPTY_TABLE : table({ capabilities });
}

/** A whole frame: type, channel, size, payload, and the given end byte. */
export function frame(type: number, channel: number, payload: Buffer, end = FRAME_END): Buffer {
  return Buffer.concat([u8(type), u16(channel), u32(payload.length), payload, u8(end)]);
}

export function methodPayload(classId: number, methodId: number, args: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([u16(classId), u16(methodId), args]);
}

export function methodFrame(channel: number, classId: number, methodId: number, args?: Buffer): Buffer {
  return frame(FRAME_METHOD, channel, methodPayload(classId, methodId, args));
}

/**
 * A content header frame for basic (class 60); `properties` is the encoded
 * property-flags word followed by the property values (default: none).
 */
export function contentHeaderFrame(channel: number, bodySize: number, properties: Buffer = u16(0)): Buffer {
  return frame(FRAME_HEADER, channel, Buffer.concat([u16(60), u16(0), u64(bodySize), properties]));
}

export const method = {
  /**
   * With `authFailureClose`, asks for connection.close 403 on a failed login instead of a bare
   * hang-up; `capabilities` are announced in client-properties (e.g. consumer_cancel_notify).
   */
  startOk: (user: string, password: string, authFailureClose = false, capabilities: Record<string, boolean> = {}) =>
    methodFrame(0, 10, 11, Buffer.concat([
      clientProperties(authFailureClose ? { ...capabilities, authentication_failure_close: true } : capabilities),
      shortstr('PLAIN'),
      longstr(Buffer.from(`\0${user}\0${password}`, 'utf8')),
      shortstr('en_US'),
    ])),
  tuneOk: (t: Tune) => methodFrame(0, 10, 31, Buffer.concat([u16(t.channelMax), u32(t.frameMax), u16(t.heartbeat)])),
  open: (vhost = '/') => methodFrame(0, 10, 40, Buffer.concat([shortstr(vhost), shortstr(''), u8(0)])),
  closeOk: () => methodFrame(0, 10, 51),
  channelOpen: (ch: number) => methodFrame(ch, 20, 10, shortstr('')),
  channelClose: (ch: number, replyCode = 200, replyText = '') =>
    methodFrame(ch, 20, 40, Buffer.concat([u16(replyCode), shortstr(replyText), u16(0), u16(0)])),
  channelCloseOk: (ch: number) => methodFrame(ch, 20, 41),
  basicPublish: (ch: number, exchange: string, routingKey: string, mandatory = false) =>
    methodFrame(ch, 60, 40, Buffer.concat([u16(0), shortstr(exchange), shortstr(routingKey), u8(mandatory ? 1 : 0)])),
  basicGet: (ch: number, queue: string, noAck = true) =>
    methodFrame(ch, 60, 70, Buffer.concat([u16(0), shortstr(queue), u8(noAck ? 1 : 0)])),
  /** queue.declare with no-wait off; flags: bit0 passive, 1 durable, 2 exclusive, 3 auto-delete. */
  queueDeclare: (ch: number, queue: string, flags = 0) =>
    methodFrame(ch, 50, 10, Buffer.concat([u16(0), shortstr(queue), u8(flags), EMPTY_TABLE])),
  /** queue.delete with if-unused, if-empty and no-wait off. */
  queueDelete: (ch: number, queue: string) => methodFrame(ch, 50, 40, Buffer.concat([u16(0), shortstr(queue), u8(0)])),
  /** basic.consume with no-local, exclusive and no-wait off. */
  basicConsume: (ch: number, queue: string, consumerTag: string, noAck = true) =>
    methodFrame(ch, 60, 20, Buffer.concat([u16(0), shortstr(queue), shortstr(consumerTag), u8(noAck ? 2 : 0), EMPTY_TABLE])),
  basicCancel: (ch: number, consumerTag: string) => methodFrame(ch, 60, 30, Buffer.concat([shortstr(consumerTag), u8(0)])),
};

/** basic.publish with its content header and one body frame. */
export function publishFrames(ch: number, exchange: string, routingKey: string, body: Buffer): Buffer {
  return Buffer.concat([method.basicPublish(ch, exchange, routingKey), contentHeaderFrame(ch, body.length), frame(FRAME_BODY, ch, body)]);
}

// ---- decoding -------------------------------------------------------------

function readShortstr(buf: Buffer, offset: number): [string, number] {
  const len = buf.readUInt8(offset);
  return [buf.toString('utf8', offset + 1, offset + 1 + len), offset + 1 + len];
}

/** Decodes connection.close (10,50) or channel.close (20,40) arguments. */
export function decodeClose(f: Frame): CloseReply {
  const p = f.payload;
  const replyCode = p.readUInt16BE(4);
  const [replyText, o] = readShortstr(p, 6);
  return { replyCode, replyText, classId: p.readUInt16BE(o), methodId: p.readUInt16BE(o + 2) };
}

const METHOD_NAMES: Readonly<Record<string, string>> = {
  '10.50': 'connection.close',
  '20.11': 'channel.open-ok',
  '20.40': 'channel.close',
  '20.41': 'channel.close-ok',
  '40.11': 'exchange.declare-ok',
  '50.11': 'queue.declare-ok',
  '50.41': 'queue.delete-ok',
  '60.11': 'basic.qos-ok',
  '60.21': 'basic.consume-ok',
  '60.30': 'basic.cancel',
  '60.31': 'basic.cancel-ok',
  '60.71': 'basic.get-ok',
  '60.72': 'basic.get-empty',
};

/** A frame for assertions on order: 'channel.close@1', 'basic.cancel@2', 'body@1', 'method 50.21@1'. */
export function label(f: Frame): string {
  if (f.type !== FRAME_METHOD) return `${f.type === FRAME_HEADER ? 'header' : f.type === FRAME_BODY ? 'body' : 'heartbeat'}@${f.channel}`;
  const id = `${f.classId}.${f.methodId}`;
  return `${METHOD_NAMES[id] ?? `method ${id}`}@${f.channel}`;
}

/** A method's first argument when it is a shortstr (basic.cancel's consumer tag, say). */
export function firstShortstr(f: Frame): string {
  return readShortstr(f.payload, 4)[0];
}

export function decodeTune(f: Frame): Tune {
  const p = f.payload;
  return { channelMax: p.readUInt16BE(4), frameMax: p.readUInt32BE(6), heartbeat: p.readUInt16BE(10) };
}

// ---- connection -----------------------------------------------------------

/** What the client asks for in the handshake; tune values default to the server's, heartbeat to 0. */
export type HandshakeOptions = Partial<Tune> & { user?: string; password?: string; capabilities?: Record<string, boolean> };

export class RawAmqp {
  private buffer = Buffer.alloc(0);
  private readonly frames: Frame[] = [];
  private waiter: (() => void) | undefined;
  private ended = false;

  /** True once the server has closed the socket. */
  get isClosed(): boolean {
    return this.ended;
  }
  /** Socket error, if any (EPIPE/ECONNRESET after the server hung up). */
  socketError: Error | undefined;
  /** Resolves when the socket is fully closed. */
  readonly closed: Promise<void>;
  private parsing = true;
  private static readonly live = new Set<RawAmqp>();

  /** Destroys every raw socket still open (afterEach), so no test leaves a handle behind. */
  static destroyAll(): void {
    for (const r of RawAmqp.live) r.destroy();
  }

  private constructor(readonly socket: Socket) {
    RawAmqp.live.add(this);
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      if (this.parsing) this.parse();
      this.wake();
    });
    socket.on('error', (err) => { this.socketError = err; });
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        RawAmqp.live.delete(this);
        this.ended = true;
        this.wake();
        resolve();
      });
    });
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<RawAmqp> {
    const socket = netConnect({ port, host });
    await withTimeout(new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    }), WAIT_MS, 'TCP connect');
    return new RawAmqp(socket);
  }

  /** Connects and completes the handshake; returns the server's tune and what was agreed. */
  static async open(port: number, host = '127.0.0.1', opts: HandshakeOptions = {}): Promise<{ raw: RawAmqp; serverTune: Tune }> {
    const raw = await RawAmqp.connect(port, host);
    const serverTune = await raw.handshake(opts);
    return { raw, serverTune };
  }

  /** Stops frame parsing: for replies that are not frames (the protocol header). */
  rawMode(): void {
    this.parsing = false;
  }

  /** Bytes received and not parsed into frames. */
  unparsed(): Buffer {
    return this.buffer;
  }

  write(data: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private parse(): void {
    while (this.buffer.length >= 7) {
      const size = this.buffer.readUInt32BE(3);
      if (this.buffer.length < size + 8) return;
      const type = this.buffer.readUInt8(0);
      const payload = this.buffer.subarray(7, 7 + size);
      const end = this.buffer.readUInt8(7 + size);
      if (end !== FRAME_END) throw new Error(`server sent a bad frame end 0x${end.toString(16)}`);
      const f: Frame = { type, channel: this.buffer.readUInt16BE(1), payload: Buffer.from(payload) };
      if (type === FRAME_METHOD && size >= 4) {
        f.classId = payload.readUInt16BE(0);
        f.methodId = payload.readUInt16BE(2);
      }
      this.frames.push(f);
      this.buffer = this.buffer.subarray(size + 8);
    }
  }

  /** Next frame from the server (heartbeats included); rejects if the socket closes first. */
  async nextFrame(ms = WAIT_MS): Promise<Frame> {
    const deadline = Date.now() + ms;
    for (;;) {
      const f = this.frames.shift();
      if (f) return f;
      if (this.ended) throw new Error('socket closed before the next frame');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for a frame`);
      await withTimeout(new Promise<void>((resolve) => { this.waiter = resolve; }), left, 'a frame').catch(() => {});
    }
  }

  /** The next frame as label() describes it. */
  async nextLabel(ms = WAIT_MS): Promise<string> {
    return label(await this.nextFrame(ms));
  }

  /** Skips heartbeats and other frames until method class.method arrives. */
  async expectMethod(classId: number, methodId: number, ms = WAIT_MS): Promise<Frame> {
    const deadline = Date.now() + ms;
    for (;;) {
      const f = await this.nextFrame(Math.max(1, deadline - Date.now()));
      if (f.type !== FRAME_METHOD) continue;
      if (f.classId === classId && f.methodId === methodId) return f;
      if (f.classId === 10 && f.methodId === 50) {
        const c = decodeClose(f);
        throw new Error(`connection closed by server while waiting for ${classId}.${methodId}: ${c.replyCode} ${c.replyText}`);
      }
    }
  }

  async handshake(opts: HandshakeOptions = {}): Promise<Tune> {
    this.write(PROTOCOL_HEADER);
    await this.expectMethod(10, 10);
    this.write(method.startOk(opts.user ?? 'guest', opts.password ?? 'guest', false, opts.capabilities));
    const serverTune = decodeTune(await this.expectMethod(10, 30));
    this.write(method.tuneOk({
      channelMax: opts.channelMax ?? serverTune.channelMax,
      frameMax: opts.frameMax ?? serverTune.frameMax,
      heartbeat: opts.heartbeat ?? 0,
    }));
    this.write(method.open('/'));
    await this.expectMethod(10, 41);
    return serverTune;
  }

  async openChannel(ch: number): Promise<void> {
    this.write(method.channelOpen(ch));
    await this.expectMethod(20, 11);
  }

  /**
   * Waits for connection.close from the server, answers close-ok, and
   * resolves with its reply once the server has closed the socket.
   */
  async expectConnectionClose(ms = WAIT_MS): Promise<CloseReply> {
    const f = await this.expectMethodOrClose(10, 50, ms);
    const reply = decodeClose(f);
    this.write(method.closeOk());
    await withTimeout(this.closed, ms, 'the server to close the socket after connection.close-ok');
    return reply;
  }

  /** Waits for channel.close on `ch` and answers close-ok. */
  async expectChannelClose(ch: number, ms = WAIT_MS): Promise<CloseReply> {
    const deadline = Date.now() + ms;
    for (;;) {
      const f = await this.nextFrame(Math.max(1, deadline - Date.now()));
      if (f.type !== FRAME_METHOD) continue;
      if (f.classId === 10 && f.methodId === 50) {
        const c = decodeClose(f);
        throw new Error(`expected channel.close, got connection.close ${c.replyCode} ${c.replyText}`);
      }
      if (f.channel === ch && f.classId === 20 && f.methodId === 40) {
        this.write(method.channelCloseOk(ch));
        return decodeClose(f);
      }
    }
  }

  private async expectMethodOrClose(classId: number, methodId: number, ms: number): Promise<Frame> {
    const deadline = Date.now() + ms;
    for (;;) {
      const f = await this.nextFrame(Math.max(1, deadline - Date.now()));
      if (f.type === FRAME_METHOD && f.classId === classId && f.methodId === methodId) return f;
    }
  }
}
