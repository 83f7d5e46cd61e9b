// Subscription filter policies: the Amazon SNS filter language, parsed and
// validated with SNS's rules and error texts, compiled into branches (`$or`
// expanded) of (key path -> conditions) that match.ts evaluates. One engine for
// every protocol: SNS subscriptions, and AMQP bindings with `x-filter-policy`.
//
// A policy is a JSON object. A key maps to an array of conditions (OR), or (in the
// MessageBody scope) to an object nesting further keys; keys are ANDed; `$or`
// takes a list of policies at that level, one of which must match.

import { locationSuffix, type PolicyLocation, type PolicyPath } from './location.js';

/** Where the policy looks: message attributes (AMQP headers), or the JSON body. */
export type FilterScope = 'MessageAttributes' | 'MessageBody';

/**
 * A policy SNS would refuse; `detail` is SNS's text after "Invalid parameter: "; `at` where
 * SNS's parser was, and `location` the suffix SNS appends for it (policies given as text).
 */
export class FilterPolicyError extends Error {
  constructor(
    readonly detail: string,
    readonly at?: PolicyLocation,
    readonly location = '',
  ) {
    super(`Invalid parameter: ${detail}${location}`);
    this.name = 'FilterPolicyError';
  }
}

const fail = (detail: string, path?: PolicyPath, tail = false): FilterPolicyError => new FilterPolicyError(`FilterPolicy: ${detail}`, path ? { path, tail } : undefined);

export type NumericOp = '=' | '<' | '<=' | '>' | '>=';

export type Condition =
  | { readonly kind: 'equals'; readonly value: string | number | boolean | null }
  | { readonly kind: 'prefix' | 'suffix' | 'equals-ignore-case'; readonly value: string }
  | { readonly kind: 'anything-but'; readonly values: readonly (string | number | boolean | null)[] }
  | { readonly kind: 'anything-but-prefix' | 'anything-but-equals-ignore-case'; readonly value: string }
  | { readonly kind: 'numeric'; readonly terms: readonly (readonly [NumericOp, number])[] }
  | { readonly kind: 'exists'; readonly value: boolean }
  | { readonly kind: 'cidr'; readonly network: Cidr };

export interface Cidr {
  readonly v6: boolean;
  /** The network address as a bigint, masked. */
  readonly base: bigint;
  readonly bits: number;
}

/** One alternative of a policy: every key must match one of its conditions. */
export interface Branch {
  /** `nested`: the key is inside an object (a MessageBody-scope path such as "a.b"). */
  readonly keys: readonly { readonly path: string; readonly conditions: readonly Condition[]; readonly nested: boolean }[];
}

export interface CompiledPolicy {
  readonly scope: FilterScope;
  /** The policy as given (for display and equality). */
  readonly source: string;
  readonly branches: readonly Branch[];
}

const MAX_KEYS = 5;
const MAX_COMBINATIONS = 150;
/** SNS's limit on a filter policy's size. */
export const MAX_POLICY_BYTES = 256 * 1024;

/** Parses, validates and compiles a policy given as JSON text (SNS) or an object. */
export function compileFilterPolicy(policy: string | object, scope: FilterScope = 'MessageAttributes'): CompiledPolicy {
  let obj: unknown = policy;
  const source = typeof policy === 'string' ? policy : JSON.stringify(policy);
  if (typeof policy === 'string') {
    if (Buffer.byteLength(policy) > MAX_POLICY_BYTES) throw new FilterPolicyError('FilterPolicy: Filter policy is too big');
    try {
      obj = JSON.parse(policy);
    } catch (err) {
      throw new FilterPolicyError(`FilterPolicy: failed to parse JSON. ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (!isObject(obj)) throw new FilterPolicyError('FilterPolicy: Filter policy must be a JSON object');
  if (Object.keys(obj).length > MAX_KEYS) throw new FilterPolicyError('FilterPolicy: Filter policy can not have more than 5 keys');
  let branches: Branch[];
  try {
    if (combinations(obj, 1, []) > MAX_COMBINATIONS) throw new FilterPolicyError('FilterPolicy: Filter policy is too complex');
    branches = expand(obj, '', []);
  } catch (err) {
    // SNS's texts for a policy given as text end with its parser's location.
    if (err instanceof FilterPolicyError && err.at && typeof policy === 'string') throw new FilterPolicyError(err.detail, err.at, locationSuffix(obj, err.at));
    throw err;
  }
  // SNS checks the policy's form first, then whether its scope allows nesting.
  if (scope === 'MessageAttributes' && branches.some((b) => b.keys.some((k) => k.nested))) {
    throw new FilterPolicyError('Filter policy scope MessageAttributes does not support nested filter policy');
  }
  return { scope, source, branches };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * SNS's complexity measure: the product, over the arrays of conditions, of their
 * length times their nesting depth; `$or` adds up its alternatives.
 */
function combinations(obj: Record<string, unknown>, depth: number, path: PolicyPath): number {
  let total = 1;
  for (const [key, v] of Object.entries(obj)) {
    if (key === '$or' && Array.isArray(v)) {
      if (v.length < 2 || !v.every(isObject)) throw new FilterPolicyError('FilterPolicy: "$or" must be an array of at least two objects');
      total *= v.reduce((sum: number, alt, i) => sum + combinations(alt as Record<string, unknown>, depth, [...path, key, i]), 0);
    } else if (Array.isArray(v)) {
      if (v.length === 0) throw fail('Empty arrays are not allowed', [...path, key], true);
      total *= v.length * depth;
    } else if (isObject(v)) {
      total *= combinations(v, depth + 1, [...path, key]);
    } else {
      throw fail(`"${key}" must be an object or an array`, [...path, key]);
    }
  }
  return total;
}

/** The policy as branches with flat key paths ("a.b.c"), `$or` multiplied out. */
function expand(obj: Record<string, unknown>, prefix: string, path: PolicyPath): Branch[] {
  let branches: Branch[] = [{ keys: [] }];
  for (const [key, v] of Object.entries(obj)) {
    if (key === '$or' && Array.isArray(v)) {
      const alts = (v as Record<string, unknown>[]).flatMap((alt, i) => expand(alt, prefix, [...path, key, i]));
      branches = branches.flatMap((b) => alts.map((a) => ({ keys: [...b.keys, ...a.keys] })));
    } else if (Array.isArray(v)) {
      const entry = { path: prefix + key, conditions: v.map((c, i) => parseCondition(c, [...path, key, i])), nested: prefix !== '' };
      branches = branches.map((b) => ({ keys: [...b.keys, entry] }));
    } else {
      const nested = expand(v as Record<string, unknown>, `${prefix}${key}.`, [...path, key]);
      branches = branches.flatMap((b) => nested.map((n) => ({ keys: [...b.keys, ...n.keys] })));
    }
  }
  return branches;
}

function isScalar(v: unknown): v is string | number | boolean | null {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

function parseCondition(c: unknown, path: PolicyPath): Condition {
  if (isScalar(c)) return { kind: 'equals', value: c };
  if (!isObject(c)) throw fail('Match value must be String, number, true, false, or null', path);
  const entries = Object.entries(c);
  if (entries.length !== 1) throw fail('Only one key allowed in match expression', entries.length > 1 ? [...path, entries[1][0]] : undefined);
  const [op, value] = entries[0];
  const at = [...path, op];
  switch (op) {
    case 'prefix':
    case 'suffix':
    case 'equals-ignore-case':
      if (typeof value !== 'string') throw fail(`${op} match pattern must be a string`, at);
      return { kind: op, value };
    case 'anything-but':
      return anythingBut(value, at);
    case 'exists':
      if (typeof value !== 'boolean') throw fail('exists match pattern must be either true or false.', at);
      return { kind: 'exists', value };
    case 'numeric':
      return { kind: 'numeric', terms: numericTerms(value, at) };
    case 'cidr':
      return { kind: 'cidr', network: parseCidr(value, at) };
    default:
      throw fail(`Unrecognized match type ${op}`, at);
  }
}

function anythingBut(value: unknown, path: PolicyPath): Condition {
  if (isScalar(value)) return { kind: 'anything-but', values: [value] };
  if (Array.isArray(value)) {
    if (value.length === 0) throw fail('Empty arrays are not allowed', path, true);
    const odd = value.findIndex((v) => typeof v !== 'string' && typeof v !== 'number');
    if (odd >= 0) throw fail('Inside anything but list, start|null|boolean is not supported.', [...path, odd]);
    return { kind: 'anything-but', values: value as (string | number)[] };
  }
  if (isObject(value)) {
    const entries = Object.entries(value);
    if (entries.length !== 1) throw fail('Only one key allowed in match expression', entries.length > 1 ? [...path, entries[1][0]] : undefined);
    const [inner, v] = entries[0];
    // SNS (unlike EventBridge) refuses anything-but suffix: "Unsupported anything-but pattern: suffix".
    if (inner !== 'prefix' && inner !== 'equals-ignore-case') {
      throw fail(`Unsupported anything-but pattern: ${inner}`, [...path, inner]);
    }
    if (typeof v !== 'string') throw fail(`${inner} match pattern must be a string`, [...path, inner]);
    return { kind: `anything-but-${inner}`, value: v };
  }
  throw new FilterPolicyError('FilterPolicy: Match value must be String, number, true, false, or null');
}

const NUMERIC_OPS: readonly string[] = ['=', '<', '<=', '>', '>='];

/** `["=", 5]`, `[">", 0]`, `[">=", 0, "<", 10]`, with SNS's texts for every malformed form. */
function numericTerms(value: unknown, path: PolicyPath): (readonly [NumericOp, number])[] {
  if (!Array.isArray(value) || value.length === 0) throw fail('Invalid member in numeric match: ]', path, Array.isArray(value));
  const [op1, v1, op2, v2, ...rest] = value as unknown[];
  // The token after element i: the element itself, or the array's close.
  const next = (i: number): [PolicyPath, boolean] => (i < value.length ? [[...path, i], false] : [path, true]);
  if (typeof op1 !== 'string') throw fail(`Invalid member in numeric match: ${String(op1)}`, [...path, 0]);
  if (!NUMERIC_OPS.includes(op1)) throw fail(`Unrecognized numeric range operator: ${op1}`, ...next(1));
  if (typeof v1 !== 'number') throw fail(`Value of ${op1 === '=' ? 'equals' : op1} must be numeric`, ...next(1));
  if (value.length === 2) return [[op1 as NumericOp, v1]];
  if (op1 !== '>' && op1 !== '>=') throw fail('Too many elements in numeric expression', [...path, 2]);
  if (typeof op2 !== 'string') throw fail(`Bad value in numeric range: ${String(op2)}`, [...path, 2]);
  if (op2 !== '<' && op2 !== '<=') throw fail(`Bad numeric range operator: ${op2}`, [...path, 2], true);
  if (typeof v2 !== 'number') throw fail(`Value of ${op2} must be numeric`, ...next(3));
  if (v2 <= v1) throw fail('Bottom must be less than top', ...next(4));
  if (rest.length > 0) throw fail('Too many terms in numeric range expression', [...path, 4]);
  return [[op1, v1], [op2, v2]];
}

function parseCidr(value: unknown, path: PolicyPath): Cidr {
  // SNS's text for a cidr that is not a string does say "prefix".
  if (typeof value !== 'string') throw fail('prefix match pattern must be a string', path);
  const parts = value.split('/');
  if (parts.length !== 2) throw new FilterPolicyError("FilterPolicy: Malformed CIDR, one '/' required");
  const [ip, mask] = parts;
  if (!/^\d+$/.test(mask)) throw new FilterPolicyError('FilterPolicy: Malformed CIDR, mask bits must be an integer');
  const addr = parseIp(ip);
  const bits = Number(mask);
  if (!addr || bits > (addr.v6 ? 128 : 32)) throw new FilterPolicyError(`FilterPolicy: Nonstandard IP address: ${ip}`);
  return { v6: addr.v6, bits, base: maskBits(addr.value, bits, addr.v6) };
}

export function maskBits(value: bigint, bits: number, v6: boolean): bigint {
  const width = v6 ? 128n : 32n;
  const hostBits = width - BigInt(bits);
  return (value >> hostBits) << hostBits;
}

/** An IPv4 or IPv6 address as a number, or undefined. */
export function parseIp(text: string): { v6: boolean; value: bigint } | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const octets = v4.slice(1).map(Number);
    if (octets.some((o) => o > 255)) return undefined;
    return { v6: false, value: octets.reduce((acc, o) => (acc << 8n) | BigInt(o), 0n) };
  }
  if (!text.includes(':') || !/^[0-9a-fA-F:]+$/.test(text)) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' ? [] : halves[0].split(':');
  const tail = halves.length === 2 && halves[1] !== '' ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || (halves.length === 2 && missing < 1)) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (groups.some((g) => g.length === 0 || g.length > 4)) return undefined;
  return { v6: true, value: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n) };
}
