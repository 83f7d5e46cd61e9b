// Publisher flow control's parts (Queue.flowWait says when): the gate publishers wait
// at, and whether the event loop is busy, sampled when asked (no timer).

import { performance } from 'node:perf_hooks';

/** Process-wide count of publisher flow-control pauses (a queue's gate closing), for the metrics endpoint. */
export const flowControl = { pauses: 0 };

/** A publisher held back by flow control reads again after this long at most, whatever the queue does. */
const FLOW_WAIT_MAX_MS = 100;
const FLOW_BUSY_UTILIZATION = 0.9;
const FLOW_BUSY_WINDOW_MS = 100;

/** A queue's gate: closed, it hands publishers a promise that opens on the next delivery or after FLOW_WAIT_MAX_MS. */
export class FlowGate {
  private gate: { readonly promise: Promise<void>; readonly open: () => void; readonly timer: NodeJS.Timeout } | undefined;

  /** The promise to wait on while the gate is closed. */
  get waiting(): Promise<void> | undefined {
    return this.gate?.promise;
  }

  close(): Promise<void> {
    if (this.gate) return this.gate.promise;
    let open!: () => void;
    const promise = new Promise<void>((resolve) => (open = resolve));
    const timer = setTimeout(() => this.open(), FLOW_WAIT_MAX_MS);
    timer.unref();
    this.gate = { promise, open, timer };
    flowControl.pauses++;
    return promise;
  }

  open(): void {
    const gate = this.gate;
    if (!gate) return;
    this.gate = undefined;
    clearTimeout(gate.timer);
    gate.open();
  }
}

/** Event-loop utilization over the last FLOW_BUSY_WINDOW_MS or more, sampled when asked (no timer). */
let eluMark = performance.eventLoopUtilization();
let eluCheckedAt = 0;
let eluBusy = false;

export function eventLoopBusy(): boolean {
  const now = Date.now();
  if (now - eluCheckedAt >= FLOW_BUSY_WINDOW_MS) {
    const mark = performance.eventLoopUtilization();
    eluBusy = performance.eventLoopUtilization(mark, eluMark).utilization >= FLOW_BUSY_UTILIZATION;
    eluMark = mark;
    eluCheckedAt = now;
  }
  return eluBusy;
}
