import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { kafkaClient, rejectsWithKafkaError, skipKafkaUnderReference, topicName } from '../../helpers/kafka.js';

describe('kafkajs: admin and produce', { skip: skipKafkaUnderReference }, () => {
  let broker: TestBroker;
  let bootstrap: string;
  before(async () => {
    broker = await startTestBroker();
    bootstrap = broker.handle.kafkaBootstrap;
  });
  after(async () => {
    await broker?.close();
  });

  test('creates, lists, describes and deletes topics', async () => {
    const admin = kafkaClient(bootstrap).admin();
    await admin.connect();
    try {
      const name = topicName('admin');
      assert.equal(await admin.createTopics({ topics: [{ topic: name, numPartitions: 3, configEntries: [{ name: 'retention.ms', value: '3600000' }] }] }), true);
      // Creating it again is not an error for kafkajs (TOPIC_ALREADY_EXISTS makes it return false).
      assert.equal(await admin.createTopics({ topics: [{ topic: name }] }), false);
      assert.ok((await admin.listTopics()).includes(name));
      const meta = await admin.fetchTopicMetadata({ topics: [name] });
      assert.equal(meta.topics[0].partitions.length, 3);
      const cfg = await admin.describeConfigs({ resources: [{ type: 2, name, configNames: ['retention.ms', 'cleanup.policy'] }], includeSynonyms: false });
      const entries = Object.fromEntries(cfg.resources[0].configEntries.map((e) => [e.configName, e]));
      assert.equal(entries['retention.ms'].configValue, '3600000');
      assert.equal(entries['retention.ms'].isDefault, false);
      assert.equal(entries['cleanup.policy'].configValue, 'delete');
      assert.equal(entries['cleanup.policy'].isDefault, true);
      await admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name, configEntries: [{ name: 'retention.ms', value: '7200000' }] }] });
      const cfg2 = await admin.describeConfigs({ resources: [{ type: 2, name, configNames: ['retention.ms'] }], includeSynonyms: false });
      assert.equal(cfg2.resources[0].configEntries[0].configValue, '7200000');
      await admin.createPartitions({ topicPartitions: [{ topic: name, count: 5 }] });
      assert.equal((await admin.fetchTopicMetadata({ topics: [name] })).topics[0].partitions.length, 5);
      await rejectsWithKafkaError(admin.createPartitions({ topicPartitions: [{ topic: name, count: 2 }] }), 'INVALID_PARTITIONS');
      await admin.deleteTopics({ topics: [name] });
      assert.ok(!(await admin.listTopics()).includes(name));
    } finally {
      await admin.disconnect();
    }
  });

  test('refuses bad topic names, bad configs and impossible replication', async () => {
    const admin = kafkaClient(bootstrap).admin();
    await admin.connect();
    try {
      await rejectsWithKafkaError(admin.createTopics({ topics: [{ topic: 'bad name!' }] }), 'INVALID_TOPIC_EXCEPTION');
      await rejectsWithKafkaError(admin.createTopics({ topics: [{ topic: 'x'.repeat(250) }] }), 'INVALID_TOPIC_EXCEPTION');
      await rejectsWithKafkaError(
        admin.createTopics({ topics: [{ topic: topicName(), configEntries: [{ name: 'no.such.config', value: '1' }] }] }),
        'INVALID_CONFIG',
      );
      await rejectsWithKafkaError(
        admin.createTopics({ topics: [{ topic: topicName(), configEntries: [{ name: 'retention.ms', value: 'soon' }] }] }),
        'INVALID_CONFIG',
      );
      await rejectsWithKafkaError(admin.createTopics({ topics: [{ topic: topicName(), replicationFactor: 3 }] }), 'INVALID_REPLICATION_FACTOR');
      const dotted = topicName('a.b');
      await admin.createTopics({ topics: [{ topic: dotted }] });
      await rejectsWithKafkaError(admin.createTopics({ topics: [{ topic: dotted.replace('.', '_') }] }), 'INVALID_TOPIC_EXCEPTION');
    } finally {
      await admin.disconnect();
    }
  });

  test('produces with acks=all and reads offsets back: earliest, latest, by timestamp', async () => {
    const kafka = kafkaClient(bootstrap);
    const admin = kafka.admin();
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await admin.connect();
    await producer.connect();
    try {
      const name = topicName('produce');
      await admin.createTopics({ topics: [{ topic: name, numPartitions: 2 }] });
      const t0 = Date.now() - 10_000;
      const first = await producer.send({
        topic: name,
        acks: -1,
        messages: Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `v${i}`, partition: 0, timestamp: String(t0 + i * 1000) })),
      });
      assert.equal(first[0].errorCode, 0);
      assert.equal(first[0].baseOffset, '0');
      const second = await producer.send({ topic: name, acks: -1, messages: [{ value: 'x', partition: 0 }, { value: 'y', partition: 1 }] });
      const byPartition = Object.fromEntries(second.map((r) => [r.partition, r.baseOffset]));
      assert.deepEqual(byPartition, { 0: '10', 1: '0' });
      const offsets = await admin.fetchTopicOffsets(name);
      const p0 = offsets.find((o) => o.partition === 0);
      assert.deepEqual([p0?.low, p0?.high], ['0', '11']);
      const byTime = await admin.fetchTopicOffsetsByTimestamp(name, t0 + 4500);
      assert.equal(byTime.find((o) => o.partition === 0)?.offset, '5'); // record precision: the first record at or after t0 + 4500
      await admin.deleteTopicRecords({ topic: name, partitions: [{ partition: 0, offset: '5' }] });
      const after = await admin.fetchTopicOffsets(name);
      assert.equal(after.find((o) => o.partition === 0)?.low, '5');
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  });

  test('an idempotent producer gets a producer id and its batches are accepted in sequence', async () => {
    const kafka = kafkaClient(bootstrap);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      const name = topicName('idem');
      for (let i = 0; i < 5; i++) {
        const r = await producer.send({ topic: name, acks: -1, messages: [{ value: `m${i}` }, { value: `n${i}` }] });
        assert.equal(r[0].errorCode, 0);
        assert.equal(r[0].baseOffset, String(i * 2));
      }
    } finally {
      await producer.disconnect();
    }
  });

  test('produce to a missing topic with auto-creation off is UNKNOWN_TOPIC_OR_PARTITION', async () => {
    const off = await startTestBroker({ kafkaAutoCreateTopics: false });
    const producer = kafkaClient(off.handle.kafkaBootstrap, { retry: { retries: 0 } }).producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      await rejectsWithKafkaError(producer.send({ topic: topicName('missing'), messages: [{ value: 'x' }] }), 'UNKNOWN_TOPIC_OR_PARTITION');
    } finally {
      await producer.disconnect();
      await off.close();
    }
  });
});
