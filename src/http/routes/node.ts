// The node-wide routes: /api/overview, /api/nodes, /api/vhosts, /api/users,
// /api/whoami, /api/permissions, /api/cluster-name, the health checks and
// /api/aliveness-test.

import { Queue } from '../../broker/queue/queue.js';
import type { FastifyInstance } from 'fastify';
import { cpus, totalmem } from 'node:os';
import { Status, route, vhostOf, type ApiRequest } from '../api.js';
import { mayAccessVhost, requireTag } from '../auth.js';
import { accessRoutes } from './access.js';
import type { ManagementContext } from '../context.js';
import { badRequest, objectNotFound } from '../errors.js';
import { listResponse } from '../paging.js';
import { depthJson, totals, vhostDepth, vhostMessageStats } from '../stats-json.js';
import { WHARF_VERSION } from '../version.js';

/** The RabbitMQ version Wharf's API follows: tools pick their code path by it. */
export const RABBITMQ_COMPAT_VERSION = '3.10.8';

const EXCHANGE_TYPES = [
  { name: 'direct', description: 'AMQP direct exchange, as per the AMQP specification', enabled: true },
  { name: 'fanout', description: 'AMQP fanout exchange, as per the AMQP specification', enabled: true },
  { name: 'headers', description: 'AMQP headers exchange, as per the AMQP specification', enabled: true },
  { name: 'topic', description: 'AMQP topic exchange, as per the AMQP specification', enabled: true },
  { name: 'x-delayed-message', description: 'Delayed message exchange (Wharf)', enabled: true },
];

export function nodeRoutes(app: FastifyInstance, ctx: ManagementContext): void {
  route(app, ctx, '/api/overview', { GET: (r) => overview(ctx, r) });
  route(app, ctx, '/api/cluster-name', { GET: () => ({ name: ctx.cluster()?.clusterName ?? ctx.nodeName }) });
  route(app, ctx, '/api/nodes', {
    GET: (r) => {
      requireTag(r.user, 'monitoring');
      return nodesJson(ctx);
    },
  });
  route(app, ctx, '/api/nodes/:name', {
    GET: (r) => {
      requireTag(r.user, 'monitoring');
      const node = nodesJson(ctx).find((n) => n.name === r.params.name);
      if (node === undefined) throw objectNotFound();
      return node;
    },
  });
  clusterRoutes(app, ctx);
  route(app, ctx, '/api/vhosts', { GET: (r) => listResponse(vhostsOf(ctx, r), r.query, ['name']) });
  accessRoutes(app, ctx, (name) => vhostJson(ctx, name));
  route(app, ctx, '/api/whoami', { GET: (r) => ({ name: r.user.name, tags: r.user.tags }) });
  healthRoutes(app, ctx);
}

function overview(ctx: ManagementContext, _r: ApiRequest): unknown {
  const b = ctx.broker;
  const t = totals(b);
  let queues = 0;
  let exchanges = 0;
  let channels = 0;
  let consumers = 0;
  for (const v of b.vhostList()) {
    queues += v.queues.size + v.streams.size;
    exchanges += v.exchanges.size;
  }
  for (const c of b.connections.values()) {
    for (const ch of c.info().channels) {
      channels++;
      consumers += ch.consumers.length;
    }
  }
  const churn = b.connections.churn;
  return {
    management_version: RABBITMQ_COMPAT_VERSION,
    rates_mode: 'basic',
    exchange_types: EXCHANGE_TYPES,
    product_version: WHARF_VERSION,
    product_name: 'Wharf',
    rabbitmq_version: RABBITMQ_COMPAT_VERSION,
    cluster_name: ctx.cluster()?.clusterName ?? ctx.nodeName,
    erlang_version: process.version,
    erlang_full_version: `Node.js ${process.version}`,
    disable_stats: false,
    enable_queue_totals: false,
    message_stats: vhostMessageStats(b, t.counters, ctx.rates),
    churn_rates: {
      connection_created: churn.connectionCreated,
      connection_closed: churn.connectionClosed,
    },
    queue_totals: depthJson(b, t.depth, ctx.rates),
    object_totals: { channels, connections: b.connections.size, consumers, exchanges, queues },
    statistics_db_event_queue: 0,
    node: ctx.nodeName,
    listeners: ctx.listeners().map((l) => ({ node: ctx.nodeName, protocol: l.protocol, ip_address: l.ip, port: l.port, socket_opts: {} })),
    contexts: [{ node: ctx.nodeName, description: 'RabbitMQ Management', path: '/', port: String(listenerPort(ctx, 'http')) }],
  };
}

function listenerPort(ctx: ManagementContext, protocol: string): number {
  return ctx.listeners().find((l) => l.protocol === protocol)?.port ?? 0;
}

/**
 * Every node: this one with its own figures; in a cluster, the others with what etcd
 * holds of them (RabbitMQ lists stopped members too, running: false). Wharf adds
 * `addresses` (how clients reach each node) and `leaders` (the resources it leads,
 * with their epochs): docs/cluster.md.
 */
function nodesJson(ctx: ManagementContext): Record<string, unknown>[] {
  const cluster = ctx.cluster();
  if (cluster === undefined) {
    const addresses = Object.fromEntries(ctx.listeners().map((l) => [l.protocol, hostPort(l.ip, l.port)]));
    return [{ ...nodeJson(ctx), addresses, leaders: [] }];
  }
  return cluster.nodes().map((n) => {
    const own = n.self ? nodeJson(ctx) : { name: n.name, type: 'disc', running: n.up, being_drained: false, partitions: [] };
    return {
      ...own,
      running: n.up,
      ...(n.startedAt !== undefined && !n.self ? { uptime: Math.max(0, Date.now() - n.startedAt) } : {}),
      ...(n.version !== undefined ? { applications: [{ name: 'wharf', description: 'Wharf', version: n.version }] } : {}),
      addresses: n.addresses,
      leaders: n.leaders,
    };
  });
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function nodeJson(ctx: ManagementContext): Record<string, unknown> {
  const status = ctx.resources?.status();
  const mem = process.memoryUsage();
  return {
    name: ctx.nodeName,
    type: 'disc',
    running: true,
    os_pid: String(process.pid),
    uptime: Date.now() - ctx.broker.startedAt,
    processors: cpus().length,
    mem_used: mem.rss,
    mem_limit: status?.memory.limitBytes ?? totalmem(),
    mem_alarm: status?.alarms.includes('memory') ?? false,
    disk_free: status?.disk.freeBytes ?? 0,
    disk_free_limit: status?.disk.limitBytes ?? 0,
    disk_free_alarm: status?.alarms.includes('disk') ?? false,
    fd_used: 0,
    sockets_used: ctx.broker.connections.size,
    proc_used: 0,
    run_queue: 0,
    rates_mode: 'basic',
    exchange_types: EXCHANGE_TYPES,
    auth_mechanisms: [
      { name: 'PLAIN', description: 'SASL PLAIN authentication mechanism', enabled: true },
      { name: 'AMQPLAIN', description: 'QPid AMQPLAIN mechanism', enabled: true },
    ],
    partitions: [],
    applications: [{ name: 'wharf', description: 'Wharf', version: WHARF_VERSION }],
    being_drained: false,
  };
}

function vhostsOf(ctx: ManagementContext, r: ApiRequest): Record<string, unknown>[] {
  return ctx.broker
    .vhostList()
    .filter((v) => mayAccessVhost(ctx.broker, r.user, v.name))
    .map((v) => vhostJson(ctx, v.name));
}

function vhostJson(ctx: ManagementContext, name: string): Record<string, unknown> {
  const v = vhostOf(ctx, name);
  const record = ctx.broker.access.vhost(name);
  const description = record?.description ?? '';
  const tags = record?.tags ?? [];
  let recv = 0;
  let send = 0;
  for (const c of ctx.broker.connections.values()) {
    const info = c.info();
    if (info.vhost !== name) continue;
    recv += info.bytesReceived;
    send += info.bytesSent;
  }
  return {
    cluster_state: { [ctx.nodeName]: 'running' },
    default_queue_type: record?.default_queue_type ?? 'undefined',
    description,
    message_stats: vhostMessageStats(v, v.stats, ctx.rates),
    ...depthJson(v, vhostDepth(v), ctx.rates),
    metadata: { description, tags },
    name,
    recv_oct: recv,
    send_oct: send,
    tags,
    tracing: false,
  };
}

function healthRoutes(app: FastifyInstance, ctx: ManagementContext): void {
  const alarms = (): unknown => {
    const list = ctx.resources?.alarms ?? [];
    if (list.length === 0) return { status: 'ok' };
    return new Status(503, {
      status: 'failed',
      reason: 'resource alarm(s) in effect in the cluster',
      alarms: list.map((a) => ({ node: ctx.nodeName, resource: a })),
    });
  };
  route(app, ctx, '/api/health/checks/alarms', { GET: alarms });
  route(app, ctx, '/api/health/checks/local-alarms', { GET: alarms });
  route(app, ctx, '/api/health/checks/virtual-hosts', { GET: () => ({ status: 'ok' }) });
  route(app, ctx, '/api/health/checks/node-is-quorum-critical', { GET: () => ({ status: 'ok' }) });
  route(app, ctx, '/api/health/checks/node-is-mirror-sync-critical', { GET: () => ({ status: 'ok' }) });
  route(app, ctx, '/api/health/checks/port-listener/:port', {
    GET: (r) => {
      const port = Number(r.params.port);
      const ports = ctx.listeners().map((l) => l.port);
      if (ports.includes(port)) return { status: 'ok', port };
      return new Status(503, { status: 'failed', reason: 'No active listener', missing: port, ports });
    },
  });
  route(app, ctx, '/api/health/checks/protocol-listener/:protocol', {
    GET: (r) => {
      const protocols = ctx.listeners().map((l) => l.protocol);
      const p = r.params.protocol.toLowerCase();
      if (protocols.includes(p)) return { status: 'ok', protocol: p };
      return new Status(503, { status: 'failed', reason: 'No active listener', missing: p, protocols });
    },
  });
  route(app, ctx, '/api/aliveness-test/:vhost', { GET: (r) => aliveness(ctx, r) });
}

/** RabbitMQ's aliveness test: declare a queue "aliveness-test", publish to it and get the message back. */
async function aliveness(ctx: ManagementContext, r: ApiRequest): Promise<unknown> {
  const v = vhostOf(ctx, r.params.vhost);
  const q = await v.declareQueue('aliveness-test', { passive: false, durable: false, exclusive: false, autoDelete: false, args: {} }, 'management-api');
  if (!(q instanceof Queue)) return new Status(503, { status: 'failed', reason: "'aliveness-test' is a stream in this vhost" });
  v.publish({
    exchange: '',
    routingKey: q.name,
    mandatory: false,
    properties: Buffer.from([0, 0]),
    body: Buffer.from('test_message'),
    persistent: false,
    headers: undefined,
    priority: 0,
    expiration: -1,
    messageId: undefined,
  });
  const got = await q.take();
  if (!got) return new Status(503, { status: 'failed', reason: 'aliveness-test message not received' });
  q.settle(got);
  return { status: 'ok' };
}

/** How long POST /api/cluster/rebalance waits for new replicas to be in sync (the CLI waits 30 s). */
const REBALANCE_WAIT_MS = 20_000;

/** Wharf's cluster operations (docs/cluster.md, "Reassignment"): rebalance and forget. */
function clusterRoutes(app: FastifyInstance, ctx: ManagementContext): void {
  route(app, ctx, '/api/cluster/rebalance', {
    POST: async (r) => {
      requireTag(r.user, 'administrator');
      const cluster = ctx.cluster();
      if (cluster?.rebalance === undefined) throw badRequest('this node is not in a cluster');
      const body = (r.body ?? {}) as { timeout_ms?: unknown };
      const wait = typeof body.timeout_ms === 'number' && body.timeout_ms >= 0 ? Math.min(body.timeout_ms, REBALANCE_WAIT_MS) : REBALANCE_WAIT_MS;
      return { moves: await cluster.rebalance(wait) };
    },
  });
  route(app, ctx, '/api/cluster/members/:name', {
    DELETE: async (r) => {
      requireTag(r.user, 'administrator');
      const cluster = ctx.cluster();
      if (cluster?.forget === undefined) throw badRequest('this node is not in a cluster');
      const name = r.params.name;
      const result = await cluster.forget(name);
      if (result === 'not-found') throw objectNotFound();
      if (result === 'running') throw badRequest(`node '${name}' is running: stop it before forgetting it`);
      return new Status(204);
    },
  });
}
