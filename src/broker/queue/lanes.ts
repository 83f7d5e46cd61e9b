// A queue's ready messages: one lane per priority (a single lane for plain
// queues). Each lane is a FIFO of new entries plus a heap of requeued ones,
// merged by message id so a requeued message returns to its original place.

import { Deque } from '../../util/deque.js';
import { MinHeap } from '../../util/heap.js';
import type { QueueEntry } from '../message.js';

class Lane {
  readonly ready = new Deque<QueueEntry>();
  readonly requeued = new MinHeap<QueueEntry>((e) => e.msg.id);

  get length(): number {
    return this.ready.length + this.requeued.length;
  }

  head(): QueueEntry | undefined {
    const a = this.requeued.peek();
    const b = this.ready.peek();
    if (!a) return b;
    if (!b) return a;
    return a.msg.id < b.msg.id ? a : b;
  }

  shift(): QueueEntry | undefined {
    const a = this.requeued.peek();
    const b = this.ready.peek();
    return a && (!b || a.msg.id < b.msg.id) ? this.requeued.pop() : this.ready.shift();
  }
}

export class Lanes {
  private readonly lanes: (Lane | undefined)[];
  /** No lane above this one holds anything. */
  private top = 0;
  private count = 0;

  constructor(readonly maxPriority: number) {
    this.lanes = new Array<Lane | undefined>(maxPriority + 1);
  }

  get length(): number {
    return this.count;
  }

  /** RabbitMQ: priorities above the maximum count as the maximum. */
  laneOf(priority: number): number {
    return priority > this.maxPriority ? this.maxPriority : priority;
  }

  push(entry: QueueEntry): void {
    this.lane(this.laneOf(entry.msg.priority)).ready.push(entry);
    this.count++;
  }

  /** A delivered entry came back: to its place by id. */
  requeue(entry: QueueEntry): void {
    this.lane(this.laneOf(entry.msg.priority)).requeued.push(entry);
    this.count++;
  }

  /** The next entry to deliver: highest priority first, then oldest. */
  head(): QueueEntry | undefined {
    const lane = this.topLane();
    return lane?.head();
  }

  shift(): QueueEntry | undefined {
    const lane = this.topLane();
    const e = lane?.shift();
    if (e) this.count--;
    return e;
  }

  /** Undo the push of the newest entry of its lane (x-message-ttl 0 with nobody to take it). */
  popNewest(entry: QueueEntry): boolean {
    const lane = this.lanes[this.laneOf(entry.msg.priority)];
    if (!lane || lane.ready.peekLast() !== entry) return false;
    lane.ready.pop();
    this.count--;
    return true;
  }

  /** Each non-empty lane's head (for expiry: only heads are checked, never the whole queue). */
  *heads(): IterableIterator<{ head: QueueEntry; shift: () => void }> {
    for (let p = this.top; p >= 0; p--) {
      const lane = this.lanes[p];
      if (!lane) continue;
      for (let h = lane.head(); h; h = lane.head()) {
        let taken = false;
        yield {
          head: h,
          shift: () => {
            lane.shift();
            this.count--;
            taken = true;
          },
        };
        if (!taken) break;
      }
    }
  }

  /** Entries in delivery order, lane by lane (requeued ones of a lane first). */
  *[Symbol.iterator](): IterableIterator<QueueEntry> {
    for (let p = this.top; p >= 0; p--) {
      const lane = this.lanes[p];
      if (!lane) continue;
      yield* lane.requeued;
      yield* lane.ready;
    }
  }

  /**
   * Entries in delivery order (what shift() would return one by one), without taking
   * them: per lane, the requeued ones (sorted by id; usually few) merged with the FIFO.
   */
  *ordered(): IterableIterator<QueueEntry> {
    for (let p = this.top; p >= 0; p--) {
      const lane = this.lanes[p];
      if (!lane || lane.length === 0) continue;
      const back = [...lane.requeued].sort((a, b) => a.msg.id - b.msg.id);
      let i = 0;
      for (const e of lane.ready) {
        while (i < back.length && back[i].msg.id < e.msg.id) yield back[i++];
        yield e;
      }
      while (i < back.length) yield back[i++];
    }
  }

  /** Takes everything out (purge, delete). */
  drain(): QueueEntry[] {
    const out: QueueEntry[] = [];
    for (let p = this.top; p >= 0; p--) {
      const lane = this.lanes[p];
      if (!lane) continue;
      out.push(...lane.requeued.drain());
      for (let e = lane.ready.shift(); e; e = lane.ready.shift()) out.push(e);
    }
    this.count = 0;
    this.top = 0;
    return out;
  }

  private lane(p: number): Lane {
    let lane = this.lanes[p];
    if (!lane) this.lanes[p] = lane = new Lane();
    if (p > this.top) this.top = p;
    return lane;
  }

  private topLane(): Lane | undefined {
    if (this.count === 0) return undefined;
    for (;;) {
      const lane = this.lanes[this.top];
      if (lane && lane.length > 0) return lane;
      this.top--;
    }
  }
}
