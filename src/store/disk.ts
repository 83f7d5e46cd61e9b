// The few file operations the segmented log needs, behind an interface so the same log code runs
// on the real file system (NodeLogDisk) and on the fault-injecting MemoryDisk used by tests and
// the crash simulator (memory-disk.ts).

import { constants as fsConstants } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fsyncLatency } from './fsync-latency.js';

export interface LogFile {
  /** Reads up to `into.length` bytes at `position`; fewer only at end of file. */
  read(into: Buffer, position: number): Promise<number>;
  /** Writes all chunks back to back starting at `position`, or throws. */
  writev(chunks: readonly Buffer[], position: number): Promise<void>;
  datasync(): Promise<void>;
  truncate(bytes: number): Promise<void>;
  size(): Promise<number>;
  close(): Promise<void>;
}

export interface LogDisk {
  /** File names in the log directory. */
  list(): Promise<string[]>;
  /** 'create' fails if the file exists; 'existing' fails if it does not. Both open read-write. */
  open(name: string, mode: 'create' | 'existing'): Promise<LogFile>;
  remove(name: string): Promise<void>;
  /**
   * Renames a file in the log directory, atomically replacing `to` if it exists (POSIX rename:
   * after a crash either name holds the file, never neither). Durable once syncDir() resolves.
   */
  rename(from: string, to: string): Promise<void>;
  /** Makes file creations, removals and renames in the log directory durable. */
  syncDir(): Promise<void>;
  /**
   * Durably copies bytes [from, to) of `file` into the quarantine area under `name` (or a variant
   * of it if taken) before the caller cuts them off. Returns where they went.
   */
  quarantine(name: string, file: LogFile, from: number, to: number): Promise<string>;
  /** Human-readable location of a file, for log messages. */
  describe(name: string): string;
}

const COPY_CHUNK_BYTES = 1024 * 1024;

class NodeLogFile implements LogFile {
  constructor(private readonly fh: fs.FileHandle) {}

  async read(into: Buffer, position: number): Promise<number> {
    let got = 0;
    while (got < into.length) {
      const { bytesRead } = await this.fh.read(into, got, into.length - got, position + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got;
  }

  async writev(chunks: readonly Buffer[], position: number): Promise<void> {
    let rest = chunks.filter((c) => c.length > 0);
    while (rest.length > 0) {
      const { bytesWritten } = await this.fh.writev(rest, position);
      if (bytesWritten === 0) throw new Error('write made no progress');
      position += bytesWritten;
      rest = dropBytes(rest, bytesWritten);
    }
  }

  datasync(): Promise<void> {
    const start = performance.now();
    return this.fh.datasync().then(() => fsyncLatency.observe((performance.now() - start) / 1000));
  }

  truncate(bytes: number): Promise<void> {
    return this.fh.truncate(bytes);
  }

  async size(): Promise<number> {
    return (await this.fh.stat()).size;
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/** What is left of `chunks` after the first `bytes` were written (a short write). */
function dropBytes(chunks: readonly Buffer[], bytes: number): Buffer[] {
  const out: Buffer[] = [];
  for (const c of chunks) {
    if (bytes >= c.length) {
      bytes -= c.length;
      continue;
    }
    out.push(bytes > 0 ? c.subarray(bytes) : c);
    bytes = 0;
  }
  return out;
}

/** fsync a directory so entries created or removed in it survive power loss (POSIX needs this). */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: fs.FileHandle | undefined;
  try {
    fh = await fs.open(dir, fsConstants.O_RDONLY);
    await fh.sync();
  } catch (err) {
    // Some platforms (Windows) cannot open or fsync a directory; there is nothing more to do there.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL') throw err;
  } finally {
    await fh?.close();
  }
}

export class NodeLogDisk implements LogDisk {
  constructor(
    readonly dir: string,
    readonly quarantineDir: string,
  ) {}

  list(): Promise<string[]> {
    return fs.readdir(this.dir);
  }

  async open(name: string, mode: 'create' | 'existing'): Promise<LogFile> {
    return new NodeLogFile(await fs.open(this.describe(name), mode === 'create' ? 'wx+' : 'r+'));
  }

  remove(name: string): Promise<void> {
    return fs.unlink(this.describe(name));
  }

  rename(from: string, to: string): Promise<void> {
    return fs.rename(this.describe(from), this.describe(to));
  }

  syncDir(): Promise<void> {
    return fsyncDir(this.dir);
  }

  async quarantine(name: string, file: LogFile, from: number, to: number): Promise<string> {
    await fs.mkdir(this.quarantineDir, { recursive: true });
    const { fh, target } = await createUnique(this.quarantineDir, name);
    try {
      const chunk = Buffer.allocUnsafe(Math.min(COPY_CHUNK_BYTES, Math.max(1, to - from)));
      for (let pos = from; pos < to; ) {
        const got = await file.read(chunk.subarray(0, Math.min(chunk.length, to - pos)), pos);
        if (got === 0) break;
        await fh.write(chunk, 0, got, pos - from);
        pos += got;
      }
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await fsyncDir(this.quarantineDir);
    await fsyncDir(path.dirname(this.quarantineDir));
    return target;
  }

  describe(name: string): string {
    return path.join(this.dir, name);
  }
}

/** Opens `dir/name`, or `dir/name-1`... if a previous recovery already used the name. */
async function createUnique(dir: string, name: string): Promise<{ fh: fs.FileHandle; target: string }> {
  const ext = path.extname(name);
  const stem = name.slice(0, name.length - ext.length);
  for (let n = 0; ; n++) {
    const target = path.join(dir, n === 0 ? name : `${stem}-${n}${ext}`);
    try {
      return { fh: await fs.open(target, 'wx'), target };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/**
 * Whether the filesystem of `dir` takes `bytes` more now: writes, fsyncs and removes a probe file.
 * False on ENOSPC/EDQUOT (a full disk or quota); other errors are thrown.
 */
export async function takesWrites(dir: string, bytes: number): Promise<boolean> {
  const probe = path.join(dir, `.wharf-space-probe-${process.pid}`);
  let fh: fs.FileHandle | undefined;
  try {
    fh = await fs.open(probe, 'w', 0o600);
    await fh.write(Buffer.alloc(bytes));
    await fh.sync();
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') return false;
    throw err;
  } finally {
    await fh?.close().catch(() => undefined);
    await fs.unlink(probe).catch(() => undefined);
  }
}
