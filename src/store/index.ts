// The store's public surface. Record types of the broker's message log live in message-log.ts.

export * from './log.js';
export { openFileLog } from './file-log.js';
export { openMemoryLog, reopenMemoryLog, type MemoryLog, type MemoryLogOptions } from './memory-log.js';
export { MemoryDisk, type FaultPlan } from './memory-disk.js';
export { fsyncDir, type LogDisk, type LogFile } from './disk.js';
export { HandleBudget } from './segment.js';
export type { SegmentRewriter } from './segment-rewrite.js';
export { writeFileAtomic, readFileIfExists } from './atomic-file.js';
export { STORE_FORMAT_VERSION, openDataDir, DataDirError, type DataDir } from './data-dir.js';
export {
  SEGMENT_FORMAT_VERSION,
  SEGMENT_HEADER_BYTES,
  RECORD_BYTES_MIN,
  segmentFileName,
  parseSegmentFileName,
  quarantineFileName,
} from './record-format.js';
