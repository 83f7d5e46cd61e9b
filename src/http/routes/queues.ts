// /api/queues: list, inspect, declare (PUT), delete (if-unused / if-empty), purge
// (DELETE .../contents) and get messages (POST .../get, every ackmode).

import type { FastifyInstance } from 'fastify';
import type { Queue } from '../../broker/queue/queue.js';
import type { Vhost } from '../../broker/vhost.js';
import { NO_SINK, Session } from '../../broker/session.js';
import { decodeProperties } from '../../protocol/amqp/index.js';
import { Status, boolField, checked, grantFor, objectBody, route, sendError, stringField, vhostOf, type ApiRequest } from '../api.js';
import { mayAccessVhost, requireTag } from '../auth.js';
import type { ManagementContext } from '../context.js';
import { HttpError, badRequest, objectNotFound } from '../errors.js';
import { allConsumers, queueColumn, queueJson, streamQueueJson } from '../format.js';
import { argsFromJson, fieldToJson } from '../json.js';
import { lazyListResponse, valueAt, type LazyList } from '../paging.js';
import { localCounts, queueCountsRoute, RemoteCounts, type QueueCounts } from '../remote-counts.js';
import type { Stream } from '../../broker/stream/stream.js';

/** The connection id the API acts as (exclusive queues of clients are still theirs). */
const API_CONNECTION = 'management-api';

export function queueRoutes(app: FastifyInstance, ctx: ManagementContext): void {
  // In a cluster, a queue homed on another node shows that node's counts (remote-counts.ts).
  const remote = new RemoteCounts(ctx);
  queueCountsRoute(app, ctx);
  const list = async (r: ApiRequest, vhosts: readonly Vhost[]): Promise<unknown> => {
    const visible = vhosts.filter((v) => mayAccessVhost(ctx.broker, r.user, v.name));
    return lazyListResponse(queuesOf(ctx, visible, await remote.lookup(visible.flatMap((v) => [...v.queues.values()]))), r.query);
  };
  route(app, ctx, '/api/queues', { GET: (r) => list(r, ctx.broker.vhostList()) });
  route(app, ctx, '/api/queues/:vhost', { GET: (r) => list(r, [vhostOf(ctx, r.params.vhost)]) });
  route(app, ctx, '/api/queues/:vhost/:name', {
    GET: async (r) => {
      const q = vhostOf(ctx, r.params.vhost).queues.get(r.params.name);
      return getQueue(ctx, r, await remote.lookup(q === undefined ? [] : [q]));
    },
    PUT: (r) => declareQueue(ctx, r),
    DELETE: (r) => deleteQueue(ctx, r),
  });
  route(app, ctx, '/api/queues/:vhost/:name/contents', { DELETE: (r) => purgeQueue(ctx, r) });
  route(app, ctx, '/api/queues/:vhost/:name/get', { POST: (r) => getMessages(ctx, r) });
  // RabbitMQ answers a bare 400 for any other path below a queue.
  app.all('/api/queues/:vhost/:name/*', (_req, reply) => sendError(reply, new HttpError(400, '', '')));
  route(app, ctx, '/api/queues/:vhost/:name/bindings', {
    GET: (r) => {
      const v = vhostOf(ctx, r.params.vhost);
      findQueue(v, r.params.name);
      return listBindingsTo(v, r.params.name);
    },
  });
}

type Listed = { readonly v: Vhost; readonly q: Queue; readonly s?: undefined } | { readonly v: Vhost; readonly s: Stream; readonly q?: undefined };

/** `vhosts`: those the user may see. */
function queuesOf(ctx: ManagementContext, vhosts: readonly Vhost[], counts: (q: Queue) => QueueCounts): LazyList<Listed> {
  const items: Listed[] = [];
  for (const v of vhosts) {
    for (const q of v.queues.values()) items.push({ v, q });
    for (const s of v.streams.list()) items.push({ v, s });
  }
  const render = (i: Listed): Record<string, unknown> => (i.q ? queueJson(ctx, i.q, counts(i.q)) : streamQueueJson(ctx, i.v, i.s));
  return {
    items,
    // Queues are read straight from the broker's objects; streams (few) from their JSON.
    column: (path) => {
      if (path === 'name') return (i) => (i.q ? i.q.name : i.s.name);
      if (path === 'vhost') return (i) => i.v.name;
      const read = queueColumn(ctx, path, counts);
      if (!read) return undefined;
      const parts = path.split('.');
      return (i) => (i.q ? read(i.q) : valueAt(render(i), parts));
    },
    render,
  };
}

function findQueue(v: Vhost, name: string | undefined): Queue {
  const q = name === undefined ? undefined : v.queues.get(name);
  if (!q) throw objectNotFound();
  return q;
}

function getQueue(ctx: ManagementContext, r: ApiRequest, counts: (q: Queue) => QueueCounts = localCounts): unknown {
  const v = vhostOf(ctx, r.params.vhost);
  const stream = v.streams.get(r.params.name);
  if (stream) return streamQueueJson(ctx, v, stream);
  const q = findQueue(v, r.params.name);
  const consumers = allConsumers(ctx).filter((c) => c.vhost === v.name && c.queue === q.name).map((c) => c.json);
  return { ...queueJson(ctx, q, counts(q)), consumer_details: consumers, deliveries: [], incoming: [] };
}

async function declareQueue(ctx: ManagementContext, r: ApiRequest): Promise<Status> {
  requireTag(r.user, 'management');
  const v = ctx.broker.vhost(r.params.vhost);
  if (!v) throw new HttpError(404, 'not_found', 'vhost_not_found');
  const body = objectBody(r);
  const name = r.params.name;
  let args: Record<string, unknown>;
  try {
    args = argsFromJson(body.arguments);
  } catch (err) {
    throw badRequest((err as Error).message);
  }
  const existed = v.queues.has(name) || v.streams.has(name);
  grantFor(ctx, r, v.name).queueDeclare(name, false, args['x-dead-letter-exchange']);
  v.declareQueue(
    name,
    { passive: false, durable: boolField(body, 'durable', true), exclusive: false, autoDelete: boolField(body, 'auto_delete', false), args },
    API_CONNECTION,
  );
  await ctx.broker.topologySaved();
  return new Status(existed ? 204 : 201);
}

async function deleteQueue(ctx: ManagementContext, r: ApiRequest): Promise<Status> {
  const v = vhostOf(ctx, r.params.vhost);
  grantFor(ctx, r, v.name).queueDelete(r.params.name);
  if (v.streams.has(r.params.name)) {
    await v.streams.delete(r.params.name);
    return new Status(204);
  }
  const q = findQueue(v, r.params.name);
  const ifUnused = r.query['if-unused'] === 'true';
  const ifEmpty = r.query['if-empty'] === 'true';
  if (ifUnused && q.consumerCount > 0) throw badRequest(`queue '${q.name}' in vhost '${v.name}' in use`);
  if (ifEmpty && q.messageCount > 0) throw badRequest(`queue '${q.name}' in vhost '${v.name}' not empty`);
  v.removeQueue(q);
  await ctx.broker.topologySaved();
  return new Status(204);
}

function purgeQueue(ctx: ManagementContext, r: ApiRequest): Status {
  const v = vhostOf(ctx, r.params.vhost);
  grantFor(ctx, r, v.name).purge(r.params.name);
  findQueue(v, r.params.name).purge();
  return new Status(204);
}

function listBindingsTo(v: Vhost, queue: string): unknown[] {
  const out: unknown[] = [{ source: '', vhost: v.name, destination: queue, destination_type: 'queue', routing_key: queue, arguments: {}, properties_key: encodeURIComponent(queue) }];
  for (const x of v.exchanges.values()) {
    if (x.isDefault) continue;
    for (const b of x.router.bindings()) {
      if ((b.destination as { name: string }).name === queue && v.queues.get(queue) === b.destination) {
        out.push({ source: x.name, vhost: v.name, destination: queue, destination_type: 'queue', routing_key: b.routingKey, arguments: fieldToJson(b.args), properties_key: encodeURIComponent(b.routingKey) });
      }
    }
  }
  return out;
}

const ACK_MODES = ['ack_requeue_true', 'ack_requeue_false', 'reject_requeue_true', 'reject_requeue_false'] as const;
type AckMode = (typeof ACK_MODES)[number];

/** A sink for the API's own get-only session: it never has consumers. */

/**
 * RabbitMQ's "Get messages": basic.get `count` times on a private channel, then
 * settle them all by `ackmode` (requeued ones come back marked redelivered).
 */
async function getMessages(ctx: ManagementContext, r: ApiRequest): Promise<unknown[]> {
  const v = vhostOf(ctx, r.params.vhost);
  const grant = grantFor(ctx, r, v.name);
  // RabbitMQ answers this refusal with a 401 carrying the AMQP text.
  checked(() => grant.get(r.params.name), (text) => new HttpError(401, 'not_authorised', text));
  const q = findQueue(v, r.params.name);
  const body = objectBody(r);
  const ackmode = stringField(body, 'ackmode') as AckMode;
  if (!ACK_MODES.includes(ackmode)) throw badRequest(`unknown ackmode '${ackmode}'`);
  const encoding = stringField(body, 'encoding', 'auto');
  if (encoding !== 'auto' && encoding !== 'base64') throw badRequest(`unknown encoding '${encoding}'`);
  const count = numberField(body, 'count', 1);
  const truncate = body.truncate === undefined || body.truncate === null ? undefined : numberField(body, 'truncate', 0);
  const session = new Session(v, ctx.broker.store, API_CONNECTION, NO_SINK);
  const out: unknown[] = [];
  const tags: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const got = await session.get(q.name, false);
      if (!got) break;
      tags.push(got.deliveryTag);
      out.push(messageJson(got.content, got.entry.redelivered, got.messageCount, encoding, truncate));
    }
    if (tags.length > 0) {
      const last = tags[tags.length - 1];
      if (ackmode === 'ack_requeue_false') session.ack(last, true);
      else session.nack(last, true, ackmode !== 'reject_requeue_false');
    }
  } finally {
    session.close();
  }
  return out;
}

function numberField(body: Record<string, unknown>, key: string, dflt: number): number {
  const v = body[key];
  if (v === undefined || v === null) return dflt;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw badRequest(`${key} must be a non-negative integer`);
  return n;
}

interface Content {
  readonly exchange: string;
  readonly routingKey: string;
  readonly properties: Buffer;
  readonly body: Buffer;
}

function messageJson(c: Content, redelivered: boolean, messageCount: number, encoding: string, truncate: number | undefined): unknown {
  const payload = truncate !== undefined && c.body.length > truncate ? c.body.subarray(0, truncate) : c.body;
  const asString = encoding === 'auto' && isUtf8(payload);
  return {
    payload_bytes: c.body.length,
    redelivered,
    exchange: c.exchange,
    routing_key: c.routingKey,
    message_count: messageCount,
    properties: propertiesJson(c.properties),
    payload: asString ? payload.toString('utf8') : payload.toString('base64'),
    payload_encoding: asString ? 'string' : 'base64',
  };
}

export function isUtf8(b: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
}

const PROPERTY_NAMES: Record<string, string> = {
  contentType: 'content_type',
  contentEncoding: 'content_encoding',
  headers: 'headers',
  deliveryMode: 'delivery_mode',
  priority: 'priority',
  correlationId: 'correlation_id',
  replyTo: 'reply_to',
  expiration: 'expiration',
  messageId: 'message_id',
  timestamp: 'timestamp',
  type: 'type',
  userId: 'user_id',
  appId: 'app_id',
  clusterId: 'cluster_id',
};

/** Basic properties in RabbitMQ's JSON (snake_case); none at all is [] (an empty Erlang proplist). */
export function propertiesJson(raw: Buffer): unknown {
  const props = decodeProperties(raw) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(props)) if (v !== undefined) out[PROPERTY_NAMES[k] ?? k] = fieldToJson(v);
  return Object.keys(out).length === 0 ? [] : out;
}
