// Per-queue message de-duplication (queue argument x-message-deduplication):
// a message whose key was accepted within the queue's window is confirmed
// but not enqueued again, even if the first copy was consumed already (SQS
// FIFO semantics). The argument parser, the key a message carries, and the
// in-memory window. Durability of the window: dedup-journal.ts.

import { createHash } from 'node:crypto';
import { DEDUP_KEY_BYTES_MAX } from '../../store/dedup-log.js';
import { preconditionFailed, type BrokerError } from '../errors.js';
import type { Args, PublishInput } from '../message.js';
import type { Queue } from './queue.js';

export interface DedupConfig {
  /** How long an accepted key keeps absorbing duplicates. */
  readonly windowMs: number;
  /** At most this many keys are remembered; the oldest go first. */
  readonly cacheSize: number;
}

/** SQS FIFO's fixed de-duplication interval. */
export const DEDUP_WINDOW_MS_DEFAULT = 5 * 60_000;
/** About 17 MB per queue when full with 40-character keys (~170 bytes per key). */
export const DEDUP_CACHE_SIZE_DEFAULT = 100_000;
/** Both arguments are limited to an unsigned 32-bit value (a window of ~49.7 days). */
const ARG_MAX = 0xffffffff;

/** The message header that names the key (the RabbitMQ community plugin's header). */
export const DEDUP_HEADER = 'x-deduplication-header';

/**
 * The queue's de-duplication settings, or undefined when it has none. Throws
 * PRECONDITION_FAILED naming the argument for a wrong type or an out-of-range value
 * (`where` is e.g. "queue 'q' in vhost '/'", as in RabbitMQ's texts).
 */
export function parseDedupArgs(args: Args, where = 'queue'): DedupConfig | undefined {
  const enabled = args['x-message-deduplication'];
  if (enabled !== undefined && typeof enabled !== 'boolean') {
    throw invalidArg('x-message-deduplication', where, `expected a boolean, got ${describe(enabled)}`);
  }
  const windowMs = positiveInt(args, 'x-deduplication-window', DEDUP_WINDOW_MS_DEFAULT, where);
  const cacheSize = positiveInt(args, 'x-cache-size', DEDUP_CACHE_SIZE_DEFAULT, where);
  return enabled === true ? { windowMs, cacheSize } : undefined;
}

/**
 * The de-duplication key of a message: the x-deduplication-header header (a string
 * or a number, compared as text) or else the message-id property. Undefined (never
 * de-duplicated) when it has neither or it is empty. Keys longer than 255 bytes are
 * replaced by their SHA-256, so a key's memory and disk cost stays bounded.
 */
export function dedupKey(input: Pick<PublishInput, 'headers' | 'messageId'>): string | undefined {
  const key = headerText(input.headers?.[DEDUP_HEADER]) ?? input.messageId;
  if (key === undefined || key === '') return undefined;
  if (key.length * 3 <= DEDUP_KEY_BYTES_MAX || Buffer.byteLength(key) <= DEDUP_KEY_BYTES_MAX) return key;
  return `sha256:${createHash('sha256').update(key).digest('base64')}`;
}

/**
 * A queue's window: keys in the order they were accepted, each with its expiry.
 * Expired keys are dropped from the front when the queue next checks a key; there are
 * no timers. One window per queue, so insertion order is expiry order.
 */
export class DedupCache {
  private readonly keys = new Map<string, number>();
  /** Keys dropped before their expiry because the cache was full. */
  evictions = 0;

  constructor(readonly config: DedupConfig) {}

  get size(): number {
    return this.keys.size;
  }

  /** The key was accepted within the window. */
  isDuplicate(key: string, now: number): boolean {
    this.expire(now);
    const expiresAt = this.keys.get(key);
    return expiresAt !== undefined && expiresAt > now;
  }

  /** Accept a key for the window starting now; returns its expiry. */
  remember(key: string, now: number): number {
    const expiresAt = now + this.config.windowMs;
    this.restore(key, expiresAt);
    return expiresAt;
  }

  /** A key recovered from disk (recovery replays them in the order they were accepted). */
  restore(key: string, expiresAt: number): void {
    this.keys.delete(key); // re-inserted at the back: insertion order stays expiry order
    this.keys.set(key, expiresAt);
    if (this.keys.size > this.config.cacheSize) {
      for (const oldest of this.keys.keys()) {
        this.keys.delete(oldest);
        this.evictions++;
        break;
      }
    }
  }

  /** Undo remember() when the key could not be made durable (its publish is nacked). */
  forget(key: string, expiresAt: number): void {
    if (this.keys.get(key) === expiresAt) this.keys.delete(key);
  }

  private expire(now: number): void {
    for (const [key, expiresAt] of this.keys) {
      if (expiresAt > now) break;
      this.keys.delete(key);
    }
  }
}

/** Where keys that must survive a restart go (DedupJournal). */
export interface KeyRecorder {
  record(cache: DedupCache, queueId: number, key: string, expiresAt: number): void;
}

/**
 * Of the queues a message was routed to, those that take it: a de-duplicating queue
 * that accepted the message's key within its window drops it; the others accept the
 * key now. Keys of persistent messages on durable queues are recorded for disk, and
 * `keySync` says the confirm must wait for them (a duplicate's too: the first copy's
 * key may still be on its way to disk).
 */
export function dropDuplicates(
  routed: readonly Queue[],
  input: PublishInput,
  now: number,
  recorder: KeyRecorder,
): { queues: readonly Queue[]; keySync: boolean } {
  if (!routed.some((q) => q.dedup)) return { queues: routed, keySync: false };
  const key = dedupKey(input);
  if (key === undefined) return { queues: routed, keySync: false };
  const queues: Queue[] = [];
  let keySync = false;
  for (const q of routed) {
    const cache = q.dedup;
    if (cache) {
      const durable = input.persistent && q.persistsMessages;
      if (durable) keySync = true;
      if (cache.isDuplicate(key, now)) continue;
      const expiresAt = cache.remember(key, now);
      if (durable) recorder.record(cache, q.id, key, expiresAt);
    }
    queues.push(q);
  }
  return { queues, keySync };
}

function positiveInt(args: Args, name: string, fallback: number, where: string): number {
  const v = args[name];
  if (v === undefined) return fallback;
  const n = numberOf(v);
  if (n === undefined) throw invalidArg(name, where, `expected an integer, got ${describe(v)}`);
  if (!Number.isInteger(n) || n < 1 || n > ARG_MAX) {
    throw invalidArg(name, where, `expected an integer from 1 to ${ARG_MAX}, got ${typeof v === 'bigint' ? v : n}`);
  }
  return n;
}

/** Numbers arrive as number, bigint (64-bit) or a typed wrapper ({ value }) that keeps their wire type. */
function numberOf(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v !== 'object' || v === null) return undefined;
  const typed = v as { type?: unknown; value?: unknown };
  return typeof typed.type === 'string' && typeof typed.value === 'number' ? typed.value : undefined;
}

function headerText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  const n = numberOf(v);
  return n === undefined ? undefined : typeof v === 'bigint' ? v.toString() : String(n);
}

function describe(v: unknown): string {
  if (typeof v === 'string') return `'${v}' (a string)`;
  if (v === null) return 'void';
  if (Buffer.isBuffer(v)) return 'a byte array';
  if (typeof v === 'object') return Array.isArray(v) ? 'an array' : 'a table';
  return `${String(v)} (a ${typeof v})`;
}

function invalidArg(name: string, where: string, detail: string): BrokerError {
  return preconditionFailed(`invalid arg '${name}' for ${where}: ${detail}`);
}
