import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { readFileIfExists, writeFileAtomic } from '../../../src/store/index.js';
import { removeDir, tempRoot } from './helpers.js';

describe('atomic files', () => {
  test('write, replace and read back; no temp files left', async () => {
    const root = await tempRoot();
    try {
      const file = path.join(root, 'meta.json');
      await writeFileAtomic(file, '{"v":1}');
      assert.equal((await readFileIfExists(file))?.toString(), '{"v":1}');
      await writeFileAtomic(file, Buffer.from('{"v":2}'));
      assert.equal((await readFileIfExists(file))?.toString(), '{"v":2}');
      assert.deepEqual(await fs.readdir(root), ['meta.json']);
    } finally {
      await removeDir(root);
    }
  });

  test('a missing file reads as undefined; other errors are thrown', async () => {
    const root = await tempRoot();
    try {
      assert.equal(await readFileIfExists(path.join(root, 'nope.json')), undefined);
      await assert.rejects(readFileIfExists(root), { code: 'EISDIR' });
    } finally {
      await removeDir(root);
    }
  });

  test('a failed write leaves the old contents and no temp file', async () => {
    const root = await tempRoot();
    try {
      const file = path.join(root, 'meta.json');
      await writeFileAtomic(file, 'old');
      await fs.mkdir(path.join(root, 'blocker'));
      await assert.rejects(writeFileAtomic(path.join(root, 'blocker'), 'x')); // rename over a directory fails
      await assert.rejects(writeFileAtomic(path.join(root, 'missing', 'f'), 'x'), { code: 'ENOENT' });
      assert.equal(await fs.readFile(file, 'utf8'), 'old');
      assert.deepEqual((await fs.readdir(root)).sort(), ['blocker', 'meta.json']);
    } finally {
      await removeDir(root);
    }
  });

  test('concurrent writers: the file holds one complete version', async () => {
    const root = await tempRoot();
    try {
      const file = path.join(root, 'meta.json');
      const versions = Array.from({ length: 20 }, (_, i) => JSON.stringify({ i, pad: 'x'.repeat(1000 * i) }));
      await Promise.all(versions.map((v) => writeFileAtomic(file, v)));
      assert.ok(versions.includes(await fs.readFile(file, 'utf8')));
      assert.deepEqual(await fs.readdir(root), ['meta.json']);
    } finally {
      await removeDir(root);
    }
  });
});
