// Defaults and validation of LogOptions shared by the file and memory logs.

import {
  type FsyncPolicy,
  type Logger,
  SEGMENT_BYTES_MAX_DEFAULT,
  WRITE_BUFFER_BYTES_DEFAULT,
  stderrLogger,
} from './log.js';
import { RECORD_BYTES_MIN, SEGMENT_HEADER_BYTES } from './record-format.js';
import type { HandleBudget } from './segment.js';
import type { SegmentedLogOptions } from './segmented-log.js';

export interface TuningOptions {
  fsync?: FsyncPolicy;
  segmentBytesMax?: number;
  writeBufferBytesMax?: number;
  logger?: Logger;
  /** Handles kept open for reads of older segments (default 64); a log per stream partition keeps few. */
  openFilesMax?: number;
  /** Segments recovery need not verify record by record (LogOptions.trustedSegments). */
  trustedSegments?: ReadonlyMap<number, number>;
  /** A limit on open handles shared with other logs (LogOptions.handleBudget). */
  handleBudget?: HandleBudget;
}

const OPEN_FILES_DEFAULT = 64;

const POLICIES: readonly FsyncPolicy[] = ['always', 'batch', 'never'];

export function resolveOptions(o: TuningOptions, fsyncDefault: FsyncPolicy): SegmentedLogOptions {
  const fsync = o.fsync ?? fsyncDefault;
  if (!POLICIES.includes(fsync)) throw new TypeError(`fsync must be one of ${POLICIES.join(', ')}, not ${String(fsync)}`);
  const segmentBytesMax = o.segmentBytesMax ?? SEGMENT_BYTES_MAX_DEFAULT;
  if (!Number.isSafeInteger(segmentBytesMax) || segmentBytesMax < SEGMENT_HEADER_BYTES + RECORD_BYTES_MIN) {
    throw new RangeError(`segmentBytesMax must be an integer >= ${SEGMENT_HEADER_BYTES + RECORD_BYTES_MIN}`);
  }
  const writeBufferBytesMax = o.writeBufferBytesMax ?? WRITE_BUFFER_BYTES_DEFAULT;
  if (!Number.isSafeInteger(writeBufferBytesMax) || writeBufferBytesMax < RECORD_BYTES_MIN) {
    throw new RangeError(`writeBufferBytesMax must be an integer >= ${RECORD_BYTES_MIN}`);
  }
  const openFilesMax = o.openFilesMax ?? OPEN_FILES_DEFAULT;
  if (!Number.isSafeInteger(openFilesMax) || openFilesMax < 1) throw new RangeError('openFilesMax must be an integer >= 1');
  return { fsync, segmentBytesMax, writeBufferBytesMax, logger: o.logger ?? stderrLogger, openFilesMax, ...(o.handleBudget ? { handleBudget: o.handleBudget } : {}) };
}
