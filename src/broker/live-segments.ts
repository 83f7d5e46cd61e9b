// Counts live records per segment of a log and deletes segments once nothing in
// them is live. Oldest-first only: a later segment may hold the records
// (releases, acks) that settle an earlier one's, so deleting a later segment
// while an earlier one stays could bring settled records back on replay.
// MessageStore and the delayed-message store use it.

import type { Log } from '../store/index.js';

export class LiveSegments {
  private readonly live = new Map<number, number>();
  private deleting = false;
  private deleteAgain = false;
  private lastSegment = -1;

  constructor(private readonly log: Log) {}

  /** `n` more live records in `segment`, which the log just appended to (0 for a record that holds none). */
  add(segment: number, n = 1): void {
    if (n > 0) this.count(segment, n);
    if (segment !== this.lastSegment) {
      // The log rolled over: the segment before may already be fully settled.
      this.lastSegment = segment;
      this.reclaim();
    }
  }

  /** `n` more live records in `segment`, found by recovery (call reclaim() once it is done). */
  count(segment: number, n = 1): void {
    this.live.set(segment, (this.live.get(segment) ?? 0) + n);
  }

  /**
   * One live record of `segment` is settled; call reclaim() after a run of
   * these. True when nothing in `segment` is live any more.
   */
  settle(segment: number): boolean {
    const n = (this.live.get(segment) ?? 1) - 1;
    if (n > 0) this.live.set(segment, n);
    else this.live.delete(segment);
    return n <= 0;
  }

  /** Deletes the oldest segments with nothing live (never the active one). */
  reclaim(): void {
    if (this.deleting) {
      this.deleteAgain = true;
      return;
    }
    const segments = this.log.segments();
    const active = this.log.activeSegment();
    let keepFrom = active;
    for (const s of segments) {
      if (s === active || (this.live.get(s) ?? 0) > 0) {
        keepFrom = s;
        break;
      }
    }
    if (segments.length === 0 || keepFrom === segments[0]) return;
    this.deleting = true;
    this.log
      .deleteSegmentsBefore(keepFrom)
      .catch(() => undefined) // tried again on the next reclaim
      .finally(() => {
        this.deleting = false;
        if (this.deleteAgain) {
          this.deleteAgain = false;
          this.reclaim();
        }
      });
  }
}
