// Replica reassignment (docs/cluster.md, "Reassignment") with `wharf cluster rebalance` and
// `wharf cluster forget`: two nodes hold a topic with replication factor 2; a third node joins
// and a rebalance spreads the partitions over all three with every record; then a node stops,
// is forgotten (a running node is refused), and a rebalance moves its replicas to the two left.
// No acknowledged record is lost, and a node that lost a replica deleted its copy.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { Kafka, logLevel, type ITopicMetadata } from 'kafkajs';
import { nodeId } from '../../../src/cluster/streams/placement.js';
import { waitUntil } from '../../helpers/async.js';
import { makeDataDir, spawnBroker, type SpawnedBroker } from '../../helpers/broker.js';
import { runWharf } from '../../helpers/cli.js';
import { startTestEtcd, TEST_LEASE_TTL_SEC, type EtcdProcess } from '../../helpers/etcd.js';
import { topicName } from '../../helpers/kafka.js';
import { recordsOnDisk } from '../../helpers/jepsen/checker.js';

const LONG = { timeout: 240_000 } as const;
const NAMES = ['r1', 'r2', 'r3'];
const PARTITIONS = 3;

describe('replica reassignment (wharf cluster rebalance, forget)', () => {
  let etcd: EtcdProcess;
  const nodes = new Map<string, SpawnedBroker>();
  const dirs = new Map<string, string>();

  const running = (): string[] => NAMES.filter((n) => nodes.get(n)?.process.exitCode === null && nodes.get(n)?.process.signalCode === null);
  const kafka = (names: readonly string[]): Kafka =>
    new Kafka({
      clientId: 'wharf-reassignment-test',
      brokers: names.map((n) => nodes.get(n)?.kafkaBootstrap ?? ''),
      logLevel: logLevel.NOTHING,
      retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 },
    });
  const nameOf = (id: number): string => NAMES.find((n) => nodeId(n) === id) ?? `?${id}`;
  const start = async (name: string): Promise<void> => {
    dirs.set(name, dirs.get(name) ?? (await makeDataDir()));
    nodes.set(name, await spawnBroker(dirs.get(name) ?? '', ['--cluster', etcd.endpoint, '--node-name', name, '--advertise-host', '127.0.0.1', '--cluster-lease-ttl', String(TEST_LEASE_TTL_SEC)]));
  };
  const cli = (via: string, ...args: string[]) => runWharf(['cluster', ...args, '--url', `http://127.0.0.1:${nodes.get(via)?.httpPort}`]);

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

  /** Every partition has `factor` replicas, all in sync, with a leader among them. */
  async function settled(name: string, topic: string, factor: number): Promise<boolean> {
    const t = await metadataVia(name, topic);
    return t !== undefined && t.partitions.length === PARTITIONS && t.partitions.every((p) => p.replicas.length === factor && p.isr.length === factor && p.replicas.includes(p.leader));
  }

  /** Every record of the topic, read with a fresh consumer group from the beginning. */
  async function consumeAll(via: readonly string[], topic: string, expected: number): Promise<Map<string, string>> {
    const consumer = kafka(via).consumer({ groupId: `g-${topic}-${Date.now()}` });
    const seen = new Map<string, string>();
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ partition, message }) => void seen.set(`${partition}:${message.offset}`, message.value?.toString() ?? '') });
      await waitUntil(() => seen.size >= expected, `the consumer read ${expected} records`, 60_000);
    } finally {
      await consumer.disconnect();
    }
    return seen;
  }

  before(async () => {
    etcd = await startTestEtcd();
    await start('r1');
    await start('r2');
  });
  after(async () => {
    for (const n of nodes.values()) await n.kill('SIGKILL').catch(() => undefined);
    await etcd.stop();
    for (const d of dirs.values()) await rm(d, { recursive: true, force: true });
  });

  it('a node added, rebalanced onto; a node stopped, forgotten, rebalanced off; every acknowledged record stays', LONG, async () => {
    const topic = topicName('reassign');
    const admin = kafka(['r1', 'r2']).admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 2 }], waitForLeaders: false });
    } finally {
      await admin.disconnect();
    }
    await waitUntil(() => settled('r1', topic, 2), 'two in-sync replicas per partition', 30_000);
    const acked = new Map<string, string>();
    const produce = async (via: readonly string[], tag: string): Promise<void> => {
      const producer = kafka(via).producer({ allowAutoTopicCreation: false });
      await producer.connect();
      try {
        for (let i = 0; i < 30; i++) {
          const [meta] = await producer.send({ topic, acks: -1, messages: [{ value: `${tag}${i}`, partition: i % PARTITIONS }] });
          acked.set(`${meta.partition}:${meta.baseOffset}`, `${tag}${i}`);
        }
      } finally {
        await producer.disconnect();
      }
    };
    await produce(['r1', 'r2'], 'a');

    // A third node joins: a rebalance spreads the partitions over all three.
    await start('r3');
    const moved = await cli('r1', 'rebalance');
    assert.equal(moved.code, 0, moved.stderr);
    assert.match(moved.stdout, /moved/);
    await waitUntil(() => settled('r3', topic, 2), 'two in-sync replicas per partition after the rebalance', 30_000);
    const spread = await metadataVia('r3', topic);
    const holders = new Set(spread?.partitions.flatMap((p) => p.replicas.map(nameOf)));
    assert.deepEqual([...holders].sort(), NAMES, 'the partitions are spread over the three nodes');
    const again = await cli('r2', 'rebalance');
    assert.match(again.stdout, /already placed/, 'a second rebalance moves nothing');
    await produce(['r1', 'r2', 'r3'], 'b');
    assert.deepEqual(new Map([...(await consumeAll(['r3'], topic, acked.size))].filter(([k]) => acked.has(k))), acked);

    // A node that holds replicas stops; forgetting a running node is refused, the stopped one goes.
    const victim = spread?.partitions.map((p) => nameOf(p.replicas[0])).find((n) => n !== 'r1') ?? 'r2';
    const left = NAMES.filter((n) => n !== victim);
    const refused = await cli(left[0], 'forget', left[1]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /is running: stop it before forgetting it/);
    await nodes.get(victim)?.kill('SIGTERM');
    await waitUntil(async () => (await cli(left[0], 'forget', victim)).code === 0, `${victim} forgotten once it is down`, 30_000);
    const status = await cli(left[0], 'status', '--json');
    assert.deepEqual((JSON.parse(status.stdout) as { name: string }[]).map((n) => n.name), left, 'the forgotten node is no longer a member');

    const off = await cli(left[0], 'rebalance');
    assert.equal(off.code, 0, off.stderr);
    await waitUntil(() => settled(left[0], topic, 2), 'every partition on the two nodes left, in sync', 30_000);
    const final = await metadataVia(left[1], topic);
    for (const p of final?.partitions ?? []) assert.deepEqual(p.replicas.map(nameOf).sort(), left);
    await produce(left, 'c');
    const seen = await consumeAll(left, topic, acked.size);
    for (const [k, v] of acked) assert.equal(seen.get(k), v, `acknowledged ${v} at ${k}`);
    assert.deepEqual(running().sort(), left);

    // On disk: both nodes left hold every partition whole; the stopped node had dropped the
    // partitions the first rebalance took from it.
    for (const n of left) await nodes.get(n)?.kill('SIGKILL');
    for (let i = 0; i < PARTITIONS; i++) {
      const want = [...acked].filter(([k]) => k.startsWith(`${i}:`)).map(([k, v]) => [Number(k.split(':')[1]), v]);
      for (const n of left) assert.deepEqual([...(await recordsOnDisk(dirs.get(n) ?? '', topic, i))], want, `${n} holds partition ${i}`);
    }
    const firstReplicas = (i: number): string[] => (spread?.partitions.find((p) => p.partitionId === i)?.replicas ?? []).map(nameOf);
    for (let i = 0; i < PARTITIONS; i++) {
      if (firstReplicas(i).includes(victim)) continue;
      assert.equal((await recordsOnDisk(dirs.get(victim) ?? '', topic, i)).size, 0, `${victim} deleted its copy of partition ${i}`);
    }
  });
});
