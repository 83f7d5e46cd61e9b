// What a SASL mechanism's server side looks like to the Kafka authenticator, the two kinds of
// failure Kafka distinguishes, and how a login name selects a vhost.

import type { ScramCredentials, ScramHash } from '../../../broker/scram-credentials.js';

export const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
export type SaslMechanismName = (typeof SASL_MECHANISMS)[number];

export function isSaslMechanism(name: string): name is SaslMechanismName {
  return (SASL_MECHANISMS as readonly string[]).includes(name);
}

/** Who a connection authenticated as: the broker user and the vhost it works in. */
export interface SaslIdentity {
  readonly user: string;
  readonly vhost: string;
  readonly mechanism: SaslMechanismName;
}

/** The broker as the mechanisms see it, with the connection's loopback-ness already applied. */
export interface SaslBackend {
  /** Password check, including RabbitMQ's guest-from-loopback-only rule. */
  authenticate(user: string, password: string): boolean;
  /** The user's credentials, undefined for an unknown user (or guest from afar). */
  scramCredentials(user: string, hash: ScramHash): ScramCredentials | undefined;
  vhostExists(name: string): boolean;
}

/** One exchange of one mechanism (javax.security.sasl.SaslServer, as Kafka uses it). */
export interface SaslServer {
  /** The next server token for the client's token; throws SaslAuthenticationError or SaslError. */
  evaluate(token: Buffer): Buffer;
  /** Set once the exchange succeeded. */
  readonly identity: SaslIdentity | undefined;
}

/**
 * Kafka's SaslAuthenticationException: a failure whose message is safe to send to the client
 * (PlainSaslServer's "Authentication failed: Invalid username or password").
 */
export class SaslAuthenticationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SaslAuthenticationError';
  }
}

/**
 * Kafka's SaslException: the reason is logged, never sent, since it may reveal whether a user
 * exists; the client gets "Authentication failed during authentication due to invalid
 * credentials with SASL mechanism M" (SaslServerAuthenticator.handleSaslToken).
 */
export class SaslError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SaslError';
  }
}

/** The vhost for a login without one: RabbitMQ's default vhost. */
export const LOGIN_DEFAULT_VHOST = '/';

/**
 * RabbitMQ's MQTT convention: `vhost:user` names the vhost before the first colon; a login
 * without a colon is `user` in `/`. A user whose name has a colon logs in as `/:name`.
 */
export function splitLogin(login: string): { vhost: string; user: string } {
  const colon = login.indexOf(':');
  if (colon < 0) return { vhost: LOGIN_DEFAULT_VHOST, user: login };
  return { vhost: login.slice(0, colon), user: login.slice(colon + 1) };
}
