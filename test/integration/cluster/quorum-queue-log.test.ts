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
import { NODE_NAMES, useCluster } from '../../helpers/cluster.js';
import { etcdClient } from '../../helpers/etcd.js';
import { partitionDirIn, recordsOnDisk } from '../../helpers/jepsen/checker.js';
import { deliveryCount } from '../../helpers/reliable.js';
import { CUT_RECORDS_MIN, LOG_SEGMENT_BYTES } from '../../../src/broker/queue/quorum-queues.js';

const LONG = { timeout: 480_000 } as const;
const AUTH = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };
const Q = 'qq-cut';
const LOG = `amq.qlog/${Q}`;
/** Enough 1 KiB messages for about four segments of the log (LOG_SEGMENT_BYTES, 8 MiB). */
const MESSAGES = 30_000;
/** The last ones are never acked. */
const KEPT = 10;

/** A replica's log as its data dir has it: its log start offset (partition.json) and its segments' bytes. */
async function logOnDisk(dataDir: string): Promise<{ logStart: number; bytes: number }> {
  const dir = await partitionDirIn(dataDir, LOG, 0);
  const meta = JSON.parse(await readFile(path.join(dir, 'partition.json'), 'utf8').catch(() => '{}')) as { logStartOffset?: number };
  let bytes = 0;
  for (const f of await readdir(dir)) if (f.endsWith('.log')) bytes += (await stat(path.join(dir, f)).catch(() => ({ size: 0 }))).size;
  return { logStart: meta.logStartOffset ?? 0, bytes };
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

function indexOf(body: Buffer): number {
  return Number(body.subarray(1, body.indexOf(':')).toString());
}

describe('quorum queue log cut (three nodes, amqplib)', () => {
  const { cluster, clientsOf } = useCluster();

  async function leaderVia(name: string): Promise<string | undefined> {
    try {
      const res = await fetch(`http://127.0.0.1:${cluster.node(name).httpPort}/api/queues/%2F/${Q}`, { headers: AUTH, signal: AbortSignal.timeout(2000) });
      const v = res.ok ? ((await res.json()) as { leader: string | null; online: string[] }) : undefined;
      return v?.leader !== null && v?.online.length === 3 ? v?.leader : undefined;
    } catch {
      return undefined;
    }
  }

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
    await waitUntil(async () => (leader = (await leaderVia('n1')) ?? '') !== '', `${Q} has a leader and three members online`, 20_000);
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
    // A confirmed publish after them: its commit means every Settle and Return before it is committed.
    const tail = await leaderClients.confirmChannel();
    tail.sendToQueue(Q, Buffer.from('tail:'), { persistent: true });
    await tail.waitForConfirms();

    // Every replica's log start moves up to the unacked messages (the leader cuts, lazily: once
    // CUT_RECORDS_MIN records are garbage; the followers follow), and the log shrinks.
    let after: { logStart: number; bytes: number }[] = [];
    await waitUntil(async () => {
      after = await Promise.all(NODE_NAMES.map((n) => logOnDisk(cluster.dirs.get(n) ?? '')));
      return after.every((a) => a.logStart > MESSAGES - KEPT - CUT_RECORDS_MIN && a.logStart === after[0].logStart);
    }, 'every replica\'s log start near the unacked messages', 60_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}: ${JSON.stringify(after)}`);
    });
    for (const [i, n] of NODE_NAMES.entries()) {
      console.log(`# ${n}: log ${before[i].bytes} B (start ${before[i].logStart}) after ${MESSAGES} x 1 KiB published, ${after[i].bytes} B (start ${after[i].logStart}) once acked`);
      // What stays: the segment holding the cut point and the active one (each up to a batch past its size).
      assert.ok(before[i].bytes > 3 * LOG_SEGMENT_BYTES, `${n}'s log had several segments: ${before[i].bytes} B`);
      assert.ok(after[i].bytes <= 2 * LOG_SEGMENT_BYTES + (1 << 20), `${n}'s log shrank to at most two segments: ${before[i].bytes} -> ${after[i].bytes} B`);
      assert.ok(after[i].logStart <= MESSAGES - KEPT, 'never past an unacked message');
    }

    // kill -9 of the leader: a survivor leads, replaying only from the cut.
    const followers = NODE_NAMES.filter((n) => n !== leader);
    await cluster.node(leader).kill('SIGKILL');
    let next = '';
    await waitUntil(async () => {
      try {
        const res = await fetch(`http://127.0.0.1:${cluster.node(followers[0]).httpPort}/api/queues/%2F/${Q}`, { headers: AUTH, signal: AbortSignal.timeout(2000) });
        next = ((await res.json()) as { leader: string | null }).leader ?? '';
      } catch {
        next = '';
      }
      return next !== '' && next !== leader;
    }, 'a new leader', 20_000);

    // Exactly the unacked messages and the tail, in order, redelivered, the returned one with its count.
    const got: GetMessage[] = [];
    let getter: Channel | undefined;
    await waitUntil(async () => {
      try {
        getter ??= await clientsOf(next).channel();
        const m = await withTimeout(getter.get(Q, { noAck: false }), 10_000, `basic.get on ${next}`);
        if (m === false) return got.length > 0;
        got.push(m);
        return false;
      } catch {
        getter = undefined; // still replaying: the channel was closed; again
        return false;
      }
    }, `the messages from ${next}`, 30_000);
    assert.deepEqual(got.map((m) => m.content.toString().split(':')[0]), [...Array.from({ length: KEPT }, (_, k) => `m${MESSAGES - KEPT + k}`), 'tail']);
    for (const m of got.slice(0, KEPT)) assert.equal(m.fields.redelivered, true);
    assert.deepEqual(got.map((m) => deliveryCount(m)), [1, ...Array.from({ length: KEPT }, () => 0)]);
    getter?.nackAll(true);

    // The new leader cuts past everything the killed node has: publish and ack 10,000 more.
    const killedEnd = Math.max(...(await recordsOnDisk(cluster.dirs.get(leader) ?? '', LOG, 0)).keys()) + 1;
    const pub = await clientsOf(next).confirmChannel();
    await withTimeout(publishConfirmed(pub, MESSAGES, MESSAGES + 10_000), 120_000, `10,000 publishes confirmed by ${next}`);
    const drain = await clientsOf(next).channel();
    await drain.prefetch(1000);
    let drained = 0;
    const diagnose = (): string => cluster.node(next).stderr().split('\n').filter((l) => / (warn|error) /.test(l)).slice(-10).join('\n');
    await withTimeout(
      new Promise<void>((resolve) => {
        void drain.consume(Q, (m) => {
          if (m === null) return;
          drain.ack(m);
          if (++drained === KEPT + 1 + 10_000) resolve();
        });
      }),
      120_000,
      'the queue drained',
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}: ${drained} consumed; ${next}'s warnings:\n${diagnose()}`);
    });
    await drain.close();
    const survivorDirs = followers.map((n) => cluster.dirs.get(n) ?? '');
    await waitUntil(async () => (await Promise.all(survivorDirs.map(logOnDisk))).every((a) => a.logStart > killedEnd), `the survivors cut past the killed node's log end (${killedEnd})`, 60_000);

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
