// A short seeded Jepsen-style run against a replicated quorum queue (docs/cluster.md, "Proving
// it"): three `wharf serve --cluster` nodes and a private etcd, amqplib publishers on confirm
// channels spread over the nodes (reconnecting to any live node), a nemesis that kills the queue's
// leader with kill -9 and pauses it with SIGSTOP, a heal, a drain from any node, and a check that
// every confirmed message was delivered and nothing else. The network faults, etcd's and the
// splits on a quorum queue are in jepsen-netns.test.ts. The long run is
// `node dist/scripts/cluster-soak.js --workload amqp [--netns] --seconds 300 --seed N`.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { amqpSummary, checkQueue } from '../../helpers/jepsen/amqp.js';
import { quorumlessAcks } from '../../helpers/jepsen/nemesis.js';
import { jepsenRun } from '../../helpers/jepsen/run.js';

describe('Jepsen-style check of a replicated quorum queue', () => {
  it('the checker counts a lost confirmed message, duplicates, unconfirmed messages delivered and messages never published', () => {
    const r = checkQueue(new Set(['a', 'b', 'c']), new Set(['x', 'y']), new Map([['a', 2], ['c', 1], ['x', 1], ['z', 1]]));
    assert.deepEqual([r.lost, r.duplicates, r.unconfirmedDelivered, r.phantoms], [1, 1, 1, 1]);
    assert.deepEqual(r.problems, ['confirmed b was never delivered', '"z" was delivered but never published']);
  });

  it('the checker counts acknowledgements given while the leader held its ISR alone or no node held a lease', () => {
    const quiet = (from: number, until: number, allResources: boolean) => ({ from, until, allResources, why: 'test' });
    const events = [
      { kind: 'partition-peers' as const, node: 'n1', partition: 0, downMs: 3000, failoverMs: undefined, quiet: quiet(100, 200, false) },
      { kind: 'etcd-kill' as const, node: 'etcd', partition: 1, downMs: 3000, failoverMs: undefined, quiet: quiet(300, 400, true) },
    ];
    const acks = [
      { resource: 0, startedAt: 150, ackedAt: 190, what: 'sent and acknowledged inside' },
      { resource: 0, startedAt: 90, ackedAt: 150, what: 'sent before the window' },
      { resource: 1, startedAt: 150, ackedAt: 190, what: 'another partition' },
      { resource: 0, startedAt: 150, ackedAt: 250, what: 'acknowledged after the heal began' },
      { resource: 1, startedAt: 310, ackedAt: 320, what: 'no lease anywhere' },
    ];
    const r = quorumlessAcks(events, acks);
    assert.equal(r.count, 2);
    assert.match(r.problems.join('\n'), /sent and acknowledged inside.*\n.*no lease anywhere/);
  });

  it('kill -9 and SIGSTOP of the leader under confirming publishers: every confirmed message is delivered', { timeout: 240_000 }, async (t) => {
    const result = await jepsenRun({ workload: 'amqp', seed: 16, seconds: 20, minRounds: 1, producers: 3, faults: ['kill', 'pause'] });
    for (const line of amqpSummary(result)) t.diagnostic(line);
    assert.ok(result.events.some((e) => e.kind === 'kill') && result.events.some((e) => e.kind === 'pause'), 'the nemesis killed and paused the leader');
    assert.ok(result.confirmed > 0, 'messages were confirmed');
    assert.equal(result.check.lost, 0, `no confirmed message lost: ${result.check.problems.join('; ')}`);
    assert.equal(result.check.phantoms, 0, `nothing delivered that was never published: ${result.check.problems.join('; ')}`);
  });
});
