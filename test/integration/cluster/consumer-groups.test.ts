// Consumer groups across a cluster (docs/cluster.md, "Consumer groups and producer ids"): three
// `wharf serve --cluster` processes on a private etcd, kafkajs and raw requests. Every node's
// FindCoordinator names the leader of the group's __consumer_offsets partition (Kafka's
// abs(hashCode) % partitions), other nodes answer group requests with NOT_COORDINATOR, two
// consumers bootstrapping on different nodes form one group, committed offsets survive kill -9
// of the coordinator (a new leader of the offsets partition loads them and the group resumes
// there), and producer ids are unique across nodes.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { OFFSETS_TOPIC, OFFSETS_TOPIC_PARTITIONS_DEFAULT, offsetsPartitionFor } from '../../../src/broker/stream/groups/replicated.js';
import { ErrorCode } from '../../../src/protocol/kafka/index.js';
import { waitUntil } from '../../helpers/async.js';
import { KEY_TYPE_GROUP, useClusterNodes } from '../../helpers/cluster-nodes.js';
import { kcat, topicName } from '../../helpers/kafka.js';

const LONG = { timeout: 180_000 } as const;
const NAMES = ['n1', 'n2', 'n3'];

function kafka(bootstrap: readonly string[]): Kafka {
  return new Kafka({
    clientId: 'wharf-cluster-groups-test',
    brokers: [...bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 },
  });
}

describe('consumer groups across a cluster (three nodes, kafkajs)', () => {
  const nodes = useClusterNodes(NAMES);
  const { clients, raw } = nodes;

  const bootstrapOf = (names: readonly string[]): string[] => nodes.cluster.bootstrapOf(names);
  const nameOf = (id: number): string => nodes.cluster.nameOf(id);

  const agreedCoordinator = (via: readonly string[], groupId: string, not?: string): Promise<string> => nodes.cluster.agreedCoordinator(via, groupId, KEY_TYPE_GROUP, not);

  it('FindCoordinator names the leader of the group\'s offsets partition on every node; the others answer NOT_COORDINATOR; ListGroups lists a group on its coordinator only', LONG, async () => {
    const groupId = topicName('g-find');
    const coordinator = await agreedCoordinator(NAMES, groupId);
    // The coordinator is the leader of partition abs(hashCode) % 10 of the offsets topic (Kafka's partitionFor).
    const admin = kafka(bootstrapOf(['n1'])).admin();
    await admin.connect();
    try {
      const md = await admin.fetchTopicMetadata({ topics: [OFFSETS_TOPIC] });
      const t = md.topics[0];
      assert.equal(t.partitions.length, OFFSETS_TOPIC_PARTITIONS_DEFAULT);
      const p = t.partitions.find((x) => x.partitionId === offsetsPartitionFor(groupId, OFFSETS_TOPIC_PARTITIONS_DEFAULT));
      assert.equal(nameOf(p?.leader ?? -1), coordinator, 'the coordinator leads the group\'s offsets partition');
      assert.equal(p?.replicas.length, 3, 'the offsets topic has min(3, nodes) replicas');
    } finally {
      await admin.disconnect();
    }
    // A simple commit (no generation) on the coordinator, then group requests everywhere.
    const topic = topicName('g-find-t');
    const producer = kafka(bootstrapOf(['n1'])).producer();
    clients.push(producer);
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ value: 'x' }] });
    const onCoordinator = await raw(coordinator);
    const commit = await onCoordinator.call(8, 2, {
      groupId, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1n,
      topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, committedMetadata: '' }] }],
    });
    assert.equal(commit.topics[0]?.partitions[0]?.errorCode, ErrorCode.NONE, 'the coordinator takes the commit');
    for (const name of NAMES) {
      const r = await raw(name);
      const heartbeat = await r.call(12, 3, { groupId, generationId: 1, memberId: 'nobody', groupInstanceId: null });
      const fetched = await r.call(9, 5, { groupId, topics: [{ name: topic, partitionIndexes: [0] }], requireStable: false, groups: [] });
      const listed = await r.call(16, 3, { statesFilter: [], typesFilter: [] });
      if (name === coordinator) {
        assert.equal(heartbeat.errorCode, ErrorCode.UNKNOWN_MEMBER_ID, 'the coordinator answers for the group');
        assert.equal(fetched.errorCode, ErrorCode.NONE);
        assert.equal(fetched.topics[0]?.partitions[0]?.committedOffset, 1n, 'the coordinator has the committed offset');
        assert.ok(listed.groups.some((g) => g.groupId === groupId), 'the coordinator lists the group');
      } else {
        assert.equal(heartbeat.errorCode, ErrorCode.NOT_COORDINATOR, `${name} is not the coordinator`);
        assert.equal(fetched.errorCode, ErrorCode.NOT_COORDINATOR);
        assert.ok(!listed.groups.some((g) => g.groupId === groupId), `${name} does not list a group it does not coordinate`);
      }
    }
  });

  it('librdkafka (kcat -G) bootstrapping on a node that is not the coordinator finds it, consumes and commits there', LONG, async () => {
    const groupId = topicName('g-rdkafka');
    const topic = topicName('g-rdkafka-t');
    const coordinator = await agreedCoordinator(NAMES, groupId);
    const elsewhere = NAMES.find((n) => n !== coordinator) ?? '';
    const producer = kafka(bootstrapOf(NAMES)).producer();
    clients.push(producer);
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: Array.from({ length: 12 }, (_, i) => ({ value: `v${i}` })) });
    const c = await kcat([
      '-b', bootstrapOf([elsewhere])[0], '-G', groupId, topic, '-o', 'beginning', '-e', '-f', '%s\\n',
      '-X', 'enable.auto.commit=true', '-X', 'auto.commit.interval.ms=100',
    ]);
    assert.equal(c.code, 0, c.stderr);
    assert.deepEqual(c.stdout.trim().split('\n').sort(), Array.from({ length: 12 }, (_, i) => `v${i}`).sort());
    const admin = kafka(bootstrapOf([elsewhere])).admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
      assert.deepEqual(offsets[0]?.partitions.map((p) => p.offset), ['12'], 'librdkafka committed its position at the coordinator');
    } finally {
      await admin.disconnect();
    }
  });

  it('producer ids are unique across the nodes', LONG, async () => {
    const ids: bigint[] = [];
    for (const name of NAMES) {
      const r = await raw(name);
      for (let i = 0; i < 3; i++) {
        const res = await r.call(22, 2, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
        assert.equal(res.errorCode, ErrorCode.NONE);
        ids.push(res.producerId);
      }
    }
    assert.equal(new Set(ids).size, ids.length, `distinct producer ids: ${ids.join(', ')}`);
  });

  it('two consumers of one group bootstrapping on different nodes share the partitions; committed offsets survive kill -9 of the coordinator and the group resumes from them', LONG, async () => {
    const groupId = topicName('g-fail');
    const topic = topicName('g-fail-t');
    const admin = kafka(bootstrapOf(['n1'])).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 4, replicationFactor: 3 }] });
    await admin.disconnect();
    const producer = kafka(bootstrapOf(NAMES)).producer();
    clients.push(producer);
    await producer.connect();
    for (let i = 0; i < 40; i++) await producer.send({ topic, acks: -1, messages: [{ key: `k${i}`, value: `before-${i}`, partition: i % 4 }] });

    // Two members, each bootstrapping on another node: one group, its partitions split between them.
    const assigned = new Map<string, number[]>();
    const seen = new Set<string>();
    const members = ['n1', 'n2'].map((name) => {
      const c = kafka(bootstrapOf([name])).consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500, rebalanceTimeout: 10_000 });
      clients.push(c);
      c.on(c.events.GROUP_JOIN, (e) => assigned.set(name, [...(e.payload.memberAssignment[topic] ?? [])]));
      return c;
    });
    for (const c of members) {
      await c.connect();
      await c.subscribe({ topic, fromBeginning: true });
      // Each record's offset is committed once it is handled (kafkajs' autoCommitThreshold 1).
      await c.run({ autoCommitThreshold: 1, eachMessage: async ({ message }) => void seen.add(String(message.value)) });
    }
    await waitUntil(() => {
      const a = assigned.get('n1') ?? [];
      const b = assigned.get('n2') ?? [];
      return a.length > 0 && b.length > 0 && [...a, ...b].sort().join() === '0,1,2,3';
    }, 'both members hold disjoint partitions covering the topic', 60_000);
    const coordinator = await agreedCoordinator(NAMES, groupId);
    const describer = kafka(bootstrapOf([coordinator])).admin();
    await describer.connect();
    const described = await describer.describeGroups([groupId]);
    await describer.disconnect();
    assert.equal(described.groups[0]?.state, 'Stable');
    assert.equal(described.groups[0]?.members.length, 2, 'one group with both members, on the one coordinator');
    await waitUntil(() => seen.size === 40, 'the group consumed the 40 records', 30_000);
    // The members leave; what they committed is each partition's end (10 records each).
    for (const c of members) await c.disconnect();
    const offsetsAdmin = kafka(bootstrapOf(['n3'])).admin();
    await offsetsAdmin.connect();
    const before = await offsetsAdmin.fetchOffsets({ groupId, topics: [topic] });
    await offsetsAdmin.disconnect();
    assert.deepEqual(before[0]?.partitions.map((p) => p.offset).sort(), ['10', '10', '10', '10'], 'the members committed every record they read');

    // kill -9 the coordinator: a survivor leads the offsets partition, loads it and answers for the group.
    await nodes.cluster.node(coordinator).kill('SIGKILL');
    const survivors = NAMES.filter((n) => n !== coordinator);
    const next = await agreedCoordinator(survivors, groupId, coordinator);
    assert.notEqual(next, coordinator);
    const after = kafka(bootstrapOf(survivors)).admin();
    await after.connect();
    let offsets: string[] = [];
    await waitUntil(async () => {
      try {
        const f = await after.fetchOffsets({ groupId, topics: [topic] });
        offsets = (f[0]?.partitions ?? []).map((p) => p.offset).sort();
        return offsets.length === 4;
      } catch {
        return false;
      }
    }, 'the new coordinator answers OffsetFetch', 30_000);
    await after.disconnect();
    assert.deepEqual(offsets, ['10', '10', '10', '10'], 'the committed offsets survived the coordinator');

    // The group resumes from them: new records only, none of the 40 before.
    for (let i = 0; i < 8; i++) await producer.send({ topic, acks: -1, messages: [{ value: `after-${i}`, partition: i % 4 }] });
    const resumed: string[] = [];
    const again = kafka(bootstrapOf(survivors)).consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500 });
    clients.push(again);
    await again.connect();
    await again.subscribe({ topic, fromBeginning: true });
    await again.run({ eachMessage: async ({ message }) => void resumed.push(String(message.value)) });
    await waitUntil(() => resumed.length >= 8, 'the resumed group reads the new records', 60_000);
    await again.stop();
    assert.deepEqual(resumed.sort(), Array.from({ length: 8 }, (_, i) => `after-${i}`).sort(), 'the group resumed at the committed offsets');

    // The old coordinator, restarted on its data dir, is a follower of the offsets partition now:
    // it names the new coordinator and answers the group's requests with NOT_COORDINATOR.
    await nodes.cluster.restart(coordinator);
    assert.equal(await agreedCoordinator(NAMES, groupId), next, 'every node, the restarted one too, names the new coordinator');
    const old = await raw(coordinator);
    const fetched = await old.call(9, 5, { groupId, topics: [{ name: topic, partitionIndexes: [0] }], requireStable: false, groups: [] });
    assert.equal(fetched.errorCode, ErrorCode.NOT_COORDINATOR, 'the deposed coordinator no longer answers for the group');
  });
});
