// A clock and timers that only move when a test says so: tests of timeouts (sessions, rebalances,
// retention) run in no real time and never depend on how fast the machine is.

import type { Scheduler, TimerHandle } from '../../src/broker/stream/groups/scheduler.js';

interface Pending {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

export class ManualScheduler implements Scheduler {
  private nowMs: number;
  private seq = 0;
  private readonly timers = new Map<number, Pending>();

  constructor(startMs = 1_700_000_000_000) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  setTimer(fn: () => void, delayMs: number): TimerHandle {
    const id = this.seq++;
    this.timers.set(id, { at: this.nowMs + Math.max(0, delayMs), seq: id, fn });
    return { cancel: () => this.timers.delete(id) };
  }

  /**
   * Moves the clock forward, firing every timer that falls due on the way in time order (ties in
   * the order they were set), including timers those callbacks set within the window.
   */
  advance(ms: number): void {
    const target = this.nowMs + ms;
    for (;;) {
      let next: [number, Pending] | undefined;
      for (const entry of this.timers) {
        const t = entry[1];
        if (t.at <= target && (!next || t.at < next[1].at || (t.at === next[1].at && t.seq < next[1].seq))) next = entry;
      }
      if (!next) break;
      this.timers.delete(next[0]);
      this.nowMs = Math.max(this.nowMs, next[1].at);
      next[1].fn();
    }
    this.nowMs = target;
  }

  /** Timers not yet fired or cancelled. */
  get pending(): number {
    return this.timers.size;
  }
}

/** Lets promise callbacks and setImmediate work (the memory log's I/O) run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}
