// Counters, the latency histogram and the text `wharf perf` prints: progress
// lines, the human summary and the final JSON line (a contract: bench/compare
// parses it). Latency is recorded in microseconds in an HDR histogram
// (hdr-histogram-js: 3 significant digits over 1 µs .. 1 h, constant memory,
// the same algorithm PerfTest and lavinmqperf's peers report with).

import * as hdr from 'hdr-histogram-js';
import { reportedConfig, type PerfOptions } from './options.js';

const LATENCY_MAX_US = 3_600_000_000;

function newHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: LATENCY_MAX_US, numberOfSignificantValueDigits: 3 });
}

/** The clock every timestamp uses: ms since the epoch with sub-ms resolution, the same for all roles on a host. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * A latency distribution in microseconds: the current progress interval and the run's total
 * (the interval is folded into the total at each progress tick and at the end).
 */
export class LatencyRecorder {
  private readonly total = newHistogram();
  private readonly interval = newHistogram();

  record(ms: number, count = 1): void {
    const us = Math.round(ms * 1000);
    const v = us < 0 ? 0 : us > LATENCY_MAX_US ? LATENCY_MAX_US : us;
    if (count === 1) this.interval.recordValue(v);
    else this.interval.recordValueWithCount(v, count);
  }

  /** The current interval's percentile in ms, or undefined if it is empty. */
  intervalMs(percent: number): number | undefined {
    return this.interval.totalCount === 0 ? undefined : this.interval.getValueAtPercentile(percent) / 1000;
  }

  /** p50 and p99 of the interval since the last call, in ms (undefined with no samples); starts the next interval. */
  tick(): { p50Ms: number | undefined; p99Ms: number | undefined } {
    const out = { p50Ms: this.intervalMs(50), p99Ms: this.intervalMs(99) };
    this.fold();
    return out;
  }

  fold(): void {
    if (this.interval.totalCount === 0) return;
    this.total.add(this.interval);
    this.interval.reset();
  }

  reset(): void {
    this.total.reset();
    this.interval.reset();
  }

  summary(): LatencySummary {
    this.fold();
    const h = this.total;
    if (h.totalCount === 0) return { p50: 0, p95: 0, p99: 0, p999: 0, max: 0 };
    // A percentile is its bucket's highest equivalent value (within 0.1 %); the
    // max is exact, so percentiles are capped by it and never exceed it.
    const maxUs = h.maxValue;
    const ms = (us: number): number => round3(Math.min(us, maxUs) / 1000);
    return {
      p50: ms(h.getValueAtPercentile(50)),
      p95: ms(h.getValueAtPercentile(95)),
      p99: ms(h.getValueAtPercentile(99)),
      p999: ms(h.getValueAtPercentile(99.9)),
      max: ms(maxUs),
    };
  }
}

export class Stats {
  published = 0;
  confirmed = 0;
  nacked = 0;
  consumed = 0;
  returned = 0;
  /** nowMs() of the run's start (see begin()) and of the last event of each kind (0 = none yet). */
  startMs = nowMs();
  lastPublishMs = 0;
  lastConfirmMs = 0;
  lastConsumeMs = 0;
  /** Publish to delivery (end to end). */
  private readonly delivery = new LatencyRecorder();
  /** Publish to its confirm (ack or nack) arriving. */
  private readonly confirm = new LatencyRecorder();
  private intervalStartMs = this.startMs;
  private intervalPublished = 0;
  private intervalConsumed = 0;

  /** Starts the measured window: rates, progress and duration count from here. */
  begin(): void {
    this.startMs = this.intervalStartMs = nowMs();
  }

  /**
   * Ends the warm-up: everything counted so far is forgotten and the measured window
   * starts now. Messages in flight across the boundary count where they arrive.
   */
  restart(now: number): void {
    this.published = this.confirmed = this.nacked = this.consumed = this.returned = 0;
    this.lastPublishMs = this.lastConfirmMs = this.lastConsumeMs = 0;
    this.delivery.reset();
    this.confirm.reset();
    this.startMs = this.intervalStartMs = now;
    this.intervalPublished = this.intervalConsumed = 0;
  }

  /** Publish to delivery, in ms. */
  recordLatency(ms: number): void {
    this.delivery.record(ms);
  }

  /** Publish to confirm, in ms. */
  recordConfirmLatency(ms: number): void {
    this.confirm.record(ms);
  }

  /** The last interval's rates and latency; starts the next interval. */
  tick(now: number): ProgressSample {
    const secs = Math.max(now - this.intervalStartMs, 1) / 1000;
    const sample: ProgressSample = {
      elapsedSec: (now - this.startMs) / 1000,
      publishedPerSec: (this.published - this.intervalPublished) / secs,
      consumedPerSec: (this.consumed - this.intervalConsumed) / secs,
      p50Ms: this.delivery.intervalMs(50),
      p99Ms: this.delivery.intervalMs(99),
      confirmP99Ms: this.confirm.intervalMs(99),
    };
    this.delivery.fold();
    this.confirm.fold();
    this.intervalStartMs = now;
    this.intervalPublished = this.published;
    this.intervalConsumed = this.consumed;
    return sample;
  }

  latency(): LatencySummary {
    return this.delivery.summary();
  }

  confirmLatency(): LatencySummary {
    return this.confirm.summary();
  }
}

export interface ProgressSample {
  elapsedSec: number;
  publishedPerSec: number;
  consumedPerSec: number;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  /** Publish-to-confirm p99 of the interval; undefined without confirms. */
  confirmP99Ms?: number | undefined;
}

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

export interface CpuSummary {
  userMs: number;
  systemMs: number;
  percentOfOneCore: number;
}

/** The final JSON line's object; keys in the documented order. */
export interface PerfResult {
  published: number;
  consumed: number;
  publishRate: number;
  consumeRate: number;
  confirmRate: number;
  durationMs: number;
  latencyMs: LatencySummary;
  cpu: CpuSummary;
  config: Record<string, unknown>;
  /** Beyond the contract's fields: confirms received, nacks among them, and returned messages. */
  confirmed: number;
  nacked: number;
  returned: number;
  /** Publish to confirm (ack or nack), in publish order per publisher; zeros without confirms. */
  confirmLatencyMs: LatencySummary;
}

/** Messages per second over the window from the run's start to the last such event. */
function rate(count: number, startMs: number, lastMs: number): number {
  if (count === 0 || lastMs <= startMs) return 0;
  return Math.round((count * 1000) / (lastMs - startMs));
}

export function buildResult(stats: Stats, endMs: number, cpu: NodeJS.CpuUsage, options: PerfOptions): PerfResult {
  const durationMs = Math.max(endMs - stats.startMs, 0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return {
    published: stats.published,
    consumed: stats.consumed,
    publishRate: rate(stats.published, stats.startMs, stats.lastPublishMs),
    consumeRate: rate(stats.consumed, stats.startMs, stats.lastConsumeMs),
    confirmRate: rate(stats.confirmed, stats.startMs, stats.lastConfirmMs),
    durationMs: round3(durationMs),
    latencyMs: stats.latency(),
    cpu: {
      userMs: round3(cpu.user / 1000),
      systemMs: round3(cpu.system / 1000),
      percentOfOneCore: durationMs > 0 ? round3((cpuMs / durationMs) * 100) : 0,
    },
    config: reportedConfig(options),
    confirmed: stats.confirmed,
    nacked: stats.nacked,
    returned: stats.returned,
    confirmLatencyMs: stats.confirmLatency(),
  };
}

export function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const millis = (n: number | undefined): string => (n === undefined ? '-' : n.toFixed(3));

/** "time 3.0 s, published 51,234 msg/s, consumed 51,100 msg/s, latency p50 0.412 ms, p99 1.830 ms" */
export function progressLine(s: ProgressSample): string {
  return (
    `time ${s.elapsedSec.toFixed(1)} s, published ${int(s.publishedPerSec)} msg/s, consumed ${int(s.consumedPerSec)} msg/s, ` +
    `latency p50 ${millis(s.p50Ms)} ms, p99 ${millis(s.p99Ms)} ms` +
    (s.confirmP99Ms === undefined ? '' : `, confirm p99 ${millis(s.confirmP99Ms)} ms`)
  );
}

export function summaryLines(r: PerfResult): string[] {
  const l = r.latencyMs;
  const c = r.confirmLatencyMs;
  const lines = [
    `summary: ${(r.durationMs / 1000).toFixed(1)} s`,
    `  published ${int(r.published)} (${int(r.publishRate)} msg/s)` +
      (r.confirmed > 0 ? `, confirmed ${int(r.confirmed)} (${int(r.confirmRate)} msg/s)` : '') +
      (r.nacked > 0 ? `, nacked ${int(r.nacked)}` : '') +
      (r.returned > 0 ? `, returned ${int(r.returned)}` : ''),
    `  consumed ${int(r.consumed)} (${int(r.consumeRate)} msg/s)`,
    `  latency ms: p50 ${l.p50}, p95 ${l.p95}, p99 ${l.p99}, p99.9 ${l.p999}, max ${l.max}`,
    ...(r.confirmed > 0 ? [`  confirm latency ms: p50 ${c.p50}, p95 ${c.p95}, p99 ${c.p99}, p99.9 ${c.p999}, max ${c.max} (publish to confirm)`] : []),
    `  perf's own cpu: ${r.cpu.percentOfOneCore.toFixed(1)}% of one core (user ${int(r.cpu.userMs)} ms, system ${int(r.cpu.systemMs)} ms)`,
  ];
  return lines;
}

export function jsonLine(r: PerfResult): string {
  return JSON.stringify(r);
}
