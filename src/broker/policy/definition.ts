// Validation of policies and operator policies as RabbitMQ 3.10 validates them
// (rabbit_policy, rabbit_policies, rabbit_parameter_validation): the same keys,
// the same accepted values and the same error texts, so operators' tooling and
// exported definitions behave as they do against RabbitMQ.

/** What a policy applies to. `classic_queues`, `quorum_queues` and `streams` are RabbitMQ 3.12's additions. */
export type ApplyTo = 'all' | 'queues' | 'classic_queues' | 'quorum_queues' | 'streams' | 'exchanges';

export const APPLY_TO: readonly ApplyTo[] = ['all', 'queues', 'classic_queues', 'quorum_queues', 'streams', 'exchanges'];

export type PolicyKind = 'policy' | 'operator';

/** A policy exactly as RabbitMQ's definitions files and management API hold it. */
export interface PolicyDef {
  readonly vhost: string;
  readonly name: string;
  readonly pattern: string;
  readonly 'apply-to': ApplyTo;
  readonly definition: Readonly<Record<string, unknown>>;
  readonly priority: number;
}

/** A policy that failed validation; `reason` is RabbitMQ's text (without "Validation failed"). */
export class PolicyValidationError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'PolicyValidationError';
  }
}

type Check = (v: unknown) => string | undefined;

const integer = (min: number, what: string, max = Number.MAX_SAFE_INTEGER): Check => (v) =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? undefined : `${erlangTerm(v)} is ${what}`;
const text = (what: string): Check => (v) => (typeof v === 'string' ? undefined : `${erlangTerm(v)} is ${what}`);
const oneOf = (values: readonly unknown[], what: string): Check => (v) => (values.includes(v) ? undefined : `${erlangTerm(v)} ${what}`);
const anything: Check = () => undefined;

/** RabbitMQ's `x-max-age` units (rabbit_amqqueue:check_max_age): Y, M, D, h, m, s. */
export const MAX_AGE_UNIT_MS: Readonly<Record<string, number>> = {
  Y: 365 * 24 * 3_600_000,
  M: 30 * 24 * 3_600_000,
  D: 24 * 3_600_000,
  h: 3_600_000,
  m: 60_000,
  s: 1000,
};

/** max-age as milliseconds, or undefined if it is not RabbitMQ's "<n><unit>" form. */
export function maxAgeMs(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^(\d+)([YMDhms])$/.exec(v);
  return m ? Number(m[1]) * MAX_AGE_UNIT_MS[m[2]] : undefined;
}

/**
 * The policy keys RabbitMQ 3.10 accepts (rabbit_policies plus classic mirroring), each with
 * its check. Keys Wharf has no use for (mirroring, queue versions, in-memory limits,
 * leader locators) are accepted and ignored: a single node has nothing to mirror and
 * every queue pages to disk.
 */
const POLICY_KEYS: Readonly<Record<string, Check>> = {
  'alternate-exchange': text('not a valid alternate exchange name'),
  'dead-letter-exchange': text('not a valid dead letter exchange name'),
  'dead-letter-routing-key': text('not a valid dead letter routing key'),
  'dead-letter-strategy': oneOf(['at-most-once', 'at-least-once'], 'is not a valid dead letter strategy'),
  'message-ttl': integer(0, 'not a valid message TTL'),
  expires: integer(1, 'not a valid queue expiry'),
  'max-length': integer(0, 'not a valid maximum length'),
  'max-length-bytes': integer(0, 'not a valid maximum length in bytes'),
  'max-in-memory-length': integer(0, 'not a valid maximum memory in bytes'),
  'max-in-memory-bytes': integer(0, 'not a valid maximum memory in bytes'),
  'queue-mode': oneOf(['default', 'lazy'], 'is not a valid queue-mode value'),
  'queue-version': oneOf([1, 2], 'is not a valid queue-version value'),
  overflow: oneOf(['drop-head', 'reject-publish', 'reject-publish-dlx'], 'is not a valid overflow value'),
  'delivery-limit': integer(0, 'not a valid delivery limit'),
  'max-age': (v) => (maxAgeMs(v) === undefined ? `${erlangTerm(v)} is not a valid max age` : undefined),
  'stream-max-segment-size-bytes': integer(0, 'not a valid segment size', 3_000_000_000),
  'queue-leader-locator': oneOf(['client-local', 'balanced', 'random', 'least-leaders'], 'is not a valid queue leader locator value'),
  'initial-cluster-size': integer(0, 'not a valid cluster size'),
  // RabbitMQ 3.12's consumer-timeout policy key (3.10 has only the argument and the global setting).
  'consumer-timeout': integer(1, 'not a valid consumer timeout'),
  // Classic queue mirroring (rabbit_mirror_queue_misc): accepted, meaningless on one node.
  'ha-mode': oneOf(['all', 'exactly', 'nodes'], 'is not a valid ha-mode value'),
  'ha-params': anything,
  'ha-sync-mode': oneOf(['automatic', 'manual'], 'is not a valid ha-sync-mode value'),
  'ha-sync-batch-size': integer(1, 'not a valid ha-sync-batch-size value'),
  'ha-promote-on-shutdown': oneOf(['when-synced', 'always'], 'is not a valid ha-promote-on-shutdown value'),
  'ha-promote-on-failure': oneOf(['when-synced', 'always'], 'is not a valid ha-promote-on-failure value'),
  'queue-master-locator': oneOf(['min-masters', 'client-local', 'random'], 'invalid queue-master-locator value'),
};

/** RabbitMQ 3.10's operator_policy_validator keys: the limits an operator may cap. */
const OPERATOR_KEYS: ReadonlySet<string> = new Set([
  'expires',
  'message-ttl',
  'max-length',
  'max-length-bytes',
  'max-in-memory-length',
  'max-in-memory-bytes',
  'delivery-limit',
]);

/** Keys where policy and operator policy both set a value: the lower one wins (rabbit_policies:merge_policy_value). */
export const MIN_MERGED_KEYS: ReadonlySet<string> = OPERATOR_KEYS;

export interface PolicyInput {
  readonly vhost: string;
  readonly name: string;
  readonly pattern: unknown;
  readonly applyTo: unknown;
  readonly definition: unknown;
  readonly priority: unknown;
}

/**
 * Checks a policy in RabbitMQ's order (priority, pattern, apply-to, definition) and
 * returns it in definitions-file form; throws PolicyValidationError with RabbitMQ's text.
 */
export function validatePolicy(kind: PolicyKind, p: PolicyInput): PolicyDef {
  const priority = p.priority ?? 0;
  if (typeof priority !== 'number' || !Number.isFinite(priority)) {
    throw new PolicyValidationError(`priority should be a number, actually was ${erlangTerm(priority)}`);
  }
  if (typeof p.pattern !== 'string') throw new PolicyValidationError(`pattern should be a binary but was ${erlangTerm(p.pattern)}`);
  compilePattern(p.pattern);
  const applyTo = p.applyTo ?? 'all';
  if (!(APPLY_TO as readonly unknown[]).includes(applyTo)) {
    throw new PolicyValidationError(
      `apply-to '${typeof applyTo === 'string' ? applyTo : erlangTerm(applyTo)}' unrecognised; should be 'queues', 'exchanges' or 'all'` +
        ` (or 'classic_queues', 'quorum_queues', 'streams')`,
    );
  }
  return {
    vhost: p.vhost,
    name: p.name,
    pattern: p.pattern,
    'apply-to': applyTo as ApplyTo,
    definition: validateDefinition(kind, p.definition),
    priority,
  };
}

/** A policy's pattern as a regular expression (RabbitMQ: PCRE, unanchored, like JavaScript's). */
export function compilePattern(pattern: string): RegExp {
  try {
    return new RegExp(pattern);
  } catch (err) {
    throw new PolicyValidationError(`pattern should be regular expression but is invalid: ${(err as Error).message}`);
  }
}

function validateDefinition(kind: PolicyKind, d: unknown): Record<string, unknown> {
  if (d === null || typeof d !== 'object' || Array.isArray(d)) {
    throw new PolicyValidationError(`definition must be a dictionary: ${erlangTerm(d)}`);
  }
  const def = d as Record<string, unknown>;
  const keys = Object.keys(def).sort();
  if (keys.length === 0) throw new PolicyValidationError('no policy provided');
  const known = (k: string): boolean => (kind === 'operator' ? OPERATOR_KEYS.has(k) : k in POLICY_KEYS);
  // RabbitMQ checks the values of the keys it knows first, then reports the rest together.
  for (const k of keys) {
    if (!known(k)) continue;
    const why = POLICY_KEYS[k](def[k]);
    if (why !== undefined) throw new PolicyValidationError(why);
  }
  const unknown = keys.filter((k) => !known(k));
  if (unknown.length > 0) {
    const list = unknown.map((k) => `{${erlangTerm(k)},${erlangTerm(def[k])}}`).join(',');
    throw new PolicyValidationError(`[${list}] are not recognised policy settings`);
  }
  return Object.fromEntries(keys.map((k) => [k, def[k]]));
}

/** A JSON value as Erlang's ~p prints what RabbitMQ decoded it to (strings are binaries). */
export function erlangTerm(v: unknown): string {
  if (typeof v === 'string') return `<<${JSON.stringify(v)}>>`;
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return `[${v.map(erlangTerm).join(',')}]`;
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).map(([k, x]) => `${erlangTerm(k)} => ${erlangTerm(x)}`);
    return `#{${entries.join(',')}}`;
  }
  return String(v);
}
