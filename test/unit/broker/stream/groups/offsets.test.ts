// Committed offsets through the coordinator: OffsetCommit's generation checks, OffsetFetch,
// OffsetDelete, DeleteGroups / DescribeGroups / ListGroups, and offsets retention.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openMemoryLog, silentLogger } from '../../../../../src/store/index.js';
import { INITIAL_DELAY_MS, SESSION_MS, harness, joinReq, resultOf, stableGroup, track } from './harness.js';

const DAY_MS = 24 * 60 * 60_000;

describe('committed offsets', () => {
  test('a simple commit (generation -1) creates an empty group; fetch by partition and all', async () => {
    const h = await harness();
    const r = await h.coordinator.commit({
      groupId: 'simple',
      generationId: -1,
      memberId: '',
      offsets: [
        { topic: 't1', partition: 0, offset: 10, leaderEpoch: 3, metadata: 'm0' },
        { topic: 't1', partition: 1, offset: 20, metadata: null },
        { topic: 't2', partition: 0, offset: 0 },
      ],
    });
    assert.deepEqual(r, [
      { topic: 't1', partition: 0 },
      { topic: 't1', partition: 1 },
      { topic: 't2', partition: 0 },
    ]);
    const one = await h.coordinator.fetch('simple', [
      { topic: 't1', partition: 0 },
      { topic: 't1', partition: 7 },
    ]);
    assert.deepEqual(one, {
      partitions: [
        { topic: 't1', partition: 0, offset: 10, leaderEpoch: 3, metadata: 'm0' },
        { topic: 't1', partition: 7, offset: -1, leaderEpoch: -1, metadata: '' },
      ],
    });
    const all = await h.coordinator.fetch('simple', null);
    assert.deepEqual(
      all.partitions.map((p) => [p.topic, p.partition, p.offset, p.leaderEpoch, p.metadata]),
      [
        ['t1', 0, 10, 3, 'm0'],
        ['t1', 1, 20, -1, ''],
        ['t2', 0, 0, -1, ''],
      ],
    );
    assert.deepEqual(await h.coordinator.fetch('unknown', null), { partitions: [] });
    assert.deepEqual((await h.coordinator.fetch('unknown', [{ topic: 't1', partition: 0 }])).partitions[0].offset, -1);
    const listed = await h.coordinator.list();
    assert.deepEqual(listed, { groups: [{ groupId: 'simple', protocolType: '', state: 'Empty', groupType: 'classic' }] });
    // A later commit replaces the offset.
    await h.coordinator.commit({ groupId: 'simple', generationId: -1, memberId: '', offsets: [{ topic: 't1', partition: 0, offset: 11 }] });
    assert.equal((await h.coordinator.fetch('simple', [{ topic: 't1', partition: 0 }])).partitions[0].offset, 11);
    await h.coordinator.close();
  });

  test('generation checks: members of the current generation commit, others are told why not', async () => {
    const h = await harness();
    const g = await stableGroup(h, 'g', 2);
    const [leader] = g.members;
    const o = [{ topic: 't1', partition: 0, offset: 42 }];
    assert.deepEqual(await h.coordinator.commit({ groupId: 'g', generationId: g.generationId, memberId: leader, offsets: o }), [{ topic: 't1', partition: 0 }]);
    assert.equal((await h.coordinator.commit({ groupId: 'g', generationId: g.generationId + 1, memberId: leader, offsets: o }))[0].error, 'illegal-generation');
    assert.equal((await h.coordinator.commit({ groupId: 'g', generationId: g.generationId, memberId: 'nobody', offsets: o }))[0].error, 'unknown-member-id');
    // A simple commit into a group with members.
    assert.equal((await h.coordinator.commit({ groupId: 'g', generationId: -1, memberId: '', offsets: o }))[0].error, 'unknown-member-id');
    // A group that does not exist, with a generation: Kafka's GROUP_ID_NOT_FOUND (v9+).
    assert.equal((await h.coordinator.commit({ groupId: 'gone', generationId: 1, memberId: 'm', offsets: o }))[0].error, 'group-id-not-found');
    assert.equal((await h.coordinator.fetch('g', [{ topic: 't1', partition: 0 }])).partitions[0].offset, 42);
    // Once the group is empty, simple commits are welcome.
    for (const m of g.members) await h.coordinator.leave({ groupId: 'g', members: [{ memberId: m }] });
    assert.equal((await h.coordinator.describe(['g']))[0].state, 'Empty');
    assert.deepEqual(await h.coordinator.commit({ groupId: 'g', generationId: -1, memberId: '', offsets: [{ topic: 't1', partition: 0, offset: 43 }] }), [{ topic: 't1', partition: 0 }]);
    assert.equal((await h.coordinator.fetch('g', [{ topic: 't1', partition: 0 }])).partitions[0].offset, 43);
    await h.coordinator.close();
  });

  test('a commit keeps the member alive like a heartbeat', async () => {
    const h = await harness();
    const g = await stableGroup(h, 'g', 1);
    for (let i = 0; i < 5; i++) {
      h.clock.advance(SESSION_MS / 2);
      const r = await h.coordinator.commit({ groupId: 'g', generationId: g.generationId, memberId: g.members[0], offsets: [{ topic: 't1', partition: 0, offset: i }] });
      assert.equal(r[0].error, undefined, `commit ${i}`);
    }
    assert.equal((await h.coordinator.describe(['g']))[0].state, 'Stable');
    await h.coordinator.close();
  });

  test('metadata over offset.metadata.max.bytes fails its partition only; bad numbers fail theirs', async () => {
    const h = await harness({ offsetMetadataMaxBytes: 8 });
    const r = await h.coordinator.commit({
      groupId: 's',
      generationId: -1,
      memberId: '',
      offsets: [
        { topic: 't', partition: 0, offset: 1, metadata: '12345678' },
        { topic: 't', partition: 1, offset: 1, metadata: '123456789' },
        { topic: 't', partition: 2, offset: 2 ** 60 },
        { topic: 't', partition: 2 ** 40, offset: 1 },
      ],
    });
    assert.deepEqual(r, [
      { topic: 't', partition: 0 },
      { topic: 't', partition: 1, error: 'offset-metadata-too-large' },
      { topic: 't', partition: 2, error: 'invalid-commit-offset-size' },
      { topic: 't', partition: 2 ** 40, error: 'invalid-commit-offset-size' },
    ]);
    assert.deepEqual((await h.coordinator.fetch('s', null)).partitions.map((p) => p.partition), [0]);
    await h.coordinator.close();
  });

  test('OffsetDelete: any offset of an empty group; only unsubscribed topics of a consumer group with members', async () => {
    const h = await harness();
    const commit = (groupId: string, generationId = -1, memberId = '') =>
      h.coordinator.commit({
        groupId,
        generationId,
        memberId,
        offsets: [
          { topic: 't1', partition: 0, offset: 1 },
          { topic: 't2', partition: 0, offset: 2 },
        ],
      });
    await commit('empty');
    const del = await h.coordinator.deleteOffsets('empty', [
      { topic: 't1', partition: 0 },
      { topic: 't9', partition: 0 },
    ]);
    assert.deepEqual(del, {
      partitions: [
        { topic: 't1', partition: 0 },
        { topic: 't9', partition: 0 },
      ],
    });
    assert.deepEqual((await h.coordinator.fetch('empty', null)).partitions.map((p) => p.topic), ['t2']);

    // Members subscribe to t1 (member 0) and t1,t3 (member 1).
    const g = await stableGroup(h, 'g', 2, ['t1', 't1,t3']);
    await commit('g', g.generationId, g.members[0]);
    const r = await h.coordinator.deleteOffsets('g', [
      { topic: 't1', partition: 0 },
      { topic: 't2', partition: 0 },
      { topic: 't3', partition: 5 },
    ]);
    assert.deepEqual(r, {
      partitions: [
        { topic: 't1', partition: 0, error: 'group-subscribed-to-topic' },
        { topic: 't2', partition: 0 },
        { topic: 't3', partition: 5, error: 'group-subscribed-to-topic' },
      ],
    });
    assert.deepEqual((await h.coordinator.fetch('g', null)).partitions.map((p) => p.topic), ['t1']);

    // A group with members whose protocol does not say which topics it reads.
    const other = track(h.coordinator.join(joinReq('connect', { protocolType: 'connect' })));
    h.clock.advance(INITIAL_DELAY_MS);
    assert.equal((await resultOf(other)).error, undefined);
    assert.deepEqual(await h.coordinator.deleteOffsets('connect', [{ topic: 't1', partition: 0 }]), { error: 'non-empty-group', partitions: [] });
    assert.deepEqual(await h.coordinator.deleteOffsets('nope', [{ topic: 't1', partition: 0 }]), { error: 'group-id-not-found', partitions: [] });
    assert.deepEqual(await h.coordinator.deleteOffsets('', [{ topic: 't1', partition: 0 }]), { error: 'invalid-group-id', partitions: [] });
    await h.coordinator.close();
  });

  test('DeleteGroups: empty groups go with their offsets; others are refused', async () => {
    const h = await harness();
    await h.coordinator.commit({ groupId: 'e', generationId: -1, memberId: '', offsets: [{ topic: 't', partition: 0, offset: 5 }] });
    await stableGroup(h, 'busy', 1);
    const r = await h.coordinator.delete(['e', 'busy', 'nope', 'e']);
    assert.deepEqual(r, [{ groupId: 'e' }, { groupId: 'busy', error: 'non-empty-group' }, { groupId: 'nope', error: 'group-id-not-found' }]);
    assert.deepEqual(await h.coordinator.fetch('e', null), { partitions: [] });
    const d = await h.coordinator.describe(['e', 'busy']);
    assert.deepEqual(d[0], { groupId: 'e', state: 'Dead', protocolType: '', protocolData: '', members: [] });
    assert.equal(d[1].state, 'Stable');
    // The name is free again, and starts from scratch.
    await h.coordinator.commit({ groupId: 'e', generationId: -1, memberId: '', offsets: [{ topic: 't', partition: 1, offset: 6 }] });
    assert.deepEqual((await h.coordinator.fetch('e', null)).partitions.map((p) => [p.partition, p.offset]), [[1, 6]]);
    await h.coordinator.close();
  });

  test('ListGroups filters by state (any case) and type', async () => {
    const h = await harness();
    await stableGroup(h, 'stable', 1);
    await h.coordinator.commit({ groupId: 'empty', generationId: -1, memberId: '', offsets: [{ topic: 't', partition: 0, offset: 1 }] });
    const ids = async (states?: string[], types?: string[]) => (await h.coordinator.list(states, types)).groups.map((g) => g.groupId).sort();
    assert.deepEqual(await ids(), ['empty', 'stable']);
    assert.deepEqual(await ids(['stable']), ['stable']);
    assert.deepEqual(await ids(['EMPTY', 'Dead']), ['empty']);
    assert.deepEqual(await ids([], ['Classic']), ['empty', 'stable']);
    assert.deepEqual(await ids([], ['consumer']), []);
    await h.coordinator.close();
  });
});

describe('offsets when the disk fails', () => {
  test('a commit whose fsync fails answers COORDINATOR_NOT_AVAILABLE and leaves no trace', async () => {
    // fsync 1: the first commit; 2: the second, which fails.
    const h = await harness({}, openMemoryLog({ logger: silentLogger, faults: { failFsyncAt: [2] } }));
    const commit = (offset: number) => h.coordinator.commit({ groupId: 's', generationId: -1, memberId: '', offsets: [{ topic: 't', partition: 0, offset }] });
    assert.deepEqual(await commit(1), [{ topic: 't', partition: 0 }]);
    assert.deepEqual(await commit(2), [{ topic: 't', partition: 0, error: 'coordinator-not-available' }]);
    assert.equal((await h.coordinator.fetch('s', null)).partitions[0].offset, 1);
    assert.deepEqual(await commit(3), [{ topic: 't', partition: 0 }]);
    await h.coordinator.close();
  });

  test('a DeleteGroups whose fsync fails answers COORDINATOR_NOT_AVAILABLE and the group is back', async () => {
    const h = await harness({}, openMemoryLog({ logger: silentLogger, faults: { failFsyncAt: [2] } }));
    await h.coordinator.commit({ groupId: 's', generationId: -1, memberId: '', offsets: [{ topic: 't', partition: 0, offset: 7 }] });
    assert.deepEqual(await h.coordinator.delete(['s']), [{ groupId: 's', error: 'coordinator-not-available' }]);
    assert.equal((await h.coordinator.describe(['s']))[0].state, 'Empty');
    assert.equal((await h.coordinator.fetch('s', null)).partitions[0].offset, 7);
    assert.deepEqual(await h.coordinator.delete(['s']), [{ groupId: 's' }]);
    await h.coordinator.close();
  });
});

describe('offsets retention', () => {
  const RETENTION_MS = 7 * DAY_MS;
  const CHECK_MS = 10 * 60_000;

  test('an empty group keeps its offsets for the retention after it became empty, then goes', async () => {
    const h = await harness({ offsetsRetentionMs: RETENTION_MS, offsetsRetentionCheckIntervalMs: CHECK_MS });
    const g = await stableGroup(h, 'g', 1);
    await h.coordinator.commit({ groupId: 'g', generationId: g.generationId, memberId: g.members[0], offsets: [{ topic: 't1', partition: 0, offset: 9 }] });
    // Members keep offsets alive however old they are (heartbeating all along).
    for (let t = 0; t < 2 * DAY_MS; t += SESSION_MS / 2) {
      h.clock.advance(SESSION_MS / 2);
      await h.coordinator.heartbeat({ groupId: 'g', generationId: g.generationId, memberId: g.members[0] });
    }
    assert.equal((await h.coordinator.fetch('g', null)).partitions.length, 1);
    await h.coordinator.leave({ groupId: 'g', members: [{ memberId: g.members[0] }] });
    h.clock.advance(RETENTION_MS - CHECK_MS);
    await h.coordinator.expireOffsets();
    assert.equal((await h.coordinator.fetch('g', null)).partitions.length, 1, 'not yet');
    h.clock.advance(CHECK_MS);
    await settleRetention(h);
    assert.deepEqual(await h.coordinator.fetch('g', null), { partitions: [] });
    assert.equal((await h.coordinator.describe(['g']))[0].state, 'Dead', 'an empty group with no offsets left is removed');
    await h.coordinator.close();
  });

  test('a simple group expires each offset by its commit time; a commit can carry its own retention', async () => {
    const h = await harness({ offsetsRetentionMs: RETENTION_MS, offsetsRetentionCheckIntervalMs: CHECK_MS });
    const commit = (partition: number, retentionTimeMs?: number) =>
      h.coordinator.commit({ groupId: 's', generationId: -1, memberId: '', retentionTimeMs, offsets: [{ topic: 't', partition, offset: partition }] });
    await commit(0);
    await commit(1, DAY_MS);
    h.clock.advance(3 * DAY_MS);
    await commit(2);
    await settleRetention(h);
    assert.deepEqual(await partitions(h, 's'), [0, 2], 'partition 1 had a one-day retention');
    h.clock.advance(RETENTION_MS - 3 * DAY_MS);
    await settleRetention(h);
    assert.deepEqual(await partitions(h, 's'), [2]);
    h.clock.advance(3 * DAY_MS);
    await settleRetention(h);
    assert.equal((await h.coordinator.describe(['s']))[0].state, 'Dead');
    await h.coordinator.close();
  });

  test('a stable consumer group loses offsets of topics it stopped reading, by commit time', async () => {
    const h = await harness({ offsetsRetentionMs: RETENTION_MS, offsetsRetentionCheckIntervalMs: DAY_MS, minSessionTimeoutMs: 1000, maxSessionTimeoutMs: 2 * DAY_MS });
    // One member, a session long enough to need no heartbeats in this test; subscribed to t1 only.
    const join = track(h.coordinator.join(joinReq('g', { sessionTimeoutMs: 2 * DAY_MS, protocols: [{ name: 'range', metadata: Buffer.from('t1') }] })));
    h.clock.advance(INITIAL_DELAY_MS);
    const j = await resultOf(join);
    await h.coordinator.sync({ groupId: 'g', generationId: j.generationId, memberId: j.memberId, assignments: [] });
    await h.coordinator.commit({
      groupId: 'g',
      generationId: j.generationId,
      memberId: j.memberId,
      offsets: [
        { topic: 't1', partition: 0, offset: 1 },
        { topic: 'old', partition: 0, offset: 1 },
      ],
    });
    for (let d = 0; d < 8; d++) {
      h.clock.advance(DAY_MS);
      await settleRetention(h);
      await h.coordinator.heartbeat({ groupId: 'g', generationId: j.generationId, memberId: j.memberId });
    }
    assert.deepEqual((await h.coordinator.fetch('g', null)).partitions.map((p) => p.topic), ['t1']);
    assert.equal((await h.coordinator.describe(['g']))[0].state, 'Stable');
    await h.coordinator.close();
  });

  test('a deleted topic takes its offsets out of every group', async () => {
    const h = await harness();
    for (const groupId of ['a', 'b']) {
      await h.coordinator.commit({
        groupId,
        generationId: -1,
        memberId: '',
        offsets: [
          { topic: 'doomed', partition: 0, offset: 1 },
          { topic: 'doomed', partition: 1, offset: 1 },
          { topic: 'kept', partition: 0, offset: 1 },
        ],
      });
    }
    await h.coordinator.onTopicDeleted('doomed');
    for (const groupId of ['a', 'b']) assert.deepEqual((await h.coordinator.fetch(groupId, null)).partitions.map((p) => p.topic), ['kept']);
    await h.coordinator.close();
  });
});

async function partitions(h: Awaited<ReturnType<typeof harness>>, groupId: string): Promise<number[]> {
  return (await h.coordinator.fetch(groupId, null)).partitions.map((p) => p.partition).sort();
}

/** Lets the retention check the clock just triggered finish its writes. */
async function settleRetention(h: Awaited<ReturnType<typeof harness>>): Promise<void> {
  await h.coordinator.expireOffsets();
}
