// Errors of the management API in RabbitMQ's shape: {"error": ..., "reason": ...}
// with RabbitMQ's status codes, so tools that read them (rabbitmqadmin, client
// libraries' management helpers) see what they expect.

import { BrokerError } from '../broker/errors.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    /** A string, or an Erlang term RabbitMQ reports as a JSON list (["no_such_user", "u"]). */
    readonly reason: string | readonly unknown[],
  ) {
    super(typeof reason === 'string' ? reason : JSON.stringify(reason));
  }

  /** RabbitMQ sends some errors (405, 400 for a malformed URL) with no body. */
  get hasBody(): boolean {
    return this.error !== '';
  }
}

/** RabbitMQ's 404 for a missing object, route or vhost in a path. */
export const objectNotFound = (): HttpError => new HttpError(404, 'Object Not Found', 'Not Found');
export const badRequest = (reason: string | readonly unknown[]): HttpError => new HttpError(400, 'bad_request', reason);
export const notAuthorised = (reason: string): HttpError => new HttpError(401, 'not_authorised', reason);
export const methodNotAllowed = (): HttpError => new HttpError(405, '', '');

/** The broker's typed errors as RabbitMQ's management plugin reports them. */
export function fromBrokerError(err: BrokerError): HttpError {
  switch (err.kind) {
    case 'not-found':
      return objectNotFound();
    case 'access-refused':
      return new HttpError(401, 'not_authorised', 'Access refused.');
    case 'resource-locked':
      return new HttpError(400, 'bad_request', err.message);
    case 'internal-error':
    case 'resource-error':
      return new HttpError(500, 'internal_server_error', err.message);
    default:
      return badRequest(err.message);
  }
}

/** Any thrown value as an HttpError (fastify's own errors carry a statusCode). */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof BrokerError) return fromBrokerError(err);
  const e = err as { statusCode?: number; code?: string; message?: string };
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new HttpError(413, 'bad_request', 'Payload too large');
  if (e.code === 'FST_ERR_BAD_URL' || e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new HttpError(400, '', '');
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new HttpError(e.statusCode, 'bad_request', e.message ?? 'bad request');
  }
  return new HttpError(500, 'internal_server_error', err instanceof Error ? err.message : String(err));
}
