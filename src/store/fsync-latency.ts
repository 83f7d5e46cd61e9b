// A process-wide histogram of fdatasync latency on log segment files, for the
// metrics endpoint (wharf_fsync_duration_seconds). Fixed buckets in a typed
// array: observing is a loop over 12 numbers, no allocation.

/** Upper bounds in seconds (the last bucket, +Inf, is implied). */
export const FSYNC_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] as const;

export class LatencyHistogram {
  /** Counts per bucket (not cumulative); the last slot is +Inf. */
  readonly counts = new Float64Array(FSYNC_BUCKETS_SECONDS.length + 1);
  sumSeconds = 0;
  count = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < FSYNC_BUCKETS_SECONDS.length && seconds > FSYNC_BUCKETS_SECONDS[i]) i++;
    this.counts[i]++;
    this.sumSeconds += seconds;
    this.count++;
  }
}

export const fsyncLatency = new LatencyHistogram();
