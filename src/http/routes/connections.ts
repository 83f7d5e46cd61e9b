// /api/connections (list, inspect, DELETE to close with the X-Reason header's
// reason), /api/channels and /api/consumers, each also per vhost.

import type { FastifyInstance } from 'fastify';
import type { ChannelInfo, ClientConnection, ConnectionInfo } from '../../broker/connections.js';
import { Status, route, vhostOf, type ApiRequest } from '../api.js';
import { mayAccessVhost } from '../auth.js';
import type { ManagementContext } from '../context.js';
import { objectNotFound } from '../errors.js';
import { allConsumers, channelJson, channelName, connectionJson } from '../format.js';
import { lazyListResponse, listResponse, type LazyList } from '../paging.js';

export function connectionRoutes(app: FastifyInstance, ctx: ManagementContext): void {
  route(app, ctx, '/api/connections', { GET: (r) => lazyListResponse(connectionsOf(ctx, r), r.query, ['name']) });
  route(app, ctx, '/api/vhosts/:vhost/connections', {
    GET: (r) => lazyListResponse(connectionsOf(ctx, r, vhostOf(ctx, r.params.vhost).name), r.query, ['name']),
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
  route(app, ctx, '/api/channels', { GET: (r) => lazyListResponse(channelsOf(ctx, r), r.query, ['name']) });
  route(app, ctx, '/api/vhosts/:vhost/channels', {
    GET: (r) => lazyListResponse(channelsOf(ctx, r, vhostOf(ctx, r.params.vhost).name), r.query, ['name']),
  });
  route(app, ctx, '/api/channels/:name', {
    GET: (r) => {
      const found = channelsOf(ctx, r).items.find((i) => channelName(i.c, i.ch) === r.params.name);
      if (!found) throw objectNotFound();
      return channelJson(ctx, found.c, found.info, found.ch);
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

type ListedConnection = { readonly c: ClientConnection; readonly info: ConnectionInfo };
type ListedChannel = ListedConnection & { readonly ch: ChannelInfo };

/** connectionJson's / channelJson's plain fields, read without rendering for sorting and filtering a page. */
const CONNECTION_COLUMNS: Record<string, (i: ListedConnection) => unknown> = {
  channels: (i) => i.info.channels.length,
  name: (i) => i.c.name,
  peer_host: (i) => i.c.peerHost,
  peer_port: (i) => i.c.peerPort,
  recv_oct: (i) => i.info.bytesReceived,
  send_oct: (i) => i.info.bytesSent,
  user: (i) => i.info.user,
  vhost: (i) => i.info.vhost ?? '/',
};
const CHANNEL_COLUMNS: Record<string, (i: ListedChannel) => unknown> = {
  consumer_count: (i) => i.ch.consumers.length,
  messages_unacknowledged: (i) => i.ch.unacked,
  name: (i) => channelName(i.c, i.ch),
  number: (i) => i.ch.number,
  prefetch_count: (i) => i.ch.prefetchCount,
  user: (i) => i.info.user,
  vhost: (i) => i.info.vhost ?? '/',
};

function columnOf<T>(columns: Record<string, (i: T) => unknown>): (path: string) => ((i: T) => unknown) | undefined {
  return (path) => (Object.hasOwn(columns, path) ? columns[path] : undefined);
}

function connectionsOf(ctx: ManagementContext, r: ApiRequest, vhost?: string): LazyList<ListedConnection> {
  const items: ListedConnection[] = [];
  for (const c of ctx.broker.connections.values()) {
    const info = c.info();
    const v = info.vhost ?? '/';
    if ((vhost !== undefined && v !== vhost) || !mayAccessVhost(ctx.broker, r.user, v)) continue;
    items.push({ c, info });
  }
  return { items, column: columnOf(CONNECTION_COLUMNS), render: (i) => connectionJson(ctx, i.c, i.info) };
}

function channelsOf(ctx: ManagementContext, r: ApiRequest, vhost?: string): LazyList<ListedChannel> {
  const items: ListedChannel[] = [];
  for (const c of ctx.broker.connections.values()) {
    const info = c.info();
    const v = info.vhost ?? '/';
    if ((vhost !== undefined && v !== vhost) || !mayAccessVhost(ctx.broker, r.user, v)) continue;
    for (const ch of info.channels) items.push({ c, info, ch });
  }
  return { items, column: columnOf(CHANNEL_COLUMNS), render: (i) => channelJson(ctx, i.c, i.info, i.ch) };
}

function consumersOf(ctx: ManagementContext, r: ApiRequest, vhost?: string): Record<string, unknown>[] {
  return allConsumers(ctx)
    .filter((c) => (vhost === undefined || c.vhost === vhost) && mayAccessVhost(ctx.broker, r.user, c.vhost))
    .map((c) => c.json);
}

