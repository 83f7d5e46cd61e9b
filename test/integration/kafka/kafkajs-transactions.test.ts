// Transactions through kafkajs: a transactional producer (transactionalId, idempotent,
// maxInFlightRequests 1) commits and aborts, with sendOffsets; read_committed consumers
// (readUncommitted: false) see only committed records, read_uncommitted ones everything; a
// second producer with the same transactional id fences the first; a transaction past its
// timeout is aborted; the last stable offset shows in ListOffsets.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Kafka, Producer } from 'kafkajs';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { kafkaClient, kafkaErrorTypes, skipKafkaUnderReference, topicName } from '../../helpers/kafka.js';
import { RawKafka } from '../../helpers/kafka-raw.js';

const END = 'END';

async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Appends a non-transactional END record to each partition: readers stop once they saw them all. */
async function endEveryPartition(kafka: Kafka, topic: string, partitions: number): Promise<void> {
  const p = kafka.producer();
  await p.connect();
  await p.send({ topic, acks: -1, messages: Array.from({ length: partitions }, (_, partition) => ({ partition, value: END })) });
  await p.disconnect();
}

/** Everything a group consumer reads from the beginning up to each partition's END record. */
async function readAll(kafka: Kafka, topic: string, partitions: number, readUncommitted: boolean): Promise<string[]> {
  // A short long-poll: disconnect() waits for the fetch in flight.
  const c = kafka.consumer({ groupId: topicName('reader'), readUncommitted, sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
  const seen: string[] = [];
  const ended = new Set<number>();
  await c.connect();
  try {
    await c.subscribe({ topic, fromBeginning: true });
    await c.run({
      eachMessage: async ({ partition, message }) => {
        const v = String(message.value);
        if (v === END) ended.add(partition);
        else if (!ended.has(partition)) seen.push(v);
      },
    });
    await waitFor(`END on ${partitions} partitions`, () => ended.size === partitions);
  } finally {
    await c.disconnect();
  }
  return seen.sort();
}

async function failsWith(p: Promise<unknown>): Promise<string[]> {
  try {
    await p;
  } catch (err) {
    return kafkaErrorTypes(err);
  }
  throw new Error('expected a failure');
}

describe('kafkajs: transactions', { skip: skipKafkaUnderReference }, () => {
  let broker: TestBroker;
  before(async () => {
    broker = await startTestBroker({ kafkaGroupInitialRebalanceDelayMs: 0, kafkaTransactionAbortCheckMs: 100 });
  });
  after(async () => {
    await broker?.close();
  });

  const client = () => kafkaClient(broker.handle.kafkaBootstrap);

  async function transactional(kafka: Kafka, transactionalId: string, transactionTimeout = 60_000): Promise<Producer> {
    const p = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1, transactionTimeout });
    await p.connect();
    return p;
  }

  test('committed records and offsets are visible to read_committed readers; aborted ones only to read_uncommitted readers', async () => {
    const kafka = client();
    const topic = topicName('txo');
    const source = topicName('txi');
    const groupId = topicName('txg');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }, { topic: source, numPartitions: 1 }] });
    const p = await transactional(kafka, topicName('tx'));

    let t = await p.transaction();
    await t.send({ topic, messages: [{ key: 'a', value: 'c1' }, { key: 'b', value: 'c2' }, { key: 'c', value: 'c3' }] });
    await t.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: source, partitions: [{ partition: 0, offset: '5' }] }] });
    await t.commit();

    t = await p.transaction();
    await t.send({ topic, messages: [{ key: 'a', value: 'x1' }, { key: 'd', value: 'x2' }] });
    await t.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: source, partitions: [{ partition: 0, offset: '9' }] }] });
    await t.abort();

    t = await p.transaction();
    await t.send({ topic, messages: [{ key: 'e', value: 'c4' }] });
    await t.commit();
    await p.disconnect();

    const offsets = await admin.fetchOffsets({ groupId, topics: [source] });
    assert.equal(offsets[0].partitions[0].offset, '5', 'the aborted transaction\'s offsets were dropped');

    await endEveryPartition(kafka, topic, 2);
    assert.deepEqual(await readAll(kafka, topic, 2, false), ['c1', 'c2', 'c3', 'c4']);
    assert.deepEqual(await readAll(kafka, topic, 2, true), ['c1', 'c2', 'c3', 'c4', 'x1', 'x2']);
    await admin.disconnect();
  });

  test('a second producer with the same transactional id fences the first: its open transaction is aborted, its writes refused', async () => {
    const kafka = client();
    const topic = topicName('txf');
    const transactionalId = topicName('txf');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });

    const zombie = await transactional(kafka, transactionalId);
    const zt = await zombie.transaction();
    await zt.send({ topic, messages: [{ value: 'zombie-1' }] });

    // kafkajs initializes the transactional id at the first transaction(): that fences the zombie
    // (its open transaction is aborted first; InitProducerId answers CONCURRENT_TRANSACTIONS once).
    const fresh = await transactional(kafka, transactionalId);
    const ft = await fresh.transaction();
    assert.ok((await failsWith(zt.send({ topic, messages: [{ value: 'zombie-2' }] }))).includes('INVALID_PRODUCER_EPOCH'));
    assert.ok((await failsWith(zt.commit())).includes('INVALID_PRODUCER_EPOCH'));
    await ft.send({ topic, messages: [{ value: 'fresh-1' }] });
    await ft.commit();
    await fresh.disconnect();
    await zombie.disconnect().catch(() => {});

    await endEveryPartition(kafka, topic, 1);
    assert.deepEqual(await readAll(kafka, topic, 1, false), ['fresh-1']);
    assert.deepEqual(await readAll(kafka, topic, 1, true), ['fresh-1', 'zombie-1']);
    await admin.disconnect();
  });

  test('a transaction past its timeout is aborted and its producer fenced; the last stable offset moves on', async () => {
    const kafka = client();
    const topic = topicName('txt');
    const transactionalId = topicName('txt');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    const raw = await RawKafka.connect(broker.handle.kafkaBootstrap);
    const latest = async (isolationLevel: number): Promise<bigint> => {
      const r = await raw.request(2, 5, { replicaId: -1, isolationLevel, topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: -1n }] }] });
      return r.topics[0].partitions[0].offset;
    };

    const slow = await transactional(kafka, transactionalId, 1_000);
    const t = await slow.transaction();
    await t.send({ topic, messages: [{ value: 'slow-1' }, { value: 'slow-2' }] });
    assert.equal(await latest(1), 0n, 'read_committed: nothing is stable yet');
    assert.equal(await latest(0), 2n);

    const describe = async () => (await raw.request(65, 0, { transactionalIds: [transactionalId] })).transactionStates[0];
    await waitFor('the coordinator to abort the transaction', async () => (await describe()).transactionState === 'CompleteAbort');
    assert.equal(await latest(1), 3n, 'past the abort marker');
    assert.ok((await failsWith(t.commit())).length > 0);
    await slow.disconnect().catch(() => {});
    raw.close();

    await endEveryPartition(kafka, topic, 1);
    assert.deepEqual(await readAll(kafka, topic, 1, false), []);
    await admin.disconnect();
  });
});
