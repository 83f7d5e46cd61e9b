// Headers exchange (AMQP 0-9-1 §3.1.3.4): the routing key is ignored; a binding's
// arguments are matched against the message's headers table. The rules below
// follow RabbitMQ's rabbit_exchange_type_headers, which is what clients expect:
//
// - `x-match` is `all` (the default), `any`, `all-with-x` or `any-with-x`;
//   anything else is refused at bind time with PRECONDITION_FAILED. `x-match`
//   itself never takes part in matching. Other binding arguments whose names
//   start with `x-` are ignored too, except in the `*-with-x` modes.
// - A binding argument whose value is void (decoded as null) matches when the
//   message has that header, whatever its value.
// - Otherwise the header must be present with an equal value. RabbitMQ compares
//   the decoded values with Erlang `==`, so the wire type tag is not part of
//   the comparison: a signed-32 1, a signed-64 1, a double 1.0 and a timestamp
//   1 are all equal; a long string and a byte array with the same bytes are
//   equal; a boolean never equals a number. headerValueEquals mirrors that.
// - With no arguments to match, `all` matches every message (including one
//   without headers) and `any` matches none.

import { preconditionFailed } from '../errors.js';
import { BindingTable, deepEqual, sameFields, type Args, type Binding, type Router } from './router.js';

export type HeadersMatchMode = 'all' | 'any' | 'all-with-x' | 'any-with-x';

const matchModes: readonly HeadersMatchMode[] = ['all', 'any', 'all-with-x', 'any-with-x'];

interface CompiledBinding {
  readonly routingKey: string;
  readonly args: Args;
  readonly all: boolean;
  /** [header name, expected value or null for "present with any value"]. */
  readonly conditions: readonly (readonly [string, unknown])[];
}

/** Reads and validates a binding's x-match; throws PRECONDITION_FAILED like RabbitMQ. */
export function parseMatchMode(args: Args): HeadersMatchMode {
  if (!Object.hasOwn(args, 'x-match')) return 'all';
  const value = args['x-match'];
  if (typeof value !== 'string') {
    throw preconditionFailed(`Invalid x-match field type ${describeType(value)}; expected longstr`);
  }
  if (!(matchModes as readonly string[]).includes(value)) {
    throw preconditionFailed(
      `Invalid x-match field value '${value}'; expected all, any, all-with-x, or any-with-x`,
    );
  }
  return value as HeadersMatchMode;
}

function describeType(value: unknown): string {
  if (value === null) return 'void';
  if (Array.isArray(value)) return 'array';
  if (Buffer.isBuffer(value)) return 'binary';
  if (typeof value === 'object') return isPlainObject(value) ? 'table' : value.constructor.name;
  return typeof value;
}

function compile(routingKey: string, args: Args): CompiledBinding {
  const mode = parseMatchMode(args);
  const withX = mode === 'all-with-x' || mode === 'any-with-x';
  const conditions: [string, unknown][] = [];
  for (const [name, value] of Object.entries(args)) {
    if (name === 'x-match') continue;
    if (!withX && name.startsWith('x-')) continue;
    conditions.push([name, value === undefined ? null : value]);
  }
  return { routingKey, args, all: mode === 'all' || mode === 'all-with-x', conditions };
}

function matches(b: CompiledBinding, headers: Args | undefined): boolean {
  for (const [name, expected] of b.conditions) {
    const present = headers !== undefined && Object.hasOwn(headers, name);
    const ok = present && (expected === null || headerValueEquals(expected, headers[name]));
    if (ok !== b.all) return ok; // first failure decides `all`, first success decides `any`
  }
  return b.all;
}

/**
 * Equality of a binding argument and a message header as RabbitMQ's Erlang `==`
 * sees them: numbers compare numerically whatever their AMQP type (number,
 * bigint, TypedNumber.value, Timestamp.seconds), strings and Buffers compare by
 * bytes, Decimals by scale and value, arrays and tables element by element.
 */
export function headerValueEquals(expected: unknown, actual: unknown): boolean {
  if (typeof expected === 'string' && typeof actual === 'string') return expected === actual;
  const en = numericValue(expected);
  const an = numericValue(actual);
  if (en !== undefined || an !== undefined) return en !== undefined && an !== undefined && numbersEqual(en, an);
  const eb = bytesOf(expected);
  const ab = bytesOf(actual);
  if (eb || ab) return eb !== undefined && ab !== undefined && eb.equals(ab);
  if (expected === actual) return true;
  if (typeof expected !== 'object' || typeof actual !== 'object' || expected === null || actual === null) {
    return false;
  }
  if (Array.isArray(expected) || Array.isArray(actual)) {
    if (!Array.isArray(expected) || !Array.isArray(actual) || expected.length !== actual.length) return false;
    return expected.every((e, i) => headerValueEquals(e, actual[i]));
  }
  if (isPlainObject(expected) && isPlainObject(actual)) {
    return sameFields(expected as Record<string, unknown>, actual as Record<string, unknown>, headerValueEquals);
  }
  return deepEqual(expected, actual); // Decimal and unknown classes: exact structure
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** The number inside a plain number, bigint, TypedNumber {type, value} or Timestamp {seconds}. */
function numericValue(v: unknown): number | bigint | undefined {
  if (typeof v === 'number' || typeof v === 'bigint') return v;
  if (typeof v !== 'object' || v === null || Array.isArray(v) || Buffer.isBuffer(v) || isPlainObject(v)) {
    return undefined;
  }
  const o = v as { value?: unknown; seconds?: unknown; scale?: unknown };
  if (o.scale !== undefined) return undefined; // Decimal: a {scale, value} pair, not a number
  const n = o.seconds !== undefined ? o.seconds : o.value;
  return typeof n === 'number' || typeof n === 'bigint' ? n : undefined;
}

function numbersEqual(a: number | bigint, b: number | bigint): boolean {
  if (typeof a === typeof b) return a === b;
  const [n, big] = (typeof a === 'number' ? [a, b] : [b, a]) as [number, bigint];
  return Number.isInteger(n) && BigInt(n) === big;
}

function bytesOf(v: unknown): Buffer | undefined {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  return Buffer.isBuffer(v) ? v : undefined;
}

export class HeadersRouter<D> implements Router<D> {
  private readonly table = new BindingTable<D>();
  private readonly compiled = new Map<D, CompiledBinding[]>();

  get size(): number {
    return this.table.size;
  }

  bind(destination: D, routingKey: string, args: Args): boolean {
    const b = compile(routingKey, args); // validates before anything changes
    if (this.table.add(destination, routingKey, args) === 'duplicate') return false;
    let list = this.compiled.get(destination);
    if (!list) {
      list = [];
      this.compiled.set(destination, list);
    }
    list.push(b);
    return true;
  }

  unbind(destination: D, routingKey: string, args: Args): boolean {
    if (this.table.remove(destination, routingKey, args) === 'missing') return false;
    const list = this.compiled.get(destination) ?? [];
    const i = list.findIndex((b) => b.routingKey === routingKey && deepEqual(b.args, args));
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.compiled.delete(destination);
    return true;
  }

  unbindAll(destination: D): number {
    this.compiled.delete(destination);
    return this.table.removeAll(destination).length;
  }

  route(_routingKey: string, headers: Args | undefined, out: Set<D>): void {
    for (const [destination, list] of this.compiled) {
      if (out.has(destination)) continue;
      for (const b of list) {
        if (matches(b, headers)) {
          out.add(destination);
          break;
        }
      }
    }
  }

  bindings(): Iterable<Binding<D>> {
    return this.table.entries();
  }
}
