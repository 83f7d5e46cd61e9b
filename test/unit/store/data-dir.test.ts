import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { DataDirError, STORE_FORMAT_VERSION, openDataDir } from '../../../src/store/index.js';
import { memoryLogger, removeDir, tempRoot } from './helpers.js';

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  return child.pid as number;
}

describe('data dir', () => {
  test('a format-1 data dir is upgraded to the current format in place', async () => {
    const root = await tempRoot();
    try {
      const dir = path.join(root, 'data');
      await fs.mkdir(dir);
      await fs.writeFile(path.join(dir, 'FORMAT'), 'wharf-store 1\n');
      const dd = await openDataDir(dir, memoryLogger());
      assert.equal(await fs.readFile(path.join(dir, 'FORMAT'), 'utf8'), `wharf-store ${STORE_FORMAT_VERSION}\n`);
      assert.equal(STORE_FORMAT_VERSION, 4);
      await dd.release();
    } finally {
      await removeDir(root);
    }
  });

  test('a new data dir gets FORMAT, its folders and a LOCK with our pid', async () => {
    const root = await tempRoot();
    try {
      const dir = path.join(root, 'data');
      const dd = await openDataDir(dir, memoryLogger());
      assert.equal(dd.dir, dir);
      assert.equal(await fs.readFile(path.join(dir, 'FORMAT'), 'utf8'), `wharf-store ${STORE_FORMAT_VERSION}\n`);
      assert.equal((await fs.stat(dd.messagesDir)).isDirectory(), true);
      assert.equal((await fs.stat(dd.dedupDir)).isDirectory(), true);
      assert.equal((await fs.stat(dd.delayedDir)).isDirectory(), true);
      assert.equal((await fs.stat(dd.quarantineDir)).isDirectory(), true);
      assert.equal(path.dirname(dd.metaPath), dir);
      assert.equal((await fs.readFile(path.join(dir, 'LOCK'), 'utf8')).split('\n')[0], String(process.pid));
      await dd.release();
      await dd.release();
      assert.deepEqual((await fs.readdir(dir)).sort(), ['FORMAT', 'dedup', 'delayed', 'groups', 'messages', 'quarantine', 'streams', 'transactions']);
    } finally {
      await removeDir(root);
    }
  });

  test('the lock refuses a second open until released', async () => {
    const root = await tempRoot();
    try {
      const first = await openDataDir(root, memoryLogger());
      await assert.rejects(openDataDir(root, memoryLogger()), (err: Error) => {
        assert.ok(err instanceof DataDirError);
        assert.match(err.message, new RegExp(`in use by process ${process.pid}`));
        return true;
      });
      await first.release();
      const second = await openDataDir(root, memoryLogger());
      await second.release();
    } finally {
      await removeDir(root);
    }
  });

  test('a stale lock (dead pid, or garbage) is taken over with a warning', async () => {
    const root = await tempRoot();
    try {
      for (const content of [`${deadPid()}\n${(await import('node:os')).hostname()}\n`, 'garbage', '']) {
        await fs.writeFile(path.join(root, 'LOCK'), content);
        const logger = memoryLogger();
        const dd = await openDataDir(root, logger);
        assert.ok(logger.lines.some((l) => l.level === 'warn' && /stale/.test(l.msg)));
        await dd.release();
      }
    } finally {
      await removeDir(root);
    }
  });

  test('a lock held on another host is refused', async () => {
    const root = await tempRoot();
    try {
      await fs.writeFile(path.join(root, 'LOCK'), '123\nsome-other-host\n');
      await assert.rejects(openDataDir(root, memoryLogger()), /locked by process 123 on host some-other-host/);
    } finally {
      await removeDir(root);
    }
  });

  test('a newer FORMAT is refused with a clear message, and the lock is released', async () => {
    const root = await tempRoot();
    try {
      await fs.writeFile(path.join(root, 'FORMAT'), `wharf-store ${STORE_FORMAT_VERSION + 1}\n`);
      await assert.rejects(openDataDir(root, memoryLogger()), (err: Error) => {
        assert.ok(err instanceof DataDirError);
        assert.match(err.message, /newer Wharf/);
        return true;
      });
      await assert.rejects(fs.stat(path.join(root, 'LOCK')), { code: 'ENOENT' });
    } finally {
      await removeDir(root);
    }
  });

  test('a garbled FORMAT, a version with no migration, and a foreign directory are refused', async () => {
    const root = await tempRoot();
    try {
      await fs.writeFile(path.join(root, 'FORMAT'), 'hello');
      await assert.rejects(openDataDir(root, memoryLogger()), /not a Wharf format file/);
      await fs.writeFile(path.join(root, 'FORMAT'), 'wharf-store 0\n');
      await assert.rejects(openDataDir(root, memoryLogger()), /cannot migrate/);
      await fs.rm(path.join(root, 'FORMAT'));
      await fs.writeFile(path.join(root, 'my-thesis.tex'), '...');
      await assert.rejects(openDataDir(root, memoryLogger()), /not a Wharf data dir/);
      assert.deepEqual(await fs.readdir(root), ['my-thesis.tex']);
    } finally {
      await removeDir(root);
    }
  });
});
