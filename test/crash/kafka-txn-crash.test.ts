// kill -9 of the broker while a transaction commits, then a restart: the transaction is committed
// in every partition or aborted in every partition, never in some. A kafkajs transactional
// producer writes one record to each of 8 partitions and asks to commit; the broker is killed a
// few milliseconds later (before the EndTxn arrives, while the decision is written, among the
// markers, after). After the restart a new producer with the same transactional id takes over
// (which aborts a transaction still open); librdkafka read_committed readers then see the
// round's 8 records or none, and DescribeTransactions says which.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import { makeDataDir, skipUnderReference, spawnBroker, type SpawnedBroker } from '../helpers/broker.js';
import { kafkaClient } from '../helpers/kafka.js';
import { RawKafka } from '../helpers/kafka-raw.js';
import { readTopic } from '../helpers/python-kafka.js';

const TOPIC = 'txn-crash';
const PARTITIONS = 8;
const TXID = 'txn-crash-producer';
/** Milliseconds between asking to commit and kill -9, one round each. */
const KILL_DELAYS_MS = [0, 1, 2, 3, 5, 8, 13, 400];

function transactional(bootstrap: string) {
  return kafkaClient(bootstrap, { retry: { retries: 2, initialRetryTime: 50, maxRetryTime: 200 } }).producer({
    transactionalId: TXID,
    idempotent: true,
    maxInFlightRequests: 1,
  });
}

async function describeState(bootstrap: string): Promise<string> {
  const raw = await RawKafka.connect(bootstrap);
  try {
    return (await raw.request(65, 0, { transactionalIds: [TXID] })).transactionStates[0].transactionState;
  } finally {
    raw.close();
  }
}

test('kill -9 during a commit: after the restart the transaction is in all partitions or in none', { skip: skipUnderReference, timeout: 180_000 }, async () => {
  const dataDir = await makeDataDir();
  let b: SpawnedBroker | undefined;
  try {
    b = await spawnBroker(dataDir);
    const admin = kafkaClient(b.kafkaBootstrap).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }] });
    await admin.disconnect();
    const outcomes: string[] = [];
    const expectCommitted: string[] = [];
    const written: string[] = [];
    for (const [round, delay] of KILL_DELAYS_MS.entries()) {
      const producer = transactional(b.kafkaBootstrap);
      await producer.connect();
      const t = await producer.transaction();
      const values = Array.from({ length: PARTITIONS }, (_, p) => `r${round}-p${p}`);
      await t.send({ topic: TOPIC, acks: -1, messages: values.map((value, partition) => ({ partition, value })) });
      written.push(...values);
      const commit = t.commit().then(
        () => 'answered',
        () => 'unanswered',
      );
      await new Promise((r) => setTimeout(r, delay));
      await b.kill('SIGKILL');
      const answered = await commit;
      await producer.disconnect().catch(() => {});

      b = await spawnBroker(dataDir);
      // Decided (PrepareCommit or later) before the crash, or still open (Ongoing).
      const before = await describeState(b.kafkaBootstrap);
      assert.ok(['Ongoing', 'PrepareCommit', 'CompleteCommit'].includes(before), `round ${round}: ${before}`);
      // A new instance of the producer takes over the transactional id: an open transaction is aborted.
      const next = transactional(b.kafkaBootstrap);
      await next.connect();
      await (await next.transaction()).abort();
      await next.disconnect();

      const committedRound = before !== 'Ongoing';
      // A commit the client saw answered is committed.
      if (answered === 'answered') assert.ok(committedRound, `round ${round}: the commit was acknowledged, state ${before}`);
      if (committedRound) expectCommitted.push(...values);
      outcomes.push(`${delay}ms: ${answered}, ${before}`);
      const committed = await readTopic(b.kafkaBootstrap, TOPIC, PARTITIONS, 'read_committed');
      assert.deepEqual(committed.all, [...expectCommitted].sort(), `round ${round} (${outcomes.join('; ')})`);
    }
    // Every record was acknowledged before the commit: read_uncommitted readers see all of them.
    const everything = await readTopic(b.kafkaBootstrap, TOPIC, PARTITIONS, 'read_uncommitted');
    assert.deepEqual(everything.all, [...written].sort());
    await b.kill('SIGTERM');
  } finally {
    if (b) await b.kill('SIGKILL').catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
  }
});
