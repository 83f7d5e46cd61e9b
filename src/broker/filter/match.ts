// Evaluating compiled filter policies (policy.ts) against a message. The message
// is seen through FilterInput: for each key path, the values there (several for a
// String.Array attribute or a path through JSON arrays), or undefined when the key
// is absent. Strings match string conditions, numbers numeric ones: an attribute
// of type Number "5" matches 5 and ["numeric", "=", 5], not "5".

import type { Args } from '../message.js';
import { maskBits, parseIp, type Branch, type CompiledPolicy, type Condition } from './policy.js';

export type FilterValue = string | number | boolean | null;

export interface FilterInput {
  /** The values at a key path; undefined when the key is absent. */
  get(path: string): readonly FilterValue[] | undefined;
}

export function matchesPolicy(policy: CompiledPolicy, input: FilterInput): boolean {
  for (const b of policy.branches) if (matchesBranch(b, input)) return true;
  return false;
}

export function matchesBranch(branch: Branch, input: FilterInput): boolean {
  for (const { path, conditions } of branch.keys) {
    const values = input.get(path);
    if (!conditions.some((c) => matchesCondition(c, values))) return false;
  }
  return true;
}

/** A condition against the values at its key (undefined: the key is absent). */
export function matchesCondition(c: Condition, values: readonly FilterValue[] | undefined): boolean {
  if (c.kind === 'exists') return c.value === (values !== undefined);
  // Every other condition needs the key, and one of its values to satisfy it.
  if (values === undefined) return false;
  for (const v of values) if (matchesValue(c, v)) return true;
  return false;
}

function matchesValue(c: Exclude<Condition, { kind: 'exists' }>, v: FilterValue): boolean {
  switch (c.kind) {
    case 'equals':
      return sameValue(c.value, v);
    case 'prefix':
      return typeof v === 'string' && v.startsWith(c.value);
    case 'suffix':
      return typeof v === 'string' && v.endsWith(c.value);
    case 'equals-ignore-case':
      return typeof v === 'string' && v.toLowerCase() === c.value.toLowerCase();
    case 'anything-but':
      return v !== null && !c.values.some((x) => sameValue(x, v));
    case 'anything-but-prefix':
      return typeof v === 'string' && !v.startsWith(c.value);
    case 'anything-but-equals-ignore-case':
      return typeof v === 'string' && v.toLowerCase() !== c.value.toLowerCase();
    case 'numeric':
      return typeof v === 'number' && c.terms.every(([op, x]) => compare(op, v, x));
    case 'cidr': {
      if (typeof v !== 'string') return false;
      const ip = parseIp(v);
      return ip !== undefined && ip.v6 === c.network.v6 && maskBits(ip.value, c.network.bits, ip.v6) === c.network.base;
    }
  }
}

/** Exact match: same type; numbers compare as numbers (5 = 5.0), to SNS's five decimal places. */
function sameValue(a: FilterValue, b: FilterValue): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Math.round(a * 1e5) === Math.round(b * 1e5);
  return a === b;
}

function compare(op: string, v: number, x: number): boolean {
  switch (op) {
    case '=':
      return Math.round(v * 1e5) === Math.round(x * 1e5);
    case '<':
      return v < x;
    case '<=':
      return v <= x;
    case '>':
      return v > x;
    default:
      return v >= x;
  }
}

/**
 * SNS message attributes ({Name: {DataType, StringValue}}) as filter input:
 * String -> the string, Number -> the number, String.Array -> its JSON array's
 * elements; Binary attributes exist but match no value condition.
 */
export function snsAttributesInput(attrs: Readonly<Record<string, { readonly DataType: string; readonly StringValue?: string }>>): FilterInput {
  return {
    get(path) {
      const a = attrs[path];
      if (!a) return undefined;
      const type = a.DataType.split('.')[0];
      if (a.DataType === 'String.Array') return parseArray(a.StringValue ?? '');
      if (type === 'Number') return [Number(a.StringValue)];
      if (type === 'String') return [a.StringValue ?? ''];
      return [];
    },
  };
}

function parseArray(text: string): FilterValue[] {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.filter((x): x is FilterValue => x === null || ['string', 'number', 'boolean'].includes(typeof x)) : [];
  } catch {
    return [];
  }
}

/**
 * AMQP headers as filter input (scope MessageAttributes over AMQP): strings and
 * byte strings as strings, numbers of every width as numbers, booleans, arrays as
 * String.Array (their scalar elements); other values (tables, timestamps) exist but match no value.
 */
export function headersInput(headers: Args | undefined): FilterInput {
  return {
    get(path) {
      if (!headers || !Object.hasOwn(headers, path)) return undefined;
      const v = headers[path];
      if (Array.isArray(v)) return v.map(scalarOf).filter((x): x is FilterValue => x !== undefined);
      const s = scalarOf(v);
      return s === undefined ? [] : [s];
    },
  };
}

function scalarOf(v: unknown): FilterValue | undefined {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  // TypedNumber (a float or an integer of a declared width) carries its value.
  if (typeof v === 'object' && v !== null && 'value' in v && typeof (v as { value: unknown }).value === 'number') return (v as { value: number }).value;
  return undefined;
}

/**
 * A JSON body as filter input (scope MessageBody): nested keys are paths "a.b.c";
 * a path through arrays collects every element's value. A body that is not a JSON
 * object matches no policy with keys (SNS: the payload must be a JSON object).
 */
export function jsonBodyInput(body: unknown): FilterInput {
  const flat = new Map<string, FilterValue[]>();
  const walk = (v: unknown, path: string): void => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x, path);
      if (v.length === 0 && path !== '' && !flat.has(path)) flat.set(path, []);
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) walk(x, path === '' ? k : `${path}.${k}`);
    } else if (path !== '') {
      let list = flat.get(path);
      if (!list) flat.set(path, (list = []));
      list.push(v as FilterValue);
    }
  };
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) walk(body, '');
  return { get: (path) => flat.get(path) };
}
