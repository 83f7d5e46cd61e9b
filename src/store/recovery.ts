// Opening a log directory after a clean stop or a crash (docs/storage-format.md, "Recovery").
// Every segment is verified record by record. A segment is cut at its first bad record: the bytes
// from there on are copied to the quarantine area, then the file is truncated and fsync'd. Nothing
// found on disk makes this throw (I/O errors do).

import type { LogDisk, LogFile } from './disk.js';
import type { Logger } from './log.js';
import {
  SEGMENT_HEADER_BYTES,
  checkSegmentHeader,
  isCleanedFileName,
  parseSegmentFileName,
  parseSwapFileName,
  quarantineFileName,
  scanRecords,
  segmentFileName,
  segmentHeader,
} from './record-format.js';
import type { RecoveredSegment } from './segment.js';

export interface RecoveryReport {
  readonly segments: RecoveredSegment[];
  /** Where cut-off bytes went, one entry per cut. */
  readonly quarantined: string[];
}

/** `trusted`: segments (id -> valid length) the caller vouches for; verified only if the file's length differs. */
export async function recoverSegments(
  disk: LogDisk,
  logger: Logger,
  trusted?: ReadonlyMap<number, number>,
): Promise<RecoveryReport> {
  const names = await finishReplacements(disk, logger, await disk.list());
  const found: { id: number; name: string }[] = [];
  for (const name of names) {
    const id = parseSegmentFileName(name);
    if (id !== undefined) found.push({ id, name });
    else if (name.endsWith('.log')) logger.warn('ignoring a file that is not a segment', { file: disk.describe(name) });
  }
  found.sort((a, b) => a.id - b.id);
  const segments: RecoveredSegment[] = [];
  const quarantined: string[] = [];
  for (let i = 0; i < found.length; i++) {
    const { id, name } = found[i];
    const isLast = i === found.length - 1;
    const file = await disk.open(name, 'existing');
    try {
      const vouched = trusted?.get(id);
      if (vouched !== undefined && !isLast && vouched === (await file.size())) {
        segments.push({ id, bytes: vouched });
        continue;
      }
      const bytes = await recoverSegment(disk, file, id, name, isLast, logger, quarantined);
      segments.push({ id, bytes });
    } finally {
      await file.close();
    }
  }
  // The previous process may have created or removed files without syncing the directory; the
  // page cache shows them, a power loss would not. Make what we found durable before building on it.
  if (found.length > 0) await disk.syncDir();
  return { segments, quarantined };
}

/**
 * Segment replacements a crash interrupted (docs/storage-format.md, "Replacing segments"): a
 * `.cleaned` file was never committed and goes; a `.swap` file is a complete, durable replacement,
 * so the old segments it names are removed and it takes the first one's name. Returns the
 * directory's names afterwards.
 */
async function finishReplacements(disk: LogDisk, logger: Logger, names: string[]): Promise<string[]> {
  let changed = false;
  for (const name of names) {
    if (!isCleanedFileName(name)) continue;
    await disk.remove(name);
    changed = true;
    logger.info('log recovery: removed an unfinished segment replacement', { file: disk.describe(name) });
  }
  const swaps = names
    .map((name) => ({ name, range: parseSwapFileName(name) }))
    .filter((s) => s.range !== undefined)
    .sort((a, b) => (a.range?.first ?? 0) - (b.range?.first ?? 0));
  for (const { name, range } of swaps) {
    if (!range) continue;
    const now = await disk.list();
    for (const other of now) {
      const id = parseSegmentFileName(other);
      if (id !== undefined && id > range.first && id <= range.last) await disk.remove(other);
    }
    await disk.syncDir();
    await disk.rename(name, segmentFileName(range.first));
    await disk.syncDir();
    changed = true;
    logger.warn('log recovery: finished replacing segments', { segment: disk.describe(segmentFileName(range.first)), replaced: `${range.first}..${range.last}` });
  }
  if (changed) await disk.syncDir();
  return changed ? disk.list() : names;
}

/** Verifies one segment, cuts it at the first bad record and returns its valid length. */
async function recoverSegment(
  disk: LogDisk,
  file: LogFile,
  id: number,
  name: string,
  isLast: boolean,
  logger: Logger,
  quarantined: string[],
): Promise<number> {
  const size = await file.size();
  const head = Buffer.alloc(Math.min(size, SEGMENT_HEADER_BYTES));
  await file.read(head, 0);
  const header = checkSegmentHeader(head);
  if (!header.ok) {
    // A version byte this build does not know is treated like any damaged header: a torn write of
    // a new segment's header looks exactly the same. Newer data is refused earlier, by the data
    // dir's FORMAT file (data-dir.ts); and the quarantine keeps the bytes either way.
    await cut(disk, file, { id, name, from: 0, size, reason: header.reason, isLast, logger, quarantined });
    await file.writev([segmentHeader()], 0);
    await file.datasync();
    return SEGMENT_HEADER_BYTES;
  }
  const result = await scanRecords((into, at) => file.read(into, at), SEGMENT_HEADER_BYTES, size, () => {});
  if (result.problem || result.end < size) {
    const reason = result.problem ?? 'file shorter than reported';
    await cut(disk, file, { id, name, from: result.end, size, reason, isLast, logger, quarantined });
  } else {
    // What the previous process wrote may still sit in the page cache: make it durable before
    // anything is built on top of it (cheap when it already is).
    await file.datasync();
  }
  return result.end;
}

interface Cut {
  readonly id: number;
  readonly name: string;
  readonly from: number;
  readonly size: number;
  readonly reason: string;
  readonly isLast: boolean;
  readonly logger: Logger;
  readonly quarantined: string[];
}

/** Copies [from, size) to quarantine, then truncates the segment there, durably. */
async function cut(disk: LogDisk, file: LogFile, c: Cut): Promise<void> {
  let copy: string | undefined;
  if (c.size > c.from) {
    copy = await disk.quarantine(quarantineFileName(c.id, c.from), file, c.from, c.size);
    c.quarantined.push(copy);
  }
  await file.truncate(c.from);
  await file.datasync();
  const fields = {
    segment: disk.describe(c.name),
    offset: c.from,
    bytesCut: c.size - c.from,
    reason: c.reason,
    quarantinedTo: copy,
  };
  // A torn tail of the last segment is what a crash leaves behind; anywhere else data was damaged.
  if (c.isLast) c.logger.warn('log recovery: cut the torn or corrupt tail of the active segment', fields);
  else c.logger.error('log recovery: corrupt record in an older segment; cut the rest of that segment', fields);
}
