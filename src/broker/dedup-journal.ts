// The durable half of de-duplication: keys that persistent messages brought to
// durable queues go to their own log (data/dedup/), replayed on start so the
// window survives a restart. A key is appended only once the message log holds
// the messages published before it, so after a crash a key on disk always has
// its message on disk too (the reverse, a message whose key was lost, can only
// be a publish that was never confirmed). Segments go once every key in them
// has expired, checked on segment roll and by one unref'd timer.

import { DedupRecordType, decodeDedupKey, encodeDedupKey } from '../store/dedup-log.js';
import type { Log } from '../store/index.js';
import type { DedupCache, KeyRecorder } from './queue/dedup.js';

/** Small segments, so expired keys give their disk space back soon. */
export const DEDUP_SEGMENT_BYTES_MAX = 4 * 1024 * 1024;
const RETENTION_CHECK_MS = 60_000;

interface PendingKey {
  readonly cache: DedupCache;
  readonly queueId: number;
  readonly key: string;
  readonly expiresAt: number;
}

export class DedupJournal implements KeyRecorder {
  private pending: PendingKey[] = [];
  private flushScheduled = false;
  /** The write of keys in progress, and the one queued behind it (shared by every caller). */
  private round: Promise<void> | undefined;
  private next: Promise<void> | undefined;
  /** Per segment id, the latest expiry of a key in it. */
  private readonly expiry = new Map<number, number>();
  private lastSegment = -1;
  private deleting = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly log: Log,
    /** Resolves once the messages appended so far are durable (the message log's sync). */
    private readonly messagesSynced: () => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {
    this.timer = setInterval(() => this.deleteExpired(Date.now()), RETENTION_CHECK_MS).unref();
  }

  record(cache: DedupCache, queueId: number, key: string, expiresAt: number): void {
    this.pending.push({ cache, queueId, key, expiresAt });
    // Keys become durable even when no confirm asks for it, and pending stays small.
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.sync().catch(this.onError);
      });
    }
  }

  /** Resolves once every key recorded before the call is on disk; rejects if that failed. */
  sync(): Promise<void> {
    if (this.pending.length === 0) return this.round ?? Promise.resolve();
    if (!this.round) return this.startRound();
    // Callers that arrive during a round share the next one; if this round fails they
    // are told too (a duplicate confirmed now might rest on a key that was just lost).
    this.next ??= this.round.then(
      () => {
        this.next = undefined;
        return this.sync();
      },
      (err: unknown) => {
        this.next = undefined;
        throw err;
      },
    );
    return this.next;
  }

  /** Replay the log: `restore` gets every key not yet expired, oldest first. Returns how many. */
  async recover(restore: (queueId: number, key: string, expiresAt: number) => void, now = Date.now()): Promise<number> {
    let keys = 0;
    await this.log.scan((r) => {
      if (r.type !== DedupRecordType.Key) return;
      let k;
      try {
        k = decodeDedupKey(r.payload);
      } catch {
        return; // the log verified its CRC: a record we cannot interpret is skipped
      }
      this.noteExpiry(r.pos.segment, k.expiresAt);
      if (k.expiresAt <= now) return;
      restore(k.queueId, k.key, k.expiresAt);
      keys++;
    });
    this.lastSegment = this.log.activeSegment();
    this.deleteExpired(now);
    return keys;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.sync().catch(this.onError);
    await this.log.close();
  }

  private startRound(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    const round: Promise<void> = this.write(batch).finally(() => {
      if (this.round === round) this.round = undefined;
    });
    this.round = round;
    return round;
  }

  private async write(batch: readonly PendingKey[]): Promise<void> {
    try {
      await this.messagesSynced();
      for (const k of batch) this.append(k);
      await this.log.sync();
    } catch (err) {
      // Those publishes are nacked: their retries must not be taken for duplicates.
      for (const k of batch) k.cache.forget(k.key, k.expiresAt);
      throw err;
    }
  }

  private append(k: PendingKey): void {
    const pos = this.log.append(DedupRecordType.Key, encodeDedupKey(k));
    this.noteExpiry(pos.segment, k.expiresAt);
    if (pos.segment !== this.lastSegment) {
      this.lastSegment = pos.segment;
      this.deleteExpired(Date.now());
    }
  }

  private noteExpiry(segment: number, expiresAt: number): void {
    if (expiresAt > (this.expiry.get(segment) ?? 0)) this.expiry.set(segment, expiresAt);
  }

  /** Deletes the oldest segments whose keys have all expired (never the active one). */
  private deleteExpired(now: number): void {
    if (this.deleting) return;
    const segments = this.log.segments();
    const active = this.log.activeSegment();
    const keepFrom = segments.find((s) => s === active || (this.expiry.get(s) ?? 0) > now);
    if (keepFrom === undefined || keepFrom === segments[0]) return;
    this.deleting = true;
    this.log
      .deleteSegmentsBefore(keepFrom)
      .then(() => {
        for (const s of this.expiry.keys()) if (s < keepFrom) this.expiry.delete(s);
      })
      .catch(this.onError)
      .finally(() => {
        this.deleting = false;
      });
  }
}
