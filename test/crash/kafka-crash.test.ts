// kill -9 the broker at random moments while several kafkajs producers (one idempotent) write
// with acks=all, restart it on the same data dir, and check the Kafka guarantees: every
// acknowledged record is present at the offset it was acknowledged with, offsets have no gaps
// or duplicates, topic configs and partition counts survive, an idempotent producer's retried
// batch after a restart is recognised as a duplicate, and a torn tail (the active segment cut
// mid-batch while stopped) recovers to the last whole batch.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, truncateSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Producer, RecordMetadata } from 'kafkajs';
import { ErrorCode, decodeRecords, splitBatches } from '../../src/protocol/kafka/index.js';
import { makeDataDir, spawnBroker, type SpawnedBroker } from '../helpers/broker.js';
import { kafkaClient, skipKafkaUnderReference } from '../helpers/kafka.js';
import { testBatch, values } from '../helpers/kafka-batch.js';
import { RawKafka } from '../helpers/raw-kafka.js';
import { seededRandom as rng } from '../../src/util/random.js';

const ROUNDS = 5;
const TOPIC = 'kcrash';
const PARTITIONS = 3;
const GROWN = 'kcrash-grown';

/** partition -> offset -> value, for every record a producer got an acknowledgement for. */
type Acked = Map<number, Map<number, string>>;

async function produceUntilKilled(bootstrap: string, name: string, idempotent: boolean, acked: Acked, next: () => number): Promise<void> {
  let producer: Producer | undefined;
  try {
    producer = kafkaClient(bootstrap, { retry: { retries: 0 } }).producer(idempotent ? { idempotent: true, maxInFlightRequests: 1 } : { allowAutoTopicCreation: false });
    await producer.connect();
    for (let i = 0; ; i++) {
      const partition = Math.floor(next() * PARTITIONS);
      const n = 1 + Math.floor(next() * 20);
      const vals = Array.from({ length: n }, (_, k) => `${name}-${i}-${k}`);
      const sent: RecordMetadata[] = await producer.send({ topic: TOPIC, acks: -1, messages: vals.map((value) => ({ value, partition })) });
      const r = sent[0];
      assert.equal(r.errorCode, 0);
      const base = Number(r.baseOffset);
      const m = acked.get(partition) ?? new Map<number, string>();
      acked.set(partition, m);
      vals.forEach((v, k) => m.set(base + k, v));
    }
  } catch {
    // the broker was killed under us: expected
  } finally {
    await producer?.disconnect().catch(() => {});
  }
}

/** Every record of a partition from offset 0, checking offsets run without gaps or repeats. */
async function readPartition(raw: RawKafka, topic: string, partition: number): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  let expected = 0;
  for (;;) {
    const res = await raw.call(1, 11, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 8 << 20,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{ topic, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: BigInt(expected), logStartOffset: -1n, partitionMaxBytes: 8 << 20 }] }],
      forgottenTopicsData: [],
      rackId: '',
    });
    const p = res.responses[0].partitions[0];
    assert.equal(p.errorCode, ErrorCode.NONE);
    const hw = Number(p.highWatermark);
    if (expected >= hw) return out;
    const { batches } = splitBatches(p.records ?? Buffer.alloc(0), true);
    assert.ok(batches.length > 0, `no batch at offset ${expected} below the high watermark ${hw}`);
    for (const b of batches) {
      for (const r of decodeRecords(b)) {
        assert.equal(Number(r.offset), expected, `partition ${partition}: offsets run on without gaps or repeats`);
        out.set(expected++, r.value?.toString() ?? '');
      }
    }
  }
}

function streamDir(dataDir: string, topic: string, partition: number): string {
  const meta = JSON.parse(readFileSync(join(dataDir, 'meta.json'), 'utf8')) as { vhosts: Record<string, { streams?: { name: string; id: number }[] }> };
  const s = meta.vhosts['/'].streams?.find((x) => x.name === topic);
  assert.ok(s, `stream ${topic} in meta.json`);
  return join(dataDir, 'streams', String(s.id), String(partition));
}

test('kafka: kill -9 during acks=all produce loses no acknowledged record and leaves no offset gap', { timeout: 300_000, skip: skipKafkaUnderReference }, async () => {
  const seed = Number(process.env.KAFKA_CRASH_SEED ?? Date.now() % 1_000_000);
  const next = rng(seed);
  const dataDir = await makeDataDir();
  const acked: Acked = new Map();
  let broker: SpawnedBroker | undefined;
  try {
    broker = await spawnBroker(dataDir);
    const admin = kafkaClient(broker.kafkaBootstrap).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS, configEntries: [{ name: 'retention.ms', value: '86400000' }, { name: 'max.message.bytes', value: '500000' }] }] });
    await admin.createTopics({ topics: [{ topic: GROWN, numPartitions: 1 }] });
    await admin.createPartitions({ topicPartitions: [{ topic: GROWN, count: 4 }] });
    await admin.disconnect();
    for (let round = 0; round < ROUNDS; round++) {
      const producers = [0, 1, 2, 3].map((i) => produceUntilKilled(broker!.kafkaBootstrap, `r${round}p${i}`, i === 3, acked, next));
      await new Promise((r) => setTimeout(r, 200 + next() * 800));
      await broker.kill('SIGKILL');
      await Promise.all(producers);
      broker = await spawnBroker(dataDir);
      const raw = await RawKafka.open(broker.kafkaPort);
      for (let p = 0; p < PARTITIONS; p++) {
        const stored = await readPartition(raw, TOPIC, p);
        for (const [offset, value] of acked.get(p) ?? []) {
          assert.equal(stored.get(offset), value, `seed ${seed} round ${round}: acknowledged record at partition ${p} offset ${offset}`);
        }
      }
      raw.destroy();
    }
    const total = [...acked.values()].reduce((n, m) => n + m.size, 0);
    assert.ok(total > 0, 'some records were acknowledged');
    console.log(`kafka crash: seed ${seed}, ${ROUNDS} kills, ${total} acknowledged records all present`);
    // Topic configs and partition counts survive the kills.
    const admin2 = kafkaClient(broker.kafkaBootstrap).admin();
    await admin2.connect();
    try {
      const meta = await admin2.fetchTopicMetadata({ topics: [TOPIC, GROWN] });
      assert.deepEqual(meta.topics.map((t) => [t.name, t.partitions.length]).sort(), [[GROWN, 4], [TOPIC, PARTITIONS]].sort());
      const cfg = await admin2.describeConfigs({ resources: [{ type: 2, name: TOPIC, configNames: ['retention.ms', 'max.message.bytes'] }], includeSynonyms: false });
      const entries = Object.fromEntries(cfg.resources[0].configEntries.map((e) => [e.configName, e.configValue]));
      assert.deepEqual(entries, { 'retention.ms': '86400000', 'max.message.bytes': '500000' });
    } finally {
      await admin2.disconnect();
    }
  } finally {
    RawKafka.destroyAll();
    await broker?.kill('SIGKILL').catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('kafka: an idempotent producer\'s retried batch after kill -9 is a duplicate, not appended again', { timeout: 60_000, skip: skipKafkaUnderReference }, async () => {
  const dataDir = await makeDataDir();
  let broker: SpawnedBroker | undefined;
  try {
    broker = await spawnBroker(dataDir);
    let raw = await RawKafka.open(broker.kafkaPort);
    const init = await raw.call(22, 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
    assert.equal(init.errorCode, ErrorCode.NONE);
    const pid = Number(init.producerId);
    const topic = 'kidem';
    const created = await raw.call(19, 5, { topics: [{ name: topic, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
    assert.equal(created.topics[0].errorCode, ErrorCode.NONE);
    const produce = async (seq: number): Promise<{ errorCode: number; baseOffset: bigint }> => {
      const res = await raw.call(0, 9, {
        transactionalId: null,
        acks: -1,
        timeoutMs: 5000,
        topicData: [{ name: topic, partitionData: [{ index: 0, records: testBatch(values(3, seq), { producerId: pid, producerEpoch: init.producerEpoch, baseSequence: seq }) }] }],
      });
      return res.responses[0].partitionResponses[0];
    };
    for (let seq = 0; seq < 30; seq += 3) assert.equal((await produce(seq)).errorCode, ErrorCode.NONE);
    // The last batch's acknowledgement "was lost": the broker dies, the producer retries it.
    await broker.kill('SIGKILL');
    broker = await spawnBroker(dataDir);
    raw = await RawKafka.open(broker.kafkaPort);
    const retry = await produce(27);
    assert.equal(retry.errorCode, ErrorCode.NONE);
    assert.equal(retry.baseOffset, 27n, 'the duplicate is answered with its original offset');
    const older = await produce(21);
    assert.equal(older.baseOffset, 21n, 'any of the last five batches is recognised');
    assert.equal((await produce(33)).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 'the sequence state survived too');
    const next = await produce(30);
    assert.equal(next.errorCode, ErrorCode.NONE);
    assert.equal(next.baseOffset, 30n, 'nothing was appended twice');
    // A new producer id after the restart is not one handed out before it.
    const init2 = await raw.call(22, 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
    assert.notEqual(Number(init2.producerId), pid);
  } finally {
    RawKafka.destroyAll();
    await broker?.kill('SIGKILL').catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('kafka: a torn tail (the active segment cut mid-batch while stopped) recovers to the last whole batch', { timeout: 60_000, skip: skipKafkaUnderReference }, async () => {
  const dataDir = await makeDataDir();
  let broker: SpawnedBroker | undefined;
  try {
    broker = await spawnBroker(dataDir);
    const producer = kafkaClient(broker.kafkaBootstrap).producer();
    await producer.connect();
    const topic = 'ktorn';
    for (let i = 0; i < 10; i++) {
      const [r] = await producer.send({ topic, acks: -1, messages: [{ value: `a${i}` }, { value: `b${i}` }] });
      assert.equal(r.baseOffset, String(i * 2));
    }
    await producer.disconnect();
    await broker.kill('SIGKILL');
    const dir = streamDir(dataDir, topic, 0);
    const segments = readdirSync(dir).filter((f) => /^\d{20}\.log$/.test(f)).sort();
    const active = join(dir, segments[segments.length - 1]);
    truncateSync(active, statSync(active).size - 7);
    broker = await spawnBroker(dataDir);
    const raw = await RawKafka.open(broker.kafkaPort);
    const stored = await readPartition(raw, topic, 0);
    assert.equal(stored.size, 18, 'the cut batch is gone, the nine before it are whole');
    assert.equal(stored.get(17), 'b8');
    const [r] = await (async () => {
      const p = kafkaClient(broker!.kafkaBootstrap).producer();
      await p.connect();
      try {
        return await p.send({ topic, acks: -1, messages: [{ value: 'after' }] });
      } finally {
        await p.disconnect();
      }
    })();
    assert.equal(r.baseOffset, '18', 'appends continue at the recovered end');
  } finally {
    RawKafka.destroyAll();
    await broker?.kill('SIGKILL').catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
  }
});
