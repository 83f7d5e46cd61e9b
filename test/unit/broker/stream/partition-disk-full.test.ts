// A stream partition whose disk fills up (docs/kafka.md, "A full disk"): a write that is not made
// durable is lost, and the partition must behave as if it had never been appended: its offsets are
// given again, an idempotent producer's retry of the lost batch is written (not answered as a
// duplicate of records that are not there), and nothing past the last durable record is readable.
// The partition lives on a small tmpfs mounted here (root, as CI runs).

import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Partition, type PartitionConfig } from '../../../../src/broker/stream/partition.js';
import { StreamError } from '../../../../src/broker/stream/errors.js';
import { decodeRecords } from '../../../../src/protocol/kafka/record-batch.js';
import { silentLogger } from '../../../../src/store/index.js';
import { fill, mountTmpfs, unmount } from '../../../helpers/disk.js';
import { testBatch, values } from '../../../helpers/kafka-batch.js';

const CONFIG: PartitionConfig = { segmentBytesMax: 1 << 20, retentionBytes: -1, retentionMs: -1, maxMessageBytes: 1 << 20 };
const PRODUCER = 9;


/** Every record's [offset, value] from the log start to the high watermark. */
async function contents(p: Partition): Promise<[number, string][]> {
  const out: [number, string][] = [];
  let next = p.logStartOffset;
  while (next < p.highWatermark) {
    const r = await p.read(next, 1 << 20);
    assert.ok(r.batches.length > 0, `no batch at ${next}`);
    for (const b of r.batches) {
      for (const rec of decodeRecords(b)) if (Number(rec.offset) >= next) out.push([Number(rec.offset), rec.value?.subarray(0, 12).toString() ?? '']);
      next = Number(b.readBigInt64BE(0)) + b.readInt32BE(23) + 1;
    }
  }
  return out;
}

describe('a stream partition on a full disk', () => {
  let mount: string;
  before(async () => {
    mount = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-diskfull-'));
    await mountTmpfs(mount, '4m');
  });
  after(async () => {
    await unmount(mount);
    await fs.rm(mount, { recursive: true, force: true });
  });

  test('a lost write is as if never appended: its offsets come again, a retried idempotent batch is written, nothing lost is readable', async () => {
    const dir = path.join(mount, 'p');
    let p = await Partition.open({ dir, fsync: 'batch', logger: silentLogger, config: CONFIG });
    const batch = (seq: number, tag: string): Buffer =>
      testBatch(values(4, 0, 64).map((r, i) => ({ ...r, value: Buffer.from(`${tag}-${i}`.padEnd(64, '.')) })), { producerId: PRODUCER, producerEpoch: 0, baseSequence: seq });
    const first = p.append(batch(0, 'a'));
    await first.durable;
    assert.equal(first.baseOffset, 0);

    const ballast = await fill(mount);
    // Big enough that it cannot be buffered away: it must reach the (full) disk.
    const lostBatch = testBatch(values(6, 0, 128 * 1024), { producerId: PRODUCER, producerEpoch: 0, baseSequence: 4 });
    const lost = p.append(lostBatch);
    await assert.rejects(lost.durable, (err: unknown) => err instanceof StreamError && err.kind === 'storage');
    assert.equal(p.highWatermark, 4, 'nothing past the last durable record is visible');

    await fs.rm(ballast);
    // The producer retries the lost batch with the same sequence: written now, not a "duplicate".
    let retried;
    for (let attempt = 0; ; attempt++) {
      try {
        retried = p.append(lostBatch);
        break;
      } catch (err) {
        // The partition may refuse appends while it recovers from the failure: retriable.
        assert.ok(err instanceof StreamError && err.kind === 'storage', String(err));
        assert.ok(attempt < 100, 'the partition recovers once the disk takes writes');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    assert.equal(retried.duplicate, false, 'the lost batch was never written: its retry is not a duplicate');
    await retried.durable;
    assert.equal(retried.baseOffset, 4, 'the lost offsets are given again');
    const lostValues = values(6, 0, 128 * 1024).map((r, i) => [4 + i, (r.value ?? Buffer.alloc(0)).subarray(0, 12).toString()] as [number, string]);
    const expect = [0, 1, 2, 3].map((i) => [i, `a-${i}`.padEnd(12, '.')] as [number, string]).concat(lostValues);
    assert.deepEqual(await contents(p), expect);
    // And the producer goes on after it.
    await p.append(batch(10, 'c')).durable;
    expect.push(...[0, 1, 2, 3].map((i) => [10 + i, `c-${i}`.padEnd(12, '.')] as [number, string]));
    await p.close();
    p = await Partition.open({ dir, fsync: 'batch', logger: silentLogger, config: CONFIG });
    assert.deepEqual(await contents(p), expect, 'the same after a restart');
    await p.close();
  });
});
