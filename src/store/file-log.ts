// The durable log: segment files in a directory (docs/storage-format.md).

import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { NodeLogDisk } from './disk.js';
import type { Log, LogOptions } from './log.js';
import { resolveOptions } from './options.js';
import { recoverSegments } from './recovery.js';
import { SegmentedLog } from './segmented-log.js';

/**
 * Opens (creating if needed) the log in `opts.dir`, recovering from whatever a crash left: torn or
 * corrupt data is cut off and copied to `opts.quarantineDir` (default `<dir>/../quarantine`).
 */
export async function openFileLog(opts: LogOptions): Promise<Log> {
  const resolved = resolveOptions(opts, opts.fsync);
  const dir = path.resolve(opts.dir);
  await fs.mkdir(dir, { recursive: true });
  const quarantineDir = path.resolve(opts.quarantineDir ?? path.join(dir, '..', 'quarantine'));
  const disk = new NodeLogDisk(dir, quarantineDir);
  const { segments } = await recoverSegments(disk, resolved.logger, opts.trustedSegments);
  return new SegmentedLog(disk, segments, resolved);
}
