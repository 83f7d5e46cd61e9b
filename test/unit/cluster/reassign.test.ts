import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { place } from '../../../src/cluster/streams/placement.js';
import { planMoves, widened, withReplicas } from '../../../src/cluster/streams/reassign.js';

const STREAM = { name: 'orders', topicId: 't', partitions: 6, configs: {} };

describe('replica reassignment plans', () => {
  test('nothing moves while the live nodes are the ones placed over', () => {
    assert.deepEqual(planMoves(place('/', STREAM, 2, ['a', 'b', 'c']), ['c', 'b', 'a']), []);
  });

  test('a node added: partitions spread over it, keeping the replication factor', () => {
    const current = place('/', STREAM, 2, ['a', 'b']);
    const moves = planMoves(current, ['a', 'b', 'c']);
    assert.ok(moves.length > 0);
    const after = withReplicas(current, new Map(moves.map((m) => [m.partition, m.to])));
    assert.ok(after.replicas.every((r) => r.length === 2 && new Set(r).size === 2));
    assert.ok(after.replicas.some((r) => r.includes('c')), 'the new node holds replicas');
    for (const m of moves) assert.deepEqual(m.from, current.replicas[m.partition]);
  });

  test('a node gone: its replicas move to the others; the factor shrinks to the live nodes at most', () => {
    const current = place('/', STREAM, 3, ['a', 'b', 'c']);
    const moves = planMoves(current, ['a', 'b']);
    assert.equal(moves.length, 6);
    for (const m of moves) assert.deepEqual([...m.to].sort(), ['a', 'b']);
  });

  test('the first step keeps the old replicas first (the leader stays) and adds the new ones', () => {
    assert.deepEqual(widened(['a', 'b'], ['c', 'a']), ['a', 'b', 'c']);
  });
});
