// The broker's log cleaner (Kafka's LogCleaner thread and LogCleanerManager): on a timer, it
// looks at every partition with cleanup.policy compact, picks the one with the highest share of
// dirty bytes among those worth a pass, cleans it, and goes on until none is worth it. One pass
// at a time, one offset map (allocated once, of a fixed size) for all of them, and every pass in
// small steps on the event loop (cleaner.ts).

import type { Logger } from '../../../store/index.js';
import { type CleanPlan, type CleanerHost, NoProgress, PassAbandoned, type PassResult, cleanPartition, planCleaning, worthCleaning } from './cleaner.js';
import { type CleanerCheckpoint, readCheckpoint, writeCheckpoint } from './checkpoint.js';
import { OffsetMap } from './offset-map.js';

/** Kafka's log.cleaner.backoff.ms: how long the cleaner sleeps when nothing needs cleaning. */
export const CLEANER_INTERVAL_MS_DEFAULT = 15_000;
/** Memory of the key -> offset map (Kafka's log.cleaner.dedupe.buffer.size is 128 MiB): ~1.2 million keys per pass. */
export const CLEANER_MAP_BYTES_DEFAULT = 32 * 1024 * 1024;

export interface StreamCleanerOptions {
  readonly logger: Logger;
  readonly intervalMs?: number;
  readonly mapBytes?: number;
  /** Every partition of the broker (the cleaner skips those that are not compacted). */
  readonly partitions: () => Iterable<CleanerHost>;
  readonly now?: () => number;
}

export interface CleanerStats {
  passes: number;
  abandoned: number;
  failed: number;
  bytesRead: number;
  bytesWritten: number;
  recordsRead: number;
  recordsKept: number;
  last: (PassResult & { readonly dir: string; readonly durationMs: number }) | undefined;
}

const pause = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class StreamCleaner {
  readonly stats: CleanerStats = { passes: 0, abandoned: 0, failed: 0, bytesRead: 0, bytesWritten: 0, recordsRead: 0, recordsKept: 0, last: undefined };
  private map: OffsetMap | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly checkpoints = new Map<string, CleanerCheckpoint | undefined>();
  /** Partitions whose last pass could not move on, and the log end it saw (retried when it moves). */
  private readonly stuck = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly opts: StreamCleanerOptions) {
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => void this.kick(), this.opts.intervalMs ?? CLEANER_INTERVAL_MS_DEFAULT);
    this.timer.unref();
  }

  /** Cleans until no partition is worth a pass (each at most once per call); joins a run in progress. */
  kick(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.running ??= this.runUntilIdle().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Stops the timer and waits for a pass in progress to give up. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  private async runUntilIdle(): Promise<void> {
    const done = new Set<string>();
    for (;;) {
      const next = await this.filthiest(done);
      if (!next || this.stopped) return;
      done.add(next.host.dir);
      await this.clean(next.host, next.plan);
    }
  }

  private async checkpointOf(dir: string): Promise<CleanerCheckpoint | undefined> {
    if (!this.checkpoints.has(dir)) this.checkpoints.set(dir, await readCheckpoint(dir));
    return this.checkpoints.get(dir);
  }

  /** Kafka's grabFilthiestCompactedLog: the highest dirty ratio among partitions worth a pass. */
  private async filthiest(skip: ReadonlySet<string>): Promise<{ host: CleanerHost; plan: CleanPlan } | undefined> {
    let best: { host: CleanerHost; plan: CleanPlan } | undefined;
    const now = this.now();
    const live = new Set<string>();
    for (const host of this.opts.partitions()) {
      live.add(host.dir);
      const cleanup = host.config().cleanup;
      if (!cleanup?.compact || host.isClosed() || skip.has(host.dir)) continue;
      const segs = host.segments();
      const end = segs[segs.length - 1].nextOffset;
      if (this.stuck.get(host.dir) === end) continue;
      let plan: CleanPlan | undefined;
      try {
        plan = planCleaning(host, await this.checkpointOf(host.dir), now);
      } catch (err) {
        this.opts.logger.warn('stream cleaner: could not plan a pass', { dir: host.dir, error: String(err) });
        continue;
      }
      if (!plan || !worthCleaning(plan, cleanup.minCleanableDirtyRatio)) continue;
      if (!best || plan.dirtyRatio > best.plan.dirtyRatio) best = { host, plan };
    }
    // Forget partitions that are gone (deleted streams).
    for (const dir of this.checkpoints.keys()) if (!live.has(dir)) this.checkpoints.delete(dir);
    for (const dir of this.stuck.keys()) if (!live.has(dir)) this.stuck.delete(dir);
    return best;
  }

  private async clean(host: CleanerHost, plan: CleanPlan): Promise<void> {
    const started = this.now();
    this.map ??= new OffsetMap(this.opts.mapBytes ?? CLEANER_MAP_BYTES_DEFAULT);
    const control = { pause, stopping: () => this.stopped };
    let result: PassResult;
    try {
      result = await cleanPartition(host, plan, this.map, started, control);
      if (host.isClosed()) return;
      await writeCheckpoint(host.dir, result.checkpoint);
    } catch (err) {
      if (err instanceof NoProgress) {
        const segs = host.segments();
        this.stuck.set(host.dir, segs[segs.length - 1].nextOffset);
      }
      if (err instanceof PassAbandoned) {
        this.stats.abandoned++;
        this.opts.logger.debug('stream cleaner: pass abandoned', { dir: host.dir, reason: err.message });
      } else {
        this.stats.failed++;
        if (!host.isClosed()) this.opts.logger.warn('stream cleaner: pass failed', { dir: host.dir, error: String(err) });
      }
      return;
    } finally {
      this.map.clear();
    }
    this.checkpoints.set(host.dir, result.checkpoint);
    const segs = host.segments();
    const progressed = result.checkpoint.firstDirtyOffset > plan.firstDirtyOffset || plan.firstDirtyOffset >= plan.firstUncleanableOffset;
    if (progressed) this.stuck.delete(host.dir);
    else this.stuck.set(host.dir, segs[segs.length - 1].nextOffset);
    const s = this.stats;
    s.passes++;
    s.bytesRead += result.bytesRead;
    s.bytesWritten += result.bytesWritten;
    s.recordsRead += result.recordsRead;
    s.recordsKept += result.recordsKept;
    s.last = { ...result, dir: host.dir, durationMs: this.now() - started };
    this.opts.logger.debug('stream cleaner: pass done', { dir: host.dir, ...result, durationMs: s.last.durationMs });
  }
}
