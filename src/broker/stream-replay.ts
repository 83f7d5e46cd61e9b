// Replaying a range of a stream partition (by offset or by time) into a queue or
// through an exchange. A stream is not consumed by reading, so nothing leaves the
// source: each read's records become one Batch record of copies in the message
// log, synced before the next read. The log keeps a prefix of its records across a
// crash, so after a kill -9 the destination holds a gap-free prefix of the range,
// in offset order, each copy carrying its `x-stream-offset` header: a retry from
// the offset after the last one there replays the rest exactly once. Re-running the
// same range from the start copies it again (a replay is not idempotent).

import { setImmediate as nextTurn } from 'node:timers/promises';
import { decodeProperties } from '../protocol/amqp/content.js';
import { decodeRecords, readBatchHeader, type KafkaRecord } from '../protocol/kafka/record-batch.js';
import { notFound, preconditionFailed } from './errors.js';
import type { MessageStore } from './message-store.js';
import { MoveJob, checkTarget, copyOf, type MoveDestination, type Moves } from './move.js';
import type { Partition } from './stream/partition.js';
import { deliveryOf } from './stream/stream-message.js';
import type { Vhost } from './vhost.js';

export interface ReplayRequest {
  readonly vhost: Vhost;
  readonly stream: string;
  readonly partition: number;
  /** First offset replayed; or else the first record at or after fromTimestamp (ms); or else the log start. */
  readonly fromOffset?: number;
  readonly fromTimestamp?: number;
  /** Replay below this offset (exclusive); default: the last stable offset at the start. */
  readonly toOffset?: number;
  /** Replay at most this many offsets from the start. */
  readonly count?: number;
  readonly destination: MoveDestination;
}

/** Bytes of batches read (and written as one Batch record) per step. */
const REPLAY_READ_BYTES = 1024 * 1024;

/** Checks the request, then replays in the background; the job reports progress and nextOffset. */
export function startReplay(moves: Moves, store: MessageStore, req: ReplayRequest): MoveJob {
  const stream = req.vhost.streams.get(req.stream);
  if (!stream) throw notFound('stream', req.stream, req.vhost.name);
  const p = stream.partition(req.partition);
  if (!p) throw preconditionFailed(`stream '${req.stream}' has no partition ${req.partition}`);
  if (req.destination.kind === 'origin') throw preconditionFailed('a stream replay needs a queue or exchange destination');
  checkTarget(req.vhost, req.destination);
  const job = moves.add(new MoveJob({ kind: 'stream', vhost: req.vhost.name, name: stream.name, partition: req.partition }, req.destination));
  void runReplay(job, req, p, store);
  return job;
}

async function startOffset(req: ReplayRequest, p: Partition): Promise<number> {
  if (req.fromOffset !== undefined) return Math.max(req.fromOffset, p.logStartOffset);
  if (req.fromTimestamp !== undefined) {
    const found = await p.batchForTimestamp(req.fromTimestamp);
    if (!found) return p.lastStableOffset;
    // Batch precision: records before the timestamp in that batch are skipped in replayRecords.
    return Math.max(found.baseOffset, p.logStartOffset);
  }
  return p.logStartOffset;
}

async function runReplay(job: MoveJob, req: ReplayRequest, p: Partition, store: MessageStore): Promise<void> {
  try {
    let next = await startOffset(req, p);
    let end = Math.min(req.toOffset ?? Infinity, p.lastStableOffset);
    if (req.count !== undefined) end = Math.min(end, next + req.count);
    job.total = Math.max(0, end - next);
    job.nextOffset = next;
    while (next < end && !job.cancelRequested) {
      const r = await p.read(next, REPLAY_READ_BYTES, 'committed');
      if (r.batches.length === 0) break;
      const last = readBatchHeader(r.batches[r.batches.length - 1]);
      const aborted = p.abortedTransactions(next, Number(last.baseOffset) + last.lastOffsetDelta + 1);
      const records: KafkaRecord[] = [];
      for (const batch of r.batches) {
        const h = readBatchHeader(batch);
        const isAborted = h.isTransactional && aborted.some((t) => t.producerId === Number(h.producerId) && t.firstOffset <= Number(h.baseOffset) && Number(h.baseOffset) < t.lastOffset);
        if (h.isControl || isAborted) continue;
        for (const rec of decodeRecords(batch, h)) {
          const o = Number(rec.offset);
          if (o < next || o >= end) continue;
          if (req.fromTimestamp !== undefined && Number(rec.timestamp) < req.fromTimestamp) continue;
          records.push(rec);
        }
      }
      const moved = replayRecords(req, store, records);
      next = Math.min(end, Number(last.baseOffset) + last.lastOffsetDelta + 1);
      await store.sync();
      // Reported only once durable: a retry from here never leaves a gap.
      job.moved += moved;
      job.skipped += records.length - moved;
      job.nextOffset = next;
      await nextTurn();
    }
    job.finish(job.cancelRequested ? 'cancelled' : 'done');
  } catch (err) {
    job.finish('failed', err instanceof Error ? err.message : String(err));
  }
}

/** One Batch record of copies for one read's records. */
function replayRecords(req: ReplayRequest, store: MessageStore, records: readonly KafkaRecord[]): number {
  let moved = 0;
  store.beginBatch();
  try {
    for (const rec of records) {
      const copy = copyOf(req.destination, false, deliveryOf(rec, req.stream));
      const props = copy && decodeProperties(copy.content.properties);
      // Stream data is durable: copies are persistent unless the publisher said otherwise.
      const taken =
        copy !== undefined &&
        req.vhost.enqueueMoved(copy.exchange, copy.content, {
          persistent: props?.deliveryMode !== 1,
          priority: props?.priority ?? 0,
          expiration: -1,
          exclude: undefined,
          headers: copy.headers,
        }) > 0;
      if (taken) moved++;
    }
  } finally {
    store.endBatch();
  }
  return moved;
}
