// Static membership (KIP-345): a member with a group.instance.id keeps its place across restarts.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { JoinResult } from '../../../../../src/broker/stream/groups/api.js';
import { type Harness, INITIAL_DELAY_MS, REBALANCE_MS, SESSION_MS, harness, joinReq, resultOf, stillHeld, track } from './harness.js';

/** Two static members (instances i-a, i-b) in a stable group; i-a leads. */
async function staticPair(h: Harness): Promise<{ a: JoinResult; b: JoinResult }> {
  const ja = track(h.coordinator.join(joinReq('g', { groupInstanceId: 'i-a' })));
  const jb = track(h.coordinator.join(joinReq('g', { groupInstanceId: 'i-b' })));
  h.clock.advance(2 * INITIAL_DELAY_MS);
  const [a, b] = [await resultOf(ja), await resultOf(jb)];
  assert.match(a.memberId, /^i-a-/);
  const assignments = [
    { memberId: a.memberId, assignment: Buffer.from('pa') },
    { memberId: b.memberId, assignment: Buffer.from('pb') },
  ];
  const sb = track(h.coordinator.sync({ groupId: 'g', generationId: a.generationId, memberId: b.memberId, groupInstanceId: 'i-b', assignments: [] }));
  await h.coordinator.sync({ groupId: 'g', generationId: a.generationId, memberId: a.memberId, groupInstanceId: 'i-a', assignments });
  await resultOf(sb);
  return { a, b };
}

describe('static membership', () => {
  test('a restarted static follower takes its old place without a rebalance; its old member id is fenced', async () => {
    const h = await harness();
    const { a, b } = await staticPair(h);
    const back = await h.coordinator.join(joinReq('g', { groupInstanceId: 'i-b' }));
    assert.equal(back.error, undefined);
    assert.notEqual(back.memberId, b.memberId);
    assert.equal(back.generationId, a.generationId, 'no new generation');
    assert.equal(back.leader, a.memberId);
    assert.deepEqual(back.members, []);
    assert.equal((await h.coordinator.describe(['g']))[0].state, 'Stable');
    // The group goes on: the leader's heartbeat is fine, the new id syncs to the old assignment.
    assert.deepEqual(await h.coordinator.heartbeat({ groupId: 'g', generationId: a.generationId, memberId: a.memberId, groupInstanceId: 'i-a' }), {});
    const s = await h.coordinator.sync({ groupId: 'g', generationId: back.generationId, memberId: back.memberId, groupInstanceId: 'i-b', assignments: [] });
    assert.equal(s.assignment.toString(), 'pb');
    // The old incarnation is fenced everywhere.
    const fenced = { groupId: 'g', generationId: a.generationId, memberId: b.memberId, groupInstanceId: 'i-b' };
    assert.equal((await h.coordinator.heartbeat(fenced)).error, 'fenced-instance-id');
    assert.equal((await h.coordinator.sync({ ...fenced, assignments: [] })).error, 'fenced-instance-id');
    assert.equal((await h.coordinator.commit({ ...fenced, offsets: [{ topic: 't1', partition: 0, offset: 1 }] }))[0].error, 'fenced-instance-id');
    assert.equal((await h.coordinator.join(joinReq('g', { memberId: b.memberId, groupInstanceId: 'i-b' }))).error, 'fenced-instance-id');
    assert.equal((await h.coordinator.leave({ groupId: 'g', members: [{ memberId: b.memberId, groupInstanceId: 'i-b' }] })).members[0].error, 'fenced-instance-id');
    // An instance id nobody holds.
    assert.equal((await h.coordinator.heartbeat({ ...fenced, groupInstanceId: 'i-z' })).error, 'unknown-member-id');
    await h.coordinator.close();
  });

  test('a restarted static leader: skipAssignment (v9+), or the old leader id for older clients', async () => {
    const h = await harness();
    const { a } = await staticPair(h);
    const v9 = await h.coordinator.join(joinReq('g', { groupInstanceId: 'i-a', supportsSkipAssignment: true }));
    assert.equal(v9.skipAssignment, true);
    assert.equal(v9.leader, v9.memberId);
    assert.equal(v9.members.length, 2);
    assert.equal(v9.generationId, a.generationId);
    const old = await h.coordinator.join(joinReq('g', { groupInstanceId: 'i-a' }));
    assert.equal(old.skipAssignment, false);
    assert.equal(old.leader, v9.memberId, 'names the previous leader id, not its own new one');
    assert.notEqual(old.memberId, v9.memberId);
    assert.deepEqual(old.members, []);
    assert.equal((await h.coordinator.describe(['g']))[0].state, 'Stable');
    await h.coordinator.close();
  });

  test('a static member rejoining with protocols that change the group protocol rebalances', async () => {
    const h = await harness();
    await staticPair(h);
    const back = track(h.coordinator.join(joinReq('g', { groupInstanceId: 'i-b', protocols: [{ name: 'sticky', metadata: Buffer.from('t1') }, { name: 'range', metadata: Buffer.from('t1') }] })));
    // 'range' is still the only common protocol, so no rebalance; now make 'sticky' common.
    assert.equal((await resultOf(back)).error, undefined);
    assert.equal((await h.coordinator.describe(['g']))[0].state, 'Stable');
    const leaderBack = track(h.coordinator.join(joinReq('g', { groupInstanceId: 'i-a', protocols: [{ name: 'sticky', metadata: Buffer.from('t1') }, { name: 'range', metadata: Buffer.from('t1') }] })));
    assert.ok(await stillHeld(leaderBack), 'sticky would win now: a rebalance');
    assert.equal((await h.coordinator.describe(['g']))[0].state, 'PreparingRebalance');
    await h.coordinator.close();
  });

  test('a static member that does not rejoin keeps its place through a rebalance', async () => {
    const h = await harness();
    // i-b's session outlasts the rebalance timeout, so only the rebalance could drop it.
    const ja = track(h.coordinator.join(joinReq('g', { groupInstanceId: 'i-a' })));
    const jb = track(h.coordinator.join(joinReq('g', { groupInstanceId: 'i-b', sessionTimeoutMs: 2 * REBALANCE_MS })));
    h.clock.advance(2 * INITIAL_DELAY_MS);
    const [a, b] = [await resultOf(ja), await resultOf(jb)];
    const sb = track(h.coordinator.sync({ groupId: 'g', generationId: a.generationId, memberId: b.memberId, assignments: [] }));
    await h.coordinator.sync({ groupId: 'g', generationId: a.generationId, memberId: a.memberId, assignments: [] });
    await resultOf(sb);
    // A dynamic newcomer starts a rebalance; i-a rejoins, i-b stays silent.
    const c = track(h.coordinator.join(joinReq('g')));
    const ra = track(h.coordinator.join(joinReq('g', { memberId: a.memberId, groupInstanceId: 'i-a' })));
    h.clock.advance(REBALANCE_MS / 2);
    assert.ok(await stillHeld(ra));
    h.clock.advance(REBALANCE_MS / 2);
    const r = await resultOf(ra);
    await resultOf(c);
    assert.equal(r.generationId, a.generationId + 1);
    assert.deepEqual(r.members.map((m) => m.groupInstanceId ?? 'dynamic').sort(), ['dynamic', 'i-a', 'i-b']);
    assert.deepEqual(await h.coordinator.heartbeat({ groupId: 'g', generationId: r.generationId, memberId: b.memberId, groupInstanceId: 'i-b' }), {});
    await h.coordinator.close();
  });

  test('a dynamic member that does not rejoin is dropped when its session runs out mid-rebalance', async () => {
    const h = await harness();
    const ja = track(h.coordinator.join(joinReq('g')));
    const jb = track(h.coordinator.join(joinReq('g')));
    h.clock.advance(2 * INITIAL_DELAY_MS);
    const [a, b] = [await resultOf(ja), await resultOf(jb)];
    const sb = track(h.coordinator.sync({ groupId: 'g', generationId: a.generationId, memberId: b.memberId, assignments: [] }));
    await h.coordinator.sync({ groupId: 'g', generationId: a.generationId, memberId: a.memberId, assignments: [] });
    await resultOf(sb);
    const ra = track(h.coordinator.join(joinReq('g', { memberId: a.memberId })));
    assert.ok(SESSION_MS < REBALANCE_MS);
    h.clock.advance(SESSION_MS);
    // b's session ended before the rebalance timeout: the rebalance completes without it, early.
    const r = await resultOf(ra);
    assert.deepEqual(r.members.map((m) => m.memberId), [a.memberId]);
    await h.coordinator.close();
  });

  test('an admin removes a static member by instance id', async () => {
    const h = await harness();
    const { b } = await staticPair(h);
    const r = await h.coordinator.leave({
      groupId: 'g',
      members: [
        { memberId: '', groupInstanceId: 'i-b' },
        { memberId: '', groupInstanceId: 'i-zzz' },
      ],
    });
    assert.deepEqual(r, {
      members: [
        { memberId: '', groupInstanceId: 'i-b' },
        { memberId: '', groupInstanceId: 'i-zzz', error: 'unknown-member-id' },
      ],
    });
    const d = (await h.coordinator.describe(['g']))[0];
    assert.equal(d.state, 'PreparingRebalance');
    assert.ok(!d.members.some((m) => m.memberId === b.memberId));
    await h.coordinator.close();
  });
});
