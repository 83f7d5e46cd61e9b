// librdkafka's high-level clients through Debian's python3-confluent-kafka (librdkafka 2.0):
// an idempotent acks=all producer, then consumer-group members that rebalance and commit.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { kafkaClient, skipKafkaUnderReference, topicName } from '../../helpers/kafka.js';

/** Debian's python3-confluent-kafka installs for /usr/bin/python3 (not a pyenv python3 on PATH). */
const PYTHON = '/usr/bin/python3';

function runPython(script: string, args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-c', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`python exited ${code}:\n${stderr}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>);
    });
  });
}

const PRODUCE = `
import json, sys
from confluent_kafka import Producer
bootstrap, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
p = Producer({'bootstrap.servers': bootstrap, 'enable.idempotence': True, 'acks': 'all', 'linger.ms': 5})
acked = []
def done(err, msg):
    if err is None:
        acked.append((msg.partition(), msg.offset()))
for i in range(n):
    p.produce(topic, key=('k%d' % i).encode(), value=('v%d' % i).encode(), on_delivery=done)
    p.poll(0)
p.flush(30)
print(json.dumps({'acked': len(acked), 'offsets': sorted(acked)}))
`;

const CONSUME = `
import json, sys, time
from confluent_kafka import Consumer
bootstrap, topic, group, want = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
c = Consumer({'bootstrap.servers': bootstrap, 'group.id': group, 'auto.offset.reset': 'earliest',
              'enable.auto.commit': False, 'session.timeout.ms': 10000, 'heartbeat.interval.ms': 500})
c.subscribe([topic])
seen = []
deadline = time.time() + 45
while len(seen) < want and time.time() < deadline:
    m = c.poll(0.2)
    if m is None or m.error():
        continue
    seen.append(m.value().decode())
    c.commit(message=m, asynchronous=False)
c.close()
print(json.dumps({'seen': seen}))
`;

describe('python3-confluent-kafka (librdkafka high-level clients)', { skip: skipKafkaUnderReference }, () => {
  let broker: TestBroker;
  before(async () => {
    broker = await startTestBroker({ kafkaGroupInitialRebalanceDelayMs: 0 });
  });
  after(async () => {
    await broker?.close();
  });

  test('an idempotent producer with acks=all, then a group consumer that commits each record', async () => {
    const bootstrap = broker.handle.kafkaBootstrap;
    const topic = topicName('ck');
    const admin = kafkaClient(bootstrap).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] });
    const produced = await runPython(PRODUCE, [bootstrap, topic, '500']);
    assert.equal(produced.acked, 500);
    // Every partition's offsets are 0..n-1 with no gap or duplicate.
    const perPartition = new Map<number, number[]>();
    for (const [p, o] of produced.offsets as [number, number][]) perPartition.set(p, [...(perPartition.get(p) ?? []), o]);
    for (const offsets of perPartition.values()) assert.deepEqual(offsets, offsets.map((_, i) => i));

    const groupId = topicName('ckg');
    const consumed = await runPython(CONSUME, [bootstrap, topic, groupId, '500']);
    const seen = consumed.seen as string[];
    assert.equal(seen.length, 500);
    assert.equal(new Set(seen).size, 500);
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    assert.equal(committed[0].partitions.reduce((n, p) => n + Number(p.offset), 0), 500);
    await admin.disconnect();
  });
});
