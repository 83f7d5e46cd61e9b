// Recovery of the file log from what crashes and bad disks leave behind: every case must open
// without an exception, keep the longest valid prefix, and quarantine what it cut.

import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import {
  type LogPosition,
  SEGMENT_HEADER_BYTES,
  StoreCorruptionError,
  openFileLog,
  quarantineFileName,
  segmentFileName,
  silentLogger,
} from '../../../src/store/index.js';
import { memoryLogger, payloadFor, removeDir, scanAll, tempRoot } from './helpers.js';

interface Layout {
  readonly root: string;
  readonly dir: string;
  readonly quarantine: string;
}

function layout(root: string): Layout {
  return { root, dir: path.join(root, 'messages'), quarantine: path.join(root, 'quarantine') };
}

/** Writes `count` records (synced) and closes; returns their positions. */
async function writeLog(l: Layout, count: number, segmentBytesMax?: number): Promise<LogPosition[]> {
  const log = await openFileLog({ dir: l.dir, fsync: 'batch', logger: silentLogger, segmentBytesMax });
  const positions: LogPosition[] = [];
  for (let i = 0; i < count; i++) positions.push(log.append(1 + (i % 3), payloadFor(i)));
  await log.close();
  return positions;
}

const segPath = (l: Layout, id: number): string => path.join(l.dir, segmentFileName(id));

/** Opens, returns the surviving payloads (checking order) and the logger's lines; closes. */
async function recover(l: Layout, segmentBytesMax?: number) {
  const logger = memoryLogger();
  const log = await openFileLog({ dir: l.dir, fsync: 'batch', logger, segmentBytesMax });
  const records = await scanAll(log);
  const segments = log.segments();
  // The recovered log keeps working.
  const pos = log.append(7, Buffer.from('after recovery'));
  await log.sync();
  assert.deepEqual((await log.read(pos)).payload, Buffer.from('after recovery'));
  await log.close();
  return { records, segments, logger, after: pos };
}

async function quarantined(l: Layout): Promise<string[]> {
  return (await fs.readdir(l.quarantine).catch(() => [] as string[])).sort();
}

describe('file log recovery', () => {
  test('a torn last record, cut at every offset, recovers to the records before it', async () => {
    const root = await tempRoot();
    try {
      const base = layout(path.join(root, 'base'));
      const positions = await writeLog(base, 5);
      const original = await fs.readFile(segPath(base, 0));
      const lastStart = positions[4].offset;
      for (let cut = lastStart; cut < original.length; cut++) {
        const l = layout(path.join(root, `cut-${cut}`));
        await fs.mkdir(l.dir, { recursive: true });
        await fs.writeFile(segPath(l, 0), original.subarray(0, cut));
        const { records, logger } = await recover(l);
        assert.equal(records.length, 4, `cut at ${cut}`);
        records.forEach((r, i) => assert.deepEqual(r.payload, payloadFor(i)));
        if (cut > lastStart) {
          const name = quarantineFileName(0, lastStart);
          assert.deepEqual(await quarantined(l), [name]);
          assert.deepEqual(await fs.readFile(path.join(l.quarantine, name)), original.subarray(lastStart, cut));
          assert.ok(logger.lines.some((x) => x.level === 'warn' && /torn or corrupt tail/.test(x.msg)));
        } else {
          assert.deepEqual(await quarantined(l), []);
        }
        // Reopened again: 4 old records + the one written after recovery, nothing cut this time.
        const again = await recover(l);
        assert.equal(again.records.length, 5);
        assert.equal(again.logger.lines.filter((x) => x.level !== 'debug' && x.level !== 'info').length, 0);
      }
    } finally {
      await removeDir(root);
    }
  });

  test('a flipped byte anywhere in the last record drops just that record', async () => {
    const root = await tempRoot();
    try {
      const base = layout(path.join(root, 'base'));
      const positions = await writeLog(base, 5);
      const original = await fs.readFile(segPath(base, 0));
      const lastStart = positions[4].offset;
      for (let at = lastStart; at < original.length; at++) {
        const l = layout(path.join(root, `flip-${at}`));
        await fs.mkdir(l.dir, { recursive: true });
        const damaged = Buffer.from(original);
        damaged[at] ^= 0x40;
        await fs.writeFile(segPath(l, 0), damaged);
        const { records } = await recover(l);
        assert.equal(records.length, 4, `flip at ${at}`);
        const q = await fs.readFile(path.join(l.quarantine, quarantineFileName(0, lastStart)));
        assert.deepEqual(q, damaged.subarray(lastStart));
      }
    } finally {
      await removeDir(root);
    }
  });

  test('a flipped byte in an older segment cuts that segment there and keeps the later ones', async () => {
    const root = await tempRoot();
    try {
      const l = layout(root);
      const positions = await writeLog(l, 40, 256);
      const inFirst = positions.filter((p) => p.segment === 0);
      assert.ok(inFirst.length >= 3);
      const victim = inFirst[1];
      const file = segPath(l, 0);
      const bytes = await fs.readFile(file);
      bytes[victim.offset + 10] ^= 0xff;
      await fs.writeFile(file, bytes);

      const { records, segments, logger } = await recover(l, 256);
      const expected = positions.filter((p) => p.segment !== 0 || p.offset < victim.offset);
      assert.deepEqual(
        records.map((r) => r.pos),
        expected,
      );
      assert.ok(segments.includes(0), 'the damaged segment stays, shortened');
      assert.equal((await fs.stat(file)).size, victim.offset);
      assert.deepEqual(await quarantined(l), [quarantineFileName(0, victim.offset)]);
      assert.ok(logger.lines.some((x) => x.level === 'error' && /older segment/.test(x.msg)));
    } finally {
      await removeDir(root);
    }
  });

  test('a garbage file is quarantined whole and the log starts over in it', async () => {
    const root = await tempRoot();
    try {
      const l = layout(root);
      await fs.mkdir(l.dir, { recursive: true });
      const garbage = Buffer.alloc(5000);
      for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) & 0xff;
      await fs.writeFile(segPath(l, 0), garbage);
      const { records } = await recover(l);
      assert.deepEqual(records, []);
      assert.deepEqual(await fs.readFile(path.join(l.quarantine, quarantineFileName(0, 0))), garbage);
      const again = await recover(l);
      assert.equal(again.records.length, 1);
    } finally {
      await removeDir(root);
    }
  });

  test('garbage after a valid header, and a valid log followed by zeros', async () => {
    const root = await tempRoot();
    try {
      const a = layout(path.join(root, 'a'));
      await writeLog(a, 0);
      await fs.appendFile(segPath(a, 0), Buffer.from('this is not a record at all'));
      assert.deepEqual((await recover(a)).records, []);

      const b = layout(path.join(root, 'b'));
      await writeLog(b, 3);
      await fs.appendFile(segPath(b, 0), Buffer.alloc(4096)); // a length of 0: preallocated or torn pages
      assert.equal((await recover(b)).records.length, 3);
    } finally {
      await removeDir(root);
    }
  });

  test('a length field pointing past the end of the file', async () => {
    const root = await tempRoot();
    try {
      const l = layout(root);
      const positions = await writeLog(l, 3);
      const file = segPath(l, 0);
      const bytes = await fs.readFile(file);
      bytes.writeUInt32BE(0x7fff_ffff, positions[2].offset);
      await fs.writeFile(file, bytes);
      const { records, logger } = await recover(l);
      assert.equal(records.length, 2);
      assert.ok(logger.lines.some((x) => /past the end/.test(String((x.fields as { reason?: string })?.reason))));
    } finally {
      await removeDir(root);
    }
  });

  test('empty segment files: alone, before valid segments, and last', async () => {
    const root = await tempRoot();
    try {
      const alone = layout(path.join(root, 'alone'));
      await fs.mkdir(alone.dir, { recursive: true });
      await fs.writeFile(segPath(alone, 0), Buffer.alloc(0));
      assert.deepEqual((await recover(alone)).records, []);
      assert.deepEqual(await quarantined(alone), []);

      const mixed = layout(path.join(root, 'mixed'));
      const positions = await writeLog(mixed, 30, 256);
      await fs.writeFile(segPath(mixed, 0), Buffer.alloc(0)); // an older segment emptied
      const lastId = positions[positions.length - 1].segment;
      await fs.writeFile(segPath(mixed, lastId + 1), Buffer.alloc(0)); // crash right after creating a segment
      const { records, segments } = await recover(mixed, 256);
      assert.deepEqual(
        records.map((r) => r.pos),
        positions.filter((p) => p.segment !== 0),
      );
      assert.equal(segments[segments.length - 1], lastId + 1);
    } finally {
      await removeDir(root);
    }
  });

  test('a bad header in an older segment, and a header cut short', async () => {
    const root = await tempRoot();
    try {
      const l = layout(root);
      const positions = await writeLog(l, 30, 256);
      const first = await fs.readFile(segPath(l, 0));
      first.write('NOTALOG', 0, 'latin1');
      await fs.writeFile(segPath(l, 0), first);
      const lastId = positions[positions.length - 1].segment;
      await fs.writeFile(segPath(l, lastId + 1), Buffer.from('WHRF'));
      const { records } = await recover(l, 256);
      assert.deepEqual(
        records.map((r) => r.pos),
        positions.filter((p) => p.segment !== 0),
      );
      assert.deepEqual(await quarantined(l), [quarantineFileName(0, 0), quarantineFileName(lastId + 1, 0)]);
      assert.equal((await fs.stat(segPath(l, 0))).size, SEGMENT_HEADER_BYTES);
    } finally {
      await removeDir(root);
    }
  });

  test('an unknown version byte counts as a damaged header (a torn header looks the same)', async () => {
    const root = await tempRoot();
    try {
      const l = layout(root);
      await writeLog(l, 2);
      const bytes = await fs.readFile(segPath(l, 0));
      bytes[7] = 0xa5;
      await fs.writeFile(segPath(l, 0), bytes);
      const { records, logger } = await recover(l);
      assert.deepEqual(records, []);
      assert.deepEqual(await fs.readFile(path.join(l.quarantine, quarantineFileName(0, 0))), bytes, 'kept in quarantine');
      assert.ok(logger.lines.some((x) => /unknown segment format version 165/.test(String((x.fields as { reason?: string }).reason))));
    } finally {
      await removeDir(root);
    }
  });

  test('files that are not segments are left alone', async () => {
    const root = await tempRoot();
    try {
      const l = layout(root);
      await writeLog(l, 2);
      await fs.writeFile(path.join(l.dir, 'README'), 'hello');
      await fs.writeFile(path.join(l.dir, '42.log'), 'not zero-padded');
      const { records, logger } = await recover(l);
      assert.equal(records.length, 2);
      assert.equal(await fs.readFile(path.join(l.dir, '42.log'), 'utf8'), 'not zero-padded');
      assert.ok(logger.lines.some((x) => x.level === 'warn' && /not a segment/.test(x.msg)));
    } finally {
      await removeDir(root);
    }
  });

  test('the same cut twice gets a second quarantine file', async () => {
    const root = await tempRoot();
    try {
      const l = layout(root);
      const positions = await writeLog(l, 2);
      const file = segPath(l, 0);
      const good = await fs.readFile(file);
      await fs.appendFile(file, Buffer.from('torn-1'));
      await recover(l);
      await fs.writeFile(file, Buffer.concat([good, Buffer.from('torn-2')]));
      await recover(l);
      const names = await quarantined(l);
      assert.equal(names.length, 2);
      const stem = quarantineFileName(0, positions[1].offset + positions[1].offset - positions[0].offset);
      assert.ok(names.includes(stem), `${names.join()} should include ${stem}`);
    } finally {
      await removeDir(root);
    }
  });

  test('damage after open: read() throws StoreCorruptionError, scan() logs and skips', async () => {
    const root = await tempRoot();
    try {
      const l = layout(root);
      const logger = memoryLogger();
      const log = await openFileLog({ dir: l.dir, fsync: 'batch', logger });
      const positions = [0, 1, 2].map((i) => log.append(1, payloadFor(i)));
      await log.sync();
      const fh = await fs.open(segPath(l, 0), 'r+');
      await fh.write(Buffer.from([0xee]), 0, 1, positions[1].offset + 12);
      await fh.close();
      await assert.rejects(log.read(positions[1]), StoreCorruptionError);
      assert.deepEqual((await log.read(positions[0])).payload, payloadFor(0));
      await assert.rejects(log.readBatch([positions[0], positions[1]]), StoreCorruptionError);
      const records = await scanAll(log);
      assert.equal(records.length, 1);
      assert.ok(logger.lines.some((x) => x.level === 'error' && /scan/.test(x.msg)));
      await log.close();
    } finally {
      await removeDir(root);
    }
  });
});
