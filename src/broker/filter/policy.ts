// Subscription filter policies: the Amazon SNS filter language, parsed and
// validated with SNS's rules and error texts, compiled into branches (`$or`
// expanded) of (key path -> conditions) that match.ts evaluates. One engine for
// every protocol: SNS subscriptions, and AMQP bindings with `x-filter-policy`.
//
// A policy is a JSON object. A key maps to an array of conditions (OR), or (in the
// MessageBody scope) to an object nesting further keys; keys are ANDed; `$or`
// takes a list of policies at that level, one of which must match.

/** Where the policy looks: message attributes (AMQP headers), or the JSON body. */
export type FilterScope = 'MessageAttributes' | 'MessageBody';

/** A policy SNS would refuse; `detail` is SNS's text after "Invalid parameter: ". */
export class FilterPolicyError extends Error {
  constructor(readonly detail: string) {
    super(`Invalid parameter: ${detail}`);
    this.name = 'FilterPolicyError';
  }
}

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
  if (combinations(obj, 1) > MAX_COMBINATIONS) throw new FilterPolicyError('FilterPolicy: Filter policy is too complex');
  const branches = expand(obj, '');
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
function combinations(obj: Record<string, unknown>, depth: number): number {
  let total = 1;
  for (const [key, v] of Object.entries(obj)) {
    if (key === '$or' && Array.isArray(v)) {
      if (v.length < 2 || !v.every(isObject)) throw new FilterPolicyError('FilterPolicy: "$or" must be an array of at least two objects');
      total *= v.reduce((sum: number, alt) => sum + combinations(alt as Record<string, unknown>, depth), 0);
    } else if (Array.isArray(v)) {
      if (v.length === 0) throw new FilterPolicyError('FilterPolicy: Empty arrays are not allowed');
      total *= v.length * depth;
    } else if (isObject(v)) {
      total *= combinations(v, depth + 1);
    } else {
      throw new FilterPolicyError(`FilterPolicy: "${key}" must be an object or an array`);
    }
  }
  return total;
}

/** The policy as branches with flat key paths ("a.b.c"), `$or` multiplied out. */
function expand(obj: Record<string, unknown>, prefix: string): Branch[] {
  let branches: Branch[] = [{ keys: [] }];
  for (const [key, v] of Object.entries(obj)) {
    if (key === '$or' && Array.isArray(v)) {
      const alts = (v as Record<string, unknown>[]).flatMap((alt) => expand(alt, prefix));
      branches = branches.flatMap((b) => alts.map((a) => ({ keys: [...b.keys, ...a.keys] })));
    } else if (Array.isArray(v)) {
      const entry = { path: prefix + key, conditions: v.map(parseCondition), nested: prefix !== '' };
      branches = branches.map((b) => ({ keys: [...b.keys, entry] }));
    } else {
      const nested = expand(v as Record<string, unknown>, `${prefix}${key}.`);
      branches = branches.flatMap((b) => nested.map((n) => ({ keys: [...b.keys, ...n.keys] })));
    }
  }
  return branches;
}

function isScalar(v: unknown): v is string | number | boolean | null {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

function parseCondition(c: unknown): Condition {
  if (isScalar(c)) return { kind: 'equals', value: c };
  if (!isObject(c)) throw new FilterPolicyError('FilterPolicy: Match value must be String, number, true, false, or null');
  const entries = Object.entries(c);
  if (entries.length !== 1) throw new FilterPolicyError('FilterPolicy: Only one key allowed in match expression');
  const [op, value] = entries[0];
  switch (op) {
    case 'prefix':
    case 'suffix':
    case 'equals-ignore-case':
      if (typeof value !== 'string') throw new FilterPolicyError(`FilterPolicy: ${op} match pattern must be a string`);
      return { kind: op, value };
    case 'anything-but':
      return anythingBut(value);
    case 'exists':
      if (typeof value !== 'boolean') throw new FilterPolicyError('FilterPolicy: exists match pattern must be either true or false.');
      return { kind: 'exists', value };
    case 'numeric':
      return { kind: 'numeric', terms: numericTerms(value) };
    case 'cidr':
      return { kind: 'cidr', network: parseCidr(value) };
    default:
      throw new FilterPolicyError(`FilterPolicy: Unrecognized match type ${op}`);
  }
}

function anythingBut(value: unknown): Condition {
  if (isScalar(value)) return { kind: 'anything-but', values: [value] };
  if (Array.isArray(value)) {
    if (value.length === 0) throw new FilterPolicyError('FilterPolicy: Empty arrays are not allowed');
    if (!value.every((v) => typeof v === 'string' || typeof v === 'number')) {
      throw new FilterPolicyError('FilterPolicy: Inside anything but list, start|null|boolean is not supported.');
    }
    return { kind: 'anything-but', values: value as (string | number)[] };
  }
  if (isObject(value)) {
    const entries = Object.entries(value);
    if (entries.length !== 1) throw new FilterPolicyError('FilterPolicy: Only one key allowed in match expression');
    const [inner, v] = entries[0];
    // SNS (unlike EventBridge) refuses anything-but suffix: "Unsupported anything-but pattern: suffix".
    if (inner !== 'prefix' && inner !== 'equals-ignore-case') {
      throw new FilterPolicyError(`FilterPolicy: Unsupported anything-but pattern: ${inner}`);
    }
    if (typeof v !== 'string') throw new FilterPolicyError(`FilterPolicy: ${inner} match pattern must be a string`);
    return { kind: `anything-but-${inner}`, value: v };
  }
  throw new FilterPolicyError('FilterPolicy: Match value must be String, number, true, false, or null');
}

const NUMERIC_OPS: readonly string[] = ['=', '<', '<=', '>', '>='];

/** `["=", 5]`, `[">", 0]`, `[">=", 0, "<", 10]`, with SNS's texts for every malformed form. */
function numericTerms(value: unknown): (readonly [NumericOp, number])[] {
  if (!Array.isArray(value) || value.length === 0) throw new FilterPolicyError('FilterPolicy: Invalid member in numeric match: ]');
  const [op1, v1, op2, v2, ...rest] = value as unknown[];
  if (typeof op1 !== 'string') throw new FilterPolicyError(`FilterPolicy: Invalid member in numeric match: ${String(op1)}`);
  if (!NUMERIC_OPS.includes(op1)) throw new FilterPolicyError(`FilterPolicy: Unrecognized numeric range operator: ${op1}`);
  if (typeof v1 !== 'number') throw new FilterPolicyError(`FilterPolicy: Value of ${op1 === '=' ? 'equals' : op1} must be numeric`);
  if (value.length === 2) return [[op1 as NumericOp, v1]];
  if (op1 !== '>' && op1 !== '>=') throw new FilterPolicyError('FilterPolicy: Too many elements in numeric expression');
  if (typeof op2 !== 'string') throw new FilterPolicyError(`FilterPolicy: Bad value in numeric range: ${String(op2)}`);
  if (op2 !== '<' && op2 !== '<=') throw new FilterPolicyError(`FilterPolicy: Bad numeric range operator: ${op2}`);
  if (typeof v2 !== 'number') throw new FilterPolicyError(`FilterPolicy: Value of ${op2} must be numeric`);
  if (v2 <= v1) throw new FilterPolicyError('FilterPolicy: Bottom must be less than top');
  if (rest.length > 0) throw new FilterPolicyError('FilterPolicy: Too many terms in numeric range expression');
  return [[op1, v1], [op2, v2]];
}

function parseCidr(value: unknown): Cidr {
  if (typeof value !== 'string') throw new FilterPolicyError('FilterPolicy: prefix match pattern must be a string');
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
