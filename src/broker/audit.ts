// Operator events that get exactly one log line each, whichever door they come
// through (management API, definitions import, a future CLI or protocol): one
// place, so the message and field names stay stable for log shippers.
//
// Logged elsewhere, next to the event: connection opened/closed and AMQP
// authentication failures (src/server/amqp/connection.ts), management API login
// failures (src/http/auth.ts), alarms set/cleared (resource-monitor.ts).

import type { Logger as FullLogger } from '../util/logger.js';

/** What these need of a logger (the broker's and the connections' both fit). */
type Logger = Pick<FullLogger, 'info' | 'warn'>;

export interface PolicyChange {
  /** A policy or an operator policy. */
  readonly kind: 'policy' | 'operator';
  readonly vhost: string;
  readonly name: string;
  /** The user who made the change (absent when the broker did, e.g. at boot). */
  readonly user?: string;
  readonly pattern?: string;
  readonly applyTo?: string;
  readonly priority?: number;
  readonly definition?: Readonly<Record<string, unknown>>;
}

/**
 * A policy was set (created or replaced) or cleared and took effect: Broker.setPolicy
 * and clearPolicy call this, so the management API and definitions imports log alike.
 */
export function logPolicyChange(logger: Logger, action: 'set' | 'cleared', change: PolicyChange): void {
  logger.info(`policy ${action}`, { ...change });
}

export interface DefinitionsImport {
  /** Who imported: the management API's user, a definitions file at start, the offline CLI. */
  readonly source: string;
  /** The vhost of a per-vhost import (/api/definitions/{vhost}); absent for the whole broker. */
  readonly vhost?: string;
  /** How many entries of each section were applied, and how many were skipped. */
  readonly counts: Readonly<Record<string, number>>;
}

/** A definitions import, once, with what it applied. */
export function logDefinitionsImport(logger: Logger, imported: DefinitionsImport): void {
  logger.info('definitions imported', { source: imported.source, ...(imported.vhost !== undefined ? { vhost: imported.vhost } : {}), ...imported.counts });
}

export interface AuthFailure {
  readonly protocol: string;
  readonly user: string | undefined;
  /** Client address; omit when the logger carries it already (a connection's child logger). */
  readonly peer?: string;
  readonly mechanism?: string;
}

/** Refused credentials (the reason is never logged: it could hint at which part was wrong). */
export function logAuthFailure(logger: Logger, failure: AuthFailure): void {
  logger.warn('authentication failed', { ...failure });
}
