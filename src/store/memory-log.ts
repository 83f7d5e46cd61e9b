// The in-memory log: the same SegmentedLog code as the file log, over a MemoryDisk, so tests of the
// broker run fast and fault tests exercise the real write, sync and recovery paths.

import type { LogDisk } from './disk.js';
import type { Log } from './log.js';
import { type FaultPlan, MemoryDisk } from './memory-disk.js';
import { type TuningOptions, resolveOptions } from './options.js';
import { recoverSegments } from './recovery.js';
import type { RecoveredSegment } from './segment.js';
import { SegmentedLog, type SegmentedLogOptions } from './segmented-log.js';

export interface MemoryLogOptions extends TuningOptions {
  /** Faults for a new disk (ignored when `disk` is given). */
  faults?: FaultPlan;
  /** Reuse a disk (e.g. one that a crashed log left behind); default a new, empty one. */
  disk?: MemoryDisk;
}

export interface MemoryLog extends Log {
  readonly disk: MemoryDisk;
  /**
   * Power loss, then a restart: this log dies (its pending syncs reject, later calls throw), the
   * disk keeps only what was durable (with `tear`, plus torn pieces of what was not, seeded by the
   * FaultPlan), and the returned log is what recovery makes of it.
   */
  crash(opts?: { tear?: boolean }): Promise<MemoryLog>;
}

class MemoryLogImpl extends SegmentedLog implements MemoryLog {
  constructor(
    readonly disk: MemoryDisk,
    session: LogDisk,
    recovered: readonly RecoveredSegment[],
    resolved: SegmentedLogOptions,
    private readonly tuning: MemoryLogOptions,
  ) {
    super(session, recovered, resolved);
  }

  async crash(opts: { tear?: boolean } = {}): Promise<MemoryLog> {
    this.kill();
    this.disk.crash(opts);
    return reopenMemoryLog(this.disk, this.tuning);
  }
}

/**
 * A new in-memory log, synchronously. An empty disk needs no recovery; for a disk holding data use
 * reopenMemoryLog(). fsync defaults to 'batch'; logging defaults to warnings on stderr.
 */
export function openMemoryLog(opts: MemoryLogOptions = {}): MemoryLog {
  const disk = opts.disk ?? new MemoryDisk(opts.faults);
  if (disk.fileNames().length > 0) throw new Error('openMemoryLog needs an empty disk; use reopenMemoryLog()');
  return new MemoryLogImpl(disk, disk.session(), [], resolveOptions(opts, 'batch'), { ...opts, disk });
}

/** Opens a log on a disk that may hold data, running the same recovery as openFileLog. */
export async function reopenMemoryLog(disk: MemoryDisk, opts: MemoryLogOptions = {}): Promise<MemoryLog> {
  const resolved = resolveOptions(opts, 'batch');
  const session = disk.session();
  const { segments } = await recoverSegments(session, resolved.logger, opts.trustedSegments);
  return new MemoryLogImpl(disk, session, segments, resolved, { ...opts, disk });
}
