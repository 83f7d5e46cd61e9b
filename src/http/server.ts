// The HTTP side of the broker: a health endpoint for load balancers and
// orchestrators, and the place the management API will grow into. Errors use
// RabbitMQ's management API shape: {"error": "...", "reason": "..."}.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HttpServerOptions {
  port: number;
  host: string;
  /** Extra fields for GET /api/health; called on every request. */
  health: () => Record<string, unknown>;
}

export interface HttpServerHandle {
  readonly port: number;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export function startHttpServer(opts: HttpServerOptions): Promise<HttpServerHandle> {
  const routes: Record<string, Handler> = {
    '/': (_req, res) => sendText(res, 200, 'Wharf, an AMQP 0-9-1 message broker. Health: GET /api/health\n'),
    '/api/health': (_req, res) => sendJson(res, 200, { status: 'ok', ...opts.health() }),
  };
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const handler = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (!handler) {
      sendJson(res, 404, { error: 'not_found', reason: `no such resource: ${path}` });
    } else if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      sendJson(res, 405, { error: 'method_not_allowed', reason: `${req.method} is not allowed on ${path}` });
    } else {
      try {
        handler(req, res);
      } catch (err) {
        sendJson(res, 500, { error: 'internal_error', reason: err instanceof Error ? err.message : String(err) });
      }
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: opts.port, host: opts.host }, () => {
      server.off('error', reject);
      let closing: Promise<void> | undefined;
      resolve({ port: (server.address() as AddressInfo).port, close: () => (closing ??= closeServer(server)) });
    });
  });
}

function closeServer(server: ReturnType<typeof createServer>): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Keep-alive sockets would hold close() open until they time out.
    server.closeAllConnections();
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
