// /api/exchanges (list, inspect, declare, delete, publish) and /api/bindings
// (list per vhost, per exchange-queue / exchange-exchange pair, create with POST,
// one binding by its properties key, DELETE by that key).

import type { FastifyInstance } from 'fastify';
import type { Exchange } from '../../broker/exchange/exchange.js';
import type { PublishInput } from '../../broker/message.js';
import type { Vhost } from '../../broker/vhost.js';
import { encodeProperties, type BasicProperties } from '../../protocol/amqp/index.js';
import { Status, boolField, checked, grantFor, objectBody, route, sendError, stringField, vhostOf, type ApiRequest } from '../api.js';
import { mayAccessVhost, requireTag } from '../auth.js';
import type { ManagementContext } from '../context.js';
import { HttpError, badRequest, objectNotFound } from '../errors.js';
import { bindingJson, exchangeJson, propertiesKey, vhostBindings, type BindingView } from '../format.js';
import { argsFromJson } from '../json.js';
import { lazyListResponse, type LazyList } from '../paging.js';

export function exchangeRoutes(app: FastifyInstance, ctx: ManagementContext): void {
  route(app, ctx, '/api/exchanges', { GET: (r) => lazyListResponse(exchangesOf(ctx, r, ctx.broker.vhostList()), r.query) });
  route(app, ctx, '/api/exchanges/:vhost', { GET: (r) => lazyListResponse(exchangesOf(ctx, r, [vhostOf(ctx, r.params.vhost)]), r.query) });
  route(app, ctx, '/api/exchanges/:vhost/:name', {
    GET: (r) => {
      const v = vhostOf(ctx, r.params.vhost);
      return { ...exchangeJson(ctx, v.name, findExchange(v, r.params.name)), incoming: [], outgoing: [] };
    },
    PUT: (r) => declareExchange(ctx, r),
    DELETE: async (r) => {
      const v = vhostOf(ctx, r.params.vhost);
      grantFor(ctx, r, v.name).exchangeDelete(r.params.name);
      const x = findExchange(v, r.params.name);
      v.deleteExchange(x.name, r.query['if-unused'] === 'true');
      await ctx.broker.topologySaved();
      return new Status(204);
    },
  });
  route(app, ctx, '/api/exchanges/:vhost/:name/publish', { POST: (r) => publish(ctx, r) });
  // RabbitMQ answers a bare 400 for any other path below an exchange.
  app.all('/api/exchanges/:vhost/:name/*', (_req, reply) => sendError(reply, new HttpError(400, '', '')));
  route(app, ctx, '/api/exchanges/:vhost/:name/bindings/source', {
    GET: (r) => {
      const v = vhostOf(ctx, r.params.vhost);
      const x = findExchange(v, r.params.name);
      return vhostBindings(v).filter((b) => b.source === (x.isDefault ? '' : x.name)).map((b) => bindingJson(v.name, b));
    },
  });
  route(app, ctx, '/api/exchanges/:vhost/:name/bindings/destination', {
    GET: (r) => {
      const v = vhostOf(ctx, r.params.vhost);
      const x = findExchange(v, r.params.name);
      return vhostBindings(v).filter((b) => b.destinationType === 'exchange' && b.destination === x.name).map((b) => bindingJson(v.name, b));
    },
  });
  bindingRoutes(app, ctx);
}

type ListedExchange = { readonly vhost: string; readonly x: Exchange };

/** exchangeJson's plain fields, read without rendering for sorting and filtering a page. */
const EXCHANGE_COLUMNS: Record<string, (i: ListedExchange) => unknown> = {
  auto_delete: (i) => i.x.autoDelete,
  durable: (i) => i.x.durable,
  internal: (i) => i.x.internal,
  name: (i) => (i.x.isDefault ? '' : i.x.name),
  type: (i) => i.x.type,
  vhost: (i) => i.vhost,
};

function exchangesOf(ctx: ManagementContext, r: ApiRequest, vhosts: readonly Vhost[]): LazyList<ListedExchange> {
  const items: ListedExchange[] = [];
  for (const v of vhosts) {
    if (!mayAccessVhost(ctx.broker, r.user, v.name)) continue;
    for (const x of v.exchanges.values()) items.push({ vhost: v.name, x });
  }
  return {
    items,
    column: (path) => (Object.hasOwn(EXCHANGE_COLUMNS, path) ? EXCHANGE_COLUMNS[path] : undefined),
    render: (i) => exchangeJson(ctx, i.vhost, i.x),
  };
}

/** RabbitMQ names the default exchange amq.default in paths. */
function findExchange(v: Vhost, name: string | undefined): Exchange {
  const x = name === undefined ? undefined : v.exchanges.get(name === 'amq.default' ? '' : name);
  if (!x) throw objectNotFound();
  return x;
}

async function declareExchange(ctx: ManagementContext, r: ApiRequest): Promise<Status> {
  requireTag(r.user, 'management');
  const v = ctx.broker.vhost(r.params.vhost);
  if (!v) throw new HttpError(404, 'not_found', 'vhost_not_found');
  const body = objectBody(r);
  const name = r.params.name;
  const existed = v.exchanges.has(name);
  let args: Record<string, unknown>;
  try {
    args = argsFromJson(body.arguments);
  } catch (err) {
    throw badRequest((err as Error).message);
  }
  grantFor(ctx, r, v.name).exchangeDeclare(name, false, args['alternate-exchange'], existed);
  v.declareExchange(name, stringField(body, 'type'), {
    passive: false,
    durable: boolField(body, 'durable', true),
    autoDelete: boolField(body, 'auto_delete', false),
    internal: boolField(body, 'internal', false),
    args,
  });
  await ctx.broker.topologySaved();
  return new Status(existed ? 204 : 201);
}

const PROPERTY_KEYS: Record<string, keyof BasicProperties> = {
  content_type: 'contentType',
  content_encoding: 'contentEncoding',
  headers: 'headers',
  delivery_mode: 'deliveryMode',
  priority: 'priority',
  correlation_id: 'correlationId',
  reply_to: 'replyTo',
  expiration: 'expiration',
  message_id: 'messageId',
  timestamp: 'timestamp',
  type: 'type',
  user_id: 'userId',
  app_id: 'appId',
  cluster_id: 'clusterId',
};

/** RabbitMQ's "Publish message": routes one message, answers whether any queue got it. */
async function publish(ctx: ManagementContext, r: ApiRequest): Promise<unknown> {
  const v = vhostOf(ctx, r.params.vhost);
  const x = findExchange(v, r.params.name);
  const body = objectBody(r);
  const routingKey = stringField(body, 'routing_key');
  const grant = grantFor(ctx, r, v.name);
  // RabbitMQ answers this refusal with a 400 carrying the AMQP code and text.
  checked(() => grant.publish(x.name, routingKey, () => x.type === 'topic'), (text) => badRequest(`403 ${text}`));
  const payloadText = stringField(body, 'payload');
  const encoding = stringField(body, 'payload_encoding');
  if (encoding !== 'string' && encoding !== 'base64') throw badRequest(`payload_encoding must be string or base64`);
  const props = propertiesFromJson(body.properties);
  if (props.userId !== undefined && props.userId !== r.user.name) {
    throw badRequest(`user_id property set to '${props.userId}' but authenticated user was '${r.user.name}'`);
  }
  const payload = Buffer.from(payloadText, encoding === 'base64' ? 'base64' : 'utf8');
  if (payload.length > ctx.maxMessageBytes) {
    // RabbitMQ publishes through a channel, and reports that channel's 406 as a 400.
    throw badRequest(`406 PRECONDITION_FAILED - message size ${payload.length} is larger than configured max size ${ctx.maxMessageBytes}`);
  }
  if (props.expiration !== undefined && !/^\d{1,15}$/.test(props.expiration)) throw badRequest(`invalid expiration '${props.expiration}'`);
  const input: PublishInput = {
    exchange: x.name,
    routingKey,
    mandatory: false,
    properties: encodeProperties(props),
    body: payload,
    persistent: props.deliveryMode === 2,
    headers: props.headers as Record<string, unknown> | undefined,
    priority: props.priority ?? 0,
    expiration: props.expiration === undefined ? -1 : Number(props.expiration),
    messageId: props.messageId,
  };
  const out = v.publish(input);
  if (out.needsSync) await Promise.all([ctx.broker.store.sync(), ctx.broker.topologySaved()]);
  return { routed: out.queues > 0 };
}

function propertiesFromJson(raw: unknown): BasicProperties {
  if (raw === undefined || raw === null || (Array.isArray(raw) && raw.length === 0)) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw badRequest('properties must be an object');
  const props: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const key = PROPERTY_KEYS[k];
    if (!key) throw badRequest(`unknown property '${k}'`);
    const numeric = key === 'deliveryMode' || key === 'priority' || key === 'timestamp';
    if (numeric && typeof v !== 'number') throw badRequest(`property ${k} must be a number`);
    if (key === 'headers' && (typeof v !== 'object' || v === null || Array.isArray(v))) throw badRequest('headers must be an object');
    if (!numeric && key !== 'headers' && typeof v !== 'string') throw badRequest(`property ${k} must be a string`);
    props[key] = v;
  }
  return props as BasicProperties;
}

// --- bindings --------------------------------------------------------------

function bindingRoutes(app: FastifyInstance, ctx: ManagementContext): void {
  route(app, ctx, '/api/bindings', {
    GET: (r) => lazyListResponse(allBindings(ctx, r, ctx.broker.vhostList()), r.query, []),
  });
  route(app, ctx, '/api/bindings/:vhost', {
    GET: (r) => lazyListResponse(allBindings(ctx, r, [vhostOf(ctx, r.params.vhost)]), r.query, []),
  });
  for (const kind of ['q', 'e'] as const) {
    const base = `/api/bindings/:vhost/e/:source/${kind}/:destination`;
    route(app, ctx, base, {
      GET: (r) => pairBindings(ctx, r, kind).map((b) => bindingJson(r.params.vhost, b)),
      POST: (r) => createBinding(ctx, r, kind),
    });
    route(app, ctx, `${base}/:props`, {
      GET: (r) => bindingJson(r.params.vhost, oneBinding(ctx, r, kind)),
      DELETE: async (r) => {
        const b = oneBinding(ctx, r, kind);
        const v = vhostOf(ctx, r.params.vhost);
        checkBind(ctx, r, v, kind, b.destination, b.source, b.routingKey);
        if (kind === 'q') v.unbindQueue(b.destination, b.source, b.routingKey, b.args, 'management-api');
        else v.unbindExchange(b.destination, b.source, b.routingKey, b.args);
        await ctx.broker.topologySaved();
        return new Status(204);
      },
    });
  }
}

type ListedBinding = { readonly vhost: string; readonly b: BindingView };

/** bindingJson's plain fields, read without rendering (properties_key hashes the arguments). */
const BINDING_COLUMNS: Record<string, (i: ListedBinding) => unknown> = {
  destination: (i) => i.b.destination,
  destination_type: (i) => i.b.destinationType,
  routing_key: (i) => i.b.routingKey,
  source: (i) => i.b.source,
  vhost: (i) => i.vhost,
  // Bindings have no name: RabbitMQ's name filter sees none.
  name: () => undefined,
};

function allBindings(ctx: ManagementContext, r: ApiRequest, vhosts: readonly Vhost[]): LazyList<ListedBinding> {
  const items: ListedBinding[] = [];
  for (const v of vhosts) {
    if (!mayAccessVhost(ctx.broker, r.user, v.name)) continue;
    for (const b of vhostBindings(v)) items.push({ vhost: v.name, b });
  }
  return {
    items,
    column: (path) => (Object.hasOwn(BINDING_COLUMNS, path) ? BINDING_COLUMNS[path] : undefined),
    render: (i) => bindingJson(i.vhost, i.b),
  };
}

function pairBindings(ctx: ManagementContext, r: ApiRequest, kind: 'q' | 'e'): BindingView[] {
  const v = vhostOf(ctx, r.params.vhost);
  const source = findExchange(v, r.params.source);
  const destination = r.params.destination;
  if (kind === 'q' ? !v.queues.has(destination) : !v.exchanges.has(destination)) throw objectNotFound();
  const type = kind === 'q' ? 'queue' : 'exchange';
  const src = source.isDefault ? '' : source.name;
  return vhostBindings(v).filter((b) => b.source === src && b.destination === destination && b.destinationType === type);
}

function oneBinding(ctx: ManagementContext, r: ApiRequest, kind: 'q' | 'e'): BindingView {
  const props = r.params.props;
  // The key arrives decoded once; clients send it as listed (quoted) or quoted again.
  const b = pairBindings(ctx, r, kind).find((x) => {
    const key = propertiesKey(x.routingKey, x.args);
    return key === props || safeDecode(key) === props;
  });
  if (!b) throw objectNotFound();
  return b;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Binding and unbinding: write on the destination, read on the source (and topic read), as over AMQP. */
function checkBind(ctx: ManagementContext, r: ApiRequest, v: Vhost, kind: 'q' | 'e', destination: string, source: string, routingKey: string): void {
  const grant = grantFor(ctx, r, v.name);
  const topic = v.exchanges.get(source)?.type === 'topic';
  if (kind === 'q') grant.queueBind(destination, source, routingKey, topic);
  else grant.exchangeBind(destination, source, routingKey, topic);
}

async function createBinding(ctx: ManagementContext, r: ApiRequest, kind: 'q' | 'e'): Promise<Status> {
  const v = vhostOf(ctx, r.params.vhost);
  const body = objectBody(r);
  const routingKey = stringField(body, 'routing_key', '');
  let args: Record<string, unknown>;
  try {
    args = argsFromJson(body.arguments);
  } catch (err) {
    throw badRequest((err as Error).message);
  }
  const source = r.params.source === 'amq.default' ? '' : r.params.source;
  checkBind(ctx, r, v, kind, r.params.destination, source, routingKey);
  if (kind === 'q') v.bindQueue(r.params.destination, source, routingKey, args, 'management-api');
  else v.bindExchange(r.params.destination, source, routingKey, args);
  await ctx.broker.topologySaved();
  // RabbitMQ answers 201 with the new binding's location relative to the pair's URL.
  return new Status(201, undefined, { location: `${encodeURIComponent(r.params.destination)}/${encodeURIComponent(propertiesKey(routingKey, args))}` });
}

