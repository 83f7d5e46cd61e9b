// The pieces of cluster-wide consumer groups that need no cluster: Kafka's partitionFor (Java's
// String.hashCode, abs, modulo) and the offsets store kept in a stream partition (PartitionLog):
// what it commits is replayed by the next store opened on the partition, a commit waits for the
// replication's commit of its batch, and a refused commit is reported and never applied.

import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { OffsetStore } from '../../../../../src/broker/stream/groups/offset-store.js';
import { PartitionLog } from '../../../../../src/broker/stream/groups/partition-log.js';
import { javaStringHash, offsetsPartitionFor } from '../../../../../src/broker/stream/groups/replicated.js';
import { Partition, type PartitionConfig } from '../../../../../src/broker/stream/partition.js';
import { silentLogger } from '../../../../../src/store/index.js';

const CONFIG: PartitionConfig = { segmentBytesMax: 4096, retentionBytes: -1, retentionMs: -1, maxMessageBytes: 1 << 20, indexIntervalBytes: 256 };
const NO_SNAPSHOTS = { compactBytesMin: Number.POSITIVE_INFINITY, logger: silentLogger };

describe('offsetsPartitionFor: Kafka\'s abs(groupId.hashCode) % partitions', () => {
  // The values java 17's String.hashCode gives (and Kafka's Utils.abs(h) % 50, its default partition count).
  const JAVA: readonly (readonly [string, number, number])[] = [
    ['', 0, 0],
    ['hello', 99162322, 22],
    ['my-group', -1906497762, 12],
    ['consumer-group-1', 147483020, 20],
    ['polygenelubricants', -2147483648, 0],
    ['\u{1F600}', 1772899, 49],
    ['test-group', 627841412, 12],
  ];

  test('Java String.hashCode over UTF-16 code units', () => {
    for (const [s, hash] of JAVA) assert.equal(javaStringHash(s), hash, s);
  });

  test('the partition, abs(MIN_VALUE) taken as 0', () => {
    for (const [s, , partition] of JAVA) assert.equal(offsetsPartitionFor(s, 50), partition, s);
    for (const g of ['a', 'b', 'group-x', 'ä', '']) {
      const p = offsetsPartitionFor(g, 10);
      assert.ok(Number.isInteger(p) && p >= 0 && p < 10);
    }
  });
});

describe('PartitionLog: an offsets store in a stream partition', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-partition-log-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const openPartition = (): Promise<Partition> => Partition.open({ dir, fsync: 'batch', logger: silentLogger, config: CONFIG });

  test('commits are replayed by the next store on the partition; each batch carries the epoch and waits for its commit', async () => {
    const partition = await openPartition();
    const waited: number[] = [];
    const log = new PartitionLog({ partition, epoch: 7, committed: (offset) => (waited.push(offset), Promise.resolve()) });
    const store = await OffsetStore.openOnLog(log, NO_SNAPSHOTS);
    await store.commit('g1', [{ topic: 't', partition: 0, offset: 5, leaderEpoch: -1, metadata: '', commitTimestampMs: 1, expireTimestampMs: -1 }]);
    await Promise.all([
      store.commit('g1', [{ topic: 't', partition: 1, offset: 9, leaderEpoch: 2, metadata: 'm', commitTimestampMs: 2, expireTimestampMs: -1 }]),
      store.commit('g2', [{ topic: 'u', partition: 0, offset: 3, leaderEpoch: -1, metadata: '', commitTimestampMs: 3, expireTimestampMs: -1 }]),
    ]);
    await store.deleteGroup('g2');
    await store.close();
    assert.deepEqual(waited, [0, 2, 3], 'each batch waits for the commit of its last record (two commits of one turn share a batch)');
    const read = await partition.read(0, 1 << 20);
    for (const b of read.batches) assert.equal(b.readInt32BE(12), 7, 'each batch carries the leader epoch');

    const again = await OffsetStore.openOnLog(new PartitionLog({ partition, epoch: 8, committed: () => Promise.resolve() }), NO_SNAPSHOTS);
    assert.deepEqual(again.groupIds(), ['g1']);
    assert.equal(again.offset('g1', 't', 0)?.offset, 5);
    assert.equal(again.offset('g1', 't', 1)?.offset, 9);
    assert.equal(again.offset('g1', 't', 1)?.metadata, 'm');
    await again.close();
    await partition.close();
  });

  test('a commit the replication refuses is reported and not applied', async () => {
    const partition = await openPartition();
    const log = new PartitionLog({ partition, epoch: 1, committed: () => Promise.reject(new Error('deposed')) });
    const store = await OffsetStore.openOnLog(log, NO_SNAPSHOTS);
    await assert.rejects(store.commit('g', [{ topic: 't', partition: 0, offset: 1, leaderEpoch: -1, metadata: '', commitTimestampMs: 1, expireTimestampMs: -1 }]), /deposed/);
    assert.equal(store.offset('g', 't', 0), undefined);
    await store.close();
    await partition.close();
  });
});
