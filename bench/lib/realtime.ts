// --realtime: runs a latency workload's broker and driver under SCHED_FIFO
// (chrt -f), so that other processes on a shared machine cannot keep them off
// a CPU and the paced workloads measure the software rather than the machine's
// other load. Only for workloads that leave CPU to spare (e, e2): a flat-out
// run at real-time priority would starve everything else for its duration.
// Linux only, and it needs the right to set real-time priorities (root).

import { spawnSync } from 'node:child_process';

/** SCHED_FIFO priority: above every normal process, far below the kernel's own real-time threads (50+). */
export const REALTIME_PRIORITY = 20;

/** The argv prefix that starts a program under SCHED_FIFO (chrt execs it: the pid stays the program's). */
export function realtimePrefix(): string[] {
  return ['chrt', '-f', String(REALTIME_PRIORITY)];
}

/** Moves every thread of a running process to SCHED_FIFO; throws with chrt's words if it cannot. */
export function makeRealtime(pid: number): void {
  const r = spawnSync('chrt', ['-a', '-f', '-p', String(REALTIME_PRIORITY), String(pid)], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(`--realtime: chrt could not make process ${pid} real-time: ${(r.error?.message ?? r.stderr).trim()}`);
  }
}
