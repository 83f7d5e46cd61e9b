// Definitions export in RabbitMQ's JSON format (what `GET /api/definitions` returns
// and `rabbitmqctl export_definitions` writes), so RabbitMQ imports Wharf's exports.
// The whole broker's has every section; one vhost's has RabbitMQ's per-vhost shape
// (parameters, policies, queues, exchanges, bindings without a `vhost` field, except
// policies, which RabbitMQ keeps it on).

import type { Broker } from '../broker/broker.js';
import type { PolicyDef } from '../broker/policy/definition.js';
import type { Vhost } from '../broker/vhost.js';
import { argsToJson } from '../http/json.js';
import { vhostBindings } from '../http/format.js';
import { RABBITMQ_COMPAT_VERSION } from '../http/routes/node.js';
import { WHARF_VERSION } from '../http/version.js';
import type { Definitions, Json } from './format.js';

/** Every definition of the broker, or of one vhost (`only`). */
export function exportDefinitions(broker: Broker, only?: Vhost): Definitions {
  const vhosts = only ? [only] : broker.vhostList();
  const topology = exportTopology(vhosts, !only);
  const parameters = vhosts.flatMap((v) => vhostParameters(broker, v.name));
  const policies = vhosts.flatMap((v) => broker.policies.list('policy', v.name)).map(policyJson);
  if (only) return { rabbit_version: RABBITMQ_COMPAT_VERSION, parameters, policies, ...topology };
  const access = broker.access;
  return {
    rabbit_version: RABBITMQ_COMPAT_VERSION,
    rabbitmq_version: RABBITMQ_COMPAT_VERSION,
    product_name: 'Wharf',
    product_version: WHARF_VERSION,
    users: access.userList().map((u) => ({
      name: u.name,
      password_hash: u.password_hash,
      hashing_algorithm: u.hashing_algorithm,
      tags: [...u.tags],
      limits: { ...u.limits },
    })),
    vhosts: access.vhostList().map((v) => ({
      name: v.name,
      description: v.description,
      tags: [...v.tags],
      ...(v.default_queue_type && v.default_queue_type !== 'undefined' ? { default_queue_type: v.default_queue_type } : {}),
    })),
    permissions: access.permissionList().map((p) => ({ ...p })),
    topic_permissions: access.topicPermissionList().map((t) => ({ ...t })),
    parameters,
    global_parameters: [],
    policies,
    ...topology,
  };
}

/** Vhost limits and operator policies: RabbitMQ exports both as runtime parameters. */
function vhostParameters(broker: Broker, vhost: string): Json[] {
  const out: Json[] = [];
  const limits = broker.access.vhost(vhost)?.limits ?? {};
  if (Object.keys(limits).length > 0) out.push({ value: { ...limits }, vhost, component: 'vhost-limits', name: 'limits' });
  for (const p of broker.policies.list('operator', vhost)) {
    out.push({ value: { pattern: p.pattern, definition: { ...p.definition }, priority: p.priority, 'apply-to': p['apply-to'] }, vhost, component: 'operator_policy', name: p.name });
  }
  return out;
}

function policyJson(p: PolicyDef): Json {
  return { vhost: p.vhost, name: p.name, pattern: p.pattern, 'apply-to': p['apply-to'], definition: { ...p.definition }, priority: p.priority };
}

/** Durable-or-not queues (exclusive ones are a connection's, not definitions), streams, exchanges, bindings. */
function exportTopology(vhosts: readonly Vhost[], withVhost: boolean): { queues: Json[]; exchanges: Json[]; bindings: Json[] } {
  const queues: Json[] = [];
  const exchanges: Json[] = [];
  const bindings: Json[] = [];
  for (const v of vhosts) {
    const vh = withVhost ? { vhost: v.name } : {};
    for (const q of v.queues.values()) {
      if (q.exclusiveOwner !== undefined) continue;
      queues.push({ name: q.name, ...vh, durable: q.durable, auto_delete: q.autoDelete, arguments: argsToJson(q.args) });
    }
    for (const s of v.streams.list()) {
      queues.push({ name: s.name, ...vh, durable: true, auto_delete: false, arguments: { 'x-queue-type': 'stream' } });
    }
    for (const x of v.exchanges.values()) {
      if (x.isDefault || x.name.startsWith('amq.')) continue;
      exchanges.push({ name: x.name, ...vh, type: x.type, durable: x.durable, auto_delete: x.autoDelete, internal: x.internal, arguments: argsToJson(x.args) });
    }
    for (const b of vhostBindings(v)) {
      if (b.source === '') continue;
      bindings.push({ source: b.source, ...vh, destination: b.destination, destination_type: b.destinationType, routing_key: b.routingKey, arguments: argsToJson(b.args) });
    }
  }
  return { queues, exchanges, bindings };
}
