// Wharf's dead-letter routes: browse a queue without consuming (peek, with each
// message's x-death history parsed), move or replay messages to another queue, an
// exchange or back where they died from, replay a range of a stream, and follow or
// cancel the moves (src/broker/move.ts does the work; docs/management.md).

import type { FastifyInstance } from 'fastify';
import { deathsOf } from '../../broker/dead-letter.js';
import type { MoveDestination, MoveJob } from '../../broker/move.js';
import type { Queue } from '../../broker/queue/queue.js';
import { startReplay } from '../../broker/stream-replay.js';
import type { Vhost } from '../../broker/vhost.js';
import { decodeProperties } from '../../protocol/amqp/index.js';
import { Status, boolField, objectBody, route, vhostOf, type ApiRequest } from '../api.js';
import { mayAccessVhost } from '../auth.js';
import type { ManagementContext } from '../context.js';
import { badRequest, notAuthorised, objectNotFound } from '../errors.js';
import { isUtf8, propertiesJson } from './queues.js';

/** Most messages one peek returns (as RabbitMQ caps its message listing pages at 500). */
export const PEEK_COUNT_MAX = 500;
const PEEK_COUNT_DEFAULT = 20;
/** Most positions one move may select. */
const POSITIONS_MAX = 10_000;

export function deadLetterRoutes(app: FastifyInstance, ctx: ManagementContext): void {
  route(app, ctx, '/api/wharf/queues/:vhost/:name/messages', { GET: (r) => peek(ctx, r) });
  route(app, ctx, '/api/wharf/queues/:vhost/:name/move', { POST: (r) => startMove(ctx, r) });
  route(app, ctx, '/api/wharf/streams/:vhost/:name/replay', { POST: (r) => replay(ctx, r) });
  route(app, ctx, '/api/wharf/moves', { GET: () => ctx.broker.moves.list().map(moveJson) });
  route(app, ctx, '/api/wharf/moves/:id', {
    GET: (r) => moveJson(findMove(ctx, r)),
    DELETE: (r) => {
      const job = findMove(ctx, r);
      job.cancel();
      return new Status(202, moveJson(job));
    },
  });
}

function accessibleVhost(ctx: ManagementContext, r: ApiRequest): Vhost {
  const v = vhostOf(ctx, r.params.vhost);
  if (!mayAccessVhost(ctx.broker, r.user, v.name)) throw notAuthorised('Access refused.');
  return v;
}

function findQueue(v: Vhost, name: string | undefined): Queue {
  const q = name === undefined ? undefined : v.queues.get(name);
  if (!q) throw objectNotFound();
  return q;
}

function findMove(ctx: ManagementContext, r: ApiRequest): MoveJob {
  const job = ctx.broker.moves.get(r.params.id ?? '');
  if (!job || !mayAccessVhost(ctx.broker, r.user, job.source.vhost)) throw objectNotFound();
  return job;
}

/** GET .../messages?from=N&count=M&truncate=B&encoding=auto|base64: ready messages, not consumed. */
async function peek(ctx: ManagementContext, r: ApiRequest): Promise<unknown> {
  const q = findQueue(accessibleVhost(ctx, r), r.params.name);
  const from = intParam(r.query.from, 'from', 0);
  const count = Math.min(intParam(r.query.count, 'count', PEEK_COUNT_DEFAULT), PEEK_COUNT_MAX);
  const truncate = r.query.truncate === undefined ? undefined : intParam(r.query.truncate, 'truncate', 0);
  const encoding = typeof r.query.encoding === 'string' ? r.query.encoding : 'auto';
  if (encoding !== 'auto' && encoding !== 'base64') throw badRequest(`unknown encoding '${encoding}'`);
  const entries = q.peek(from, count);
  const contents = await ctx.broker.store.peekContents(entries.map((e) => e.msg));
  const items = [];
  for (let i = 0; i < entries.length; i++) {
    const c = contents[i];
    if (!c) continue; // gone from the log (a failed write): the queue drops it when it reaches the head
    const payload = truncate !== undefined && c.body.length > truncate ? c.body.subarray(0, truncate) : c.body;
    const asString = encoding === 'auto' && isUtf8(payload);
    items.push({
      position: from + i,
      redelivered: entries[i].redelivered,
      exchange: c.exchange,
      routing_key: c.routingKey,
      properties: propertiesJson(c.properties),
      payload: asString ? payload.toString('utf8') : payload.toString('base64'),
      payload_encoding: asString ? 'string' : 'base64',
      payload_bytes: c.body.length,
      x_death: deathsJson(c.properties),
    });
  }
  return { total: q.messageCount, unacknowledged: q.unacked, from, items };
}

function deathsJson(properties: Buffer): unknown[] {
  return deathsOf(decodeProperties(properties).headers).map((d) => ({
    reason: d.reason,
    queue: d.queue,
    count: d.count,
    time: d.time,
    exchange: d.exchange,
    'routing-keys': d.routingKeys,
    ...(d.originalExpiration !== undefined ? { 'original-expiration': d.originalExpiration } : {}),
  }));
}

/** POST .../move {"destination", "count"?, "positions"?, "strip_x_death"?, "batch_size"?} -> 202 and the move. */
function startMove(ctx: ManagementContext, r: ApiRequest): Status {
  const v = accessibleVhost(ctx, r);
  const q = findQueue(v, r.params.name);
  const body = objectBody(r);
  const count = body.count === undefined || body.count === null ? undefined : intParam(body.count, 'count', 0);
  const positions = positionsField(body.positions);
  const job = ctx.broker.moves.start({
    vhost: v,
    source: q.name,
    destination: destinationField(body.destination, true),
    count,
    positions,
    stripXDeath: boolField(body, 'strip_x_death', false),
    batchMessages: body.batch_size === undefined ? undefined : intParam(body.batch_size, 'batch_size', 0),
  });
  return new Status(202, moveJson(job), { location: `/api/wharf/moves/${job.id}` });
}

/** POST /api/wharf/streams/{vhost}/{name}/replay -> 202 and the replay (a move whose source is a stream). */
function replay(ctx: ManagementContext, r: ApiRequest): Status {
  const v = accessibleVhost(ctx, r);
  if (!v.streams.get(r.params.name ?? '')) throw objectNotFound();
  const body = objectBody(r);
  const opt = (key: string): number | undefined => (body[key] === undefined || body[key] === null ? undefined : intParam(body[key], key, 0));
  const job = startReplay(ctx.broker.moves, ctx.broker.store, {
    vhost: v,
    stream: r.params.name ?? '',
    partition: opt('partition') ?? 0,
    fromOffset: opt('from_offset'),
    fromTimestamp: timestampField(body.from_timestamp),
    toOffset: opt('to_offset'),
    count: opt('count'),
    destination: destinationField(body.destination, false),
  });
  return new Status(202, moveJson(job), { location: `/api/wharf/moves/${job.id}` });
}

function destinationField(d: unknown, originAllowed: boolean): MoveDestination {
  if (d === 'origin' && originAllowed) return { kind: 'origin' };
  if (d !== null && typeof d === 'object' && !Array.isArray(d)) {
    const o = d as Record<string, unknown>;
    if (typeof o.queue === 'string' && o.exchange === undefined) return { kind: 'queue', queue: o.queue };
    if (typeof o.exchange === 'string' && o.queue === undefined) {
      if (o.routing_key !== undefined && typeof o.routing_key !== 'string') throw badRequest('routing_key must be a string');
      return { kind: 'exchange', exchange: o.exchange, routingKey: o.routing_key as string | undefined };
    }
  }
  throw badRequest(`destination must be {"queue": name}, {"exchange": name, "routing_key"?: key}${originAllowed ? ' or "origin"' : ''}`);
}

function positionsField(v: unknown): number[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length > POSITIONS_MAX) throw badRequest(`positions must be an array of at most ${POSITIONS_MAX} positions`);
  return v.map((p) => intParam(p, 'positions', 0));
}

/** Milliseconds since the epoch, or an ISO 8601 date. */
function timestampField(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  const ms = typeof v === 'number' ? v : typeof v === 'string' ? (/^\d+$/.test(v) ? Number(v) : Date.parse(v)) : NaN;
  if (!Number.isFinite(ms) || ms < 0) throw badRequest('from_timestamp must be milliseconds since the epoch or an ISO 8601 date');
  return ms;
}

function intParam(v: unknown, key: string, dflt: number): number {
  if (v === undefined || v === null || v === '') return dflt;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw badRequest(`${key} must be a non-negative integer`);
  return n;
}

function destinationJson(d: MoveDestination): unknown {
  if (d.kind === 'origin') return 'origin';
  if (d.kind === 'queue') return { queue: d.queue };
  return d.routingKey === undefined ? { exchange: d.exchange } : { exchange: d.exchange, routing_key: d.routingKey };
}

export function moveJson(job: MoveJob): Record<string, unknown> {
  const s = job.source;
  return {
    id: job.id,
    state: job.state,
    moved: job.moved,
    skipped: job.skipped,
    total: job.total,
    source: s.kind === 'queue' ? { vhost: s.vhost, queue: s.name } : { vhost: s.vhost, stream: s.name, partition: s.partition },
    destination: destinationJson(job.destination),
    started_at: new Date(job.startedAt).toISOString(),
    ...(job.finishedAt !== undefined ? { finished_at: new Date(job.finishedAt).toISOString() } : {}),
    ...(job.nextOffset !== undefined ? { next_offset: job.nextOffset } : {}),
    ...(job.error !== undefined ? { error: job.error } : {}),
  };
}
