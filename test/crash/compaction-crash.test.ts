// kill -9 the broker while it compacts a topic: each round writes more records (kafkajs, acks=all),
// waits for the cleaner to start writing a cleaned segment (a `.cleaned` file, or a `.swap` file:
// the moment it commits) and kills the process then, or a little later. After each restart a
// consumer reading from offset 0 must find every record at the offset it was acknowledged with
// (nothing moved, nothing invented), the latest record of every key still there, and the log end
// where it was: the old segments or the cleaned ones, never a mix and never a loss
// (docs/storage-format.md, "Replacing segments"). At the end the view is exactly the compacted one.

import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import type { EachMessagePayload } from 'kafkajs';
import { withTimeout } from '../helpers/async.js';
import { makeDataDir, skipUnderReference, spawnBroker, type SpawnedBroker } from '../helpers/broker.js';
import { kafkaClient } from '../helpers/kafka.js';

const TOPIC = 'compaction-crash';
const ROUNDS = 5;
const RECORDS_PER_ROUND = 6000;
const KEYS = 300;
const VALUE = 'v'.repeat(200);

interface Seen {
  readonly offset: number;
  readonly key: string;
  readonly value: string;
}

const spawn = (dir: string): Promise<SpawnedBroker> => spawnBroker(dir, ['--stream-cleaner-interval', '20', '--kafka-auto-create-topics', 'false']);

async function produce(bootstrap: string, written: Map<number, Seen>, round: number, n: number, keyOf: (i: number) => string): Promise<void> {
  const producer = kafkaClient(bootstrap).producer();
  await producer.connect();
  try {
    for (let i = 0; i < n; i += 100) {
      const messages = Array.from({ length: Math.min(100, n - i) }, (_, k) => ({ key: keyOf(i + k), value: `${round}:${i + k}:${VALUE}` }));
      const [meta] = await producer.send({ topic: TOPIC, acks: -1, messages });
      messages.forEach((m, k) => written.set(Number(meta.baseOffset) + k, { offset: Number(meta.baseOffset) + k, key: m.key, value: m.value }));
    }
  } finally {
    await producer.disconnect();
  }
}

async function readAll(bootstrap: string, round: number): Promise<{ seen: Seen[]; high: number }> {
  const client = kafkaClient(bootstrap);
  const admin = client.admin();
  await admin.connect();
  const high = Number((await admin.fetchTopicOffsets(TOPIC))[0].high);
  await admin.disconnect();
  const seen: Seen[] = [];
  const consumer = client.consumer({ groupId: `crash-reader-${round}`, sessionTimeout: 10_000, heartbeatInterval: 500 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    let finish = (): void => {};
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    await consumer.run({
      eachMessage: async ({ message }: EachMessagePayload) => {
        seen.push({ offset: Number(message.offset), key: String(message.key), value: String(message.value) });
        if (Number(message.offset) >= high - 1) finish();
      },
    });
    await withTimeout(finished, 60_000, `reading round ${round} up to offset ${high}`);
  } finally {
    await consumer.disconnect();
  }
  return { seen: seen.filter((s) => s.offset < high), high };
}

function latestByKey(written: Map<number, Seen>): Map<string, number> {
  const latest = new Map<string, number>();
  for (const [o, s] of written) if ((latest.get(s.key) ?? -1) < o) latest.set(s.key, o);
  return latest;
}

function check(seen: readonly Seen[], high: number, written: Map<number, Seen>, round: number): void {
  assert.equal(high, Math.max(...written.keys()) + 1, `round ${round}: the log end moved`);
  for (let i = 0; i < seen.length; i++) {
    assert.deepEqual(seen[i], written.get(seen[i].offset), `round ${round}: offset ${seen[i].offset}`);
    if (i > 0) assert.ok(seen[i].offset > seen[i - 1].offset, `round ${round}: offsets out of order at ${seen[i].offset}`);
  }
  const present = new Set(seen.map((s) => s.offset));
  for (const [key, o] of latestByKey(written)) assert.ok(present.has(o), `round ${round}: the latest record of ${key} (offset ${o}) is lost`);
}

/** Resolves once a file of the cleaner's (`.cleaned` or `.swap`) shows up in the partition's directory. */
async function cleanerWorking(dataDir: string, suffix: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const streams = path.join(dataDir, 'streams');
    for (const id of await fs.readdir(streams).catch(() => [] as string[])) {
      const names = await fs.readdir(path.join(streams, id, '0')).catch(() => [] as string[]);
      if (names.some((n) => n.endsWith(suffix))) return true;
    }
    await new Promise((r) => setImmediate(r));
  }
  return false;
}

test('kill -9 during compaction leaves the old or the cleaned segments, never a mix or a loss', { skip: skipUnderReference, timeout: 600_000 }, async () => {
  const dataDir = await makeDataDir();
  let broker = await spawn(dataDir);
  try {
    const admin = kafkaClient(broker.kafkaBootstrap).admin();
    await admin.connect();
    await admin.createTopics({
      topics: [{
        topic: TOPIC,
        numPartitions: 1,
        configEntries: [
          { name: 'cleanup.policy', value: 'compact' },
          { name: 'segment.bytes', value: String(64 * 1024) },
          { name: 'min.cleanable.dirty.ratio', value: '0.01' },
        ],
      }],
    });
    await admin.disconnect();
    const written = new Map<number, Seen>();
    let killedWhileCleaning = 0;
    for (let round = 0; round < ROUNDS; round++) {
      await produce(broker.kafkaBootstrap, written, round, RECORDS_PER_ROUND, (i) => `k${(i * 7 + round) % KEYS}`);
      // Odd rounds wait for the commit (the swap file); even ones kill while a cleaned segment is written.
      const suffix = round % 2 === 1 ? '.swap' : '.cleaned';
      if (await cleanerWorking(dataDir, suffix, 15_000)) killedWhileCleaning++;
      if (round === 4) await new Promise((r) => setTimeout(r, 30)); // a little later, part way through a pass
      await broker.kill('SIGKILL');
      broker = await spawn(dataDir);
      const { seen, high } = await readAll(broker.kafkaBootstrap, round);
      check(seen, high, written, round);
    }
    assert.ok(killedWhileCleaning >= 2, `only ${killedWhileCleaning} kills hit a pass in progress`);
    // Let the cleaner finish: records with keys of their own seal everything before them.
    await produce(broker.kafkaBootstrap, written, ROUNDS, 600, (i) => `filler${i}`);
    const latest = latestByKey(written);
    const expected = [...latest.values()].sort((a, b) => a - b).map((o) => written.get(o));
    const deadline = Date.now() + 60_000;
    for (let attempt = 0; ; attempt++) {
      const { seen, high } = await readAll(broker.kafkaBootstrap, 100 + attempt);
      check(seen, high, written, 100 + attempt);
      if (seen.length === expected.length) {
        assert.deepEqual(seen, expected);
        break;
      }
      assert.ok(Date.now() < deadline, `compaction did not finish: ${seen.length} records, ${expected.length} expected`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await broker.kill('SIGKILL').catch(() => {});
    await fs.rm(dataDir, { recursive: true, force: true });
  }
});
