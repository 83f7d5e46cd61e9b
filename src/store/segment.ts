// In-memory bookkeeping of the segmented log: one Segment per file, the write buffers that hold
// bytes not yet handed to the OS, and a small cache of open file handles.

import type { LogDisk, LogFile } from './disk.js';
import { segmentFileName } from './record-format.js';

/** A segment as recovery left it: its id and valid length in bytes. */
export interface RecoveredSegment {
  readonly id: number;
  readonly bytes: number;
}

export interface Segment {
  readonly id: number;
  /** The file's name; a replacement segment is named `<first>-<last>.swap` until its final rename. */
  name: string;
  /** Logical end: every byte appended, buffered ones included. */
  end: number;
  /** Bytes handed to the OS. Records below this are read from the file, above it from a buffer. */
  written: number;
  /** Bytes known to survive power loss (fdatasync'd, directory entry synced). */
  durable: number;
  /** The file exists (a new segment's file is created by its first write). */
  created: boolean;
  /** The file's directory entry is durable. */
  dirSynced: boolean;
  /** False once deleted or dropped by a rollback: reads of it fail with RangeError. */
  live: boolean;
  file: LogFile | undefined;
  opening: Promise<LogFile> | undefined;
  /** Reads in progress; a handle is only evicted when none are. */
  readers: number;
}

export function newSegment(id: number, bytes: number, onDisk: boolean): Segment {
  return {
    id,
    name: segmentFileName(id),
    end: bytes,
    written: bytes,
    durable: bytes,
    created: onDisk,
    dirSynced: onDisk,
    live: true,
    file: undefined,
    opening: undefined,
    readers: 0,
  };
}

/**
 * A run of bytes of one segment not yet (fully) written: data[0, used) belongs at file offset
 * `base`, data[0, flushed) has been written. `global` is the log-wide byte count at data[0], the
 * unit sync targets are expressed in.
 */
export class WriteBuf {
  used = 0;
  flushed = 0;

  constructor(
    readonly seg: Segment,
    public base: number,
    public global: number,
    readonly data: Buffer,
  ) {}

  holds(seg: Segment, offset: number): boolean {
    return this.seg === seg && offset >= this.base && offset < this.base + this.used;
  }

  /** Everything was written: start over at the front so the same memory keeps serving appends. */
  rebase(): void {
    this.base += this.used;
    this.global += this.used;
    this.used = 0;
    this.flushed = 0;
  }
}

/**
 * A limit on the handles many logs hold open together (thousands of stream partitions, one log
 * each, in one process): past it, the least recently used quiet handle of any of them is closed,
 * and reopened on its next use. Handles that are busy stay open, so the limit can be passed
 * for a while; it is a budget, not a hard cap.
 */
export class HandleBudget {
  private readonly lru = new Map<Segment, SegmentFiles>();

  constructor(readonly openFilesMax: number) {}

  /** Handles open under this budget. */
  get size(): number {
    return this.lru.size;
  }

  touch(seg: Segment, owner: SegmentFiles): void {
    this.lru.delete(seg);
    this.lru.set(seg, owner);
  }

  forget(seg: Segment): void {
    this.lru.delete(seg);
  }

  evict(): void {
    if (this.lru.size <= this.openFilesMax) return;
    for (const [seg, owner] of [...this.lru]) {
      if (this.lru.size <= this.openFilesMax) return;
      owner.closeIfQuiet(seg);
    }
  }
}

/**
 * Open handles by segment, least recently used first. Segments that are quiet (nothing buffered,
 * nothing to fsync, no reads in flight) may be closed when too many are open, in this log or,
 * with a shared budget, in all the logs that share it.
 */
export class SegmentFiles {
  private readonly lru = new Map<Segment, LogFile>();
  /** The segment last moved to the end of `lru`. */
  private lastUsed: Segment | undefined;

  constructor(
    private readonly disk: LogDisk,
    private readonly openFilesMax: number,
    private readonly quiet: (seg: Segment) => boolean,
    private readonly budget?: HandleBudget,
  ) {}

  /** The segment's handle, opening it (or creating the file, for a new segment) if needed. */
  get(seg: Segment): Promise<LogFile> {
    const f = seg.file;
    if (f) {
      // Re-inserting the most recently used one (the active segment, twice per sync) would change
      // nothing but churn the Map's table (see util/small-set.ts).
      if (this.lastUsed !== seg) {
        this.lru.delete(seg);
        this.lru.set(seg, f);
        this.lastUsed = seg;
      }
      this.budget?.touch(seg, this);
      return Promise.resolve(f);
    }
    seg.opening ??= this.open(seg);
    return seg.opening;
  }

  private async open(seg: Segment): Promise<LogFile> {
    const mode = seg.created ? 'existing' : 'create';
    try {
      const f = await this.disk.open(seg.name, mode);
      if (!seg.live) {
        await f.close();
        throw new RangeError(`segment ${seg.id} is no longer in the log`);
      }
      if (mode === 'create') {
        seg.created = true;
        seg.dirSynced = false;
      }
      seg.file = f;
      this.lru.set(seg, f);
      this.lastUsed = seg;
      this.evict();
      if (this.budget) {
        this.budget.touch(seg, this);
        this.budget.evict();
      }
      return f;
    } finally {
      seg.opening = undefined;
    }
  }

  private evict(): void {
    for (const seg of [...this.lru.keys()]) {
      if (this.lru.size <= this.openFilesMax) return;
      this.closeIfQuiet(seg);
    }
  }

  /** Once a handle is no longer busy: back within the shared budget if a busy one pushed past it. */
  rebalance(): void {
    this.budget?.evict();
  }

  /** Closes the segment's handle unless it is in use; the next get() reopens it. */
  closeIfQuiet(seg: Segment): void {
    const f = seg.file;
    if (!f || seg.readers > 0 || !this.quiet(seg)) return;
    this.lru.delete(seg);
    if (this.lastUsed === seg) this.lastUsed = undefined;
    this.budget?.forget(seg);
    seg.file = undefined;
    f.close().catch(() => {}); // nothing is buffered or unsynced on it: a failing close changes nothing
  }

  async close(seg: Segment): Promise<void> {
    if (seg.opening) await seg.opening.catch(() => {});
    const f = seg.file;
    if (!f) return;
    this.lru.delete(seg);
    this.budget?.forget(seg);
    if (this.lastUsed === seg) this.lastUsed = undefined;
    seg.file = undefined;
    await f.close();
  }

  async closeAll(): Promise<void> {
    for (const seg of [...this.lru.keys()]) await this.close(seg);
  }
}
