// Partition.truncateTo and truncateFullyAndStartAt (docs/cluster.md, "Truncation"): a follower
// cuts a diverged tail at a batch boundary; what is left, its indexes and its producer state are
// what they would be had the cut batches never been appended, before and after a restart.

import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import fc from 'fast-check';
import { Partition, type PartitionConfig } from '../../../../src/broker/stream/partition.js';
import { decodeRecords } from '../../../../src/protocol/kafka/record-batch.js';
import { silentLogger } from '../../../../src/store/index.js';
import { testBatch, values } from '../../../helpers/kafka-batch.js';

const CONFIG: PartitionConfig = { segmentBytesMax: 1024, retentionBytes: -1, retentionMs: -1, maxMessageBytes: 1 << 20, indexIntervalBytes: 128 };
const PRODUCER = 5;

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-truncate-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const open = (): Promise<Partition> => Partition.open({ dir, fsync: 'batch', logger: silentLogger, config: CONFIG });

/** Every record's [offset, key] from the log start to the high watermark. */
async function contents(p: Partition): Promise<[number, string][]> {
  const out: [number, string][] = [];
  let next = p.logStartOffset;
  while (next < p.highWatermark) {
    const r = await p.read(next, 4096);
    assert.ok(r.batches.length > 0, `no batch at ${next}`);
    for (const b of r.batches) {
      for (const rec of decodeRecords(b)) if (Number(rec.offset) >= next) out.push([Number(rec.offset), rec.key?.toString() ?? '']);
      next = Number(b.readBigInt64BE(0)) + b.readInt32BE(23) + 1;
    }
  }
  return out;
}

/** The model: batches in log order, each [base offset, keys, the producer's first sequence or -1]. */
type ModelBatch = { base: number; keys: string[]; seq: number };

function modelContents(model: ModelBatch[]): [number, string][] {
  return model.flatMap((b) => b.keys.map((k, i) => [b.base + i, k] as [number, string]));
}

function modelEnd(model: ModelBatch[], start: number): number {
  const last = model[model.length - 1];
  return last === undefined ? start : last.base + last.keys.length;
}

/** The idempotent producer's next sequence: after its last batch still in the log, 0 with none. */
function nextSeq(model: ModelBatch[]): number {
  for (let i = model.length - 1; i >= 0; i--) if (model[i].seq >= 0) return model[i].seq + model[i].keys.length;
  return 0;
}

type Op = { kind: 'append'; count: number; idempotent: boolean } | { kind: 'truncate'; at: number } | { kind: 'restart' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('append' as const), count: fc.integer({ min: 1, max: 6 }), idempotent: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
);

describe('stream partition truncation', () => {
  test('any sequence of appends, truncations and restarts leaves what the model says', async () => {
    let key = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
        await fs.rm(dir, { recursive: true, force: true });
        let p = await open();
        const model: ModelBatch[] = [];
        try {
          for (const op of ops) {
            if (op.kind === 'append') {
              const keys = Array.from({ length: op.count }, () => `k${key++}`);
              const seq = op.idempotent ? nextSeq(model) : -1;
              const recs = keys.map((k) => ({ key: Buffer.from(k), value: Buffer.alloc(30, 7) }));
              const opts = op.idempotent ? { producerId: PRODUCER, producerEpoch: 0, baseSequence: seq } : {};
              const r = p.append(testBatch(recs, opts));
              assert.equal(r.duplicate, false, 'a sequence the truncation removed is taken again');
              assert.equal(r.baseOffset, modelEnd(model, 0));
              await r.durable;
              model.push({ base: r.baseOffset, keys, seq });
            } else if (op.kind === 'truncate') {
              const to = Math.floor(op.at * p.logEndOffset);
              const end = await p.truncateTo(to);
              while (model.length > 0 && model[model.length - 1].base + model[model.length - 1].keys.length > to) model.pop();
              assert.equal(end, modelEnd(model, 0));
            } else {
              await p.close();
              p = await open();
            }
            assert.equal(p.logEndOffset, modelEnd(model, 0));
            assert.equal(p.highWatermark, p.logEndOffset);
          }
          assert.deepEqual(await contents(p), modelContents(model));
          await p.close();
          p = await open();
          assert.deepEqual(await contents(p), modelContents(model));
          assert.equal(p.logEndOffset, modelEnd(model, 0));
          // The producer state matches the log: the last batch of the producer left is a duplicate.
          const last = [...model].reverse().find((b) => b.seq >= 0);
          if (last !== undefined) {
            const again = testBatch(last.keys.map((k) => ({ key: Buffer.from(k), value: Buffer.alloc(30, 7) })), { producerId: PRODUCER, producerEpoch: 0, baseSequence: last.seq });
            const r = p.append(again);
            assert.deepEqual([r.duplicate, r.baseOffset], [true, last.base]);
          }
        } finally {
          await p.close();
        }
      }),
      { numRuns: 40 },
    );
  });

  test('cuts whole batches: an offset inside a batch removes that batch', async () => {
    const p = await open();
    await p.append(testBatch(values(3))).durable;
    await p.append(testBatch(values(4, 3))).durable;
    assert.equal(await p.truncateTo(5), 3);
    assert.deepEqual((await contents(p)).map(([o]) => o), [0, 1, 2]);
    assert.equal(await p.truncateTo(10), 3); // past the end: nothing to do
    await p.close();
  });

  test('open transactions, markers and the aborted index follow the cut', async () => {
    const p = await open();
    const txn = { producerId: 8, producerEpoch: 0, transactional: true };
    await p.append(testBatch(values(2), { ...txn, baseSequence: 0 })).durable; // 0-1
    await p.appendMarker({ producerId: 8, producerEpoch: 0, commit: false, coordinatorEpoch: 0 }).durable; // 2
    await p.append(testBatch(values(2, 2), { ...txn, baseSequence: 2 })).durable; // 3-4
    assert.equal(p.openTxnFirstOffset(8), 3);
    assert.equal(p.abortedTransactions(0, 10).length, 1);

    // Cutting the second transaction's batch: nothing is open any more.
    assert.equal(await p.truncateTo(3), 3);
    assert.equal(p.openTxnFirstOffset(8), undefined);
    assert.equal(p.lastStableOffset, 3);
    assert.equal(p.abortedTransactions(0, 10).length, 1);

    // Cutting the abort marker: the first transaction is open again and no longer aborted.
    assert.equal(await p.truncateTo(2), 2);
    assert.equal(p.openTxnFirstOffset(8), 0);
    assert.equal(p.lastStableOffset, 0);
    assert.deepEqual(p.abortedTransactions(0, 10), []);
    await p.close();
    const again = await open();
    assert.equal(again.openTxnFirstOffset(8), 0);
    assert.deepEqual(again.abortedTransactions(0, 10), []);
    await again.close();
  });

  test('the time index forgets what was cut', async () => {
    const p = await open();
    await p.append(testBatch(values(2), { baseTimestamp: 1_000 })).durable;
    await p.append(testBatch(values(2, 2), { baseTimestamp: 5_000 })).durable;
    assert.equal(p.maxTimestamp, 5_000);
    await p.truncateTo(2);
    assert.equal(p.maxTimestamp, 1_000);
    assert.equal(await p.batchForTimestamp(2_000), undefined);
    await p.close();
  });

  test('truncateFullyAndStartAt empties the log and starts it at an offset, across a restart', async () => {
    let p = await open();
    for (let i = 0; i < 20; i++) p.append(testBatch(values(3, i * 3, 40)));
    await p.append(testBatch(values(1))).durable;
    assert.ok(p.segmentCount > 2);
    assert.equal(await p.truncateFullyAndStartAt(500), 500);
    assert.deepEqual([p.logStartOffset, p.logEndOffset, p.highWatermark, p.segmentCount], [500, 500, 500, 1]);
    await p.close();
    p = await open();
    assert.deepEqual([p.logStartOffset, p.logEndOffset], [500, 500]);
    const r = p.append(testBatch(values(2)));
    assert.equal(r.baseOffset, 500);
    await r.durable;
    await p.close();
    p = await open();
    assert.deepEqual((await contents(p)).map(([o]) => o), [500, 501]);
    // A truncation below the log start is a full one (Kafka's truncateTo does the same).
    assert.equal(await p.truncateTo(100), 100);
    assert.deepEqual([p.logStartOffset, p.logEndOffset], [100, 100]);
    await p.close();
  });
});
