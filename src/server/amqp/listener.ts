// Accepts AMQP client sockets and tracks live connections for shutdown, and
// passes the broker's resource alarms on to every connection. The AMQPS
// listener is the same class over a TLS server: a connection gets its socket
// once the TLS handshake is done, and the rest is the same code.

import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket, type TlsOptions } from 'node:tls';
import type { Broker } from '../../broker/broker.js';
import type { ResourceMonitor } from '../../broker/resource-monitor.js';
import { ReplyCode } from '../../protocol/amqp/index.js';
import type { Logger } from '../../util/logger.js';
import { peerCertificateRejected, type TlsSettings } from '../../util/tls.js';
import { AmqpConnection, type ConnectionLimits } from './connection.js';
import { AmqpConnectionView } from './connection-view.js';

export interface AmqpListenerOptions extends ConnectionLimits {
  readonly port: number;
  readonly host: string;
  /** For the AMQPS listener: the TLS server options (src/util/tls.ts serverOptions) and the settings behind them. */
  readonly tls?: { readonly options: TlsOptions; readonly settings: TlsSettings };
}

export interface PublishBudgetReport {
  /** Publish bytes held for all connections now. */
  readonly bytes: number;
  /** The most one open connection ever held at once. */
  readonly peakBytes: number;
  /** Times connections (open now) stopped being read for their budget. */
  readonly pauses: number;
  /** Connections not being read for their budget now. */
  readonly pausedConnections: number;
}

export class AmqpListener {
  private readonly server: Server;
  private readonly connections = new Set<AmqpConnection>();
  /** Every accepted TCP socket, so that shutdown also ends those still in their TLS handshake. */
  private readonly sockets = new Set<Socket>();
  private readonly unsubscribe: (() => void) | undefined;

  constructor(
    private readonly broker: Broker,
    private readonly opts: AmqpListenerOptions,
    private readonly logger: Logger,
    private readonly resources?: ResourceMonitor,
  ) {
    const tls = opts.tls;
    if (tls) {
      const server = createTlsServer(tls.options, (socket: TLSSocket) => this.acceptTls(socket, tls.settings));
      // A plaintext client, a failed certificate check, or ssl_handshake_timeout: that
      // socket goes (with a listener here, destroying it is ours to do); nobody else is affected.
      server.on('tlsClientError', (err, socket) => {
        this.logger.debug('TLS handshake failed', { error: err.message, peer: `${socket.remoteAddress}:${socket.remotePort}` });
        socket.destroy();
      });
      this.server = server;
    } else {
      this.server = createServer((socket: Socket) => this.accept(socket));
    }
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.unsubscribe = resources?.onChange((alarms) => {
      for (const c of this.connections) c.setAlarms(alarms);
    });
  }

  /**
   * Serves new TLS connections with new certificate material (SIGHUP reload);
   * connections already open keep theirs.
   */
  setSecureContext(options: TlsOptions): void {
    if (!this.opts.tls) throw new Error('not a TLS listener');
    (this.server as TlsServer).setSecureContext(options);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Connections that published during an alarm and are not being read. */
  get blockedConnectionCount(): number {
    let n = 0;
    for (const c of this.connections) if (c.blocked) n++;
    return n;
  }

  /** The publish budgets of all connections (docs/limits.md): bytes held now, the peak of any one, pauses. */
  publishBudgets(): PublishBudgetReport {
    let bytes = 0;
    let peakBytes = 0;
    let pauses = 0;
    let paused = 0;
    for (const c of this.connections) {
      const b = c.publishBudget;
      bytes += b.bytes;
      peakBytes = Math.max(peakBytes, b.peakBytes);
      pauses += b.pauses;
      if (b.paused) paused++;
    }
    return { bytes, peakBytes, pauses, pausedConnections: paused };
  }

  listen(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      // '::' listens on IPv6 and IPv4 (dual stack) where the OS allows it.
      this.server.listen({ port: this.opts.port, host: this.opts.host }, () => {
        this.server.off('error', onError);
        const addr = this.server.address();
        if (addr && typeof addr === 'object') resolve({ host: addr.address, port: addr.port });
        else reject(new Error('AMQP listener has no address'));
      });
    });
  }

  /** Stop accepting; close every client with 320 CONNECTION_FORCED and wait for them. */
  async close(): Promise<void> {
    this.unsubscribe?.();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const waits: Promise<void>[] = [];
    for (const c of this.connections) {
      waits.push(
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            c.destroy('shutdown');
            resolve();
          }, 2000);
          c.onGone = () => {
            clearTimeout(timer);
            resolve();
          };
        }),
      );
      if (c.isOpen) c.close(ReplyCode.CONNECTION_FORCED, "broker forced connection closure with reason 'shutdown'");
      else c.destroy('shutdown');
    }
    await Promise.all(waits);
    // Left: sockets that never finished their TLS handshake (no connection yet).
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private acceptTls(socket: TLSSocket, settings: TlsSettings): void {
    if (peerCertificateRejected(socket, settings)) {
      this.logger.info('client certificate refused', { error: socket.authorizationError?.message, peer: `${socket.remoteAddress}:${socket.remotePort}` });
      socket.destroy();
      return;
    }
    this.accept(socket);
  }

  private accept(socket: Socket): void {
    let view: AmqpConnectionView | undefined;
    const conn = new AmqpConnection(socket, this.broker, this.opts, this.logger, (c) => {
      this.connections.delete(c);
      if (view) this.broker.connections.remove(view);
      c.onGone?.();
    });
    this.connections.add(conn);
    // The management API lists it (a socket closed at once has no address: nothing to list).
    if (socket.remoteAddress !== undefined && !socket.destroyed) {
      view = new AmqpConnectionView(conn, socket);
      this.broker.connections.add(view);
    }
    if (this.resources) conn.setAlarms(this.resources.alarms);
  }
}
