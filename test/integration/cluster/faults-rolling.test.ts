// A rolling restart (docs/cluster.md, "Faults: a rolling restart"): three `wharf serve --cluster`
// processes, two kafkajs producers sending with acks=all (one idempotent) and a kafkajs consumer
// group running throughout. Each node in turn stops cleanly (SIGTERM): it revokes its lease, so
// its record is gone from etcd the moment it exits and its partitions have new leaders at once;
// it starts again on the same data dir, and the next one goes only once it is back in every ISR.
// Afterwards every acknowledged record is consumed at its offset and no send failed for good.
// The longest produce stall is reported (not asserted).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Producer } from 'kafkajs';
import { waitUntil } from '../../helpers/async.js';
import { FaultCluster } from '../../helpers/fault-cluster.js';
import { etcdClient, startTestEtcd, type EtcdProcess } from '../../helpers/etcd.js';
import { kafkaErrorTypes, topicName } from '../../helpers/kafka.js';

const PARTITIONS = 2;

describe('faults: a rolling restart', () => {
  let etcd: EtcdProcess;
  let c: FaultCluster;

  before(async () => {
    etcd = await startTestEtcd();
    c = new FaultCluster(etcd, 'wharf', ['n1', 'n2', 'n3']);
    await c.start();
  });
  after(async () => {
    await c.destroy();
    await etcd.stop();
  });

  it('each node stopped cleanly and started again in turn: nothing acknowledged lost, no send failed, the consumer group reads everything', { timeout: 300_000 }, async (t) => {
    const topic = topicName('rolling');
    const admin = c.kafka().admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 3 }], waitForLeaders: false });
    await admin.disconnect();
    const allInSync = async (): Promise<boolean> => {
      for (let p = 0; p < PARTITIONS; p++) if ((await c.isr(topic, p))?.length !== 3) return false;
      return true;
    };
    await waitUntil(allInSync, 'three in-sync replicas everywhere', 30_000);

    const acked = new Map<string, string>(); // "partition/offset" -> value
    let failed = 0;
    const errors = new Map<string, number>();
    let longestStallMs = 0;
    let running = true;
    const producerLoop = async (w: number): Promise<void> => {
      const idempotent = w === 1;
      const producer: Producer = c.kafka().producer({ allowAutoTopicCreation: false, idempotent, ...(idempotent ? { maxInFlightRequests: 1 } : {}) });
      await producer.connect();
      for (let i = 0; running; i++) {
        const value = `p${w}-${i}`;
        const t0 = performance.now();
        try {
          const [meta] = await producer.send({ topic, acks: -1, messages: [{ value, partition: i % PARTITIONS }] });
          acked.set(`${meta.partition}/${meta.baseOffset}`, value);
          longestStallMs = Math.max(longestStallMs, performance.now() - t0);
        } catch (err) {
          failed++;
          errors.set(`p${w}: ${kafkaErrorTypes(err).join(',') || (err as Error).message}`, (errors.get(`p${w}: ${kafkaErrorTypes(err).join(',') || (err as Error).message}`) ?? 0) + 1);
        }
      }
      await producer.disconnect();
    };
    const producers = [producerLoop(0), producerLoop(1)];

    const consumed = new Map<string, string>();
    const consumer = c.kafka().consumer({ groupId: `g-${topic}`, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ partition, message }) => void consumed.set(`${partition}/${message.offset}`, message.value?.toString() ?? '') });
    await waitUntil(() => acked.size >= 50, 'producers under way', 30_000);

    const client = etcdClient(etcd);
    try {
      for (const node of c.names) {
        const before = acked.size;
        await c.stopNode(node, 'SIGTERM');
        // Revoked, not left to expire: the record is gone as the process exits.
        assert.equal(await client.get(`/wharf/wharf/nodes/${node}`).string(), null, `${node} revoked its lease on a clean stop`);
        await c.startNode(node);
        await waitUntil(async () => {
          for (let p = 0; p < PARTITIONS; p++) if (!(await c.isr(topic, p))?.includes(node)) return false;
          return true;
        }, `${node} back in every ISR`, 60_000);
        await waitUntil(() => acked.size >= before + 20, 'acknowledgements after the restart', 30_000);
        t.diagnostic(`${node} restarted; ${acked.size} acknowledged so far, longest stall ${Math.round(longestStallMs)} ms`);
      }
    } finally {
      client.close();
      running = false;
      await Promise.all(producers);
    }
    await waitUntil(() => [...acked.keys()].every((k) => consumed.has(k)), 'the group consumed every acknowledged record', 60_000);
    await consumer.disconnect();
    for (const [k, v] of acked) assert.equal(consumed.get(k), v, `record at ${k}`);
    assert.equal(failed, 0, `no send failed for good: ${JSON.stringify([...errors])}`);
    t.diagnostic(`acknowledged ${acked.size}, failed 0, longest produce stall ${Math.round(longestStallMs)} ms`);
  });
});
