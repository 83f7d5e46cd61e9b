// Replication in a vhost other than `/` (docs/cluster.md, "Streams: the data plane"): followers
// fetch each partition logged in (SASL PLAIN as the cluster's link user) in the partition's vhost,
// on a Kafka listener without SASL too. A quorum queue in vhost `v1` on three nodes confirms
// publishes (a majority has them) and keeps every confirmed message across a kill -9 of its
// leader. A follower's fetch (replica id set) from an ordinary client is refused as Kafka refuses
// it without ClusterAction (TOPIC_AUTHORIZATION_FAILED), and the link login takes no other user.
// A grouped quorum queue's new leader files the replayed messages by group before it serves.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConfirmChannel } from 'amqplib';
import { KafkaClient } from '../../../src/client/kafka/client.js';
import { ErrorCode } from '../../../src/protocol/kafka/index.js';
import { waitUntil } from '../../helpers/async.js';
import { NODE_NAMES, useCluster } from '../../helpers/cluster.js';
import { topicName } from '../../helpers/kafka.js';
import { leaderVia, newLeader } from '../../helpers/quorum.js';

const LONG = { timeout: 180_000 } as const;
const AUTH = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`, 'content-type': 'application/json' };
const VHOST = 'v1';

describe('replication in a vhost other than / (three nodes)', () => {
  const { cluster, clientsOf } = useCluster();

  async function api(node: string, method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(`http://127.0.0.1:${cluster.node(node).httpPort}${path}`, { method, headers: AUTH, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(5000) });
  }

  /** The bodies `basic.get` gives from `q` in the vhost on `node` until there are `count` (retrying while the new leader replays its log). */
  async function drain(node: string, q: string, count: number): Promise<string[]> {
    const got: string[] = [];
    await waitUntil(async () => {
      try {
        const c = await clientsOf(node).connect(undefined, `${cluster.node(node).url}/${VHOST}`);
        const ch = await c.createChannel();
        for (;;) {
          const m = await ch.get(q, { noAck: true });
          if (m === false) break;
          got.push(m.content.toString());
        }
        await c.close();
      } catch {
        return false; // still replaying
      }
      return got.length === count;
    }, `all ${count} confirmed messages of ${q} on ${node}`, 30_000);
    return got;
  }

  it('a quorum queue in vhost v1 confirms from a majority and keeps every confirmed message across a kill -9 of its leader', LONG, async () => {
    assert.equal((await api('n1', 'PUT', `/api/vhosts/${VHOST}`)).status, 201);
    assert.ok((await api('n1', 'PUT', `/api/permissions/${VHOST}/guest`, { configure: '.*', write: '.*', read: '.*' })).ok);
    const q = 'qq-in-v1';
    await waitUntil(async () => {
      try {
        const conn = await clientsOf('n2').connect(undefined, `${cluster.node('n2').url}/${VHOST}`);
        const ch = await conn.createChannel();
        await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
        return true;
      } catch {
        return false; // the vhost or the permission has not reached n2 yet
      }
    }, `${q} declared in ${VHOST}`, 20_000);
    let leader: string | undefined;
    await waitUntil(async () => (leader = await leaderVia(cluster, 'n1', q, VHOST)) !== undefined, 'a leader and three members online', 20_000);
    assert.ok(leader);

    const conn = await clientsOf(leader).connect(undefined, `${cluster.node(leader).url}/${VHOST}`);
    const ch: ConfirmChannel = await conn.createConfirmChannel();
    for (let i = 0; i < 50; i++) ch.sendToQueue(q, Buffer.from(`m${i}`), { persistent: true });
    await ch.waitForConfirms(); // rejects if any was nacked: without the followers' fetches none commits
    await conn.close();

    await cluster.node(leader).kill('SIGKILL');
    const survivor = NODE_NAMES.find((n) => n !== leader) ?? '';
    const next = await newLeader(cluster, survivor, q, leader, VHOST);
    const got = await drain(next, q, 50);
    assert.deepEqual(got.sort(), Array.from({ length: 50 }, (_, i) => `m${i}`).sort());
    await cluster.spawn(leader);
  });

  it('a grouped quorum queue (x-message-group-header) comes back on the new leader after kill -9, each group in order', LONG, async () => {
    assert.ok([201, 204].includes((await api('n1', 'PUT', `/api/vhosts/${VHOST}`)).status));
    assert.ok((await api('n1', 'PUT', `/api/permissions/${VHOST}/guest`, { configure: '.*', write: '.*', read: '.*' })).ok);
    const q = 'qq-grouped';
    const urlOf = (n: string): string => `${cluster.node(n).url}/${VHOST}`;
    await waitUntil(async () => {
      try {
        const ch = await (await clientsOf('n1').connect(undefined, urlOf('n1'))).createChannel();
        await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-message-group-header': 'g' } });
        return true;
      } catch {
        return false;
      }
    }, `${q} declared`, 20_000);
    let leader: string | undefined;
    await waitUntil(async () => (leader = await leaderVia(cluster, 'n1', q, VHOST)) !== undefined, 'a leader and three members online', 20_000);
    assert.ok(leader);
    const conn = await clientsOf(leader).connect(undefined, urlOf(leader));
    const ch: ConfirmChannel = await conn.createConfirmChannel();
    const sent = ['a1', 'b1', 'a2', 'b2', 'a3'];
    for (const body of sent) ch.sendToQueue(q, Buffer.from(body), { persistent: true, headers: { g: body[0] } });
    await ch.waitForConfirms();
    await conn.close();

    await cluster.node(leader).kill('SIGKILL');
    const survivor = NODE_NAMES.find((n) => n !== leader) ?? '';
    const next = await newLeader(cluster, survivor, q, leader, VHOST);
    const got = await drain(next, q, sent.length);
    assert.deepEqual(got.filter((b) => b.startsWith('a')), ['a1', 'a2', 'a3']);
    assert.deepEqual(got.filter((b) => b.startsWith('b')), ['b1', 'b2']);
    await cluster.spawn(leader);
  });

  it("an ordinary client's follower fetch is refused (TOPIC_AUTHORIZATION_FAILED), and the link login takes no other user", LONG, async () => {
    const topic = topicName('forged');
    const node = cluster.node('n1');
    const admin = await KafkaClient.connect(node.kafkaBootstrap);
    try {
      await admin.createTopic(topic, 1);
      const res = await admin.any.request(1, 12, {
        replicaId: 2,
        maxWaitMs: 0,
        minBytes: 1,
        maxBytes: 1 << 20,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 1000n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
        forgottenTopicsData: [],
        rackId: '',
      });
      assert.equal(res.responses[0]?.partitions[0]?.errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    } finally {
      await admin.close();
    }
    // A PLAIN login on this listener (no SASL of its own) is for the link user only: guest is refused.
    const guest = await KafkaClient.connect(node.kafkaBootstrap);
    try {
      const hs = await guest.any.request(17, 1, { mechanism: 'PLAIN' });
      assert.equal(hs.errorCode, ErrorCode.NONE);
      const auth = await guest.any.request(36, 1, { authBytes: Buffer.from('\u0000guest\u0000guest') });
      assert.equal(auth.errorCode, ErrorCode.SASL_AUTHENTICATION_FAILED);
    } finally {
      await guest.close().catch(() => undefined);
    }
  });
});
