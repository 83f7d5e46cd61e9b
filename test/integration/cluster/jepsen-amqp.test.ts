// A short seeded Jepsen-style run against a replicated quorum queue (docs/cluster.md, "Proving
// it"): three `wharf serve --cluster` nodes and a private etcd, amqplib publishers on confirm
// channels spread over the nodes (reconnecting to any live node), a nemesis that kills the queue's
// leader with kill -9 and pauses it with SIGSTOP, a heal, a drain from any node, and a check that
// every confirmed message was delivered. The long run is
// `node dist/scripts/cluster-soak.js --workload amqp --seconds 300 --seed N`.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { amqpSummary, checkQueue } from '../../helpers/jepsen/amqp.js';
import { jepsenRun } from '../../helpers/jepsen/run.js';

describe('Jepsen-style check of a replicated quorum queue', () => {
  it('the checker counts a lost confirmed message, duplicates and unconfirmed messages delivered', () => {
    const r = checkQueue(new Set(['a', 'b', 'c']), new Set(['x', 'y']), new Map([['a', 2], ['c', 1], ['x', 1]]));
    assert.deepEqual([r.lost, r.duplicates, r.unconfirmedDelivered], [1, 1, 1]);
    assert.deepEqual(r.problems, ['confirmed b was never delivered']);
  });

  it('kill -9 and SIGSTOP of the leader under confirming publishers: every confirmed message is delivered', { timeout: 240_000 }, async (t) => {
    const result = await jepsenRun({ workload: 'amqp', seed: 16, seconds: 20, minRounds: 1, producers: 3 });
    for (const line of amqpSummary(result)) t.diagnostic(line);
    assert.ok(result.events.some((e) => e.kind === 'kill') && result.events.some((e) => e.kind === 'pause'), 'the nemesis killed and paused the leader');
    assert.ok(result.confirmed > 0, 'messages were confirmed');
    assert.equal(result.check.lost, 0, `no confirmed message lost: ${result.check.problems.join('; ')}`);
  });
});
