// Message groups (queue argument x-message-group-header): the ready messages of a
// queue whose messages name a group in a header. Messages of one group are handed
// out in order, and never while another message of the group is delivered and not
// yet settled (acked, rejected or requeued); other groups proceed meanwhile. This
// is what SQS FIFO queues promise per MessageGroupId, and what RabbitMQ users build
// from single-active-consumer queues per group.
//
// Each group is a FIFO plus a heap of requeued entries (as a priority lane is, so a
// requeued message returns to its place ahead of the group's later ones). Groups
// that can deliver wait in one min-heap keyed by the id of their head, so the next
// message is always the oldest deliverable one: O(log g) per dequeue for g ready
// groups, never a scan. Heap slots are invalidated lazily (a group's `slot` names
// its one live slot). Messages without the header are ungrouped: they never block.

import { Deque } from '../../util/deque.js';
import { MinHeap } from '../../util/heap.js';
import type { QueueEntry, StoredMessage } from '../message.js';
import { propertiesCodec } from '../content.js';
import { argNumber } from './args.js';

/** The group a message names in header `header` (text or number); undefined: none (or no content to read). */
export function groupKeyOf(msg: StoredMessage, header: string | undefined): string | undefined {
  if (header === undefined || !msg.content) return undefined;
  const v = propertiesCodec.publishFields(msg.content.properties).headers?.[header];
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (Buffer.isBuffer(v)) return v.length === 0 ? undefined : v.toString('utf8');
  const n = argNumber(v);
  return n === undefined ? undefined : String(n);
}

interface Slot {
  readonly group: Group;
  /** The id of the group's head when the slot was made. */
  readonly id: number;
}

const byId = (e: QueueEntry): number => e.msg.id;

class Group {
  /** Small to start with: a queue may hold a great many groups of a few messages each. */
  readonly ready = new Deque<QueueEntry>(4);
  /** Made on the first requeue. */
  private back: MinHeap<QueueEntry> | undefined;
  /** Delivered and not yet settled. */
  inFlight = 0;
  /** Its live place in the ready-groups heap, if any. */
  slot: Slot | undefined;

  constructor(
    /** undefined: the ungrouped messages, which never block each other. */
    readonly key: string | undefined,
  ) {}

  get length(): number {
    return this.ready.length + (this.back?.length ?? 0);
  }

  get requeued(): MinHeap<QueueEntry> {
    return (this.back ??= new MinHeap<QueueEntry>(byId));
  }

  get blocked(): boolean {
    return this.key !== undefined && this.inFlight > 0;
  }

  head(): QueueEntry | undefined {
    const a = this.back?.peek();
    const b = this.ready.peek();
    if (!a) return b;
    if (!b) return a;
    return a.msg.id < b.msg.id ? a : b;
  }

  shift(): QueueEntry | undefined {
    const a = this.back?.peek();
    const b = this.ready.peek();
    return a && (!b || a.msg.id < b.msg.id) ? this.requeued.pop() : this.ready.shift();
  }
}

export class GroupedLanes {
  private readonly groups = new Map<string, Group>();
  private readonly ungrouped = new Group(undefined);
  private readonly readyGroups = new MinHeap<Slot>((s) => s.id);
  /** Delivered entries and their groups, until settled or requeued. */
  private readonly delivered = new Map<QueueEntry, Group>();
  private count = 0;
  /** The group of the newest push (popNewest undoes it). */
  private lastPushed: Group | undefined;

  get length(): number {
    return this.count;
  }

  /** Groups known (with ready or delivered messages), for the management API and tests. */
  get groupCount(): number {
    return this.groups.size;
  }

  push(entry: QueueEntry, key: string | undefined): void {
    const g = this.groupOf(key);
    g.ready.push(entry);
    this.count++;
    this.lastPushed = g;
    // Appending never changes a head, so a group already waiting keeps its slot.
    if (!g.slot && !g.blocked) this.schedule(g);
  }

  /** A delivered entry came back: to its place in its group, which may deliver again. */
  requeue(entry: QueueEntry): void {
    const g = this.delivered.get(entry) ?? this.ungrouped;
    this.delivered.delete(entry);
    if (g.key !== undefined) g.inFlight--;
    g.requeued.push(entry);
    this.count++;
    // Its head may be older now: a new slot.
    if (!g.blocked) this.schedule(g);
  }

  /** A delivered entry is settled for good (acked, rejected, dropped): its group may deliver again. */
  done(entry: QueueEntry): void {
    const g = this.delivered.get(entry);
    if (!g) return;
    this.delivered.delete(entry);
    if (g.key === undefined) return;
    g.inFlight--;
    if (g.inFlight > 0) return;
    if (g.length > 0) this.schedule(g);
    else this.groups.delete(g.key);
  }

  /** The next entry to deliver: the oldest head among the groups that may deliver. */
  head(): QueueEntry | undefined {
    return this.top()?.group.head();
  }

  /**
   * Takes the head. `deliver`: it is being delivered, so its group waits for it to be
   * settled; otherwise it leaves the queue (expired, dropped) and the group goes on.
   */
  shift(deliver = false): QueueEntry | undefined {
    const slot = this.top();
    if (!slot) return undefined;
    const g = slot.group;
    g.slot = undefined;
    this.readyGroups.pop();
    const e = g.shift() as QueueEntry;
    this.count--;
    if (deliver) {
      this.delivered.set(e, g);
      if (g.key !== undefined) g.inFlight++;
    }
    if (g.length > 0) {
      if (!g.blocked) this.schedule(g);
    } else if (g.key !== undefined && g.inFlight === 0) {
      this.groups.delete(g.key);
    }
    return e;
  }

  /**
   * The next entry of the group of `entry` (delivered, not settled), for the same
   * batch of one taker: SQS hands out as many messages of one group as a receive asks.
   */
  following(entry: QueueEntry): QueueEntry | undefined {
    const g = this.delivered.get(entry);
    return g && g.key !== undefined ? g.head() : undefined;
  }

  /** Takes following(entry) as a delivery of the same batch. */
  shiftFollowing(entry: QueueEntry): QueueEntry | undefined {
    const g = this.delivered.get(entry);
    if (!g || g.key === undefined) return undefined;
    const e = g.shift();
    if (!e) return undefined;
    this.count--;
    this.delivered.set(e, g);
    g.inFlight++;
    return e;
  }

  /** Undo the push of the newest entry (x-message-ttl 0 with nobody to take it). */
  popNewest(entry: QueueEntry): boolean {
    const g = this.lastPushed;
    if (!g || g.ready.peekLast() !== entry) return false;
    g.ready.pop();
    this.count--;
    if (g.length === 0) {
      g.slot = undefined;
      if (g.key !== undefined && g.inFlight === 0) this.groups.delete(g.key);
    }
    return true;
  }

  /** The deliverable head, repeatedly while the caller takes it (expiry looks at heads only). */
  *heads(): IterableIterator<{ head: QueueEntry; shift: () => void }> {
    for (let h = this.head(); h; h = this.head()) {
      let taken = false;
      yield {
        head: h,
        shift: () => {
          this.shift(false);
          taken = true;
        },
      };
      if (!taken) break;
    }
  }

  /** Every ready entry, the next one to deliver first (content loading reads ahead from here). */
  *[Symbol.iterator](): IterableIterator<QueueEntry> {
    const first = this.head();
    if (first) yield first;
    for (const g of this.all()) {
      for (const e of g.requeued) if (e !== first) yield e;
      for (const e of g.ready) if (e !== first) yield e;
    }
  }

  /** Ready entries by age (the management API's peek; it sorts, as it is not on a hot path). */
  *ordered(): IterableIterator<QueueEntry> {
    const out: QueueEntry[] = [];
    for (const g of this.all()) out.push(...g.requeued, ...g.ready);
    yield* out.sort((a, b) => a.msg.id - b.msg.id);
  }

  /** Takes every ready entry out (purge, delete); groups with deliveries stay blocked until they settle. */
  drain(): QueueEntry[] {
    const out: QueueEntry[] = [];
    for (const g of this.all()) {
      out.push(...g.requeued.drain());
      for (let e = g.ready.shift(); e; e = g.ready.shift()) out.push(e);
      g.slot = undefined;
      if (g.key !== undefined && g.inFlight === 0) this.groups.delete(g.key);
    }
    this.readyGroups.drain();
    this.count = 0;
    return out;
  }

  private all(): Group[] {
    return [this.ungrouped, ...this.groups.values()];
  }

  private groupOf(key: string | undefined): Group {
    if (key === undefined) return this.ungrouped;
    let g = this.groups.get(key);
    if (!g) this.groups.set(key, (g = new Group(key)));
    return g;
  }

  private schedule(g: Group): void {
    const h = g.head();
    if (!h) {
      g.slot = undefined;
      return;
    }
    g.slot = { group: g, id: h.msg.id };
    this.readyGroups.push(g.slot);
  }

  /** The live slot with the oldest head; stale ones are dropped on the way. */
  private top(): Slot | undefined {
    for (let s = this.readyGroups.peek(); s; s = this.readyGroups.peek()) {
      if (s.group.slot === s) return s;
      this.readyGroups.pop();
    }
    return undefined;
  }
}
