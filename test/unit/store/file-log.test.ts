import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { type LogPosition, openFileLog, segmentFileName, silentLogger } from '../../../src/store/index.js';
import { payloadFor, removeDir, scanAll, tempRoot } from './helpers.js';

test('reads across more segments than the log keeps files open for', async () => {
  const root = await tempRoot();
  try {
    const dir = path.join(root, 'messages');
    const log = await openFileLog({ dir, fsync: 'batch', logger: silentLogger, segmentBytesMax: 100 });
    const positions: LogPosition[] = [];
    for (let i = 0; i < 300; i++) positions.push(log.append(1, payloadFor(i, 60)));
    await log.sync();
    assert.equal(log.segments().length, 300);
    // Random order, twice, so handles are opened, evicted and reopened.
    const order = positions.map((_, i) => (i * 7919) % positions.length);
    for (let round = 0; round < 2; round++) {
      for (const i of order) assert.deepEqual((await log.read(positions[i])).payload, payloadFor(i, 60));
    }
    const batch = await log.readBatch(order.map((i) => positions[i]));
    batch.forEach((r, k) => assert.deepEqual(r.payload, payloadFor(order[k], 60)));
    assert.equal((await scanAll(log)).length, 300);
    await log.close();
  } finally {
    await removeDir(root);
  }
});

test('segment files on disk: names, header and sizes match the log', async () => {
  const root = await tempRoot();
  try {
    const dir = path.join(root, 'messages');
    const log = await openFileLog({ dir, fsync: 'batch', logger: silentLogger, segmentBytesMax: 1000 });
    for (let i = 0; i < 50; i++) log.append(1, payloadFor(i, 91));
    await log.sync();
    const names = (await fs.readdir(dir)).sort();
    assert.deepEqual(names, log.segments().map(segmentFileName));
    let total = 0;
    for (const name of names) {
      const bytes = await fs.readFile(path.join(dir, name));
      assert.equal(bytes.subarray(0, 8).toString('latin1'), 'WHRFLOG\x01');
      assert.ok(bytes.length <= 1000);
      total += bytes.length;
    }
    assert.equal(log.sizeBytes(), total);
    await log.close();
  } finally {
    await removeDir(root);
  }
});
