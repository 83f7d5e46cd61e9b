// What a queue or exchange actually uses: its arguments, its policy and its
// operator policy combined by RabbitMQ's rules.
//
// - Policy and operator policy (rabbit_policy:merge_operator_definitions): keys set
//   by only one are taken as they are; for keys both set, the lower value wins
//   (every key an operator policy accepts is a limit).
// - That merged definition and the queue's x-arguments (rabbit_queue_type_util:
//   args_policy_lookup, per key): classic queues (rabbit_amqqueue_process) take the
//   lower of the two for expires, message-ttl, max-length and max-length-bytes, and
//   the argument for dead-letter-exchange, dead-letter-routing-key and overflow;
//   quorum queues (rabbit_quorum_queue) take the lower for max-length(-bytes),
//   message-ttl and delivery-limit, the policy for overflow and expires, the argument
//   for the dead-letter keys. delivery-limit and consumer-timeout (which Wharf's classic
//   queues have too) take the lower everywhere.
// - Exchanges: an alternate-exchange argument wins over the policy's (rabbit_policy:get_arg).

import type { Args } from '../message.js';
import { argNumber, quorumDeliveryLimit, type Overflow, type QueueConfig } from '../queue/args.js';
import { MIN_MERGED_KEYS, type PolicyDef } from './definition.js';

/** The policies an object got, and what they add up to. */
export interface AppliedPolicies {
  readonly policy: PolicyDef | undefined;
  readonly operatorPolicy: PolicyDef | undefined;
  /** The merged definition (RabbitMQ's effective_policy_definition). */
  readonly definition: Readonly<Record<string, unknown>>;
}

export const NO_POLICIES: AppliedPolicies = { policy: undefined, operatorPolicy: undefined, definition: {} };

export function applied(policy: PolicyDef | undefined, operatorPolicy: PolicyDef | undefined): AppliedPolicies {
  if (!policy && !operatorPolicy) return NO_POLICIES;
  return { policy, operatorPolicy, definition: mergeDefinitions(policy?.definition ?? {}, operatorPolicy?.definition ?? {}) };
}

export function mergeDefinitions(
  policy: Readonly<Record<string, unknown>>,
  operator: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...policy };
  for (const [k, opVal] of Object.entries(operator)) {
    const val = out[k];
    out[k] = val !== undefined && MIN_MERGED_KEYS.has(k) && typeof val === 'number' && typeof opVal === 'number' ? Math.min(val, opVal) : opVal;
  }
  return Object.fromEntries(Object.keys(out).sort().map((k) => [k, out[k]]));
}

type Resolve = 'min' | 'argument' | 'policy';

/**
 * A queue's effective settings: `declared` (parsed from its arguments) with the policy
 * definition applied by the rules above. Settings only arguments give (queue type,
 * priorities, single active consumer, de-duplication) stay as declared.
 */
export function effectiveQueueConfig(declared: QueueConfig, args: Args, def: Readonly<Record<string, unknown>>): QueueConfig {
  if (Object.keys(def).length === 0) return declared;
  const quorum = declared.queueType === 'quorum';
  const num = (key: string, arg: number | undefined, how: Resolve): number | undefined => {
    const p = def[key];
    if (typeof p !== 'number') return arg;
    if (arg === undefined) return p;
    return how === 'min' ? Math.min(p, arg) : how === 'policy' ? p : arg;
  };
  const str = <T extends string>(key: string, arg: T | undefined, how: Resolve): T | undefined => {
    const p = def[key];
    if (typeof p !== 'string') return arg;
    return arg === undefined || how === 'policy' ? (p as T) : arg;
  };
  // Overflow has a default ('drop-head'), so whether the argument was given is read from the arguments.
  const overflowArg = args['x-overflow'] === undefined ? undefined : declared.overflow;
  const deadLetterExchange = str('dead-letter-exchange', declared.deadLetterExchange, 'argument');
  return {
    ...declared,
    expires: num('expires', declared.expires, quorum ? 'policy' : 'min'),
    messageTtl: num('message-ttl', declared.messageTtl, 'min'),
    maxLength: num('max-length', declared.maxLength, 'min'),
    maxLengthBytes: num('max-length-bytes', declared.maxLengthBytes, 'min'),
    overflow: str<Overflow>('overflow', overflowArg, quorum ? 'policy' : 'argument') ?? 'drop-head',
    deadLetterExchange,
    deadLetterRoutingKey: str('dead-letter-routing-key', declared.deadLetterRoutingKey, 'argument'),
    deliveryLimit: quorum ? quorumDeliveryLimit(argNumber(args['x-delivery-limit']), typeof def['delivery-limit'] === 'number' ? def['delivery-limit'] : undefined) : num('delivery-limit', declared.deliveryLimit, 'min'),
    consumerTimeout: num('consumer-timeout', declared.consumerTimeout, 'min'),
  };
}
