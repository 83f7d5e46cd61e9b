// A seeded crash simulator (TigerBeetle's VOPR idea, small): random appends, syncs, flushes,
// injected write/fsync failures, segment deletions, clean restarts and power losses (clean or
// torn) against the real log code on a MemoryDisk. After every restart:
//   - what the log holds is a subsequence of what was appended, in order, at the same positions;
//   - every record a resolved sync() vouched for is there.
// A sync() vouches for the records appended before the call, unless some sync() or flush()
// rejected in between (a failure is reported to callers, not necessarily to this one).
// A failing run prints its seed and path; rerun with them to replay it exactly.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  type FsyncPolicy,
  type LogPosition,
  type MemoryLog,
  openMemoryLog,
  reopenMemoryLog,
  silentLogger,
} from '../../../src/store/index.js';
import { scanAll } from './helpers.js';

type Op =
  | { readonly kind: 'append'; readonly bytes: number; readonly count: number }
  | { readonly kind: 'sync' | 'syncNoWait' | 'flush' | 'tick' | 'failFsync' | 'failWrite' | 'deleteOldest' | 'restart' }
  | { readonly kind: 'crash'; readonly tear: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('append' as const), bytes: fc.nat(120), count: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'sync' as const }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'syncNoWait' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'flush' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'tick' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'failFsync' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'failWrite' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'deleteOldest' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('crash' as const), tear: fc.boolean() }) },
);

interface Rec {
  readonly id: number;
  readonly pos: LogPosition;
  readonly bytes: number;
  readonly appendedAt: number;
  acked: boolean;
  /** Its segment was deleted: it may come back (crash before the directory fsync) or not. */
  deleted: boolean;
}

function payload(id: number, bytes: number): Buffer {
  const b = Buffer.alloc(4 + bytes);
  b.writeUInt32BE(id, 0);
  for (let j = 0; j < bytes; j++) b[4 + j] = (id * 13 + j) & 0xff;
  return b;
}

class Simulation {
  private log!: MemoryLog;
  /** Records the log may hold, in log order. */
  private history: Rec[] = [];
  private clock = 0;
  private lastRejectionAt = -1;
  /** Bumped on every restart so callbacks of the old log's promises are ignored. */
  private generation = 0;
  private nextId = 0;

  constructor(
    private readonly fsync: FsyncPolicy,
    private readonly seed: number,
  ) {}

  async run(ops: readonly Op[]): Promise<void> {
    const opts = { fsync: this.fsync, logger: silentLogger, segmentBytesMax: 400, writeBufferBytesMax: 160 };
    this.log = openMemoryLog({ ...opts, faults: { seed: this.seed } });
    for (const op of ops) await this.step(op, opts);
    this.log = await this.log.crash({ tear: true });
    await this.check();
    await this.log.close().catch(() => {}); // a planned fault may still be waiting for its fsync
  }

  private async step(op: Op, opts: object): Promise<void> {
    const log = this.log;
    switch (op.kind) {
      case 'append':
        for (let i = 0; i < op.count; i++) {
          const id = this.nextId++;
          const pos = log.append(id & 0xff, payload(id, op.bytes));
          this.history.push({ id, pos, bytes: op.bytes, appendedAt: this.clock++, acked: false, deleted: false });
        }
        return;
      case 'sync':
        return this.watch(log.sync(), true);
      case 'syncNoWait':
        void this.watch(log.sync(), true);
        return;
      case 'flush':
        return this.watch(log.flush(), false);
      case 'tick':
        return new Promise((resolve) => setImmediate(resolve));
      case 'failFsync':
        return log.disk.failNextFsync();
      case 'failWrite':
        return log.disk.failNextWrite();
      case 'deleteOldest': {
        const segs = log.segments();
        if (segs.length < 2) return;
        const before = segs[1];
        const gen = this.generation;
        await log.deleteSegmentsBefore(before).then(
          () => {
            // Deleted records may still come back if a crash beats the directory fsync: optional from now on.
            if (gen !== this.generation) return;
            for (const r of this.history) {
              if (r.pos.segment >= before) continue;
              r.acked = false;
              r.deleted = true;
            }
          },
          () => this.rejected(gen),
        );
        return;
      }
      case 'restart': {
        const gen = this.generation;
        await log.close().catch(() => this.rejected(gen));
        this.generation++;
        log.disk.clearPendingFaults(); // a planned fault belongs to the process that exited
        this.log = await reopenMemoryLog(log.disk, opts);
        return this.check();
      }
      case 'crash':
        this.generation++;
        this.log = await log.crash({ tear: op.tear });
        return this.check();
    }
  }

  /** Bookkeeping for a sync() (which vouches for earlier records) or flush() (which does not). */
  private watch(p: Promise<void>, vouches: boolean): Promise<void> {
    const gen = this.generation;
    const calledAt = this.clock++;
    return p.then(
      () => {
        if (gen !== this.generation || !vouches) return;
        for (const r of this.history) {
          if (r.appendedAt < calledAt && r.appendedAt > this.lastRejectionAt && !r.deleted) r.acked = true;
        }
      },
      () => this.rejected(gen),
    );
  }

  private rejected(gen: number): void {
    if (gen === this.generation) this.lastRejectionAt = this.clock++;
  }

  /** After a restart: the log holds an ordered subsequence of history including every acked record. */
  private async check(): Promise<void> {
    const found = await scanAll(this.log);
    let h = 0;
    const kept: Rec[] = [];
    for (const r of found) {
      const id = r.payload.readUInt32BE(0);
      while (h < this.history.length && this.history[h].id !== id) {
        assert.ok(!this.history[h].acked, `record ${this.history[h].id} was synced but is gone`);
        h++;
      }
      const want = this.history[h];
      assert.ok(want, `record ${id} is unexpected or out of order`);
      assert.deepEqual(r.pos, want.pos);
      assert.equal(r.type, id & 0xff);
      assert.deepEqual(r.payload, payload(id, want.bytes));
      kept.push(want);
      h++;
    }
    for (; h < this.history.length; h++) assert.ok(!this.history[h].acked, `record ${this.history[h].id} was synced but is gone`);
    // What recovery found is durable now.
    for (const r of kept) r.acked = !r.deleted;
    this.history = kept;
    this.lastRejectionAt = this.clock++;
  }
}

for (const fsync of ['batch', 'always'] as FsyncPolicy[]) {
  test(`crash simulation (fsync ${fsync}): synced records survive every crash, in order`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 150, size: 'max' }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), (ops, seed) =>
        new Simulation(fsync, seed).run(ops),
      ),
      { numRuns: 300, seed: fsync === 'batch' ? 4242 : 4343 },
    );
  });
}
