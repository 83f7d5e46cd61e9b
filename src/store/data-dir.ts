// The data directory (docs/storage-format.md, "Data directory"): its layout, the FORMAT file
// holding the store format version (and the place migrations hook in), and the LOCK that keeps two
// brokers from sharing one directory.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { readFileIfExists, writeFileAtomic } from './atomic-file.js';
import { fsyncDir } from './disk.js';
import { type Logger, stderrLogger } from './log.js';

/** Version of the whole data directory layout; bump it (and add a migration) on incompatible change. */
export const STORE_FORMAT_VERSION = 4;

export const FORMAT_FILE = 'FORMAT';
export const LOCK_FILE = 'LOCK';
const FORMAT_LINE = /^wharf-store (\d+)\s*$/;

export interface DataDir {
  readonly dir: string;
  /** The shared message log's segments. */
  readonly messagesDir: string;
  /** The de-duplication log's segments (keys accepted by durable queues). */
  readonly dedupDir: string;
  /** The delayed-message log's segments (messages held by x-delayed-message exchanges). */
  readonly delayedDir: string;
  /** Streams: one directory per stream, one per partition inside it. */
  readonly streamsDir: string;
  /** Consumer groups' committed offsets: one log per vhost. */
  readonly groupsDir: string;
  /** Transactional ids' states (the transaction coordinator's log): one log per vhost. */
  readonly transactionsDir: string;
  /** Metadata JSON (exchanges, queues, bindings, users), written with writeFileAtomic. */
  readonly metaPath: string;
  /** Bytes recovery cut off damaged segments (the message log's default quarantine). */
  readonly quarantineDir: string;
  /** Releases the lock. Later calls do nothing. */
  release(): Promise<void>;
}

export class DataDirError extends Error {
  override name = 'DataDirError';
}

/**
 * Steps from format N to N+1, run in order while holding the lock; FORMAT is rewritten after each
 * step so an interrupted upgrade resumes where it stopped.
 */
const MIGRATIONS: ReadonlyMap<number, (dir: string, logger: Logger) => Promise<void>> = new Map([
  // 1 → 2: Enqueue records gained publish time, expiration and priority (a flag marks them) and a
  // Return record type was added. Format-1 records still decode, so there is nothing to rewrite;
  // the bump keeps an older Wharf from misreading format-2 records.
  [1, () => Promise.resolve()],
  // 2 → 3: streams (streams/ and the streams of meta.json) were added. Nothing to rewrite; the bump
  // keeps an older Wharf, which would drop the streams from meta.json, off the directory.
  [2, () => Promise.resolve()],
  // 3 → 4: transactions (control batches and transactional state in stream partitions,
  // transactions/, transactional offsets in groups/). Nothing to rewrite; the bump keeps an older
  // Wharf, which would serve aborted records as committed ones, off the directory.
  [3, () => Promise.resolve()],
]);

/**
 * Creates or opens a data directory: takes the lock, then writes or checks FORMAT. Throws
 * DataDirError if another live process holds the lock, if the directory was written by a newer
 * format, or if it is a non-empty directory that is not a Wharf data dir.
 */
export async function openDataDir(dir: string, logger: Logger = stderrLogger): Promise<DataDir> {
  const root = path.resolve(dir);
  await fs.mkdir(root, { recursive: true });
  const release = await acquireLock(root, logger);
  try {
    await checkFormat(root, logger);
    const messagesDir = path.join(root, 'messages');
    const dedupDir = path.join(root, 'dedup');
    const delayedDir = path.join(root, 'delayed');
    const quarantineDir = path.join(root, 'quarantine');
    const streamsDir = path.join(root, 'streams');
    const groupsDir = path.join(root, 'groups');
    const transactionsDir = path.join(root, 'transactions');
    await fs.mkdir(messagesDir, { recursive: true });
    await fs.mkdir(dedupDir, { recursive: true });
    await fs.mkdir(delayedDir, { recursive: true });
    await fs.mkdir(quarantineDir, { recursive: true });
    await fs.mkdir(streamsDir, { recursive: true });
    await fs.mkdir(groupsDir, { recursive: true });
    await fs.mkdir(transactionsDir, { recursive: true });
    await fsyncDir(root);
    return { dir: root, messagesDir, dedupDir, delayedDir, streamsDir, groupsDir, transactionsDir, metaPath: path.join(root, 'meta.json'), quarantineDir, release };
  } catch (err) {
    await release();
    throw err;
  }
}

interface LockHolder {
  readonly pid: number;
  readonly host: string;
}

/**
 * LOCK holds "<pid>\n<hostname>\n". It is written to a temp file and hard-linked into place, so it
 * appears atomically with its contents (link fails if LOCK exists). A lock whose process is gone is
 * stale and taken over.
 */
async function acquireLock(root: string, logger: Logger): Promise<() => Promise<void>> {
  const lockPath = path.join(root, LOCK_FILE);
  const tmp = path.join(root, `.${LOCK_FILE}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  await fs.writeFile(tmp, `${process.pid}\n${os.hostname()}\n`);
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await fs.link(tmp, lockPath);
        await fsyncDir(root);
        return releaser(lockPath);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = await readLock(lockPath);
      if (holder && holder.host !== os.hostname()) {
        throw new DataDirError(
          `data dir ${root} is locked by process ${holder.pid} on host ${holder.host}; ` +
            `if that broker is gone, delete ${lockPath}`,
        );
      }
      if (holder && processAlive(holder.pid)) {
        throw new DataDirError(`data dir ${root} is in use by process ${holder.pid} (${lockPath}); stop it or use another data dir`);
      }
      logger.warn('taking over a stale data dir lock', { lock: lockPath, pid: holder?.pid });
      await fs.unlink(lockPath).catch(ignoreMissing);
    }
    throw new DataDirError(`could not lock data dir ${root}: ${lockPath} keeps coming back`);
  } finally {
    await fs.unlink(tmp).catch(ignoreMissing);
  }
}

function releaser(lockPath: string): () => Promise<void> {
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    await fs.unlink(lockPath).catch(ignoreMissing);
  };
}

async function readLock(lockPath: string): Promise<LockHolder | undefined> {
  const raw = await readFileIfExists(lockPath);
  const [pidText, host] = (raw?.toString('utf8') ?? '').split('\n');
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid) || pid <= 0 || !host) return undefined; // garbage: treat as stale
  return { pid, host };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

function ignoreMissing(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
}

async function checkFormat(root: string, logger: Logger): Promise<void> {
  const formatPath = path.join(root, FORMAT_FILE);
  const raw = await readFileIfExists(formatPath);
  if (!raw) {
    const others = (await fs.readdir(root)).filter((n) => n !== LOCK_FILE && !(n.startsWith('.') && n.endsWith('.tmp')));
    if (others.length > 0) {
      throw new DataDirError(`${root} is not empty and has no ${FORMAT_FILE} file, so it is not a Wharf data dir; refusing to use it`);
    }
    await writeFileAtomic(formatPath, formatLine(STORE_FORMAT_VERSION));
    logger.info('created data dir', { dir: root, format: STORE_FORMAT_VERSION });
    return;
  }
  const m = FORMAT_LINE.exec(raw.toString('utf8'));
  if (!m) throw new DataDirError(`${formatPath} is not a Wharf format file (expected "wharf-store <version>")`);
  let version = Number(m[1]);
  if (version > STORE_FORMAT_VERSION) {
    throw new DataDirError(
      `data dir ${root} has store format ${version}, written by a newer Wharf; this build reads format ` +
        `${STORE_FORMAT_VERSION} and older. Upgrade Wharf or point it at another data dir.`,
    );
  }
  while (version < STORE_FORMAT_VERSION) {
    const step = MIGRATIONS.get(version);
    if (!step) throw new DataDirError(`data dir ${root} has store format ${version}, which this build cannot migrate`);
    logger.info('migrating data dir', { dir: root, from: version, to: version + 1 });
    await step(root, logger);
    version++;
    await writeFileAtomic(formatPath, formatLine(version));
  }
}

function formatLine(version: number): string {
  return `wharf-store ${version}\n`;
}
