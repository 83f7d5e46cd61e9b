// A node's data dir against the cluster's memory of it (docs/cluster.md, "Faults"): three
// `wharf serve --cluster` processes on a private etcd, kafkajs. A node restarted on an empty
// data dir while every ISR still names it says so, does not stand for leader (though it is in
// the written ISR) until it has caught up with a leader, then has every acknowledged record and
// may lead again. A data dir of another cluster, or of another node, refuses to start.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sleep, waitUntil } from '../../helpers/async.js';
import { makeDataDir, spawnBroker } from '../../helpers/broker.js';
import { FaultCluster } from '../../helpers/fault-cluster.js';
import { startTestEtcd, TEST_LEASE_TTL_SEC, type EtcdProcess } from '../../helpers/etcd.js';
import { recordsOnDisk } from '../../helpers/jepsen/checker.js';
import { topicName } from '../../helpers/kafka.js';

const LONG = { timeout: 180_000 } as const;
const TTL_MS = TEST_LEASE_TTL_SEC * 1000;

describe('faults: wiped, stale and foreign data dirs', () => {
  let etcd: EtcdProcess;
  const clusters: FaultCluster[] = [];

  before(async () => {
    etcd = await startTestEtcd();
  });
  after(async () => {
    for (const c of clusters) await c.destroy();
    await etcd.stop();
  });

  it('a node back on an empty data dir while the ISR names it does not lead until it caught up; nothing acknowledged is lost', LONG, async () => {
    const c = new FaultCluster(etcd, 'wiped', ['n1', 'n2', 'n3']);
    clusters.push(c);
    await c.start();
    const topic = topicName('wiped');
    const admin = c.kafka().admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 3 }], waitForLeaders: false });
    await admin.disconnect();
    await waitUntil(async () => (await c.isr(topic, 0))?.length === 3, 'three in-sync replicas', 30_000);
    const producer = c.kafka().producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const acked = new Map<number, string>();
    for (let i = 0; i < 30; i++) {
      const [meta] = await producer.send({ topic, acks: -1, messages: [{ value: `v${i}` }] });
      acked.set(Number(meta.baseOffset), `v${i}`);
    }
    await producer.disconnect();
    // Every node dies at once: the written ISR still names all three.
    for (const n of c.names) await c.stopNode(n, 'SIGKILL');
    await c.wipe('n2');
    for (const n of c.names) await c.gone(n);
    await c.startNode('n2');
    assert.match(c.stderr('n2'), /data dir of n2 is empty but n2 was a member: rejoining as a new replica/);
    // Alone, in the written ISR, with leases of the dead long gone: without the fence it would win an election.
    await waitUntil(() => /not standing for leader: this replica has not caught up/.test(c.stderr('n2')), 'n2 declines to stand', 30_000);
    await sleep(TTL_MS * 2);
    assert.equal(await c.leader(topic, 0, 'n2'), undefined, 'no leader while only the emptied replica is up');

    await c.startNode('n1');
    await c.startNode('n3');
    await waitUntil(async () => (await c.isr(topic, 0))?.length === 3, 'n2 back in the ISR', 60_000);
    await waitUntil(() => /caught up with the leader: this replica may stand for leader again/.test(c.stderr('n2')), 'n2 caught up', 30_000);

    // Now n2 may lead: the other two stop, and it takes over with everything acknowledged.
    await c.stopNode('n1', 'SIGKILL');
    await c.stopNode('n3', 'SIGKILL');
    await waitUntil(async () => (await c.leader(topic, 0, 'n2'))?.node === 'n2', 'n2 leads', 30_000);
    await c.stopNode('n2', 'SIGKILL');
    const onDisk = await recordsOnDisk(c.dirs.get('n2') ?? '', topic, 0);
    for (const [offset, value] of acked) assert.equal(onDisk.get(offset), value, `offset ${offset} on the rejoined replica`);
  });

  it('a data dir of another cluster, or of another node, refuses to start with the reason', LONG, async () => {
    const other = new FaultCluster(etcd, 'other', ['x1']);
    const mine = new FaultCluster(etcd, 'mine', ['n1']);
    clusters.push(other, mine);
    await other.start();
    await mine.start();
    await other.stopNode('x1');
    await mine.stopNode('n1');
    // x1's data dir, started in cluster 'mine' under the same name.
    await assert.rejects(spawnBroker(other.dirs.get('x1') ?? '', mine.args('x1')), (err: unknown) => {
      assert.match(String(err), /wharf exited with 1 before listening/);
      assert.match(String(err), /data dir \S+ belongs to another cluster \('other', id [0-9a-f-]+\), not to cluster 'mine' \(id [0-9a-f-]+\) at http:\/\/127\.0\.0\.1:\d+; start this node on its own data dir or an empty one/);
      return true;
    });
    // n1's data dir under another node's name.
    await assert.rejects(spawnBroker(mine.dirs.get('n1') ?? '', mine.args('n2')), (err: unknown) => {
      assert.match(String(err), /data dir \S+ is node 'n1''s in cluster 'mine', not 'n2''s; start 'n1' on it, or this node on its own data dir/);
      return true;
    });
    // Its own node starts on it as before, and an empty dir for a new name joins.
    await mine.startNode('n1');
    const fresh = await makeDataDir();
    await mine.startNode('n2', fresh);
    assert.doesNotMatch(mine.stderr('n2'), /rejoining as a new replica/);
  });
});
