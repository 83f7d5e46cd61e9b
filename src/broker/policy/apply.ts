// Applying policies to a vhost's queues and exchanges: on declare, on recovery,
// and to every object of the vhost when a policy is set, changed or cleared.

import type { Exchange } from '../exchange/exchange.js';
import type { Queue } from '../queue/queue.js';
import { applied, effectiveQueueConfig } from './effective.js';
import type { PolicyKind, PolicyDef } from './definition.js';
import type { PolicyTarget } from './policy-store.js';

/** Where a vhost finds the policy of each kind for an object (the broker's PolicyStore). */
export interface PolicyLookup {
  match(kind: PolicyKind, vhost: string, target: PolicyTarget): PolicyDef | undefined;
}

export function applyToQueue(lookup: PolicyLookup | undefined, q: Queue): void {
  if (!lookup) return;
  const target: PolicyTarget = { kind: 'queue', queueType: q.declared.queueType, name: q.name };
  const policies = applied(lookup.match('policy', q.vhost, target), lookup.match('operator', q.vhost, target));
  q.reconfigure(effectiveQueueConfig(q.declared, q.args, policies.definition), policies);
}

export function applyToExchange(lookup: PolicyLookup | undefined, x: Exchange): void {
  if (!lookup) return;
  const target: PolicyTarget = { kind: 'exchange', name: x.name };
  x.applyPolicies(applied(lookup.match('policy', x.vhost, target), lookup.match('operator', x.vhost, target)));
}
