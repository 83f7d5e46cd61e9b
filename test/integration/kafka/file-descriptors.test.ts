// A thousand partitions with data, produced to and fetched from (and reopened after a restart),
// must not hold a thousand files open: stream logs share one process-wide budget of file
// handles, and a partition's quiet segments, its active one included, are closed when the
// budget is spent. Counts /proc/self/fd of this process, where the broker runs.

import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { ErrorCode } from '../../../src/protocol/kafka/index.js';
import { STREAM_OPEN_FILES_MAX } from '../../../src/broker/stream/partition.js';
import { skipKafkaUnderReference } from '../../helpers/kafka.js';
import { testBatch, values } from '../../helpers/kafka-batch.js';
import { RawKafka, startKafkaServer, type KafkaServer } from '../../helpers/raw-kafka.js';

const TOPICS = 10;
const PARTITIONS = 100;

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

async function produceAll(raw: RawKafka, round: number): Promise<void> {
  for (let t = 0; t < TOPICS; t++) {
    const res = await raw.call(0, 9, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: `fd-${t}`, partitionData: Array.from({ length: PARTITIONS }, (_, index) => ({ index, records: testBatch(values(3, round * 3)) })) }],
    });
    for (const p of res.responses[0].partitionResponses) assert.equal(p.errorCode, ErrorCode.NONE);
  }
}

async function fetchAll(raw: RawKafka, expectRecords: number): Promise<void> {
  for (let t = 0; t < TOPICS; t++) {
    const res = await raw.call(1, 11, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 64 << 20,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{ topic: `fd-${t}`, partitions: Array.from({ length: PARTITIONS }, (_, partition) => ({ partition, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 1 << 20 })) }],
      forgottenTopicsData: [],
      rackId: '',
    });
    for (const p of res.responses[0].partitions) {
      assert.equal(p.errorCode, ErrorCode.NONE);
      assert.equal(p.highWatermark, BigInt(expectRecords));
      assert.ok(p.records && p.records.length > 0);
    }
  }
}

describe('kafka: file descriptors with 1,000 partitions', { skip: skipKafkaUnderReference }, () => {
  let server: KafkaServer | undefined;
  after(async () => {
    RawKafka.destroyAll();
    await server?.close();
  });

  test('1,000 partitions with data stay within the stream file budget, before and after a restart', { timeout: 240_000 }, async () => {
    const before = openFds();
    server = await startKafkaServer();
    const dataDir = server.dataDir;
    for (let t = 0; t < TOPICS; t++) await server.vhost.streams.create(`fd-${t}`, { partitions: PARTITIONS, kafkaName: true });
    let raw = await RawKafka.open(server.port);
    await produceAll(raw, 0);
    await produceAll(raw, 1);
    await fetchAll(raw, 6);
    const running = openFds() - before;
    console.log(`open fds: ${running} more than before the broker, with ${TOPICS * PARTITIONS} partitions (budget ${STREAM_OPEN_FILES_MAX})`);
    assert.ok(running < STREAM_OPEN_FILES_MAX + 100, `${running} fds for ${TOPICS * PARTITIONS} partitions`);
    raw.destroy();
    // Restart on the same data dir: recovery opens every partition again.
    await server.listener.close();
    await server.broker.close();
    server = await startKafkaServer({ dataDir });
    raw = await RawKafka.open(server.port);
    await fetchAll(raw, 6);
    await produceAll(raw, 2);
    const restarted = openFds() - before;
    console.log(`open fds after a restart: ${restarted} more than before`);
    assert.ok(restarted < STREAM_OPEN_FILES_MAX + 100, `${restarted} fds after a restart`);
    raw.destroy();
    await server.close();
    server = undefined;
    const { rm } = await import('node:fs/promises');
    await rm(dataDir, { recursive: true, force: true });
  });
});
