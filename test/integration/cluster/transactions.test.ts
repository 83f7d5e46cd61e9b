// Kafka transactions across a cluster (docs/cluster.md, "Transactions"): three `wharf serve
// --cluster` processes on a private etcd, kafkajs and raw requests. A transactional id's
// coordinator is the leader of its __transaction_state partition (every node names it, the others
// answer NOT_COORDINATOR); commit and abort markers reach every partition of a transaction whose
// partitions different nodes lead (read_committed readers see the committed transactions only,
// which needs each partition's markers); transactional offsets reach a group coordinator on another node;
// a zombie producer is fenced; after kill -9 of the coordinator in the middle of a transaction, the
// new coordinator aborts it (nothing of it is read committed) and the producer re-inits and goes
// on; WriteTxnMarkers from an ordinary client is refused; librdkafka's transactions work too.

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { Kafka, Producer } from 'kafkajs';
import { OFFSETS_TOPIC } from '../../../src/broker/stream/groups/replicated.js';
import { internalPartitionFor } from '../../../src/broker/stream/replicated-coordinators.js';
import { TXN_TOPIC } from '../../../src/broker/stream/txn/replicated.js';
import { ErrorCode } from '../../../src/protocol/kafka/index.js';
import { waitUntil } from '../../helpers/async.js';
import { KEY_TYPE_GROUP, KEY_TYPE_TRANSACTION, useClusterNodes } from '../../helpers/cluster-nodes.js';
import { kafkaClient, kafkaErrorTypes, topicName } from '../../helpers/kafka.js';
import { runPython } from '../../helpers/python-kafka.js';

const LONG = { timeout: 240_000 } as const;
const NAMES = ['n1', 'n2', 'n3'];
const END = 'END';

function kafka(bootstrap: readonly string[]): Kafka {
  return kafkaClient(bootstrap[0], { brokers: [...bootstrap], retry: { retries: 15, initialRetryTime: 100, maxRetryTime: 1000 } });
}

/** librdkafka's transactional producer: commit, abort, commit, one record per topic each, each with the group's offset of `source`. */
const LIBRDKAFKA_TRANSACTIONS = `
import json, sys
from confluent_kafka import Consumer, Producer, TopicPartition
bootstrap, topics, source, group, txid = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
p = Producer({'bootstrap.servers': bootstrap, 'transactional.id': txid, 'linger.ms': 5})
p.init_transactions(60)
c = Consumer({'bootstrap.servers': bootstrap, 'group.id': group, 'enable.auto.commit': False})

def txn(value, offset, commit):
    p.begin_transaction()
    for i, t in enumerate(topics):
        p.produce(t, value=('%s-%d' % (value, i)).encode(), partition=0)
    p.send_offsets_to_transaction([TopicPartition(source, 0, offset)], c.consumer_group_metadata(), 60)
    if commit:
        p.commit_transaction(60)
    else:
        p.flush(60)  # delivered first: abort_transaction drops what is still queued
        p.abort_transaction(60)

txn('c1', 10, True)
txn('a2', 20, False)
txn('c3', 30, True)
committed = c.committed([TopicPartition(source, 0)], 60)
c.close()
print(json.dumps({'committed': committed[0].offset}))
`;

describe('Kafka transactions across a cluster (three nodes, kafkajs)', () => {
  const nodes = useClusterNodes(NAMES);
  const { clients, raw } = nodes;

  const bootstrapOf = (names: readonly string[]): string[] => nodes.cluster.bootstrapOf(names);
  const nameOf = (id: number): string => nodes.cluster.nameOf(id);

  const findCoordinator = (via: string, key: string, keyType: number) => nodes.cluster.findCoordinator(via, key, keyType);
  const agreedCoordinator = (via: readonly string[], key: string, keyType: number, not?: string): Promise<string> => nodes.cluster.agreedCoordinator(via, key, keyType, not);

  /**
   * One topic per node, each created on that node (three replicas; its creator campaigns first,
   * so the partitions are usually led by different nodes), with the node leading each now.
   */
  async function spreadTopics(prefix: string, via: readonly string[]): Promise<{ topics: string[]; leaders: string[] }> {
    const topics: string[] = [];
    const leaders: string[] = [];
    for (const creator of via) {
      const topic = topicName(`${prefix}-${creator}`);
      const admin = kafka(bootstrapOf([creator])).admin();
      await admin.connect();
      try {
        await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: via.length }], waitForLeaders: true });
        let leader = '';
        await waitUntil(async () => {
          const md = await admin.fetchTopicMetadata({ topics: [topic] });
          leader = nameOf(md.topics[0]?.partitions[0]?.leader ?? -1);
          return via.includes(leader);
        }, `${topic} has a leader`, 30_000);
        topics.push(topic);
        leaders.push(leader);
      } finally {
        await admin.disconnect();
      }
    }
    return { topics, leaders };
  }

  /** Each partition's leader of an internal topic, once every partition has one. */
  async function leadersOf(topic: string): Promise<string[]> {
    const admin = kafka(bootstrapOf(NAMES)).admin();
    await admin.connect();
    try {
      let leaders: string[] = [];
      await waitUntil(async () => {
        const md = await admin.fetchTopicMetadata({ topics: [topic] });
        leaders = [...(md.topics[0]?.partitions ?? [])].sort((a, b) => a.partitionId - b.partitionId).map((p) => nameOf(p.leader));
        return leaders.length > 0 && leaders.every((l) => NAMES.includes(l));
      }, `every partition of ${topic} has a leader`, 60_000);
      return leaders;
    } finally {
      await admin.disconnect();
    }
  }

  /** A key named `prefix-...` that belongs to partition `p` of `partitions`. */
  function keyFor(prefix: string, p: number, partitions: number): string {
    for (;;) {
      const key = topicName(prefix);
      if (internalPartitionFor(key, partitions) === p) return key;
    }
  }

  /**
   * A transactional id and a group whose coordinators are different nodes. Whichever node wins a
   * partition's campaign leads it; if one node leads every partition of both internal topics, a
   * kill -9 and restart of that node hands them to the two others.
   */
  async function coordinatorsApart(prefix: string): Promise<{ transactionalId: string; groupId: string; txnCoordinator: string; groupCoordinator: string }> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const txn = await leadersOf(TXN_TOPIC);
      const groups = await leadersOf(OFFSETS_TOPIC);
      for (let tp = 0; tp < txn.length; tp++) {
        const gp = groups.findIndex((l) => l !== txn[tp]);
        if (gp < 0) continue;
        const transactionalId = keyFor(`${prefix}-id`, tp, txn.length);
        const groupId = keyFor(`${prefix}-g`, gp, groups.length);
        const txnCoordinator = await agreedCoordinator(NAMES, transactionalId, KEY_TYPE_TRANSACTION);
        const groupCoordinator = await agreedCoordinator(NAMES, groupId, KEY_TYPE_GROUP);
        if (txnCoordinator !== groupCoordinator) return { transactionalId, groupId, txnCoordinator, groupCoordinator };
      }
      const only = txn[0];
      await nodes.cluster.node(only).kill('SIGKILL');
      await agreedCoordinator(NAMES.filter((n) => n !== only), topicName('tx-moved'), KEY_TYPE_TRANSACTION, only);
      await nodes.cluster.restart(only);
    }
    throw new Error('no transactional id and group with coordinators on different nodes');
  }

  async function transactional(bootstrap: readonly string[], transactionalId: string, transactionTimeout = 60_000): Promise<Producer> {
    const p = kafka(bootstrap).producer({ transactionalId, idempotent: true, maxInFlightRequests: 1, transactionTimeout });
    clients.push(p);
    await p.connect();
    return p;
  }

  /** One record per topic, `value-<i>` for the i-th topic, in the producer's current transaction. */
  function onEveryTopic(topics: readonly string[], value: string) {
    return { acks: -1, topicMessages: topics.map((topic, i) => ({ topic, messages: [{ value: `${value}-${i}` }] })) };
  }

  /** `value-<i>` for each value and topic, sorted (what onEveryTopic sent). */
  function expected(values: readonly string[], topics: readonly string[]): string[] {
    return values.flatMap((v) => topics.map((_, i) => `${v}-${i}`)).sort();
  }

  /** What a reader from the beginning gets before each topic's END record (appended here, outside any transaction). */
  async function readAll(via: readonly string[], topics: readonly string[], readUncommitted: boolean): Promise<string[]> {
    const k = kafka(bootstrapOf(via));
    const ender = k.producer();
    await ender.connect();
    await ender.sendBatch({ acks: -1, topicMessages: topics.map((topic) => ({ topic, messages: [{ value: END }] })) });
    await ender.disconnect();
    const c = k.consumer({ groupId: topicName('reader'), readUncommitted, sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 200 });
    const seen: string[] = [];
    const ended = new Set<string>();
    await c.connect();
    try {
      for (const topic of topics) await c.subscribe({ topic, fromBeginning: true });
      await c.run({
        eachMessage: async ({ topic, message }) => {
          const v = String(message.value);
          if (v === END) ended.add(topic);
          else if (!ended.has(topic)) seen.push(v);
        },
      });
      // A read_committed reader reaches END only past each transaction's marker on that partition.
      await waitUntil(() => ended.size === topics.length, `END read on ${topics.join(', ')}`, 90_000);
    } finally {
      await c.disconnect();
    }
    return seen.sort();
  }

  async function describeTxn(via: string, transactionalId: string): Promise<{ errorCode: number; state: string }> {
    const r = await raw(via);
    try {
      const res = await r.call(65, 0, { transactionalIds: [transactionalId] });
      return { errorCode: res.transactionStates[0]?.errorCode ?? -1, state: res.transactionStates[0]?.transactionState ?? '' };
    } finally {
      r.destroy();
    }
  }

  before(async () => {
    // Both internal topics exist before the tests, created from different nodes (whose
    // campaigns often win their partitions; coordinatorsApart() makes sure where it matters).
    await waitUntil(async () => (await findCoordinator('n1', topicName('tx-setup'), KEY_TYPE_TRANSACTION)).errorCode === ErrorCode.NONE, 'the transaction state topic exists', 60_000);
    await waitUntil(async () => (await findCoordinator('n2', topicName('g-setup'), KEY_TYPE_GROUP)).errorCode === ErrorCode.NONE, 'the offsets topic exists', 60_000);
  });

  it('commits and aborts reach every partition, whichever node leads it; other nodes answer NOT_COORDINATOR; WriteTxnMarkers from a client is refused', LONG, async () => {
    const { topics, leaders } = await spreadTopics('tx-spread', NAMES);
    assert.ok(new Set(leaders).size >= 2, `the partitions are led by different nodes: ${leaders.join(', ')}`);
    const transactionalId = topicName('tx-spread-id');
    const coordinator = await agreedCoordinator(NAMES, transactionalId, KEY_TYPE_TRANSACTION);
    assert.ok(leaders.some((l) => l !== coordinator), 'some partition is led by another node than the coordinator');
    const others = NAMES.filter((n) => n !== coordinator);

    // Only the coordinator answers for the transactional id.
    const elsewhere = await raw(others[0]);
    const init = await elsewhere.call(22, 2, { transactionalId, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
    assert.equal(init.errorCode, ErrorCode.NOT_COORDINATOR, 'InitProducerId on another node');

    // The producer bootstraps on a node that is not the coordinator and finds it.
    const producer = await transactional(bootstrapOf([others[0]]), transactionalId);
    for (const [value, commit] of [['c1', true], ['a2', false], ['c3', true]] as const) {
      const txn = await producer.transaction();
      await txn.sendBatch(onEveryTopic(topics, value));
      if (commit) await txn.commit();
      else await txn.abort();
    }
    assert.deepEqual(await readAll(NAMES, topics, false), expected(['c1', 'c3'], topics), 'read_committed sees the two committed transactions on every partition');
    assert.deepEqual(await readAll(NAMES, topics, true), expected(['a2', 'c1', 'c3'], topics), 'read_uncommitted sees the aborted records too');

    const onCoordinator = await describeTxn(coordinator, transactionalId);
    assert.deepEqual(onCoordinator, { errorCode: ErrorCode.NONE, state: 'CompleteCommit' });
    assert.equal((await describeTxn(others[0], transactionalId)).errorCode, ErrorCode.NOT_COORDINATOR);

    // WriteTxnMarkers is cluster-internal: a client gets CLUSTER_AUTHORIZATION_FAILED and nothing is written.
    const leader0 = await raw(leaders[0]);
    const res = await leader0.call(27, 1, { markers: [{ producerId: 1n, producerEpoch: 0, transactionResult: false, topics: [{ name: topics[0], partitionIndexes: [0] }], coordinatorEpoch: 0 }] });
    assert.equal(res.markers[0]?.topics[0]?.partitions[0]?.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
  });

  it('transactional offsets (sendOffsets) reach the group\'s coordinator on another node: committed with the transaction, dropped with an abort', LONG, async () => {
    const { transactionalId, groupId } = await coordinatorsApart('tx-offsets');
    const input = topicName('tx-offsets-in');
    const { topics: output } = await spreadTopics('tx-offsets-out', NAMES);
    const plain = kafka(bootstrapOf(NAMES)).producer();
    clients.push(plain);
    await plain.connect();
    await plain.send({ topic: input, acks: -1, messages: Array.from({ length: 6 }, (_, i) => ({ value: `in-${i}` })) });

    // Consume-transform-produce: records 0..2 read, transformed and their offsets committed in one
    // transaction; 3..5 the same, aborted.
    const producer = await transactional(bootstrapOf(NAMES), transactionalId);
    const ok = await producer.transaction();
    await ok.sendBatch(onEveryTopic(output, 'out-0-2'));
    await ok.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: input, partitions: [{ partition: 0, offset: '3' }] }] });
    await ok.commit();
    const dropped = await producer.transaction();
    await dropped.sendBatch(onEveryTopic(output, 'out-3-5'));
    await dropped.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: input, partitions: [{ partition: 0, offset: '6' }] }] });
    await dropped.abort();

    const admin = kafka(bootstrapOf(NAMES)).admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchOffsets({ groupId, topics: [input] });
      assert.deepEqual(offsets[0]?.partitions.map((p) => p.offset), ['3'], 'the committed transaction\'s offset, not the aborted one\'s');
    } finally {
      await admin.disconnect();
    }
    assert.deepEqual(await readAll(NAMES, output, false), expected(['out-0-2'], output));

    // The group resumes where the committed transaction left it.
    const resumed: string[] = [];
    const c = kafka(bootstrapOf(NAMES)).consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 200 });
    clients.push(c);
    await c.connect();
    await c.subscribe({ topic: input, fromBeginning: true });
    await c.run({ autoCommit: false, eachMessage: async ({ message }) => void resumed.push(String(message.value)) });
    await waitUntil(() => resumed.length >= 3, 'the group reads the records after its committed offset', 60_000);
    await c.stop();
    assert.deepEqual(resumed.sort(), ['in-3', 'in-4', 'in-5']);
  });

  it('a zombie producer (an older epoch of the same transactional id) is fenced; its open transaction is aborted', LONG, async () => {
    const { topics } = await spreadTopics('tx-zombie', NAMES);
    const transactionalId = topicName('tx-zombie-id');
    const zombie = await transactional(bootstrapOf(NAMES), transactionalId);
    const old = await zombie.transaction();
    await old.sendBatch(onEveryTopic(topics, 'zombie'));
    // A new instance of the producer: InitProducerId bumps the epoch and aborts the open transaction.
    const fresh = await transactional(bootstrapOf(NAMES), transactionalId);
    const txn = await fresh.transaction();
    await txn.sendBatch(onEveryTopic(topics, 'fresh'));
    await txn.commit();
    let errors: string[] = [];
    try {
      await old.commit();
    } catch (err) {
      errors = kafkaErrorTypes(err);
    }
    assert.ok(errors.some((e) => e === 'PRODUCER_FENCED' || e === 'INVALID_PRODUCER_EPOCH'), `the zombie's commit is fenced: ${errors.join(', ')}`);
    assert.deepEqual(await readAll(NAMES, topics, false), expected(['fresh'], topics));
  });

  it('librdkafka (confluent_kafka) commits and aborts across the nodes, with send_offsets_to_transaction to a group coordinator on another node', LONG, async () => {
    const { topics } = await spreadTopics('tx-rdkafka', NAMES);
    const { transactionalId, groupId } = await coordinatorsApart('tx-rdkafka');
    const source = topics[0];
    const r = await runPython(LIBRDKAFKA_TRANSACTIONS, [bootstrapOf(NAMES).join(','), JSON.stringify(topics), source, groupId, transactionalId], 120_000);
    assert.equal(r.committed, 30, 'the committed transactions\' offset; the aborted one\'s was dropped');
    assert.deepEqual(await readAll(NAMES, topics, false), expected(['c1', 'c3'], topics), 'read_committed: the committed transactions on every partition');
  });

  it('kill -9 of the transaction coordinator mid-transaction: the new coordinator aborts it on its timeout; the producer re-inits and commits', LONG, async () => {
    const { topics, leaders } = await spreadTopics('tx-kill', NAMES);
    const transactionalId = topicName('tx-kill-id');
    const coordinator = await agreedCoordinator(NAMES, transactionalId, KEY_TYPE_TRANSACTION);
    const survivors = NAMES.filter((n) => n !== coordinator);
    assert.ok(leaders.some((l) => l !== coordinator), `the transaction spans partitions other nodes lead: ${leaders.join(', ')}`);
    const first = await transactional(bootstrapOf(NAMES), transactionalId, 5_000);
    const open = await first.transaction();
    await open.sendBatch(onEveryTopic(topics, 'lost'));
    assert.equal((await describeTxn(coordinator, transactionalId)).state, 'Ongoing');

    await nodes.cluster.node(coordinator).kill('SIGKILL');
    await first.disconnect().catch(() => undefined);
    const next = await agreedCoordinator(survivors, transactionalId, KEY_TYPE_TRANSACTION, coordinator);
    // The new coordinator replays the state partition and aborts the transaction past its timeout.
    await waitUntil(async () => {
      const d = await describeTxn(next, transactionalId);
      return d.errorCode === ErrorCode.NONE && d.state === 'CompleteAbort';
    }, 'the new coordinator aborted the open transaction', 90_000);

    const again = await transactional(bootstrapOf(survivors), transactionalId);
    const txn = await again.transaction();
    await txn.sendBatch(onEveryTopic(topics, 'after'));
    await txn.commit();
    assert.deepEqual(await readAll(survivors, topics, false), expected(['after'], topics), 'nothing of the killed transaction is read committed');
    assert.deepEqual(
      await readAll(survivors, topics, true),
      expected(['after', 'lost'], topics),
      'its records are in the log, aborted',
    );
    await nodes.cluster.restart(coordinator);
  });
});
