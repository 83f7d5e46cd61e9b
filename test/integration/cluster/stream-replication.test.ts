// Replicated stream partitions (docs/cluster.md, "Streams: the data plane"): three
// `wharf serve --cluster` processes on a private etcd, driven by kafkajs. A topic created on
// one node exists on all three with replication factor 3 and one leader; acks=all produce
// through any bootstrap node is consumed from another; kill -9 of a partition's leader while a
// producer runs with acks=all: a follower from the ISR takes over with a higher epoch, every
// acknowledged record is consumed at its offset, and the surviving replicas hold the same
// committed prefix, byte for byte.

import assert from 'node:assert/strict';
import { rm, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Kafka, logLevel, type Admin, type ITopicMetadata } from 'kafkajs';
import { nodeId } from '../../../src/cluster/streams/placement.js';
import { sleep, waitUntil } from '../../helpers/async.js';
import { makeDataDir, spawnBroker, type SpawnedBroker } from '../../helpers/broker.js';
import { startTestEtcd, TEST_LEASE_TTL_SEC, type EtcdProcess } from '../../helpers/etcd.js';
import { topicName } from '../../helpers/kafka.js';
import { recordsOnDisk as diskRecords, partitionDirIn } from '../../helpers/jepsen/checker.js';

const LONG = { timeout: 120_000 } as const;
const NAMES = ['n1', 'n2', 'n3'];

function kafka(bootstrap: readonly string[]): Kafka {
  return new Kafka({
    clientId: 'wharf-cluster-test',
    brokers: [...bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 1000 },
  });
}

/** Decodes one partition's log on disk: [offset, value] of every record, in order; every batch carries its leader's epoch. */
async function recordsOnDisk(dataDir: string, topic: string, partition: number): Promise<[number, string][]> {
  const records = await diskRecords(dataDir, topic, partition, (base, b) => {
    assert.ok(b.readInt32BE(12) >= 1, `the batch at ${base} carries the epoch of the leader that appended it`);
  });
  return [...records];
}

describe('replicated stream partitions (three nodes, kafkajs)', () => {
  let etcd: EtcdProcess;
  const nodes = new Map<string, SpawnedBroker>();
  const dirs = new Map<string, string>();
  const admins: Admin[] = [];

  const bootstrapOf = (names: readonly string[]): string[] => names.map((n) => nodes.get(n)?.kafkaBootstrap ?? '');
  const nameOf = (id: number): string | undefined => NAMES.find((n) => nodeId(n) === id);

  async function metadataVia(name: string, topic: string): Promise<ITopicMetadata | undefined> {
    const admin = kafka(bootstrapOf([name])).admin();
    await admin.connect();
    admins.push(admin);
    try {
      const md = await admin.fetchTopicMetadata({ topics: [topic] });
      return md.topics[0];
    } catch {
      return undefined;
    } finally {
      await admin.disconnect();
    }
  }

  /** The partition's leader epoch as /api/nodes shows it (kafkajs' Metadata leaves the epoch out). */
  async function leaderEpochVia(name: string, topic: string): Promise<number> {
    const res = await fetch(`http://127.0.0.1:${nodes.get(name)?.httpPort}/api/nodes`, {
      headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
    });
    const list = (await res.json()) as { running: boolean; leaders: { resource: string; epoch: number }[] }[];
    const resource = `stream/%2F/${encodeURIComponent(topic)}/0`;
    const epochs = list.filter((n) => n.running).flatMap((n) => n.leaders.filter((l) => l.resource === resource).map((l) => l.epoch));
    return epochs.length === 1 ? epochs[0] : -1;
  }

  const clusterArgs = (name: string): string[] => [
    '--cluster', etcd.endpoint, '--node-name', name, '--advertise-host', '127.0.0.1', '--cluster-lease-ttl', String(TEST_LEASE_TTL_SEC),
  ];

  before(async () => {
    etcd = await startTestEtcd();
    for (const name of NAMES) {
      const dir = await makeDataDir();
      dirs.set(name, dir);
      nodes.set(name, await spawnBroker(dir, clusterArgs(name)));
    }
  });
  after(async () => {
    for (const a of admins) await a.disconnect().catch(() => undefined);
    for (const n of nodes.values()) await n.kill('SIGKILL').catch(() => undefined);
    await etcd.stop();
    for (const d of dirs.values()) await rm(d, { recursive: true, force: true });
  });

  it('a topic created on one node has three replicas and one leader on every node; Metadata lists all three brokers; deleted on another, it goes everywhere', LONG, async () => {
    const topic = topicName('repl');
    const admin = kafka(bootstrapOf(['n1'])).admin();
    await admin.connect();
    admins.push(admin);
    assert.equal(
      await admin.createTopics({ topics: [{ topic, numPartitions: 2, replicationFactor: 3, configEntries: [{ name: 'retention.ms', value: '123456789' }] }], waitForLeaders: false }),
      true,
    );
    for (const name of NAMES) {
      await waitUntil(async () => {
        const t = await metadataVia(name, topic);
        return t !== undefined && t.partitions.length === 2 && t.partitions.every((p) => p.leader >= 0 && p.isr.length === 3);
      }, `${name} knows ${topic} with a leader and three in-sync replicas`, 20_000);
      const t = await metadataVia(name, topic);
      assert.ok(t);
      for (const p of t.partitions) {
        assert.deepEqual([...p.replicas].sort(), NAMES.map(nodeId).sort(), 'replicas are the three nodes');
        assert.ok(nameOf(p.leader) !== undefined, 'the leader is a member');
      }
    }
    // One topic id and the same configs on every node.
    const { KafkaClient } = await import('../../../src/client/kafka/client.js');
    const ids = new Set<string>();
    for (const name of NAMES) {
      const c = await KafkaClient.connect(bootstrapOf([name])[0]);
      try {
        ids.add((await c.topic(topic)).topicId);
      } finally {
        await c.close();
      }
      const configAdmin = kafka(bootstrapOf([name])).admin();
      await configAdmin.connect();
      admins.push(configAdmin);
      const described = await configAdmin.describeConfigs({ resources: [{ type: 2, name: topic, configNames: ['retention.ms'] }], includeSynonyms: false });
      assert.equal(described.resources[0]?.configEntries.find((e) => e.configName === 'retention.ms')?.configValue, '123456789', `${name} has the topic's configs`);
    }
    assert.equal(ids.size, 1, 'one topic id on every node');
    const cluster = await admin.describeCluster();
    assert.deepEqual(cluster.brokers.map((b) => b.nodeId).sort(), NAMES.map(nodeId).sort());
    for (const b of cluster.brokers) assert.equal(`${b.host}:${b.port}`, nodes.get(nameOf(b.nodeId) ?? '')?.kafkaBootstrap);
    // Placement is once, at creation: adding partitions is refused rather than done on one node.
    await assert.rejects(admin.createPartitions({ topicPartitions: [{ topic, count: 3 }] }), (err: Error & { type?: string }) => {
      assert.equal(err.type, 'INVALID_REQUEST');
      return true;
    });
    // DeleteTopics on another node deletes it everywhere.
    const other = kafka(bootstrapOf(['n2'])).admin();
    await other.connect();
    admins.push(other);
    await other.deleteTopics({ topics: [topic] });
    for (const name of NAMES) {
      const lister = kafka(bootstrapOf([name])).admin();
      await lister.connect();
      admins.push(lister);
      await waitUntil(async () => !(await lister.listTopics()).includes(topic), `${name} no longer lists ${topic}`, 20_000);
    }
    // A replication factor above the live nodes is refused as Kafka refuses it.
    await assert.rejects(admin.createTopics({ topics: [{ topic: topicName('rf4'), numPartitions: 1, replicationFactor: 4 }] }), (err: Error & { errors?: { type?: string }[] }) => {
      assert.match(JSON.stringify(err.errors ?? err.message), /INVALID_REPLICATION_FACTOR|replication factor/i);
      return true;
    });
  });

  it('acks=all produce through one node, consumed from another; non-leaders answer NOT_LEADER_OR_FOLLOWER', LONG, async () => {
    const topic = topicName('acks');
    const admin = kafka(bootstrapOf(['n2'])).admin();
    await admin.connect();
    admins.push(admin);
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 3 }], waitForLeaders: false });
    await waitUntil(async () => (await metadataVia('n3', topic))?.partitions[0]?.isr.length === 3, 'three in-sync replicas', 20_000);
    const producer = kafka(bootstrapOf(['n2'])).producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const acked = new Map<number, string>();
    for (let i = 0; i < 40; i++) {
      const [meta] = await producer.send({ topic, acks: -1, messages: [{ value: `m${i}` }] });
      assert.equal(meta.errorCode, 0);
      acked.set(Number(meta.baseOffset), `m${i}`);
    }
    await producer.disconnect();
    assert.deepEqual([...acked.keys()], [...Array(40).keys()], 'offsets 0..39 in order');

    const consumer = kafka(bootstrapOf(['n3'])).consumer({ groupId: `g-${topic}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen = new Map<number, string>();
    await consumer.run({ eachMessage: async ({ message }) => void seen.set(Number(message.offset), message.value?.toString() ?? '') });
    await waitUntil(() => seen.size >= 40, 'the consumer read all 40', 30_000);
    await consumer.disconnect();
    assert.deepEqual([...seen.entries()].sort((a, b) => a[0] - b[0]), [...acked.entries()]);

    // A produce sent straight to a follower: Kafka's NOT_LEADER_OR_FOLLOWER (kafkajs' NotLeaderForPartition).
    const md = await metadataVia('n1', topic);
    const leader = nameOf(md?.partitions[0]?.leader ?? -1);
    assert.ok(leader !== undefined);
    const follower = NAMES.find((n) => n !== leader) as string;
    const { KafkaClient } = await import('../../../src/client/kafka/client.js');
    const direct = await KafkaClient.connect(bootstrapOf([follower])[0]);
    try {
      const { ErrorCode } = await import('../../../src/protocol/kafka/index.js');
      const { testBatch, values } = await import('../../helpers/kafka-batch.js');
      const [res] = (await KafkaClient.produce(direct.any, { topic, acks: -1, partitions: [{ partition: 0, records: testBatch(values(1)) }] })) ?? [];
      assert.equal(res?.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
    } finally {
      await direct.close();
    }
  });

  it('Fetch checks the leader epoch as Kafka does; ListOffsets and OffsetForLeaderEpoch on the leader; acks=all with too few in-sync replicas is NOT_ENOUGH_REPLICAS, acks=1 still answers', LONG, async () => {
    const { KafkaConnection } = await import('../../../src/client/kafka/index.js');
    const { KafkaClient } = await import('../../../src/client/kafka/client.js');
    const { ErrorCode } = await import('../../../src/protocol/kafka/index.js');
    const { testBatch, values } = await import('../../helpers/kafka-batch.js');
    const topic = topicName('epochs');
    const admin = kafka(bootstrapOf(['n1'])).admin();
    await admin.connect();
    admins.push(admin);
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 2 }], waitForLeaders: false });
    await waitUntil(async () => (await metadataVia('n1', topic))?.partitions[0]?.isr.length === 2, 'two in-sync replicas', 20_000);
    const md = await metadataVia('n1', topic);
    const leader = nameOf(md?.partitions[0]?.leader ?? -1) ?? '';
    const follower = nameOf(md?.partitions[0]?.replicas.find((id) => id !== md?.partitions[0]?.leader) ?? -1) ?? '';
    const epoch = await leaderEpochVia('n1', topic);
    assert.ok(leader !== '' && follower !== '' && epoch > 0);

    const fetchAt = async (name: string, currentLeaderEpoch: number): Promise<number> => {
      const [host, port] = bootstrapOf([name])[0].split(':');
      const conn = await KafkaConnection.open(host, Number(port));
      try {
        const res = await conn.request(1, 12, {
          replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
          topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
          forgottenTopicsData: [], rackId: '',
        });
        return res.responses[0]?.partitions[0]?.errorCode ?? -1;
      } finally {
        await conn.close();
      }
    };
    assert.equal(await fetchAt(leader, epoch), ErrorCode.NONE);
    assert.equal(await fetchAt(leader, -1), ErrorCode.NONE, '-1: no epoch check');
    assert.equal(await fetchAt(leader, epoch - 1), ErrorCode.FENCED_LEADER_EPOCH);
    assert.equal(await fetchAt(leader, epoch + 1), ErrorCode.UNKNOWN_LEADER_EPOCH);
    assert.equal(await fetchAt(follower, epoch), ErrorCode.NOT_LEADER_OR_FOLLOWER);

    // ListOffsets (latest: the high watermark) and OffsetForLeaderEpoch answer on the leader only.
    const produced = kafka(bootstrapOf([leader])).producer({ allowAutoTopicCreation: false });
    await produced.connect();
    await produced.send({ topic, acks: -1, messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] });
    await produced.disconnect();
    const offsetsAt = async (name: string): Promise<{ latest: number; latestCode: number; end: number; endEpoch: number; endCode: number }> => {
      const [host, port] = bootstrapOf([name])[0].split(':');
      const conn = await KafkaConnection.open(host, Number(port));
      try {
        const lo = await conn.request(2, 4, {
          replicaId: -1, isolationLevel: 0, timeoutMs: 0,
          topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }] }],
        });
        const oe = await conn.request(23, 3, {
          replicaId: -1, topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: epoch, leaderEpoch: epoch }] }],
        });
        const l = lo.topics[0]?.partitions[0];
        const e = oe.topics[0]?.partitions[0];
        return { latest: Number(l?.offset ?? -2n), latestCode: l?.errorCode ?? -1, end: Number(e?.endOffset ?? -2n), endEpoch: e?.leaderEpoch ?? -2, endCode: e?.errorCode ?? -1 };
      } finally {
        await conn.close();
      }
    };
    assert.deepEqual(await offsetsAt(leader), { latest: 3, latestCode: ErrorCode.NONE, end: 3, endEpoch: epoch, endCode: ErrorCode.NONE });
    const onFollower = await offsetsAt(follower);
    assert.equal(onFollower.latestCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
    assert.equal(onFollower.endCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);

    // The follower's node dies: the ISR shrinks to the leader alone, below min.insync.replicas (2).
    await nodes.get(follower)?.kill('SIGKILL');
    await waitUntil(async () => (await metadataVia(leader, topic))?.partitions[0]?.isr.length === 1, 'the ISR shrinks to the leader', 20_000);
    const client = await KafkaClient.connect(bootstrapOf([leader])[0]);
    try {
      const [all] = (await KafkaClient.produce(client.any, { topic, acks: -1, partitions: [{ partition: 0, records: testBatch(values(1)) }] })) ?? [];
      assert.equal(all?.errorCode, ErrorCode.NOT_ENOUGH_REPLICAS);
      assert.match(all?.errorMessage ?? '', /The size of the current ISR 1 is insufficient to satisfy the min.isr requirement of 2/);
      const [one] = (await KafkaClient.produce(client.any, { topic, acks: 1, partitions: [{ partition: 0, records: testBatch(values(1)) }] })) ?? [];
      assert.equal(one?.errorCode, ErrorCode.NONE, 'acks=1 needs only the leader');
    } finally {
      await client.close();
    }
    // Back for the next test: the node restarts and catches up.
    nodes.set(follower, await spawnBroker(dirs.get(follower) ?? '', clusterArgs(follower)));
    await waitUntil(async () => (await metadataVia(leader, topic))?.partitions[0]?.isr.length === 2, 'the restarted follower is in sync again', 30_000);
  });

  it('kill -9 of the leader while producing with acks=all: every acknowledged record at its offset; the old leader rejoins; replicas agree', LONG, async (t) => {
    const topic = topicName('failover');
    const admin = kafka(bootstrapOf(NAMES)).admin();
    await admin.connect();
    admins.push(admin);
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 3 }], waitForLeaders: false });
    await waitUntil(async () => (await metadataVia('n1', topic))?.partitions[0]?.isr.length === 3, 'three in-sync replicas', 20_000);
    const before = await metadataVia('n1', topic);
    const oldLeader = nameOf(before?.partitions[0]?.leader ?? -1);
    const oldEpoch = await leaderEpochVia('n1', topic);
    assert.ok(oldLeader !== undefined && oldEpoch > 0);
    const survivors = NAMES.filter((n) => n !== oldLeader);

    // Three producers at once, so the kill lands with sends in flight.
    const producer = kafka(bootstrapOf(NAMES)).producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const acked = new Map<number, string>();
    let failures = 0;
    let killed: Promise<unknown> | undefined;
    const deadline = Date.now() + 60_000;
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; acked.size < 150 && Date.now() < deadline; i++) {
        const value = `w${w}-${i}`;
        try {
          const [meta] = await producer.send({ topic, acks: -1, timeout: 5_000, messages: [{ value }] });
          if (meta.errorCode === 0) acked.set(Number(meta.baseOffset), value);
        } catch {
          failures++;
          await sleep(100);
        }
        if (killed === undefined && acked.size >= 50) killed = nodes.get(oldLeader)?.kill('SIGKILL') ?? Promise.resolve();
      }
    };
    // How long from the kill to a new leader (a diagnostic, never asserted).
    const failover = (async (): Promise<number> => {
      await waitUntil(() => killed !== undefined, 'the kill', 60_000);
      await killed;
      const t0 = Date.now();
      await waitUntil(async () => (await leaderEpochVia(survivors[0], topic)) > oldEpoch, 'a new leader', 30_000);
      return Date.now() - t0;
    })();
    await Promise.all([0, 1, 2].map(worker));
    await killed;
    t.diagnostic(`leader elected ${await failover} ms after the kill (lease TTL ${TEST_LEASE_TTL_SEC} s); ${acked.size} acknowledged, ${failures} sends failed`);
    assert.ok(killed !== undefined, 'the leader was killed');
    assert.ok(acked.size >= 150, `150 records acknowledged (${acked.size}, ${failures} failed sends)`);

    const after = await metadataVia(survivors[0], topic);
    const newLeader = nameOf(after?.partitions[0]?.leader ?? -1);
    assert.ok(newLeader !== undefined && survivors.includes(newLeader), `a survivor leads (${newLeader})`);
    assert.ok((await leaderEpochVia(survivors[0], topic)) > oldEpoch, 'with a higher epoch');
    await waitUntil(async () => (await metadataVia(survivors[0], topic))?.partitions[0]?.isr.length === 2, 'the dead node leaves the ISR', 20_000);

    const consumer = kafka(bootstrapOf(survivors)).consumer({ groupId: `g-${topic}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen = new Map<number, string>();
    const maxAcked = Math.max(...acked.keys());
    await consumer.run({ eachMessage: async ({ message }) => void seen.set(Number(message.offset), message.value?.toString() ?? '') });
    await waitUntil(() => [...seen.keys()].some((o) => o >= maxAcked), 'the consumer reached the last acknowledged offset', 30_000);
    await consumer.disconnect();
    for (const [offset, value] of acked) assert.equal(seen.get(offset), value, `acknowledged ${value} at offset ${offset}`);

    // The old leader comes back on its data dir: it drops any tail it alone had (cutting its log,
    // not refetching it: the partition's directory and first segment file stay), catches up and
    // rejoins the ISR.
    const oldDir = await partitionDirIn(dirs.get(oldLeader) ?? '', topic, 0);
    const sentinel = path.join(oldDir, 'kept-by-truncation');
    await writeFile(sentinel, 'the partition directory was not recreated');
    const firstSegment = path.join(oldDir, '00000000000000000000.log');
    const inodeBefore = (await stat(firstSegment)).ino;
    nodes.set(oldLeader, await spawnBroker(dirs.get(oldLeader) ?? '', clusterArgs(oldLeader)));
    await waitUntil(async () => (await metadataVia(survivors[0], topic))?.partitions[0]?.isr.length === 3, 'the restarted node is in sync again', 30_000);
    assert.equal((await stat(sentinel)).isFile(), true, 'the old leader kept its partition directory');
    assert.equal((await stat(firstSegment)).ino, inodeBefore, 'the old leader kept its first segment file');
    const more = kafka(bootstrapOf(survivors)).producer({ allowAutoTopicCreation: false });
    await more.connect();
    for (let i = 0; i < 10; i++) {
      const [meta] = await more.send({ topic, acks: -1, messages: [{ value: `after-${i}` }] });
      acked.set(Number(meta.baseOffset), `after-${i}`);
    }
    await more.disconnect();

    // Every replica's log on disk: the same records at the same offsets up to the committed end.
    for (const n of NAMES) await nodes.get(n)?.kill('SIGKILL');
    const committed = Math.max(...acked.keys()) + 1;
    const prefixes = await Promise.all(NAMES.map(async (n) => (await recordsOnDisk(dirs.get(n) ?? '', topic, 0)).filter(([o]) => o < committed)));
    assert.equal(prefixes[0].length, committed, 'the committed prefix is whole');
    assert.deepEqual(prefixes[1], prefixes[0], 'the replicas hold the same committed prefix');
    assert.deepEqual(prefixes[2], prefixes[0], 'the replicas hold the same committed prefix');
    for (const [offset, value] of acked) assert.deepEqual(prefixes[0][offset], [offset, value]);
  });
});
