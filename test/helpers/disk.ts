// A full disk for tests (run as root, as CI does): a small tmpfs mounted on a directory, and a
// ballast file that fills it.

import { execFile } from 'node:child_process';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Mounts a tmpfs of `size` (e.g. '16m') on `dir`. */
export async function mountTmpfs(dir: string, size: string): Promise<void> {
  await run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
}

/** Unmounts `dir` (lazily: files still open on it do not keep it). */
export async function unmount(dir: string): Promise<void> {
  await run('umount', ['-l', dir]).catch(() => undefined);
}

/** Fills the filesystem of `dir` with one file until it takes no more; returns the file (remove it for space again). */
export async function fill(dir: string): Promise<string> {
  const file = join(dir, 'ballast');
  const fh = await open(file, 'w');
  try {
    // Big chunks, then smaller ones: less than 512 bytes are left.
    for (const size of [256 * 1024, 4096, 512]) {
      const chunk = Buffer.alloc(size, 1);
      try {
        for (;;) await fh.write(chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
    }
  } finally {
    await fh.close();
  }
  return file;
}
