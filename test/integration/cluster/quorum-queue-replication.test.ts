// Quorum queues in a cluster (docs/cluster.md, "Quorum queues"): three `wharf serve --cluster`
// processes on a private etcd, amqplib clients on the queue's leader. A quorum queue declared on
// one node is known on every node with its leader and members; a publish on a follower is refused
// naming the leader; publishes are confirmed once a majority has them; after kill -9 of the leader
// mid-stream, a survivor leads within seconds, every confirmed message is consumed, the deliveries
// that were out come back redelivered (with their delivery count), and the old node, restarted,
// catches up: its log holds what the new leader's does. Consumers through the other nodes (amqplib
// and @cloudamqp/amqp-client) carry on across kill -9 of the leader, as RabbitMQ's quorum queue
// consumers do: no basic.cancel, the unacked ones redelivered, acks of the old tags harmless; and a
// consumer on the leader itself goes on from the new leader when its node stops leading (SIGSTOP).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AMQPClient, type AMQPMessage } from '@cloudamqp/amqp-client';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import { sleep, waitUntil } from '../../helpers/async.js';
import { consumeInto } from '../../helpers/amqplib.js';
import { NODE_NAMES, useCluster, type TestCluster } from '../../helpers/cluster.js';
import { etcdClient } from '../../helpers/etcd.js';
import { recordsOnDisk } from '../../helpers/jepsen/checker.js';
import { deliveryCount } from '../../helpers/reliable.js';

const LONG = { timeout: 180_000 } as const;
const AUTH = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };

interface QueueView {
  readonly leader: string | null;
  readonly members: string[];
  readonly online: string[];
  readonly type: string;
  readonly messages: number;
}


/** The queue as node `name`'s API shows it (undefined while it cannot answer). */
async function queueOn(cluster: TestCluster, name: string, q: string): Promise<QueueView | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${cluster.node(name).httpPort}/api/queues/%2F/${encodeURIComponent(q)}`, { headers: AUTH, signal: AbortSignal.timeout(5000) });
    return res.ok ? ((await res.json()) as QueueView) : undefined;
  } catch {
    return undefined;
  }
}

/** Publishes `bodies` persistent; resolves with those the broker confirmed (the rest were nacked or lost with the connection). */
function publishTracked(ch: ConfirmChannel, q: string, bodies: string[], confirmed: Set<string>): Promise<void>[] {
  return bodies.map(
    (b) =>
      new Promise<void>((resolve) => {
        try {
          ch.sendToQueue(q, Buffer.from(b), { persistent: true }, (err) => {
            if (err === null || err === undefined) confirmed.add(b);
            resolve();
          });
        } catch {
          resolve();
        }
      }),
  );
}

describe('replicated quorum queues (three nodes, amqplib)', () => {
  const { cluster, clientsOf } = useCluster();
  const queueVia = (name: string, q: string): Promise<QueueView | undefined> => queueOn(cluster, name, q);


  it('declare, confirms from a majority, kill -9 of the leader mid-stream: every confirmed message is consumed, deliveries out come back redelivered, the old leader catches up', LONG, async () => {
    const q = 'qq-failover';
    const declaring = await clientsOf('n1').channel();
    await declaring.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum' } });

    // Every node knows it, with the same leader and three members, all online.
    let leader = '';
    for (const name of NODE_NAMES) {
      await waitUntil(async () => {
        const v = await queueVia(name, q);
        return v !== undefined && v.leader !== null && v.online.length === 3;
      }, `${name} shows ${q} with a leader and three members online`, 20_000);
      const v = await queueVia(name, q);
      assert.ok(v);
      assert.equal(v.type, 'quorum');
      assert.deepEqual([...v.members].sort(), NODE_NAMES);
      leader ||= v.leader ?? '';
      assert.equal(v.leader, leader, `${name} names the same leader`);
    }
    const followers = NODE_NAMES.filter((n) => n !== leader);

    // 100 confirmed publishes on the leader.
    const leaderClients = clientsOf(leader);
    const pub = await leaderClients.confirmChannel();
    const confirmed = new Set<string>();
    await Promise.all(publishTracked(pub, q, Array.from({ length: 100 }, (_, i) => `a${i}`), confirmed));
    assert.equal(confirmed.size, 100);

    // A consumer on the leader: a0 returned once (a Return record), then five deliveries out, two acked.
    const cons = await leaderClients.channel();
    const first = await cons.get(q, { noAck: false });
    assert.ok(first);
    assert.equal(first.content.toString(), 'a0');
    cons.nack(first, false, true);
    await cons.prefetch(5);
    const { collector } = await consumeInto(cons, q, { noAck: false });
    const out = await collector.waitFor(5);
    assert.deepEqual(out.map((m) => m.content.toString()), ['a0', 'a1', 'a2', 'a3', 'a4']);
    assert.equal(deliveryCount(out[0]), 1);
    cons.ack(out[1]);
    cons.ack(out[2]);
    // One more confirmed publish: its commit means the Return and Settle records before it are committed too.
    await Promise.all(publishTracked(pub, q, ['b0'], confirmed));
    assert.ok(confirmed.has('b0'));
    // A follower forwards a publish to the leader, and confirms it once the leader has.
    const viaFollower = await clientsOf(followers[0]).confirmChannel();
    await Promise.all(publishTracked(viaFollower, q, ['f0'], confirmed));
    assert.ok(confirmed.has('f0'), 'a publish through a follower is confirmed');

    // Mid-stream: a publisher keeps ten publishes in flight; once 50 of them are confirmed, kill -9 of the leader.
    let publishing = true;
    const confirmedC = (): number => [...confirmed].filter((b) => b.startsWith('c')).length;
    const publisher = (async () => {
      for (let i = 0; publishing; i += 10) {
        const batch = Array.from({ length: 10 }, (_, k) => `c${i + k}`);
        const answers = publishTracked(pub, q, batch, confirmed);
        // Answers stop with the connection: the batch in flight at the kill gets none.
        await Promise.race([Promise.all(answers), sleep(3000)]);
        if (!batch.every((b) => confirmed.has(b))) return;
      }
    })();
    await waitUntil(() => confirmedC() >= 50, '50 publishes confirmed before the kill', 20_000);
    const killedAt = Date.now();
    await cluster.node(leader).kill('SIGKILL');
    publishing = false;
    await publisher;

    // A survivor leads within a few seconds.
    let next = '';
    await waitUntil(async () => {
      const v = await queueVia(followers[0], q);
      next = v?.leader ?? '';
      return next !== '' && next !== leader;
    }, 'a new leader', 15_000);
    const failoverMs = Date.now() - killedAt;
    console.log(`# quorum queue failover: a new leader (${next}) ${failoverMs} ms after kill -9 of ${leader}`);
    assert.ok(followers.includes(next));

    // Drain everything through the survivor that does not lead (forwarded to the new leader, which
    // may still be replaying: retry until it serves).
    const through = followers.find((n) => n !== next) ?? next;
    let drain: Awaited<ReturnType<typeof consumeInto>> | undefined;
    await waitUntil(async () => {
      try {
        const ch = await clientsOf(through).channel();
        await ch.prefetch(1000);
        drain = await consumeInto(ch, q, { noAck: true });
        return true;
      } catch {
        return false;
      }
    }, `consuming through ${through} from ${next}`, 20_000);
    const got = drain?.collector.items ?? [];
    const missing = (): string[] => {
      const seen = new Set(got.map((m) => m.content.toString()));
      return [...confirmed].filter((b) => !seen.has(b) && b !== 'a1' && b !== 'a2');
    };
    await waitUntil(() => missing().length === 0, 'every confirmed message not acked delivered by the new leader', 20_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}: ${got.length} delivered, missing ${missing().length}: ${missing().slice(0, 10).join(' ')}`);
    });
    const byBody = new Map(got.map((m) => [m.content.toString(), m]));
    // Unacked deliveries of the dead leader's consumer come back redelivered; a0 keeps its count.
    for (const b of ['a0', 'a3', 'a4']) assert.equal(byBody.get(b)?.fields.redelivered, true, `${b} redelivered`);
    assert.equal(deliveryCount(byBody.get('a0') as ConsumeMessage), 1, 'a0 keeps its delivery count across the failover');
    // Acked ones (their Settles were committed before b0's confirm) do not come back.
    assert.equal(byBody.has('a1'), false);
    assert.equal(byBody.has('a2'), false);
    console.log(`# confirmed ${confirmed.size} (${confirmedC()} while the publisher ran into the kill), delivered after failover ${got.length}`);

    // The old leader restarts on its data dir and rejoins the log's in-sync replicas.
    await cluster.spawn(leader);
    const etcd = etcdClient(cluster.etcd);
    try {
      const key = `/wharf/wharf/state/stream/%2F/${encodeURIComponent(`amq.qlog/${q}`)}/0/isr`;
      await waitUntil(async () => {
        const isr = await etcd.get(key).string();
        return isr !== null && (JSON.parse(isr) as string[]).includes(leader);
      }, `${leader} back in the in-sync replicas`, 30_000);
    } finally {
      etcd.close();
    }
    // It kept its log through the restart: no directory taken for an orphan, and at most a tail it
    // alone had is cut, never the whole log (every batch carries its leader's epoch).
    assert.doesNotMatch(cluster.node(leader).stderr(), /removed stream directories no stream owns|divergedAt=0\b/);
    // Its log holds what the new leader's does, offset for offset.
    await cluster.killAll();
    const logs = await Promise.all([leader, next].map((n) => recordsOnDisk(cluster.dirs.get(n) ?? '', `amq.qlog/${q}`, 0)));
    assert.ok(logs[0].size >= 101, `the restarted node has at least every record committed before the kill: ${logs[0].size} records (first offset ${[...logs[0].keys()][0]}), the new leader ${logs[1].size}`);
    assert.deepEqual([...logs[0].entries()], [...logs[1].entries()].slice(0, logs[0].size), 'the same records at the same offsets');
  });
});

// A cluster of its own: this test kills, restarts and pauses nodes too.
describe('quorum queue consumers across a leader change (three nodes, amqplib and @cloudamqp/amqp-client)', () => {
  const { cluster, clientsOf } = useCluster();
  const queueVia = (name: string, q: string): Promise<QueueView | undefined> => queueOn(cluster, name, q);
  const countVia = async (name: string, q: string): Promise<number | undefined> => (await queueOn(cluster, name, q))?.messages;

  /** The node leading `q` as `via` sees it, once it differs from `not` (a new leader). */
  async function leaderOf(q: string, via: string, not = ''): Promise<string> {
    let leader = '';
    await waitUntil(async () => {
      const v = await queueVia(via, q);
      leader = v?.leader ?? '';
      return leader !== '' && leader !== not && v?.online.includes(leader) === true;
    }, `${via} names a leader of ${q}${not === '' ? '' : ` other than ${not}`}`, 30_000);
    return leader;
  }

  /** Publishes `bodies` through `node` until each is confirmed (a failover nacks some for a moment). */
  async function publishConfirmed(node: string, q: string, bodies: string[], confirmed: Set<string>): Promise<void> {
    let left = bodies;
    await waitUntil(async () => {
      try {
        const ch = await clientsOf(node).confirmChannel();
        await Promise.race([Promise.all(publishTracked(ch, q, left, confirmed)), sleep(5000)]);
        await ch.close().catch(() => undefined);
      } catch {
        // The channel closed under the publish: publish again what is not confirmed.
      }
      left = left.filter((b) => !confirmed.has(b));
      return left.length === 0;
    }, `${bodies.length} publishes confirmed through ${node}`, 60_000);
  }

  it('consumers through other nodes carry on across kill -9 of the leader: no cancel, unacked ones redelivered, old tags acked harmlessly, nothing confirmed lost; a consumer on a leader that stops leading goes on too', LONG, async () => {
    const q = 'qq-follow';
    await (await clientsOf('n1').channel()).assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    const leader = await leaderOf(q, 'n1');
    const [f1, f2] = NODE_NAMES.filter((n) => n !== leader) as [string, string];
    const confirmed = new Set<string>();
    await publishConfirmed(f2, q, Array.from({ length: 20 }, (_, i) => `p${i}`), confirmed);
    // A follower's declare-ok and API count the leader's messages.
    const declared = await (await clientsOf(f1).channel()).assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    assert.equal(declared.messageCount, 20, `declare-ok on ${f1} counts ${leader}'s messages`);
    await waitUntil(async () => (await countVia(f2, q)) === 20, `${f2}'s API counts ${leader}'s messages`);

    // amqplib on f1 and @cloudamqp/amqp-client on f2, prefetch 3 each, manual acks held back for now.
    const a = await clientsOf(f1).channel();
    let aClosed = false;
    a.on('close', () => (aClosed = true));
    await a.prefetch(3);
    const { collector: aGot, cancelled: aCancel, consumerTag: aTag } = await consumeInto(a, q, { noAck: false });
    let aCancelled = false;
    void aCancel.then(() => (aCancelled = true));
    const client = new AMQPClient(`amqp://guest:guest@127.0.0.1:${cluster.node(f2).port}`);
    const conn = await client.connect();
    try {
      const b = await conn.channel();
      await b.basicQos(3);
      const bGot: AMQPMessage[] = [];
      const consumer = await b.basicConsume(q, { noAck: false }, (m) => void bGot.push(m));
      let bCancelled = false;
      consumer.wait().then(() => (bCancelled = true), () => (bCancelled = true));
      await waitUntil(() => aGot.items.length === 3 && bGot.length === 3, 'three unacked deliveries on each consumer');
      const before = [...aGot.items.map((m) => m.content.toString()), ...bGot.map((m) => m.bodyString() ?? '')];
      const oldA = [...aGot.items];
      const oldB = [...bGot];

      await cluster.node(leader).kill('SIGKILL');
      const next = await leaderOf(q, f1, leader);
      // The new leader redelivers what was out: each consumer gets deliveries again, under new tags.
      await waitUntil(() => aGot.items.length > 3 && bGot.length > 3, 'both consumers receive from the new leader');
      assert.equal(aCancelled, false, 'no basic.cancel to the amqplib consumer');
      assert.equal(bCancelled, false, 'no basic.cancel to the amqp-client consumer');
      // Acks of the old leader's deliveries are dead tags: ignored, the channels stay open.
      for (const m of oldA) a.ack(m);
      for (const m of oldB) await m.ack();
      assert.equal((await a.checkQueue(q)).queue, q, 'the amqplib channel still answers after acking old tags');
      assert.equal(b.closed, false, 'the amqp-client channel is still open after acking old tags');
      assert.equal(aClosed, false);

      // From now on both ack everything; 20 more publishes confirmed through the new leader's followers.
      const seen = new Map<string, boolean>();
      const ackA = (m: ConsumeMessage): void => {
        seen.set(m.content.toString(), seen.get(m.content.toString()) === true || m.fields.redelivered);
        a.ack(m);
      };
      aGot.items.slice(3).forEach(ackA);
      const drainedA = aGot.items.length;
      for (const m of bGot.slice(3)) {
        seen.set(m.bodyString() ?? '', seen.get(m.bodyString() ?? '') === true || m.redelivered);
        await m.ack();
      }
      let ackedB = bGot.length;
      let ackedA = drainedA;
      const pump = async (): Promise<void> => {
        for (; ackedA < aGot.items.length; ackedA++) ackA(aGot.items[ackedA] as ConsumeMessage);
        for (; ackedB < bGot.length; ackedB++) {
          const m = bGot[ackedB] as AMQPMessage;
          seen.set(m.bodyString() ?? '', seen.get(m.bodyString() ?? '') === true || m.redelivered);
          await m.ack();
        }
      };
      const through = NODE_NAMES.find((n) => n !== leader && n !== next) ?? next;
      await publishConfirmed(through, q, Array.from({ length: 20 }, (_, i) => `r${i}`), confirmed);
      await waitUntil(async () => {
        await pump();
        return [...confirmed].every((body) => seen.has(body));
      }, 'every confirmed message delivered to the consumers after the failover', 30_000).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}: missing ${[...confirmed].filter((body) => !seen.has(body)).join(' ')}`);
      });
      for (const body of before) assert.equal(seen.get(body), true, `${body}, out when the leader died, came back redelivered`);
      assert.equal(aCancelled || bCancelled || aClosed || b.closed, false, 'both consumers went on without a cancel or a close');
      console.log(`# consumers followed ${q} from ${leader} to ${next}: ${seen.size} distinct messages after the failover, ${confirmed.size} confirmed`);
      await a.cancel(aTag);
    } finally {
      await conn.close().catch(() => undefined);
    }

    // The killed node comes back; then a consumer on the leader itself, whose node stops leading
    // (SIGSTOP past the lease, another node takes over, SIGCONT), goes on from the new leader.
    await cluster.spawn(leader);
    const now = await leaderOf(q, f1);
    const onLeader = await clientsOf(now).channel();
    let onLeaderCancelled = false;
    await onLeader.prefetch(2);
    const { collector: got, cancelled } = await consumeInto(onLeader, q, { noAck: false });
    void cancelled.then(() => (onLeaderCancelled = true));
    await publishConfirmed(now, q, ['s0', 's1', 's2'], confirmed);
    await waitUntil(() => got.items.length === 2, 'two unacked deliveries on the leader');
    const outThen = got.items.map((m) => m.content.toString());
    cluster.node(now).process.kill('SIGSTOP');
    let after: string;
    try {
      after = await leaderOf(q, NODE_NAMES.find((n) => n !== now) as string, now);
    } finally {
      cluster.node(now).process.kill('SIGCONT');
    }
    // Each new delivery acked once (its tag is a new one: the old two are dead).
    let acked = 2;
    await waitUntil(() => {
      for (; acked < got.items.length; acked++) onLeader.ack(got.items[acked] as ConsumeMessage);
      const bodies = new Set(got.items.slice(2).map((m) => m.content.toString()));
      return ['s0', 's1', 's2'].every((s) => bodies.has(s));
    }, `the consumer on ${now} receives from ${after}`, 30_000);
    for (const m of got.items.slice(0, 2)) onLeader.ack(m);
    assert.equal((await onLeader.checkQueue(q)).queue, q, 'acks of the old tags did not close the channel');
    assert.equal(onLeaderCancelled, false, 'no basic.cancel to the consumer on the old leader');
    for (const s of outThen) assert.ok(got.items.slice(2).some((m) => m.content.toString() === s && m.fields.redelivered), `${s} redelivered by ${after}`);
  });
});
