// librdkafka (Debian's 2.0, through kcat): produce and consume without a group, replay by offset.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { kafkaClient, kcat, skipKafkaUnderReference, topicName } from '../../helpers/kafka.js';

describe('kcat (librdkafka)', { skip: skipKafkaUnderReference }, () => {
  let broker: TestBroker;
  let bootstrap: string;
  before(async () => {
    broker = await startTestBroker();
    bootstrap = broker.handle.kafkaBootstrap;
  });
  after(async () => {
    await broker?.close();
  });

  test('produces keyed messages with acks=all and consumes them from the beginning', async () => {
    const topic = topicName('kcat');
    const lines = Array.from({ length: 200 }, (_, i) => `key${i}:value-${i}`).join('\n') + '\n';
    const p = await kcat(['-b', bootstrap, '-t', topic, '-P', '-K:', '-p', '0', '-X', 'acks=all', '-X', 'enable.idempotence=true'], lines);
    assert.equal(p.code, 0, p.stderr);
    const c = await kcat(['-b', bootstrap, '-t', topic, '-C', '-p', '0', '-o', 'beginning', '-e', '-f', '%o %k %s\\n']);
    assert.equal(c.code, 0, c.stderr);
    const got = c.stdout.trim().split('\n');
    assert.equal(got.length, 200);
    assert.equal(got[0], '0 key0 value-0');
    assert.equal(got[199], '199 key199 value-199');
    // Replay from an offset.
    const from = await kcat(['-b', bootstrap, '-t', topic, '-C', '-p', '0', '-o', '150', '-e', '-f', '%o %s\\n']);
    assert.equal(from.stdout.trim().split('\n')[0], '150 value-150');
    assert.equal(from.stdout.trim().split('\n').length, 50);
  });

  test('reads what kafkajs produced, compressed with gzip, and kafkajs-produced headers', async () => {
    const topic = topicName('gzip');
    const kafka = kafkaClient(bootstrap);
    const producer = kafka.producer();
    await producer.connect();
    try {
      const { CompressionTypes } = await import('kafkajs');
      await producer.send({
        topic,
        compression: CompressionTypes.GZIP,
        messages: Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: `gz-${i}`, headers: { h: `x${i}` } })),
      });
    } finally {
      await producer.disconnect();
    }
    const c = await kcat(['-b', bootstrap, '-t', topic, '-C', '-p', '0', '-o', 'beginning', '-e', '-f', '%o %k %s %h\\n']);
    assert.equal(c.code, 0, c.stderr);
    const got = c.stdout.trim().split('\n');
    assert.equal(got.length, 50);
    assert.equal(got[7], '7 k7 gz-7 h=x7');
  });

  test('metadata lists the broker and the topic', async () => {
    const topic = topicName('meta');
    await kcat(['-b', bootstrap, '-t', topic, '-P'], 'hello\n');
    const m = await kcat(['-b', bootstrap, '-L', '-t', topic]);
    assert.equal(m.code, 0, m.stderr);
    assert.match(m.stdout, /1 brokers:/);
    assert.match(m.stdout, new RegExp(`topic "${topic}" with 1 partitions`));
  });
});
