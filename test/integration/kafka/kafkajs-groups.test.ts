// Consumer groups through kafkajs: members joining and leaving, rebalances, committed offsets
// surviving a restart, no record lost or read twice after a commit.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Consumer, EachMessagePayload } from 'kafkajs';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { kafkaClient, skipKafkaUnderReference, topicName } from '../../helpers/kafka.js';

async function waitFor(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('kafkajs: consumer groups', { skip: skipKafkaUnderReference }, () => {
  let broker: TestBroker;
  before(async () => {
    broker = await startTestBroker({ kafkaGroupInitialRebalanceDelayMs: 0 });
  });
  after(async () => {
    await broker?.close();
  });

  const client = () => kafkaClient(broker.handle.kafkaBootstrap);

  async function produce(topic: string, n: number, from = 0): Promise<void> {
    const producer = client().producer();
    await producer.connect();
    try {
      for (let i = from; i < from + n; i += 100) {
        const batch = Array.from({ length: Math.min(100, from + n - i) }, (_, k) => ({ key: `k${i + k}`, value: `v${i + k}` }));
        await producer.send({ topic, acks: -1, messages: batch });
      }
    } finally {
      await producer.disconnect();
    }
  }

  test('one consumer reads everything from the beginning and commits; a new member resumes after the commit', async () => {
    const topic = topicName('grp');
    const groupId = topicName('g');
    const admin = client().admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] });
    await produce(topic, 300);
    const seen = new Map<string, number>();
    const c1 = client().consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500 });
    await c1.connect();
    await c1.subscribe({ topic, fromBeginning: true });
    await c1.run({ eachMessage: async ({ message }: EachMessagePayload) => { seen.set(String(message.value), (seen.get(String(message.value)) ?? 0) + 1); } });
    await waitFor('300 records', () => seen.size === 300);
    await c1.disconnect(); // commits and leaves the group

    const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
    const committed = offsets[0].partitions.reduce((n, p) => n + Number(p.offset), 0);
    assert.equal(committed, 300);
    const groups = await admin.listGroups();
    assert.ok(groups.groups.some((g) => g.groupId === groupId));

    await produce(topic, 50, 300);
    const later: string[] = [];
    const c2 = client().consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500 });
    await c2.connect();
    await c2.subscribe({ topic, fromBeginning: true });
    await c2.run({ eachMessage: async ({ message }: EachMessagePayload) => { later.push(String(message.value)); } });
    await waitFor('50 more records', () => later.length >= 50);
    await c2.disconnect();
    assert.deepEqual(later.sort(), Array.from({ length: 50 }, (_, i) => `v${300 + i}`).sort());
    for (const count of seen.values()) assert.equal(count, 1);
    await admin.disconnect();
  });

  test('two members split the partitions; when one leaves, the other takes over without losing a record', async () => {
    const topic = topicName('split');
    const groupId = topicName('g');
    const admin = client().admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }] });
    const got: string[] = [];
    const partitionsOf = new Map<Consumer, Set<number>>();
    const start = async (): Promise<Consumer> => {
      const c = client().consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 300, rebalanceTimeout: 10_000 });
      partitionsOf.set(c, new Set());
      await c.connect();
      await c.subscribe({ topic, fromBeginning: true });
      await c.run({
        eachMessage: async ({ partition, message }: EachMessagePayload) => {
          partitionsOf.get(c)?.add(partition);
          got.push(String(message.value));
        },
      });
      return c;
    };
    const a = await start();
    const b = await start();
    const describe = async () => (await admin.describeGroups([groupId])).groups[0];
    let g = await describe();
    const deadline = Date.now() + 20_000;
    while ((g.state !== 'Stable' || g.members.length !== 2) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      g = await describe();
    }
    assert.equal(g.state, 'Stable');
    assert.equal(g.members.length, 2);
    await produce(topic, 400);
    await waitFor('400 records', () => got.length >= 400);
    // Both members got partitions of their own.
    assert.ok((partitionsOf.get(a)?.size ?? 0) > 0 && (partitionsOf.get(b)?.size ?? 0) > 0);
    await b.disconnect();
    await produce(topic, 200, 400);
    await waitFor('600 records', () => new Set(got).size >= 600);
    await a.disconnect();
    assert.equal(new Set(got).size, 600);
    await admin.disconnect();
  });

  test('committed offsets survive a broker restart', async () => {
    const topic = topicName('restart');
    const groupId = topicName('g');
    let admin = client().admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '0' }] });
    await produce(topic, 10);
    await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '7' }] });
    await admin.disconnect();
    await broker.restart();
    admin = client().admin();
    await admin.connect();
    const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
    assert.equal(offsets[0].partitions[0].offset, '7');
    await admin.deleteGroups([groupId]);
    assert.ok(!(await admin.listGroups()).groups.some((x) => x.groupId === groupId));
    await admin.disconnect();
  });
});
