// AMQP stream queues in a cluster (docs/cluster.md, "Stream queues"): a stream queue declared
// over AMQP on one node is a replicated stream of one partition, like a Kafka topic: every node
// knows it, each of three replicas holds it, a publish with confirms is confirmed once the high
// watermark passes it, a publish on a follower is forwarded to the leader (confirmed once
// committed there), consumers on the leader get every record, and every replica's log on disk
// holds the same records.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitUntil } from '../../helpers/async.js';
import { bodies, consumeInto } from '../../helpers/amqplib.js';
import { NODE_NAMES, useCluster } from '../../helpers/cluster.js';
import { recordsOnDisk } from '../../helpers/jepsen/checker.js';

const LONG = { timeout: 120_000 } as const;

describe('replicated AMQP stream queues (three nodes, amqplib)', () => {
  const { cluster, clientsOf } = useCluster();

  it('declared on one node: three replicas, one leader, confirms after the in-sync replicas, publishes on a follower forwarded, the same records on every disk', LONG, async () => {
    const q = 'sq-repl';
    const declaring = await clientsOf('n1').channel();
    const ok = await declaring.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'stream' } });
    assert.equal(ok.messageCount, 0);
    const resource = `stream/%2F/${q}/0`;
    let leader = '';
    await waitUntil(async () => {
      leader = (await cluster.leadersUnder(resource)).get(resource)?.node ?? '';
      return leader !== '';
    }, 'the stream queue has a leader', 20_000);
    // Every node knows it as a stream queue: a passive declare and a re-declare with its arguments answer.
    for (const name of NODE_NAMES) {
      await waitUntil(async () => {
        const ch = await clientsOf(name).channel();
        try {
          await ch.checkQueue(q);
          return true;
        } catch {
          return false;
        }
      }, `${name} knows ${q}`, 20_000);
      const ch = await clientsOf(name).channel();
      await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'stream' } });
    }

    const pub = await clientsOf(leader).confirmChannel();
    const sent = Array.from({ length: 50 }, (_, i) => `m${i}`);
    for (const s of sent) pub.sendToQueue(q, Buffer.from(s), { persistent: true });
    await pub.waitForConfirms();

    // A follower forwards its publishes to the leader: confirmed once committed there.
    const follower = NODE_NAMES.find((n) => n !== leader) ?? '';
    const forwarded = await clientsOf(follower).confirmChannel();
    const more = Array.from({ length: 10 }, (_, i) => `f${i}`);
    for (const s of more) forwarded.sendToQueue(q, Buffer.from(s), { persistent: true });
    await forwarded.waitForConfirms();

    const consumer = await clientsOf(leader).channel();
    await consumer.prefetch(100);
    const { collector } = await consumeInto(consumer, q, { noAck: false, arguments: { 'x-stream-offset': 'first' } });
    assert.deepEqual(bodies(await collector.waitFor(60)), [...sent, ...more]);

    // Every replica has all 60 on disk, at the same offsets.
    for (const name of NODE_NAMES) {
      const ch = await clientsOf(name).channel();
      await waitUntil(async () => (await ch.checkQueue(q)).messageCount === 60, `${name} holds the 60 records`, 20_000);
    }
    await cluster.killAll();
    const logs = await Promise.all(NODE_NAMES.map((n) => recordsOnDisk(cluster.dirs.get(n) ?? '', q, 0)));
    for (const [i, log] of logs.entries()) {
      assert.equal(log.size, 60, `${NODE_NAMES[i]} has 60 records`);
      assert.deepEqual([...log.entries()], [...logs[0].entries()], `${NODE_NAMES[i]} has the same records at the same offsets`);
    }
  });
});
