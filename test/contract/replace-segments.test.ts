// Log.replaceSegments on both store variants (the file log and the memory log over a MemoryDisk):
// a replacement commits as a whole, readers see old or new segments, abort leaves no trace, and a
// power loss at any step of a commit leaves either the old segments or the replacement, never a
// mix and never a loss (docs/storage-format.md, "Replacing segments").

import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import {
  type Log,
  type LogRecord,
  MemoryDisk,
  type MemoryLog,
  openFileLog,
  reopenMemoryLog,
  silentLogger,
} from '../../src/store/index.js';

const SEGMENT_BYTES = 300;

function payload(i: number): Buffer {
  const b = Buffer.alloc(40);
  b.writeUInt32BE(i, 0);
  for (let j = 4; j < b.length; j++) b[j] = (i * 7 + j) & 0xff;
  return b;
}

const idOf = (r: LogRecord): number => r.payload.readUInt32BE(0);

async function scanIds(log: Log): Promise<number[]> {
  const out: number[] = [];
  await log.scan((r) => out.push(idOf(r)));
  return out;
}

/** Appends `n` records (several segments), syncs, and returns them by segment. */
async function fill(log: Log, n: number): Promise<Map<number, number[]>> {
  const bySegment = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const pos = log.append(1, payload(i));
    bySegment.set(pos.segment, [...(bySegment.get(pos.segment) ?? []), i]);
  }
  await log.sync();
  return bySegment;
}

/** Replaces segments first..last with their records that `keep` accepts. */
async function replace(log: Log, first: number, last: number, keep: (id: number) => boolean, onSwitch?: () => void): Promise<Map<number, number>> {
  const positions = new Map<number, number>();
  const rewriter = log.replaceSegments(first, last);
  const records: LogRecord[] = [];
  await log.scan((r) => {
    if (r.pos.segment >= first && r.pos.segment <= last) records.push(r);
  });
  for (const r of records) {
    if (keep(idOf(r))) positions.set(idOf(r), await rewriter.append(r.type, r.payload));
  }
  await rewriter.commit(onSwitch);
  return positions;
}

type Variant = { name: string; open: () => Promise<{ log: Log; reopen: () => Promise<Log>; files: () => Promise<string[]>; done: () => Promise<void> }> };

const variants: Variant[] = [
  {
    name: 'file log',
    async open() {
      const root = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-replace-'));
      const dir = path.join(root, 'log');
      const opts = { dir, fsync: 'batch' as const, logger: silentLogger, segmentBytesMax: SEGMENT_BYTES };
      let log = await openFileLog(opts);
      return {
        log,
        reopen: async () => {
          await log.close();
          log = await openFileLog(opts);
          return log;
        },
        files: async () => (await fs.readdir(dir)).sort(),
        done: async () => {
          await log.close().catch(() => {});
          await fs.rm(root, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'memory log',
    async open() {
      const disk = new MemoryDisk();
      const opts = { logger: silentLogger, segmentBytesMax: SEGMENT_BYTES };
      let log: Log = await reopenMemoryLog(disk, opts);
      return {
        log,
        reopen: async () => {
          await log.close();
          log = await reopenMemoryLog(disk, opts);
          return log;
        },
        files: async () => disk.fileNames(),
        done: async () => {
          await log.close().catch(() => {});
        },
      };
    },
  },
];

for (const v of variants) {
  describe(`replaceSegments: ${v.name}`, () => {
    test('a committed replacement takes the place of the segments it replaces, also after a restart', async () => {
      const h = await v.open();
      try {
        const segs = await fill(h.log, 30);
        const ids = h.log.segments();
        assert.ok(ids.length >= 5);
        const [first, , last] = ids.slice(1);
        let switched = 0;
        const positions = await replace(h.log, first, last, (i) => i % 2 === 0, () => switched++);
        assert.equal(switched, 1);
        assert.deepEqual(h.log.segments(), [ids[0], first, ...ids.slice(4)]);
        const kept = [...(segs.get(first) ?? []), ...(segs.get(ids[2]) ?? []), ...(segs.get(last) ?? [])].filter((i) => i % 2 === 0);
        const expected = (await scanIds(h.log)).slice();
        assert.deepEqual(expected, [...(segs.get(ids[0]) ?? []), ...kept, ...ids.slice(4).flatMap((s) => segs.get(s) ?? [])]);
        for (const [id, offset] of positions) assert.equal(idOf(await h.log.read({ segment: first, offset })), id);
        // Appends carry on in the active segment.
        h.log.append(1, payload(1000));
        await h.log.sync();
        const log2 = await h.reopen();
        assert.deepEqual(await scanIds(log2), [...expected, 1000]);
        assert.deepEqual(log2.segments().slice(0, 2), [ids[0], first]);
        assert.ok((await h.files()).every((f) => !f.endsWith('.swap') && !f.endsWith('.cleaned')));
      } finally {
        await h.done();
      }
    });

    test('a replacement with no records leaves an empty segment; reads skip it', async () => {
      const h = await v.open();
      try {
        const segs = await fill(h.log, 20);
        const ids = h.log.segments();
        await replace(h.log, ids[0], ids[1], () => false);
        const rest = ids.slice(2).flatMap((s) => segs.get(s) ?? []);
        assert.deepEqual(await scanIds(h.log), rest);
        const from = await h.log.readFrom({ segment: ids[0], offset: 8 }, 1 << 20);
        assert.deepEqual(from.map(idOf), rest);
      } finally {
        await h.done();
      }
    });

    test('abort leaves the old segments and no file behind', async () => {
      const h = await v.open();
      try {
        await fill(h.log, 20);
        const before = await h.files();
        const ids = h.log.segments();
        const rewriter = h.log.replaceSegments(ids[0], ids[1]);
        await rewriter.append(1, payload(5));
        await rewriter.append(1, Buffer.alloc(5000)); // bigger than the write buffer? still fine
        await rewriter.abort();
        assert.deepEqual(await h.files(), before);
        assert.deepEqual(h.log.segments(), ids);
        assert.equal((await scanIds(h.log)).length, 20);
      } finally {
        await h.done();
      }
    });

    test('the active segment, missing or undurable segments cannot be replaced', async () => {
      const h = await v.open();
      try {
        await fill(h.log, 20);
        const ids = h.log.segments();
        assert.throws(() => h.log.replaceSegments(ids[0], h.log.activeSegment()), RangeError);
        assert.throws(() => h.log.replaceSegments(ids[ids.length - 1] + 5, ids[ids.length - 1] + 6), RangeError);
        assert.throws(() => h.log.replaceSegments(3, 2), RangeError);
        await h.log.deleteSegmentsBefore(ids[1]);
        const rewriter = h.log.replaceSegments(ids[1], ids[2]);
        await h.log.deleteSegmentsBefore(ids[2]); // the segments change before the commit
        await assert.rejects(rewriter.commit(), RangeError);
        assert.ok((await h.files()).every((f) => !f.endsWith('.swap') && !f.endsWith('.cleaned')));
      } finally {
        await h.done();
      }
    });

    test('segments before and after a replacement can still be deleted', async () => {
      const h = await v.open();
      try {
        const segs = await fill(h.log, 30);
        const ids = h.log.segments();
        await replace(h.log, ids[1], ids[2], () => true);
        await h.log.deleteSegmentsBefore(ids[3]);
        assert.deepEqual(await scanIds(h.log), ids.slice(3).flatMap((s) => segs.get(s) ?? []));
        const log2 = await h.reopen();
        assert.deepEqual(log2.segments(), ids.slice(3));
      } finally {
        await h.done();
      }
    });

    test('reads running while a replacement commits return records of the old or the new segments', async () => {
      const h = await v.open();
      try {
        await fill(h.log, 40);
        const ids = h.log.segments();
        const all = await scanIds(h.log);
        let stop = false;
        const reader = (async () => {
          let reads = 0;
          while (!stop || reads < 3) {
            reads++;
            try {
              const got = (await h.log.readFrom({ segment: ids[0], offset: 8 }, 1 << 20)).map(idOf);
              // Old segments, the replacement, or a read cut short by the switch: always in order, never invented.
              for (let i = 1; i < got.length; i++) assert.ok(got[i] > got[i - 1]);
              for (const id of got) assert.ok(all.includes(id));
            } catch (err) {
              assert.ok(err instanceof RangeError || (err as NodeJS.ErrnoException).code !== undefined, String(err));
            }
          }
        })();
        await replace(h.log, ids[0], ids[2], (i) => i % 3 !== 0);
        stop = true;
        await reader;
      } finally {
        await h.done();
      }
    });
  });
}

describe('replaceSegments: fsync never', () => {
  test('segments written to the OS count as settled, as they do for sync()', async () => {
    const disk = new MemoryDisk();
    const log = await reopenMemoryLog(disk, { logger: silentLogger, segmentBytesMax: SEGMENT_BYTES, fsync: 'never' });
    try {
      const segs = await fill(log, 20);
      const ids = log.segments();
      await replace(log, ids[0], ids[1], () => false);
      assert.deepEqual(await scanIds(log), ids.slice(2).flatMap((s) => segs.get(s) ?? []));
    } finally {
      await log.close();
    }
  });
});

describe('replaceSegments: recovery', () => {
  test('a swap file left by a crash is finished; a .cleaned file is dropped', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-replace-'));
    const dir = path.join(root, 'log');
    try {
      const opts = { dir, fsync: 'batch' as const, logger: silentLogger, segmentBytesMax: SEGMENT_BYTES };
      let log = await openFileLog(opts);
      const segs = await fill(log, 30);
      const ids = log.segments();
      await log.close();
      // Build by hand what a crash right after committing the swap file leaves: the swap file
      // beside all the old segments, and a stray unfinished replacement.
      const donor = path.join(root, 'donor');
      const d = await openFileLog({ ...opts, dir: donor, segmentBytesMax: 1 << 20 });
      for (const s of ids.slice(1, 3)) for (const i of segs.get(s) ?? []) if (i % 2 === 1) d.append(1, payload(i));
      await d.close();
      const name = (id: number): string => String(id).padStart(20, '0');
      await fs.copyFile(path.join(donor, `${name(0)}.log`), path.join(dir, `${name(ids[1])}-${name(ids[2])}.swap`));
      await fs.writeFile(path.join(dir, `${name(ids[3])}.cleaned`), 'half written');
      log = await openFileLog(opts);
      const expected = [
        ...(segs.get(ids[0]) ?? []),
        ...ids.slice(1, 3).flatMap((s) => segs.get(s) ?? []).filter((i) => i % 2 === 1),
        ...ids.slice(3).flatMap((s) => segs.get(s) ?? []),
      ];
      assert.deepEqual(await scanIds(log), expected);
      assert.deepEqual(log.segments(), [ids[0], ids[1], ...ids.slice(3)]);
      await log.close();
      assert.ok((await fs.readdir(dir)).every((f) => f.endsWith('.log')));
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });

  test('a power loss at any step of a commit leaves the old segments or the replacement', async () => {
    const opts = { logger: silentLogger, segmentBytesMax: SEGMENT_BYTES };
    let sawOld = 0;
    let sawNew = 0;
    for (const tear of [false, true]) {
      // Steps run past the commit too: the old files are removed and the swap file renamed after it.
      for (let step = 0, doneSteps = 0; doneSteps < 12; step++) {
        const disk = new MemoryDisk({ seed: step + 1 });
        let log: MemoryLog = await reopenMemoryLog(disk, opts);
        const segs = await fill(log, 30);
        const ids = log.segments();
        const old = await scanIds(log);
        const keep = (i: number): boolean => i % 2 === 0;
        const replaced = new Set([ids[1], ids[2], ids[3]].flatMap((s) => segs.get(s) ?? []));
        const cleaned = old.filter((i) => !replaced.has(i) || keep(i));
        let finished = false;
        const running = replace(log, ids[1], ids[3], keep).then(
          () => { finished = true; },
          () => {},
        );
        for (let t = 0; t < step && !finished; t++) await new Promise((r) => setImmediate(r));
        const done = finished;
        log = await log.crash({ tear });
        await running;
        const after = await scanIds(log);
        if (!done && JSON.stringify(after) === JSON.stringify(old)) sawOld++;
        else {
          assert.deepEqual(after, cleaned, `tear=${tear} step ${step}: neither the old segments nor the replacement`);
          sawNew++;
        }
        await log.close();
        if (done) doneSteps++;
      }
    }
    assert.ok(sawOld > 0 && sawNew > 0, `old ${sawOld}, new ${sawNew}`);
  });
});
