// Wharf's embedding API: start a broker inside your own process (tests, tools).
//   const broker = await startBroker({ amqpPort: 0, dataDir: tmp });
//   ... amqplib.connect(broker.amqpUrl) ...
//   await broker.close();

import { Broker } from './broker/broker.js';
import { startHttpServer } from './http/server.js';
import { AmqpListener } from './server/amqp/listener.js';
import type { FsyncPolicy } from './store/index.js';
import { createLogger, type LogLevel, type Logger } from './util/logger.js';

export interface BrokerOptions {
  /** Where messages and metadata live (default ./data). */
  dataDir?: string;
  /** AMQP port (default 5672; 0 picks a free port). */
  amqpPort?: number;
  /** HTTP port for health and management (default 15672; 0 picks a free port). */
  httpPort?: number;
  /** Address to bind (default '::', IPv6 and IPv4). */
  bind?: string;
  fsync?: FsyncPolicy;
  logLevel?: LogLevel;
  users?: { name: string; password: string }[];
  logger?: Logger;
  /** AMQP limits offered in connection.tune (RabbitMQ's defaults). */
  channelMax?: number;
  frameMax?: number;
  heartbeatSec?: number;
  /** Consumer (ack) timeout in ms for every queue without x-consumer-timeout; 0 disables (RabbitMQ: 30 min). */
  consumerTimeoutMs?: number;
}

export interface BrokerHandle {
  readonly amqpPort: number;
  readonly httpPort: number;
  readonly host: string;
  readonly amqpUrl: string;
  close(): Promise<void>;
}

export const DEFAULTS = {
  dataDir: './data',
  amqpPort: 5672,
  httpPort: 15672,
  bind: '::',
  fsync: 'batch' as FsyncPolicy,
  channelMax: 2047,
  frameMax: 131072,
  heartbeatSec: 60,
};

export async function startBroker(opts: BrokerOptions = {}): Promise<BrokerHandle> {
  const logger = opts.logger ?? createLogger(opts.logLevel ?? 'info');
  const broker = await Broker.open({
    dataDir: opts.dataDir ?? DEFAULTS.dataDir,
    fsync: opts.fsync ?? DEFAULTS.fsync,
    logger,
    users: opts.users ?? [],
    ...(opts.consumerTimeoutMs !== undefined ? { consumerTimeoutMs: opts.consumerTimeoutMs } : {}),
  });
  const bind = opts.bind ?? DEFAULTS.bind;
  const amqp = new AmqpListener(
    broker,
    {
      port: opts.amqpPort ?? DEFAULTS.amqpPort,
      host: bind,
      channelMax: opts.channelMax ?? DEFAULTS.channelMax,
      frameMax: opts.frameMax ?? DEFAULTS.frameMax,
      heartbeatSec: opts.heartbeatSec ?? DEFAULTS.heartbeatSec,
    },
    logger,
  );
  let amqpAddr;
  try {
    amqpAddr = await amqp.listen();
  } catch (err) {
    await broker.close();
    throw err;
  }
  let http;
  try {
    http = await startHttpServer({
      port: opts.httpPort ?? DEFAULTS.httpPort,
      host: bind,
      health: () => ({ ...broker.stats(), connections: amqp.connectionCount }),
    });
  } catch (err) {
    await amqp.close();
    await broker.close();
    throw err;
  }
  const host = amqpAddr.host;
  const urlHost = host === '::' || host === '0.0.0.0' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    amqpPort: amqpAddr.port,
    httpPort: http.port,
    host,
    amqpUrl: `amqp://guest:guest@${urlHost}:${amqpAddr.port}`,
    close() {
      closing ??= (async () => {
        await amqp.close();
        await http.close();
        await broker.close();
        logger.info('stopped');
      })();
      return closing;
    },
  };
}

export type { LogLevel, Logger } from './util/logger.js';
export type { FsyncPolicy } from './store/index.js';
