// Definitions import in RabbitMQ's JSON format (what `POST /api/definitions`,
// `rabbitmqctl import_definitions` and `load_definitions` take), in RabbitMQ's order:
// users, vhosts, permissions, topic permissions, parameters (vhost limits, operator
// policies), policies, exchanges, queues, bindings. Applying the same file twice
// changes nothing; an entry that conflicts with what exists (a queue declared with
// other arguments) fails with the broker's error, as RabbitMQ's import does.

import { logDefinitionsImport } from '../broker/audit.js';
import type { Broker } from '../broker/broker.js';
import { BrokerError } from '../broker/errors.js';
import type { Vhost } from '../broker/vhost.js';
import {
  isHashingAlgorithm,
  isValidPattern,
  parseTags,
  USER_LIMITS,
  VHOST_LIMITS,
  type UserLimitName,
  type VhostLimitName,
} from '../broker/access/index.js';
import { PolicyValidationError, validatePolicy, type PolicyKind } from '../broker/policy/definition.js';
import { bool, DefinitionsError, obj, optStr, readDocument, str, type Json } from './format.js';

export interface ImportOptions {
  /** Import into this vhost only (`POST /api/definitions/{vhost}`): the entries' own `vhost` fields are ignored. */
  readonly vhost?: Vhost;
  /** Who imports, for the log line. */
  readonly source: string;
}

export interface ImportSummary {
  readonly users: number;
  readonly vhosts: number;
  readonly permissions: number;
  readonly topicPermissions: number;
  readonly policies: number;
  readonly operatorPolicies: number;
  readonly queues: number;
  readonly exchanges: number;
  readonly bindings: number;
  /** Entries Wharf has no use for (other components' parameters, global parameters): skipped. */
  readonly ignored: number;
}

export async function importDefinitions(broker: Broker, doc: unknown, o: ImportOptions): Promise<ImportSummary> {
  const d = readDocument(doc);
  const only = o.vhost;
  const summary = { users: 0, vhosts: 0, permissions: 0, topicPermissions: 0, policies: 0, operatorPolicies: 0, queues: 0, exchanges: 0, bindings: 0, ignored: 0 };
  // A per-vhost import carries topology and policies only (RabbitMQ's per-vhost format).
  if (!only) {
    for (const u of d.users) await importUser(broker, u);
    summary.users = d.users.length;
    for (const v of d.vhosts) await importVhost(broker, v);
    summary.vhosts = d.vhosts.length;
    for (const p of d.permissions) await importPermission(broker, p);
    summary.permissions = d.permissions.length;
    for (const t of d.topic_permissions) await importTopicPermission(broker, t);
    summary.topicPermissions = d.topic_permissions.length;
    summary.ignored += d.global_parameters.length;
  }
  const vhostOf = (e: Json, section: string): Vhost => {
    if (only) return only;
    const name = str(e, 'vhost', section, '/');
    const v = broker.vhost(name);
    if (!v) throw new DefinitionsError(`${section}: no vhost '${name}'`, ['no_such_vhost', name]);
    return v;
  };
  for (const p of d.parameters) {
    const component = str(p, 'component', 'parameters');
    if (component === 'vhost-limits') await importVhostLimits(broker, vhostOf(p, 'parameters').name, obj(p, 'value', 'parameters'));
    else if (component === 'operator_policy') {
      await importPolicy(broker, 'operator', vhostOf(p, 'parameters').name, { ...obj(p, 'value', 'parameters'), name: p.name });
      summary.operatorPolicies++;
    } else {
      summary.ignored++;
      broker.logger.warn('definitions: a runtime parameter Wharf has no use for was skipped', { component, name: String(p.name) });
    }
  }
  for (const p of d.policies) await importPolicy(broker, 'policy', vhostOf(p, 'policies').name, p);
  summary.policies = d.policies.length;
  // Exchanges before queues and bindings: bindings need both ends.
  for (const x of d.exchanges) {
    const v = vhostOf(x, 'exchanges');
    const name = str(x, 'name', 'exchanges');
    await keepExisting(broker, 'exchange', name, v, () =>
      v.declareExchange(name, str(x, 'type', 'exchanges'), {
        passive: false,
        durable: bool(x, 'durable', true),
        autoDelete: bool(x, 'auto_delete', false),
        internal: bool(x, 'internal', false),
        args: obj(x, 'arguments', 'exchanges'),
      }),
    );
  }
  summary.exchanges = d.exchanges.length;
  for (const q of d.queues) {
    const opts = { passive: false, durable: bool(q, 'durable', true), exclusive: false, autoDelete: bool(q, 'auto_delete', false), args: obj(q, 'arguments', 'queues') };
    const v = vhostOf(q, 'queues');
    const name = str(q, 'name', 'queues');
    await keepExisting(broker, 'queue', name, v, () => v.declareQueue(name, opts, 'definitions'));
  }
  summary.queues = d.queues.length;
  for (const b of d.bindings) {
    const v = vhostOf(b, 'bindings');
    const args = obj(b, 'arguments', 'bindings');
    const key = str(b, 'routing_key', 'bindings', '');
    const [source, destination] = [str(b, 'source', 'bindings'), str(b, 'destination', 'bindings')];
    if (str(b, 'destination_type', 'bindings', 'queue') === 'exchange') v.bindExchange(destination, source, key, args);
    else v.bindQueue(destination, source, key, args, 'definitions');
  }
  summary.bindings = d.bindings.length;
  await broker.topologySaved();
  logDefinitionsImport(broker.logger, { source: o.source, ...(only ? { vhost: only.name } : {}), counts: summary });
  return summary;
}

async function importUser(broker: Broker, u: Json): Promise<void> {
  const name = str(u, 'name', 'users');
  const tags = parseTags(u.tags ?? []);
  if (!tags) throw new DefinitionsError(`users: 'tags' of '${name}' must be a string or a list of strings`);
  const password = optStr(u, 'password');
  const hash = optStr(u, 'password_hash');
  // RabbitMQ's default for files without one (exports from before 3.6) is MD5.
  const algorithm = optStr(u, 'hashing_algorithm') ?? (hash !== undefined ? 'rabbit_password_hashing_md5' : undefined);
  if (algorithm !== undefined && !isHashingAlgorithm(algorithm)) throw new DefinitionsError(`users: unknown hashing_algorithm '${algorithm}' for '${name}'`);
  if (password === undefined && hash === undefined) throw new DefinitionsError(`users: '${name}' has neither 'password' nor 'password_hash'`);
  if (password !== undefined) await broker.access.putUser(name, { password, tags, ...(algorithm ? { hashingAlgorithm: algorithm } : {}) });
  else await broker.access.putUser(name, { passwordHash: hash, tags, ...(algorithm ? { hashingAlgorithm: algorithm } : {}) });
  const limits = obj(u, 'limits', 'users');
  for (const l of USER_LIMITS) await broker.access.setUserLimit(name, l, limitValue(limits, l, `users: '${name}'`));
}

async function importVhost(broker: Broker, v: Json): Promise<void> {
  const name = str(v, 'name', 'vhosts');
  // 3.10 writes description and tags at the top; 3.11+ also under metadata.
  const meta = obj(v, 'metadata', 'vhosts');
  const description = optStr(v, 'description') ?? optStr(meta, 'description');
  const tags = parseTags(v.tags ?? meta.tags ?? []) ?? [];
  const dqt = optStr(v, 'default_queue_type') ?? optStr(meta, 'default_queue_type');
  await broker.addVhost(name, { ...(description !== undefined ? { description } : {}), tags, ...(dqt ? { defaultQueueType: dqt } : {}) });
}

async function importPermission(broker: Broker, p: Json): Promise<void> {
  const user = str(p, 'user', 'permissions');
  const vhost = str(p, 'vhost', 'permissions');
  requireUserAndVhost(broker, user, vhost, 'permissions');
  const [configure, write, read] = ['configure', 'write', 'read'].map((k) => pattern(p, k, 'permissions'));
  await broker.access.setPermission({ user, vhost, configure, write, read });
}

async function importTopicPermission(broker: Broker, t: Json): Promise<void> {
  const user = str(t, 'user', 'topic_permissions');
  const vhost = str(t, 'vhost', 'topic_permissions');
  requireUserAndVhost(broker, user, vhost, 'topic_permissions');
  const exchange = str(t, 'exchange', 'topic_permissions');
  await broker.access.setTopicPermission({ user, vhost, exchange, write: pattern(t, 'write', 'topic_permissions'), read: pattern(t, 'read', 'topic_permissions') });
}

async function importVhostLimits(broker: Broker, vhost: string, value: Json): Promise<void> {
  for (const l of VHOST_LIMITS) await broker.access.setVhostLimit(vhost, l, limitValue(value, l, `vhost-limits of '${vhost}'`));
}

async function importPolicy(broker: Broker, kind: PolicyKind, vhost: string, p: Json): Promise<void> {
  const section = kind === 'policy' ? 'policies' : 'operator policies';
  const name = str(p, 'name', section);
  try {
    const def = validatePolicy(kind, { vhost, name, pattern: p.pattern, applyTo: p['apply-to'], definition: p.definition, priority: p.priority });
    await broker.setPolicy(kind, def);
  } catch (err) {
    if (err instanceof PolicyValidationError) throw new DefinitionsError(`${section}: '${name}' in vhost '${vhost}': ${err.reason}`);
    throw err;
  }
}

/**
 * RabbitMQ's import keeps an existing queue or exchange declared with other properties
 * (and answers 204): a warning here, not a failed import.
 */
async function keepExisting(broker: Broker, what: string, name: string, v: Vhost, declare: () => unknown): Promise<void> {
  try {
    await declare();
  } catch (err) {
    if (!(err instanceof BrokerError) || err.kind !== 'precondition-failed') throw err;
    broker.logger.warn(`definitions: kept the existing ${what}, which differs from the file`, { vhost: v.name, name, difference: err.message });
  }
}

function requireUserAndVhost(broker: Broker, user: string, vhost: string, section: string): void {
  if (!broker.access.user(user)) throw new DefinitionsError(`${section}: no user '${user}'`, ['no_such_user', user]);
  if (!broker.vhost(vhost)) throw new DefinitionsError(`${section}: no vhost '${vhost}'`, ['no_such_vhost', vhost]);
}

function pattern(e: Json, key: string, section: string): string {
  const v = str(e, key, section, '');
  if (!isValidPattern(v)) throw new DefinitionsError(`${section}: '${key}' is not a valid regular expression: ${v}`);
  return v;
}

/** A limit's value: a non-negative integer sets it; absent or negative (RabbitMQ's "no limit") clears it. */
function limitValue(limits: Json, name: UserLimitName | VhostLimitName, where: string): number | undefined {
  const v = limits[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new DefinitionsError(`${where}: limit '${name}' must be an integer`);
  return v < 0 ? undefined : v;
}

/** The import failed: a definitions error or the broker's refusal, as one message. */
export function importFailure(err: unknown): string | undefined {
  if (err instanceof DefinitionsError) return err.message;
  if (err instanceof BrokerError) return err.message;
  return undefined;
}
