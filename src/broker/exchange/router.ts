// What every exchange type implements: a set of bindings and a pure, in-memory
// routing function over them. Nothing here does I/O; routing runs on every
// publish, so each type keeps an index built for its own matching rule.

import type { Args } from '../message.js';

export type { Args };

export interface Binding<D> {
  readonly destination: D;
  readonly routingKey: string;
  readonly args: Args;
}

export interface Router<D> {
  /** Add a binding; returns false if an identical binding (same destination, routing key, and deep-equal args) exists. */
  bind(destination: D, routingKey: string, args: Args): boolean;
  /** Remove a binding; returns false if there was no identical binding. */
  unbind(destination: D, routingKey: string, args: Args): boolean;
  /** Remove every binding to destination (queue or exchange deleted); returns how many. */
  unbindAll(destination: D): number;
  /**
   * Add every matching destination to out (a Set, so each destination once). headers = message
   * headers (may be undefined); body, when given, for bindings filtering on a JSON body.
   */
  route(routingKey: string, headers: Args | undefined, out: Set<D>, body?: Buffer): void;
  bindings(): Iterable<Binding<D>>;
  readonly size: number;
}

/**
 * Exact structural equality of two decoded field-table values, used for binding
 * identity (AMQP 0-9-1 §3.1.3.3: a binding is identified by exchange, queue,
 * routing key and arguments). Type-sensitive: 1 and 1n differ, a string and a
 * Buffer differ; key order of tables does not matter (RabbitMQ sorts them).
 * Class instances (TypedNumber, Timestamp, Decimal...) are equal when they share
 * a prototype and their own fields are equal.
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) && Number.isNaN(b);
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Buffer.isBuffer(a) || Buffer.isBuffer(b)) {
    return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (a instanceof Date) return a.getTime() === (b as Date).getTime();
  return sameFields(a as Record<string, unknown>, b as Record<string, unknown>, deepEqual);
}

/** Own enumerable fields of two objects, compared pairwise with eq. */
export function sameFields(
  a: Record<string, unknown>,
  b: Record<string, unknown>,
  eq: (x: unknown, y: unknown) => boolean,
): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const k of keys) {
    if (!Object.hasOwn(b, k) || !eq(a[k], b[k])) return false;
  }
  return true;
}

/**
 * The bindings of one exchange, grouped by destination then routing key, with
 * deduplication on deep-equal args. Each router keeps its own routing index
 * next to it and asks this table whether a (destination, key) pair is new or
 * gone, so the index holds each pair once however many args variants exist.
 */
export class BindingTable<D> {
  private readonly byDestination = new Map<D, Map<string, Args[]>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Returns 'duplicate', or how many bindings this (destination, key) pair now has. */
  add(destination: D, routingKey: string, args: Args): number | 'duplicate' {
    let byKey = this.byDestination.get(destination);
    if (!byKey) {
      byKey = new Map();
      this.byDestination.set(destination, byKey);
    }
    let variants = byKey.get(routingKey);
    if (!variants) {
      variants = [];
      byKey.set(routingKey, variants);
    }
    if (variants.some((v) => deepEqual(v, args))) return 'duplicate';
    variants.push(args);
    this.count++;
    return variants.length;
  }

  /** Returns 'missing', or how many bindings this (destination, key) pair has left. */
  remove(destination: D, routingKey: string, args: Args): number | 'missing' {
    const byKey = this.byDestination.get(destination);
    const variants = byKey?.get(routingKey);
    if (!byKey || !variants) return 'missing';
    const i = variants.findIndex((v) => deepEqual(v, args));
    if (i < 0) return 'missing';
    variants.splice(i, 1);
    this.count--;
    if (variants.length === 0) {
      byKey.delete(routingKey);
      if (byKey.size === 0) this.byDestination.delete(destination);
    }
    return variants.length;
  }

  /** Removes every binding to destination; returns the removed ones. */
  removeAll(destination: D): Binding<D>[] {
    const byKey = this.byDestination.get(destination);
    if (!byKey) return [];
    this.byDestination.delete(destination);
    const removed: Binding<D>[] = [];
    for (const [routingKey, variants] of byKey) {
      for (const args of variants) removed.push({ destination, routingKey, args });
    }
    this.count -= removed.length;
    return removed;
  }

  destinations(): IterableIterator<D> {
    return this.byDestination.keys();
  }

  *entries(): IterableIterator<Binding<D>> {
    for (const [destination, byKey] of this.byDestination) {
      for (const [routingKey, variants] of byKey) {
        for (const args of variants) yield { destination, routingKey, args };
      }
    }
  }
}
