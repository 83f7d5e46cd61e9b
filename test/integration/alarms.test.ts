// Memory and free-disk alarms (RabbitMQ's resource alarms) through amqplib and
// a raw socket: a connection that publishes while an alarm is in effect is told
// connection.blocked and is no longer read; consumers on other connections keep
// draining; when every alarm clears, connection.unblocked, and the publishes it
// sent meanwhile are handled, none lost. Thresholds are changed at runtime
// through the embedding handle, so the suite is Wharf's own (RabbitMQ's
// equivalent is rabbitmqctl set_vm_memory_high_watermark / set_disk_free_limit).

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { AMQPClient, type AMQPMessage } from '@cloudamqp/amqp-client';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { Collector, SETTLE_MS, TEST_OPTS, once, sleep, uniqueName, waitUntil } from '../helpers/async.js';
import { makeDataDir, skipUnderReference, spawnBroker } from '../helpers/broker.js';
import { Clients, bodies, consumeInto, sendAll, useBroker, watchOf, type AmqpError } from '../helpers/amqplib.js';
import { FRAME_BODY, FRAME_METHOD, RawAmqp, contentHeaderFrame, frame, method } from '../helpers/raw-amqp.js';
import type { ResourceLimits } from '../../src/index.js';

/** Limits no test machine reaches: no alarm. */
const NO_ALARM: ResourceLimits = {
  memoryHighWatermark: { bytes: Number.MAX_SAFE_INTEGER },
  diskFreeLimit: { bytes: 0 },
};
const MEMORY_ALARM = { memoryHighWatermark: { bytes: 1 } };
const DISK_ALARM = { diskFreeLimit: { bytes: Number.MAX_SAFE_INTEGER } };

describe('resource alarms', { skip: skipUnderReference }, () => {
  const ctx = useBroker(NO_ALARM, { beforeClose: () => ctx.broker.handle.setResourceLimits(NO_ALARM) });

  const blockedCount = (): number => ctx.broker.handle.resources().blockedConnections;

  it('memory alarm: the publisher is blocked, a consumer drains, and held publishes arrive after unblock', TEST_OPTS, async () => {
    const queue = ctx.clients.deleteLater(uniqueName('alarm-mem'));
    const pubConn = await ctx.clients.connect();
    const pub = await ctx.clients.confirmChannel(pubConn);
    await pub.assertQueue(queue, { durable: true });
    sendAll(pub, queue, ['a1', 'a2'], { persistent: true });
    await pub.waitForConfirms();

    const status = await ctx.broker.handle.setResourceLimits(MEMORY_ALARM);
    assert.deepEqual(status.alarms, ['memory']);
    assert.deepEqual(ctx.broker.handle.alarms(), ['memory']);
    assert.ok(status.memory.usedBytes > status.memory.limitBytes);

    // Consumers keep working during the alarm: what was queued before is delivered and acked.
    const consCh = await ctx.clients.channel();
    const { collector } = await consumeInto(consCh, queue);
    for (const m of await collector.waitFor(2)) consCh.ack(m);

    // The next publish blocks the publisher's connection; the ones after it wait unread.
    const blocked = once<[string]>(pubConn, 'blocked');
    sendAll(pub, queue, ['b1'], { persistent: true });
    const [reason] = await blocked;
    assert.equal(reason, 'low on memory');
    sendAll(pub, queue, ['b2', 'b3'], { persistent: true });
    const confirmed = pub.waitForConfirms();
    await waitUntil(() => blockedCount() === 1, 'the publisher is blocked');
    await collector.waitFor(3);
    await sleep(SETTLE_MS);
    assert.deepEqual(bodies(collector.items), ['a1', 'a2', 'b1'], 'b2 and b3 are held while blocked');
    // The consuming connection is not blocked: it still gets replies.
    assert.equal((await consCh.checkQueue(queue)).consumerCount, 1);
    assert.equal(blockedCount(), 1);

    const unblocked = once(pubConn, 'unblocked');
    const cleared = await ctx.broker.handle.setResourceLimits(NO_ALARM);
    assert.deepEqual(cleared.alarms, []);
    await unblocked;
    await confirmed;
    assert.deepEqual(bodies(await collector.waitFor(5)), ['a1', 'a2', 'b1', 'b2', 'b3']);
    assert.equal(blockedCount(), 0);
    assert.deepEqual(watchOf(pubConn).errors, []);
  });

  it('disk alarm: a connection opened during the alarm is blocked at its first publish, with /api/health showing it', TEST_OPTS, async () => {
    const status = await ctx.broker.handle.setResourceLimits(DISK_ALARM);
    assert.deepEqual(status.alarms, ['disk']);
    assert.ok(status.disk.freeBytes !== null && status.disk.freeBytes < status.disk.limitBytes);

    const queue = ctx.clients.deleteLater(uniqueName('alarm-disk'));
    const pubConn = await ctx.clients.connect();
    const pub = await ctx.clients.channel(pubConn);
    await pub.assertQueue(queue);
    const blocked = once<[string]>(pubConn, 'blocked');
    sendAll(pub, queue, ['d1', 'd2', 'd3']);
    assert.deepEqual(await blocked, ['low on disk']);
    await waitUntil(() => blockedCount() === 1, 'the publisher is blocked');

    const health = JSON.parse(await httpGet(ctx.broker.handle.httpPort, '/api/health')) as Record<string, unknown>;
    assert.equal(health.status, 'ok');
    assert.deepEqual(health.alarms, ['disk']);
    assert.equal(health.blockedConnections, 1);

    // Only the publish that blocked the connection was handled; the rest wait unread.
    const other = await ctx.clients.channel();
    await sleep(SETTLE_MS);
    assert.equal((await other.checkQueue(queue)).messageCount, 1);

    const unblocked = once(pubConn, 'unblocked');
    await ctx.broker.handle.setResourceLimits(NO_ALARM);
    await unblocked;
    const { collector } = await consumeInto(other, queue, { noAck: true });
    assert.deepEqual(bodies(await collector.waitFor(3)), ['d1', 'd2', 'd3']);
  });

  it('with both alarms, a blocked connection is unblocked only when both have cleared', TEST_OPTS, async () => {
    const queue = ctx.clients.deleteLater(uniqueName('alarm-both'));
    const pubConn = await ctx.clients.connect();
    const pub = await ctx.clients.channel(pubConn);
    await pub.assertQueue(queue);
    const events: string[] = [];
    pubConn.on('blocked', (reason: string) => events.push(`blocked: ${reason}`));
    pubConn.on('unblocked', () => events.push('unblocked'));

    await ctx.broker.handle.setResourceLimits({ ...MEMORY_ALARM, ...DISK_ALARM });
    const blocked = once(pubConn, 'blocked');
    sendAll(pub, queue, ['x1', 'x2']);
    await blocked;
    await waitUntil(() => blockedCount() === 1, 'the publisher is blocked');

    assert.deepEqual((await ctx.broker.handle.setResourceLimits({ memoryHighWatermark: NO_ALARM.memoryHighWatermark })).alarms, ['disk']);
    await sleep(SETTLE_MS);
    assert.equal(blockedCount(), 1, 'still blocked by the disk alarm');

    const unblocked = once(pubConn, 'unblocked');
    await ctx.broker.handle.setResourceLimits(NO_ALARM);
    await unblocked;
    assert.deepEqual(events, ['blocked: low on memory & disk', 'unblocked']);
    const consCh = await ctx.clients.channel();
    const { collector } = await consumeInto(consCh, queue, { noAck: true });
    assert.deepEqual(bodies(await collector.waitFor(2)), ['x1', 'x2']);
  });

  it('connections that do not publish during the alarm are not blocked, even one that published before', TEST_OPTS, async () => {
    const queue = ctx.clients.deleteLater(uniqueName('alarm-consume'));
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    await ch.assertQueue(queue);
    sendAll(ch, queue, ['c1', 'c2', 'c3']);
    await waitUntil(async () => (await ch.checkQueue(queue)).messageCount === 3, 'three messages are queued');
    let blockedEvents = 0;
    conn.on('blocked', () => blockedEvents++);

    await ctx.broker.handle.setResourceLimits(MEMORY_ALARM);
    // Consume, ack, declare: all answered.
    const { collector } = await consumeInto(ch, queue);
    for (const m of await collector.waitFor(3)) ch.ack(m);
    const other = await ch.assertQueue(uniqueName('alarm-consume-2'), { exclusive: true });
    assert.equal(other.messageCount, 0);
    await waitUntil(async () => (await ch.checkQueue(queue)).messageCount === 0, 'the acks are handled');
    assert.equal(blockedCount(), 0);
    assert.equal(blockedEvents, 0);
  });

  it('a blocked connection is not closed for missed heartbeats', { ...TEST_OPTS, timeout: 60_000 }, async () => {
    const conn = await ctx.clients.connect(undefined, `${ctx.broker.url}?heartbeat=1`);
    const ch = await ctx.clients.channel(conn);
    const { queue } = await ch.assertQueue('', { exclusive: true });
    const closed = new Collector<unknown>();
    conn.on('close', closed.push);

    await ctx.broker.handle.setResourceLimits(MEMORY_ALARM);
    const blocked = once(conn, 'blocked');
    sendAll(ch, queue, ['h1', 'h2']);
    await blocked;
    // Over twice the heartbeat timeout (2 x 1 s) without reading the client's heartbeats.
    await sleep(3000);
    assert.equal(closed.length, 0);

    const unblocked = once(conn, 'unblocked');
    await ctx.broker.handle.setResourceLimits(NO_ALARM);
    await unblocked;
    const { collector } = await consumeInto(ch, queue, { noAck: true });
    assert.deepEqual(bodies(await collector.waitFor(2)), ['h1', 'h2']);
    assert.equal(closed.length, 0);
  });

  it('a client without the connection.blocked capability is blocked without being told', TEST_OPTS, async () => {
    const { raw } = await RawAmqp.open(ctx.broker.port, ctx.broker.host); // its client-properties have no capabilities
    try {
      await raw.openChannel(1);
      const queue = uniqueName('alarm-raw');
      raw.write(method.queueDeclare(1, queue, 0b100)); // exclusive
      await raw.expectMethod(50, 11);

      await ctx.broker.handle.setResourceLimits(MEMORY_ALARM);
      const body = Buffer.from('r1');
      raw.write(Buffer.concat([
        method.basicPublish(1, '', queue),
        contentHeaderFrame(1, body.length),
        frame(FRAME_BODY, 1, body),
        method.queueDeclare(1, queue, 0b001), // passive: answered only once the connection is read again
      ]));
      await waitUntil(() => blockedCount() === 1, 'the raw connection is blocked');
      // The declare came in the same read as the publish, yet waits: nothing is answered while blocked.
      await assert.rejects(raw.nextFrame(SETTLE_MS), /timed out/);

      await ctx.broker.handle.setResourceLimits(NO_ALARM);
      let next = await raw.nextFrame();
      while (next.type !== FRAME_METHOD) next = await raw.nextFrame(); // heartbeats, if any
      assert.deepEqual([next.classId, next.methodId], [50, 11], 'no connection.blocked/unblocked before declare-ok');
      assert.equal(next.payload.readUInt32BE(4 + 1 + Buffer.byteLength(queue)), 1, 'declare-ok counts the publish');
    } finally {
      raw.destroy();
    }
  });

  it('@cloudamqp/amqp-client hears blocked and unblocked, and its publish before the block arrives', TEST_OPTS, async () => {
    const client = new AMQPClient(ctx.broker.url);
    const events: string[] = [];
    client.onblocked = (reason) => events.push(`blocked: ${reason}`);
    client.onunblocked = () => events.push('unblocked');
    const conn = await client.connect();
    try {
      const ch = await conn.channel();
      const queue = uniqueName('alarm-cloudamqp');
      await ch.queueDeclare(queue, { exclusive: true });
      await ctx.broker.handle.setResourceLimits(DISK_ALARM);
      await ch.basicPublish('', queue, 'p1');
      await waitUntil(() => events.length === 1, 'connection.blocked reaches the client');
      assert.deepEqual(events, ['blocked: low on disk']);
      assert.equal(conn.blocked, 'low on disk');
      await ctx.broker.handle.setResourceLimits(NO_ALARM);
      await waitUntil(() => events.length === 2, 'connection.unblocked reaches the client');
      assert.deepEqual(events, ['blocked: low on disk', 'unblocked']);
      const got = new Collector<AMQPMessage>();
      await ch.basicConsume(queue, { noAck: true }, (m) => got.push(m));
      assert.deepEqual((await got.waitFor(1)).map((m) => m.bodyToString()), ['p1']);
    } finally {
      await conn.close().catch(() => undefined);
    }
  });

  it('refuses invalid limits at runtime', TEST_OPTS, async () => {
    await assert.rejects(
      ctx.broker.handle.setResourceLimits({ memoryHighWatermark: { relative: -1 } }),
      /memoryHighWatermark must be/,
    );
    await assert.rejects(
      ctx.broker.handle.setResourceLimits({ diskFreeLimit: { bytes: Number.NaN } }),
      /diskFreeLimit must be/,
    );
    assert.deepEqual(ctx.broker.handle.alarms(), []);
  });
});

describe('resource alarms: wharf serve flags', { skip: skipUnderReference }, () => {
  it('--memory-high-watermark 0 blocks every publisher from the start (RabbitMQ: watermark 0 stops all publishing)', TEST_OPTS, async () => {
    const dataDir = await makeDataDir();
    const wharf = await spawnBroker(dataDir, ['--memory-high-watermark', '0', '--disk-free-limit', '1kB']);
    const clients = new Clients(wharf.url);
    try {
      const health = JSON.parse(await httpGet(wharf.httpPort, '/api/health')) as Record<string, unknown>;
      assert.deepEqual(health.alarms, ['memory']);
      assert.deepEqual(health.memory, { usedBytes: (health.memory as { usedBytes: number }).usedBytes, limitBytes: 0, highWatermark: { relative: 0 } });
      assert.equal((health.disk as { limitBytes: number }).limitBytes, 1000);

      const conn = await clients.connect();
      const ch = await clients.channel(conn);
      const { queue } = await ch.assertQueue('', { exclusive: true });
      const blocked = once<[string]>(conn, 'blocked');
      sendAll(ch, queue, ['s1']);
      assert.deepEqual(await blocked, ['low on memory']);

      // Shutdown reaches a blocked connection too: it is read again to see its close-ok.
      // (amqplib reports 320 as a 'close' with the reason, not an 'error'.)
      const closed = once<[AmqpError | undefined]>(conn, 'close');
      assert.equal(await wharf.kill('SIGTERM'), 0);
      const [err] = await closed;
      assert.equal(err?.code, 320);
      assert.match(err.message, /"CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"/);
    } finally {
      await clients.closeAll();
      await wharf.kill('SIGTERM');
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

function httpGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}
