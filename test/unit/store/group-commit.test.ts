// Group commit and write coalescing, asserted on counts (never on time).

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { type Log, openFileLog, openMemoryLog, silentLogger } from '../../../src/store/index.js';
import { payloadFor, removeDir, scanAll, tempRoot } from './helpers.js';

/** `clients` concurrent loops of append + await sync(); returns how many sync() calls were made. */
async function publishers(log: Log, clients: number, rounds: number): Promise<number> {
  let calls = 0;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let r = 0; r < rounds; r++) {
        log.append(1, payloadFor(c * 1000 + r, 64));
        calls++;
        await log.sync();
      }
    }),
  );
  return calls;
}

describe('group commit', () => {
  test('batch: concurrent sync() callers share fdatasyncs, one in flight at a time (memory log)', async () => {
    const log = openMemoryLog({ logger: silentLogger });
    const calls = await publishers(log, 20, 25);
    assert.equal(calls, 500);
    assert.ok(log.stats.fsyncs <= calls / 10, `${log.stats.fsyncs} fsyncs for ${calls} sync() calls`);
    assert.ok(log.stats.fsyncs >= 25, 'each client waits for its own records, so rounds >= rounds per client');
    assert.equal(log.disk.counters.fsyncsInFlightMax, 1);
    const after = await log.crash();
    assert.equal((await scanAll(after)).length, 500);
  });

  test('batch: the same on the file system', async () => {
    const root = await tempRoot();
    try {
      const log = await openFileLog({ dir: path.join(root, 'messages'), fsync: 'batch', logger: silentLogger });
      const calls = await publishers(log, 20, 25);
      assert.ok(log.stats.fsyncs <= calls / 10, `${log.stats.fsyncs} fsyncs for ${calls} sync() calls`);
      await log.close();
    } finally {
      await removeDir(root);
    }
  });

  test('batch: a burst of appends and syncs in one tick costs one write and one fdatasync', async () => {
    const log = openMemoryLog({ logger: silentLogger });
    const waits: Promise<void>[] = [];
    for (let i = 0; i < 1000; i++) {
      log.append(1, payloadFor(i, 32));
      waits.push(log.sync());
    }
    await Promise.all(waits);
    assert.equal(log.stats.fsyncs, 1);
    assert.equal(log.stats.writes, 1);
  });

  test('batch: callers arriving during an fdatasync share the next one', async () => {
    const log = openMemoryLog({ logger: silentLogger });
    log.append(1, Buffer.from('first'));
    const first = log.sync();
    await new Promise((resolve) => setImmediate(resolve)); // the first round is now under way
    const later: Promise<void>[] = [];
    for (let i = 0; i < 10; i++) {
      log.append(1, payloadFor(i));
      later.push(log.sync());
    }
    await Promise.all([first, ...later]);
    assert.equal(log.stats.fsyncs, 2);
    assert.equal(log.disk.counters.fsyncsInFlightMax, 1);
  });

  test('always: every sync() with new records gets its own write and fdatasync, queued', async () => {
    const log = openMemoryLog({ logger: silentLogger, fsync: 'always' });
    const waits: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      log.append(1, payloadFor(i));
      waits.push(log.sync());
    }
    await Promise.all(waits);
    assert.equal(log.stats.fsyncs, 50);
    assert.equal(log.disk.counters.fsyncsInFlightMax, 1);
    await log.sync(); // nothing new: no fdatasync
    assert.equal(log.stats.fsyncs, 50);
  });

  test('never: sync() writes to the OS without fdatasync; close() fsyncs', async () => {
    const log = openMemoryLog({ logger: silentLogger, fsync: 'never' });
    for (let i = 0; i < 100; i++) log.append(1, payloadFor(i));
    await log.sync();
    assert.equal(log.stats.fsyncs, 0);
    assert.ok(log.stats.writes >= 1);
    await log.close();
    assert.ok(log.stats.fsyncs >= 1);
  });

  test('appends are buffered: a full write buffer is written in the background, in few writes', async () => {
    const log = openMemoryLog({ logger: silentLogger, writeBufferBytesMax: 4096 });
    for (let i = 0; i < 1000; i++) log.append(1, payloadFor(i, 91)); // 100 bytes a record
    await log.flush();
    assert.ok(log.stats.writes <= Math.ceil((1000 * 100) / 4096) + 1, `${log.stats.writes} writes`);
    assert.equal(log.stats.fsyncs, 0);
  });
});
