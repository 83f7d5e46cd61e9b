// HTTP basic auth against the broker's users, and RabbitMQ's user tags
// (https://www.rabbitmq.com/management.html#permissions): management <
// policymaker, management < monitoring < administrator. Tags come from the
// broker's access model (src/broker/access); routes state the tag they need.

import { logAuthFailure } from '../broker/audit.js';
import { isLoopback } from '../util/loopback.js';
import type { Broker } from '../broker/broker.js';
import { HttpError, notAuthorised } from './errors.js';

export type UserTag = 'management' | 'policymaker' | 'monitoring' | 'administrator';

export interface ApiUser {
  readonly name: string;
  readonly tags: readonly string[];
}

/** Which tags each tag implies (RabbitMQ's hierarchy). */
const IMPLIED: Record<UserTag, readonly UserTag[]> = {
  management: ['management'],
  policymaker: ['management', 'policymaker'],
  monitoring: ['management', 'monitoring'],
  administrator: ['management', 'policymaker', 'monitoring', 'administrator'],
};

const NOT_TAGGED: Record<UserTag, string> = {
  management: 'Not management user',
  policymaker: 'Not policymaker user',
  monitoring: 'Not monitor user',
  administrator: 'Not administrator user',
};

/** The user's tags from the access model (any string is kept; only RabbitMQ's known ones grant anything). */
export function userTags(broker: Broker, user: string): string[] {
  return [...(broker.access.user(user)?.tags ?? [])];
}

export function hasTag(user: ApiUser, tag: UserTag): boolean {
  return user.tags.some((t) => (IMPLIED[t as UserTag] ?? []).includes(tag));
}

export function requireTag(user: ApiUser, tag: UserTag): void {
  if (!hasTag(user, tag)) throw notAuthorised(NOT_TAGGED[tag]);
}

/**
 * The vhosts a user may see (RabbitMQ's list_visible_vhosts): monitoring users (and
 * administrators) see every vhost, others only those they have permissions in.
 */
export function mayAccessVhost(broker: Broker, user: ApiUser, vhost: string): boolean {
  return hasTag(user, 'monitoring') || broker.access.permission(user.name, vhost) !== undefined;
}

/**
 * Checks an Authorization header. RabbitMQ: no credentials is a bare 401 with a
 * Basic challenge; wrong ones (or guest from a remote address) is "Login failed".
 */
export function authenticate(broker: Broker, header: string | undefined, remoteAddress: string | undefined): ApiUser {
  const creds = parseBasic(header);
  if (!creds) throw new HttpError(401, '', '');
  if (!broker.authenticate(creds.user, creds.password, isLoopback(remoteAddress ?? ''))) {
    logAuthFailure(broker.logger, { protocol: 'http', user: creds.user, peer: remoteAddress });
    throw new HttpError(401, 'not_authorized', 'Login failed');
  }
  const tags = userTags(broker, creds.user);
  // RabbitMQ: a user without any management tag may not use the API at all.
  if (!tags.some((t) => t in IMPLIED)) throw new HttpError(401, 'not_authorized', 'Not management user');
  return { name: creds.user, tags };
}

export function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  if (!header) return undefined;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

export { isLoopback };
