// Write and fsync failures, full disks and crashes, injected through the MemoryDisk: the same log
// code as the file log must report lost records to sync() callers and keep working.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type MemoryLog,
  MemoryDisk,
  openMemoryLog,
  reopenMemoryLog,
  segmentFileName,
  silentLogger,
} from '../../../src/store/index.js';
import { memoryLogger, payloadFor, scanAll } from './helpers.js';

const payloads = async (log: MemoryLog): Promise<Buffer[]> => (await scanAll(log)).map((r) => r.payload);
const errCode = (code: string) => (err: unknown) => (err as NodeJS.ErrnoException).code === code;

describe('memory log faults', () => {
  test('ENOSPC on fsync: sync rejects, the records are gone, later appends work', async () => {
    const logger = memoryLogger();
    const log = openMemoryLog({ logger });
    const a = log.append(1, Buffer.from('a'));
    await log.sync();
    const b = log.append(1, Buffer.from('b'));
    log.append(1, Buffer.from('c'));
    log.disk.failNextFsync('ENOSPC');
    await assert.rejects(log.sync(), errCode('ENOSPC'));
    assert.ok(logger.lines.some((l) => l.level === 'error' && /write failed/.test(l.msg)));
    await assert.rejects(log.read(b), RangeError, 'a lost position is not readable');
    assert.notEqual(log.activeSegment(), a.segment, 'continues in a fresh segment');

    const d = log.append(2, Buffer.from('d'));
    await log.sync();
    assert.deepEqual((await log.read(d)).payload, Buffer.from('d'));
    assert.deepEqual(await payloads(log), [Buffer.from('a'), Buffer.from('d')]);

    const after = await log.crash();
    assert.deepEqual(await payloads(after), [Buffer.from('a'), Buffer.from('d')]);
    await after.close();
  });

  test('ENOSPC on write: same outcome', async () => {
    const log = openMemoryLog({ logger: silentLogger });
    log.append(1, Buffer.from('a'));
    await log.sync();
    log.append(1, Buffer.from('b'));
    log.disk.failNextWrite();
    await assert.rejects(log.sync(), errCode('ENOSPC'));
    log.append(1, Buffer.from('c'));
    await log.sync();
    const after = await log.crash();
    assert.deepEqual(await payloads(after), [Buffer.from('a'), Buffer.from('c')]);
  });

  test('every waiter of the failed round and of rounds queued behind it rejects', async () => {
    const log = openMemoryLog({ logger: silentLogger });
    log.disk.failNextFsync();
    const waits: Promise<void>[] = [];
    for (let i = 0; i < 5; i++) {
      log.append(1, payloadFor(i));
      waits.push(log.sync());
    }
    await Promise.resolve(); // let the first round start
    for (let i = 5; i < 10; i++) {
      log.append(1, payloadFor(i));
      waits.push(log.sync());
    }
    const results = await Promise.allSettled(waits);
    assert.ok(results.every((r) => r.status === 'rejected'));
    assert.deepEqual(await payloads(log), []);
    log.append(1, Buffer.from('ok'));
    await log.sync();
  });

  test('records lost before anyone called sync() make the next sync() reject', async () => {
    const log = openMemoryLog({ logger: silentLogger });
    log.disk.failNextFsync();
    log.append(1, Buffer.from('claimed'));
    const first = log.sync();
    log.append(1, Buffer.from('unclaimed')); // its owner has not called sync() yet
    await assert.rejects(first);
    await assert.rejects(log.sync(), errCode('ENOSPC'));
    log.append(1, Buffer.from('later'));
    await log.sync();
    assert.deepEqual(await payloads(log), [Buffer.from('later')]);
  });

  test('a failure after segments rolled over removes the segments that never became durable', async () => {
    const log = openMemoryLog({ logger: silentLogger, segmentBytesMax: 200 });
    for (let i = 0; i < 5; i++) log.append(1, payloadFor(i));
    await log.sync();
    const durableSegments = [...log.segments()];
    for (let i = 5; i < 40; i++) log.append(1, payloadFor(i));
    await log.flush(); // new segment files exist now
    assert.ok(log.segments().length > durableSegments.length + 2);
    log.disk.failNextFsync();
    await assert.rejects(log.sync());
    const segs = log.segments();
    assert.deepEqual(segs.slice(0, -1), durableSegments);
    assert.deepEqual(log.disk.fileNames(), durableSegments.map(segmentFileName));
    assert.equal((await scanAll(log)).length, 5);
    const after = await log.crash();
    assert.equal((await scanAll(after)).length, 5);
  });

  test('a full disk: appends fail until segments are deleted', async () => {
    const log = openMemoryLog({ logger: silentLogger, segmentBytesMax: 300, faults: { capacityBytes: 2000 } });
    let failed = false;
    for (let i = 0; i < 100 && !failed; i++) {
      log.append(1, payloadFor(i, 40));
      failed = await log.sync().then(
        () => false,
        (err: NodeJS.ErrnoException) => err.code === 'ENOSPC',
      );
    }
    assert.ok(failed, 'the disk filled up');
    assert.ok(log.disk.usedBytes() <= 2000);
    await log.deleteSegmentsBefore(log.activeSegment());
    log.append(1, Buffer.from('room again'));
    await log.sync();
    assert.deepEqual((await scanAll(log)).map((r) => r.payload.toString()), ['room again']);
  });

  test('fsync failures are planned by number', async () => {
    const log = openMemoryLog({ logger: silentLogger, faults: { failFsyncAt: [2] } });
    log.append(1, Buffer.from('1'));
    await log.sync();
    log.append(1, Buffer.from('2'));
    await assert.rejects(log.sync());
    log.append(1, Buffer.from('3'));
    await log.sync();
    assert.deepEqual((await payloads(log)).map(String), ['1', '3']);
  });

  test('if cutting back fails too, it is retried before anything new is written', async () => {
    const logger = memoryLogger();
    const log = openMemoryLog({ logger, faults: { failFsyncAt: [2, 3, 4] } });
    log.append(1, Buffer.from('1'));
    await log.sync(); // fsync 1
    log.append(1, Buffer.from('2'));
    await assert.rejects(log.sync()); // fsync 2 fails; the cut-back's fsync 3 fails too
    assert.ok(logger.lines.some((l) => /retrying before the next write/.test(l.msg)));
    log.append(1, Buffer.from('3'));
    await assert.rejects(log.sync(), errCode('ENOSPC')); // retry: fsync 4 fails, nothing new written
    await log.sync(); // retry succeeds, then '3' is written and synced
    assert.deepEqual((await payloads(log)).map(String), ['1', '3']);
    const after = await log.crash();
    assert.deepEqual((await payloads(after)).map(String), ['1', '3']);
  });

  test('fsync never: a failed write drops only what was not written', async () => {
    const log = openMemoryLog({ logger: silentLogger, fsync: 'never' });
    log.append(1, Buffer.from('a'));
    await log.sync();
    log.append(1, Buffer.from('b'));
    log.disk.failNextWrite();
    await assert.rejects(log.sync());
    assert.deepEqual((await payloads(log)).map(String), ['a']);
  });

  test('crash keeps exactly what was synced', async () => {
    const log = openMemoryLog({ logger: silentLogger });
    log.append(1, Buffer.from('synced'));
    await log.sync();
    log.append(1, Buffer.from('written, not synced'));
    await log.flush();
    log.append(1, Buffer.from('buffered'));
    const pending = log.sync();
    const after = await log.crash();
    await assert.rejects(pending);
    assert.throws(() => log.append(1, Buffer.from('x')), /dead/);
    assert.deepEqual((await payloads(after)).map(String), ['synced']);
    await after.close();
  });

  test('a torn crash keeps the synced records and cuts the garbage', async () => {
    for (let seed = 1; seed <= 30; seed++) {
      const log = openMemoryLog({ logger: silentLogger, faults: { seed } });
      for (let i = 0; i < 10; i++) log.append(1, payloadFor(i, 200));
      await log.sync();
      for (let i = 10; i < 20; i++) log.append(1, payloadFor(i, 200));
      await log.flush();
      const after = await log.crash({ tear: true });
      const got = await payloads(after);
      assert.ok(got.length >= 10 && got.length <= 20, `seed ${seed}: ${got.length}`);
      got.forEach((p, i) => assert.deepEqual(p, payloadFor(i, 200)));
    }
  });

  test('openMemoryLog wants an empty disk; reopenMemoryLog recovers a used one', async () => {
    const disk = new MemoryDisk();
    const log = openMemoryLog({ disk, logger: silentLogger });
    log.append(1, Buffer.from('kept'));
    await log.close();
    assert.throws(() => openMemoryLog({ disk }), /reopenMemoryLog/);
    const again = await reopenMemoryLog(disk, { logger: silentLogger });
    assert.deepEqual((await payloads(again)).map(String), ['kept']);
  });
});
