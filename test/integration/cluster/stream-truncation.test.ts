// A follower's log against its leader's (docs/cluster.md, "Truncation"): two `wharf serve
// --cluster` processes on a private etcd, kafkajs. An old leader that alone had a tail cuts it at
// the new leader's epoch start and keeps the prefix (its partition directory and segment file stay);
// a replica on a wiped data dir whose leader's log starts past 0 (DeleteRecords) starts its log at
// the leader's log start, catches up and rejoins the ISR.

import assert from 'node:assert/strict';
import { rm, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Kafka, logLevel, type ITopicMetadata } from 'kafkajs';
import { KafkaConnection } from '../../../src/client/kafka/index.js';
import { nodeId } from '../../../src/cluster/streams/placement.js';
import { waitUntil } from '../../helpers/async.js';
import { makeDataDir, spawnBroker, type SpawnedBroker } from '../../helpers/broker.js';
import { startTestEtcd, TEST_LEASE_TTL_SEC, type EtcdProcess } from '../../helpers/etcd.js';
import { topicName } from '../../helpers/kafka.js';
import { partitionDirIn, recordsOnDisk } from '../../helpers/jepsen/checker.js';

const LONG = { timeout: 120_000 } as const;
const NAMES = ['t1', 't2'];

describe('replica truncation and catch-up (two nodes, kafkajs)', () => {
  let etcd: EtcdProcess;
  const nodes = new Map<string, SpawnedBroker>();
  const dirs = new Map<string, string>();

  const kafka = (names: readonly string[]): Kafka =>
    new Kafka({
      clientId: 'wharf-truncation-test',
      brokers: names.map((n) => nodes.get(n)?.kafkaBootstrap ?? ''),
      logLevel: logLevel.NOTHING,
      retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 1000 },
    });
  const nameOf = (id: number): string => NAMES.find((n) => nodeId(n) === id) ?? '';
  const clusterArgs = (name: string): string[] => [
    '--cluster', etcd.endpoint, '--node-name', name, '--advertise-host', '127.0.0.1', '--cluster-lease-ttl', String(TEST_LEASE_TTL_SEC),
  ];
  const start = async (name: string): Promise<void> => void nodes.set(name, await spawnBroker(dirs.get(name) ?? '', clusterArgs(name)));

  async function metadataVia(name: string, topic: string): Promise<ITopicMetadata | undefined> {
    const admin = kafka([name]).admin();
    try {
      await admin.connect();
      return (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0];
    } catch {
      return undefined;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  async function produce(name: string, topic: string, values: readonly string[], acks: number): Promise<void> {
    const producer = kafka([name]).producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      for (const value of values) await producer.send({ topic, acks, messages: [{ value }] });
    } finally {
      await producer.disconnect();
    }
  }

  async function createTopic(topic: string): Promise<{ leader: string; follower: string }> {
    const admin = kafka(NAMES).admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 2 }], waitForLeaders: false });
    } finally {
      await admin.disconnect();
    }
    await waitUntil(async () => (await metadataVia('t1', topic))?.partitions[0]?.isr.length === 2, 'two in-sync replicas', 20_000);
    const leader = nameOf((await metadataVia('t1', topic))?.partitions[0]?.leader ?? -1);
    assert.ok(leader !== '');
    return { leader, follower: NAMES.find((n) => n !== leader) ?? '' };
  }

  before(async () => {
    etcd = await startTestEtcd();
    for (const name of NAMES) {
      dirs.set(name, await makeDataDir());
      await start(name);
    }
  });
  after(async () => {
    for (const n of nodes.values()) await n.kill('SIGKILL').catch(() => undefined);
    await etcd.stop();
    for (const d of dirs.values()) await rm(d, { recursive: true, force: true });
  });

  it('an old leader cuts the tail it alone had at the new leader\'s epoch start and keeps its prefix', LONG, async () => {
    const topic = topicName('tail');
    const { leader, follower } = await createTopic(topic);
    await produce(leader, topic, ['a0', 'a1', 'a2', 'a3'], -1);
    // The follower is paused (briefly: it stays in the ISR) while the leader takes records alone,
    // one at a time (the follower can only have the answer to the fetch it had sent).
    nodes.get(follower)?.process.kill('SIGSTOP');
    try {
      await produce(leader, topic, ['tail0', 'tail1', 'tail2'], 1);
    } finally {
      await nodes.get(leader)?.kill('SIGKILL');
      nodes.get(follower)?.process.kill('SIGCONT');
    }
    await waitUntil(async () => nameOf((await metadataVia(follower, topic))?.partitions[0]?.leader ?? -1) === follower, 'the follower leads', 30_000);
    await produce(follower, topic, ['b0', 'b1'], 1);

    const dir = await partitionDirIn(dirs.get(leader) ?? '', topic, 0);
    const before = await recordsOnDisk(dirs.get(leader) ?? '', topic, 0);
    assert.deepEqual([...before.values()], ['a0', 'a1', 'a2', 'a3', 'tail0', 'tail1', 'tail2'], 'the old leader has the tail');
    const sentinel = path.join(dir, 'kept-by-truncation');
    await writeFile(sentinel, 'the partition directory was not recreated');
    const segment = path.join(dir, '00000000000000000000.log');
    const inode = (await stat(segment)).ino;

    await start(leader);
    await waitUntil(async () => (await metadataVia(follower, topic))?.partitions[0]?.isr.length === 2, 'the old leader is in sync again', 30_000);
    await waitUntil(() => /truncating it to the leader's epoch end/.test(nodes.get(leader)?.stderr() ?? ''), 'the old leader logs its truncation', 10_000);
    assert.equal((await stat(sentinel)).isFile(), true, 'the partition directory stayed');
    assert.equal((await stat(segment)).ino, inode, 'the segment file stayed');
    for (const n of NAMES) await nodes.get(n)?.kill('SIGKILL');
    // The paused follower may have had the answer to the one fetch it had sent (tail0 at most): the
    // rest of the tail is gone from the old leader, and both logs are the same.
    const logs = await Promise.all(NAMES.map(async (n) => [...(await recordsOnDisk(dirs.get(n) ?? '', topic, 0)).values()]));
    assert.deepEqual(logs[1], logs[0], 'the replicas hold the same log');
    assert.ok(['a0,a1,a2,a3,b0,b1', 'a0,a1,a2,a3,tail0,b0,b1'].includes(logs[0].join()), `the log is the new leader's: ${logs[0].join()}`);
    for (const n of NAMES) await start(n);
  });

  it('a replica on a wiped data dir whose leader deleted old records starts at the leader\'s log start and rejoins the ISR', LONG, async () => {
    const topic = topicName('wiped');
    const { leader, follower } = await createTopic(topic);
    await produce(leader, topic, Array.from({ length: 20 }, (_, i) => `v${i}`), -1);
    await nodes.get(follower)?.kill('SIGKILL');
    await waitUntil(async () => (await metadataVia(leader, topic))?.partitions[0]?.isr.length === 1, 'the ISR shrinks to the leader', 20_000);
    const conn = await KafkaConnection.open('127.0.0.1', nodes.get(leader)?.kafkaPort ?? 0);
    try {
      const res = await conn.request(21, 1, { topics: [{ name: topic, partitions: [{ partitionIndex: 0, offset: 15n }] }], timeoutMs: 5_000 });
      assert.equal(res.topics[0]?.partitions[0]?.lowWatermark, 15n);
    } finally {
      await conn.close();
    }
    await rm(dirs.get(follower) ?? '', { recursive: true, force: true });
    dirs.set(follower, await makeDataDir());
    await start(follower);
    await waitUntil(async () => (await metadataVia(leader, topic))?.partitions[0]?.isr.length === 2, 'the wiped replica is in sync again', 30_000);
    await waitUntil(() => /starting its log at the leader's log start/.test(nodes.get(follower)?.stderr() ?? ''), 'the follower logs where its log starts', 10_000);
    await produce(leader, topic, ['after'], -1);
    for (const n of NAMES) await nodes.get(n)?.kill('SIGKILL');
    const expected = [...Array.from({ length: 5 }, (_, i) => [15 + i, `v${15 + i}`]), [20, 'after']];
    for (const n of NAMES) assert.deepEqual([...(await recordsOnDisk(dirs.get(n) ?? '', topic, 0))], expected, `${n}'s log`);
  });
});
