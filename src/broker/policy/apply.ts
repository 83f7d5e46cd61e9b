// Applying policies to a vhost's queues and exchanges: on declare, on recovery,
// and to every object of the vhost when a policy is set, changed or cleared.

import type { Exchange } from '../exchange/exchange.js';
import type { Queue } from '../queue/queue.js';
import type { Stream } from '../stream/stream.js';
import { SEGMENT_BYTES_MIN } from '../stream/queue-args.js';
import { applied, effectiveQueueConfig } from './effective.js';
import { maxAgeMs, type PolicyKind, type PolicyDef } from './definition.js';
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

/**
 * A stream queue (declared through AMQP; Kafka topics keep their own configs): its policies'
 * max-age, max-length-bytes and stream-max-segment-size-bytes win over its arguments
 * (rabbit_stream_queue: policy precedence), as the topic configs retention.ms,
 * retention.bytes and segment.bytes.
 */
export function applyToStream(lookup: PolicyLookup | undefined, vhost: string, s: Stream): void {
  if (!lookup || s.definition.amqpArgs === undefined) return;
  const target: PolicyTarget = { kind: 'queue', queueType: 'stream', name: s.name };
  const policies = applied(lookup.match('policy', vhost, target), lookup.match('operator', vhost, target));
  const def = policies.definition;
  const configs: Record<string, string> = {};
  const age = maxAgeMs(def['max-age']);
  if (age !== undefined) configs['retention.ms'] = String(age);
  if (typeof def['max-length-bytes'] === 'number') configs['retention.bytes'] = String(def['max-length-bytes']);
  const segment = def['stream-max-segment-size-bytes'];
  if (typeof segment === 'number') configs['segment.bytes'] = String(Math.max(segment, SEGMENT_BYTES_MIN));
  s.applyPolicies(policies, configs);
}
