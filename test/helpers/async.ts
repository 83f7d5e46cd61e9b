// Small async utilities whose waits always end: a failing test fails with a
// message instead of hanging the run. Timeouts are generous guards, never
// assertions about speed.

import type { EventEmitter } from 'node:events';

/** Default guard for anything a test waits on. */
export const WAIT_MS = 10_000;

/** Per-test options: a test that hangs fails after this long. */
export const TEST_OPTS = { timeout: 30_000 } as const;

/** Rejects with a message naming `what` if `promise` has not settled within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

/** Resolves with the event's arguments the next time `emitter` emits `event`. */
export function once<T extends unknown[] = unknown[]>(emitter: EventEmitter, event: string, ms = WAIT_MS): Promise<T> {
  let listener: ((...args: unknown[]) => void) | undefined;
  const fired = new Promise<T>((resolve) => {
    listener = (...args: unknown[]) => resolve(args as T);
    emitter.once(event, listener);
  });
  return withTimeout(fired, ms, `event '${event}'`).finally(() => {
    if (listener) emitter.removeListener(event, listener);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Time given to a broker to do something it should NOT do (deliver past the
 * prefetch limit, redeliver an acked message) before the test checks that it
 * did not. Only makes a broken broker fail more reliably; never asserted on.
 */
export const SETTLE_MS = 300;

/** Polls `check` until it returns true; fails after `ms` with `what`. */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await sleep(10);
  }
}

/**
 * Gathers items (messages) pushed from a callback, and lets a test wait until
 * a given number have arrived.
 */
export class Collector<T> {
  readonly items: T[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];

  push = (item: T): void => {
    this.items.push(item);
    this.waiters = this.waiters.filter((w) => {
      if (this.items.length < w.n) return true;
      w.resolve();
      return false;
    });
  };

  get length(): number {
    return this.items.length;
  }

  /** Resolves with a copy of all items once at least `n` have arrived. */
  async waitFor(n: number, ms = WAIT_MS): Promise<T[]> {
    if (this.items.length < n) {
      const reached = new Promise<void>((resolve) => this.waiters.push({ n, resolve }));
      await withTimeout(reached, ms, `${n} items (have ${this.items.length})`);
    }
    return [...this.items];
  }
}

let nameCounter = 0;

/** A name unique across processes and runs (suites share a reference broker). */
export function uniqueName(prefix = 'q'): string {
  nameCounter += 1;
  return `${prefix}-${process.pid}-${nameCounter}-${Math.random().toString(36).slice(2, 8)}`;
}
