// /api/definitions: export in RabbitMQ's format (users, vhosts, permissions,
// queues, exchanges, bindings) and import of vhosts' exchanges, queues and
// bindings (what exists already is kept when equivalent; a conflict is a 400).

import type { FastifyInstance } from 'fastify';
import type { Vhost } from '../../broker/vhost.js';
import { Status, objectBody, route, vhostOf, type ApiRequest } from '../api.js';
import { requireTag, userTags } from '../auth.js';
import type { ManagementContext } from '../context.js';
import { badRequest } from '../errors.js';
import { vhostBindings } from '../format.js';
import { argsFromJson, argsToJson } from '../json.js';
import { RABBITMQ_COMPAT_VERSION } from './node.js';
import { WHARF_VERSION } from '../version.js';

export function definitionRoutes(app: FastifyInstance, ctx: ManagementContext): void {
  route(app, ctx, '/api/definitions', {
    GET: (r) => {
      requireTag(r.user, 'administrator');
      return exportDefinitions(ctx, ctx.broker.vhostList(), true);
    },
    POST: (r) => importDefinitions(ctx, r, undefined),
  });
  route(app, ctx, '/api/definitions/:vhost', {
    GET: (r) => {
      requireTag(r.user, 'administrator');
      return exportDefinitions(ctx, [vhostOf(ctx, r.params.vhost)], false);
    },
    POST: (r) => importDefinitions(ctx, r, vhostOf(ctx, r.params.vhost)),
  });
}

function exportDefinitions(ctx: ManagementContext, vhosts: readonly Vhost[], whole: boolean): unknown {
  const queues: unknown[] = [];
  const exchanges: unknown[] = [];
  const bindings: unknown[] = [];
  for (const v of vhosts) {
    const vh = whole ? { vhost: v.name } : {};
    for (const q of v.queues.values()) {
      if (q.exclusiveOwner !== undefined) continue;
      queues.push({ name: q.name, ...vh, durable: q.durable, auto_delete: q.autoDelete, arguments: argsToJson(q.args) });
    }
    for (const s of v.streams.list()) {
      queues.push({ name: s.name, ...vh, durable: true, auto_delete: false, arguments: { 'x-queue-type': 'stream' } });
    }
    for (const x of v.exchanges.values()) {
      if (x.isDefault || x.name.startsWith('amq.')) continue;
      exchanges.push({ name: x.name, ...vh, type: x.type, durable: x.durable, auto_delete: x.autoDelete, internal: x.internal, arguments: argsToJson(x.args) });
    }
    for (const b of vhostBindings(v)) {
      if (b.source === '') continue;
      bindings.push({ source: b.source, ...vh, destination: b.destination, destination_type: b.destinationType, routing_key: b.routingKey, arguments: argsToJson(b.args) });
    }
  }
  const names = new Set(vhosts.map((v) => v.name));
  // RabbitMQ's definitions format already (policy/definition.ts); a vhost's own export leaves out the vhost.
  const policies = ctx.broker.policies
    .list('policy')
    .filter((p) => names.has(p.vhost))
    .map(({ vhost, ...rest }) => (whole ? { vhost, ...rest } : rest));
  const common = { rabbit_version: RABBITMQ_COMPAT_VERSION, rabbitmq_version: RABBITMQ_COMPAT_VERSION, product_name: 'Wharf', product_version: WHARF_VERSION };
  if (!whole) return { ...common, parameters: [], policies, queues, exchanges, bindings };
  const users = ctx.broker.userNames();
  return {
    ...common,
    users: users.map((name) => ({ name, tags: userTags(ctx.broker, name), limits: {} })),
    vhosts: vhosts.map((v) => ({ name: v.name })),
    permissions: vhosts.flatMap((v) => users.map((user) => ({ user, vhost: v.name, configure: '.*', write: '.*', read: '.*' }))),
    topic_permissions: [],
    parameters: [],
    global_parameters: [],
    policies,
    queues,
    exchanges,
    bindings,
  };
}

type Def = Record<string, unknown>;

function list(body: Def, key: string): Def[] {
  const v = body[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'object' || x === null || Array.isArray(x))) throw badRequest(`${key} must be a list of objects`);
  return v as Def[];
}

function str(d: Def, key: string, dflt?: string): string {
  const v = d[key];
  if (typeof v === 'string') return v;
  if (v === undefined && dflt !== undefined) return dflt;
  throw badRequest(`definition is missing '${key}'`);
}

function bool(d: Def, key: string, dflt: boolean): boolean {
  const v = d[key];
  return typeof v === 'boolean' ? v : dflt;
}

async function importDefinitions(ctx: ManagementContext, r: ApiRequest, only: Vhost | undefined): Promise<Status> {
  requireTag(r.user, 'administrator');
  const body = objectBody(r);
  const vhostFor = (d: Def): Vhost => {
    if (only) return only;
    const v = ctx.broker.vhost(str(d, 'vhost', '/'));
    if (!v) throw badRequest(`vhost '${String(d.vhost)}' does not exist`);
    return v;
  };
  const exchanges = list(body, 'exchanges');
  const queues = list(body, 'queues');
  const bindings = list(body, 'bindings');
  // Exchanges first: bindings need both ends; exchange-to-exchange bindings need both exchanges.
  for (const d of exchanges) {
    vhostFor(d).declareExchange(str(d, 'name'), str(d, 'type'), {
      passive: false,
      durable: bool(d, 'durable', true),
      autoDelete: bool(d, 'auto_delete', false),
      internal: bool(d, 'internal', false),
      args: argsFromJson(d.arguments),
    });
  }
  for (const d of queues) {
    vhostFor(d).declareQueue(
      str(d, 'name'),
      { passive: false, durable: bool(d, 'durable', true), exclusive: false, autoDelete: bool(d, 'auto_delete', false), args: argsFromJson(d.arguments) },
      'management-api',
    );
  }
  for (const d of bindings) {
    const v = vhostFor(d);
    const args = argsFromJson(d.arguments);
    const key = str(d, 'routing_key', '');
    if (str(d, 'destination_type', 'queue') === 'exchange') v.bindExchange(str(d, 'destination'), str(d, 'source'), key, args);
    else v.bindQueue(str(d, 'destination'), str(d, 'source'), key, args, 'management-api');
  }
  await ctx.broker.topologySaved();
  return new Status(204);
}
