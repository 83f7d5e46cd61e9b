// Dead letters through the API: amqplib dead-letters messages (reject, TTL, max-length),
// the peek route shows why each died without consuming it, and moves take all, N or
// selected messages back where they died from, to another queue or through an exchange,
// keeping or stripping x-death; a range of a stream is replayed into a queue. The
// dead-lettering itself is checked through AMQP against RabbitMQ too (reference mode);
// the peek and move routes are Wharf's own.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Channel, GetMessage } from 'amqplib';
import { TEST_OPTS, sleep, uniqueName, waitUntil } from '../../helpers/async.js';
import { isReference } from '../../helpers/broker.js';
import { enc, useManagement, type ManagementApi } from '../../helpers/management.js';

type Json = Record<string, unknown>;
interface Item extends Json {
  position: number;
  payload: string;
  payload_bytes: number;
  payload_encoding: string;
  properties: Json & { headers?: Json };
  x_death: { reason: string; queue: string; count: number; time: number; exchange: string; 'routing-keys': string[] }[];
}
interface Peek {
  total: number;
  from: number;
  items: Item[];
}
interface Move extends Json {
  id: string;
  state: string;
  moved: number;
  skipped: number;
  total: number;
}

const wharfOnly = isReference ? 'Wharf-only route (RabbitMQ has no peek or move)' : false;

async function peek(api: ManagementApi, queue: string, query = ''): Promise<Peek> {
  return api.getJson<Peek>(`/api/wharf/queues/%2F/${enc(queue)}/messages${query}`);
}

async function startMove(api: ManagementApi, queue: string, body: Json): Promise<Move> {
  const r = await api.post(`/api/wharf/queues/%2F/${enc(queue)}/move`, body);
  assert.equal(r.status, 202, r.text);
  return r.json<Move>();
}

async function finished(api: ManagementApi, id: string): Promise<Move> {
  let last: Move | undefined;
  await waitUntil(async () => {
    last = await api.getJson<Move>(`/api/wharf/moves/${id}`);
    return last.state !== 'running';
  }, `move ${id} to finish`);
  return last as Move;
}

async function getAll(ch: Channel, queue: string): Promise<GetMessage[]> {
  const out: GetMessage[] = [];
  for (;;) {
    const m = await ch.get(queue, { noAck: true });
    if (m === false) return out;
    out.push(m);
  }
}

/** Three sources that dead-letter into one DLQ: one rejected, one expired, one pushed out by max-length. */
async function deadLetterThree(ch: Channel, del: (q: string) => string): Promise<{ dlq: string; rej: string; ttl: string; max: string }> {
  const dlq = del(uniqueName('dlq'));
  const rej = del(uniqueName('dl-rej'));
  const ttl = del(uniqueName('dl-ttl'));
  const max = del(uniqueName('dl-max'));
  const dl = { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dlq };
  await ch.assertQueue(dlq, { durable: true });
  await ch.assertQueue(rej, { durable: true, arguments: dl });
  await ch.assertQueue(ttl, { durable: true, arguments: { ...dl, 'x-message-ttl': 50 } });
  await ch.assertQueue(max, { durable: true, arguments: { ...dl, 'x-max-length': 1 } });
  ch.sendToQueue(rej, Buffer.from('rejected one'), { persistent: true, headers: { app: 'x' } });
  const m = await waitForGet(ch, rej);
  ch.nack(m, false, false);
  await waitCount(ch, dlq, 1);
  ch.sendToQueue(ttl, Buffer.from('expired one'), { persistent: true });
  await waitCount(ch, dlq, 2);
  ch.sendToQueue(max, Buffer.from('pushed out'), { persistent: true });
  ch.sendToQueue(max, Buffer.from('stays'), { persistent: true });
  await waitCount(ch, dlq, 3);
  return { dlq, rej, ttl, max };
}

async function waitForGet(ch: Channel, q: string): Promise<GetMessage> {
  let got: GetMessage | false = false;
  await waitUntil(async () => (got = await ch.get(q)) !== false, `a message in ${q}`);
  return got as unknown as GetMessage;
}

async function waitCount(ch: Channel, q: string, n: number): Promise<void> {
  await waitUntil(async () => (await ch.checkQueue(q)).messageCount === n, `${n} messages in ${q}`);
}

describe('dead letters: browse and replay', () => {
  const ctx = useManagement();

  it('dead-letters with reject, TTL and max-length, each with its x-death reason (as RabbitMQ)', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const { dlq, rej, ttl, max } = await deadLetterThree(ch, (q) => ctx.clients.deleteLater(q));
    const got = await getAll(ch, dlq);
    assert.deepEqual(got.map((m) => m.content.toString()), ['rejected one', 'expired one', 'pushed out']);
    const deaths = got.map((m) => (m.properties.headers?.['x-death'] as unknown as Json[])[0]);
    assert.deepEqual(deaths.map((d) => [d.reason, d.queue, d.count]), [['rejected', rej, 1], ['expired', ttl, 1], ['maxlen', max, 1]]);
  });

  it('peeks without consuming: why each died, properties, headers, paging and truncate', { ...TEST_OPTS, skip: wharfOnly }, async () => {
    const ch = await ctx.clients.channel();
    const { dlq, rej, ttl, max } = await deadLetterThree(ch, (q) => ctx.clients.deleteLater(q));
    const p = await peek(ctx.api, dlq);
    assert.equal(p.total, 3);
    assert.equal(p.from, 0);
    assert.deepEqual(p.items.map((i) => [i.position, i.payload, i.x_death[0].reason, i.x_death[0].queue, i.x_death[0].count]), [
      [0, 'rejected one', 'rejected', rej, 1],
      [1, 'expired one', 'expired', ttl, 1],
      [2, 'pushed out', 'maxlen', max, 1],
    ]);
    const first = p.items[0];
    assert.equal(first.exchange, '');
    assert.equal(first.routing_key, dlq);
    assert.equal(first.payload_encoding, 'string');
    assert.equal(first.payload_bytes, 12);
    assert.equal(first.properties.delivery_mode, 2);
    assert.equal(first.properties.headers?.app, 'x');
    assert.deepEqual(first.x_death[0]['routing-keys'], [rej]);
    assert.ok(Math.abs(first.x_death[0].time - Date.now() / 1000) < 60, 'x-death time is seconds since the epoch, recent');
    // Paging and truncate; nothing was consumed.
    const page = await peek(ctx.api, dlq, '?from=1&count=1&truncate=3');
    assert.deepEqual(page.items.map((i) => [i.position, i.payload, i.payload_bytes]), [[1, 'exp', 11]]);
    assert.equal((await ch.checkQueue(dlq)).messageCount, 3);
    // Bad parameters and unknown queues get RabbitMQ's error shapes.
    assert.equal((await ctx.api.get(`/api/wharf/queues/%2F/${enc(dlq)}/messages?count=-1`)).status, 400);
    assert.equal((await ctx.api.get(`/api/wharf/queues/%2F/nope-${dlq}/messages`)).status, 404);
    assert.equal((await ctx.api.get(`/api/wharf/queues/nope/${enc(dlq)}/messages`)).status, 404);
  });

  it('moves all back to where each died from, keeping x-death', { ...TEST_OPTS, skip: wharfOnly }, async () => {
    const ch = await ctx.clients.channel();
    const dlq = ctx.clients.deleteLater(uniqueName('dlq'));
    const a = ctx.clients.deleteLater(uniqueName('dl-a'));
    const b = ctx.clients.deleteLater(uniqueName('dl-b'));
    const dl = { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dlq };
    await ch.assertQueue(dlq, { durable: true });
    await ch.assertQueue(a, { durable: true, arguments: dl });
    await ch.assertQueue(b, { durable: true, arguments: dl });
    for (const [q, body] of [[a, 'a1'], [b, 'b1'], [a, 'a2']]) {
      ch.sendToQueue(q, Buffer.from(body), { persistent: true });
      ch.nack(await waitForGet(ch, q), false, false);
    }
    await waitCount(ch, dlq, 3);
    const job = await startMove(ctx.api, dlq, { destination: 'origin' });
    assert.equal(job.state, 'running');
    const done = await finished(ctx.api, job.id);
    assert.deepEqual([done.state, done.moved, done.skipped, done.total], ['done', 3, 0, 3]);
    assert.deepEqual(done.source, { vhost: '/', queue: dlq });
    assert.equal(done.destination, 'origin');
    const inA = await getAll(ch, a);
    const inB = await getAll(ch, b);
    assert.deepEqual(inA.map((m) => m.content.toString()), ['a1', 'a2']);
    assert.deepEqual(inB.map((m) => m.content.toString()), ['b1']);
    assert.equal((inA[0].properties.headers?.['x-death'] as unknown as Json[])[0].queue, a, 'x-death kept');
    assert.equal((await ch.checkQueue(dlq)).messageCount, 0);
    const list = await ctx.api.getJson<Move[]>('/api/wharf/moves');
    assert.ok(list.some((m) => m.id === job.id));
  });

  it('moves N to another queue stripping x-death, and selected positions through an exchange keeping it', { ...TEST_OPTS, skip: wharfOnly }, async () => {
    const ch = await ctx.clients.channel();
    const { dlq } = await deadLetterThree(ch, (q) => ctx.clients.deleteLater(q));
    const other = ctx.clients.deleteLater(uniqueName('dl-other'));
    await ch.assertQueue(other, { durable: true });
    const first = await finished(ctx.api, (await startMove(ctx.api, dlq, { destination: { queue: other }, count: 1, strip_x_death: true })).id);
    assert.deepEqual([first.state, first.moved, first.total], ['done', 1, 1]);
    const stripped = await getAll(ch, other);
    assert.deepEqual(stripped.map((m) => m.content.toString()), ['rejected one']);
    const h = stripped[0].properties.headers ?? {};
    assert.equal(h['x-death'], undefined);
    assert.equal(h['x-first-death-reason'], undefined);
    assert.equal(h.app, 'x', 'other headers kept');
    // Through an exchange with a routing key: only position 1 of the two left.
    const ex = ctx.clients.deleteExchangeLater(uniqueName('dl-x'));
    await ch.assertExchange(ex, 'direct', { durable: true });
    await ch.bindQueue(other, ex, 'replay');
    const second = await finished(ctx.api, (await startMove(ctx.api, dlq, { destination: { exchange: ex, routing_key: 'replay' }, positions: [1] })).id);
    assert.deepEqual([second.state, second.moved, second.total], ['done', 1, 1]);
    const kept = await getAll(ch, other);
    assert.deepEqual(kept.map((m) => [m.content.toString(), m.fields.exchange, m.fields.routingKey]), [['pushed out', ex, 'replay']]);
    assert.equal((kept[0].properties.headers?.['x-death'] as unknown as Json[])[0].reason, 'maxlen');
    // Position 0 stayed, in its place.
    assert.deepEqual((await peek(ctx.api, dlq)).items.map((i) => i.payload), ['expired one']);
  });

  it('leaves messages it cannot route (no x-death) in the source, and refuses bad requests', { ...TEST_OPTS, skip: wharfOnly }, async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.clients.deleteLater(uniqueName('dl-plain'));
    await ch.assertQueue(q, { durable: true });
    ch.sendToQueue(q, Buffer.from('never died'));
    await waitCount(ch, q, 1);
    const done = await finished(ctx.api, (await startMove(ctx.api, q, { destination: 'origin' })).id);
    assert.deepEqual([done.state, done.moved, done.skipped], ['done', 0, 1]);
    assert.equal((await ch.checkQueue(q)).messageCount, 1);
    const post = (body: unknown): Promise<number> => ctx.api.post(`/api/wharf/queues/%2F/${enc(q)}/move`, body).then((r) => r.status);
    assert.equal(await post({ destination: { queue: q } }), 400);
    assert.equal(await post({ destination: { queue: `missing-${q}` } }), 404);
    assert.equal(await post({ destination: { exchange: `missing-${q}` } }), 404);
    assert.equal(await post({ destination: 42 }), 400);
    assert.equal(await post({ destination: 'origin', positions: 'all' }), 400);
    assert.equal(await post({ destination: 'origin', count: -2 }), 400);
    assert.equal((await ctx.api.post(`/api/wharf/queues/%2F/missing-${q}/move`, { destination: 'origin' })).status, 404);
    assert.equal((await ctx.api.get('/api/wharf/moves/nope')).status, 404);
    assert.equal((await ctx.api.post(`/api/wharf/queues/%2F/${enc(q)}/move`, undefined, { raw: '{bad' })).status, 400);
  });

  it('moves 20,000 paged-out messages in order, in batches, and they survive a restart', { timeout: 120_000, skip: wharfOnly }, async () => {
    const ch = await ctx.clients.confirmChannel();
    const src = uniqueName('dl-big');
    const dst = uniqueName('dl-big-dst');
    await ch.assertQueue(src, { durable: true });
    await ch.assertQueue(dst, { durable: true });
    const n = 20_000;
    for (let i = 0; i < n; i++) ch.sendToQueue(src, Buffer.from(`m-${i}`), { persistent: true });
    await ch.waitForConfirms();
    const job = await startMove(ctx.api, src, { destination: { queue: dst }, batch_size: 500 });
    const done = await finished(ctx.api, job.id);
    assert.deepEqual([done.state, done.moved, done.total], ['done', n, n]);
    await ctx.restart();
    const ch2 = await ctx.clients.channel();
    assert.equal((await ch2.checkQueue(src)).messageCount, 0);
    const p = await peek(ctx.api, dst, '?from=19998&count=5');
    assert.equal(p.total, n);
    assert.deepEqual(p.items.map((i) => i.payload), ['m-19998', 'm-19999']);
    const head = await peek(ctx.api, dst, '?count=2');
    assert.deepEqual(head.items.map((i) => i.payload), ['m-0', 'm-1']);
    await ch2.deleteQueue(src);
    await ch2.deleteQueue(dst);
  });

  it('cancels a running move: what moved stays moved, the rest stays in the source', { timeout: 60_000, skip: wharfOnly }, async () => {
    const ch = await ctx.clients.confirmChannel();
    const src = ctx.clients.deleteLater(uniqueName('dl-cancel'));
    const dst = ctx.clients.deleteLater(uniqueName('dl-cancel-dst'));
    await ch.assertQueue(src, { durable: true });
    await ch.assertQueue(dst, { durable: true });
    const n = 5000;
    for (let i = 0; i < n; i++) ch.sendToQueue(src, Buffer.from(`m-${i}`), { persistent: true });
    await ch.waitForConfirms();
    const job = await startMove(ctx.api, src, { destination: { queue: dst }, batch_size: 1 });
    const r = await ctx.api.delete(`/api/wharf/moves/${job.id}`);
    assert.equal(r.status, 202);
    const done = await finished(ctx.api, job.id);
    assert.equal(done.state, 'cancelled');
    assert.ok(done.moved < n, `cancelled before the end (moved ${done.moved})`);
    assert.equal((await ch.checkQueue(dst)).messageCount, done.moved);
    assert.equal((await ch.checkQueue(src)).messageCount, n - done.moved);
    const first = await peek(ctx.api, src, '?count=1');
    assert.equal(first.items[0].payload, `m-${done.moved}`, 'the rest in order, from where the move stopped');
  });

  it('fails a move whose source queue is deleted under it, keeping what moved', { timeout: 60_000, skip: wharfOnly }, async () => {
    const ch = await ctx.clients.confirmChannel();
    const src = ctx.clients.deleteLater(uniqueName('dl-gone'));
    const dst = ctx.clients.deleteLater(uniqueName('dl-gone-dst'));
    await ch.assertQueue(src, { durable: true });
    await ch.assertQueue(dst, { durable: true });
    for (let i = 0; i < 5000; i++) ch.sendToQueue(src, Buffer.from(`m-${i}`), { persistent: true });
    await ch.waitForConfirms();
    const job = await startMove(ctx.api, src, { destination: { queue: dst }, batch_size: 1 });
    await ch.deleteQueue(src);
    const done = await finished(ctx.api, job.id);
    assert.equal(done.state, 'failed');
    assert.match(String(done.error), /was deleted/);
    assert.equal((await ch.checkQueue(dst)).messageCount, done.moved);
  });

  it('replays a range of a stream by offset and by time into a queue', { timeout: 60_000, skip: wharfOnly }, async () => {
    const ch = await ctx.clients.confirmChannel();
    const stream = ctx.clients.deleteLater(uniqueName('dl-stream'));
    const dst = ctx.clients.deleteLater(uniqueName('dl-stream-dst'));
    await ch.assertQueue(stream, { durable: true, arguments: { 'x-queue-type': 'stream' } });
    await ch.assertQueue(dst, { durable: true });
    for (let i = 0; i < 50; i++) ch.sendToQueue(stream, Buffer.from(`s-${i}`), { headers: { i } });
    await ch.waitForConfirms();
    await sleep(20);
    const since = Date.now();
    await sleep(20);
    for (let i = 50; i < 60; i++) ch.sendToQueue(stream, Buffer.from(`s-${i}`));
    await ch.waitForConfirms();
    const path = `/api/wharf/streams/%2F/${enc(stream)}/replay`;
    const byOffset = await ctx.api.post(path, { from_offset: 10, count: 5, destination: { queue: dst } });
    assert.equal(byOffset.status, 202, byOffset.text);
    const done = await finished(ctx.api, byOffset.json<Move>().id);
    assert.deepEqual([done.state, done.moved, done.next_offset, done.source], ['done', 5, 15, { vhost: '/', stream, partition: 0 }]);
    const got = await getAll(ch, dst);
    assert.deepEqual(got.map((m) => m.content.toString()), ['s-10', 's-11', 's-12', 's-13', 's-14']);
    assert.equal(Number(got[0].properties.headers?.['x-stream-offset']), 10);
    assert.equal(got[0].properties.headers?.i, 10);
    const byTime = await ctx.api.post(path, { from_timestamp: new Date(since).toISOString(), destination: { exchange: '', routing_key: dst } });
    assert.equal(byTime.status, 202, byTime.text);
    assert.equal((await finished(ctx.api, byTime.json<Move>().id)).moved, 10);
    assert.deepEqual((await getAll(ch, dst)).map((m) => m.content.toString()), Array.from({ length: 10 }, (_, k) => `s-${50 + k}`));
    assert.equal((await ctx.api.post(path, { destination: 'origin' })).status, 400);
    assert.equal((await ctx.api.post(`/api/wharf/streams/%2F/missing-${stream}/replay`, { destination: { queue: dst } })).status, 404);
  });
});
