// StreamConsumer on a real partition: where it starts, credit, waiting at the end, carrying on
// from the log start when retention deleted what it was about to read, and read_committed reading
// of Kafka transactions (markers skipped, open transactions waited for, aborted ones dropped).

import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { Partition } from '../../../../src/broker/stream/partition.js';
import { StreamConsumer, type StreamStart } from '../../../../src/broker/stream/stream-consumer.js';
import { buildRecordBatchSync } from '../../../../src/protocol/kafka/record-batch.js';
import { silentLogger } from '../../../../src/store/index.js';
import { SETTLE_MS, sleep, waitUntil } from '../../../helpers/async.js';
import { testBatch } from '../../../helpers/kafka-batch.js';

let dir: string;
let p: Partition;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-stream-consumer-'));
  p = await Partition.open({
    dir,
    fsync: 'batch',
    logger: silentLogger,
    config: { segmentBytesMax: 1 << 20, retentionBytes: -1, retentionMs: -1, maxMessageBytes: 1 << 20, indexIntervalBytes: 256 },
  });
});
afterEach(async () => {
  await p.close();
  await fs.rm(dir, { recursive: true, force: true });
});

/** Appends one batch of `values` (at `timestamp`), durable when it resolves. */
async function append(values: string[], timestamp = Date.now(), bytes = 0): Promise<void> {
  const records = values.map((v) => ({ value: Buffer.concat([Buffer.from(v), Buffer.alloc(bytes)]) }));
  await p.appendOwn(buildRecordBatchSync({ records, baseTimestamp: BigInt(timestamp) })).durable;
}

function consumer(start: StreamStart, prefetch = 100): { c: StreamConsumer; got: [number, string][]; errors: unknown[] } {
  const got: [number, string][] = [];
  const errors: unknown[] = [];
  const c = new StreamConsumer('s', p, 'tag', prefetch, {
    canDeliver: () => true,
    deliver: (_c, offset, content) => got.push([offset, content.body.toString().replace(/\0+$/, '')]),
    failed: (_c, err) => errors.push(err),
  });
  c.begin(start);
  return { c, got, errors };
}

describe('stream consumer', () => {
  test('starts at first, last (the newest batch), next, an offset and a time', async () => {
    await append(['a', 'b'], 1000);
    await append(['c', 'd', 'e'], 2000);
    const cases: [StreamStart, string[]][] = [
      [{ kind: 'first' }, ['a', 'b', 'c', 'd', 'e']],
      [{ kind: 'last' }, ['c', 'd', 'e']],
      [{ kind: 'offset', offset: 1 }, ['b', 'c', 'd', 'e']],
      [{ kind: 'offset', offset: -5 }, ['a', 'b', 'c', 'd', 'e']],
      [{ kind: 'timestamp', ms: 1500 }, ['c', 'd', 'e']],
      [{ kind: 'timestamp', ms: 0 }, ['a', 'b', 'c', 'd', 'e']],
    ];
    for (const [start, want] of cases) {
      const { c, got } = consumer(start);
      await waitUntil(() => got.length === want.length, JSON.stringify(start));
      assert.deepEqual(got.map(([, v]) => v), want, JSON.stringify(start));
      c.stop();
    }
    const next = consumer({ kind: 'next' });
    const ahead = consumer({ kind: 'offset', offset: 6 });
    const future = consumer({ kind: 'timestamp', ms: Date.now() + 60_000 });
    await append(['f', 'g']);
    await waitUntil(() => next.got.length === 2 && ahead.got.length === 1 && future.got.length === 2, 'the records after the end');
    assert.deepEqual(next.got, [[5, 'f'], [6, 'g']]);
    assert.deepEqual(ahead.got, [[6, 'g']]);
    for (const x of [next, ahead, future]) x.c.stop();
  });

  test('delivers up to its prefetch and more as deliveries are settled', async () => {
    await append(['0', '1', '2', '3', '4']);
    const { c, got } = consumer({ kind: 'first' }, 2);
    await waitUntil(() => got.length === 2, 'two deliveries');
    await sleep(SETTLE_MS);
    assert.equal(got.length, 2);
    c.settled(1);
    await waitUntil(() => got.length === 3, 'a third');
    c.settled(2);
    await waitUntil(() => got.length === 5, 'all');
    assert.deepEqual(got.map(([o]) => o), [0, 1, 2, 3, 4]);
    c.stop();
  });

  test('carries on from the log start when what it was to read is gone', async () => {
    // Batches bigger than one read, so the consumer reads them one at a time.
    for (let i = 0; i < 5; i++) await append([`big${i}`], Date.now(), 80_000);
    const { c, got, errors } = consumer({ kind: 'first' }, 1);
    await waitUntil(() => got.length === 1, 'the first');
    await p.deleteRecordsBefore(3);
    c.settled(1);
    await waitUntil(() => got.length === 2, 'the next one left');
    assert.deepEqual(got.map(([o]) => o), [0, 3]);
    assert.deepEqual(errors, []);
    c.stop();
  });

  test('reads committed records only: waits at an open transaction, drops aborted ones, skips markers', async () => {
    const txn = (pid: number, v: string[]): Buffer =>
      testBatch(v.map((x) => ({ value: Buffer.from(x) })), { producerId: pid, producerEpoch: 0, baseSequence: 0, transactional: true });
    await append(['a', 'b']); // 0, 1
    await p.append(txn(7, ['aborted1', 'aborted2'])).durable; // 2, 3
    await p.append(txn(8, ['committed'])).durable; // 4
    const { c, got } = consumer({ kind: 'first' });
    const next = consumer({ kind: 'next' });
    await waitUntil(() => got.length === 2, 'the records before the open transactions');
    await sleep(SETTLE_MS);
    assert.deepEqual(got, [[0, 'a'], [1, 'b']]);
    await p.appendMarker({ producerId: 7, producerEpoch: 0, commit: false, coordinatorEpoch: 0 }).durable; // 5
    await p.appendMarker({ producerId: 8, producerEpoch: 0, commit: true, coordinatorEpoch: 0 }).durable; // 6
    await append(['c']); // 7
    await waitUntil(() => got.length === 4 && next.got.length === 2, 'the committed transaction and what follows');
    assert.deepEqual(got, [[0, 'a'], [1, 'b'], [4, 'committed'], [7, 'c']]);
    // "next" started at the last stable offset: the transaction still open then is delivered once committed.
    assert.deepEqual(next.got, [[4, 'committed'], [7, 'c']]);
    const last = consumer({ kind: 'last' });
    await waitUntil(() => last.got.length === 1, 'the last batch');
    assert.deepEqual(last.got, [[7, 'c']]);
    for (const x of [c, next.c, last.c]) x.stop();
  });
});
