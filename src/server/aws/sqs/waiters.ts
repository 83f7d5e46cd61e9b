// Long polling (ReceiveMessage with WaitTimeSeconds) without polling: a receive that
// found its queue empty waits in that queue's line of waiters, first come first
// served, and the queue wakes the line (Queue.watchReady) when a message may be ready:
// an SQS or AMQP publish, a lease running out, a requeue, a delayed message's release.
// The head waiter takes what is there (up to its MaxNumberOfMessages); if it got
// something the next one tries, until the queue is empty or the line is.
//
// A waiter costs one small object, one timer and one promise; the queue is watched only
// while its line has someone in it. A waiter whose HTTP request went away leaves the
// line at once, and a message taken for it in the meantime goes straight back, unseen.
// A deleted queue ends its waiters with QueueDoesNotExist, what a receive on it gets.

import type { Queue } from '../../../broker/queue/queue.js';
import type { Received } from './receiver.js';

/** The HTTP request behind a waiting call: gone once its client disconnected. */
export interface RequestLife {
  gone(): boolean;
  /** `fn` runs when the request's connection closes; once it was answered, a call must do nothing. */
  onGone(fn: () => void): void;
  /** The whole answer was handed to the connection. */
  answered(): boolean;
}

/** What the waiters need of the receiver: taking with leases, and giving back unseen. */
export interface Taker {
  receive(queue: string, max: number, visibilityS: number): Promise<Received[]>;
  giveBack(got: readonly Received[]): void;
}

interface Waiter {
  readonly max: number;
  readonly visibilityS: number;
  readonly line: Line;
  readonly life: RequestLife | undefined;
  readonly resolve: (got: Received[]) => void;
  readonly reject: (err: unknown) => void;
  timer: NodeJS.Timeout | undefined;
  done: boolean;
}

/** One queue's waiters in arrival order (a Set keeps insertion order and removes in O(1)). */
interface Line {
  readonly queue: Queue;
  readonly waiters: Set<Waiter>;
  readonly watcher: (q: Queue) => void;
  /** A wake is queued (coalesces the enqueues of one batch into one pass). */
  scheduled: boolean;
  /** A pass is taking messages (one at a time per queue, so the order holds). */
  serving: boolean;
  /** Woken again during a pass: look once more before stopping. */
  again: boolean;
}

export class SqsWaiters {
  private readonly lines = new Map<Queue, Line>();
  private waiting = 0;

  constructor(
    private readonly taker: Taker,
    private readonly queueGone: () => Error,
  ) {}

  /** Waits up to `waitMs` for messages of `queue`; [] when none came. */
  wait(queue: Queue, max: number, visibilityS: number, waitMs: number, life?: RequestLife): Promise<Received[]> {
    if (queue.deleted) return Promise.reject(this.queueGone());
    if (life?.gone()) return Promise.resolve([]);
    const line = this.lineOf(queue);
    return new Promise<Received[]>((resolve, reject) => {
      const w: Waiter = { max, visibilityS, line, life, resolve, reject, timer: undefined, done: false };
      // One closure for both ends: the wait is over, or the client is gone.
      const end = (): void => this.finish(w, []);
      w.timer = setTimeout(end, waitMs);
      line.waiters.add(w);
      this.waiting++;
      life?.onGone(end);
      // A message may have arrived between the caller's empty receive and now.
      if (queue.messageCount > 0) this.wake(line);
    });
  }

  /** Calls waiting now, across queues (for metrics and tests). */
  get size(): number {
    return this.waiting;
  }

  /** The listener closes: every waiter is answered with no messages. */
  close(): void {
    for (const line of [...this.lines.values()]) for (const w of [...line.waiters]) this.finish(w, []);
  }

  private lineOf(queue: Queue): Line {
    let line = this.lines.get(queue);
    if (!line) {
      const created: Line = { queue, waiters: new Set(), watcher: () => this.wake(created), scheduled: false, serving: false, again: false };
      line = created;
      this.lines.set(queue, line);
      queue.watchReady(line.watcher);
    }
    return line;
  }

  /** The queue may have messages (or is gone): serve the line once the current call stack is done. */
  private wake(line: Line): void {
    if (line.scheduled) return;
    line.scheduled = true;
    queueMicrotask(() => {
      line.scheduled = false;
      void this.serve(line);
    });
  }

  private async serve(line: Line): Promise<void> {
    if (line.serving) {
      line.again = true;
      return;
    }
    line.serving = true;
    try {
      for (;;) {
        line.again = false;
        if (line.queue.deleted) {
          this.fail(line);
          return;
        }
        const w = first(line.waiters);
        if (!w) return;
        let got: Received[];
        try {
          got = await this.taker.receive(line.queue.name, w.max, w.visibilityS);
        } catch (err) {
          if (line.queue.deleted) this.fail(line);
          else this.finish(w, [], err);
          continue;
        }
        if (got.length === 0) {
          if (line.again) continue;
          return;
        }
        // Its request went away while the messages were being taken: they go back unseen.
        if (w.done || w.life?.gone() === true) {
          this.taker.giveBack(got);
          this.finish(w, []);
          continue;
        }
        this.finish(w, got);
      }
    } finally {
      line.serving = false;
    }
  }

  /** The queue was deleted: everyone in its line gets QueueDoesNotExist. */
  private fail(line: Line): void {
    for (const w of [...line.waiters]) this.finish(w, [], this.queueGone());
  }

  private finish(w: Waiter, got: Received[], err?: unknown): void {
    if (w.done) return;
    w.done = true;
    clearTimeout(w.timer);
    const line = w.line;
    line.waiters.delete(w);
    this.waiting--;
    if (line.waiters.size === 0 && this.lines.get(line.queue) === line) {
      line.queue.unwatchReady(line.watcher);
      this.lines.delete(line.queue);
    }
    if (err !== undefined) w.reject(err);
    else w.resolve(got);
  }
}

function first<T>(set: Set<T>): T | undefined {
  for (const x of set) return x;
  return undefined;
}
