// A consume-transform-produce loop, exactly-once against at-least-once, in records/s: read a
// topic, write each record (transformed) to another, and commit the read position, 100 records
// at a time. Exactly-once does each 100 in a transaction (produce, send the offsets to the
// transaction, commit); at-least-once produces with acks=all, waits for the acks, then commits
// the offsets. Through librdkafka (python3-confluent-kafka) and kafkajs, against a Wharf child
// process on a fresh data dir (or --bootstrap). Prints numbers; asserts nothing.
//   node dist/bench/txn.js [--records 30000] [--bootstrap host:port] [--clients librdkafka,kafkajs]

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { startWharf, stopWharf } from './lib/wharf-child.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '30000' },
    bootstrap: { type: 'string' },
    clients: { type: 'string', default: 'librdkafka,kafkajs' },
  },
});
const RECORDS = Number(values.records);
const PER_TXN = 100;
const PARTITIONS = 3;
const VALUE = Buffer.alloc(100, 'v');

/** Python's loop: prints {"records": n, "seconds": s} once every partition is at its end. */
const PY_LOOP = `
import json, sys, time
from confluent_kafka import Consumer, Producer, KafkaError, KafkaException, TopicPartition
bootstrap, source, sink, group, mode, per = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
exactly_once = mode == 'txn'
c = Consumer({'bootstrap.servers': bootstrap, 'group.id': group, 'isolation.level': 'read_committed',
              'enable.auto.commit': False, 'auto.offset.reset': 'earliest', 'enable.partition.eof': True})
conf = {'bootstrap.servers': bootstrap, 'linger.ms': 1}
conf.update({'transactional.id': group} if exactly_once else {'enable.idempotence': True, 'acks': 'all'})
p = Producer(conf)
if exactly_once:
    p.init_transactions(30)
c.subscribe([source])
eof, n, start = set(), 0, None
while True:
    msgs = c.consume(per, 0.5)
    batch = [m for m in msgs if not m.error()]
    for m in msgs:
        if m.error() and m.error().code() == KafkaError._PARTITION_EOF:
            eof.add(m.partition())
        elif m.error():
            raise KafkaException(m.error())
    if batch:
        start = start or time.time()
        for m in batch:
            eof.discard(m.partition())
        nxt = {}
        if exactly_once:
            p.begin_transaction()
        for m in batch:
            p.produce(sink, value=m.value()[::-1], partition=m.partition())
            nxt[m.partition()] = m.offset() + 1
        offsets = [TopicPartition(source, k, v) for k, v in nxt.items()]
        if exactly_once:
            p.send_offsets_to_transaction(offsets, c.consumer_group_metadata(), 30)
            p.commit_transaction(30)
        else:
            p.flush(30)
            c.commit(offsets=offsets, asynchronous=False)
        n += len(batch)
    elif c.assignment() and len(eof) == len(c.assignment()):
        break
print(json.dumps({'records': n, 'seconds': time.time() - start}))
c.close()
`;

function python(args: string[]): Promise<{ records: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/python3', ['-c', PY_LOOP, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}')) : reject(new Error(`python exited ${code}`))));
  });
}

/** kafkajs: eachBatch, 100 records per transaction (or per produce + commit). */
async function kafkajsLoop(kafka: Kafka, source: string, sink: string, group: string, exactlyOnce: boolean): Promise<{ records: number; seconds: number }> {
  const producer = exactlyOnce
    ? kafka.producer({ transactionalId: group, idempotent: true, maxInFlightRequests: 1 })
    : kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const consumer = kafka.consumer({ groupId: group, readUncommitted: false, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: source, fromBeginning: true });
  let n = 0;
  let start = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => (finish = resolve));
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      start ||= Date.now();
      for (let i = 0; i < batch.messages.length; i += PER_TXN) {
        const chunk = batch.messages.slice(i, i + PER_TXN);
        const next = String(Number(chunk[chunk.length - 1].offset) + 1);
        const messages = chunk.map((m) => ({ value: m.value, partition: batch.partition }));
        const offsets = [{ topic: source, partitions: [{ partition: batch.partition, offset: next }] }];
        if (exactlyOnce) {
          const t = await producer.transaction();
          await t.send({ topic: sink, messages });
          await t.sendOffsets({ consumerGroupId: group, topics: offsets });
          await t.commit();
        } else {
          await producer.send({ topic: sink, acks: -1, messages });
          await consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partitions[0].partition, offset: o.partitions[0].offset })));
        }
        for (const m of chunk) resolveOffset(m.offset);
        n += chunk.length;
        await heartbeat();
      }
      if (n >= RECORDS) finish();
    },
  });
  await done;
  const seconds = (Date.now() - start) / 1000;
  await consumer.disconnect();
  await producer.disconnect();
  return { records: n, seconds };
}

async function fill(kafka: Kafka, topic: string): Promise<void> {
  const p = kafka.producer();
  await p.connect();
  for (let i = 0; i < RECORDS; i += 1000) {
    await p.send({ topic, acks: -1, messages: Array.from({ length: Math.min(1000, RECORDS - i) }, (_, k) => ({ value: VALUE, partition: (i + k) % PARTITIONS })) });
  }
  await p.disconnect();
}

async function main(): Promise<void> {
  let dataDir: string | undefined;
  let child: Awaited<ReturnType<typeof startWharf>> | undefined;
  let bootstrap = values.bootstrap;
  if (!bootstrap) {
    dataDir = await mkdtemp(join(tmpdir(), 'wharf-bench-txn-'));
    child = await startWharf(dataDir);
    bootstrap = child.kafkaBootstrap;
  }
  const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING, clientId: 'bench-txn' });
  const admin = kafka.admin();
  await admin.connect();
  const run = `${process.pid}-${Date.now().toString(36)}`;
  const source = `bench-txn-in-${run}`;
  await admin.createTopics({ topics: [{ topic: source, numPartitions: PARTITIONS }] });
  await fill(kafka, source);
  console.log(`${RECORDS} records of ${VALUE.length} B in ${PARTITIONS} partitions, ${PER_TXN} per transaction (or per produce + offset commit)`);
  const rows: [string, number][] = [];
  for (const client of values.clients.split(',')) {
    for (const mode of ['txn', 'alo']) {
      const sink = `bench-txn-out-${client}-${mode}-${run}`;
      const group = `bench-txn-${client}-${mode}-${run}`;
      await admin.createTopics({ topics: [{ topic: sink, numPartitions: PARTITIONS }] });
      const r = client === 'kafkajs' ? await kafkajsLoop(kafka, source, sink, group, mode === 'txn') : await python([bootstrap, source, sink, group, mode, String(PER_TXN)]);
      const rate = r.records / r.seconds;
      rows.push([`${client} ${mode === 'txn' ? 'exactly-once (transactions)' : 'at-least-once'}`, rate]);
      console.log(`${rows[rows.length - 1][0].padEnd(42)} ${Math.round(rate)} records/s (${r.records} in ${r.seconds.toFixed(2)} s)`);
    }
  }
  for (let i = 0; i + 1 < rows.length; i += 2) console.log(`${rows[i][0].split(' ')[0]}: exactly-once runs at ${((rows[i][1] / rows[i + 1][1]) * 100).toFixed(0)}% of at-least-once`);
  await admin.disconnect();
  if (child) await stopWharf(child, 'SIGTERM');
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
