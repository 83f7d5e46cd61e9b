// The short seeded Jepsen-style run with real network partitions (docs/cluster.md, "Proving
// it"): each of the three `wharf serve --cluster` nodes and etcd in a network namespace of its
// own on a private bridge (test/helpers/jepsen/netns.ts), kafkajs producers with acks=all in the
// root namespace, and a nemesis that cuts a partition's leader off from the other nodes and etcd,
// from the other nodes only, from one follower one way, and slows its link, each once. Needs root,
// iproute2 and iptables (.ci/run installs them); where namespaces cannot be made it fails, saying
// why. The long run is `node dist/scripts/cluster-soak.js --netns --seconds 300 --seed N`.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jepsenRun, NETWORK_FAULTS, summary } from '../../helpers/jepsen/run.js';

describe('Jepsen-style check of replicated stream partitions under network partitions', () => {
  it('the leader cut off from nodes and etcd, from nodes only, one way, and slowed: nothing acknowledged is lost, no replica diverges, every ISR recovers', { timeout: 180_000 }, async (t) => {
    const result = await jepsenRun({ seed: 16, seconds: 25, producers: 4, partitions: 2, network: 'netns', faults: NETWORK_FAULTS, log: (l) => t.diagnostic(l) });
    for (const line of summary(result)) t.diagnostic(line);
    for (const kind of NETWORK_FAULTS) assert.ok(result.events.some((e) => e.kind === kind), `the nemesis ran ${kind}`);
    // Long enough that etcd expires the lease of a leader cut off from it, and that the lag limit
    // (the 2 s TTL) drops followers that cannot fetch.
    for (const e of result.events.filter((e) => e.kind === 'partition' && e.downMs >= 3000)) {
      assert.notEqual(e.stepDownMs, undefined, `the leader cut off from etcd for ${e.downMs} ms stepped down`);
    }
    for (const e of result.events.filter((e) => e.kind === 'partition-peers' && e.downMs >= 3000)) {
      assert.ok(e.isrMin !== undefined && e.isrMin < 3, `the ISR shrank while its leader's followers could not fetch for ${e.downMs} ms (smallest seen: ${e.isrMin})`);
    }
    assert.ok(result.acknowledged > 0, 'records were acknowledged');
    assert.equal(result.check.lost, 0, `no acknowledged record lost: ${result.check.problems.join('; ')}`);
    assert.equal(result.check.divergent, 0, `no offset holds two values: ${result.check.problems.join('; ')}`);
    assert.equal(result.check.prefixGaps, 0, `every replica holds the acknowledged prefix: ${result.check.problems.join('; ')}`);
    assert.equal(result.isrRecovered, true, 'every ISR holds all three replicas after the heal');
  });
});
