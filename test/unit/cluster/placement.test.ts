// Replica placement and its records (src/cluster/streams/placement.ts), without an etcd.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodeId, parseIsr, parsePlacement, place as placeShape, placementKey } from '../../../src/cluster/streams/placement.js';

const place = (vhost: string, name: string, partitions: number, factor: number, live: string[]): ReturnType<typeof placeShape> =>
  placeShape(vhost, { name, topicId: 'AAAAAAAAAAAAAAAAAAAAAA', partitions, configs: { 'retention.ms': '1000' } }, factor, live);

describe('stream placement', () => {
  it('gives each partition `factor` distinct live nodes, starting one node further per partition', () => {
    const p = place('/', 'orders', 4, 3, ['n3', 'n1', 'n2', 'n4']);
    assert.equal(p.replicas.length, 4);
    for (const r of p.replicas) {
      assert.equal(r.length, 3);
      assert.equal(new Set(r).size, 3);
      for (const n of r) assert.ok(['n1', 'n2', 'n3', 'n4'].includes(n));
    }
    const leaders = p.replicas.map((r) => r[0]);
    assert.equal(new Set(leaders).size, 4, 'preferred leaders spread over the nodes');
  });

  it('is the same whatever order the live nodes are listed in', () => {
    assert.deepEqual(place('/', 't', 3, 2, ['a', 'b', 'c']), place('/', 't', 3, 2, ['c', 'a', 'b']));
  });

  it('refuses a factor above the live nodes or below 1', () => {
    assert.throws(() => place('/', 't', 1, 4, ['a', 'b', 'c']), RangeError);
    assert.throws(() => place('/', 't', 1, 0, ['a']), RangeError);
  });

  it('broker ids are stable, non-negative 31-bit numbers that differ per name', () => {
    assert.equal(nodeId('n1'), nodeId('n1'));
    const ids = ['n1', 'n2', 'n3', 'node-a', 'node-b'].map(nodeId);
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.ok(Number.isInteger(id) && id >= 0 && id <= 0x7fffffff);
  });

  it('placement records round-trip; malformed ones are refused', () => {
    const p = place('v/1', 'a/b', 2, 1, ['x']);
    assert.deepEqual(parsePlacement(JSON.stringify(p)), p);
    assert.equal(parsePlacement('{"vhost":"/","name":"t","topicId":"x","partitions":2,"replicas":[["a"]]}'), undefined);
    assert.equal(parsePlacement('{"vhost":"/","name":"t","partitions":1,"replicas":[["a"]]}'), undefined, 'no topic id');
    assert.equal(parsePlacement('not json'), undefined);
    assert.equal(placementKey('/wharf/c/', 'v/1', 'a/b'), '/wharf/c/meta/streams/v%2F1/a%2Fb');
  });

  it('ISR records are lists of node names', () => {
    assert.deepEqual(parseIsr('["n1","n2"]'), ['n1', 'n2']);
    assert.equal(parseIsr('[1]'), undefined);
    assert.equal(parseIsr('{'), undefined);
  });
});
