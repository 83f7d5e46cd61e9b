// The dashboard: hand-written ES modules and CSS (src/http/web, copied next to
// this file by `npm run build`) served at / and /dashboard/*. The files are read
// once at startup into memory from a fixed directory, so a request path can never
// name a file outside it. Every answer carries a strict Content-Security-Policy:
// scripts and styles only from this origin, no inline code, so a queue name or
// message body that slips past the UI's escaping still cannot run.

import type { FastifyInstance, FastifyReply } from 'fastify';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  readonly body: Buffer;
  readonly type: string;
}

/** The web directory beside this module (dist/src/http/web after a build). */
export function defaultWebDir(): string {
  return fileURLToPath(new URL('./web/', import.meta.url));
}

function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else {
        const type = CONTENT_TYPES[extname(name)];
        if (type) assets.set(relative(dir, full).split(sep).join('/'), { body: readFileSync(full), type });
      }
    }
  };
  try {
    walk(dir);
  } catch {
    // No web directory (a build without assets): / answers 404 like any unknown path.
  }
  return assets;
}

function sendAsset(reply: FastifyReply, asset: Asset, cacheControl: string): void {
  reply
    .header('content-security-policy', DASHBOARD_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cache-control', cacheControl)
    .type(asset.type)
    .send(asset.body);
}

/** Serves index.html at / and every other file of the web directory at /dashboard/<path>. */
export function dashboardRoutes(app: FastifyInstance, webDir: string = defaultWebDir()): boolean {
  const assets = loadAssets(webDir);
  const index = assets.get('index.html');
  if (!index) return false;
  app.route({ method: ['GET', 'HEAD'], url: '/', handler: (_req, reply) => sendAsset(reply, index, 'no-cache') });
  app.route({
    method: ['GET', 'HEAD'],
    url: '/dashboard/*',
    handler: (req, reply) => {
      const path = (req.params as { '*': string })['*'];
      const asset = assets.get(path);
      if (!asset || path === 'index.html') return void reply.code(404).type('text/plain').send('Not Found');
      // no-cache, not max-age: the files change with every upgrade and are not fingerprinted.
      sendAsset(reply, asset, 'no-cache');
    },
  });
  return true;
}
