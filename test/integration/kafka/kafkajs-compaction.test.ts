// Compacted topics through kafkajs: a consumer reading from offset 0 sees the latest record of
// each key at the offset it was written at, tombstones stay at least delete.retention.ms and then
// go, the view survives restarts, and compaction can be switched on later. Records without a key
// and DeleteRecords are refused as Kafka refuses them. The cleaner runs every 50 ms here.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Admin, EachMessagePayload } from 'kafkajs';
import { withTimeout } from '../../helpers/async.js';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { kafkaClient, rejectsWithKafkaError, skipKafkaUnderReference, topicName } from '../../helpers/kafka.js';

interface Seen {
  readonly offset: number;
  readonly key: string | null;
  readonly value: string | null;
}

const DELETE_RETENTION_MS = 4000;

describe('kafkajs: compacted topics', { skip: skipKafkaUnderReference }, () => {
  let broker: TestBroker;
  let admin: Admin;
  before(async () => {
    broker = await startTestBroker({ kafkaGroupInitialRebalanceDelayMs: 0, streamCleanerIntervalMs: 50 });
    admin = client().admin();
    await admin.connect();
  });
  after(async () => {
    await admin?.disconnect();
    await broker?.close();
  });

  const client = () => kafkaClient(broker.handle.kafkaBootstrap);

  const compactedConfigs = [
    { name: 'cleanup.policy', value: 'compact' },
    { name: 'segment.bytes', value: '4096' },
    { name: 'min.cleanable.dirty.ratio', value: '0.01' },
    { name: 'delete.retention.ms', value: String(DELETE_RETENTION_MS) },
  ];

  /** Sends records in batches (acks=all); returns what was written at each offset. */
  async function produce(topic: string, records: { key: string; value: string | null }[]): Promise<Map<number, Seen>> {
    const producer = client().producer();
    await producer.connect();
    const written = new Map<number, Seen>();
    try {
      for (let i = 0; i < records.length; i += 25) {
        const batch = records.slice(i, i + 25);
        const [meta] = await producer.send({ topic, acks: -1, messages: batch });
        const base = Number(meta.baseOffset);
        batch.forEach((r, k) => written.set(base + k, { offset: base + k, key: r.key, value: r.value }));
      }
    } finally {
      await producer.disconnect();
    }
    return written;
  }

  /** Everything a new consumer reads from the beginning up to the current end of the topic. */
  async function readAll(topic: string): Promise<Seen[]> {
    const high = Number((await admin.fetchTopicOffsets(topic))[0].high);
    const seen: Seen[] = [];
    const consumer = client().consumer({ groupId: topicName('reader'), sessionTimeout: 10_000, heartbeatInterval: 500 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      let finish = (): void => {};
      const finished = new Promise<void>((resolve) => {
        finish = resolve;
      });
      await consumer.run({
        eachMessage: async ({ message }: EachMessagePayload) => {
          seen.push({ offset: Number(message.offset), key: message.key?.toString() ?? null, value: message.value?.toString() ?? null });
          if (Number(message.offset) >= high - 1) finish();
        },
      });
      await withTimeout(finished, 20_000, `reading ${topic} up to offset ${high}`);
    } finally {
      await consumer.disconnect();
    }
    return seen.filter((s) => s.offset < high);
  }

  /** Each key's latest record, in offset order (optionally without tombstones). */
  function latestView(written: Map<number, Seen>, withTombstones: boolean): Seen[] {
    const latest = new Map<string | null, Seen>();
    for (const s of [...written.values()].sort((a, b) => a.offset - b.offset)) latest.set(s.key, s);
    return [...latest.values()].filter((s) => withTombstones || s.value !== null).sort((a, b) => a.offset - b.offset);
  }

  /** Checks what a consumer saw against what was written: same records at the same offsets, in order. */
  function checkOffsets(seen: readonly Seen[], written: Map<number, Seen>): void {
    for (let i = 0; i < seen.length; i++) {
      assert.deepEqual(seen[i], written.get(seen[i].offset), `offset ${seen[i].offset}`);
      if (i > 0) assert.ok(seen[i].offset > seen[i - 1].offset);
    }
  }

  async function readUntil(topic: string, what: string, done: (seen: Seen[]) => boolean, written: Map<number, Seen>): Promise<Seen[]> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const seen = await readAll(topic);
      checkOffsets(seen, written);
      if (done(seen)) return seen;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; saw ${seen.length} records`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  test('a consumer from offset 0 sees the latest value of each key at its offset; tombstones go after delete.retention.ms; restarts keep it', async () => {
    const topic = topicName('compact');
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, configEntries: compactedConfigs }] });
    const values = Array.from({ length: 1000 }, (_, i) => ({ key: `k${i % 50}`, value: `v${i}-${'x'.repeat(20)}` }));
    const written = await produce(topic, values);
    for (const [o, s] of await produce(topic, Array.from({ length: 10 }, (_, k) => ({ key: `k${k}`, value: null })))) written.set(o, s);
    const tombstonesAt = Date.now();
    // Records with keys of their own after them, so everything above sits in sealed segments.
    for (const [o, s] of await produce(topic, Array.from({ length: 150 }, (_, i) => ({ key: `filler${i}`, value: 'f'.repeat(100) })))) written.set(o, s);

    const compacted = latestView(written, true);
    const seen = await readUntil(topic, 'the compacted view', (s) => s.filter((x) => x.value !== null).length === latestView(written, false).length, written);
    // Tombstones never go before delete.retention.ms has passed since they were written.
    if (Date.now() < tombstonesAt + DELETE_RETENTION_MS) assert.deepEqual(seen, compacted);
    else assert.deepEqual(seen.filter((s) => s.value !== null), latestView(written, false));

    const cleaned = await readUntil(topic, 'the tombstones to go', (s) => !s.some((x) => x.value === null), written);
    assert.deepEqual(cleaned, latestView(written, false));

    await broker.restart();
    await admin.disconnect();
    admin = client().admin();
    await admin.connect();
    assert.deepEqual(await readAll(topic), latestView(written, false));
    // More writes after the restart: compaction goes on where it stopped.
    for (const [o, s] of await produce(topic, Array.from({ length: 300 }, (_, i) => ({ key: `k${i % 50}`, value: `late${i}` })))) written.set(o, s);
    for (const [o, s] of await produce(topic, Array.from({ length: 150 }, (_, i) => ({ key: `filler2-${i}`, value: 'g'.repeat(100) })))) written.set(o, s);
    const again = await readUntil(topic, 'the second compaction', (s) => s.length === latestView(written, false).length, written);
    assert.deepEqual(again, latestView(written, false));
    const offsets = await admin.fetchTopicOffsets(topic);
    assert.equal(Number(offsets[0].low), 0);
    assert.equal(Number(offsets[0].high), Math.max(...written.keys()) + 1);
  });

  test('compaction switched on later with IncrementalAlterConfigs; configs are validated', async () => {
    const topic = topicName('later');
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'segment.bytes', value: '4096' }] }] });
    const written = await produce(topic, Array.from({ length: 600 }, (_, i) => ({ key: `k${i % 20}`, value: `v${i}` })));
    for (const [o, s] of await produce(topic, Array.from({ length: 150 }, (_, i) => ({ key: `filler${i}`, value: 'f'.repeat(100) })))) written.set(o, s);
    assert.equal((await readAll(topic)).length, 750);
    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: 2, name: topic, configEntries: [{ name: 'cleanup.policy', value: 'compact' }, { name: 'min.cleanable.dirty.ratio', value: '0.01' }, { name: 'segment.bytes', value: '4096' }] }],
    });
    const seen = await readUntil(topic, 'the compacted view', (s) => s.length === latestView(written, false).length, written);
    assert.deepEqual(seen, latestView(written, false));
    const described = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: topic, configNames: ['cleanup.policy', 'min.cleanable.dirty.ratio'] }] });
    const entries = Object.fromEntries(described.resources[0].configEntries.map((e) => [e.configName, e.configValue]));
    assert.deepEqual(entries, { 'cleanup.policy': 'compact', 'min.cleanable.dirty.ratio': '0.01' });
    await rejectsWithKafkaError(
      admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: topic, configEntries: [{ name: 'min.cleanable.dirty.ratio', value: '1.5' }] }] }),
      'INVALID_CONFIG',
    );
    await rejectsWithKafkaError(
      admin.createTopics({
        topics: [{ topic: topicName('lags'), configEntries: [{ name: 'min.compaction.lag.ms', value: '5000' }, { name: 'max.compaction.lag.ms', value: '1000' }] }],
      }),
      'INVALID_CONFIG',
    );
  });

  test('a record without a key is refused (INVALID_RECORD), and DeleteRecords too (POLICY_VIOLATION)', async () => {
    const topic = topicName('nokey');
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, configEntries: compactedConfigs }] });
    const producer = client().producer({ retry: { retries: 0 } });
    await producer.connect();
    try {
      await rejectsWithKafkaError(producer.send({ topic, acks: -1, messages: [{ value: 'no key' }] }), 'INVALID_RECORD');
      await producer.send({ topic, acks: -1, messages: [{ key: 'a', value: 'keyed' }] });
    } finally {
      await producer.disconnect();
    }
    await admin.fetchTopicMetadata({ topics: [topic] }); // kafkajs needs the partition's leader first
    const refused = await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '1' }] }).then(
      () => undefined,
      // kafkajs wraps the per-partition errors once more when it gives up.
      (err: { cause?: { partitions?: { error?: { type?: string } }[] } }) => err.cause?.partitions?.[0]?.error?.type,
    );
    assert.equal(refused, 'POLICY_VIOLATION');
    assert.deepEqual(await readAll(topic), [{ offset: 0, key: 'a', value: 'keyed' }]);
  });
});
