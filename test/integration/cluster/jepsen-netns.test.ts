// The short seeded Jepsen-style run with real network partitions (docs/cluster.md, "Proving
// it"): each of the three `wharf serve --cluster` nodes and etcd in a network namespace of its
// own on a private bridge (test/helpers/jepsen/netns.ts), kafkajs producers with acks=all in the
// root namespace, and a nemesis that cuts a partition's leader off from the other nodes and etcd,
// from the other nodes only, from one follower one way, slows its link, and cuts it off from etcd
// only, each once. Then the same network with a quorum queue (amqplib publishers with confirms in
// the root namespace): its leader cut off from the nodes and etcd, from the nodes only, the split
// {leader, etcd} | {others}, and a kill -9 of the node that took over during a partition. (etcd
// down, paused or cut off from every node is in the soak only: with Kafka it finds a divergence
// not fixed yet, docs/cluster.md "Proving it".) Needs root, iproute2 and iptables (.ci/run installs them); where namespaces
// cannot be made it fails, saying why. The long runs are `node dist/scripts/cluster-soak.js --netns
// [--workload amqp] --seconds 300 --seed N`.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { amqpSummary } from '../../helpers/jepsen/amqp.js';
import { jepsenRun, NETWORK_FAULTS, summary, type Fault } from '../../helpers/jepsen/run.js';

describe('Jepsen-style check of replicated stream partitions under network partitions', () => {
  it('the leader cut off from nodes and etcd, from nodes only, one way, from etcd only, and slowed: nothing acknowledged is lost, no replica diverges, every ISR recovers', { timeout: 180_000 }, async (t) => {
    const faults: Fault[] = [...NETWORK_FAULTS, 'etcd-cut-one'];
    const result = await jepsenRun({ seed: 16, seconds: 25, minRounds: 1, producers: 4, partitions: 2, network: 'netns', faults, log: (l) => t.diagnostic(l) });
    for (const line of summary(result)) t.diagnostic(line);
    for (const kind of faults) assert.ok(result.events.some((e) => e.kind === kind), `the nemesis ran ${kind}`);
    for (const e of result.events.filter((e) => e.kind === 'etcd-cut-one' && e.downMs >= 3000)) {
      assert.notEqual(e.stepDownMs, undefined, `the leader cut off from etcd alone for ${e.downMs} ms stepped down`);
    }
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
    assert.equal(result.quorumless.count, 0, `nothing acknowledged while the leader held its ISR alone: ${result.quorumless.problems.join('; ')}`);
  });

  it('a quorum queue under partitions, the split {leader, etcd} | {others}, and a kill during a partition: every confirmed message is delivered, nothing else, nothing confirmed without a quorum', { timeout: 240_000 }, async (t) => {
    const faults: Fault[] = ['partition', 'partition-peers', 'split-with-etcd', 'partition-kill'];
    const result = await jepsenRun({ workload: 'amqp', seed: 16, seconds: 25, minRounds: 1, producers: 3, network: 'netns', faults, log: (l) => t.diagnostic(l) });
    for (const line of amqpSummary(result)) t.diagnostic(line);
    for (const kind of faults) assert.ok(result.events.some((e) => e.kind === kind), `the nemesis ran ${kind}`);
    assert.ok(result.confirmed > 0, 'messages were confirmed');
    assert.equal(result.check.lost, 0, `no confirmed message lost: ${result.check.problems.join('; ')}`);
    assert.equal(result.check.phantoms, 0, `nothing delivered that was never published: ${result.check.problems.join('; ')}`);
    assert.equal(result.quorumless.count, 0, `nothing confirmed while the leader held its ISR alone or no node held a lease: ${result.quorumless.problems.join('; ')}`);
  });
});
