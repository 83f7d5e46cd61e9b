// Reads a process's memory and CPU from /proc (Linux), samples them every
// 250 ms while a workload runs, and finds a process among another's
// descendants (RabbitMQ's beam.smp under its start script).

import { readFileSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';

const SAMPLE_INTERVAL_MS = 250;
const CLOCK_TICKS_PER_SEC = 100; // USER_HZ on Linux

/** Resident set size in bytes, or undefined if the process is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

interface Stat {
  readonly comm: string;
  readonly ppid: number;
  /** user + system CPU time in ms. */
  readonly cpuMs: number;
}

function stat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm is in parentheses and may contain spaces; fields after it are space separated.
    const close = text.lastIndexOf(')');
    const comm = text.slice(text.indexOf('(') + 1, close);
    const f = text.slice(close + 2).split(' ');
    // After comm: state(0) ppid(1) ... utime(11) stime(12).
    return { comm, ppid: Number(f[1]), cpuMs: ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS_PER_SEC };
  } catch {
    return undefined;
  }
}

/** user + system CPU time of a process in ms, or undefined if it is gone. */
export function cpuMs(pid: number): number | undefined {
  return stat(pid)?.cpuMs;
}

/** The first descendant of `rootPid` (or rootPid itself) whose command name is `comm`. */
export function findDescendant(rootPid: number, comm: string): number | undefined {
  const parents = new Map<number, number>();
  const names = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = stat(Number(entry));
    if (s === undefined) continue;
    parents.set(Number(entry), s.ppid);
    names.set(Number(entry), s.comm);
  }
  for (const [pid, name] of names) {
    if (name !== comm) continue;
    for (let p: number | undefined = pid; p !== undefined && p > 1; p = parents.get(p)) {
      if (p === rootPid) return pid;
    }
  }
  return undefined;
}

/**
 * Time the process's threads spent runnable but waiting for a CPU, in ms, summed over
 * its threads (/proc/PID/task/TID/schedstat, second field, ns); undefined where
 * schedstat is missing. On a shared 2-core machine this is the noise in a latency run.
 */
export function runqueueWaitMs(pid: number): number | undefined {
  let total = 0;
  let seen = false;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const f = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ');
        total += Number(f[1]) / 1e6;
        seen = true;
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    return undefined;
  }
  return seen ? total : undefined;
}

export interface ResourceSummary {
  /** Peak VmRSS during the sampling, bytes. */
  readonly peakRssBytes: number;
  /** VmRSS at the first sample (before the workload), bytes. */
  readonly firstRssBytes: number;
  /** VmRSS at the last sample, bytes. */
  readonly lastRssBytes: number;
  /** Average CPU over the sampling, in percent of one core. */
  readonly cpuPercent: number;
  /** Run-queue wait of all its threads per second of sampling (see runqueueWaitMs); NaN if unknown. */
  readonly runqueueWaitMsPerSec: number;
  /** The machine's 1-minute load average at the end of the sampling. */
  readonly loadAverage: number;
  readonly samples: number;
}

/** Samples `pid` every 250 ms until stop(). */
export class ResourceSampler {
  private readonly timer: NodeJS.Timeout;
  private readonly startCpuMs: number;
  private readonly startWaitMs: number | undefined;
  private readonly startedMs = performance.now();
  private peakRssBytes = 0;
  private firstRssBytes = 0;
  private lastRssBytes = 0;
  private samples = 0;

  constructor(private readonly pid: number) {
    this.startCpuMs = stat(pid)?.cpuMs ?? 0;
    this.startWaitMs = runqueueWaitMs(pid);
    this.sample();
    this.timer = setInterval(() => this.sample(), SAMPLE_INTERVAL_MS);
  }

  private sample(): void {
    const rss = rssBytes(this.pid);
    if (rss === undefined) return;
    if (this.samples++ === 0) this.firstRssBytes = rss;
    this.lastRssBytes = rss;
    if (rss > this.peakRssBytes) this.peakRssBytes = rss;
  }

  stop(): ResourceSummary {
    clearInterval(this.timer);
    this.sample();
    const elapsedMs = performance.now() - this.startedMs;
    const cpuMs = (stat(this.pid)?.cpuMs ?? this.startCpuMs) - this.startCpuMs;
    const waitMs = this.startWaitMs === undefined ? undefined : (runqueueWaitMs(this.pid) ?? NaN) - this.startWaitMs;
    return {
      peakRssBytes: this.peakRssBytes,
      firstRssBytes: this.firstRssBytes,
      lastRssBytes: this.lastRssBytes,
      cpuPercent: elapsedMs > 0 ? (cpuMs / elapsedMs) * 100 : 0,
      runqueueWaitMsPerSec: waitMs !== undefined && elapsedMs > 0 ? (waitMs / elapsedMs) * 1000 : NaN,
      loadAverage: loadavg()[0],
      samples: this.samples,
    };
  }
}
