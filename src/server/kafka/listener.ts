// Accepts Kafka client sockets, plain or TLS, and tracks them for shutdown. Like one of Kafka's
// `listeners`: its security.protocol is PLAINTEXT or SSL without SASL mechanisms, SASL_PLAINTEXT
// or SASL_SSL with them. Connections start in `vhost`; a SASL login may pick another.

import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, Server as TlsServer, type SecureContextOptions } from 'node:tls';
import type { Broker } from '../../broker/broker.js';
import type { Vhost } from '../../broker/vhost.js';
import type { Logger } from '../../util/logger.js';
import type { KafkaContext, KafkaServerConfig } from './context.js';
import { KafkaConnection, type KafkaConnectionStats } from './connection.js';
import { HANDLERS } from './handlers/index.js';
import { KafkaConnectionView } from './connection-view.js';
import type { SaslMechanismName } from './sasl/mechanism.js';
import { TLS_CIPHERS } from '../../util/tls.js';

/** PEM certificate chain and key for a TLS listener. */
export interface KafkaTlsOptions {
  readonly cert: Buffer | string;
  readonly key: Buffer | string;
  readonly ca?: Buffer | string;
}

/** A TLS handshake not done in this time is dropped (Node's default would wait two minutes). */
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

export interface KafkaListenerOptions {
  readonly port: number;
  readonly host: string;
  /** The host in Metadata responses; default: the bind address, or 127.0.0.1 for a wildcard. */
  readonly advertisedHost?: string;
  readonly autoCreateTopics: boolean;
  readonly defaultPartitions?: number;
  readonly requestBytesMax?: number;
  /** Kafka's sasl.enabled.mechanisms; empty or absent: no authentication. */
  readonly saslMechanisms?: readonly SaslMechanismName[];
  /** Serve TLS (SSL / SASL_SSL) with these files instead of plain TCP. */
  readonly tls?: KafkaTlsOptions;
}

/** Kafka's socket.request.max.bytes default. */
export const REQUEST_BYTES_MAX_DEFAULT = 100 * 1024 * 1024;

export class KafkaListener {
  private readonly server: Server;
  private readonly connections = new Set<KafkaConnection>();
  private readonly ctx: KafkaContext;
  private nextId = 1;

  constructor(broker: Broker, vhost: Vhost, private readonly opts: KafkaListenerOptions, logger: Logger) {
    const config: KafkaServerConfig = {
      advertisedHost: opts.advertisedHost ?? (opts.host === '::' || opts.host === '0.0.0.0' ? '127.0.0.1' : opts.host),
      port: opts.port,
      autoCreateTopics: opts.autoCreateTopics,
      defaultPartitions: opts.defaultPartitions ?? 1,
      requestBytesMax: opts.requestBytesMax ?? REQUEST_BYTES_MAX_DEFAULT,
      saslMechanisms: opts.saslMechanisms ?? [],
    };
    this.ctx = { broker, vhost, config, logger };
    this.server = opts.tls
      ? createTlsServer(
          {
            cert: opts.tls.cert,
            key: opts.tls.key,
            ...(opts.tls.ca !== undefined ? { ca: opts.tls.ca } : {}),
            minVersion: 'TLSv1.2',
            ciphers: TLS_CIPHERS,
            honorCipherOrder: true,
            handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
          },
          (socket: Socket) => this.accept(socket),
        )
      : createServer((socket: Socket) => this.accept(socket));
    // A client that fails its TLS handshake (plaintext on the TLS port) only loses its socket.
    this.server.on('tlsClientError', (err: Error) => logger.debug('kafka TLS handshake failed', { error: err.message }));
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** New TLS connections get these (SIGHUP reload); connections already open keep theirs. No-op without TLS. */
  setSecureContext(options: SecureContextOptions): void {
    if (this.server instanceof TlsServer) this.server.setSecureContext(options);
  }

  /** What each open connection holds (in-flight requests, backlog, unsent output). */
  connectionStats(): KafkaConnectionStats[] {
    return [...this.connections].map((c) => c.stats);
  }

  listen(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen({ port: this.opts.port, host: this.opts.host }, () => {
        this.server.off('error', onError);
        const addr = this.server.address();
        if (!addr || typeof addr !== 'object') return reject(new Error('Kafka listener has no address'));
        this.ctx.config.port = addr.port;
        resolve({ host: addr.address, port: addr.port });
      });
    });
  }

  private accept(socket: Socket): void {
    let view: KafkaConnectionView | undefined;
    const c = new KafkaConnection(socket, this.ctx, HANDLERS, `kafka-${this.nextId++}`, (gone) => {
      this.connections.delete(gone);
      if (view) this.ctx.broker.connections.remove(view);
    });
    this.connections.add(c);
    if (socket.remoteAddress !== undefined && !socket.destroyed) {
      view = new KafkaConnectionView(c, socket);
      this.ctx.broker.connections.add(view);
    }
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.connections) c.close();
    this.connections.clear();
    await closed;
  }
}
