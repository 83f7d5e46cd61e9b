// kill -9 the broker in the middle of a move (dead-letter replay) and of a stream
// range replay. A move writes each batch's copies and the source's removals as one
// Batch record, so after a restart every message is in exactly one of the two
// queues. A stream replay leaves the stream as it was and the destination holds a
// gap-free prefix of the range; retrying from the offset after the last copy
// (its x-stream-offset header) completes it with every record exactly once.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import amqp from 'amqplib';
import { waitUntil } from '../helpers/async.js';
import { makeDataDir, skipUnderReference, spawnBroker, type SpawnedBroker } from '../helpers/broker.js';
import { ManagementApi } from '../helpers/management.js';

const MESSAGES = 20_000;
const RECORDS = 4000;
const PAD = 'x'.repeat(2000);

interface Move {
  id: string;
  state: string;
  moved: number;
  next_offset?: number;
}

function apiOf(b: SpawnedBroker): ManagementApi {
  return new ManagementApi(`http://127.0.0.1:${b.httpPort}`);
}

/** Consumes a queue's current messages without acks: bodies and x-stream-offset headers. */
async function drain(url: string, queue: string): Promise<{ bodies: string[]; offsets: number[] }> {
  const conn = await amqp.connect(url);
  const ch = await conn.createChannel();
  const { messageCount } = await ch.checkQueue(queue);
  const bodies: string[] = [];
  const offsets: number[] = [];
  if (messageCount > 0) {
    await new Promise<void>((resolve) => {
      void ch.consume(queue, (m) => {
        if (!m) return;
        bodies.push(m.content.toString().split(' ')[0]);
        offsets.push(Number(m.properties.headers?.['x-stream-offset'] ?? -1));
        if (bodies.length === messageCount) resolve();
      }, { noAck: true });
    });
  }
  await conn.close();
  return { bodies, offsets };
}

/** Starts the POST, then kills the broker once the job reports progress (or has finished). */
async function killMidway(b: SpawnedBroker, path: string, body: unknown): Promise<Move> {
  const api = apiOf(b);
  const r = await api.post(path, body);
  assert.equal(r.status, 202, r.text);
  const id = r.json<Move>().id;
  let last: Move | undefined;
  await waitUntil(async () => {
    last = await api.getJson<Move>(`/api/wharf/moves/${id}`);
    return last.moved > 0 || last.state !== 'running';
  }, 'move progress', 60_000);
  await b.kill('SIGKILL');
  return last as Move;
}

test('kill -9 in the middle of a move leaves every message in exactly one of the two queues', { skip: skipUnderReference, timeout: 180_000 }, async () => {
  const dataDir = await makeDataDir();
  try {
    let b = await spawnBroker(dataDir);
    const conn = await amqp.connect(b.url);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue('mv-crash-src', { durable: true });
    await ch.assertQueue('mv-crash-dst', { durable: true });
    for (let i = 0; i < MESSAGES; i++) {
      ch.sendToQueue('mv-crash-src', Buffer.from(`m-${i} ${PAD.slice(0, 200)}`), { persistent: true });
      if (i % 5000 === 4999) await ch.waitForConfirms();
    }
    await ch.waitForConfirms();
    await conn.close();
    const before = await killMidway(b, '/api/wharf/queues/%2F/mv-crash-src/move', { destination: { queue: 'mv-crash-dst' }, batch_size: 50 });
    assert.equal(before.state, 'running', 'killed while the move ran');
    b = await spawnBroker(dataDir);
    const src = await drain(b.url, 'mv-crash-src');
    const dst = await drain(b.url, 'mv-crash-dst');
    await b.kill('SIGTERM');
    assert.ok(dst.bodies.length >= before.moved, `reported progress (${before.moved}) is durable (${dst.bodies.length} in the destination)`);
    assert.ok(src.bodies.length > 0 && dst.bodies.length > 0, `stopped midway: ${src.bodies.length} left, ${dst.bodies.length} moved`);
    const inSrc = new Set(src.bodies);
    assert.equal(dst.bodies.filter((x) => inSrc.has(x)).length, 0, 'no message in both queues');
    const all = new Set([...src.bodies, ...dst.bodies]);
    assert.equal(all.size, src.bodies.length + dst.bodies.length, 'no duplicates within a queue');
    const lost = Array.from({ length: MESSAGES }, (_, i) => `m-${i}`).filter((x) => !all.has(x));
    assert.deepEqual(lost.slice(0, 10), [], `${lost.length} messages lost`);
    // Moves go from the head in order: the destination has a prefix, the source the rest, both in order.
    assert.deepEqual(dst.bodies, Array.from({ length: dst.bodies.length }, (_, i) => `m-${i}`));
    assert.deepEqual(src.bodies, Array.from({ length: src.bodies.length }, (_, i) => `m-${dst.bodies.length + i}`));
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('kill -9 in the middle of a stream replay: a gap-free prefix, and a retry from the next offset completes it exactly once', { skip: skipUnderReference, timeout: 180_000 }, async () => {
  const dataDir = await makeDataDir();
  try {
    let b = await spawnBroker(dataDir);
    const conn = await amqp.connect(b.url);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue('rp-crash-stream', { durable: true, arguments: { 'x-queue-type': 'stream' } });
    await ch.assertQueue('rp-crash-dst', { durable: true });
    for (let i = 0; i < RECORDS; i++) ch.sendToQueue('rp-crash-stream', Buffer.from(`r-${i} ${PAD}`));
    await ch.waitForConfirms();
    await conn.close();
    const path = '/api/wharf/streams/%2F/rp-crash-stream/replay';
    const before = await killMidway(b, path, { from_offset: 0, destination: { queue: 'rp-crash-dst' } });
    assert.equal(before.state, 'running', 'killed while the replay ran');
    b = await spawnBroker(dataDir);
    const first = await drain(b.url, 'rp-crash-dst');
    const k = first.offsets.length;
    assert.deepEqual(first.offsets, Array.from({ length: k }, (_, i) => i), 'a gap-free prefix of the range, in order');
    assert.ok(k >= before.moved, `reported progress (${before.moved}) is durable (${k} copies)`);
    // Resume from the offset after the last copy.
    const r = await apiOf(b).post(path, { from_offset: k, destination: { queue: 'rp-crash-dst' } });
    assert.equal(r.status, 202, r.text);
    const id = r.json<Move>().id;
    await waitUntil(async () => (await apiOf(b).getJson<Move>(`/api/wharf/moves/${id}`)).state === 'done', 'resumed replay', 60_000);
    const rest = await drain(b.url, 'rp-crash-dst');
    await b.kill('SIGTERM');
    const offsets = [...first.offsets, ...rest.offsets];
    assert.deepEqual(offsets, Array.from({ length: RECORDS }, (_, i) => i), 'every record exactly once');
    assert.deepEqual([...first.bodies, ...rest.bodies].slice(0, 2), ['r-0', 'r-1']);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
