// The access model's records, in RabbitMQ's definitions vocabulary (snake_case
// keys as in an exported definitions file), so that access.json, the management
// API and a later definitions import/export all speak the same shapes.

export type UserLimitName = 'max-connections' | 'max-channels';
export type VhostLimitName = 'max-connections' | 'max-queues';

export const USER_LIMITS: readonly UserLimitName[] = ['max-connections', 'max-channels'];
export const VHOST_LIMITS: readonly VhostLimitName[] = ['max-connections', 'max-queues'];

export interface UserRecord {
  readonly name: string;
  /** base64(salt ++ digest): never the password itself (hashing.ts). "" for a user that cannot log in with a password. */
  readonly password_hash: string;
  readonly hashing_algorithm: string;
  /** RabbitMQ's tags (administrator, monitoring, policymaker, management, impersonator) and any other string. */
  readonly tags: readonly string[];
  readonly limits: Partial<Record<UserLimitName, number>>;
  /**
   * SCRAM credentials (Kafka's SASL SCRAM-SHA-256/512), derived when the password was set
   * through Wharf: salt, StoredKey and ServerKey (RFC 5802), never the password. A user
   * imported with only a password hash has none (then only PLAIN works for Kafka).
   * Not part of RabbitMQ's definitions format: exports leave it out.
   */
  readonly scram?: Readonly<Partial<Record<'SHA-256' | 'SHA-512', StoredScram>>>;
}

/** One SCRAM credential as access.json keeps it (base64 fields). */
export interface StoredScram {
  readonly salt: string;
  readonly iterations: number;
  readonly storedKey: string;
  readonly serverKey: string;
}

export interface VhostRecord {
  readonly name: string;
  readonly description: string;
  readonly tags: readonly string[];
  /** Kept as metadata (Wharf has one queue type per declare; RabbitMQ's default is "undefined"). */
  readonly default_queue_type: string;
  readonly limits: Partial<Record<VhostLimitName, number>>;
}

/** configure / write / read regular expressions for one user in one vhost. */
export interface PermissionRecord {
  readonly user: string;
  readonly vhost: string;
  readonly configure: string;
  readonly write: string;
  readonly read: string;
}

/** Routing-key patterns for one user on one topic exchange of one vhost. */
export interface TopicPermissionRecord {
  readonly user: string;
  readonly vhost: string;
  readonly exchange: string;
  readonly write: string;
  readonly read: string;
}

/** access.json (docs/storage-format.md). */
export interface AccessFile {
  readonly version: 1;
  readonly users: UserRecord[];
  readonly vhosts: VhostRecord[];
  readonly permissions: PermissionRecord[];
  readonly topic_permissions: TopicPermissionRecord[];
}

/** RabbitMQ's tags in the management API: "a,b" or ["a", "b"]; blanks dropped. */
export function parseTags(v: unknown): string[] | undefined {
  if (typeof v === 'string') return v.split(',').map((t) => t.trim()).filter((t) => t !== '');
  if (Array.isArray(v) && v.every((t) => typeof t === 'string')) return (v as string[]).map((t) => t.trim()).filter((t) => t !== '');
  return undefined;
}
