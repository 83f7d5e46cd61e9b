// A full disk (docs/cluster.md, "Faults: a full disk"): three `wharf serve --cluster` processes,
// each on its own small tmpfs (mounted here; the suite runs as root, as .ci/run does), kafkajs
// producing with acks=all. A follower whose disk fills up does not crash: it says so once, stops
// fetching and leaves the ISR, acks=all goes on with the other two (min ISR 2), and once space
// returns it fetches the partition again, rejoins the ISR and holds every acknowledged record.
// A leader whose disk is full answers produce with KAFKA_STORAGE_ERROR, never an acknowledgement,
// and gives up leading every partition (as Kafka takes a log directory offline): an in-sync replica
// takes over, the producer follows it, and the node leads again once its disk takes writes.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { KafkaClient } from '../../../src/client/kafka/client.js';
import { ErrorCode } from '../../../src/protocol/kafka/index.js';
import { waitUntil } from '../../helpers/async.js';
import { makeDataDir } from '../../helpers/broker.js';
import { fill, mountTmpfs, unmount } from '../../helpers/disk.js';
import { FaultCluster } from '../../helpers/fault-cluster.js';
import { startTestEtcd, type EtcdProcess } from '../../helpers/etcd.js';
import { recordsOnDisk } from '../../helpers/jepsen/checker.js';
import { testBatch, values } from '../../helpers/kafka-batch.js';
import { topicName } from '../../helpers/kafka.js';

const LONG = { timeout: 180_000 } as const;
const NAMES = ['n1', 'n2', 'n3'];


describe('faults: a full disk', () => {
  let etcd: EtcdProcess;
  let c: FaultCluster;
  const mounts: string[] = [];

  before(async () => {
    etcd = await startTestEtcd();
    c = new FaultCluster(etcd, 'wharf', NAMES);
    for (const n of NAMES) {
      const dir = await makeDataDir();
      await mountTmpfs(dir, '16m');
      mounts.push(dir);
      await c.startNode(n, dir);
    }
  });
  after(async () => {
    for (const n of NAMES) await c.stopNode(n, 'SIGKILL').catch(() => undefined);
    for (const m of mounts) await unmount(m);
    await c.destroy();
    await etcd.stop();
  });

  /** A new topic (one partition, three replicas) and its leader. */
  async function topicWithLeader(): Promise<{ topic: string; leader: string }> {
    const topic = topicName('disk');
    const admin = c.kafka().admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 3 }], waitForLeaders: false });
    await admin.disconnect();
    await waitUntil(async () => (await c.isr(topic, 0))?.length === 3, 'three in-sync replicas', 30_000);
    const leader = await c.leader(topic, 0);
    assert.ok(leader !== undefined);
    return { topic, leader: leader.node };
  }

  it('a follower whose disk fills leaves the ISR without crashing; acks=all goes on; with space back it catches up and rejoins', LONG, async () => {
    const { topic, leader } = await topicWithLeader();
    const follower = NAMES.find((n) => n !== leader) ?? '';
    const producer = c.kafka().producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const acked = new Map<number, string>();
    const send = async (i: number): Promise<void> => {
      const [meta] = await producer.send({ topic, acks: -1, messages: [{ value: `v${i}-${'x'.repeat(1000)}` }] });
      acked.set(Number(meta.baseOffset), `v${i}-${'x'.repeat(1000)}`);
    };
    for (let i = 0; i < 20; i++) await send(i);

    const ballast = await fill(c.dirs.get(follower) ?? '');
    for (let i = 20; i < 60; i++) await send(i); // each acknowledged: by all three, then by the other two
    await waitUntil(() => /cannot write the leader's records to this replica's disk/.test(c.stderr(follower)), `${follower} says its disk is full`, 30_000);
    await waitUntil(async () => (await c.isr(topic, 0))?.includes(follower) === false, `${follower} out of the ISR`, 30_000);
    for (let i = 60; i < 80; i++) await send(i);
    assert.ok(c.up(follower), 'the follower is still running');
    assert.equal((c.stderr(follower).match(/cannot write the leader's records/g) ?? []).length, 1, 'said once');

    await rm(ballast);
    await waitUntil(() => /disk takes writes again/.test(c.stderr(follower)), `${follower} sees space again`, 30_000);
    await waitUntil(async () => (await c.isr(topic, 0))?.length === 3, `${follower} back in the ISR`, 60_000);
    await producer.disconnect();
    await c.stopNode(follower, 'SIGKILL');
    const onDisk = await recordsOnDisk(c.dirs.get(follower) ?? '', topic, 0);
    for (const [offset, value] of acked) assert.equal(onDisk.get(offset), value, `offset ${offset} on ${follower}`);
    await c.gone(follower);
    await c.startNode(follower);
  });

  it('a leader whose disk is full answers KAFKA_STORAGE_ERROR, never an acknowledgement, and gives up leading: an in-sync replica takes over and acks=all goes on there', LONG, async () => {
    const { topic, leader } = await topicWithLeader();
    const producer = c.kafka().producer({ allowAutoTopicCreation: false, idempotent: true });
    await producer.connect();
    const acked = new Map<number, string>();
    const send = async (i: number): Promise<void> => {
      const value = `v${i}-${'y'.repeat(1000)}`;
      const [meta] = await producer.send({ topic, acks: -1, messages: [{ value }] });
      acked.set(Number(meta.baseOffset), value);
    };
    for (let i = 0; i < 10; i++) await send(i);
    const ballast = await fill(c.dirs.get(leader) ?? '');
    const client = await KafkaClient.connect(c.bootstrap([leader])[0]);
    try {
      const big = testBatch(values(8, 0, 16 * 1024));
      const [res] = (await KafkaClient.produce(client.any, { topic, acks: -1, timeoutMs: 5000, partitions: [{ partition: 0, records: big }] })) ?? [];
      // The write fails on the full disk, or (once the node gave up leading) it is no longer the leader: never an acknowledgement.
      assert.ok(res?.errorCode === ErrorCode.KAFKA_STORAGE_ERROR || res?.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER, `error code ${res?.errorCode}`);
    } finally {
      await client.close();
    }
    await waitUntil(() => /a write to this node's disk failed: it gives up leading/.test(c.stderr(leader)), `${leader} says it gives up leading`, 30_000);
    await waitUntil(async () => {
      const now = await c.leader(topic, 0);
      return now !== undefined && now.node !== leader;
    }, 'another node leads', 30_000);
    // The producer follows the new leader (kafkajs retries NOT_LEADER_OR_FOLLOWER / KAFKA_STORAGE_ERROR).
    for (let i = 10; i < 30; i++) await send(i);
    assert.ok(c.up(leader), 'the old leader is still running');

    await rm(ballast);
    await waitUntil(() => /disk takes writes again: it may lead partitions again/.test(c.stderr(leader)), `${leader} sees space again`, 30_000);
    await waitUntil(async () => (await c.isr(topic, 0))?.length === 3, `${leader} back in the ISR`, 60_000);
    await producer.disconnect();
    const now = (await c.leader(topic, 0))?.node ?? '';
    await c.stopNode(now, 'SIGKILL');
    const onDisk = await recordsOnDisk(c.dirs.get(now) ?? '', topic, 0);
    for (const [offset, value] of acked) assert.equal(onDisk.get(offset), value, `acknowledged offset ${offset} on ${now}`);
    await c.gone(now);
    await c.startNode(now);
  });
});
