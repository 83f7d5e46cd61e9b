// queue.declare's equivalence check (RabbitMQ's texts): a redeclare must repeat the
// queue's durable, auto-delete and exclusive flags and every x- argument it was
// declared with.

import { preconditionFailed } from '../errors.js';
import type { Args } from '../message.js';

export interface DeclaredQueue {
  readonly name: string;
  readonly vhost: string;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly exclusiveOwner: unknown;
  readonly args: Args;
}

export interface Declaration {
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly exclusive: boolean;
  readonly args: Args;
}

export function checkEquivalent(q: DeclaredQueue, d: Declaration): void {
  const where = `queue '${q.name}' in vhost '${q.vhost}'`;
  if (d.durable !== q.durable) {
    throw preconditionFailed(`inequivalent arg 'durable' for ${where}: received '${d.durable}' but current is '${q.durable}'`);
  }
  if (d.autoDelete !== q.autoDelete) {
    throw preconditionFailed(`inequivalent arg 'auto_delete' for ${where}: received '${d.autoDelete}' but current is '${q.autoDelete}'`);
  }
  if (d.exclusive !== (q.exclusiveOwner !== undefined)) {
    throw preconditionFailed(`inequivalent arg 'exclusive' for ${where}: received '${d.exclusive}' but current is '${!d.exclusive}'`);
  }
  for (const key of new Set([...Object.keys(d.args), ...Object.keys(q.args)])) {
    if (!key.startsWith('x-')) continue;
    if (!sameArg(d.args[key], q.args[key])) {
      throw preconditionFailed(`inequivalent arg '${key}' for ${where}: received ${describeArg(d.args[key])} but current is ${describeArg(q.args[key])}`);
    }
  }
}

function sameArg(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return false;
  if (typeof a === 'object' && typeof b === 'object') return toJson(a) === toJson(b);
  return Number(a) === Number(b) && typeof a !== 'string' && typeof b !== 'string';
}

function describeArg(v: unknown): string {
  if (v === undefined) return 'none';
  if (typeof v === 'string') return `the value '${v}' of type 'longstr'`;
  if (typeof v === 'number' || typeof v === 'bigint') return `the value '${v}' of type 'long'`;
  if (typeof v === 'boolean') return `the value '${v}' of type 'bool'`;
  return `the value '${toJson(v)}'`;
}

/** JSON for comparing and printing argument values; JSON.stringify alone throws on bigint. */
function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
}
