// GroupedLanes (x-message-group-header): a group's messages in order, none handed out
// while one of its group is delivered and unsettled, other groups proceed, requeued
// messages back in their place, ungrouped messages never blocked.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GroupedLanes, groupKeyOf } from '../../../../src/broker/queue/groups.js';
import { QueueEntry, StoredMessage } from '../../../../src/broker/message.js';
import { encodeProperties } from '../../../../src/protocol/amqp/content.js';

function entry(id: number): QueueEntry {
  return new QueueEntry(new StoredMessage(id, false, 1, undefined, undefined, 0, -1, 0));
}

function filled(spec: [number, string | undefined][]): { lanes: GroupedLanes; byId: Map<number, QueueEntry> } {
  const lanes = new GroupedLanes();
  const byId = new Map<number, QueueEntry>();
  for (const [id, key] of spec) {
    const e = entry(id);
    byId.set(id, e);
    lanes.push(e, key);
  }
  return { lanes, byId };
}

test('a group with a delivery in flight is held back; other groups deliver, oldest head first', () => {
  const { lanes } = filled([[1, 'a'], [2, 'a'], [3, 'b'], [4, 'a'], [5, 'b'], [6, 'c']]);
  const first = lanes.shift(true) as QueueEntry;
  assert.equal(first.msg.id, 1);
  assert.equal(lanes.head()?.msg.id, 3, 'a is blocked: b is next');
  const second = lanes.shift(true) as QueueEntry;
  assert.equal(second.msg.id, 3);
  assert.equal((lanes.shift(true) as QueueEntry).msg.id, 6);
  assert.equal(lanes.head(), undefined, 'every group has one in flight');
  assert.equal(lanes.length, 3);
  lanes.done(second);
  assert.equal(lanes.head()?.msg.id, 5);
  lanes.done(first);
  assert.equal(lanes.head()?.msg.id, 2, 'a is free again and its head is older than b');
});

test('a requeued delivery goes back to its place at the head of its group', () => {
  const { lanes } = filled([[1, 'a'], [2, 'a'], [3, 'a']]);
  const e1 = lanes.shift(true) as QueueEntry;
  assert.equal(lanes.head(), undefined);
  lanes.requeue(e1);
  const order: number[] = [];
  for (let e = lanes.shift(true); e; e = lanes.shift(true)) {
    order.push(e.msg.id);
    lanes.done(e);
  }
  assert.deepEqual(order, [1, 2, 3]);
  assert.equal(lanes.groupCount, 0, 'empty groups are forgotten');
});

test('following() lets one taker continue its group in the same batch, in order', () => {
  const { lanes } = filled([[1, 'a'], [2, 'b'], [3, 'a'], [4, 'a']]);
  const e1 = lanes.shift(true) as QueueEntry;
  assert.equal(lanes.following(e1)?.msg.id, 3);
  const e3 = lanes.shiftFollowing(e1) as QueueEntry;
  const e4 = lanes.shiftFollowing(e3) as QueueEntry;
  assert.deepEqual([e1, e3, e4].map((e) => e.msg.id), [1, 3, 4]);
  assert.equal(lanes.following(e4), undefined);
  assert.equal(lanes.head()?.msg.id, 2);
  lanes.done(e1);
  // Requeued while e4 is out: a (3 back) stays blocked until e4 settles.
  lanes.requeue(e3);
  assert.equal(lanes.shift(true)?.msg.id, 2);
  assert.equal(lanes.head(), undefined);
  lanes.done(e4);
  assert.equal(lanes.head()?.msg.id, 3);
});

test('ungrouped messages are never held back, and expiry-style shifts do not block', () => {
  const { lanes } = filled([[1, undefined], [2, undefined], [3, 'a'], [4, 'a']]);
  assert.equal(lanes.shift(true)?.msg.id, 1);
  assert.equal(lanes.shift(true)?.msg.id, 2);
  assert.equal(lanes.shift(false)?.msg.id, 3, 'dropped, not delivered');
  assert.equal(lanes.shift(true)?.msg.id, 4, 'the group goes on');
});

test('ordered(), drain() and popNewest() keep the count right', () => {
  const { lanes, byId } = filled([[1, 'a'], [2, 'b'], [3, 'a']]);
  assert.deepEqual([...lanes.ordered()].map((e) => e.msg.id), [1, 2, 3]);
  assert.equal(lanes.popNewest(byId.get(3) as QueueEntry), true);
  assert.equal(lanes.length, 2);
  const e1 = lanes.shift(true) as QueueEntry;
  assert.equal(lanes.drain().length, 1);
  assert.equal(lanes.length, 0);
  lanes.push(entry(9), 'a');
  assert.equal(lanes.head(), undefined, 'a still has 1 in flight after the purge');
  lanes.done(e1);
  assert.equal(lanes.head()?.msg.id, 9);
});

test('a dequeue never scans: 100,000 groups, every message delivered in group order', () => {
  const lanes = new GroupedLanes();
  const groups = 100_000;
  for (let i = 0; i < groups * 3; i++) lanes.push(entry(i + 1), `g${i % groups}`);
  const last = new Map<string, number>();
  let n = 0;
  for (let round = 0; round < 3; round++) {
    const out: QueueEntry[] = [];
    for (let e = lanes.shift(true); e; e = lanes.shift(true)) out.push(e);
    assert.equal(out.length, groups, 'one per group per round');
    for (const e of out) {
      const key = `g${(e.msg.id - 1) % groups}`;
      assert.ok((last.get(key) ?? 0) < e.msg.id);
      last.set(key, e.msg.id);
      lanes.done(e);
      n++;
    }
  }
  assert.equal(n, groups * 3);
});

test('groupKeyOf reads the named header as text', () => {
  const msg = (headers: Record<string, unknown>): StoredMessage =>
    new StoredMessage(1, false, 1, { exchange: '', routingKey: 'q', properties: encodeProperties({ headers: headers as never }), body: Buffer.alloc(1) }, undefined, 0);
  assert.equal(groupKeyOf(msg({ g: 'x' }), 'g'), 'x');
  assert.equal(groupKeyOf(msg({ g: 7 }), 'g'), '7');
  assert.equal(groupKeyOf(msg({ g: '' }), 'g'), undefined);
  assert.equal(groupKeyOf(msg({ h: 'x' }), 'g'), undefined);
});
