// Kafka's classic group protocol in the coordinator: joins, leader election, rebalances on join,
// leave and session expiry, generations, static membership, MEMBER_ID_REQUIRED. Time is a manual
// clock: timeouts fire when the test advances it.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  INITIAL_DELAY_MS,
  REBALANCE_MS,
  SESSION_MS,
  harness,
  joinReq,
  resultOf,
  stableGroup,
  stillHeld,
  track,
} from './harness.js';

describe('group membership', () => {
  test('a lone member: MEMBER_ID_REQUIRED, then the initial delay, then it leads generation 1', async () => {
    const h = await harness();
    const first = await h.coordinator.join(joinReq('g', { requireKnownMemberId: true, clientId: 'app' }));
    assert.equal(first.error, 'member-id-required');
    assert.match(first.memberId, /^app-[0-9a-f-]{36}$/);
    assert.equal(first.generationId, -1);

    const join = track(h.coordinator.join(joinReq('g', { memberId: first.memberId, requireKnownMemberId: true })));
    assert.ok(await stillHeld(join), 'held for the initial rebalance delay');
    assert.equal((await h.coordinator.describe(['g']))[0].state, 'PreparingRebalance');
    h.clock.advance(INITIAL_DELAY_MS);
    const r = await resultOf(join);
    assert.equal(r.error, undefined);
    assert.equal(r.generationId, 1);
    assert.equal(r.leader, first.memberId);
    assert.equal(r.memberId, first.memberId);
    assert.equal(r.protocolType, 'consumer');
    assert.equal(r.protocolName, 'range');
    assert.deepEqual(r.members, [{ memberId: first.memberId, groupInstanceId: null, metadata: Buffer.from('t1') }]);

    assert.equal((await h.coordinator.describe(['g']))[0].state, 'CompletingRebalance');
    const s = await h.coordinator.sync({ groupId: 'g', generationId: 1, memberId: r.memberId, assignments: [{ memberId: r.memberId, assignment: Buffer.from('mine') }] });
    assert.deepEqual(s, { protocolType: 'consumer', protocolName: 'range', assignment: Buffer.from('mine') });
    assert.deepEqual(await h.coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: r.memberId }), {});
    const d = (await h.coordinator.describe(['g']))[0];
    assert.equal(d.state, 'Stable');
    assert.equal(d.protocolData, 'range');
    assert.deepEqual(d.members.map((m) => [m.memberId, m.clientId, m.metadata.toString(), m.assignment.toString()]), [[r.memberId, 'client', 't1', 'mine']]);
    await h.coordinator.close();
  });

  test('members joining during the initial delay share one rebalance; only the leader gets the metadata', async () => {
    const h = await harness();
    const a = track(h.coordinator.join(joinReq('g', { clientId: 'a', protocols: [{ name: 'range', metadata: Buffer.from('ma') }] })));
    h.clock.advance(INITIAL_DELAY_MS / 2);
    const b = track(h.coordinator.join(joinReq('g', { clientId: 'b', protocols: [{ name: 'range', metadata: Buffer.from('mb') }] })));
    h.clock.advance(INITIAL_DELAY_MS / 2);
    // b arrived during the delay: the group waits one more delay.
    assert.ok(await stillHeld(a));
    const c = track(h.coordinator.join(joinReq('g', { clientId: 'c', protocols: [{ name: 'range', metadata: Buffer.from('mc') }] })));
    h.clock.advance(INITIAL_DELAY_MS);
    assert.ok(await stillHeld(a), 'c arrived during the extension: one more');
    h.clock.advance(INITIAL_DELAY_MS);
    const [ra, rb, rc] = [await resultOf(a), await resultOf(b), await resultOf(c)];
    for (const r of [ra, rb, rc]) {
      assert.equal(r.generationId, 1);
      assert.equal(r.leader, ra.memberId);
    }
    assert.deepEqual(
      ra.members.map((m) => [m.memberId, m.metadata.toString()]),
      [
        [ra.memberId, 'ma'],
        [rb.memberId, 'mb'],
        [rc.memberId, 'mc'],
      ],
    );
    assert.deepEqual(rb.members, []);
    assert.deepEqual(rc.members, []);

    // Followers' syncs wait for the leader's; a member the leader leaves out gets an empty assignment.
    const sb = track(h.coordinator.sync({ groupId: 'g', generationId: 1, memberId: rb.memberId, assignments: [] }));
    const sc = track(h.coordinator.sync({ groupId: 'g', generationId: 1, memberId: rc.memberId, assignments: [] }));
    assert.ok(await stillHeld(sb));
    const sa = await h.coordinator.sync({
      groupId: 'g',
      generationId: 1,
      memberId: ra.memberId,
      assignments: [
        { memberId: ra.memberId, assignment: Buffer.from('pa') },
        { memberId: rb.memberId, assignment: Buffer.from('pb') },
      ],
    });
    assert.equal(sa.assignment.toString(), 'pa');
    assert.equal((await resultOf(sb)).assignment.toString(), 'pb');
    assert.equal((await resultOf(sc)).assignment.length, 0);
    assert.equal((await h.coordinator.describe(['g']))[0].state, 'Stable');
    await h.coordinator.close();
  });

  test('a new member rebalances a stable group: heartbeats say so, joins are held until all rejoined', async () => {
    const h = await harness();
    const g = await stableGroup(h, 'g', 2);
    const [leader, follower] = g.members;
    const newcomer = track(h.coordinator.join(joinReq('g', { clientId: 'new' })));
    assert.ok(await stillHeld(newcomer));
    assert.deepEqual(await h.coordinator.heartbeat({ groupId: 'g', generationId: g.generationId, memberId: follower }), { error: 'rebalance-in-progress' });
    // Commits still go through while the group prepares its rebalance.
    const commit = await h.coordinator.commit({ groupId: 'g', generationId: g.generationId, memberId: follower, offsets: [{ topic: 't1', partition: 0, offset: 5 }] });
    assert.deepEqual(commit, [{ topic: 't1', partition: 0 }]);
    // A sync of the old generation is refused now.
    assert.equal((await h.coordinator.sync({ groupId: 'g', generationId: g.generationId, memberId: follower, assignments: [] })).error, 'rebalance-in-progress');

    const rl = track(h.coordinator.join(joinReq('g', { memberId: leader })));
    assert.ok(await stillHeld(rl), 'the follower has not rejoined yet');
    const rf = track(h.coordinator.join(joinReq('g', { memberId: follower })));
    const [a, b, c] = [await resultOf(rl), await resultOf(rf), await resultOf(newcomer)];
    assert.equal(a.generationId, g.generationId + 1);
    assert.equal(b.generationId, g.generationId + 1);
    assert.equal(a.leader, leader);
    assert.equal(a.members.length, 3);
    assert.equal(c.members.length, 0);
    assert.equal(c.leader, leader);
    await h.coordinator.close();
  });

  test('members that do not rejoin within the rebalance timeout are dropped', async () => {
    const h = await harness();
    const g = await stableGroup(h, 'g', 3);
    const [leader, f1, f2] = g.members;
    // The leader rejoining starts a rebalance; f1 rejoins, f2 stays silent (but keeps heartbeating).
    const rl = track(h.coordinator.join(joinReq('g', { memberId: leader })));
    const r1 = track(h.coordinator.join(joinReq('g', { memberId: f1 })));
    for (let waited = 0; waited < REBALANCE_MS - SESSION_MS / 2; waited += SESSION_MS / 2) {
      h.clock.advance(SESSION_MS / 2);
      assert.equal((await h.coordinator.heartbeat({ groupId: 'g', generationId: g.generationId, memberId: f2 })).error, 'rebalance-in-progress');
    }
    assert.ok(await stillHeld(rl));
    h.clock.advance(SESSION_MS / 2);
    const a = await resultOf(rl);
    assert.equal(a.generationId, g.generationId + 1);
    assert.deepEqual(a.members.map((m) => m.memberId).sort(), [leader, f1].sort());
    assert.equal((await resultOf(r1)).generationId, g.generationId + 1);
    assert.equal((await h.coordinator.heartbeat({ groupId: 'g', generationId: a.generationId, memberId: f2 })).error, 'unknown-member-id');
    await h.coordinator.close();
  });

  test('the leader leaving: a remaining member that rejoins leads the next generation', async () => {
    const h = await harness();
    const g = await stableGroup(h, 'g', 3);
    const [leader, f1, f2] = g.members;
    const left = await h.coordinator.leave({ groupId: 'g', members: [{ memberId: leader, reason: 'shutting down' }] });
    assert.deepEqual(left, { members: [{ memberId: leader, groupInstanceId: null }] });
    assert.equal((await h.coordinator.describe(['g']))[0].state, 'PreparingRebalance');
    const r2 = track(h.coordinator.join(joinReq('g', { memberId: f2 })));
    const r1 = track(h.coordinator.join(joinReq('g', { memberId: f1 })));
    const [b, a] = [await resultOf(r2), await resultOf(r1)];
    assert.equal(a.generationId, g.generationId + 1);
    assert.ok([f1, f2].includes(a.leader));
    assert.equal(a.leader, b.leader);
    const leaderResult = a.leader === f1 ? a : b;
    assert.equal(leaderResult.members.length, 2);
    await h.coordinator.close();
  });

  test('the last member leaving empties the group; a later member starts generation + 1', async () => {
    const h = await harness();
    const g = await stableGroup(h, 'g', 1);
    assert.deepEqual((await h.coordinator.leave({ groupId: 'g', members: [{ memberId: g.members[0] }] })).members[0].error, undefined);
    const d = (await h.coordinator.describe(['g']))[0];
    assert.equal(d.state, 'Empty');
    assert.equal(d.protocolType, 'consumer');
    assert.deepEqual(d.members, []);
    const again = track(h.coordinator.join(joinReq('g')));
    h.clock.advance(INITIAL_DELAY_MS);
    // Generation 2 went to the empty group; the next one is 3.
    assert.equal((await resultOf(again)).generationId, g.generationId + 2);
    await h.coordinator.close();
  });

  test('session expiry removes a silent member and rebalances the rest', async () => {
    const h = await harness();
    const g = await stableGroup(h, 'g', 2);
    const [leader, silent] = g.members;
    for (let i = 1; i < 4; i++) {
      h.clock.advance(SESSION_MS / 4);
      assert.deepEqual(await h.coordinator.heartbeat({ groupId: 'g', generationId: g.generationId, memberId: leader }), {});
    }
    assert.equal((await h.coordinator.describe(['g']))[0].state, 'Stable');
    h.clock.advance(SESSION_MS / 4);
    // `silent` has missed its session now: it is gone and the group rebalances.
    assert.equal((await h.coordinator.describe(['g']))[0].state, 'PreparingRebalance');
    assert.equal((await h.coordinator.heartbeat({ groupId: 'g', generationId: g.generationId, memberId: silent })).error, 'unknown-member-id');
    const r = await h.coordinator.join(joinReq('g', { memberId: leader }));
    assert.equal(r.generationId, g.generationId + 1);
    assert.deepEqual(r.members.map((m) => m.memberId), [leader]);
    await h.coordinator.close();
  });

  test('stale generations and unknown members are refused', async () => {
    const h = await harness();
    const g = await stableGroup(h, 'g', 2);
    const [leader, follower] = g.members;
    const next = track(h.coordinator.join(joinReq('g', { memberId: leader })));
    const nf = track(h.coordinator.join(joinReq('g', { memberId: follower })));
    const gen2 = (await resultOf(next)).generationId;
    await resultOf(nf);
    assert.equal(gen2, g.generationId + 1);
    assert.equal((await h.coordinator.heartbeat({ groupId: 'g', generationId: g.generationId, memberId: follower })).error, 'illegal-generation');
    assert.equal((await h.coordinator.sync({ groupId: 'g', generationId: g.generationId, memberId: follower, assignments: [] })).error, 'illegal-generation');
    const stale = await h.coordinator.commit({ groupId: 'g', generationId: g.generationId, memberId: follower, offsets: [{ topic: 't1', partition: 0, offset: 1 }] });
    assert.equal(stale[0].error, 'illegal-generation');
    assert.equal((await h.coordinator.heartbeat({ groupId: 'g', generationId: gen2, memberId: 'nobody' })).error, 'unknown-member-id');
    assert.equal((await h.coordinator.heartbeat({ groupId: 'nope', generationId: 1, memberId: follower })).error, 'unknown-member-id');
    assert.equal((await h.coordinator.sync({ groupId: 'g', generationId: gen2, memberId: 'nobody', assignments: [] })).error, 'unknown-member-id');
    assert.equal((await h.coordinator.join(joinReq('g', { memberId: 'nobody' }))).error, 'unknown-member-id');
    assert.equal((await h.coordinator.join(joinReq('nope', { memberId: 'nobody' }))).error, 'unknown-member-id');
    // CompletingRebalance: a commit by a valid member waits for its assignment first.
    const early = await h.coordinator.commit({ groupId: 'g', generationId: gen2, memberId: follower, offsets: [{ topic: 't1', partition: 0, offset: 1 }] });
    assert.equal(early[0].error, 'rebalance-in-progress');
    // A sync naming another protocol.
    assert.equal((await h.coordinator.sync({ groupId: 'g', generationId: gen2, memberId: follower, protocolName: 'roundrobin', assignments: [] })).error, 'inconsistent-group-protocol');
    await h.coordinator.close();
  });

  test('a follower rejoining with the same metadata gets the current generation; the leader rejoining rebalances', async () => {
    const h = await harness();
    const g = await stableGroup(h, 'g', 2);
    const [leader, follower] = g.members;
    const same = await h.coordinator.join(joinReq('g', { memberId: follower }));
    assert.equal(same.generationId, g.generationId);
    assert.equal(same.leader, leader);
    assert.equal((await h.coordinator.describe(['g']))[0].state, 'Stable');
    const changed = track(h.coordinator.join(joinReq('g', { memberId: follower, protocols: [{ name: 'range', metadata: Buffer.from('t1,t2') }] })));
    assert.ok(await stillHeld(changed), 'new metadata: a rebalance');
    assert.equal((await h.coordinator.describe(['g']))[0].state, 'PreparingRebalance');
    const rl = await h.coordinator.join(joinReq('g', { memberId: leader }));
    assert.equal(rl.generationId, g.generationId + 1);
    assert.deepEqual(rl.members.find((m) => m.memberId === follower)?.metadata, Buffer.from('t1,t2'));
    await h.coordinator.close();
  });

  test('protocol negotiation: type and a common protocol are required; most preferred common one wins', async () => {
    const h = await harness();
    const a = track(h.coordinator.join(joinReq('g', { protocols: [{ name: 'range', metadata: Buffer.from('t') }, { name: 'sticky', metadata: Buffer.from('t') }] })));
    const b = track(h.coordinator.join(joinReq('g', { protocols: [{ name: 'sticky', metadata: Buffer.from('t') }, { name: 'range', metadata: Buffer.from('t') }] })));
    const c = track(h.coordinator.join(joinReq('g', { protocols: [{ name: 'sticky', metadata: Buffer.from('t') }, { name: 'coop', metadata: Buffer.from('t') }] })));
    assert.equal((await h.coordinator.join(joinReq('g', { protocolType: 'connect' }))).error, 'inconsistent-group-protocol');
    assert.equal((await h.coordinator.join(joinReq('g', { protocols: [{ name: 'coop', metadata: Buffer.from('t') }] }))).error, 'inconsistent-group-protocol');
    assert.equal((await h.coordinator.join(joinReq('other', { protocols: [] }))).error, 'inconsistent-group-protocol');
    assert.equal((await h.coordinator.join(joinReq('other', { protocolType: '' }))).error, 'inconsistent-group-protocol');
    h.clock.advance(2 * INITIAL_DELAY_MS);
    for (const r of [await resultOf(a), await resultOf(b), await resultOf(c)]) assert.equal(r.protocolName, 'sticky');
    await h.coordinator.close();
  });

  test('bad requests: empty group id, session timeout out of bounds, group max size', async () => {
    const h = await harness({ maxSize: 2 });
    assert.equal((await h.coordinator.join(joinReq(''))).error, 'invalid-group-id');
    assert.equal((await h.coordinator.sync({ groupId: '', generationId: 1, memberId: 'm', assignments: [] })).error, 'invalid-group-id');
    assert.equal((await h.coordinator.heartbeat({ groupId: '', generationId: 1, memberId: 'm' })).error, 'invalid-group-id');
    assert.equal((await h.coordinator.leave({ groupId: '', members: [{ memberId: 'm' }] })).error, 'invalid-group-id');
    assert.equal((await h.coordinator.join(joinReq('g', { sessionTimeoutMs: 999 }))).error, 'invalid-session-timeout');
    assert.equal((await h.coordinator.join(joinReq('g', { sessionTimeoutMs: 60_001 }))).error, 'invalid-session-timeout');
    const g = await stableGroup(h, 'g', 2);
    assert.deepEqual(await h.coordinator.join(joinReq('g')), {
      error: 'group-max-size-reached',
      generationId: -1,
      protocolType: null,
      protocolName: null,
      leader: '',
      memberId: '',
      skipAssignment: false,
      members: [],
    });
    assert.equal((await h.coordinator.describe(['g']))[0].members.length, g.members.length);
    await h.coordinator.close();
  });

  test('a member that got MEMBER_ID_REQUIRED holds up a rebalance until it joins or its session passes', async () => {
    const h = await harness();
    const g = await stableGroup(h, 'g', 1);
    const pending = await h.coordinator.join(joinReq('g', { requireKnownMemberId: true }));
    assert.equal(pending.error, 'member-id-required');
    // The leader rejoins (a rebalance): the pending member counts as not joined yet.
    const rl = track(h.coordinator.join(joinReq('g', { memberId: g.members[0] })));
    assert.ok(await stillHeld(rl));
    h.clock.advance(SESSION_MS);
    const r = await resultOf(rl);
    assert.equal(r.generationId, g.generationId + 1);
    assert.deepEqual(r.members.map((m) => m.memberId), [g.members[0]]);
    // Its id is no longer known.
    assert.equal((await h.coordinator.join(joinReq('g', { memberId: pending.memberId }))).error, 'unknown-member-id');
    await h.coordinator.close();
  });

  test('members that never send SyncGroup are dropped after the rebalance timeout', async () => {
    const h = await harness();
    const a = track(h.coordinator.join(joinReq('g')));
    const b = track(h.coordinator.join(joinReq('g')));
    h.clock.advance(2 * INITIAL_DELAY_MS);
    const [ra, rb] = [await resultOf(a), await resultOf(b)];
    await h.coordinator.sync({ groupId: 'g', generationId: 1, memberId: ra.memberId, assignments: [] });
    // b keeps heartbeating but never syncs.
    for (let t = 0; t < REBALANCE_MS; t += SESSION_MS / 2) {
      assert.equal((await h.coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: ra.memberId })).error, undefined);
      h.clock.advance(SESSION_MS / 2);
      if ((await h.coordinator.describe(['g']))[0].state !== 'Stable') break;
      assert.equal((await h.coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: rb.memberId })).error, undefined);
    }
    const d = (await h.coordinator.describe(['g']))[0];
    assert.equal(d.state, 'PreparingRebalance');
    assert.deepEqual(d.members.map((m) => m.memberId), [ra.memberId]);
    await h.coordinator.close();
  });

  test('a JoinGroup repeated while the first is held: the first is answered to retry, the second is held', async () => {
    const h = await harness();
    const g = await stableGroup(h, 'g', 2);
    const [leader, follower] = g.members;
    const first = track(h.coordinator.join(joinReq('g', { memberId: leader })));
    const second = track(h.coordinator.join(joinReq('g', { memberId: leader })));
    assert.equal((await resultOf(first)).error, 'rebalance-in-progress');
    assert.ok(await stillHeld(second));
    await h.coordinator.join(joinReq('g', { memberId: follower }));
    assert.equal((await resultOf(second)).generationId, g.generationId + 1);
    await h.coordinator.close();
  });

  test('close answers held requests with COORDINATOR_NOT_AVAILABLE', async () => {
    const h = await harness();
    const a = track(h.coordinator.join(joinReq('g')));
    await h.coordinator.close();
    assert.equal((await resultOf(a)).error, 'coordinator-not-available');
    assert.equal((await h.coordinator.join(joinReq('g'))).error, 'coordinator-not-available');
    assert.equal(h.clock.pending, 0, 'every timer stopped');
  });
});
