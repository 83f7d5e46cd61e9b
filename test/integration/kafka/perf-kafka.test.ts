// `wharf perf-kafka` and Wharf's Kafka client end to end against an in-process Wharf: counts
// must add up in every mode (records produced = acked = consumed), the topic is created and
// cleaned up, a prefilled topic drains exactly, and the CLI prints its JSON line and exit codes.
// Also against the do-nothing endpoint of bench/kafka-ceiling.ts, which the benchmarks rely on.
// Short runs; nothing here asserts on speed.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { KafkaCeiling } from '../../../bench/kafka-ceiling.js';
import { EARLIEST_OFFSET, KafkaClient, LATEST_OFFSET } from '../../../src/client/kafka/index.js';
import { parseKafkaPerfArgs, type KafkaPerfOptions } from '../../../src/cli/perf/kafka-options.js';
import type { KafkaPerfResult } from '../../../src/cli/perf/kafka-report.js';
import { runKafkaPerf } from '../../../src/cli/perf/kafka-run.js';
import { TEST_OPTS } from '../../helpers/async.js';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { kafkaClient, skipKafkaUnderReference, topicName } from '../../helpers/kafka.js';

const mainJs = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));

function options(bootstrap: string, args: string[]): KafkaPerfOptions {
  const cmd = parseKafkaPerfArgs(['--bootstrap', bootstrap, '--json', ...args]);
  assert.equal(cmd.command, 'perf-kafka');
  return (cmd as Extract<typeof cmd, { command: 'perf-kafka' }>).options;
}

function checkLatency(l: KafkaPerfResult['latencyMs']): void {
  assert.ok(l.p50 > 0 && l.p50 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max, JSON.stringify(l));
}

describe('wharf perf-kafka', { skip: skipKafkaUnderReference }, () => {
  let broker: TestBroker;
  let bootstrap: string;

  before(async () => {
    broker = await startTestBroker();
    bootstrap = broker.handle.kafkaBootstrap;
  });
  after(async () => {
    await broker?.close();
  });

  const perf = (args: string[]): Promise<KafkaPerfResult> => runKafkaPerf(options(bootstrap, ['--topic', topicName('perf'), ...args]));

  async function topics(): Promise<string[]> {
    const admin = kafkaClient(bootstrap).admin();
    await admin.connect();
    try {
      return await admin.listTopics();
    } finally {
      await admin.disconnect();
    }
  }

  it('acks=all: every record produced is acknowledged and consumed, with both latencies; the topic is removed', TEST_OPTS, async () => {
    const topic = topicName('perf');
    const r = await runKafkaPerf(options(bootstrap, ['--topic', topic, '--records', '5000', '--batch-records', '300']));
    assert.equal(r.produced, 5000);
    assert.equal(r.acked, 5000);
    assert.equal(r.consumed, 5000);
    assert.ok(r.produceRate > 0 && r.ackRate > 0 && r.consumeRate > 0);
    assert.equal(r.requests.produce, Math.ceil(5000 / 300));
    checkLatency(r.produceLatencyMs);
    checkLatency(r.latencyMs);
    assert.ok(r.produceMiBps > 0 && r.consumeMiBps > 0);
    assert.ok(!(await topics()).includes(topic), 'the topic it created is deleted');
  });

  it('several producers, consumers and partitions: each producer sends its count, the consumers get them all', TEST_OPTS, async () => {
    const r = await perf(['--producers', '3', '--consumers', '2', '--partitions', '4', '--records', '2000', '--batch-records', '250', '--acks', '1']);
    assert.equal(r.produced, 6000);
    assert.equal(r.acked, 6000);
    assert.equal(r.consumed, 6000);
  });

  it('acks=0: no answers, so nothing is acknowledged, but everything sent arrives', TEST_OPTS, async () => {
    const r = await perf(['--acks', '0', '--records', '3000', '--batch-records', '500']);
    assert.equal(r.produced, 3000);
    assert.equal(r.acked, 0);
    assert.equal(r.consumed, 3000);
    assert.equal(r.produceLatencyMs.max, 0);
  });

  it('gzip: compressed batches are produced and read back record by record', TEST_OPTS, async () => {
    const r = await perf(['--compression', 'gzip', '--records', '2000', '--batch-records', '400', '--size', '200']);
    assert.equal(r.acked, 2000);
    assert.equal(r.consumed, 2000);
    checkLatency(r.latencyMs);
  });

  it('fixed rate with linger: never ahead of the schedule, and everything sent is consumed', TEST_OPTS, async () => {
    const r = await perf(['--rate', '2000', '--duration', '2', '--linger', '20', '--batch-records', '100']);
    assert.ok(r.produced > 0);
    assert.ok(r.produced <= Math.ceil((2000 * r.durationMs) / 1000), `${r.produced} in ${r.durationMs} ms`);
    assert.equal(r.consumed, r.acked);
    // Batches go out at most 20 ms old and at most 100 records: more requests than full batches.
    assert.ok(r.requests.produce >= Math.ceil(r.produced / 100), `${r.requests.produce} requests for ${r.produced}`);
  });

  it('--warmup: the load runs first and only what follows is counted, with progress lines', TEST_OPTS, async () => {
    const lines: string[] = [];
    const r = await runKafkaPerf(options(bootstrap, ['--topic', topicName('perf'), '--rate', '1000', '--duration', '1', '--warmup', '2']), { progress: (l) => lines.push(l) });
    // The warm-up's 2,000 records are not counted: the window holds its own second's worth. The
    // bound leaves room for a paced schedule catching up on a loaded machine (no timing assertion:
    // counting the warm-up would give about 3,000).
    assert.ok(r.produced > 0 && r.produced <= Math.ceil((1000 * r.durationMs * 1.5) / 1000) + 20, `${r.produced} in ${r.durationMs} ms`);
    assert.match(lines[0] ?? '', /^warm-up: time /);
    for (const l of lines) assert.match(l, /time \d+\.\d s, produced [\d,]+ rec\/s, acked [\d,]+ rec\/s, consumed [\d,]+ rec\/s, p99 produce (\d+\.\d{3}|-) ms, end-to-end (\d+\.\d{3}|-) ms$/);
  });

  it('fill with --no-cleanup, then --drain --from-beginning reads exactly what the topic holds', TEST_OPTS, async () => {
    const topic = topicName('drain');
    const fill = await runKafkaPerf(options(bootstrap, ['--topic', topic, '--partitions', '2', '--producers', '2', '--consumers', '0', '--records', '1500', '--batch-records', '200', '--no-cleanup']));
    assert.equal(fill.acked, 3000);
    assert.equal(fill.consumed, 0);
    for (let i = 0; i < 2; i++) {
      const drain = await runKafkaPerf(options(bootstrap, ['--topic', topic, '--producers', '0', '--consumers', '2', '--drain', '--from-beginning', '--no-create', '--partition-max-bytes', '20000']));
      assert.equal(drain.produced, 0);
      assert.equal(drain.consumed, 3000, 'read again: --drain deletes nothing');
      checkLatency(drain.latencyMs);
    }
  });

  it('a missing topic with --no-create fails with the broker\'s error', TEST_OPTS, async () => {
    await assert.rejects(perf(['--no-create', '--records', '10']), /topic 'perf-[^']+' \(--no-create: it must exist\): 3 UNKNOWN_TOPIC_OR_PARTITION/);
  });

  it('more consumers than partitions is refused', TEST_OPTS, async () => {
    await assert.rejects(perf(['--consumers', '3', '--partitions', '2', '--records', '10']), /3 consumers for 2 partition\(s\)/);
  });

  describe('the Kafka client', () => {
    it('creates a topic once, produces, lists offsets, fetches and deletes it', TEST_OPTS, async () => {
      const client = await KafkaClient.connect(bootstrap);
      try {
        const topic = topicName('client');
        assert.equal(await client.createTopic(topic, 2), true);
        assert.equal(await client.createTopic(topic, 2), false);
        const { buildRecordBatchSync } = await import('../../../src/protocol/kafka/index.js');
        const batch = buildRecordBatchSync({ records: [{ value: Buffer.from('a') }, { value: Buffer.from('b') }] });
        const conn = await client.leader(topic, 1);
        const results = await KafkaClient.produce(conn, { topic, acks: -1, partitions: [{ partition: 1, records: batch }] });
        assert.deepEqual(results?.map((p) => [p.partition, p.errorCode, p.baseOffset]), [[1, 0, 0]]);
        assert.deepEqual([...(await client.listOffsets(topic, [0, 1], LATEST_OFFSET))], [[0, 0], [1, 2]]);
        assert.deepEqual([...(await client.listOffsets(topic, [1], EARLIEST_OFFSET))], [[1, 0]]);
        const [fetched] = await KafkaClient.fetch(conn, { topic, partitions: [{ partition: 1, offset: 0, maxBytes: 1 << 20 }], maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20 });
        assert.equal(fetched.errorCode, 0);
        assert.equal(fetched.highWatermark, 2);
        assert.equal(fetched.records?.readInt32BE(57), 2, 'the batch as produced, two records');
        assert.equal(await client.deleteTopic(topic), true);
        assert.equal(await client.deleteTopic(topic), false);
      } finally {
        await client.close();
      }
    });

    it('a produce to a partition the topic lacks comes back with the broker\'s error code', TEST_OPTS, async () => {
      const client = await KafkaClient.connect(bootstrap);
      try {
        const topic = topicName('client');
        await client.createTopic(topic, 1);
        const { buildRecordBatchSync } = await import('../../../src/protocol/kafka/index.js');
        const results = await KafkaClient.produce(client.any, { topic, acks: 1, partitions: [{ partition: 7, records: buildRecordBatchSync({ records: [{ value: null }] }) }] });
        assert.equal(results?.[0].errorCode, 3); // UNKNOWN_TOPIC_OR_PARTITION
        await client.deleteTopic(topic);
      } finally {
        await client.close();
      }
    });

    it('a refused connection is a KafkaClientError naming the address', TEST_OPTS, async () => {
      await assert.rejects(KafkaClient.connect('127.0.0.1:1'), /connection to 127\.0\.0\.1:1 failed: ECONNREFUSED/);
    });
  });

  describe('the CLI', () => {
    function wharf(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
      return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [mainJs, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
        child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
        child.on('error', reject);
        child.on('exit', (code) => resolve({ code, stdout, stderr }));
      });
    }

    it('--json prints exactly one line, the result with every field', TEST_OPTS, async () => {
      const r = await wharf(['perf-kafka', '--bootstrap', bootstrap, '--topic', topicName('cli'), '--records', '2000', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trimEnd().split('\n');
      assert.equal(lines.length, 1);
      const result = JSON.parse(lines[0]) as KafkaPerfResult;
      assert.equal(result.acked, 2000);
      assert.equal(result.consumed, 2000);
      for (const key of ['produceRate', 'ackRate', 'consumeRate', 'produceMiBps', 'consumeMiBps', 'durationMs'] as const) assert.equal(typeof result[key], 'number', key);
      for (const key of ['p50', 'p95', 'p99', 'p999', 'max'] as const) {
        assert.equal(typeof result.produceLatencyMs[key], 'number', key);
        assert.equal(typeof result.latencyMs[key], 'number', key);
      }
      assert.equal(result.config.records, 2000);
    });

    it('without --json: progress lines, a summary, and the JSON line last', TEST_OPTS, async () => {
      const r = await wharf(['perf-kafka', '--bootstrap', bootstrap, '--topic', topicName('cli'), '--duration', '1', '--rate', '1000']);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trimEnd().split('\n');
      assert.match(lines[0], /^time 1\.0 s, produced/);
      assert.ok(lines.some((l) => /^ {2}produce latency ms: p50 [\d.]+, p95 [\d.]+, p99 [\d.]+, p99\.9 [\d.]+, max [\d.]+$/.test(l)), r.stdout);
      assert.ok(lines[lines.length - 1].startsWith('{'));
    });

    it('exit 1 with the reason when nothing listens; exit 2 for bad options', TEST_OPTS, async () => {
      const refused = await wharf(['perf-kafka', '--bootstrap', '127.0.0.1:1', '--records', '10']);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^wharf perf-kafka: connection to 127\.0\.0\.1:1 failed: ECONNREFUSED/);
      const bad = await wharf(['perf-kafka', '--bootstrap', bootstrap, '--acks', '2']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /invalid --acks/);
    });
  });
});

describe('wharf perf-kafka against the do-nothing endpoint (bench/kafka-ceiling.ts)', () => {
  let ceiling: KafkaCeiling;
  let bootstrap: string;

  before(async () => {
    ceiling = new KafkaCeiling({ sizeBytes: 100, batchRecords: 250 });
    bootstrap = `127.0.0.1:${await ceiling.listen(0, '127.0.0.1')}`;
  });
  after(async () => {
    await ceiling?.close();
  });

  it('produce and consume: the counts add up; the endpoint answers produces at once', TEST_OPTS, async () => {
    const r = await runKafkaPerf(options(bootstrap, ['--topic', 'c1', '--records', '5000', '--batch-records', '300']));
    assert.equal(r.acked, 5000);
    assert.equal(r.consumed, 5000);
  });

  it('a prefilled topic drains from its prebuilt batch, exactly to the end offset', TEST_OPTS, async () => {
    const fill = await runKafkaPerf(options(bootstrap, ['--topic', 'c2', '--consumers', '0', '--records', '1100', '--no-cleanup']));
    assert.equal(fill.acked, 1100);
    const drain = await runKafkaPerf(options(bootstrap, ['--topic', 'c2', '--producers', '0', '--drain', '--from-beginning', '--no-create']));
    assert.equal(drain.consumed, 1100);
    assert.equal(drain.latencyMs.max, 0, 'its records carry no creation time');
  });
});
