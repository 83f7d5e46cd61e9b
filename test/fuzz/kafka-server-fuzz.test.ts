// Live mutation fuzzing of the Kafka listener (kafka-fuzz-core.ts): a short seeded run in every
// test run; `node dist/scripts/kafka-fuzz.js --count N` runs the long campaign.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { Producer } from 'kafkajs';
import { kafkaClient, skipKafkaUnderReference } from '../helpers/kafka.js';
import { RawKafka, startKafkaServer, type KafkaServer } from '../helpers/raw-kafka.js';
import { FUZZ_TOPIC, fuzzCase, newStats, runCase } from './kafka-fuzz-core.js';

const RUNS = Number(process.env.KAFKA_FUZZ_RUNS ?? 60);
const SEED = Number(process.env.KAFKA_FUZZ_SEED ?? 20261206);

describe('kafka server fuzz', { skip: skipKafkaUnderReference }, () => {
  let server: KafkaServer;
  let healthy: Producer;
  before(async () => {
    server = await startKafkaServer();
    await server.vhost.streams.create(FUZZ_TOPIC, { partitions: 2, kafkaName: true });
    await server.vhost.streams.create('healthy', { partitions: 1, kafkaName: true });
    healthy = kafkaClient(server.bootstrap).producer({ allowAutoTopicCreation: false });
    await healthy.connect();
  });
  after(async () => {
    RawKafka.destroyAll();
    await healthy?.disconnect();
    await server?.close();
  });

  it('generated and mutated requests never crash the broker or hurt a healthy client', { timeout: 300_000 }, async () => {
    const stats = newStats();
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(fuzzCase, async (c) => {
        await runCase(server.port, c, stats);
        const [r] = await healthy.send({ topic: 'healthy', acks: -1, messages: [{ value: `after case ${sent}` }] });
        assert.equal(r.errorCode, 0);
        assert.equal(Number(r.baseOffset), sent++);
      }),
      { numRuns: RUNS, seed: SEED },
    );
    assert.equal(stats.cases, RUNS);
    assert.ok(stats.responses > 0 && stats.closedByServer > 0, `answers ${stats.responses}, closes ${stats.closedByServer}`);
  });
});
