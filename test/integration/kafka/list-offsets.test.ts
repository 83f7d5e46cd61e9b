// ListOffsets by timestamp is record-precise, as Kafka's: the first record whose timestamp is at
// or after the target, even in the middle of a batch and inside a compressed one; MAX_TIMESTAMP
// (-3) is the first record carrying the newest timestamp, wherever it sits in its batch.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CompressionTypes } from 'kafkajs';
import { ErrorCode } from '../../../src/protocol/kafka/index.js';
import { kafkaClient, skipKafkaUnderReference, topicName } from '../../helpers/kafka.js';
import { RawKafka, startKafkaServer, type KafkaServer } from '../../helpers/raw-kafka.js';

const MAX_TIMESTAMP = -3n;

describe('kafka: ListOffsets by timestamp', { skip: skipKafkaUnderReference }, () => {
  let server: KafkaServer;
  before(async () => {
    server = await startKafkaServer();
  });
  after(async () => {
    RawKafka.destroyAll();
    await server?.close();
  });

  test('kafkajs fetchTopicOffsetsByTimestamp finds the record inside a batch, compressed or not', async () => {
    const kafka = kafkaClient(server.bootstrap);
    const admin = kafka.admin();
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await admin.connect();
    await producer.connect();
    try {
      const topic = topicName('by-ts');
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
      const t0 = Date.now() - 60_000;
      // One send is one batch: offsets 0-3 at t0, t0+10, t0+20, t0+30.
      await producer.send({ topic, acks: -1, messages: [0, 10, 20, 30].map((d) => ({ value: `plain-${d}`, timestamp: String(t0 + d) })) });
      // A gzip batch: offsets 4-7 at t0+100 .. t0+130.
      await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages: [100, 110, 120, 130].map((d) => ({ value: `gzip-${d}`, timestamp: String(t0 + d) })) });
      const at = async (ts: number): Promise<string> => (await admin.fetchTopicOffsetsByTimestamp(topic, ts))[0].offset;
      assert.equal(await at(t0), '0');
      assert.equal(await at(t0 + 15), '2', 'the third record of the first batch, not the batch start');
      assert.equal(await at(t0 + 30), '3');
      assert.equal(await at(t0 + 31), '4');
      assert.equal(await at(t0 + 111), '6', 'inside the compressed batch');
      assert.equal(await at(t0 + 130), '7');
      // Past every record: the log end, as kafkajs reports a -1 answer.
      assert.equal(await at(t0 + 131), '8');
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  });

  test('MAX_TIMESTAMP is the offset of the record with the newest timestamp, not its batch\'s start', async () => {
    const kafka = kafkaClient(server.bootstrap);
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    const topic = topicName('max-ts');
    try {
      const t0 = Date.now() - 60_000;
      await producer.send({ topic, acks: -1, messages: [5, 50, 10].map((d) => ({ value: `v${d}`, timestamp: String(t0 + d) })) });
      await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages: [1, 2, 40, 3].map((d) => ({ value: `g${d}`, timestamp: String(t0 + d) })) });
      const raw = await RawKafka.open(server.port);
      const res = await raw.call(2, 8, {
        replicaId: -1,
        isolationLevel: 0,
        topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: MAX_TIMESTAMP, maxNumOffsets: 1 }] }],
      });
      const p = res.topics[0].partitions[0];
      assert.equal(p.errorCode, ErrorCode.NONE);
      assert.equal(p.offset, 1n);
      assert.equal(p.timestamp, BigInt(t0 + 50));
      // The same answer once the newest timestamp is inside a compressed batch.
      await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages: [60, 99, 70].map((d) => ({ value: `h${d}`, timestamp: String(t0 + d) })) });
      const res2 = await raw.call(2, 8, {
        replicaId: -1,
        isolationLevel: 0,
        topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: MAX_TIMESTAMP, maxNumOffsets: 1 }] }],
      });
      assert.equal(res2.topics[0].partitions[0].offset, 8n);
      assert.equal(res2.topics[0].partitions[0].timestamp, BigInt(t0 + 99));
    } finally {
      await producer.disconnect();
    }
  });
});
