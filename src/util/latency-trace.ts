// The broker's latency breakdown for developers (`wharf serve --latency-trace SECONDS`,
// WHARF_LATENCY_TRACE): per-stage histograms of where a message's time goes inside
// the process, logged every SECONDS. Off by default, and then free: every probe is
// `latencyTrace?.…` on a module binding that stays undefined, so the hot paths pay
// one load and compare, allocate nothing and read no clock. See docs/perf.md.
//
// Stages (all in ms in the report):
//   read.handle    handling one socket read: parse, route, deliver, confirm bookkeeping
//   publish.route  start of the read that carried a publish -> the message routed to its queues
//   deliver.write  a delivery's frames queued -> handed to socket.write (per delivery)
//   socket.write   time spent inside one socket.write call (the syscall, usually)
//   store.sync     a sync() call (one per confirming channel per read) -> resolved: queueing + write + fsync
//   store.write    one writev of the log's buffered bytes
//   store.fsync    one fdatasync
//   confirm        start of the read that carried a publish -> its basic.ack queued (per publish)
//   gc.minor       one young-generation (scavenge) pause
//   gc.major       one mark-compact pause (incremental marking steps are not pauses)
//   loop.delay     how late a 1 ms timer fires: what a message arriving at a random moment waits for the loop
// and, on Linux, one more line per report: how long the main thread ran and waited for
// a CPU (runnable, not running) per second, from /proc/self/task/PID/schedstat.

import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance, PerformanceObserver, type IntervalHistogram } from 'node:perf_hooks';
import { constants } from 'node:perf_hooks';
import { Histogram, type Percentiles } from './histogram.js';
import type { Logger } from './logger.js';

const LOOP_MONITOR_RESOLUTION_MS = 1;

export const TRACE_STAGES = [
  'read.handle',
  'publish.route',
  'deliver.write',
  'socket.write',
  'store.sync',
  'store.write',
  'store.fsync',
  'confirm',
  'gc.minor',
  'gc.major',
  'loop.delay',
] as const;
export type TraceStage = (typeof TRACE_STAGES)[number];

/** A stage's summary in milliseconds (count is a count). */
export type StageSummary = Percentiles;

export class LatencyTrace {
  /** Histograms in microseconds. */
  private readonly stages = new Map<TraceStage, Histogram>(TRACE_STAGES.map((s) => [s, new Histogram()]));
  /** performance.now() when the socket read being handled started; 0 outside a read. */
  readStartMs = 0;
  private loopDelay: IntervalHistogram | undefined;
  private gcObserver: PerformanceObserver | undefined;
  private timer: NodeJS.Timeout | undefined;
  private intervalMs = 0;
  /** The main thread's schedstat and performance.now() at the start of the interval. */
  private sched = mainThreadSched();
  private intervalStartMs = performance.now();

  /** Records `ms` (a duration) for `stage`, `times` times. */
  record(stage: TraceStage, ms: number, times = 1): void {
    (this.stages.get(stage) as Histogram).record(ms * 1000, times);
  }

  /** Records the time from `startMs` (a performance.now() value) to now. */
  since(stage: TraceStage, startMs: number, times = 1): void {
    this.record(stage, performance.now() - startMs, times);
  }

  /** Per stage with data: count and percentiles in ms. Folds in the event-loop monitor's samples. */
  snapshot(): Partial<Record<TraceStage, StageSummary>> {
    this.foldLoopDelay();
    const out: Partial<Record<TraceStage, StageSummary>> = {};
    for (const [stage, h] of this.stages) {
      if (h.count === 0) continue;
      const s = h.summary();
      out[stage] = { count: s.count, p50: s.p50 / 1000, p90: s.p90 / 1000, p99: s.p99 / 1000, p999: s.p999 / 1000, max: s.max / 1000 };
    }
    return out;
  }

  reset(): void {
    for (const h of this.stages.values()) h.reset();
    this.loopDelay?.reset();
    this.sched = mainThreadSched();
    this.intervalStartMs = performance.now();
  }

  /** The main thread's CPU time and run-queue wait per second since the interval started; undefined off Linux. */
  cpu(): { runMsPerSec: number; waitMsPerSec: number } | undefined {
    const now = mainThreadSched();
    const secs = (performance.now() - this.intervalStartMs) / 1000;
    if (!now || !this.sched || secs <= 0) return undefined;
    return { runMsPerSec: (now.runMs - this.sched.runMs) / secs, waitMsPerSec: (now.waitMs - this.sched.waitMs) / secs };
  }

  /** Starts the GC observer, the event-loop monitor and (intervalMs > 0) the periodic report. */
  start(logger: Logger | undefined, intervalMs: number): void {
    this.gcObserver = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const kind = (e as { detail?: { kind?: number } }).detail?.kind;
        if (kind === constants.NODE_PERFORMANCE_GC_MINOR) this.record('gc.minor', e.duration);
        else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) this.record('gc.major', e.duration);
      }
    });
    this.gcObserver.observe({ entryTypes: ['gc'] });
    this.loopDelay = monitorEventLoopDelay({ resolution: LOOP_MONITOR_RESOLUTION_MS });
    this.loopDelay.enable();
    this.intervalMs = intervalMs;
    this.reset();
    if (logger && intervalMs > 0) {
      this.timer = setInterval(() => this.report(logger), intervalMs);
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.gcObserver?.disconnect();
    this.gcObserver = undefined;
    this.loopDelay?.disable();
    this.loopDelay = undefined;
  }

  /** Logs one line per stage with data (and the main thread's CPU), then starts a new interval. */
  report(logger: Logger, final = false): void {
    const fields = { intervalSec: this.intervalMs / 1000, ...(final ? { final } : {}) };
    for (const [stage, s] of Object.entries(this.snapshot())) {
      logger.info('latency trace', { stage, ...fields, ...formatSummary(s) });
    }
    const cpu = this.cpu();
    if (cpu) logger.info('latency trace', { stage: 'cpu.main-thread', ...fields, runMsPerSec: round3(cpu.runMsPerSec), waitMsPerSec: round3(cpu.waitMsPerSec) });
    this.reset();
  }

  private foldLoopDelay(): void {
    const d = this.loopDelay;
    if (!d || d.count === 0) return;
    // The monitor keeps nanoseconds in a histogram of its own: fold its distribution in.
    foldPercentiles(this.stages.get('loop.delay') as Histogram, d);
    d.reset();
  }
}

/**
 * Adds an IntervalHistogram's distribution to `h`: each (percentile, value) step of its
 * cumulative distribution becomes that share of its count at that value.
 */
function foldPercentiles(h: Histogram, d: IntervalHistogram): void {
  let prev = 0;
  for (const [percent, ns] of d.percentiles) {
    const times = Math.round(((percent - prev) / 100) * d.count);
    // The monitor records the interval between its timer's runs; the delay is what exceeds the resolution.
    if (times > 0) h.record(Math.max(0, ns / 1000 - LOOP_MONITOR_RESOLUTION_MS * 1000), times);
    prev = percent;
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function formatSummary(s: StageSummary): Record<string, number> {
  return { count: s.count, p50: round3(s.p50), p90: round3(s.p90), p99: round3(s.p99), p999: round3(s.p999), max: round3(s.max) };
}

/** The main thread's time on a CPU and waiting for one, in ms (Linux schedstat); undefined elsewhere. */
function mainThreadSched(): { runMs: number; waitMs: number } | undefined {
  try {
    const [run, wait] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ');
    return { runMs: Number(run) / 1e6, waitMs: Number(wait) / 1e6 };
  } catch {
    return undefined;
  }
}

/** The process's trace while one is running; undefined (and every probe a no-op) otherwise. */
export let latencyTrace: LatencyTrace | undefined;
let users = 0;

/**
 * Turns the trace on for this process (brokers in one process share it); logs every
 * `intervalSec` seconds through `logger` when both are given. Returns the trace.
 */
export function startLatencyTrace(logger?: Logger, intervalSec = 0): LatencyTrace {
  users++;
  if (!latencyTrace) {
    latencyTrace = new LatencyTrace();
    latencyTrace.start(logger, intervalSec * 1000);
  }
  return latencyTrace;
}

/** Releases one startLatencyTrace(); the last one logs a final report and turns the trace off. */
export function stopLatencyTrace(logger?: Logger): void {
  if (users === 0 || --users > 0 || !latencyTrace) return;
  if (logger) latencyTrace.report(logger, true);
  latencyTrace.stop();
  latencyTrace = undefined;
}

/** The clock every probe uses (ms, sub-µs resolution, monotonic). */
export const traceNow = (): number => performance.now();
