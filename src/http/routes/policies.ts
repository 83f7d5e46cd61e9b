// /api/policies and /api/operator-policies: list, get, set (PUT: 201 created,
// 204 updated) and clear, with RabbitMQ's bodies and codes. Policies need the
// policymaker tag; operator policies are an administrator's (as in RabbitMQ).

import type { FastifyInstance } from 'fastify';
import { PolicyValidationError, validatePolicy, type PolicyKind } from '../../broker/policy/definition.js';
import { Status, objectBody, route, vhostOf, type ApiRequest } from '../api.js';
import { mayAccessVhost, requireTag, type UserTag } from '../auth.js';
import type { ManagementContext } from '../context.js';
import { HttpError, badRequest, objectNotFound } from '../errors.js';
import { listResponse } from '../paging.js';

export function policyRoutes(app: FastifyInstance, ctx: ManagementContext): void {
  routesFor(app, ctx, '/api/policies', 'policy', 'policymaker');
  routesFor(app, ctx, '/api/operator-policies', 'operator', 'administrator');
}

function routesFor(app: FastifyInstance, ctx: ManagementContext, base: string, kind: PolicyKind, tag: UserTag): void {
  const list = (r: ApiRequest, vhost?: string): unknown => {
    requireTag(r.user, tag);
    const items = ctx.broker.policies.list(kind, vhost).filter((p) => mayAccessVhost(ctx.broker, r.user, p.vhost));
    return listResponse(items as unknown as Record<string, unknown>[], r.query);
  };
  route(app, ctx, base, { GET: (r) => list(r) });
  route(app, ctx, `${base}/:vhost`, { GET: (r) => list(r, vhostOf(ctx, r.params.vhost).name) });
  route(app, ctx, `${base}/:vhost/:name`, {
    GET: (r) => {
      requireTag(r.user, tag);
      const p = ctx.broker.policies.get(kind, vhostOf(ctx, r.params.vhost).name, r.params.name);
      if (!p) throw objectNotFound();
      return p;
    },
    PUT: (r) => setPolicy(ctx, r, kind, tag),
    DELETE: async (r) => {
      requireTag(r.user, tag);
      const v = vhostOf(ctx, r.params.vhost);
      if (!(await ctx.broker.clearPolicy(kind, v.name, r.params.name))) throw objectNotFound();
      return new Status(204);
    },
  });
}

async function setPolicy(ctx: ManagementContext, r: ApiRequest, kind: PolicyKind, tag: UserTag): Promise<Status> {
  requireTag(r.user, tag);
  const v = ctx.broker.vhost(r.params.vhost);
  if (!v) throw new HttpError(404, 'not_found', 'vhost_not_found');
  const body = objectBody(r);
  // The management plugin's own check, before the policy's validation.
  for (const key of ['pattern', 'definition']) if (body[key] === undefined) throw badRequest(`[{key_missing,${key}}]`);
  let def;
  try {
    def = validatePolicy(kind, {
      vhost: v.name,
      name: r.params.name,
      pattern: body.pattern,
      applyTo: body['apply-to'],
      definition: body.definition,
      priority: body.priority,
    });
  } catch (err) {
    if (!(err instanceof PolicyValidationError)) throw err;
    throw badRequest(validationReason(kind, err.reason));
  }
  const created = await ctx.broker.setPolicy(kind, def);
  return new Status(created ? 201 : 204);
}

/**
 * RabbitMQ's 400 reason for an invalid policy. Its /api/policies handler HTML-escapes the
 * text (so <<"x">> arrives as &lt;&lt;"x"&gt;&gt;) and /api/operator-policies does not;
 * clients see exactly that, so Wharf does the same.
 */
function validationReason(kind: PolicyKind, reason: string): string {
  const text = `Validation failed\n\n${reason}\n`;
  return kind === 'policy' ? text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;') : text;
}
