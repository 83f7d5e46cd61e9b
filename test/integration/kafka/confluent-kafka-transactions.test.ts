// Transactions through librdkafka (Debian's python3-confluent-kafka): init_transactions,
// begin/commit/abort_transaction and send_offsets_to_transaction, read by isolation.level
// read_committed and read_uncommitted consumers; and a consume-transform-produce loop whose
// process is killed with SIGKILL at random points and restarted until it has read everything:
// a read_committed reader sees every input transformed exactly once.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { kafkaClient, skipKafkaUnderReference, topicName } from '../../helpers/kafka.js';
import { readTopic, runPython, spawnPython } from '../../helpers/python-kafka.js';
import { seededRandom as prng } from '../../../src/util/random.js';

const TRANSACTIONS = `
import json, sys
from confluent_kafka import Consumer, Producer, TopicPartition
bootstrap, topic, source, group, txid = sys.argv[1:6]
p = Producer({'bootstrap.servers': bootstrap, 'transactional.id': txid, 'linger.ms': 5})
p.init_transactions(30)
c = Consumer({'bootstrap.servers': bootstrap, 'group.id': group, 'enable.auto.commit': False})

def txn(prefix, n, offset, commit):
    p.begin_transaction()
    for i in range(n):
        p.produce(topic, key=str(i).encode(), value=('%s-%d' % (prefix, i)).encode(), partition=i % 3)
    p.send_offsets_to_transaction([TopicPartition(source, 0, offset)], c.consumer_group_metadata(), 30)
    if commit:
        p.commit_transaction(30)
    else:
        p.flush(30)  # delivered first: abort_transaction drops what is still queued
        p.abort_transaction(30)

txn('a', 100, 100, True)
txn('b', 50, 150, False)
txn('c', 10, 110, True)
committed = c.committed([TopicPartition(source, 0)], 30)
c.close()
print(json.dumps({'committed': committed[0].offset}))
`;

/**
 * Consume-transform-produce: reads `source` (read_committed, committed offsets of `group`),
 * writes "out-<value>" to the same partition of `sink`, and commits the offsets in the same
 * transaction, 20 records at a time, until every partition is at its end.
 */
const CTP = `
import json, sys
from confluent_kafka import Consumer, Producer, KafkaError, KafkaException, TopicPartition
bootstrap, source, sink, group, txid = sys.argv[1:6]
c = Consumer({'bootstrap.servers': bootstrap, 'group.id': group, 'group.instance.id': 'ctp-1',
              'isolation.level': 'read_committed', 'enable.auto.commit': False,
              'auto.offset.reset': 'earliest', 'enable.partition.eof': True, 'session.timeout.ms': 6000})
p = Producer({'bootstrap.servers': bootstrap, 'transactional.id': txid, 'linger.ms': 2})
p.init_transactions(60)
c.subscribe([source])
eof = set()
while True:
    msgs = c.consume(20, 0.5)
    batch = []
    for m in msgs:
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                eof.add(m.partition())
                continue
            raise KafkaException(m.error())
        eof.discard(m.partition())
        batch.append(m)
    if batch:
        p.begin_transaction()
        nxt = {}
        for m in batch:
            p.produce(sink, key=m.key(), value=b'out-' + m.value(), partition=m.partition())
            nxt[m.partition()] = m.offset() + 1
        offsets = [TopicPartition(source, part, off) for part, off in nxt.items()]
        p.send_offsets_to_transaction(offsets, c.consumer_group_metadata(), 60)
        p.commit_transaction(60)
    elif c.assignment() and len(eof) == len(c.assignment()):
        break
c.close()
print(json.dumps({'done': True}))
`;

describe('python3-confluent-kafka (librdkafka): transactions', { skip: skipKafkaUnderReference }, () => {
  let broker: TestBroker;
  before(async () => {
    broker = await startTestBroker({ kafkaGroupInitialRebalanceDelayMs: 0 });
  });
  after(async () => {
    await broker?.close();
  });

  test('commit and abort with send_offsets_to_transaction; read_committed and read_uncommitted consumers', async () => {
    const bootstrap = broker.handle.kafkaBootstrap;
    const topic = topicName('ckt');
    const source = topicName('cks');
    const admin = kafkaClient(bootstrap).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }, { topic: source, numPartitions: 1 }] });
    await admin.disconnect();
    const r = await runPython(TRANSACTIONS, [bootstrap, topic, source, topicName('ckg'), topicName('ckx')]);
    assert.equal(r.committed, 110, 'the aborted transaction\'s offset (150) was dropped');
    const committed = await readTopic(bootstrap, topic, 3, 'read_committed');
    const expected = [...Array.from({ length: 100 }, (_, i) => `a-${i}`), ...Array.from({ length: 10 }, (_, i) => `c-${i}`)].sort();
    assert.deepEqual(committed.all, expected);
    const everything = await readTopic(bootstrap, topic, 3, 'read_uncommitted');
    assert.deepEqual(everything.all, [...expected, ...Array.from({ length: 50 }, (_, i) => `b-${i}`)].sort());
  });

  test('consume-transform-produce killed with SIGKILL at random points: every input is in the output exactly once', { timeout: 240_000 }, async () => {
    const seed = Number(process.env.WHARF_TEST_SEED ?? Date.now() % 1_000_000);
    const random = prng(seed);
    const bootstrap = broker.handle.kafkaBootstrap;
    const source = topicName('ctp-in');
    const sink = topicName('ctp-out');
    const group = topicName('ctp-g');
    const txid = topicName('ctp-tx');
    const admin = kafkaClient(bootstrap).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: source, numPartitions: 3 }, { topic: sink, numPartitions: 3 }] });
    const producer = kafkaClient(bootstrap).producer();
    await producer.connect();
    const inputs: string[] = [];
    for (let i = 0; i < 3000; i += 500) {
      const batch = Array.from({ length: 500 }, (_, k) => ({ key: `k${i + k}`, value: `v${i + k}`, partition: (i + k) % 3 }));
      inputs.push(...batch.map((m) => m.value));
      await producer.send({ topic: source, acks: -1, messages: batch });
    }
    await producer.disconnect();
    await admin.disconnect();

    let kills = 0;
    for (let run = 0; ; run++) {
      const child = spawnPython(CTP, [bootstrap, source, sink, group, txid]);
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      if (kills < 8) {
        // Somewhere from start-up (init_transactions, joining) to deep in the loop.
        const delay = 200 + Math.floor(random() * 2500);
        const timer = setTimeout(() => child.kill('SIGKILL'), delay);
        const code = await exited;
        clearTimeout(timer);
        if (code === null) {
          kills++;
          continue;
        }
        assert.equal(code, 0, `seed ${seed}, run ${run}: ${stderr}`);
        break;
      }
      assert.equal(await exited, 0, `seed ${seed}, run ${run}: ${stderr}`);
      break;
    }
    const out = await readTopic(bootstrap, sink, 3, 'read_committed');
    assert.deepEqual(out.all, inputs.map((v) => `out-${v}`).sort(), `seed ${seed}, ${kills} kills`);
    // Order within each partition is the input's order.
    for (const [p, values] of Object.entries(out.byPartition)) {
      const want = inputs.filter((_, i) => i % 3 === Number(p)).map((v) => `out-${v}`);
      assert.deepEqual(values, want, `partition ${p}, seed ${seed}`);
    }
  });
});
