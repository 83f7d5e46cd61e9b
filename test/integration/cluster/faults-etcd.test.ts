// etcd unreachable (docs/cluster.md, "Faults: etcd down"): three `wharf serve --cluster`
// processes on a private etcd, which is then frozen with SIGSTOP (it neither answers nor
// refuses: what a partition from etcd looks like). Every node logs that it lost etcd, leads
// nothing past its local deadline, answers produce and fetch of a replicated partition with
// NOT_LEADER_OR_FOLLOWER (never an acknowledgement), and keeps answering Metadata. Once etcd
// resumes, every node logs that it is back, leaders are elected again without a restart, and
// every record acknowledged before and after is consumed at its offset.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KafkaClient } from '../../../src/client/kafka/client.js';
import { ErrorCode } from '../../../src/protocol/kafka/index.js';
import { waitUntil } from '../../helpers/async.js';
import { FaultCluster } from '../../helpers/fault-cluster.js';
import { startTestEtcd, type EtcdProcess } from '../../helpers/etcd.js';
import { testBatch, values } from '../../helpers/kafka-batch.js';
import { topicName } from '../../helpers/kafka.js';

const LONG = { timeout: 180_000 } as const;

describe('faults: etcd unreachable', () => {
  let etcd: EtcdProcess;
  let c: FaultCluster;

  before(async () => {
    etcd = await startTestEtcd();
    c = new FaultCluster(etcd, 'wharf', ['n1', 'n2', 'n3']);
    await c.start();
  });
  after(async () => {
    process.kill(etcd.pid, 'SIGCONT');
    await c.destroy();
    await etcd.stop();
  });

  it('nodes that lose etcd lead nothing and acknowledge nothing; when it is back they elect leaders again by themselves', LONG, async () => {
    const topic = topicName('etcd');
    const admin = c.kafka().admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 3 }], waitForLeaders: false });
    await admin.disconnect();
    await waitUntil(async () => (await c.isr(topic, 0))?.length === 3, 'three in-sync replicas', 30_000);
    const acked = new Map<number, string>();
    const produce = async (from: number, to: number): Promise<void> => {
      const producer = c.kafka().producer({ allowAutoTopicCreation: false });
      await producer.connect();
      for (let i = from; i < to; i++) {
        const [meta] = await producer.send({ topic, acks: -1, messages: [{ value: `v${i}` }] });
        acked.set(Number(meta.baseOffset), `v${i}`);
      }
      await producer.disconnect();
    };
    await produce(0, 10);

    process.kill(etcd.pid, 'SIGSTOP');
    for (const n of c.names) {
      await waitUntil(() => /lost etcd: no keep-alive answered/.test(c.stderr(n)), `${n} says it lost etcd`, 30_000);
    }
    // Every node, asked directly: produce and fetch are NOT_LEADER_OR_FOLLOWER (retriable), never an acknowledgement.
    for (const n of c.names) {
      const client = await KafkaClient.connect(c.bootstrap([n])[0]);
      try {
        const [res] = (await KafkaClient.produce(client.any, { topic, acks: -1, timeoutMs: 2000, partitions: [{ partition: 0, records: testBatch(values(1)) }] })) ?? [];
        assert.equal(res?.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER, `produce to ${n}`);
        const [fetched] = await KafkaClient.fetch(client.any, { topic, partitions: [{ partition: 0, offset: 0, maxBytes: 1 << 20 }], maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20 });
        assert.equal(fetched?.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER, `fetch from ${n}`);
        // Metadata still answers, with no leader for the partition.
        const md = await client.metadata([topic]);
        assert.equal(md.topics.get(topic)?.partitions[0]?.leader, -1, `no leader in ${n}'s Metadata`);
      } finally {
        await client.close();
      }
    }
    assert.equal((c.stderr('n1').match(/lost etcd/g) ?? []).length, 1, 'one line when it loses etcd');

    process.kill(etcd.pid, 'SIGCONT');
    for (const n of c.names) {
      await waitUntil(() => /etcd is back: rejoined the cluster/.test(c.stderr(n)), `${n} says etcd is back`, 60_000);
    }
    await waitUntil(async () => (await c.isr(topic, 0))?.length === 3, 'a leader and three in-sync replicas again', 60_000);
    await produce(10, 20);
    const consumer = c.kafka().consumer({ groupId: `g-${topic}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen = new Map<number, string>();
    await consumer.run({ eachMessage: async ({ message }) => void seen.set(Number(message.offset), message.value?.toString() ?? '') });
    await waitUntil(() => seen.size >= acked.size, 'every acknowledged record consumed', 30_000);
    await consumer.disconnect();
    for (const [offset, value] of acked) assert.equal(seen.get(offset), value, `offset ${offset}`);
  });
});
