// Moving (replaying) messages out of a queue: to another queue, through an exchange,
// or back to the queue each one was dead-lettered from. A move runs in the
// background in batches; each batch's copies (Enqueue records) and the source's
// removals (Ack records) are one Batch record in the message log, the same
// mechanism dead-lettering uses, so after a kill -9 every message is in exactly
// one of the two places. Taken messages count as unacked in the source until
// their batch is written, so a crash before that leaves them in the source.

import { randomBytes } from 'node:crypto';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { decodeProperties, type FieldTable } from '../protocol/amqp/content.js';
import { withHeaders } from './content.js';
import { deathsOf, withoutDeathHeaders } from './dead-letter.js';
import { BrokerError, notFound, preconditionFailed } from './errors.js';
import type { MessageContent, QueueEntry } from './message.js';
import type { MessageStore } from './message-store.js';
import type { Queue } from './queue/queue.js';
import type { Vhost } from './vhost.js';

/** Where moved messages go. `origin`: the queue named by each message's newest x-death entry. */
export type MoveDestination =
  | { readonly kind: 'queue'; readonly queue: string }
  | { readonly kind: 'exchange'; readonly exchange: string; readonly routingKey?: string }
  | { readonly kind: 'origin' };

export interface MoveRequest {
  readonly vhost: Vhost;
  readonly source: string;
  readonly destination: MoveDestination;
  /** Move at most this many from the head (default: every ready message at the start). */
  readonly count?: number;
  /** Move the messages at these ready-list positions (0 = head) as they are at the start. */
  readonly positions?: readonly number[];
  /** Remove x-death and x-first/last-death-* headers from the copies. */
  readonly stripXDeath: boolean;
  /** Messages per Batch record (and per fsync). */
  readonly batchMessages?: number;
  /** At most this many messages a second (SQS's MaxNumberOfMessagesPerSecond); unlimited when absent. */
  readonly messagesPerSecond?: number;
}

export type MoveState = 'running' | 'done' | 'failed' | 'cancelled';

/** Messages per Batch record: each one is a synchronous step of the event loop (about 1 ms per 500 small messages, more when it triggers a GC). */
export const MOVE_BATCH_MESSAGES = 256;
/** Messages moved between fsyncs (and progress reports). */
const MOVE_SYNC_MESSAGES = 4096;
export const MOVE_BATCH_MESSAGES_MAX = 10_000;
/** Finished moves kept for GET /api/wharf/moves. */
const FINISHED_MOVES_KEPT = 100;

/** What a move reads from: a queue (messages leave it) or a range of a stream partition (read only). */
export interface MoveSource {
  readonly kind: 'queue' | 'stream';
  readonly vhost: string;
  readonly name: string;
  readonly partition?: number;
}

export class MoveJob {
  readonly id = randomBytes(8).toString('hex');
  state: MoveState = 'running';
  moved = 0;
  /** Messages left in the source: no route from their destination (no x-death, queue gone, full). */
  skipped = 0;
  total = 0;
  error: string | undefined;
  readonly startedAt = Date.now();
  finishedAt: number | undefined;
  /** A stream replay: the offset it would read next (where a retry resumes). */
  nextOffset: number | undefined;
  /** Resolves when the move has finished (any final state). */
  readonly finished: Promise<void>;
  private cancelled = false;
  private resolveFinished!: () => void;

  constructor(
    readonly source: MoveSource,
    readonly destination: MoveDestination,
  ) {
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
  }

  cancel(): void {
    this.cancelled = true;
  }

  get cancelRequested(): boolean {
    return this.cancelled;
  }

  finish(state: MoveState, error?: string): void {
    this.state = state;
    this.error = error;
    this.finishedAt = Date.now();
    this.resolveFinished();
  }
}

/** The broker's moves, running and recently finished. */
export class Moves {
  private readonly jobs = new Map<string, MoveJob>();
  private closed = false;

  constructor(private readonly store: MessageStore) {}

  /** Checks the request and starts the move; throws (not found, bad request) before anything moves. */
  start(req: MoveRequest): MoveJob {
    if (this.closed) throw new BrokerError('resource-error', 'broker is closing');
    const q = req.vhost.queues.get(req.source);
    if (!q) throw notFound('queue', req.source, req.vhost.name);
    checkDestination(req, q);
    const job = this.add(new MoveJob({ kind: 'queue', vhost: req.vhost.name, name: q.name }, req.destination));
    void runMove(job, req, q, this.store);
    return job;
  }

  /** Registers a job some other runner (a stream replay) drives. */
  add(job: MoveJob): MoveJob {
    if (this.closed) throw new BrokerError('resource-error', 'broker is closing');
    this.jobs.set(job.id, job);
    this.prune();
    return job;
  }

  get(id: string): MoveJob | undefined {
    return this.jobs.get(id);
  }

  list(): MoveJob[] {
    return [...this.jobs.values()];
  }

  /** The broker is closing: running moves stop after their current batch (the rest stays in the source). */
  async close(): Promise<void> {
    this.closed = true;
    const running = this.list().filter((j) => j.state === 'running');
    for (const j of running) j.cancel();
    await Promise.all(running.map((j) => j.finished));
  }

  private prune(): void {
    const finished = this.list().filter((j) => j.state !== 'running');
    for (const j of finished.slice(0, Math.max(0, finished.length - FINISHED_MOVES_KEPT))) this.jobs.delete(j.id);
  }
}

function checkDestination(req: MoveRequest, source: Queue): void {
  checkTarget(req.vhost, req.destination);
  if (req.destination.kind === 'queue' && req.destination.queue === source.name) throw preconditionFailed('source and destination are the same queue');
  checkBatchSize(req.batchMessages);
}

/** The destination exists and takes moved messages. */
export function checkTarget(v: Vhost, d: MoveDestination): void {
  if (d.kind === 'queue') {
    if (!v.queues.has(d.queue)) {
      if (v.streamQueues.holds(d.queue)) throw preconditionFailed(`cannot move messages into stream queue '${d.queue}'`);
      throw notFound('queue', d.queue, v.name);
    }
  } else if (d.kind === 'exchange') {
    v.checkPublishable(d.exchange);
  }
}

export function checkBatchSize(n: number | undefined): void {
  if (n !== undefined && (!Number.isInteger(n) || n < 1 || n > MOVE_BATCH_MESSAGES_MAX)) {
    throw preconditionFailed(`batch size must be 1-${MOVE_BATCH_MESSAGES_MAX}`);
  }
}

/** The move's loop: a batch per turn of the event loop, each one atomic in the log and synced. */
async function runMove(job: MoveJob, req: MoveRequest, q: Queue, store: MessageStore): Promise<void> {
  const rate = req.messagesPerSecond;
  // A rate-limited move takes a second's worth at most per batch, and syncs each one.
  const batchMessages = Math.min(req.batchMessages ?? MOVE_BATCH_MESSAGES, rate ?? Infinity);
  const selected = req.positions ? selectIds(q, req.positions) : undefined;
  job.total = selected ? selected.size : Math.min(req.count ?? q.messageCount, q.messageCount);
  // Entries taken but not moved (skipped, or not selected): back to their places at the end.
  const left: QueueEntry[] = [];
  const unsynced = { moved: 0, skipped: 0 };
  let seen = 0;
  try {
    while (job.moved + job.skipped < job.total && !job.cancelRequested) {
      if (q.deleted) throw new Error(`queue '${q.name}' was deleted`);
      const want = selected ? batchMessages : Math.min(batchMessages, job.total - seen);
      const taken = q.takeReady(want);
      if (taken.length === 0) break;
      seen += taken.length;
      let batch = taken;
      if (selected) {
        batch = taken.filter((e) => selected.has(e.msg.id));
        for (const e of taken) if (!selected.has(e.msg.id)) left.push(e);
      }
      try {
        await store.load(batch.map((e) => e.msg));
        if (q.deleted) throw new Error(`queue '${q.name}' was deleted`);
      } catch (err) {
        // Given back (released, if the queue is gone), so their log space is reclaimed.
        left.push(...batch);
        throw err;
      }
      const done = moveBatch(req, q, store, batch, left);
      unsynced.moved += done.moved;
      unsynced.skipped += done.skipped;
      // One fsync per MOVE_SYNC_MESSAGES (group-committed with everyone else's); small batches
      // in between keep each synchronous step short.
      if (rate !== undefined) {
        await syncProgress(job, store, unsynced);
        await paced(job, rate);
      } else if (unsynced.moved + unsynced.skipped >= MOVE_SYNC_MESSAGES) await syncProgress(job, store, unsynced);
      else await nextTurn();
    }
    await syncProgress(job, store, unsynced);
    job.finish(job.cancelRequested ? 'cancelled' : 'done');
  } catch (err) {
    // Batches written before the failure are moved: count them once on disk (if the disk still works).
    await syncProgress(job, store, unsynced).catch(() => undefined);
    job.finish('failed', err instanceof Error ? err.message : String(err));
  } finally {
    for (const e of left) q.putBack(e);
  }
}

/** Waits until the moved count is within the rate since the start (checking for a cancel every 100 ms). */
async function paced(job: MoveJob, perSecond: number): Promise<void> {
  for (;;) {
    const earliestMs = job.startedAt + ((job.moved + job.skipped) * 1000) / perSecond;
    const waitMs = earliestMs - Date.now();
    if (waitMs <= 0 || job.cancelRequested) return;
    await sleep(Math.min(waitMs, 100));
  }
}

/** Waits until the batches written so far are on disk, then reports them: progress is durable progress. */
async function syncProgress(job: MoveJob, store: MessageStore, unsynced: { moved: number; skipped: number }): Promise<void> {
  await store.sync();
  job.moved += unsynced.moved;
  job.skipped += unsynced.skipped;
  unsynced.moved = 0;
  unsynced.skipped = 0;
}

/** One Batch record: each copy's Enqueue and the source's Ack, or neither. */
function moveBatch(req: MoveRequest, q: Queue, store: MessageStore, batch: readonly QueueEntry[], left: QueueEntry[]): { moved: number; skipped: number } {
  const v = req.vhost;
  let moved = 0;
  store.beginBatch();
  try {
    for (const e of batch) {
      const content = e.msg.content;
      const copy = content && copyOf(req.destination, req.stripXDeath, content);
      const taken =
        copy !== undefined &&
        v.enqueueMoved(copy.exchange, copy.content, { persistent: e.msg.persistent, priority: e.msg.priority, expiration: e.msg.expiration, exclude: q, headers: copy.headers }) > 0;
      if (taken) {
        q.settle(e);
        moved++;
      } else left.push(e);
    }
  } finally {
    store.endBatch();
  }
  return { moved, skipped: batch.length - moved };
}

export interface Copy {
  readonly exchange: string;
  readonly content: MessageContent;
  readonly headers: FieldTable | undefined;
}

/** The exchange, key and content a message is moved with; undefined if it has nowhere to go. */
export function copyOf(d: MoveDestination, stripXDeath: boolean, content: MessageContent): Copy | undefined {
  const headers = decodeProperties(content.properties).headers;
  let exchange: string;
  let routingKey: string;
  if (d.kind === 'queue') {
    exchange = '';
    routingKey = d.queue;
  } else if (d.kind === 'exchange') {
    exchange = d.exchange;
    routingKey = d.routingKey ?? content.routingKey;
  } else {
    // The queue it last died in, through the default exchange (as a shovel from the DLQ to that queue).
    const origin = deathsOf(headers)[0]?.queue;
    if (origin === undefined) return undefined;
    exchange = '';
    routingKey = origin;
  }
  const strip = stripXDeath && headers !== undefined && headers['x-death'] !== undefined;
  const properties = strip ? withHeaders(content.properties, withoutDeathHeaders) : content.properties;
  return {
    exchange,
    content: { exchange, routingKey, properties, body: content.body },
    headers: strip && headers ? withoutDeathHeaders(headers) : headers,
  };
}

/** Message ids at the given ready-list positions now (positions past the end are ignored). */
function selectIds(q: Queue, positions: readonly number[]): Set<number> {
  const want = new Set(positions);
  const max = Math.max(-1, ...positions);
  const ids = new Set<number>();
  const entries = q.peek(0, max + 1);
  for (let i = 0; i < entries.length; i++) if (want.has(i)) ids.add(entries[i].msg.id);
  return ids;
}
