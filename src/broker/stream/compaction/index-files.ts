// The index files of segments being replaced by a cleaned one. They go before the replacement is
// committed: an index file describing an old segment must never sit beside the new file of the
// same id (recovery trusts an index whose recorded length matches the file). If the commit fails
// they are put back; if the process dies first, the old segments are simply re-indexed at start.

import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { fsyncDir, writeFileAtomic } from '../../../store/index.js';
import { SegmentIndex, indexFileName } from '../segment-index.js';

/** Reads and removes the index files of `ids` (durably); returns their contents by id. */
export async function takeIndexFiles(dir: string, ids: readonly number[]): Promise<Map<number, Buffer>> {
  const saved = new Map<number, Buffer>();
  for (const id of ids) {
    const file = path.join(dir, indexFileName(id));
    try {
      saved.set(id, await fs.readFile(file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  for (const id of saved.keys()) await fs.rm(path.join(dir, indexFileName(id)), { force: true });
  if (saved.size > 0) await fsyncDir(dir);
  return saved;
}

export async function restoreIndexFiles(dir: string, saved: ReadonlyMap<number, Buffer>): Promise<void> {
  for (const [id, bytes] of saved) await writeFileAtomic(path.join(dir, indexFileName(id)), bytes);
}

/** The producer snapshot stored in an index file (as of its segment's end), if it is valid. */
export function producerSnapshotOf(file: Buffer | undefined): Buffer | undefined {
  return file ? SegmentIndex.decode(file)?.producers : undefined;
}
