// The log abstraction every store variant implements: an append-only,
// segmented sequence of typed records. It knows nothing about messages; the
// broker (message-log.ts), streams and replication give record types meaning.
// The on-disk layout is documented in docs/storage-format.md.

import type { HandleBudget } from './segment.js';
import type { SegmentRewriter } from './segment-rewrite.js';

/**
 * When sync() resolves:
 * - 'batch': group commit; callers that arrive while an fdatasync runs share the next one.
 * - 'always': every sync() call gets its own write + fdatasync of the records appended before it.
 * - 'never': records are handed to the OS (written), never fsync'd except on close().
 */
export type FsyncPolicy = 'always' | 'batch' | 'never';

/** Where a record starts: segment id and byte offset of the record header within that segment's file. */
export interface LogPosition {
  readonly segment: number;
  readonly offset: number;
}

export interface LogRecord {
  /** 0..255, meaning chosen by the log's user. */
  readonly type: number;
  /** A copy the caller may keep (never a view of a buffer the log reuses). */
  readonly payload: Buffer;
  readonly pos: LogPosition;
  /** Bytes on disk including the record header. */
  readonly size: number;
}

export interface Logger {
  debug(msg: string, fields?: object): void;
  info(msg: string, fields?: object): void;
  warn(msg: string, fields?: object): void;
  error(msg: string, fields?: object): void;
}

export interface LogOptions {
  /** Directory holding the segment files (created if missing). */
  dir: string;
  fsync: FsyncPolicy;
  /** A new segment starts when the active one would exceed this. Default 64 MiB. */
  segmentBytesMax?: number;
  /** Buffered (unwritten) bytes that force a write to the OS. Default 1 MiB. */
  writeBufferBytesMax?: number;
  /** Where recovery copies bytes it cuts off. Default `<dir>/../quarantine`. */
  quarantineDir?: string;
  logger?: Logger;
  /** Handles kept open for reads of older segments. Default 64. */
  openFilesMax?: number;
  /**
   * A limit on open handles shared by many logs (one per stream partition): past it the least
   * recently used quiet handle of any of them, active segments included, is closed.
   */
  handleBudget?: HandleBudget;
  /**
   * Segments the caller vouches for (id -> valid length in bytes, e.g. from an index written once
   * the segment was sealed and durable): recovery skips verifying them record by record when the
   * file has exactly that length. Default: every segment is verified.
   */
  trustedSegments?: ReadonlyMap<number, number>;
}

export interface LogStats {
  /** Records appended. */
  appends: number;
  /** Record bytes appended, headers included (segment headers not counted). */
  bytesAppended: number;
  /** Write calls to the OS (one writev may carry several buffers). */
  writes: number;
  /** fdatasync calls on segment files (directory fsyncs not counted). */
  fsyncs: number;
}

export interface Log {
  /**
   * Buffer a record (sync, no I/O). The record is immediately readable via read().
   * type is 0..255. Throws RangeError for a bad type, Error after close() or a fatal I/O failure.
   */
  append(type: number, payload: Buffer | readonly Buffer[]): LogPosition;
  /**
   * Resolves once every record appended before the call is durable per the fsync policy.
   * Rejects with the I/O error (e.g. code 'ENOSPC') if a write or fsync failed: the records not yet
   * durable are lost, the log truncates back to the last durable offset, continues in a fresh segment
   * (so positions of lost records are never reused) and keeps working for later appends.
   */
  sync(): Promise<void>;
  /** Hint that callers will want durability soon: writes buffered data out to the OS. */
  flush(): Promise<void>;
  /** Verifies the CRC; corrupt data -> StoreCorruptionError; a position not in the log -> RangeError. */
  read(pos: LogPosition): Promise<LogRecord>;
  /** Same as read() for many positions (result in input order); neighbours share one pread. */
  readBatch(positions: readonly LogPosition[]): Promise<LogRecord[]>;
  /**
   * Replay in order from `from` (default: oldest segment), visiting every valid record appended
   * before the call. Corruption found here (data that rotted after open) is logged and the rest of
   * that segment skipped, like recovery does.
   */
  scan(onRecord: (r: LogRecord) => void, from?: LogPosition): Promise<void>;
  /**
   * Records in log order starting at `from` (a record start, or a segment's end), within `from`'s segment and then
   * the following ones, until their sizes add up to `bytesMax` (at least one record if there is
   * any). Payloads may share one freshly read buffer. Fewer (or none) at the end of the log.
   * A position not in the log -> RangeError; corrupt data -> StoreCorruptionError.
   * `alloc`, if given, supplies the buffers records on disk are read into (payloads are views of
   * them), so a caller that knows when it is done with the payloads can reuse the memory.
   */
  readFrom(from: LogPosition, bytesMax: number, alloc?: (bytes: number) => Buffer): Promise<LogRecord[]>;
  /** Segment ids, oldest first; the last is the active one. */
  segments(): readonly number[];
  activeSegment(): number;
  /** Delete whole segments with id < segment (never the active one). Disk space comes back. */
  deleteSegmentsBefore(segment: number): Promise<void>;
  /**
   * Starts writing one segment to replace the sealed, durable segments with ids first..last (the
   * live ones in that range; never the active one). The replacement gets id `first`; once its
   * commit() resolves, reads see it instead of them, and a crash at any point leaves either the
   * old segments or the replacement (docs/storage-format.md, "Replacing segments"). Positions
   * inside the replaced segments mean nothing afterwards. Throws if the range is not replaceable.
   */
  replaceSegments(first: number, last: number): SegmentRewriter;
  /**
   * Cuts the log at `at` (a record start, or a segment's end): the segments after `at`'s go
   * (newest first), `at`'s segment is truncated there, fsync'd, and takes later appends. A crash
   * at any point leaves a prefix of the log from before, at least as long as the cut.
   * Everything appended before the cut is written and fsync'd first.
   */
  truncate(at: LogPosition): Promise<void>;
  /** Bytes the segments occupy (buffered bytes included), for metrics and retention. */
  sizeBytes(): number;
  readonly stats: LogStats;
  /** Flush + fsync (whatever the policy) + close files. Later calls return the same promise. */
  close(): Promise<void>;
}

/** Stored bytes fail their checks (bad CRC, impossible length, bad header). */
export class StoreCorruptionError extends Error {
  override name = 'StoreCorruptionError';
}

export const SEGMENT_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;
export const WRITE_BUFFER_BYTES_DEFAULT = 1024 * 1024;

/** Drops debug/info; warnings and errors go to stderr so recovery never happens silently. */
export const stderrLogger: Logger = {
  debug() {},
  info() {},
  warn(msg, fields) {
    console.warn(`[wharf store] WARN ${msg}`, fields ?? '');
  },
  error(msg, fields) {
    console.error(`[wharf store] ERROR ${msg}`, fields ?? '');
  },
};

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
