import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONTROLLER, ClusterKeys, parseResourcePath, resourcePath, type Resource } from '../../../src/cluster/keys.js';
import { localDeadline, stepDownMarginMs } from '../../../src/cluster/lease.js';
import { parseLeaderRecord, parseNodeRecord } from '../../../src/cluster/records.js';

describe('cluster keys', () => {
  const keys = new ClusterKeys('prod');

  it('lays out nodes, members, leaders, epochs and state under /wharf/<cluster>/', () => {
    assert.equal(keys.node('n1'), '/wharf/prod/nodes/n1');
    assert.equal(keys.member('n1'), '/wharf/prod/members/n1');
    assert.equal(keys.leader(CONTROLLER), '/wharf/prod/leaders/controller');
    const q: Resource = { kind: 'queue', vhost: '/', name: 'orders' };
    assert.equal(keys.leader(q), '/wharf/prod/leaders/queue/%2F/orders');
    assert.equal(keys.epoch(q), '/wharf/prod/epochs/queue/%2F/orders');
    assert.equal(keys.state(q, 'hw'), '/wharf/prod/state/queue/%2F/orders/hw');
    assert.equal(keys.nodeOf('/wharf/prod/nodes/n1'), 'n1');
    assert.equal(keys.nodeOf('/wharf/prod/members/n1'), undefined);
    assert.equal(keys.leaderPathOf(keys.leader(q)), 'queue/%2F/orders');
  });

  it('encodes names so that a / in a queue name cannot alias a stream partition', () => {
    const tricky: Resource = { kind: 'queue', vhost: 'a/b', name: 'c/0' };
    const stream: Resource = { kind: 'stream', vhost: 'a', name: 'b', partition: 0 };
    assert.notEqual(resourcePath(tricky), resourcePath(stream));
    for (const r of [tricky, stream, CONTROLLER, { kind: 'stream', vhost: '/', name: 'événements', partition: 12 } as Resource]) {
      assert.deepEqual(parseResourcePath(resourcePath(r)), r);
    }
    assert.equal(parseResourcePath('queue/%E0%A4%A/x'), undefined);
    assert.equal(parseResourcePath('stream/v/s/-1'), undefined);
    assert.equal(parseResourcePath('other'), undefined);
  });

  it('refuses cluster names that would not be one key segment', () => {
    assert.throws(() => new ClusterKeys('a/b'), /invalid cluster name/);
    assert.throws(() => new ClusterKeys(''), /invalid cluster name/);
  });
});

describe('lease deadline', () => {
  it('ends a margin before the earliest moment etcd could expire the lease', () => {
    // Sent at t=1000 with TTL 10 s: etcd keeps it at least until 11000; we stop trusting it at 9000.
    assert.equal(stepDownMarginMs(10_000), 2000);
    assert.equal(localDeadline(1000, 10), 9000);
    // Short TTLs keep at least 250 ms of margin.
    assert.equal(stepDownMarginMs(1000), 250);
    assert.equal(localDeadline(0, 2), 1600);
    for (const ttl of [1, 2, 5, 10, 60]) assert.ok(localDeadline(0, ttl) < ttl * 1000);
  });
});

describe('records', () => {
  it('reads node and leader records, and refuses what is not one', () => {
    const node = { name: 'n1', instance: 'i', addresses: { amqp: 'h:1', bad: 3 }, version: '1', startedAt: 5 };
    assert.deepEqual(parseNodeRecord(JSON.stringify(node)), { ...node, addresses: { amqp: 'h:1' } });
    assert.equal(parseNodeRecord('not json'), undefined);
    assert.equal(parseNodeRecord('[]'), undefined);
    assert.deepEqual(parseLeaderRecord('{"node":"n1","instance":"i","epoch":3,"lease":"7"}'), { node: 'n1', instance: 'i', epoch: 3, lease: '7' });
    assert.equal(parseLeaderRecord('{"node":"n1","instance":"i","epoch":1.5,"lease":"7"}'), undefined);
  });
});
