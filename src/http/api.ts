// The management API's routing on fastify: each path gets one fastify route for
// every method, so a known path with a method it lacks answers 405 (as RabbitMQ,
// whose cowboy REST handlers check the method before credentials); then basic
// auth, then the handler. Handlers return the JSON body (200) or a Status.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authenticate, type ApiUser } from './auth.js';
import type { ManagementContext } from './context.js';
import { HttpError, badRequest, methodNotAllowed, notAuthorised, objectNotFound, toHttpError } from './errors.js';
import type { Query } from './paging.js';
import type { Vhost } from '../broker/vhost.js';
import { AccessGrant } from '../broker/access/index.js';
import { BrokerError } from '../broker/errors.js';

export interface ApiRequest {
  readonly params: Readonly<Record<string, string>>;
  readonly query: Query;
  /** The parsed JSON body (undefined when empty). */
  readonly body: unknown;
  readonly user: ApiUser;
  readonly headers: FastifyRequest['headers'];
}

/** A reply other than 200 with a JSON body. */
export class Status {
  constructor(
    readonly code: number,
    readonly body?: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

export type Handler = (req: ApiRequest) => unknown;
export type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';

const ALL_METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS'] as const;

export function route(app: FastifyInstance, ctx: ManagementContext, url: string, handlers: Partial<Record<Method, Handler>>): void {
  app.route({
    method: [...ALL_METHODS],
    url,
    handler: async (req: FastifyRequest, reply: FastifyReply) => {
      const method = (req.method === 'HEAD' ? 'GET' : req.method) as Method;
      const handler = handlers[method];
      if (!handler) {
        reply.header('allow', Object.keys(handlers).join(', '));
        throw methodNotAllowed();
      }
      const user = authenticate(ctx.broker, req.headers.authorization, req.socket.remoteAddress);
      const result = await handler({
        params: req.params as Record<string, string>,
        query: req.query as Query,
        body: req.body,
        user,
        headers: req.headers,
      });
      send(reply, result);
    },
  });
}

export function send(reply: FastifyReply, result: unknown): void {
  reply.header('cache-control', 'no-cache');
  if (result instanceof Status) {
    reply.headers(result.headers);
    reply.code(result.code);
    if (result.body === undefined) return void reply.send();
    return void reply.header('content-type', 'application/json').send(stringify(result.body));
  }
  reply.code(200).header('content-type', 'application/json').send(stringify(result));
}

export function sendError(reply: FastifyReply, err: unknown): void {
  const e = toHttpError(err);
  reply.code(e.status);
  // The dashboard marks its requests X-Requested-With: a Basic challenge would make the
  // browser pop its own login box over the dashboard's.
  if (e.status === 401 && reply.request.headers['x-requested-with'] !== 'XMLHttpRequest') {
    reply.header('www-authenticate', 'Basic realm="RabbitMQ Management"');
  }
  if (!e.hasBody) return void reply.send();
  reply.header('content-type', 'application/json').send(JSON.stringify({ error: e.error, reason: e.reason }));
}

function stringify(body: unknown): string {
  return JSON.stringify(body, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v));
}

/** The vhost named in the path, or RabbitMQ's 404. */
export function vhostOf(ctx: ManagementContext, name: string | undefined): Vhost {
  const v = name === undefined ? undefined : ctx.broker.vhost(name);
  if (!v) throw objectNotFound();
  return v;
}

/**
 * The API user's permission checks in a vhost (the same grant as an AMQP connection's,
 * not counted against connection limits). No permissions there at all: RabbitMQ's 401.
 */
export function grantFor(ctx: ManagementContext, r: ApiRequest, vhost: string): AccessGrant {
  if (!ctx.broker.access.permission(r.user.name, vhost)) throw notAuthorised('User not authorised to access virtual host');
  return new AccessGrant(ctx.broker.access, { user: r.user.name, vhost, clientId: '' });
}

/** Runs a permission check, turning its refusal into the HTTP error a route gives (RabbitMQ's differ per route). */
export function checked(check: () => void, refusal: (text: string) => HttpError): void {
  try {
    check();
  } catch (err) {
    if (err instanceof BrokerError && err.kind === 'access-refused') throw refusal(`ACCESS_REFUSED - ${err.message}`);
    throw err;
  }
}

/** A JSON object body (RabbitMQ: an empty body is an empty object). */
export function objectBody(req: ApiRequest): Record<string, unknown> {
  const b = req.body;
  if (b === undefined || b === null) return {};
  if (typeof b !== 'object' || Array.isArray(b)) throw badRequest('not_json');
  return b as Record<string, unknown>;
}

/** RabbitMQ reads booleans in bodies as true/false or "true"/"false". */
export function boolField(body: Record<string, unknown>, key: string, dflt: boolean): boolean {
  const v = body[key];
  if (v === undefined || v === null) return dflt;
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw badRequest(`${key} must be a boolean`);
}

export function stringField(body: Record<string, unknown>, key: string, dflt?: string): string {
  const v = body[key];
  if (v === undefined || v === null) {
    if (dflt !== undefined) return dflt;
    throw badRequest(`[{key_missing,${key}}]`);
  }
  if (typeof v !== 'string') throw badRequest(`${key} must be a string`);
  return v;
}
