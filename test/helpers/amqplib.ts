// amqplib glue for the integration suites: connections and channels that
// never crash the test process on a server-initiated close (amqplib emits
// 'error', which throws if nobody listens), reply code/text extraction from
// amqplib's errors, consumers that collect n messages, cleanup that always
// finishes, and useBroker(), the broker-plus-clients set-up of a suite.

import { connect } from 'amqplib';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, Options, SocketOptions } from 'amqplib';
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach } from 'node:test';
import { Collector, WAIT_MS, once, withTimeout } from './async.js';
import { startTestBroker, type TestBroker, type TestBrokerOptions } from './broker.js';

const CLOSE_MS = 5_000;

/** Reply code and text of a connection.close or channel.close sent by the server. */
export interface AmqpReply {
  code: number;
  text: string;
}

/** The error amqplib reports for a server close; code is the AMQP reply code. */
export interface AmqpError extends Error {
  code?: number;
  classId?: number;
  methodId?: number;
}

/** Reads reply code and text out of an amqplib error ("... with message \"TEXT\""). */
export function replyOf(err: unknown): AmqpReply {
  assert.ok(err instanceof Error, `expected an Error, got ${String(err)}`);
  const e = err as AmqpError;
  // amqplib formats every server close as '<code> (<NAME>) with message "<text>"';
  // errors from the opening handshake carry no `code` property, only the text.
  const m = /(\d{3}) \([A-Z_-]+\) with message "([\s\S]*)"$/.exec(e.message);
  assert.ok(m, `no server reply in error message: ${e.message}`);
  return { code: typeof e.code === 'number' ? e.code : Number(m[1]), text: m[2] };
}

/**
 * Awaits a promise that must reject because the server closed the channel or
 * connection, and checks reply code and (when given) exact reply text or a pattern.
 */
export async function assertRejectsWith(
  promise: Promise<unknown>,
  code: number,
  text?: string | RegExp,
): Promise<AmqpReply> {
  let err: unknown;
  try {
    await withTimeout(promise, WAIT_MS, `a close with ${code}`);
  } catch (e) {
    err = e;
  }
  assert.ok(err !== undefined, `expected the server to close with ${code}, but the operation succeeded`);
  const reply = replyOf(err);
  assert.equal(reply.code, code, `reply code (text: ${reply.text})`);
  if (typeof text === 'string') assert.equal(reply.text, text);
  else if (text) assert.match(reply.text, text);
  return reply;
}

/** Checks a reply (e.g. from a channel's 'error' event) against code and text. */
export function assertReply(err: unknown, code: number, text?: string | RegExp): AmqpReply {
  const reply = replyOf(err);
  assert.equal(reply.code, code, `reply code (text: ${reply.text})`);
  if (typeof text === 'string') assert.equal(reply.text, text);
  else if (text) assert.match(reply.text, text);
  return reply;
}

/** A channel plus the errors the server closed it with. */
export interface Watched {
  /** Errors emitted by the channel or connection, in order. */
  readonly errors: AmqpError[];
  /** Resolves with the first error emitted ('error' event) by the server's close. */
  readonly closedByServer: Promise<AmqpError>;
}

/**
 * Exceptions amqplib hit while handling frames from the server (e.g. "Unknown
 * consumer" for a delivery to a consumer tag it does not know). Without a
 * 'handler-error' listener amqplib throws them out of its socket handler and
 * the test process dies; Clients.closeAll fails the test instead.
 */
const handlerErrors: Error[] = [];

function watch(emitter: Channel | ChannelModel | ConfirmChannel): Watched {
  const errors: AmqpError[] = [];
  let resolveClosed: (e: AmqpError) => void = () => {};
  const closedByServer = new Promise<AmqpError>((resolve) => { resolveClosed = resolve; });
  emitter.on('error', (err: AmqpError) => {
    errors.push(err);
    resolveClosed(err);
  });
  emitter.on('handler-error', (err: Error, event: string) => {
    handlerErrors.push(new Error(`amqplib failed handling '${event}' from the server: ${err?.message ?? String(err)}`));
  });
  return { errors, closedByServer };
}

const watched = new WeakMap<object, Watched>();

/** The error record of a connection or channel opened through Clients. */
export function watchOf(emitter: Channel | ChannelModel | ConfirmChannel): Watched {
  const w = watched.get(emitter);
  assert.ok(w, 'not opened through Clients');
  return w;
}

/** Resolves with the error the server closed this channel/connection with. */
export function serverClose(emitter: Channel | ChannelModel | ConfirmChannel, ms = WAIT_MS): Promise<AmqpError> {
  return withTimeout(watchOf(emitter).closedByServer, ms, 'the server to close');
}

/**
 * Opens amqplib connections for one test and closes all of them, plus any
 * queues and exchanges registered for deletion, at the end.
 */
export class Clients {
  private readonly connections: ChannelModel[] = [];
  private readonly queues = new Set<string>();
  private readonly exchanges = new Set<string>();

  constructor(readonly url: string) {}

  async connect(socketOptions?: SocketOptions, url: string | Options.Connect = this.url): Promise<ChannelModel> {
    const conn = await withTimeout(connect(url, socketOptions), WAIT_MS, 'amqplib.connect');
    watched.set(conn, watch(conn));
    this.connections.push(conn);
    return conn;
  }

  /** A channel on `conn`, or on a new connection. */
  async channel(conn?: ChannelModel): Promise<Channel> {
    const c = conn ?? (await this.connect());
    const ch = await withTimeout(c.createChannel(), WAIT_MS, 'createChannel');
    watched.set(ch, watch(ch));
    return ch;
  }

  async confirmChannel(conn?: ChannelModel): Promise<ConfirmChannel> {
    const c = conn ?? (await this.connect());
    const ch = await withTimeout(c.createConfirmChannel(), WAIT_MS, 'createConfirmChannel');
    watched.set(ch, watch(ch));
    return ch;
  }

  /** Deletes the queue when the test ends (matters against a shared reference broker). */
  deleteLater(queue: string): string {
    this.queues.add(queue);
    return queue;
  }

  deleteExchangeLater(exchange: string): string {
    this.exchanges.add(exchange);
    return exchange;
  }

  /** Closes everything; fails if amqplib choked on anything the server sent meanwhile. */
  async closeAll(): Promise<void> {
    if (this.queues.size > 0 || this.exchanges.size > 0) await this.cleanupTopology();
    await Promise.all(this.connections.map((c) => closeQuietly(c)));
    this.connections.length = 0;
    const failures = handlerErrors.splice(0);
    if (failures.length > 0) throw failures[0];
  }

  private async cleanupTopology(): Promise<void> {
    try {
      const conn = await this.connect();
      for (const q of this.queues) {
        const ch = await this.channel(conn);
        await ch.deleteQueue(q).catch(() => {});
        await ch.close().catch(() => {});
      }
      for (const x of this.exchanges) {
        const ch = await this.channel(conn);
        await ch.deleteExchange(x).catch(() => {});
        await ch.close().catch(() => {});
      }
    } catch {
      // best effort: the broker may be gone already
    }
    this.queues.clear();
    this.exchanges.clear();
  }
}

/** The broker of a describe block and the current test's clients; see useBroker. */
export interface BrokerScope {
  readonly broker: TestBroker;
  readonly clients: Clients;
  /** Closes the test's clients, restarts the broker and gives the test new clients for its new URL. */
  restart(): Promise<void>;
}

export interface BrokerScopeHooks {
  /** Runs after each test, before its clients close (e.g. to clear an alarm that would block them). */
  beforeClose?: () => unknown;
}

/**
 * Registers the node:test hooks of the current describe block: one broker for
 * the block (startTestBroker(opts)), new Clients before each test, all closed
 * after it. Read `broker` and `clients` from the result inside tests and hooks.
 */
export function useBroker(opts?: TestBrokerOptions, hooks: BrokerScopeHooks = {}): BrokerScope {
  let broker: TestBroker | undefined;
  let clients: Clients | undefined;
  before(async () => {
    broker = await startTestBroker(opts);
  });
  after(async () => {
    await broker?.close();
  });
  beforeEach(() => {
    clients = new Clients(scope.broker.url);
  });
  afterEach(async () => {
    await hooks.beforeClose?.();
    await clients?.closeAll();
  });
  const scope: BrokerScope = {
    get broker() {
      assert.ok(broker, 'useBroker: the broker is not started yet (read it inside a test or hook)');
      return broker;
    },
    get clients() {
      assert.ok(clients, 'useBroker: no clients yet (read them inside a test or hook)');
      return clients;
    },
    async restart() {
      await scope.clients.closeAll();
      await scope.broker.restart();
      clients = new Clients(scope.broker.url);
    },
  };
  return scope;
}

/** Closes a connection; if the server does not answer, drops the socket. */
export async function closeQuietly(conn: ChannelModel): Promise<void> {
  try {
    await withTimeout(conn.close(), CLOSE_MS, 'connection.close-ok');
  } catch {
    destroySocket(conn);
  }
}

/** Drops the TCP connection without an AMQP close, as a crashed client would. */
export function destroySocket(conn: ChannelModel): void {
  const c = conn.connection as unknown as { stream?: { destroy(): void }; onSocketError?: (err: Error) => void };
  c.stream?.destroy();
  // destroy() emits no 'end', so amqplib would not notice and its heartbeat
  // timer would keep the test process alive for minutes; tell it directly.
  c.onSocketError?.(new Error('socket destroyed by the test'));
}

/** The tuned values amqplib negotiated (not in its typings). */
export function tunedOf(conn: ChannelModel): { heartbeat: number; frameMax: number; channelMax: number } {
  const c = conn.connection as unknown as { heartbeat: number; frameMax: number; channelMax: number };
  return { heartbeat: c.heartbeat, frameMax: c.frameMax, channelMax: c.channelMax };
}

/**
 * Consumes from `queue` into a Collector; `null` (server-sent basic.cancel)
 * resolves `cancelled`.
 */
export async function consumeInto(
  ch: Channel,
  queue: string,
  options: Options.Consume = {},
): Promise<{ collector: Collector<ConsumeMessage>; consumerTag: string; cancelled: Promise<void> }> {
  const collector = new Collector<ConsumeMessage>();
  let onCancel: () => void = () => {};
  const cancelled = new Promise<void>((resolve) => { onCancel = resolve; });
  const { consumerTag } = await withTimeout(
    ch.consume(queue, (msg) => (msg === null ? onCancel() : collector.push(msg)), options),
    WAIT_MS,
    `basic.consume-ok on ${queue}`,
  );
  return { collector, consumerTag, cancelled };
}

/**
 * Consumes until `n` messages arrive, cancels the consumer, returns them.
 * For queues that get exactly `n` messages: with noAck, anything delivered
 * past `n` before the cancel takes effect would be lost.
 */
export async function collect(
  ch: Channel,
  queue: string,
  n: number,
  options: Options.Consume = {},
): Promise<ConsumeMessage[]> {
  const { collector, consumerTag } = await consumeInto(ch, queue, options);
  const msgs = await collector.waitFor(n);
  await ch.cancel(consumerTag);
  return msgs;
}

/** Message bodies as strings. */
export function bodies(msgs: { content: Buffer }[]): string[] {
  return msgs.map((m) => m.content.toString());
}

/** Takes every ready message of `queue` with basic.get (no ack), in order. */
export async function drainBodies(ch: Channel, queue: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const m = await ch.get(queue, { noAck: true });
    if (!m) return out;
    out.push(m.content.toString());
  }
}

/** Publishes bodies to a queue through the default exchange. */
export function sendAll(ch: Channel, queue: string, items: string[], options?: Options.Publish): void {
  for (const s of items) ch.sendToQueue(queue, Buffer.from(s), options);
}

/**
 * Waits until the broker reports `ready` messages in `queue` (publishes are
 * asynchronous, so a test syncs on the broker's own count).
 */
export async function waitForReady(ch: Channel, queue: string, ready: number, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await ch.checkQueue(queue);
    if (ok.messageCount === ready) return;
    if (Date.now() > deadline) {
      assert.fail(`queue ${queue} has ${ok.messageCount} ready messages, expected ${ready}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Method ids amqplib's typings do not expose, for Channel.rpc. */
export const METHOD = {
  channelFlow: (20 << 16) | 20,
  channelFlowOk: (20 << 16) | 21,
  txSelect: (90 << 16) | 10,
  txSelectOk: (90 << 16) | 11,
  txCommit: (90 << 16) | 20,
  txCommitOk: (90 << 16) | 21,
  txRollback: (90 << 16) | 30,
  txRollbackOk: (90 << 16) | 31,
} as const;

type Rpc = (method: number, fields: Record<string, unknown>, expect: number) => Promise<Record<string, unknown>>;

/** amqplib's Channel.rpc (untyped): sends a method and awaits its reply. */
export function rpc(ch: Channel, method: number, fields: Record<string, unknown>, expect: number): Promise<Record<string, unknown>> {
  const fn = (ch as unknown as { rpc: Rpc }).rpc.bind(ch);
  return withTimeout(fn(method, fields, expect), WAIT_MS, `reply to method ${method >> 16}.${method & 0xffff}`);
}

export const tx = {
  select: (ch: Channel) => rpc(ch, METHOD.txSelect, {}, METHOD.txSelectOk),
  commit: (ch: Channel) => rpc(ch, METHOD.txCommit, {}, METHOD.txCommitOk),
  rollback: (ch: Channel) => rpc(ch, METHOD.txRollback, {}, METHOD.txRollbackOk),
};

export { once };
