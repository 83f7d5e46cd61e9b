// The HTTP side of the broker, on fastify: a health endpoint for load balancers
// (GET /api/health, no credentials), the RabbitMQ-compatible management API
// (routes/, basic auth) and Prometheus metrics (GET /metrics, no credentials, as
// RabbitMQ's prometheus plugin) and the dashboard at / (dashboard.ts). Errors use RabbitMQ's shape and codes:
// {"error": "...", "reason": "..."} (errors.ts).
//
// HTTPS is a second server (node:https) over the same fastify app: the same
// routes, rate sampler and state behind both ports, and the TLS policy of
// src/util/tls.ts. The plain HTTP port stays, as RabbitMQ's management listener
// and its TLS one are two listeners.

import Fastify, { type FastifyInstance } from 'fastify';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { hostname } from 'node:os';
import type { Socket } from 'node:net';
import type { TLSSocket, TlsOptions } from 'node:tls';
import type { Broker } from '../broker/broker.js';
import type { ResourceMonitor } from '../broker/resource-monitor.js';
import { send, sendError } from './api.js';
import { dashboardRoutes } from './dashboard.js';
import type { ClusterInfo, ListenerInfo, ManagementContext } from './context.js';
import { HttpError, objectNotFound } from './errors.js';
import { renderMetrics } from './metrics.js';
import { RateSampler } from './rates.js';
import { connectionRoutes } from './routes/connections.js';
import { definitionRoutes } from './routes/definitions.js';
import { exchangeRoutes } from './routes/exchanges.js';
import { nodeRoutes } from './routes/node.js';
import { queueRoutes } from './routes/queues.js';
import { policyRoutes } from './routes/policies.js';
import { wharfRoutes } from './routes/wharf.js';
import { deadLetterRoutes } from './routes/dead-letters.js';
import { sampleAll } from './stats-json.js';

export interface ManagementOptions {
  readonly broker: Broker;
  readonly resources?: ResourceMonitor;
  /** The broker's other listeners (the HTTP one is added here). */
  readonly listeners: () => readonly ListenerInfo[];
  readonly blockedConnections?: () => number;
  /** RabbitMQ's collect_statistics_interval: how often rates are sampled (default 5000 ms). */
  readonly statsIntervalMs?: number;
  /** Per-queue metric series up to this many queues (default 1000), the aggregate above. */
  readonly metricsQueueSeriesMax?: number;
  /** Largest message body the publish route accepts (max_message_size; default 128 MiB). */
  readonly maxMessageBytes?: number;
  /** The node's name in the API (default wharf@<hostname>). */
  readonly nodeName?: string;
  /** The cluster this node is in, once it has joined; absent or undefined: a single node. */
  readonly cluster?: () => ClusterInfo | undefined;
}

export interface HttpServerOptions {
  port: number;
  host: string;
  /** Extra fields for GET /api/health; called on every request. */
  health: () => Record<string, unknown>;
  /** The management API and metrics; without it only /api/health is served. */
  management?: ManagementOptions;
  /**
   * Also serve the same API over TLS on this port (0 picks a free one). `refuse`
   * drops a connection right after its handshake (a client certificate that did not verify).
   */
  https?: { readonly port: number; readonly options: TlsOptions; readonly refuse?: (socket: TLSSocket) => boolean };
}

export interface HttpServerHandle {
  readonly port: number;
  /** undefined without HTTPS. */
  readonly httpsPort: number | undefined;
  /** New certificate material for new HTTPS connections (SIGHUP reload); a no-op without HTTPS. */
  setSecureContext(options: TlsOptions): void;
  close(): Promise<void>;
}

/** RabbitMQ's management.http.max_body_size default: larger bodies get 413. */
export const BODY_BYTES_MAX = 20_000_000;
export const STATS_INTERVAL_MS_DEFAULT = 5000;

export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServerHandle> {
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_BYTES_MAX,
    // Queue and exchange names go up to 255 bytes, percent-encoded up to three times that.
    routerOptions: { maxParamLength: 2048 },
    exposeHeadRoutes: false,
    forceCloseConnections: true,
    return503OnClosing: false,
    // A malformed path (bad percent-encoding) or media type: RabbitMQ's bare 400.
    frameworkErrors: (err, _req, reply) => sendError(reply, err),
  });
  installParsing(app);
  let listenPort = 0;
  let httpsPort: number | undefined;
  // The dashboard at / needs the management API; without it (or without the built
  // assets) / answers a line of text.
  if (!opts.management || !dashboardRoutes(app)) {
    app.route({
      method: ['GET', 'HEAD'],
      url: '/',
      handler: (_req, reply) => reply.type('text/plain; charset=utf-8').send('Wharf, an AMQP 0-9-1 message broker. Health: GET /api/health\n'),
    });
  }
  app.route({
    method: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'],
    url: '/api/health',
    handler: (req, reply) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        reply.header('allow', 'GET, HEAD');
        throw new HttpError(405, '', '');
      }
      send(reply, { status: 'ok', ...opts.health() });
    },
  });
  let rates: RateSampler | undefined;
  const m = opts.management;
  if (m) {
    rates = new RateSampler(m.statsIntervalMs ?? STATS_INTERVAL_MS_DEFAULT);
    const ctx: ManagementContext = {
      broker: m.broker,
      resources: m.resources,
      listeners: () => [
        ...m.listeners(),
        { protocol: 'http', ip: opts.host, port: listenPort },
        ...(httpsPort !== undefined ? [{ protocol: 'https', ip: opts.host, port: httpsPort }] : []),
      ],
      nodeName: m.nodeName ?? `wharf@${hostname()}`,
      cluster: m.cluster ?? (() => undefined),
      rates,
      blockedConnections: m.blockedConnections ?? (() => 0),
      maxMessageBytes: m.maxMessageBytes ?? 128 * 1024 * 1024,
    };
    nodeRoutes(app, ctx);
    queueRoutes(app, ctx);
    exchangeRoutes(app, ctx);
    connectionRoutes(app, ctx);
    definitionRoutes(app, ctx);
    policyRoutes(app, ctx);
    wharfRoutes(app, ctx);
    deadLetterRoutes(app, ctx);
    for (const [url, perObject] of [['/metrics', false], ['/metrics/per-object', true]] as const) {
      app.get(url, async (_req, reply) => {
        const text = await renderMetrics(ctx, { perObject, queueSeriesMax: m.metricsQueueSeriesMax });
        reply.type('text/plain; version=0.0.4; charset=utf-8').send(text);
      });
    }
    const sampler = rates;
    sampler.start(() => sampleAll(m.broker, sampler));
  }
  app.setNotFoundHandler((_req, reply) => sendError(reply, objectNotFound()));
  app.setErrorHandler((err, _req, reply) => sendError(reply, err));
  try {
    await app.listen({ port: opts.port, host: opts.host });
  } catch (err) {
    rates?.stop();
    await app.close().catch(() => {});
    throw err;
  }
  const addr = app.server.address();
  listenPort = addr && typeof addr === 'object' ? addr.port : opts.port;
  let https: HttpsListener | undefined;
  if (opts.https) {
    try {
      https = await listenHttps(app, opts.host, opts.https);
    } catch (err) {
      rates?.stop();
      await app.close().catch(() => {});
      throw err;
    }
    const a = https.server.address();
    httpsPort = a && typeof a === 'object' ? a.port : opts.https.port;
  }
  let closing: Promise<void> | undefined;
  return {
    port: listenPort,
    httpsPort,
    setSecureContext: (options) => https?.server.setSecureContext(options),
    close: () =>
      (closing ??= (async () => {
        rates?.stop();
        await https?.close();
        await app.close();
      })()),
  };
}

interface HttpsListener {
  readonly server: HttpsServer;
  close(): Promise<void>;
}

/** An HTTPS server whose requests go to the fastify app's router. */
function listenHttps(
  app: FastifyInstance,
  host: string,
  { port, options, refuse }: NonNullable<HttpServerOptions['https']>,
): Promise<HttpsListener> {
  const server = createHttpsServer(options, (req, res) => app.routing(req, res));
  if (refuse) {
    server.on('secureConnection', (s: TLSSocket) => {
      if (refuse(s)) s.destroy();
    });
  }
  // Sockets still in their TLS handshake are not HTTP connections yet: closeAllConnections misses them.
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  // As fastify's forceCloseConnections: keep-alive clients do not hold shutdown up.
  const close = (): Promise<void> => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    for (const s of sockets) s.destroy();
    return closed;
  };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host }, () => {
      server.off('error', reject);
      resolve({ server, close });
    });
  });
}

/**
 * RabbitMQ reads every request body as JSON whatever its content type; an empty
 * body is no body, and anything unparsable is 400 {"error":"bad_request","reason":"not_json"}.
 */
function installParsing(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body: Buffer, done) => {
    if (body.length === 0) return done(null, undefined);
    try {
      done(null, JSON.parse(body.toString('utf8')) as unknown);
    } catch {
      done(new HttpError(400, 'bad_request', 'not_json'), undefined);
    }
  });
}
