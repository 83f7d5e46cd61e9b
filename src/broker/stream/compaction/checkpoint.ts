// The cleaner's memory of a partition, in `<partition dir>/cleaner.json` (Kafka's
// cleaner-offset-checkpoint, one per partition here): where the dirty part of the log starts
// (everything below was cleaned by an earlier pass), and the earliest delete horizon a pass set
// that has not passed yet (when it passes, the tombstones it guards can go).

import * as path from 'node:path';
import { readFileIfExists, writeFileAtomic } from '../../../store/index.js';

export const CHECKPOINT_FILE = 'cleaner.json';

export interface CleanerCheckpoint {
  /** Offsets below this have been through a cleaning pass. */
  readonly firstDirtyOffset: number;
  /** The earliest future delete horizon among kept batches (ms since the epoch), or -1. */
  readonly deleteHorizonMs: number;
}

export async function readCheckpoint(dir: string): Promise<CleanerCheckpoint | undefined> {
  const raw = await readFileIfExists(path.join(dir, CHECKPOINT_FILE));
  if (!raw) return undefined;
  try {
    const c = JSON.parse(raw.toString('utf8')) as CleanerCheckpoint;
    if (Number.isSafeInteger(c.firstDirtyOffset) && Number.isSafeInteger(c.deleteHorizonMs)) return c;
  } catch {
    // A damaged checkpoint only costs a pass over the whole log.
  }
  return undefined;
}

export async function writeCheckpoint(dir: string, c: CleanerCheckpoint): Promise<void> {
  await writeFileAtomic(path.join(dir, CHECKPOINT_FILE), JSON.stringify({ firstDirtyOffset: c.firstDirtyOffset, deleteHorizonMs: c.deleteHorizonMs }));
}
