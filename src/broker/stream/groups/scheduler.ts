// The clock and timers the group coordinator runs on, behind an interface so tests can drive time
// by hand (test/helpers/manual-scheduler.ts) instead of sleeping.

export interface TimerHandle {
  cancel(): void;
}

export interface Scheduler {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Runs `fn` once after `delayMs`, unless cancelled first. */
  setTimer(fn: () => void, delayMs: number): TimerHandle;
}

const TIMER_DELAY_MS_MAX = 2 ** 31 - 1;

/** Wall clock and Node timers; unref'd, so a pending session timeout never keeps the process alive. */
export const realScheduler: Scheduler = {
  now: () => Date.now(),
  setTimer(fn, delayMs) {
    // Node fires delays above 2^31-1 ms at once; nothing here needs that long in one step.
    const t = setTimeout(fn, Math.min(delayMs, TIMER_DELAY_MS_MAX)).unref();
    return { cancel: () => clearTimeout(t) };
  },
};
