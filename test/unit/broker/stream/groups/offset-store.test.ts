// The offsets log: what a commit's promise promises (durable), replay after close and after a
// crash, snapshots that keep exactly the live state, and torn snapshots that do not count.

import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { GroupCoordinator } from '../../../../../src/broker/stream/groups/coordinator.js';
import { OffsetStore } from '../../../../../src/broker/stream/groups/offset-store.js';
import { GroupRecordType, type OffsetEntry, encodeOffsets, encodeSnapshotMark } from '../../../../../src/broker/stream/groups/records.js';
import { type MemoryLog, openMemoryLog, silentLogger } from '../../../../../src/store/index.js';
import { ManualScheduler } from '../../../../helpers/manual-scheduler.js';
import { INITIAL_DELAY_MS, TEST_CONFIG, harness, joinReq, resultOf, stableGroup, testDecoder, track } from './harness.js';

const entry = (topic: string, partition: number, offset: number, metadata = ''): OffsetEntry => ({
  topic,
  partition,
  offset,
  leaderEpoch: -1,
  metadata,
  commitTimestampMs: 1_000,
  expireTimestampMs: -1,
});

/** Everything the store holds, in a comparable form. */
function dump(store: OffsetStore): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const g of store.groupIds().sort()) {
    const offsets = store
      .offsets(g)
      .map((e) => `${e.topic}/${e.partition}=${e.offset}:${e.metadata}`)
      .sort();
    out[g] = { meta: store.meta(g) ?? null, offsets };
  }
  return out;
}

describe('offset store', () => {
  test('commits, deletions and group metadata survive close and reopen (file log)', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-groups-'));
    try {
      let store = await OffsetStore.open({ dir, logger: silentLogger });
      await store.commit('g1', [entry('t', 0, 5, 'first'), entry('t', 1, 7)]);
      await store.commit('g1', [entry('t', 0, 6, 'second')]);
      await store.commit('g2', [entry('u', 0, 1)]);
      await store.setMeta('g2', { protocolType: 'consumer', generationId: 4, emptySinceMs: 123 });
      await store.deleteOffsets('g1', [{ topic: 't', partition: 1 }]);
      await store.commit('g3', [entry('v', 0, 1)]);
      await store.deleteGroup('g3');
      const before = dump(store);
      assert.deepEqual(before, {
        g1: { meta: null, offsets: ['t/0=6:second'] },
        g2: { meta: { protocolType: 'consumer', generationId: 4, emptySinceMs: 123 }, offsets: ['u/0=1:'] },
      });
      await store.close();
      await assert.rejects(store.commit('g1', [entry('t', 0, 1)]), /closed/);
      store = await OffsetStore.open({ dir, logger: silentLogger });
      assert.deepEqual(dump(store), before);
      await store.close();
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  test('a commit that resolved survives a crash; the state equals a replay', async () => {
    const log = openMemoryLog({ logger: silentLogger });
    const store = await OffsetStore.openOnLog(log, { logger: silentLogger });
    const writes = [];
    for (let i = 0; i < 50; i++) writes.push(store.commit(`g${i % 5}`, [entry('t', i % 3, i)]));
    await Promise.all(writes);
    const before = dump(store);
    const after = await OffsetStore.openOnLog(await log.crash(), { logger: silentLogger });
    assert.deepEqual(dump(after), before);
    await after.close();
  });

  test('commits submitted together share one fsync', async () => {
    const log = openMemoryLog({ logger: silentLogger });
    const store = await OffsetStore.openOnLog(log, { logger: silentLogger });
    const fsyncs = log.stats.fsyncs;
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.commit('g', [entry('t', i, i)])));
    assert.equal(log.stats.fsyncs - fsyncs, 1);
    await store.close();
  });

  test('a failed fsync fails the commit and leaves nothing of it, in memory or on disk', async () => {
    const log = openMemoryLog({ logger: silentLogger, faults: { failFsyncAt: [2] } });
    const store = await OffsetStore.openOnLog(log, { logger: silentLogger });
    await store.commit('g', [entry('t', 0, 1)]);
    await assert.rejects(store.commit('g', [entry('t', 0, 2)]), /ENOSPC/);
    assert.equal(store.offset('g', 't', 0)?.offset, 1);
    await store.commit('g', [entry('t', 1, 3)]);
    const after = await OffsetStore.openOnLog(await log.crash(), { logger: silentLogger });
    assert.deepEqual(dump(after), { g: { meta: null, offsets: ['t/0=1:', 't/1=3:'] } });
    await after.close();
  });

  test('snapshots keep the log bounded and keep exactly the live state', async () => {
    const log = openMemoryLog({ logger: silentLogger, segmentBytesMax: 4096 });
    const opts = { logger: silentLogger, segmentBytesMax: 4096, compactBytesMin: 16 * 1024 };
    const store = await OffsetStore.openOnLog(log, opts);
    let maxBytes = 0;
    for (let round = 0; round < 300; round++) {
      const writes = [];
      for (let g = 0; g < 4; g++) writes.push(store.commit(`g${g}`, [entry('t', round % 6, round, `r${round}`)]));
      if (round % 50 === 7) writes.push(store.deleteOffsets('g3', [{ topic: 't', partition: round % 6 }]));
      if (round === 100) writes.push(store.setMeta('g1', { protocolType: 'consumer', generationId: 9, emptySinceMs: 5 }));
      if (round === 150) writes.push(store.deleteGroup('g2'));
      await Promise.all(writes);
      maxBytes = Math.max(maxBytes, store.sizeBytes());
    }
    assert.ok(store.stats.snapshots >= 3, `snapshots: ${store.stats.snapshots}`);
    // Bounded: the threshold plus a segment, far below the ~100 KiB the commits wrote.
    assert.ok(maxBytes < 16 * 1024 + 3 * 4096, `log grew to ${maxBytes}`);
    assert.ok(log.stats.bytesAppended > 4 * maxBytes);
    const before = dump(store);
    await store.close();
    const log2 = await log.crash();
    const reopened = await OffsetStore.openOnLog(log2, opts);
    assert.deepEqual(dump(reopened), before);
    // A forced snapshot of that state replays to the same again.
    await reopened.compact();
    const segments = reopened.segments().length;
    assert.ok(segments <= 2, `segments after a snapshot: ${segments}`);
    assert.deepEqual(dump(reopened), before);
    await reopened.close();
    const again = await OffsetStore.openOnLog(await log2.crash(), opts);
    assert.deepEqual(dump(again), before);
    await again.close();
  });

  test('a snapshot whose fsync fails does not count; the records before it stay in charge', async () => {
    // fsync 1-3: three commits; 4: the snapshot.
    const log = openMemoryLog({ logger: silentLogger, faults: { failFsyncAt: [4] } });
    const store = await OffsetStore.openOnLog(log, { logger: silentLogger });
    for (let i = 0; i < 3; i++) await store.commit('g', [entry('t', i, i)]);
    await assert.rejects(store.compact(), /ENOSPC/);
    await store.commit('g', [entry('t', 0, 10)]);
    const before = dump(store);
    const after = await OffsetStore.openOnLog(await log.crash(), { logger: silentLogger });
    assert.deepEqual(dump(after), before);
    await after.close();
  });

  test('replay ignores a torn snapshot (no end, a wrong end) and applies the records after it', async () => {
    const log = openMemoryLog({ logger: silentLogger });
    const commit = (groupId: string, e: OffsetEntry) => log.append(GroupRecordType.Commit, encodeOffsets(groupId, [e]));
    commit('g', entry('t', 0, 1));
    // A snapshot cut off by a crash: begin and some content, then live records again.
    log.append(GroupRecordType.SnapshotBegin, encodeSnapshotMark({ snapshotId: 7, groups: 0, offsets: 0 }));
    log.append(GroupRecordType.SnapshotOffsets, encodeOffsets('ghost', [entry('t', 0, 99)]));
    commit('g', entry('t', 1, 2));
    // A snapshot whose end does not match its content.
    log.append(GroupRecordType.SnapshotBegin, encodeSnapshotMark({ snapshotId: 8, groups: 0, offsets: 0 }));
    log.append(GroupRecordType.SnapshotOffsets, encodeOffsets('ghost', [entry('t', 0, 99)]));
    log.append(GroupRecordType.SnapshotEnd, encodeSnapshotMark({ snapshotId: 8, groups: 1, offsets: 2 }));
    // Snapshot content without a begin (its begin was in a deleted segment).
    log.append(GroupRecordType.SnapshotOffsets, encodeOffsets('ghost', [entry('t', 0, 99)]));
    // A record this version cannot read.
    log.append(GroupRecordType.Commit, Buffer.from([9, 9, 9]));
    // A complete snapshot replaces everything before it...
    log.append(GroupRecordType.SnapshotBegin, encodeSnapshotMark({ snapshotId: 9, groups: 0, offsets: 0 }));
    log.append(GroupRecordType.SnapshotOffsets, encodeOffsets('g', [entry('t', 0, 1), entry('t', 1, 2)]));
    log.append(GroupRecordType.SnapshotEnd, encodeSnapshotMark({ snapshotId: 9, groups: 1, offsets: 2 }));
    // ...and later records apply on top, up to a snapshot the crash cut short.
    commit('h', entry('t', 0, 3));
    log.append(GroupRecordType.SnapshotBegin, encodeSnapshotMark({ snapshotId: 10, groups: 0, offsets: 0 }));
    log.append(GroupRecordType.SnapshotOffsets, encodeOffsets('ghost', [entry('t', 0, 99)]));
    await log.sync();
    const store = await OffsetStore.openOnLog(await log.crash(), { logger: silentLogger });
    assert.deepEqual(dump(store), {
      g: { meta: null, offsets: ['t/0=1:', 't/1=2:'] },
      h: { meta: null, offsets: ['t/0=3:'] },
    });
    assert.equal(store.stats.skippedRecords, 1);
    await store.close();
  });
});

describe('coordinator across restarts', () => {
  test('groups come back empty with their offsets, protocol type and generation', async () => {
    const clock = new ManualScheduler();
    const h = await harness({}, undefined, clock);
    const g = await stableGroup(h, 'g', 2);
    await h.coordinator.commit({ groupId: 'g', generationId: g.generationId, memberId: g.members[0], offsets: [{ topic: 't1', partition: 0, offset: 17, metadata: 'm' }] });
    await h.coordinator.commit({ groupId: 'simple', generationId: -1, memberId: '', offsets: [{ topic: 't1', partition: 0, offset: 3 }] });
    // A crash, not a close: members are still there.
    const log = await h.log.crash();
    clock.advance(60_000);
    const store = await OffsetStore.openOnLog(log, { logger: silentLogger });
    const c = new GroupCoordinator(store, { config: TEST_CONFIG, scheduler: clock, subscriptions: testDecoder, logger: silentLogger });
    const listed = (await c.list()).groups.map((x) => [x.groupId, x.protocolType, x.state]).sort();
    assert.deepEqual(listed, [
      ['g', 'consumer', 'Empty'],
      ['simple', '', 'Empty'],
    ]);
    assert.deepEqual((await c.fetch('g', null)).partitions, [{ topic: 't1', partition: 0, offset: 17, leaderEpoch: -1, metadata: 'm' }]);
    // The old members are unknown now; they rejoin into the next generation.
    assert.equal((await c.heartbeat({ groupId: 'g', generationId: g.generationId, memberId: g.members[0] })).error, 'unknown-member-id');
    const j = track(c.join(joinReq('g')));
    clock.advance(INITIAL_DELAY_MS);
    assert.equal((await resultOf(j)).generationId, g.generationId + 1);
    await c.close();
  });

  test('retention after a restart counts from when the group became empty, or from the restart', async () => {
    const clock = new ManualScheduler();
    const DAY_MS = 24 * 60 * 60_000;
    const config = { offsetsRetentionMs: 7 * DAY_MS, offsetsRetentionCheckIntervalMs: DAY_MS };
    const h = await harness(config, undefined, clock);
    const empty = await stableGroup(h, 'left', 1);
    await h.coordinator.commit({ groupId: 'left', generationId: empty.generationId, memberId: empty.members[0], offsets: [{ topic: 't', partition: 0, offset: 1 }] });
    await h.coordinator.leave({ groupId: 'left', members: [{ memberId: empty.members[0] }] });
    const busy = await stableGroup(h, 'busy', 1);
    await h.coordinator.commit({ groupId: 'busy', generationId: busy.generationId, memberId: busy.members[0], offsets: [{ topic: 't', partition: 0, offset: 1 }] });
    await h.coordinator.close();
    clock.advance(5 * DAY_MS);
    let log: MemoryLog = h.log;
    const reopen = async (): Promise<GroupCoordinator> =>
      new GroupCoordinator(await OffsetStore.openOnLog((log = await log.crash()), { logger: silentLogger }), {
        config: { ...TEST_CONFIG, ...config },
        scheduler: clock,
        subscriptions: testDecoder,
        logger: silentLogger,
      });
    let c = await reopen();
    clock.advance(3 * DAY_MS);
    await c.expireOffsets();
    // 'left' has been empty 8 days; 'busy' lost its member at the restart, 3 days ago.
    assert.deepEqual((await c.list()).groups.map((x) => x.groupId), ['busy']);
    // Restarting again does not reset the clock of 'busy'.
    await c.close();
    c = await reopen();
    clock.advance(4 * DAY_MS);
    await c.expireOffsets();
    assert.deepEqual((await c.list()).groups, []);
    await c.close();
  });
});
