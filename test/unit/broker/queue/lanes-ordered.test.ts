// Lanes.ordered() (the order the peek route numbers positions in, and a move takes
// messages in) must be exactly the order shift() hands entries out: priority lanes
// from the top, and requeued entries back in their original place by id.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Lanes } from '../../../../src/broker/queue/lanes.js';
import { QueueEntry, StoredMessage } from '../../../../src/broker/message.js';

function entry(id: number, priority = 0): QueueEntry {
  return new QueueEntry(new StoredMessage(id, false, 1, undefined, undefined, 0, -1, priority));
}

function drainIds(lanes: Lanes): number[] {
  const out: number[] = [];
  for (let e = lanes.shift(); e; e = lanes.shift()) out.push(e.msg.id);
  return out;
}

test('ordered() lists entries in the order shift() returns them, with requeued ones in place and priorities first', () => {
  const lanes = new Lanes(5);
  const all = [entry(1), entry(2, 3), entry(3), entry(4), entry(5, 3), entry(6), entry(7, 9)];
  for (const e of all) lanes.push(e);
  // shift() gives 7 (priority 9, capped to 5), then 2 and 5 (priority 3); 2 and 5 come back.
  const taken = [lanes.shift(), lanes.shift(), lanes.shift()] as QueueEntry[];
  lanes.requeue(taken[1]);
  lanes.requeue(taken[2]);
  const listed = [...lanes.ordered()].map((e) => e.msg.id);
  assert.deepEqual(listed, drainIds(lanes));
  assert.deepEqual(listed, [2, 5, 1, 3, 4, 6]);
});

test('ordered() of an empty or plain FIFO queue', () => {
  const lanes = new Lanes(0);
  assert.deepEqual([...lanes.ordered()], []);
  for (let i = 1; i <= 5; i++) lanes.push(entry(i));
  assert.deepEqual([...lanes.ordered()].map((e) => e.msg.id), [1, 2, 3, 4, 5]);
  // Requeued out of order within one lane: back in id order, ahead of the rest.
  const taken = [lanes.shift(), lanes.shift(), lanes.shift()] as QueueEntry[];
  lanes.requeue(taken[2]);
  lanes.requeue(taken[0]);
  assert.deepEqual([...lanes.ordered()].map((e) => e.msg.id), [1, 3, 4, 5]);
  assert.deepEqual(drainIds(lanes), [1, 3, 4, 5]);
});
