// The tenancy routes, as RabbitMQ 3.10's management API: vhosts (PUT/DELETE),
// users, permissions, topic permissions, vhost and user limits. Bodies, status
// codes and error reasons follow the reference RabbitMQ side by side (201 when
// created, 204 when updated or deleted, 400 with RabbitMQ's reasons).

import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Status, objectBody, route, vhostOf, type ApiRequest } from '../api.js';
import { mayAccessVhost, requireTag } from '../auth.js';
import type { ManagementContext } from '../context.js';
import { HttpError, badRequest, notAuthorised, objectNotFound } from '../errors.js';
import { listResponse } from '../paging.js';
import {
  USER_LIMITS,
  VHOST_LIMITS,
  isHashingAlgorithm,
  isValidPattern,
  parseTags,
  type UserLimitName,
  type UserRecord,
  type VhostLimitName,
} from '../../broker/access/index.js';
import type { Access } from '../../broker/access/index.js';

const FULL = '.*';

export function accessRoutes(app: FastifyInstance, ctx: ManagementContext, vhostJson: (name: string) => unknown): void {
  const access = (): Access => ctx.broker.access;
  route(app, ctx, '/api/vhosts/:vhost', {
    GET: (r) => {
      // RabbitMQ 3.10 answers a vhost the user may not see (existing or not) with this 401.
      if (!mayAccessVhost(ctx.broker, r.user, r.params.vhost)) throw notAuthorised('Not administrator user');
      return vhostJson(vhostOf(ctx, r.params.vhost).name);
    },
    PUT: (r) => putVhost(ctx, r),
    DELETE: async (r) => {
      requireTag(r.user, 'administrator');
      if (!(await ctx.broker.deleteVhost(r.params.vhost))) throw objectNotFound();
      return new Status(204);
    },
  });
  userRoutes(app, ctx, access);
  permissionRoutes(app, ctx, access);
  topicPermissionRoutes(app, ctx, access);
  limitRoutes(app, ctx, access);
}

/** PUT /api/vhosts/{vhost}: RabbitMQ also gives the creating user full permissions on a new vhost. */
async function putVhost(ctx: ManagementContext, r: ApiRequest): Promise<Status> {
  requireTag(r.user, 'administrator');
  const b = objectBody(r);
  const tags = b.tags === undefined ? undefined : parseTags(b.tags);
  if (b.tags !== undefined && tags === undefined) throw badRequest('tags must be a string or a list of strings');
  const description = typeof b.description === 'string' ? b.description : undefined;
  const defaultQueueType = typeof b.default_queue_type === 'string' ? b.default_queue_type : undefined;
  const created = await ctx.broker.addVhost(r.params.vhost, {
    ...(description !== undefined ? { description } : {}),
    ...(tags !== undefined ? { tags } : {}),
    ...(defaultQueueType !== undefined ? { defaultQueueType } : {}),
  });
  if (!created) return new Status(204);
  await ctx.broker.access.setPermission({ user: r.user.name, vhost: r.params.vhost, configure: FULL, write: FULL, read: FULL });
  return new Status(201);
}

function userJson(u: UserRecord): Record<string, unknown> {
  return { name: u.name, password_hash: u.password_hash, hashing_algorithm: u.hashing_algorithm, tags: u.tags, limits: u.limits };
}

function requireUser(access: Access, name: string): UserRecord {
  const u = access.user(name);
  if (!u) throw objectNotFound();
  return u;
}

function userRoutes(app: FastifyInstance, ctx: ManagementContext, access: () => Access): void {
  route(app, ctx, '/api/users', {
    GET: (r) => {
      requireTag(r.user, 'administrator');
      return listResponse(access().userList().map(userJson), r.query, ['name']);
    },
  });
  route(app, ctx, '/api/users/without-permissions', {
    GET: (r) => {
      requireTag(r.user, 'administrator');
      const withPerms = new Set(access().permissionList().map((p) => p.user));
      return access().userList().filter((u) => !withPerms.has(u.name)).map(userJson);
    },
  });
  route(app, ctx, '/api/users/bulk-delete', {
    POST: async (r) => {
      requireTag(r.user, 'administrator');
      const users = objectBody(r).users;
      if (users === undefined) throw badRequest('[{key_missing,users}]');
      if (!Array.isArray(users) || !users.every((u) => typeof u === 'string')) throw badRequest('users must be a list of names');
      // RabbitMQ deletes the users it knows, then reports the first it did not.
      const known = (users as string[]).filter((u) => access().user(u));
      await access().deleteUsers(known);
      const missing = (users as string[]).find((u) => !known.includes(u));
      if (missing !== undefined) throw badRequest(['no_such_user', missing]);
      return new Status(204);
    },
  });
  route(app, ctx, '/api/users/:name', {
    GET: (r) => {
      requireTag(r.user, 'administrator');
      return userJson(requireUser(access(), r.params.name));
    },
    PUT: (r) => putUser(access(), r),
    DELETE: async (r) => {
      requireTag(r.user, 'administrator');
      requireUser(access(), r.params.name);
      await access().deleteUsers([r.params.name]);
      return new Status(204);
    },
  });
  route(app, ctx, '/api/users/:name/permissions', {
    GET: (r) => {
      requireTag(r.user, 'administrator');
      requireUser(access(), r.params.name);
      return access().permissionList().filter((p) => p.user === r.params.name);
    },
  });
  route(app, ctx, '/api/users/:name/topic-permissions', {
    GET: (r) => {
      requireTag(r.user, 'administrator');
      requireUser(access(), r.params.name);
      return access().topicPermissionList().filter((p) => p.user === r.params.name);
    },
  });
}

/** PUT /api/users/{user}: `tags` required; `password` or `password_hash` (+ `hashing_algorithm`), not both. */
async function putUser(access: Access, r: ApiRequest): Promise<Status> {
  requireTag(r.user, 'administrator');
  const b = objectBody(r);
  const tags = parseTags(b.tags);
  if (tags === undefined) throw badRequest('tags_not_present');
  if (b.password !== undefined && b.password_hash !== undefined) throw badRequest('both_password_and_password_hash_are_provided');
  const existed = access.user(r.params.name) !== undefined;
  if (typeof b.password_hash === 'string') {
    const algorithm = typeof b.hashing_algorithm === 'string' ? b.hashing_algorithm : undefined;
    if (algorithm !== undefined && !isHashingAlgorithm(algorithm)) throw badRequest(`unknown hashing_algorithm '${algorithm}'`);
    await access.putUser(r.params.name, { passwordHash: b.password_hash, ...(algorithm ? { hashingAlgorithm: algorithm } : {}), tags });
  } else if (typeof b.password === 'string') {
    await access.putUser(r.params.name, { password: b.password, tags });
  } else if (existed) {
    // Tags only: the password stays.
    const u = access.user(r.params.name) as UserRecord;
    await access.putUser(r.params.name, { passwordHash: u.password_hash, hashingAlgorithm: u.hashing_algorithm, tags });
  } else {
    // RabbitMQ gives a new user without a password a random one: nobody can log in with it.
    await access.putUser(r.params.name, { password: randomBytes(24).toString('base64'), tags });
  }
  return new Status(existed ? 204 : 201);
}

/** Body keys RabbitMQ requires, reported all at once as it does. */
function requireKeys(b: Record<string, unknown>, keys: readonly string[]): void {
  const missing = keys.filter((k) => typeof b[k] !== 'string');
  if (missing.length > 0) throw badRequest(`[${missing.map((k) => `{key_missing,${k}}`).join(',')}]`);
}

function requirePatterns(b: Record<string, unknown>, keys: readonly string[]): void {
  for (const k of keys) {
    const p = b[k] as string;
    if (!isValidPattern(p)) throw badRequest(['invalid_regexp', p]);
  }
}

function permissionRoutes(app: FastifyInstance, ctx: ManagementContext, access: () => Access): void {
  route(app, ctx, '/api/permissions', {
    GET: (r) => {
      requireTag(r.user, 'administrator');
      return access().permissionList();
    },
  });
  route(app, ctx, '/api/vhosts/:vhost/permissions', {
    GET: (r) => {
      requireTag(r.user, 'administrator');
      const v = vhostOf(ctx, r.params.vhost);
      return access().permissionList().filter((p) => p.vhost === v.name);
    },
  });
  route(app, ctx, '/api/permissions/:vhost/:user', {
    GET: (r) => {
      requireTag(r.user, 'administrator');
      const p = access().permission(r.params.user, r.params.vhost);
      if (!p) throw objectNotFound();
      return p;
    },
    PUT: async (r) => {
      requireTag(r.user, 'administrator');
      const b = objectBody(r);
      if (!access().vhost(r.params.vhost) || !access().user(r.params.user)) throw badRequest('vhost_or_user_not_found');
      requireKeys(b, ['configure', 'write', 'read']);
      requirePatterns(b, ['configure', 'write', 'read']);
      const existed = access().permission(r.params.user, r.params.vhost) !== undefined;
      const [configure, write, read] = [b.configure, b.write, b.read] as string[];
      await access().setPermission({ user: r.params.user, vhost: r.params.vhost, configure, write, read });
      return new Status(existed ? 204 : 201);
    },
    DELETE: async (r) => {
      requireTag(r.user, 'administrator');
      if (!access().permission(r.params.user, r.params.vhost)) throw objectNotFound();
      await access().clearPermission(r.params.user, r.params.vhost);
      return new Status(204);
    },
  });
}

function topicPermissionRoutes(app: FastifyInstance, ctx: ManagementContext, access: () => Access): void {
  route(app, ctx, '/api/topic-permissions', {
    GET: (r) => {
      requireTag(r.user, 'administrator');
      return access().topicPermissionList();
    },
  });
  route(app, ctx, '/api/vhosts/:vhost/topic-permissions', {
    GET: (r) => {
      requireTag(r.user, 'administrator');
      const v = vhostOf(ctx, r.params.vhost);
      return access().topicPermissionList().filter((p) => p.vhost === v.name);
    },
  });
  route(app, ctx, '/api/topic-permissions/:vhost/:user', {
    GET: (r) => {
      requireTag(r.user, 'administrator');
      const list = [...(access().topicPermissions(r.params.user, r.params.vhost)?.values() ?? [])];
      if (list.length === 0) throw objectNotFound();
      return list;
    },
    PUT: async (r) => {
      requireTag(r.user, 'administrator');
      const b = objectBody(r);
      if (!access().vhost(r.params.vhost) || !access().user(r.params.user)) throw badRequest('vhost_or_user_not_found');
      requireKeys(b, ['exchange', 'write', 'read']);
      requirePatterns(b, ['write', 'read']);
      const existed = access().topicPermissions(r.params.user, r.params.vhost)?.has(b.exchange as string) === true;
      const [exchange, write, read] = [b.exchange, b.write, b.read] as string[];
      await access().setTopicPermission({ user: r.params.user, vhost: r.params.vhost, exchange, write, read });
      return new Status(existed ? 204 : 201);
    },
    DELETE: async (r) => {
      requireTag(r.user, 'administrator');
      if (!access().topicPermissions(r.params.user, r.params.vhost)?.size) throw objectNotFound();
      await access().clearTopicPermissions(r.params.user, r.params.vhost);
      return new Status(204);
    },
  });
}

/** RabbitMQ's limit value check ("Validation failed ... should be a number"). */
function limitValue(r: ApiRequest, name: string): number {
  const b = objectBody(r);
  if (b.value === undefined) throw badRequest('[{key_missing,value}]');
  if (typeof b.value !== 'number' || !Number.isInteger(b.value)) {
    throw badRequest(`Validation failed\n\n${name} should be a number, actually was ${JSON.stringify(b.value)}\n`);
  }
  return b.value;
}

function limitRoutes(app: FastifyInstance, ctx: ManagementContext, access: () => Access): void {
  const vhostLimits = (names: readonly string[]): unknown[] =>
    names
      .map((n) => access().vhost(n))
      .filter((v) => v !== undefined && Object.keys(v.limits).length > 0)
      .map((v) => ({ vhost: v?.name, value: v?.limits }));
  route(app, ctx, '/api/vhost-limits', {
    GET: (r) => vhostLimits(access().vhostList().map((v) => v.name).filter((n) => mayAccessVhost(ctx.broker, r.user, n))),
  });
  route(app, ctx, '/api/vhost-limits/:vhost', {
    GET: (r) => {
      if (!mayAccessVhost(ctx.broker, r.user, r.params.vhost)) throw notAuthorised('User not authorised to access virtual host');
      return vhostLimits([vhostOf(ctx, r.params.vhost).name]);
    },
  });
  route(app, ctx, '/api/vhost-limits/:vhost/:name', {
    PUT: async (r) => {
      requireTag(r.user, 'administrator');
      if (!access().vhost(r.params.vhost)) throw new HttpError(404, 'not_found', 'vhost_not_found');
      const value = limitValue(r, r.params.name);
      if (!(VHOST_LIMITS as readonly string[]).includes(r.params.name)) {
        throw badRequest(`Validation failed\n\nUnrecognised terms [{<<"${r.params.name}">>,${value}}] in limits\n`);
      }
      await access().setVhostLimit(r.params.vhost, r.params.name as VhostLimitName, value);
      return new Status(204);
    },
    DELETE: async (r) => {
      requireTag(r.user, 'administrator');
      if (!access().vhost(r.params.vhost)) throw new HttpError(404, 'not_found', 'vhost_not_found');
      if ((VHOST_LIMITS as readonly string[]).includes(r.params.name)) {
        await access().setVhostLimit(r.params.vhost, r.params.name as VhostLimitName, undefined);
      }
      return new Status(204);
    },
  });
  const userLimits = (users: readonly UserRecord[]): unknown[] =>
    users.filter((u) => Object.keys(u.limits).length > 0).map((u) => ({ user: u.name, value: u.limits }));
  route(app, ctx, '/api/user-limits', {
    GET: (r) => {
      requireTag(r.user, 'administrator');
      return userLimits(access().userList());
    },
  });
  route(app, ctx, '/api/user-limits/:user', {
    GET: (r) => {
      requireTag(r.user, 'administrator');
      return userLimits([requireUser(access(), r.params.user)]);
    },
  });
  route(app, ctx, '/api/user-limits/:user/:name', {
    PUT: async (r) => {
      requireTag(r.user, 'administrator');
      const value = limitValue(r, r.params.name);
      if (!access().user(r.params.user)) throw badRequest(['no_such_user', r.params.user]);
      if (!(USER_LIMITS as readonly string[]).includes(r.params.name)) {
        throw badRequest(`Unrecognised terms [{<<"${r.params.name}">>,${value}}] in user-limits`);
      }
      await access().setUserLimit(r.params.user, r.params.name as UserLimitName, value);
      return new Status(204);
    },
    DELETE: async (r) => {
      requireTag(r.user, 'administrator');
      if ((USER_LIMITS as readonly string[]).includes(r.params.name)) {
        await access().setUserLimit(r.params.user, r.params.name as UserLimitName, undefined);
      }
      return new Status(204);
    },
  });
}
