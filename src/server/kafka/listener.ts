// Accepts Kafka client sockets for one vhost and tracks them for shutdown.

import { createServer, type Server, type Socket } from 'node:net';
import type { Broker } from '../../broker/broker.js';
import type { Vhost } from '../../broker/vhost.js';
import type { Logger } from '../../util/logger.js';
import type { KafkaContext, KafkaServerConfig } from './context.js';
import { KafkaConnection, type KafkaConnectionStats } from './connection.js';
import { HANDLERS } from './handlers/index.js';
import { KafkaConnectionView } from './connection-view.js';

export interface KafkaListenerOptions {
  readonly port: number;
  readonly host: string;
  /** The host in Metadata responses; default: the bind address, or 127.0.0.1 for a wildcard. */
  readonly advertisedHost?: string;
  readonly autoCreateTopics: boolean;
  readonly defaultPartitions?: number;
  readonly requestBytesMax?: number;
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
    };
    this.ctx = { broker, vhost, config, logger };
    this.server = createServer((socket: Socket) => this.accept(socket));
  }

  get connectionCount(): number {
    return this.connections.size;
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
      view = new KafkaConnectionView(c, socket, this.ctx.vhost.name);
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
