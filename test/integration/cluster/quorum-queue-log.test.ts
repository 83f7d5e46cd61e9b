// A quorum queue's log is cut (docs/cluster.md, "Quorum queues", "The log is cut"): three
// `wharf serve --cluster` processes on a private etcd, amqplib clients. After thousands of
// messages published and acked, every replica's log start offset moved past them and the log
// on disk shrank; kill -9 of the leader then: the new leader, replaying from the cut, serves
// exactly the messages that were not acked, with their delivery counts; the killed node,
// restarted after the new leader cut its log past everything the old one had, starts its copy
// at the new leader's log start and rejoins the in-sync replicas.

import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Channel, ConfirmChannel, GetMessage, Message } from 'amqplib';
import { waitUntil, withTimeout } from '../../helpers/async.js';
import { NODE_NAMES, useCluster, type TestCluster } from '../../helpers/cluster.js';
import type { Clients } from '../../helpers/amqplib.js';
import { etcdClient } from '../../helpers/etcd.js';
import { partitionDirIn, recordsOnDisk } from '../../helpers/jepsen/checker.js';
import { leaderVia, newLeader } from '../../helpers/quorum.js';
import { deliveryCount } from '../../helpers/reliable.js';
import { CUT_RECORDS_MIN, LOG_SEGMENT_BYTES, MOVE_RECORDS_MIN } from '../../../src/broker/queue/quorum-queues.js';

const LONG = { timeout: 480_000 } as const;
const AUTH = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };
const Q = 'qq-cut';
const LOG = `amq.qlog/${Q}`;
/** Enough 1 KiB messages for about four segments of the log (LOG_SEGMENT_BYTES, 8 MiB). */
const MESSAGES = 30_000;
/** The last ones are never acked. */
const KEPT = 10;

/** A replica's log as its data dir has it: its log start offset (partition.json) and its segments' bytes. */
async function logOnDisk(dataDir: string, queue = Q): Promise<{ logStart: number; bytes: number }> {
  const dir = await partitionDirIn(dataDir, `amq.qlog/${queue}`, 0);
  const meta = JSON.parse(await readFile(path.join(dir, 'partition.json'), 'utf8').catch(() => '{}')) as { logStartOffset?: number };
  let bytes = 0;
  for (const f of await readdir(dir)) if (f.endsWith('.log')) bytes += (await stat(path.join(dir, f)).catch(() => ({ size: 0 }))).size;
  return { logStart: meta.logStartOffset ?? 0, bytes };
}

/** The queue's messages (ready and unacked) as its leader `name` counts them. */
async function messagesVia(cluster: TestCluster, name: string, queue: string): Promise<number | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${cluster.node(name).httpPort}/api/queues/%2F/${queue}`, { headers: AUTH, signal: AbortSignal.timeout(2000) });
    return res.ok ? ((await res.json()) as { messages: number }).messages : undefined;
  } catch {
    return undefined;
  }
}

/** Every message `basic.get` gives from `queue` on `node` until it is empty (retrying while the queue is starting there). */
async function getAll(clients: Clients, node: string, queue: string): Promise<GetMessage[]> {
  const got: GetMessage[] = [];
  let getter: Channel | undefined;
  await waitUntil(async () => {
    try {
      getter ??= await clients.channel();
      const m = await withTimeout(getter.get(queue, { noAck: false }), 10_000, `basic.get on ${node}`);
      if (m === false) return got.length > 0;
      got.push(m);
      return false;
    } catch {
      getter = undefined; // still replaying: the channel was closed; again
      return false;
    }
  }, `the messages of ${queue} from ${node}`, 30_000);
  getter?.nackAll(true);
  return got;
}

function bodyOf(i: number): Buffer {
  return Buffer.concat([Buffer.from(`m${i}:`), Buffer.alloc(1024, 'x')]);
}

/** Publishes bodies `from`..`to`-1 with at most `window` unconfirmed; resolves once all are confirmed. */
async function publishConfirmed(ch: ConfirmChannel, from: number, to: number, window = 1000): Promise<void> {
  for (let i = from; i < to; i += window) {
    const end = Math.min(to, i + window);
    for (let k = i; k < end; k++) ch.sendToQueue(Q, bodyOf(k), { persistent: true });
    await ch.waitForConfirms();
  }
}

/** Publishes bodies `from`..`to`-1 with at most `window` unanswered; resolves with how many were nacked. */
async function publishTolerant(ch: ConfirmChannel, from: number, to: number, window = 1000): Promise<number> {
  let nacked = 0;
  for (let i = from; i < to; i += window) {
    const answers = [];
    for (let k = i; k < Math.min(to, i + window); k++) {
      answers.push(new Promise<void>((resolve) => ch.sendToQueue(Q, bodyOf(k), { persistent: true }, (err) => {
        if (err !== null && err !== undefined) nacked++;
        resolve();
      })));
    }
    await Promise.all(answers);
  }
  return nacked;
}

function indexOf(body: Buffer): number {
  return Number(body.subarray(1, body.indexOf(':')).toString());
}

describe('quorum queue log cut (three nodes, amqplib)', () => {
  const { cluster, clientsOf } = useCluster();

  async function isr(): Promise<string[]> {
    const etcd = etcdClient(cluster.etcd);
    try {
      const v = await etcd.get(`/wharf/wharf/state/stream/%2F/${encodeURIComponent(LOG)}/0/isr`).string();
      return v === null ? [] : (JSON.parse(v) as string[]);
    } finally {
      etcd.close();
    }
  }

  it('acked messages are cut from every replica\'s log; after kill -9 of the leader the new one serves exactly the unacked messages with their delivery counts; a replica restarted behind the cut catches up from the log start', LONG, async () => {
    await (await clientsOf('n1').channel()).assertQueue(Q, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    let leader = '';
    await waitUntil(async () => (leader = (await leaderVia(cluster, 'n1', Q)) ?? '') !== '', `${Q} has a leader and three members online`, 20_000);
    const leaderClients = clientsOf(leader);

    await publishConfirmed(await leaderClients.confirmChannel(), 0, MESSAGES);
    const before = await Promise.all(NODE_NAMES.map((n) => logOnDisk(cluster.dirs.get(n) ?? '')));

    // Consume everything; ack all but the last KEPT, and return the first of those once.
    const cons = await leaderClients.channel();
    await cons.prefetch(1000);
    const kept: Message[] = [];
    let returned = false;
    await new Promise<void>((resolve) => {
      void cons.consume(Q, (m) => {
        if (m === null) return;
        const i = indexOf(m.content);
        if (i < MESSAGES - KEPT) return cons.ack(m);
        if (i === MESSAGES - KEPT && !returned) {
          returned = true;
          return cons.nack(m, false, true);
        }
        kept.push(m);
        if (kept.length === KEPT) resolve();
      });
    });
    assert.equal(deliveryCount(kept.find((m) => indexOf(m.content) === MESSAGES - KEPT) as Message), 1);
    await waitUntil(async () => (await messagesVia(cluster, leader, Q)) === KEPT, `${leader} has taken every ack`, 30_000);
    // A confirmed publish after them: its commit means every Settle and Return before it is committed.
    const tail = await leaderClients.confirmChannel();
    tail.sendToQueue(Q, Buffer.from('tail:'), { persistent: true });
    await tail.waitForConfirms();

    // Every replica's log start moves up to the unacked messages (the leader cuts, lazily: once
    // CUT_RECORDS_MIN records are garbage; the followers follow), and the log shrinks.
    let after: { logStart: number; bytes: number }[] = [];
    await waitUntil(async () => {
      after = await Promise.all(NODE_NAMES.map((n) => logOnDisk(cluster.dirs.get(n) ?? '')));
      // What stays: the segment holding the cut point and the active one (each up to a batch past its size).
      const cut = (a: { logStart: number; bytes: number }): boolean => a.bytes <= 2 * LOG_SEGMENT_BYTES + (1 << 20);
      return after.every((a) => a.logStart > MESSAGES - KEPT - CUT_RECORDS_MIN && a.logStart === after[0].logStart && cut(a));
    }, 'every replica\'s log start near the unacked messages', 60_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}: ${JSON.stringify(after)}`);
    });
    for (const [i, n] of NODE_NAMES.entries()) {
      console.log(`# ${n}: log ${before[i].bytes} B (start ${before[i].logStart}) after ${MESSAGES} x 1 KiB published, ${after[i].bytes} B (start ${after[i].logStart}) once acked`);
      assert.ok(before[i].bytes > 3 * LOG_SEGMENT_BYTES, `${n}'s log had several segments: ${before[i].bytes} B`);
      assert.ok(after[i].logStart <= MESSAGES - KEPT, 'never past an unacked message');
    }

    // kill -9 of the leader: a survivor leads, replaying only from the cut.
    const followers = NODE_NAMES.filter((n) => n !== leader);
    await cluster.node(leader).kill('SIGKILL');
    const next = await newLeader(cluster, followers[0], Q, leader);

    // Exactly the unacked messages and the tail, in order, redelivered, the returned one with its count.
    const got = await getAll(clientsOf(next), next, Q);
    assert.deepEqual(got.map((m) => m.content.toString().split(':')[0]), [...Array.from({ length: KEPT }, (_, k) => `m${MESSAGES - KEPT + k}`), 'tail']);
    for (const m of got.slice(0, KEPT)) assert.equal(m.fields.redelivered, true);
    assert.deepEqual(got.map((m) => deliveryCount(m)), [1, ...Array.from({ length: KEPT }, () => 0)]);

    // The new leader cuts past everything the killed node has: publish and ack 10,000 more.
    const killedEnd = Math.max(...(await recordsOnDisk(cluster.dirs.get(leader) ?? '', LOG, 0)).keys()) + 1;
    // With two nodes left a lagging follower may leave the ISR for a moment: those publishes are
    // nacked (not enough in-sync replicas), which is fine here; the consumer acks whatever comes.
    const pub = await clientsOf(next).confirmChannel();
    const nacked = await withTimeout(publishTolerant(pub, MESSAGES, MESSAGES + 10_000), 180_000, `10,000 publishes answered by ${next}`);
    const drain = await clientsOf(next).channel();
    await drain.prefetch(1000);
    await drain.consume(Q, (m) => m !== null && drain.ack(m));
    const diagnose = (): string => cluster.node(next).stderr().split('\n').filter((l) => / (warn|error) /.test(l)).slice(-10).join('\n');
    await waitUntil(async () => (await messagesVia(cluster, next, Q)) === 0, `the queue drained (${nacked} publishes nacked)`, 120_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; ${next}'s warnings:\n${diagnose()}`);
    });
    await drain.close();
    const survivorDirs = followers.map((n) => cluster.dirs.get(n) ?? '');
    await waitUntil(async () => (await Promise.all(survivorDirs.map((d) => logOnDisk(d)))).every((a) => a.logStart > killedEnd), `the survivors cut past the killed node's log end (${killedEnd})`, 60_000);

    // The killed node restarts: its log starts again at the new leader's log start, and it rejoins the ISR.
    await cluster.spawn(leader);
    await waitUntil(async () => (await isr()).includes(leader), `${leader} back in the in-sync replicas`, 60_000).catch((err: unknown) => {
      const lines = cluster.node(leader).stderr().split('\n').filter((l) => l.includes('qlog'));
      throw new Error(`${(err as Error).message}; its log lines about ${LOG}:\n${lines.slice(-15).join('\n')}`);
    });
    const leaderStart = (await logOnDisk(cluster.dirs.get(next) ?? '')).logStart;
    await waitUntil(async () => (await logOnDisk(cluster.dirs.get(leader) ?? '')).logStart >= leaderStart, `${leader}'s log start at the leader's`, 30_000);
    assert.match(cluster.node(leader).stderr(), /the leader no longer has the records this replica needs/);
    // Nothing was lost on the way: the queue is empty and takes and serves a message.
    const last = await clientsOf(next).confirmChannel();
    last.sendToQueue(Q, Buffer.from('last:'), { persistent: true });
    await last.waitForConfirms();
    const check = await clientsOf(next).channel();
    const m = await check.get(Q, { noAck: true });
    assert.ok(m !== false);
    assert.equal(m.content.toString(), 'last:');
  });
});

describe('quorum queue log pinned by an old unacked message (three nodes, amqplib)', () => {
  const { cluster, clientsOf } = useCluster();
  const PIN = 'qq-pin';
  const FLOW = MOVE_RECORDS_MIN + 8_000;

  it('a message a consumer holds while many flow past is moved to the log\'s tail, so every replica cuts past it; after kill -9 of the leader it comes back with its delivery count', LONG, async () => {
    await (await clientsOf('n1').channel()).assertQueue(PIN, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    let leader = '';
    await waitUntil(async () => (leader = (await leaderVia(cluster, 'n1', PIN)) ?? '') !== '', `${PIN} has a leader and three members online`, 20_000);
    const clients = clientsOf(leader);
    const pub = await clients.confirmChannel();
    pub.sendToQueue(PIN, Buffer.from('pin'), { persistent: true });
    await pub.waitForConfirms();

    // A consumer takes the pin, returns it once and holds it again (prefetch 1: nothing else for it).
    const holder = await clients.channel();
    await holder.prefetch(1);
    let held: Message | undefined;
    await new Promise<void>((resolve) => {
      let returned = false;
      void holder.consume(PIN, (m) => {
        if (m === null) return;
        if (!returned) {
          returned = true;
          return holder.nack(m, false, true);
        }
        held = m;
        resolve();
      });
    });
    assert.equal(deliveryCount(held as Message), 1);

    // Many more flow past it, each acked.
    const acker = await clients.channel();
    await acker.prefetch(1000);
    let acked = 0;
    const { consumerTag } = await acker.consume(PIN, (m) => {
      if (m === null) return;
      acker.ack(m);
      acked++;
    });
    const body = Buffer.alloc(100, 'x');
    for (let i = 0; i < FLOW; i += 1000) {
      for (let k = i; k < Math.min(FLOW, i + 1000); k++) pub.sendToQueue(PIN, body, { persistent: true });
      await pub.waitForConfirms();
    }
    await waitUntil(() => acked === FLOW, `${FLOW} acked`, 60_000);
    await acker.cancel(consumerTag);
    // Once the leader has taken every ack, a confirmed publish after them means their Settles are committed.
    await waitUntil(async () => (await messagesVia(cluster, leader, PIN)) === 1, `${leader} has taken every ack`, 30_000);
    pub.sendToQueue(PIN, Buffer.from('tail'), { persistent: true });
    await pub.waitForConfirms();

    // The pin (offset 0) no longer holds the log: every replica's log start passes it.
    let starts: number[] = [];
    await waitUntil(async () => {
      starts = (await Promise.all(NODE_NAMES.map((n) => logOnDisk(cluster.dirs.get(n) ?? '', PIN)))).map((a) => a.logStart);
      return starts.every((s) => s > FLOW / 2);
    }, 'every replica\'s log start past the held message', 60_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}: ${starts.join(', ')}`);
    });
    console.log(`# log starts with the pin held: ${starts.join(', ')}`);

    // kill -9 of the leader: the new one serves the pin, redelivered, with its count, then the tail, and nothing else.
    await cluster.node(leader).kill('SIGKILL');
    const survivor = NODE_NAMES.find((n) => n !== leader) ?? '';
    const next = await newLeader(cluster, survivor, PIN, leader);
    const got = await getAll(clientsOf(next), next, PIN);
    // In either order: the move may come before or after the tail's publish (docs/cluster.md, "Limits").
    assert.deepEqual(got.map((m) => m.content.toString()).sort(), ['pin', 'tail']);
    const pin = got.find((m) => m.content.toString() === 'pin') as Message;
    const tail = got.find((m) => m.content.toString() === 'tail') as Message;
    assert.equal(pin.fields.redelivered, true);
    assert.deepEqual([deliveryCount(pin), deliveryCount(tail)], [1, 0]);
  });
});
