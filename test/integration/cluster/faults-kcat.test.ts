// librdkafka across a failover (docs/cluster.md, "Faults"): Debian's kcat produces with
// acks=all and consumes while the partition's leader is killed with kill -9. librdkafka follows
// leader epochs (OffsetForLeaderEpoch after a leader change) where kafkajs does not: every record
// it had acknowledged is read back once, at its offset, by a consumer that ran across the kill.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { waitUntil, withTimeout } from '../../helpers/async.js';
import { FaultCluster } from '../../helpers/fault-cluster.js';
import { startTestEtcd, type EtcdProcess } from '../../helpers/etcd.js';
import { kcat, topicName } from '../../helpers/kafka.js';

const LONG = { timeout: 240_000 } as const;

describe('faults: librdkafka (kcat) across a leader kill', () => {
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

  it('kcat produces with acks=all before and after kill -9 of the leader; a kcat consumer across the kill reads each record once at its offset', LONG, async () => {
    const topic = topicName('kcat');
    const admin = c.kafka().admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 3 }], waitForLeaders: false });
    await admin.disconnect();
    await waitUntil(async () => (await c.isr(topic, 0))?.length === 3, 'three in-sync replicas', 30_000);

    // The consumer runs from the start until it has read 100 records.
    const consumer = spawn('kcat', ['-C', '-b', c.bootstrap().join(','), '-t', topic, '-p', '0', '-o', 'beginning', '-c', '100', '-f', '%o %s\\n', '-q'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let consumed = '';
    let consumerErr = '';
    consumer.stdout.on('data', (d: Buffer) => (consumed += d.toString()));
    consumer.stderr.on('data', (d: Buffer) => (consumerErr += d.toString()));
    const consumerDone = new Promise<number | null>((resolve) => consumer.on('close', resolve));

    const produce = async (from: number, to: number): Promise<void> => {
      const lines = Array.from({ length: to - from }, (_, i) => `m${from + i}`).join('\n') + '\n';
      const res = await kcat(['-P', '-b', c.bootstrap().join(','), '-t', topic, '-p', '0', '-X', 'acks=all', '-X', 'message.timeout.ms=60000'], lines);
      assert.equal(res.code, 0, `kcat -P exit code; stderr: ${res.stderr}`);
      assert.doesNotMatch(res.stderr, /Delivery failed/);
    };
    try {
      await produce(0, 50);
      const leader = await c.leader(topic, 0);
      assert.ok(leader !== undefined);
      await c.stopNode(leader.node, 'SIGKILL');
      await produce(50, 100);
      const next = await c.leader(topic, 0);
      assert.ok(next !== undefined && next.node !== leader.node && next.epoch > leader.epoch, 'a survivor leads under a higher epoch');
      await withTimeout(consumerDone, 120_000, 'the kcat consumer read 100 records');
    } finally {
      consumer.kill('SIGKILL');
    }
    const rows = consumed.trim().split('\n').map((l) => l.split(' '));
    assert.equal(rows.length, 100, `100 records read; stderr: ${consumerErr}`);
    rows.forEach(([offset, value], i) => {
      assert.equal(Number(offset), i, 'offsets in order, none twice');
      assert.equal(value, `m${i}`);
    });
  });
});
