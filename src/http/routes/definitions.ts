// /api/definitions: RabbitMQ's definitions export and import, whole or per vhost
// (src/definitions/ does the work; the same code serves `--definitions FILE` and
// the offline CLI).

import type { FastifyInstance } from 'fastify';
import type { Vhost } from '../../broker/vhost.js';
import { exportDefinitions, importDefinitions, importFailure } from '../../definitions/index.js';
import { DefinitionsError } from '../../definitions/format.js';
import { Status, route, vhostOf, type ApiRequest } from '../api.js';
import { requireTag } from '../auth.js';
import type { ManagementContext } from '../context.js';
import { HttpError } from '../errors.js';

export function definitionRoutes(app: FastifyInstance, ctx: ManagementContext): void {
  route(app, ctx, '/api/definitions', {
    GET: (r) => {
      requireTag(r.user, 'administrator');
      return exportDefinitions(ctx.broker);
    },
    POST: (r) => importFrom(ctx, r, undefined),
  });
  route(app, ctx, '/api/definitions/:vhost', {
    GET: (r) => {
      requireTag(r.user, 'administrator');
      return exportDefinitions(ctx.broker, vhostOf(ctx, r.params.vhost));
    },
    POST: (r) => importFrom(ctx, r, vhostOf(ctx, r.params.vhost)),
  });
}

async function importFrom(ctx: ManagementContext, r: ApiRequest, vhost: Vhost | undefined): Promise<Status> {
  requireTag(r.user, 'administrator');
  try {
    await importDefinitions(ctx.broker, r.body ?? {}, { source: `management API (user '${r.user.name}')`, ...(vhost ? { vhost } : {}) });
  } catch (err) {
    const failure = importFailure(err);
    if (failure === undefined) throw err;
    throw new HttpError(400, 'bad_request', err instanceof DefinitionsError && Array.isArray(err.reason) ? (err.reason as unknown[]) : failure);
  }
  return new Status(204);
}
