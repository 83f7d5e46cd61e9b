// One AMQP 0-9-1 client connection: handshake (§2.2.4), heartbeats, the
// channel table, error handling by the spec's close rules, batched socket
// writes (one write per event-loop turn), and blocking by resource alarms
// (RabbitMQ's connection.blocked / connection.unblocked).

import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Broker } from '../../broker/broker.js';
import type { ChannelInfo } from '../../broker/connections.js';
import type { ResourceAlarm } from '../../broker/resource-monitor.js';
import type { Vhost } from '../../broker/vhost.js';
import { logAuthFailure } from '../../broker/audit.js';
import { isLoopback } from '../../util/loopback.js';
import type { AccessGrant } from '../../broker/access/index.js';
import {
  AmqpProtocolError,
  CommandAssembler,
  FRAME_HEARTBEAT,
  FRAME_MIN_SIZE,
  FrameParser,
  FrameWriter,
  PROTOCOL_HEADER,
  ReplyCode,
  decodeTable,
  methodIds,
  replyCodeName,
  type Command,
  type Frame,
  type Method,
  type MethodOf,
} from '../../protocol/amqp/index.js';
import { latencyTrace, traceNow, type LatencyTrace } from '../../util/latency-trace.js';
import type { Logger } from '../../util/logger.js';
import { certLoginName, type CertLoginFrom } from '../../util/tls.js';
import { AmqpChannel } from './channel.js';
import { PublishBudget } from './publish-budget.js';
import { toAmqpFailure } from './errors.js';
import { serverProperties } from './properties.js';

export interface ConnectionLimits {
  readonly channelMax: number;
  readonly frameMax: number;
  readonly heartbeatSec: number;
  /** Time from accept (TLS: from the end of the TLS handshake) to connection.open (RabbitMQ's handshake_timeout, 10 s). */
  readonly handshakeTimeoutMs?: number;
  /** Where EXTERNAL takes the user name from (RabbitMQ's ssl_cert_login_from, default common_name). */
  readonly certLoginFrom?: CertLoginFrom;
  /** Larger message bodies close their channel with 406 (RabbitMQ's max_message_size); 0 = no limit. */
  readonly maxMessageBytes?: number;
  /** The connection's publish budget (publish-budget.ts); 0 = no limit. */
  readonly maxUnconfirmedBytes?: number;
}

type State = 'header' | 'start' | 'tune' | 'open' | 'running' | 'closing' | 'closed';

/** Output above this many buffered bytes pauses deliveries until the socket drains. */
const WRITE_HIGH_WATER_BYTES = 1024 * 1024;
/** Output backed up this long without draining: the client is not reading (for flow control, Queue.flowWait). */
const OUTPUT_STALL_MS = 1000;
const CLOSE_OK_TIMEOUT_MS = 3000;
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** pauseReading's key for a resource alarm (channels use their number). */
const ALARM = 'resource-alarm';
/**
 * Fair reading: a socket read larger than this is handled this many bytes per turn of
 * the event loop, so a connection sending flat out (libuv hands over up to 32 reads of
 * 64 KiB at once) cannot make every other connection wait for all of it. About 200
 * small publishes, well under a millisecond of work.
 */
const READ_QUANTUM_BYTES = 16 * 1024;
/** pauseReading's key while the rest of a large read waits for its next turn. */
const FAIR_READ = 'fair-read';

let connectionCounter = 0;
/** Batches (socket reads being handled) under way, nested ones included. */
let batchDepth = 0;
/**
 * Connections that queued output during a batch, such as a consumer's deliveries during
 * a publisher's read: written when the batch ends, not a turn of the event loop later
 * behind other work (another connection's next slice of a large read, for one).
 */
const outputDuringBatch: AmqpConnection[] = [];

export class AmqpConnection {
  readonly id = `conn-${++connectionCounter}`;
  private state: State = 'header';
  private readonly parser: FrameParser;
  private readonly assembler: CommandAssembler;
  private readonly writer: FrameWriter;
  private readonly channels = new Map<number, AmqpChannel>();
  /** Channels closed by the server, waiting for the client's channel.close-ok (see onClosingChannel). */
  private readonly closingChannels = new Set<number>();
  private flushScheduled = false;
  private blockedChannels = false;
  /** Date.now() when output last backed up past WRITE_HIGH_WATER_BYTES; 0 while it flows. */
  private backedUpSince = 0;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private lastReceived = Date.now();
  private lastSent = Date.now();
  private heartbeatSec = 0;
  private channelMax: number;
  private frameMax: number;
  private authMechanism = '';
  user = '';
  vhost: Vhost | undefined;
  /** What this connection's user may do in its vhost (set by connection.open). */
  grant: AccessGrant | undefined;
  clientProperties: Record<string, unknown> = {};
  readonly log: Logger;
  private inChunk = false;
  /** The part of a large socket read not handled yet (fair reading); the socket is paused meanwhile. */
  private unread: Buffer | undefined;
  private unreadScheduled = false;
  /** With the latency trace on: when each delivery not yet written was queued (traceNow()). */
  private deliveriesQueuedAt: number[] | undefined;
  /** Set by the listener during shutdown. */
  onGone: (() => void) | undefined;
  /** Reached 'running': only such connections get the "connection closed" line (one per opened connection). */
  private opened = false;
  /** Why the connection ends, for that line: the first of the server's close text, the client's close, a destroy reason. */
  private closeReason: string | undefined;
  /** Publish data this connection makes the broker hold; above its limit the socket is not read. */
  readonly publishBudget: PublishBudget;

  constructor(
    private readonly socket: Socket,
    readonly broker: Broker,
    private readonly limits: ConnectionLimits,
    logger: Logger,
    private readonly onClosed: (c: AmqpConnection) => void,
  ) {
    this.log = logger.child({ conn: this.id, peer: `${socket.remoteAddress}:${socket.remotePort}` });
    this.channelMax = limits.channelMax;
    this.frameMax = limits.frameMax;
    this.writer = new FrameWriter(FRAME_MIN_SIZE);
    this.assembler = new CommandAssembler((c) => this.dispatch(c), limits.maxMessageBytes);
    this.publishBudget = new PublishBudget(this, limits.maxUnconfirmedBytes ?? 0);
    this.parser = new FrameParser(
      {
        onProtocolHeader: (ok) => this.onProtocolHeader(ok),
        onFrame: (f) => this.onFrame(f),
        onError: (e) => this.fail(e),
      },
      FRAME_MIN_SIZE,
    );
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.onDrain());
    socket.on('error', (err) => this.log.debug('socket error', { error: err.message }));
    socket.on('close', () => this.cleanup());
    this.handshakeTimer = setTimeout(() => {
      if (this.state !== 'running') this.destroy('handshake timeout');
    }, limits.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS);
  }

  /** For the management API (src/server/amqp/connection-view.ts): read on demand, never per frame. */
  describe(): { state: string; authMechanism: string; channelMax: number; frameMax: number; heartbeatSec: number; channels: ChannelInfo[] } {
    const channels: ChannelInfo[] = [];
    for (const ch of this.channels.values()) channels.push(ch.info());
    return {
      state: this.state,
      authMechanism: this.authMechanism,
      channelMax: this.channelMax,
      frameMax: this.frameMax,
      heartbeatSec: this.heartbeatSec,
      channels,
    };
  }

  get isOpen(): boolean {
    return this.state === 'running';
  }

  /** Deliveries pause while output is backed up. */
  writable(): boolean {
    const ok = this.writer.length + this.socket.writableLength < WRITE_HIGH_WATER_BYTES;
    if (!ok) {
      this.blockedChannels = true;
      if (this.backedUpSince === 0) this.backedUpSince = Date.now();
    }
    return ok;
  }

  /** Backed up for OUTPUT_STALL_MS without a drain: the client stopped reading, or nearly. */
  outputStalled(): boolean {
    return this.backedUpSince !== 0 && Date.now() - this.backedUpSince >= OUTPUT_STALL_MS;
  }

  sendMethod(channel: number, m: Method): void {
    this.writer.method(channel, m);
    this.scheduleFlush();
  }

  sendContent(channel: number, m: Method, properties: Buffer, body: Buffer): void {
    this.writer.method(channel, m);
    this.writer.content(channel, 60, properties, body);
    if (latencyTrace) (this.deliveriesQueuedAt ??= []).push(traceNow());
    this.scheduleFlush();
  }

  /** Server-initiated close of the whole connection (hard error or shutdown). */
  close(code: number, text: string, classId = 0, methodId = 0): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    const replyText = `${replyCodeName(code)} - ${text}`;
    this.log.debug('closing connection', { code, text: replyText });
    this.closeReason ??= replyText;
    this.sendMethod(0, { name: 'connection.close', replyCode: code, replyText, classId, methodId });
    this.state = 'closing';
    this.closeChannels();
    this.flush();
    // A blocked connection must be read again to see close-ok (in 'closing', only that matters).
    this.unblock();
    this.publishBudget.close();
    setTimeout(() => this.destroy('close-ok timeout'), CLOSE_OK_TIMEOUT_MS).unref();
  }

  /** Server-initiated channel close (soft error). */
  closeChannel(channel: number, code: number, text: string, classId = 0, methodId = 0): void {
    const ch = this.channels.get(channel);
    if (!ch) return;
    const queuedCloses = ch.queuedCloses();
    ch.release();
    this.channels.delete(channel);
    // The assembler keeps its state, as RabbitMQ's: the rest of a half-sent message still
    // arrives, and is assembled and ignored.
    this.closingChannels.add(channel);
    this.sendMethod(channel, {
      name: 'channel.close',
      replyCode: code,
      replyText: `${replyCodeName(code)} - ${text}`,
      classId,
      methodId,
    });
    // The client's own channel.close, waiting behind the command that failed, still gets its
    // close-ok: the two closes crossed.
    for (let i = 0; i < queuedCloses; i++) this.sendMethod(channel, { name: 'channel.close-ok' });
  }

  private onData(chunk: Buffer): void {
    this.lastReceived = Date.now();
    if (chunk.length <= READ_QUANTUM_BYTES && this.unread === undefined) {
      this.batch(() => this.parser.push(chunk));
      return;
    }
    // A paused socket emits nothing, so `unread` is normally empty here; if not, order is kept.
    this.unread = this.unread === undefined ? chunk : Buffer.concat([this.unread, chunk]);
    this.pauseReading(FAIR_READ);
    this.readQuantum();
  }

  /** Handles the next READ_QUANTUM_BYTES of a large read, then lets the event loop serve others. */
  private readonly readQuantum = (): void => {
    this.unreadScheduled = false;
    const rest = this.unread;
    if (rest === undefined) return;
    if (this.state === 'closed') {
      this.unread = undefined;
      return;
    }
    // Paused for flow control, a channel's backlog or an alarm as well: resumeReading() continues.
    if (this.pausedBy.size > 1) return;
    const n = Math.min(rest.length, READ_QUANTUM_BYTES);
    this.unread = n < rest.length ? rest.subarray(n) : undefined;
    this.batch(() => this.parser.push(n < rest.length ? rest.subarray(0, n) : rest));
    if (this.unread !== undefined) this.scheduleQuantum();
    else this.resumeReading(FAIR_READ);
  };

  private scheduleQuantum(): void {
    if (this.unreadScheduled) return;
    this.unreadScheduled = true;
    // setImmediate: the poll phase in between hands every other ready socket its read first.
    setImmediate(this.readQuantum);
  }

  /** Handles frames as one batch: one write, and one confirm per channel, at its end. */
  private batch(handleFrames: () => void): void {
    const trace = latencyTrace;
    if (trace) trace.readStartMs = traceNow();
    this.inChunk = true;
    batchDepth++;
    try {
      handleFrames();
    } finally {
      this.inChunk = false;
      batchDepth--;
    }
    for (const ch of this.channels.values()) ch.endOfBatch();
    this.flush();
    this.publishBudget.afterRead(this.assembler.bufferedBodyBytes, this.writer.length + this.socket.writableLength);
    if (batchDepth === 0) flushOutputDuringBatch();
    if (trace) {
      trace.since('read.handle', trace.readStartMs);
      trace.readStartMs = 0;
    }
  }

  private onProtocolHeader(ok: boolean): void {
    if (!ok) {
      // §4.2.2: reply with the header we support, then close.
      this.socket.end(PROTOCOL_HEADER);
      this.state = 'closed';
      return;
    }
    this.state = 'start';
    this.sendMethod(0, {
      name: 'connection.start',
      versionMajor: 0,
      versionMinor: 9,
      serverProperties: serverProperties(),
      mechanisms: Buffer.from(this.mechanisms().join(' ')),
      locales: Buffer.from('en_US'),
    });
  }

  private onFrame(f: Frame): void {
    if (this.state === 'closed') return;
    if (this.heldFrames) {
      // Blocked by an alarm: the rest of this read waits, in order, like the socket's unread bytes.
      this.heldFrames.push(f);
      return;
    }
    if (f.type === FRAME_HEARTBEAT) {
      if (f.channel !== 0) this.fail(new AmqpProtocolError(ReplyCode.UNEXPECTED_FRAME, `heartbeat frame on channel ${f.channel}`));
      return;
    }
    if (this.state === 'closing') {
      // After sending connection.close only close/close-ok matter (§4.2.x).
      if (f.channel !== 0) return;
    }
    try {
      this.assembler.handleFrame(f);
    } catch (err) {
      this.handleError(err, f.channel);
    }
  }

  private dispatch(cmd: Command): void {
    const m = cmd.method;
    if (cmd.channel === 0) {
      this.onConnectionMethod(m);
      return;
    }
    if (this.state !== 'running') {
      if (this.state === 'closing') return;
      throw new AmqpProtocolError(ReplyCode.COMMAND_INVALID, `expected connection method, got '${m.name}'`);
    }
    if (this.closingChannels.has(cmd.channel)) {
      this.onClosingChannel(cmd.channel, m);
      return;
    }
    const ch = this.channels.get(cmd.channel);
    if (!ch) {
      if (m.name !== 'channel.open') {
        throw new AmqpProtocolError(ReplyCode.CHANNEL_ERROR, `expected 'channel.open'`, ...ids(m));
      }
      if (this.channelMax > 0 && this.channels.size >= this.channelMax) {
        throw new AmqpProtocolError(
          ReplyCode.NOT_ALLOWED,
          `number of channels opened (${this.channels.size}) has reached the negotiated channel_max (${this.channelMax})`,
          ...ids(m),
        );
      }
      // RabbitMQ counts channels against channel_max; it does not refuse a high channel number.
      this.openChannelGrant(m);
      const channel = new AmqpChannel(cmd.channel, this);
      this.channels.set(cmd.channel, channel);
      this.sendMethod(cmd.channel, { name: 'channel.open-ok', channelId: '' });
      return;
    }
    if (m.name === 'channel.open') {
      throw new AmqpProtocolError(ReplyCode.CHANNEL_ERROR, `second 'channel.open' seen`, ...ids(m));
    }
    ch.handle(cmd);
    if (m.name === 'basic.publish') this.publishReceived();
  }

  /**
   * A method on a channel the server has closed. AMQP 0-9-1, channel.close rule "stability":
   * after sending close, discard every method but close and close-ok, and answer a close with
   * close-ok (both peers closed at once: the closes crossed). The channel number is free again
   * once the client's close-ok arrives. RabbitMQ refuses a channel.open before that (504).
   */
  private onClosingChannel(channel: number, m: Method): void {
    switch (m.name) {
      case 'channel.close':
        this.sendMethod(channel, { name: 'channel.close-ok' });
        return;
      case 'channel.close-ok':
        this.closingChannels.delete(channel);
        return;
      case 'channel.open':
        throw new AmqpProtocolError(ReplyCode.CHANNEL_ERROR, `second 'channel.open' seen`, ...ids(m));
      default:
        return;
    }
  }

  private onConnectionMethod(m: Method): void {
    switch (this.state) {
      case 'start':
        if (m.name !== 'connection.start-ok') break;
        return this.onStartOk(m);
      case 'tune':
        if (m.name !== 'connection.tune-ok') break;
        return this.onTuneOk(m);
      case 'open':
        if (m.name !== 'connection.open') break;
        return this.onOpen(m);
      case 'running':
        if (m.name === 'connection.close') {
          this.closeReason ??= 'client closed the connection';
          this.sendMethod(0, { name: 'connection.close-ok' });
          this.flush();
          this.state = 'closed';
          this.closeChannels();
          this.socket.end();
          return;
        }
        if (m.name === 'connection.update-secret') {
          this.sendMethod(0, { name: 'connection.update-secret-ok' });
          return;
        }
        if (m.name === 'connection.blocked' || m.name === 'connection.unblocked') return;
        break;
      case 'closing':
        if (m.name === 'connection.close-ok' || m.name === 'connection.close') {
          if (m.name === 'connection.close') this.sendMethod(0, { name: 'connection.close-ok' });
          this.flush();
          this.destroy('closed');
        }
        return;
      default:
        return;
    }
    // A channel-class method on channel 0 is a channel error; anything else out of place is invalid.
    const code = m.name.startsWith('connection.') ? ReplyCode.COMMAND_INVALID : ReplyCode.CHANNEL_ERROR;
    throw new AmqpProtocolError(code, `unexpected method '${m.name}' on channel 0 in state '${this.state}'`, ...ids(m));
  }

  /**
   * PLAIN and AMQPLAIN always; EXTERNAL on TLS connections, as RabbitMQ 3.10's
   * rabbitmq_auth_mechanism_ssl offers it (whether or not the client sent a
   * certificate: without one, the login is refused). Last, so that clients
   * taking the first mechanism offered keep using PLAIN.
   */
  private mechanisms(): string[] {
    return this.socket instanceof TLSSocket ? ['PLAIN', 'AMQPLAIN', 'EXTERNAL'] : ['PLAIN', 'AMQPLAIN'];
  }

  private verifiedPeerCertificate(): boolean {
    return this.socket instanceof TLSSocket && this.socket.authorized && Object.keys(this.socket.getPeerCertificate()).length > 0;
  }

  private onStartOk(m: MethodOf<'connection.start-ok'>): void {
    this.clientProperties = m.clientProperties as Record<string, unknown>;
    this.authMechanism = m.mechanism;
    if (m.mechanism === 'EXTERNAL') {
      this.onExternalLogin(m);
      return;
    }
    const creds = parseCredentials(m.mechanism, m.response);
    const loopback = isLoopback(this.socket.remoteAddress ?? '');
    if (!creds || !this.broker.authenticate(creds.user, creds.password, loopback)) {
      this.refuseLogin(m.mechanism, creds?.user);
      return;
    }
    this.loggedIn(creds.user);
  }

  /**
   * EXTERNAL (RFC 4422 appendix A): the identity is the client certificate's,
   * and the response (normally empty) is ignored, as RabbitMQ does. The user
   * must exist; no password is checked.
   */
  private onExternalLogin(m: MethodOf<'connection.start-ok'>): void {
    if (!(this.socket instanceof TLSSocket)) {
      // Not offered here. RabbitMQ treats it as a protocol error before the connection is
      // tuned: logged, and the socket closed without a connection.close.
      this.log.warn("invalid authentication mechanism 'EXTERNAL'");
      this.destroy('invalid authentication mechanism');
      return;
    }
    const user = this.verifiedPeerCertificate()
      ? certLoginName(this.socket.getPeerCertificate(), this.limits.certLoginFrom ?? 'common_name')
      : undefined;
    // guest stays loopback-only whatever the mechanism (RabbitMQ's loopback_users).
    const guestFromAfar = user === 'guest' && !isLoopback(this.socket.remoteAddress ?? '');
    if (user === undefined || !this.broker.userExists(user) || guestFromAfar) {
      this.refuseLogin(m.mechanism, user);
      return;
    }
    this.loggedIn(user);
  }

  private refuseLogin(mechanism: string, user: string | undefined): void {
    logAuthFailure(this.log, { protocol: 'amqp', mechanism, user });
    const caps = this.clientProperties.capabilities as Record<string, unknown> | undefined;
    if (caps?.authentication_failure_close !== true) {
      // AMQP 0-9-1 §2.2.4: without the capability the server just closes the socket.
      this.destroy('login refused');
      return;
    }
    // RabbitMQ with authentication_failure_close: a connection.close 403.
    this.close(
      ReplyCode.ACCESS_REFUSED,
      `Login was refused using authentication mechanism ${mechanism}. For details see the broker logfile.`,
    );
  }

  private loggedIn(user: string): void {
    this.user = user;
    this.state = 'tune';
    this.sendMethod(0, {
      name: 'connection.tune',
      channelMax: this.limits.channelMax,
      frameMax: this.limits.frameMax,
      heartbeat: this.limits.heartbeatSec,
    });
  }

  private onTuneOk(m: MethodOf<'connection.tune-ok'>): void {
    const refused =
      tuneRefusal('frame_max', m.frameMax, FRAME_MIN_SIZE, this.limits.frameMax) ??
      tuneRefusal('channel_max', m.channelMax, 1, this.limits.channelMax);
    if (refused !== undefined) {
      // RabbitMQ 3.10 logs this NOT_ALLOWED and closes the socket without connection.close
      // (a handshake error: the client is not trusted yet).
      this.log.warn('handshake refused', { reason: `NOT_ALLOWED - ${refused}` });
      this.destroy('tune-ok out of range');
      return;
    }
    const channelMax = m.channelMax;
    const frameMax = m.frameMax;
    this.channelMax = channelMax;
    this.frameMax = frameMax;
    this.parser.setFrameMax(frameMax);
    this.writer.setFrameMax(frameMax);
    // The client's tune-ok value is final (RabbitMQ accepts what the client chose).
    this.heartbeatSec = m.heartbeat;
    this.startHeartbeats();
    this.state = 'open';
  }

  /** The user's max-channels limit: a connection error naming channel.open, as RabbitMQ's. */
  private openChannelGrant(m: Method): void {
    try {
      (this.grant as AccessGrant).channelOpened();
    } catch (err) {
      const f = toAmqpFailure(err);
      throw new AmqpProtocolError(f.code, f.text, ...ids(m));
    }
  }

  private onOpen(m: MethodOf<'connection.open'>): void {
    // Vhost existence, connection limits and permission: a 530 connection error each, as RabbitMQ's.
    let grant: AccessGrant;
    try {
      grant = this.broker.connect({ user: this.user, vhost: m.virtualHost, clientId: '' });
    } catch (err) {
      // The close names connection.open (class 10, method 40), as RabbitMQ's does.
      const f = toAmqpFailure(err);
      throw new AmqpProtocolError(f.code, f.text, ...ids(m));
    }
    const vhost = this.broker.vhost(m.virtualHost);
    if (!vhost) {
      grant.release();
      throw new AmqpProtocolError(ReplyCode.NOT_ALLOWED, `vhost ${m.virtualHost} not found`, ...ids(m));
    }
    this.grant = grant;
    this.vhost = vhost;
    this.state = 'running';
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.sendMethod(0, { name: 'connection.open-ok', knownHosts: '' });
    this.opened = true;
    const product = this.clientProperties.product;
    this.log.info('connection opened', { user: this.user, vhost: m.virtualHost, client: typeof product === 'string' ? product : undefined });
  }

  /** Channels whose backlog asked to stop reading (or an alarm); reading resumes when none is left. */
  private readonly pausedBy = new Set<number | string>();

  /** Stop reading for `reason`: a channel number (its backlog), a channel's flow key, or ALARM. */
  pauseReading(channel: number | string): void {
    this.pausedBy.add(channel);
    this.socket.pause();
  }

  resumeReading(channel: number | string): void {
    if (!this.pausedBy.delete(channel)) return;
    if (this.pausedBy.size > 0) {
      // Only the rest of a large read holds the socket now: go on with it.
      if (this.pausedBy.size === 1 && this.pausedBy.has(FAIR_READ)) this.scheduleQuantum();
      return;
    }
    if (!this.socket.destroyed) this.socket.resume();
  }

  // --- resource alarms ----------------------------------------------------
  // RabbitMQ's rules: a connection is blocked when it publishes while an alarm
  // is in effect (consume-only connections never are); it stops being read,
  // and is told connection.blocked if its client-properties capabilities ask
  // for it. When every alarm has cleared, connection.unblocked and reading
  // resumes with the frames it had not yet handled.

  private alarms: readonly ResourceAlarm[] = [];
  /** Set while blocked: frames read but not handled yet. */
  private heldFrames: Frame[] | undefined;
  private toldBlocked = false;

  get blocked(): boolean {
    return this.heldFrames !== undefined;
  }

  /** The broker's alarms in effect (the listener passes every change on). */
  setAlarms(alarms: readonly ResourceAlarm[]): void {
    this.alarms = alarms;
    if (alarms.length === 0) this.unblock();
  }

  private publishReceived(): void {
    if (this.alarms.length === 0 || this.heldFrames) return;
    this.heldFrames = [];
    this.pauseReading(ALARM); // heartbeat monitoring is off while paused, as RabbitMQ's
    const caps = this.clientProperties.capabilities as Record<string, unknown> | undefined;
    if (caps?.['connection.blocked'] === true) {
      this.toldBlocked = true;
      this.sendMethod(0, { name: 'connection.blocked', reason: `low on ${this.alarms.join(' & ')}` });
    }
    this.log.debug('connection blocked', { alarms: this.alarms.join(',') });
  }

  /** Resumes reading; the frames held back are handled first, in order. */
  private unblock(): void {
    const held = this.heldFrames;
    if (!held) return;
    this.heldFrames = undefined;
    if (this.toldBlocked && this.state === 'running') this.sendMethod(0, { name: 'connection.unblocked' });
    this.toldBlocked = false;
    this.log.debug('connection unblocked', { heldFrames: held.length });
    this.batch(() => {
      for (const f of held) this.onFrame(f);
    });
    this.resumeReading(ALARM);
  }

  /** The client closed a channel: reply close-ok and forget it. */
  channelClosedByClient(channel: number): void {
    this.channels.delete(channel);
    this.assembler.resetChannel(channel);
    this.sendMethod(channel, { name: 'channel.close-ok' });
  }

  /**
   * Errors while handling a frame: soft ones close the channel, hard ones the
   * connection. The failing method's ids come from the error, or from `m`.
   */
  handleError(err: unknown, channel: number, m?: Method): void {
    const f = toAmqpFailure(err);
    const ids = m ? methodIds(m.name) : err instanceof AmqpProtocolError ? err : { classId: 0, methodId: 0 };
    const { classId, methodId } = ids;
    if (f.code === ReplyCode.INTERNAL_ERROR) this.log.error('internal error', { error: err instanceof Error ? err.stack : String(err) });
    // A closing channel ignores what it is sent (a body over the size limit, say): no second close.
    if (!f.connectionLevel && this.closingChannels.has(channel)) return;
    if (f.connectionLevel || channel === 0 || !this.channels.has(channel)) {
      this.close(f.code, f.text, classId, methodId);
    } else {
      this.closeChannel(channel, f.code, f.text, classId, methodId);
    }
  }

  private fail(e: AmqpProtocolError): void {
    this.close(e.replyCode, e.message, e.classId, e.methodId);
  }

  private scheduleFlush(): void {
    if (this.inChunk || this.flushScheduled) return;
    this.flushScheduled = true;
    if (batchDepth > 0) outputDuringBatch.push(this);
    else setImmediate(this.flushNow);
  }

  private readonly flushNow = (): void => this.flush();

  /** Writes what scheduleFlush() queued during a batch (module-private use). */
  flushIfScheduled(): void {
    if (this.flushScheduled) this.flush();
  }

  private flush(): void {
    this.flushScheduled = false;
    const out = this.writer.take();
    if (!out || this.socket.destroyed) return;
    this.lastSent = Date.now();
    if (latencyTrace) this.traceWrite(out);
    else this.socket.write(out);
    if (this.blockedChannels && this.socket.writableLength < WRITE_HIGH_WATER_BYTES) this.onDrain();
  }

  /** flush()'s write with the latency trace on: the write's own time and each delivery's wait for it. */
  private traceWrite(out: Buffer): void {
    const trace = latencyTrace as LatencyTrace;
    const t0 = traceNow();
    this.socket.write(out);
    trace.since('socket.write', t0);
    const queued = this.deliveriesQueuedAt;
    if (!queued) return;
    for (const t of queued) trace.record('deliver.write', t0 - t);
    queued.length = 0;
  }

  private onDrain(): void {
    this.backedUpSince = 0;
    this.publishBudget.outputChanged(this.writer.length + this.socket.writableLength);
    if (!this.blockedChannels) return;
    this.blockedChannels = false;
    for (const ch of this.channels.values()) ch.resume();
  }

  private startHeartbeats(): void {
    if (this.heartbeatSec <= 0) return;
    const intervalMs = (this.heartbeatSec * 1000) / 2;
    this.heartbeatTimer = setInterval(() => {
      const now = Date.now();
      // While we deliberately stop reading (backpressure), silence is ours, not the client's.
      if (this.pausedBy.size > 0) this.lastReceived = now;
      if (now - this.lastReceived > this.heartbeatSec * 2 * 1000) {
        this.log.warn('missed heartbeats from client, closing', { heartbeatSec: this.heartbeatSec });
        this.destroy('missed heartbeats');
        return;
      }
      if (now - this.lastSent >= intervalMs) {
        this.writer.heartbeat();
        this.flush();
      }
    }, intervalMs);
    this.heartbeatTimer.unref();
  }

  private closeChannels(): void {
    for (const ch of this.channels.values()) ch.release();
    this.channels.clear();
  }

  destroy(reason: string): void {
    if (this.state !== 'closed') this.log.debug('connection destroyed', { reason });
    this.closeReason ??= reason;
    this.state = 'closed';
    this.socket.destroy();
    this.cleanup();
  }

  private cleanupDone = false;
  private cleanup(): void {
    if (this.cleanupDone) return;
    this.cleanupDone = true;
    if (this.opened) this.log.info('connection closed', { user: this.user, vhost: this.vhost?.name, reason: this.closeReason ?? 'the client went away without connection.close' });
    this.state = 'closed';
    this.heldFrames = undefined;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.closeChannels();
    this.vhost?.connectionClosed(this.id);
    this.grant?.release();
    this.onClosed(this);
  }
}

function flushOutputDuringBatch(): void {
  if (outputDuringBatch.length === 0) return;
  // A flush runs other code (a drain resumes deliveries), which may queue more: take the list first.
  const conns = outputDuringBatch.splice(0);
  for (const c of conns) c.flushIfScheduled();
}

/**
 * RabbitMQ's validate_negotiated_integer_value: a tune-ok value below the minimum, or
 * 0 (no limit) or above the server's value when the server has one, is refused.
 */
function tuneRefusal(field: string, client: number, min: number, server: number): string | undefined {
  if (client !== 0 && client < min) return `negotiated ${field} = ${client} is lower than the minimum allowed value (${min})`;
  if (server !== 0 && (client === 0 || client > server)) {
    const detail = client === 0 ? ' (no limit)' : '';
    return `negotiated ${field} = ${client}${detail} is higher than the maximum allowed value (${server})`;
  }
  return undefined;
}

function ids(m: Method): [number, number] {
  const { classId, methodId } = methodIds(m.name);
  return [classId, methodId];
}

function parseCredentials(mechanism: string, response: Buffer): { user: string; password: string } | undefined {
  if (mechanism === 'PLAIN') {
    // RFC 4616: [authzid] NUL authcid NUL passwd
    const parts = response.toString('utf8').split('\u0000');
    if (parts.length !== 3) return undefined;
    return { user: parts[1], password: parts[2] };
  }
  if (mechanism === 'AMQPLAIN') {
    // A field table without its length prefix (RabbitMQ's AMQPLAIN).
    try {
      const withLength = Buffer.allocUnsafe(4 + response.length);
      withLength.writeUInt32BE(response.length, 0);
      response.copy(withLength, 4);
      const t = decodeTable(withLength, 0).value;
      if (typeof t.LOGIN === 'string' && typeof t.PASSWORD === 'string') return { user: t.LOGIN, password: t.PASSWORD };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

