// One suite every Log implementation must pass (STYLE.md habit 7). A variant calls
// runLogContract() with a function that opens its log on a directory; opening the same directory
// again must see what was synced (for persistent variants).

import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { FsyncPolicy, Log, LogOptions, LogPosition, LogRecord } from '../../src/store/index.js';

export type LogTuning = Partial<Omit<LogOptions, 'dir' | 'logger'>>;
export type OpenLog = (dir: string, tuning?: LogTuning) => Promise<Log>;

export interface ContractFeatures {
  /** Reopening the same directory sees synced records. Default true. */
  readonly persistent?: boolean;
}

const RECORD_OVERHEAD = 9;

export function payloadFor(i: number, bytes = 16 + (i % 50)): Buffer {
  const b = Buffer.alloc(bytes);
  for (let j = 0; j < bytes; j++) b[j] = (i * 31 + j * 7) & 0xff;
  if (bytes >= 4) b.writeUInt32BE(i >>> 0, 0);
  return b;
}

export async function scanAll(log: Log, from?: LogPosition): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  await log.scan((r) => out.push(r), from);
  return out;
}

async function tempDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'wharf-log-contract-'));
}

export function runLogContract(name: string, open: OpenLog, features: ContractFeatures = {}): void {
  const persistent = features.persistent ?? true;

  /** Opens a log in a fresh directory, runs `fn`, closes the log and removes the directory. */
  async function withLog(tuning: LogTuning, fn: (log: Log, dir: string) => Promise<void>): Promise<void> {
    const dir = await tempDir();
    const log = await open(dir, tuning);
    try {
      await fn(log, dir);
    } finally {
      await log.close().catch(() => {});
      await fs.rm(dir, { recursive: true, force: true });
    }
  }

  describe(`Log contract: ${name}`, () => {
    test('a new log is empty, with one active segment', () =>
      withLog({}, async (log) => {
        assert.equal(log.segments().length, 1);
        assert.equal(log.activeSegment(), log.segments()[0]);
        assert.deepEqual(await scanAll(log), []);
        await log.sync();
        assert.deepEqual(log.stats, { ...log.stats, appends: 0, bytesAppended: 0 });
      }));

    for (const fsync of ['batch', 'always', 'never'] as FsyncPolicy[]) {
      test(`append then read, buffered, flushed and synced (fsync ${fsync})`, () =>
        withLog({ fsync }, async (log) => {
          const positions: LogPosition[] = [];
          for (let i = 0; i < 20; i++) positions.push(log.append(i % 7, payloadFor(i)));
          const check = async (): Promise<void> => {
            for (let i = 0; i < 20; i++) {
              const r = await log.read(positions[i]);
              assert.equal(r.type, i % 7);
              assert.deepEqual(r.payload, payloadFor(i));
              assert.deepEqual(r.pos, positions[i]);
              assert.equal(r.size, payloadFor(i).length + RECORD_OVERHEAD);
            }
          };
          await check(); // still in the write buffer
          await log.flush();
          await check();
          await log.sync();
          await check();
        }));
    }

    test('positions increase, within a segment and across segments', () =>
      withLog({ segmentBytesMax: 512 }, async (log) => {
        let prev: LogPosition | undefined;
        for (let i = 0; i < 100; i++) {
          const pos = log.append(1, payloadFor(i));
          if (prev) assert.ok(pos.segment > prev.segment || (pos.segment === prev.segment && pos.offset > prev.offset));
          prev = pos;
        }
      }));

    test('a multi-part payload is stored as its concatenation; empty payloads work', () =>
      withLog({}, async (log) => {
        const parts = [Buffer.from('head|'), Buffer.alloc(0), Buffer.from('body')];
        const a = log.append(3, parts);
        const b = log.append(4, Buffer.alloc(0));
        const c = log.append(5, []);
        assert.deepEqual((await log.read(a)).payload, Buffer.from('head|body'));
        assert.deepEqual((await log.read(b)).payload, Buffer.alloc(0));
        assert.equal((await log.read(c)).size, RECORD_OVERHEAD);
        await log.sync();
        assert.deepEqual((await log.read(a)).payload, Buffer.from('head|body'));
      }));

    test('types 0..255 are accepted, anything else is a RangeError', () =>
      withLog({}, async (log) => {
        assert.equal((await log.read(log.append(0, Buffer.from('x')))).type, 0);
        assert.equal((await log.read(log.append(255, Buffer.from('x')))).type, 255);
        for (const bad of [-1, 256, 1.5, Number.NaN]) assert.throws(() => log.append(bad, Buffer.from('x')), RangeError);
        assert.equal(log.stats.appends, 2);
      }));

    test('records are copies: changing the source or appending more does not change them', () =>
      withLog({ writeBufferBytesMax: 256 }, async (log) => {
        const src = Buffer.from('original');
        const pos = log.append(1, src);
        src.fill(0);
        const r = await log.read(pos);
        for (let i = 0; i < 50; i++) log.append(2, payloadFor(i, 100));
        await log.sync();
        for (let i = 0; i < 50; i++) log.append(2, payloadFor(i + 100, 100));
        assert.deepEqual(r.payload, Buffer.from('original'));
        assert.deepEqual((await log.read(pos)).payload, Buffer.from('original'));
      }));

    test('scan visits every record in order, optionally from a position', () =>
      withLog({ segmentBytesMax: 700, writeBufferBytesMax: 300 }, async (log) => {
        const positions: LogPosition[] = [];
        for (let i = 0; i < 60; i++) {
          positions.push(log.append(i % 256, payloadFor(i)));
          if (i === 30) await log.sync();
        }
        const all = await scanAll(log);
        assert.deepEqual(
          all.map((r) => r.pos),
          positions,
        );
        all.forEach((r, i) => assert.deepEqual(r.payload, payloadFor(i)));
        const tail = await scanAll(log, positions[41]);
        assert.deepEqual(
          tail.map((r) => r.pos),
          positions.slice(41),
        );
      }));

    test('scan does not visit records the callback appends', () =>
      withLog({}, async (log) => {
        for (let i = 0; i < 5; i++) log.append(1, payloadFor(i));
        let seen = 0;
        await log.scan(() => {
          seen++;
          log.append(2, Buffer.from('more'));
        });
        assert.equal(seen, 5);
        assert.equal((await scanAll(log)).length, 10);
      }));

    test('readBatch returns records in input order, from buffers and files alike', () =>
      withLog({ segmentBytesMax: 2048, writeBufferBytesMax: 512 }, async (log) => {
        const positions: LogPosition[] = [];
        for (let i = 0; i < 40; i++) positions.push(log.append(i % 3, payloadFor(i)));
        await log.sync();
        for (let i = 40; i < 60; i++) positions.push(log.append(i % 3, payloadFor(i))); // some stay buffered
        const order = [59, 0, 1, 2, 39, 3, 45, 0, 20, 58, 10, 11];
        const got = await log.readBatch(order.map((i) => positions[i]));
        assert.equal(got.length, order.length);
        got.forEach((r, k) => {
          assert.deepEqual(r.pos, positions[order[k]]);
          assert.deepEqual(r.payload, payloadFor(order[k]));
        });
        assert.deepEqual(await log.readBatch([]), []);
      }));

    test('readFrom returns records in order across segments and buffers, within a byte budget', () =>
      withLog({ segmentBytesMax: 400, writeBufferBytesMax: 128 }, async (log) => {
        const positions: LogPosition[] = [];
        for (let i = 0; i < 30; i++) positions.push(log.append(i % 5, payloadFor(i, 40)));
        const check = async (): Promise<void> => {
          for (const start of [0, 3, 17, 29]) {
            const all = await log.readFrom(positions[start], 1 << 20);
            assert.deepEqual(
              all.map((r) => r.payload),
              positions.slice(start).map((_, k) => payloadFor(start + k, 40)),
            );
            assert.deepEqual(all.map((r) => r.pos), positions.slice(start));
            // A budget of one record's size gives exactly one; a tiny budget still gives one.
            assert.equal((await log.readFrom(positions[start], all[0].size)).length, 1);
            assert.equal((await log.readFrom(positions[start], 1)).length, 1);
            const some = await log.readFrom(positions[start], 3 * all[0].size);
            assert.equal(some.length, Math.min(3, all.length));
          }
        };
        await check(); // partly buffered
        await log.sync();
        await check(); // on disk
        assert.ok(log.segments().length > 3);
        await assert.rejects(log.readFrom({ segment: 999, offset: 8 }, 100), RangeError);
      }));

    test('readFrom reads records on disk into the buffers an allocator supplies', () =>
      withLog({ segmentBytesMax: 400, writeBufferBytesMax: 128 }, async (log) => {
        const positions: LogPosition[] = [];
        for (let i = 0; i < 12; i++) positions.push(log.append(1, payloadFor(i, 40)));
        await log.sync();
        const supplied: Buffer[] = [];
        const alloc = (bytes: number): Buffer => {
          const b = Buffer.alloc(bytes + 16).subarray(8, 8 + bytes);
          supplied.push(b);
          return b;
        };
        const got = await log.readFrom(positions[2], 1 << 20, alloc);
        assert.deepEqual(got.map((r) => r.payload), positions.slice(2).map((_, k) => payloadFor(2 + k, 40)));
        assert.ok(supplied.length >= log.segments().length - 1, 'one read per segment run');
        for (const r of got) assert.ok(supplied.some((b) => b.buffer === r.payload.buffer), 'every payload is a view of a supplied buffer');
      }));

    test('reading a position that is not in the log is a RangeError', () =>
      withLog({}, async (log) => {
        const pos = log.append(1, Buffer.from('abc'));
        await assert.rejects(log.read({ segment: pos.segment + 1000, offset: pos.offset }), RangeError);
        await assert.rejects(log.read({ segment: pos.segment, offset: 0 }), RangeError);
        await assert.rejects(log.read({ segment: pos.segment, offset: pos.offset + 1000 }), RangeError);
        await assert.rejects(log.readBatch([pos, { segment: -5, offset: 8 }]), RangeError);
      }));

    test('sync resolves: alone, concurrently, and with nothing to do', () =>
      withLog({}, async (log) => {
        await log.sync();
        log.append(1, Buffer.from('a'));
        await log.sync();
        const waits: Promise<void>[] = [];
        for (let i = 0; i < 50; i++) {
          log.append(1, payloadFor(i));
          waits.push(log.sync());
        }
        await Promise.all(waits);
        await Promise.all([log.sync(), log.sync()]);
      }));

    test('stats count appends and their bytes', () =>
      withLog({}, async (log) => {
        log.append(1, Buffer.alloc(10));
        log.append(2, [Buffer.alloc(5), Buffer.alloc(5)]);
        await log.sync();
        assert.equal(log.stats.appends, 2);
        assert.equal(log.stats.bytesAppended, 2 * (10 + RECORD_OVERHEAD));
        assert.ok(log.stats.writes >= 1);
      }));

    test('segments roll over when the active one would exceed segmentBytesMax', () =>
      withLog({ segmentBytesMax: 1024 }, async (log) => {
        const positions: LogPosition[] = [];
        for (let i = 0; i < 100; i++) positions.push(log.append(1, payloadFor(i, 50)));
        const ids = log.segments();
        assert.ok(ids.length > 5, `expected several segments, got ${ids.length}`);
        assert.deepEqual([...ids], [...ids].sort((a, b) => a - b));
        assert.equal(log.activeSegment(), ids[ids.length - 1]);
        for (const p of positions) {
          assert.ok(ids.includes(p.segment));
          assert.ok(p.offset + 50 + RECORD_OVERHEAD <= 1024, 'a record fits in its segment');
        }
        await log.sync();
        for (let i = 0; i < 100; i += 7) assert.deepEqual((await log.read(positions[i])).payload, payloadFor(i, 50));
        // A record bigger than a segment gets a segment of its own.
        const big = log.append(9, Buffer.alloc(4000, 7));
        const after = log.append(1, Buffer.from('after'));
        assert.notEqual(big.segment, positions[99].segment);
        assert.notEqual(after.segment, big.segment);
        assert.equal((await log.read(big)).payload.length, 4000);
        assert.ok(log.sizeBytes() >= 100 * (50 + RECORD_OVERHEAD) + 4000);
      }));

    test('deleteSegmentsBefore removes older segments and never the active one', () =>
      withLog({ segmentBytesMax: 512 }, async (log) => {
        const positions: LogPosition[] = [];
        for (let i = 0; i < 60; i++) positions.push(log.append(1, payloadFor(i, 40)));
        await log.sync();
        const ids = log.segments();
        const cutAt = ids[3];
        const sizeBefore = log.sizeBytes();
        await log.deleteSegmentsBefore(cutAt);
        assert.deepEqual(log.segments(), ids.slice(3));
        assert.ok(log.sizeBytes() < sizeBefore);
        const gone = positions.find((p) => p.segment < cutAt) as LogPosition;
        await assert.rejects(log.read(gone), RangeError);
        const kept = positions.filter((p) => p.segment >= cutAt);
        assert.deepEqual(
          (await scanAll(log)).map((r) => r.pos),
          kept,
        );
        await log.deleteSegmentsBefore(Number.MAX_SAFE_INTEGER);
        assert.deepEqual(log.segments(), [log.activeSegment()]);
        const pos = log.append(1, Buffer.from('still works'));
        assert.deepEqual((await log.read(pos)).payload, Buffer.from('still works'));
      }));

    test('deleting segments whose records are still buffered', () =>
      withLog({ segmentBytesMax: 256, fsync: 'never' }, async (log) => {
        for (let i = 0; i < 30; i++) log.append(1, payloadFor(i, 30));
        const active = log.activeSegment();
        await log.deleteSegmentsBefore(active);
        assert.deepEqual(log.segments(), [active]);
        const records = await scanAll(log);
        assert.ok(records.every((r) => r.pos.segment === active));
      }));

    test('records bigger than the write buffer', () =>
      withLog({ writeBufferBytesMax: 64 }, async (log) => {
        const big = Buffer.alloc(10_000, 3);
        const a = log.append(1, big);
        const b = log.append(2, Buffer.from('small'));
        assert.deepEqual((await log.read(a)).payload, big);
        await log.sync();
        assert.deepEqual((await log.read(a)).payload, big);
        assert.deepEqual((await log.readBatch([b, a])).map((r) => r.type), [2, 1]);
      }));

    test('after close, appends throw and close can be called again', () =>
      withLog({}, async (log) => {
        log.append(1, Buffer.from('x'));
        await log.close();
        assert.throws(() => log.append(1, Buffer.from('y')));
        await log.close();
      }));

    test('a random mix of appends, syncs, flushes and reads agrees with a list', async () => {
      const op = fc.oneof(
        fc.record({ kind: fc.constant('append' as const), type: fc.integer({ min: 0, max: 255 }), bytes: fc.nat(300) }),
        fc.record({ kind: fc.constantFrom('sync' as const, 'flush' as const, 'syncNoWait' as const) }),
        fc.record({ kind: fc.constant('read' as const), pick: fc.nat() }),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.array(op, { maxLength: 60, size: 'max' }),
          fc.constantFrom<FsyncPolicy>('batch', 'always', 'never'),
          async (ops, fsync) => {
            await withLog({ fsync, segmentBytesMax: 600, writeBufferBytesMax: 200 }, async (log, dir) => {
              const model: { type: number; payload: Buffer; pos: LogPosition }[] = [];
              const pending: Promise<void>[] = [];
              for (const o of ops) {
                if (o.kind === 'append') {
                  const payload = payloadFor(model.length, o.bytes);
                  model.push({ type: o.type, payload, pos: log.append(o.type, payload) });
                } else if (o.kind === 'sync') await log.sync();
                else if (o.kind === 'syncNoWait') pending.push(log.sync());
                else if (o.kind === 'flush') await log.flush();
                else if (o.kind === 'read' && model.length > 0) {
                  const m = model[o.pick % model.length];
                  const r = await log.read(m.pos);
                  assert.equal(r.type, m.type);
                  assert.deepEqual(r.payload, m.payload);
                }
              }
              await Promise.all(pending);
              const check = (records: LogRecord[]): void => {
                assert.equal(records.length, model.length);
                records.forEach((r, i) => {
                  assert.deepEqual(r.pos, model[i].pos);
                  assert.equal(r.type, model[i].type);
                  assert.deepEqual(r.payload, model[i].payload);
                });
              };
              check(await scanAll(log));
              if (!persistent) return;
              await log.close();
              const again = await open(dir, { fsync, segmentBytesMax: 600, writeBufferBytesMax: 200 });
              try {
                check(await scanAll(again));
              } finally {
                await again.close();
              }
            });
          },
        ),
        { numRuns: 40, seed: 20240601 },
      );
    });

    if (!persistent) return;

    test('reopen sees every synced record at the same position and appends after them', async () => {
      const dir = await tempDir();
      try {
        const log = await open(dir, { segmentBytesMax: 2048 });
        const positions: LogPosition[] = [];
        for (let i = 0; i < 80; i++) positions.push(log.append(i % 5, payloadFor(i)));
        await log.sync();
        await log.close();

        const again = await open(dir, { segmentBytesMax: 2048 });
        const records = await scanAll(again);
        assert.deepEqual(
          records.map((r) => r.pos),
          positions,
        );
        records.forEach((r, i) => assert.deepEqual(r.payload, payloadFor(i)));
        assert.equal(again.activeSegment(), positions[79].segment);
        const next = again.append(1, Buffer.from('next'));
        assert.ok(next.segment > positions[79].segment || next.offset > positions[79].offset);
        assert.deepEqual((await again.read(positions[3])).payload, payloadFor(3));
        await again.sync();
        await again.close();

        const third = await open(dir, { segmentBytesMax: 2048 });
        assert.equal((await scanAll(third)).length, 81);
        await third.close();
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });

    test('reopen keeps segment ids and deletions', async () => {
      const dir = await tempDir();
      try {
        const log = await open(dir, { segmentBytesMax: 300 });
        for (let i = 0; i < 40; i++) log.append(1, payloadFor(i, 30));
        await log.sync();
        await log.deleteSegmentsBefore(log.segments()[2]);
        const ids = log.segments();
        const size = log.sizeBytes();
        await log.close();
        const again = await open(dir, { segmentBytesMax: 300 });
        assert.deepEqual(again.segments(), ids);
        assert.equal(again.sizeBytes(), size);
        await again.close();
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });

    test('trusted segments are taken as vouched for; others are still verified', async () => {
      const dir = await tempDir();
      try {
        const log = await open(dir, { segmentBytesMax: 300 });
        for (let i = 0; i < 40; i++) log.append(1, payloadFor(i, 30));
        await log.sync();
        const ids = log.segments();
        const size = log.sizeBytes();
        await log.close();
        // Vouch for every sealed segment with its true length, and one with a wrong length.
        const lengths = new Map<number, number>();
        const probe = await open(dir, { segmentBytesMax: 300 });
        for (const r of await scanAll(probe)) lengths.set(r.pos.segment, r.pos.offset + r.size);
        await probe.close();
        lengths.set(ids[1], 5);
        const again = await open(dir, { segmentBytesMax: 300, trustedSegments: lengths });
        assert.deepEqual(again.segments(), ids);
        assert.equal(again.sizeBytes(), size);
        assert.equal((await scanAll(again)).length, 40);
        await again.close();
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });

    test('close makes records durable even with fsync never', async () => {
      const dir = await tempDir();
      try {
        const log = await open(dir, { fsync: 'never' });
        for (let i = 0; i < 10; i++) log.append(1, payloadFor(i));
        await log.close();
        const again = await open(dir, { fsync: 'never' });
        assert.equal((await scanAll(again)).length, 10);
        await again.close();
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });
  });
}
