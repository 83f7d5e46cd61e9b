// /api/connections (list, inspect, DELETE to close with the X-Reason header's
// reason), /api/channels and /api/consumers, each also per vhost.

import type { FastifyInstance } from 'fastify';
import type { ClientConnection } from '../../broker/connections.js';
import { Status, route, vhostOf, type ApiRequest } from '../api.js';
import { mayAccessVhost } from '../auth.js';
import type { ManagementContext } from '../context.js';
import { objectNotFound } from '../errors.js';
import { allConsumers, channelJson, connectionJson } from '../format.js';
import { listResponse } from '../paging.js';

export function connectionRoutes(app: FastifyInstance, ctx: ManagementContext): void {
  route(app, ctx, '/api/connections', { GET: (r) => listResponse(connectionsOf(ctx, r), r.query, ['name']) });
  route(app, ctx, '/api/vhosts/:vhost/connections', {
    GET: (r) => listResponse(connectionsOf(ctx, r, vhostOf(ctx, r.params.vhost).name), r.query, ['name']),
  });
  route(app, ctx, '/api/connections/:name', {
    GET: (r) => connectionJson(ctx, findConnection(ctx, r)),
    DELETE: (r) => {
      const c = findConnection(ctx, r);
      // RabbitMQ: "CONNECTION_FORCED - <X-Reason>", or its default text.
      const reason = headerText(r.headers['x-reason']) ?? 'Closed via management plugin';
      c.forceClose(reason);
      return new Status(204);
    },
  });
  route(app, ctx, '/api/connections/:name/channels', {
    GET: (r) => {
      const c = findConnection(ctx, r);
      const info = c.info();
      return info.channels.map((ch) => channelJson(ctx, c, info, ch));
    },
  });
  route(app, ctx, '/api/channels', { GET: (r) => listResponse(channelsOf(ctx, r), r.query, ['name']) });
  route(app, ctx, '/api/vhosts/:vhost/channels', {
    GET: (r) => listResponse(channelsOf(ctx, r, vhostOf(ctx, r.params.vhost).name), r.query, ['name']),
  });
  route(app, ctx, '/api/channels/:name', {
    GET: (r) => {
      const found = channelsOf(ctx, r).find((c) => c.name === r.params.name);
      if (!found) throw objectNotFound();
      return found;
    },
  });
  route(app, ctx, '/api/consumers', { GET: (r) => listResponse(consumersOf(ctx, r), r.query, []) });
  route(app, ctx, '/api/consumers/:vhost', {
    GET: (r) => listResponse(consumersOf(ctx, r, vhostOf(ctx, r.params.vhost).name), r.query, []),
  });
}

function headerText(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? undefined : s;
}

function findConnection(ctx: ManagementContext, r: ApiRequest): ClientConnection {
  const c = ctx.broker.connections.get(r.params.name);
  if (!c) throw objectNotFound();
  return c;
}

function connectionsOf(ctx: ManagementContext, r: ApiRequest, vhost?: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const c of ctx.broker.connections.values()) {
    const info = c.info();
    const v = info.vhost ?? '/';
    if ((vhost !== undefined && v !== vhost) || !mayAccessVhost(ctx.broker, r.user, v)) continue;
    out.push(connectionJson(ctx, c, info));
  }
  return out;
}

function channelsOf(ctx: ManagementContext, r: ApiRequest, vhost?: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const c of ctx.broker.connections.values()) {
    const info = c.info();
    const v = info.vhost ?? '/';
    if ((vhost !== undefined && v !== vhost) || !mayAccessVhost(ctx.broker, r.user, v)) continue;
    for (const ch of info.channels) out.push(channelJson(ctx, c, info, ch));
  }
  return out;
}

function consumersOf(ctx: ManagementContext, r: ApiRequest, vhost?: string): Record<string, unknown>[] {
  return allConsumers(ctx)
    .filter((c) => (vhost === undefined || c.vhost === vhost) && mayAccessVhost(ctx.broker, r.user, c.vhost))
    .map((c) => c.json);
}

