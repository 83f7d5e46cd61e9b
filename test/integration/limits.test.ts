// Resource limits seen by clients (docs/limits.md): the maximum message size
// (RabbitMQ's max_message_size), tune-ok values outside the server's proposal,
// channel-max, frame-max, and the per-connection bound on publish data that
// waits for confirms.
//
// Reference mode: the max-message-size tests need a RabbitMQ started with
// `max_message_size = 1024`, e.g.
//   WHARF_REFERENCE_CONF_EXTRA='max_message_size = 1024' scripts/reference-rabbitmq.sh start 36200 /tmp/wharf-ref-limits
//   WHARF_TEST_REFERENCE_URL=amqp://guest:guest@127.0.0.1:36200 WHARF_TEST_REFERENCE_MAX_MESSAGE_SIZE=1024 node --test ...
// and skip against a reference with another limit.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TEST_OPTS, WAIT_MS, sleep, uniqueName, withTimeout } from '../helpers/async.js';
import { isReference, skipUnderReference } from '../helpers/broker.js';
import { useBroker, type AmqpError } from '../helpers/amqplib.js';
import {
  FRAME_BODY,
  FRAME_METHOD,
  PROTOCOL_HEADER,
  RawAmqp,
  contentHeaderFrame,
  frame,
  method,
  methodFrame,
  shortstr,
  u16,
  u8,
  type Frame,
} from '../helpers/raw-amqp.js';

const MAX_MESSAGE_BYTES = 1024;
const skipMaxSize: string | false =
  isReference && process.env.WHARF_TEST_REFERENCE_MAX_MESSAGE_SIZE !== String(MAX_MESSAGE_BYTES)
    ? `needs a reference RabbitMQ with max_message_size = ${MAX_MESSAGE_BYTES} (WHARF_TEST_REFERENCE_MAX_MESSAGE_SIZE)`
    : false;
const tooLargeText = (size: number): string =>
  `PRECONDITION_FAILED - message size ${size} is larger than configured max size ${MAX_MESSAGE_BYTES}`;

function publishMethod(ch: number, exchange: string, routingKey: string): Buffer {
  return methodFrame(ch, 60, 40, Buffer.concat([u16(0), shortstr(exchange), shortstr(routingKey), u8(0)]));
}

/** delivery-mode 2 (persistent) as the only property. */
const PERSISTENT_PROPERTIES = Buffer.from([0x10, 0x00, 2]);

describe('max message size', () => {
  const ctx = useBroker({ maxMessageSize: MAX_MESSAGE_BYTES }, { beforeClose: () => RawAmqp.destroyAll() });

  it('accepts a body of exactly the limit and closes the channel with 406 above it; the connection stays', { ...TEST_OPTS, skip: skipMaxSize }, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.confirmChannel(conn);
    const errors: AmqpError[] = [];
    ch.on('error', (e: AmqpError) => errors.push(e));
    const closed = new Promise<void>((resolve) => ch.once('close', () => resolve()));
    ch.publish('amq.direct', uniqueName(), Buffer.alloc(MAX_MESSAGE_BYTES));
    await ch.waitForConfirms();
    ch.publish('amq.direct', uniqueName(), Buffer.alloc(MAX_MESSAGE_BYTES + 1));
    await assert.rejects(ch.waitForConfirms());
    await withTimeout(closed, WAIT_MS, 'the channel to close');
    assert.deepEqual(
      errors.map((e) => [e.code, e.message.replace(/^.*with message "(.*)"$/, '$1'), e.classId, e.methodId]),
      [[406, tooLargeText(MAX_MESSAGE_BYTES + 1), 60, 40]],
    );
    const other = await ctx.clients.channel(conn);
    await other.checkExchange('amq.direct');
  });

  it('skips the rest of the refused body and serves the channel number again', { ...TEST_OPTS, skip: skipMaxSize }, async () => {
    const { raw } = await RawAmqp.open(ctx.broker.port, ctx.broker.host);
    await raw.openChannel(1);
    const size = 3 * MAX_MESSAGE_BYTES;
    raw.write(publishMethod(1, 'amq.direct', 'nowhere'));
    raw.write(contentHeaderFrame(1, size));
    // The body in three frames: RabbitMQ answers after the last, Wharf already at the header.
    for (let i = 0; i < 3; i++) raw.write(frame(FRAME_BODY, 1, Buffer.alloc(MAX_MESSAGE_BYTES, i)));
    const close = await raw.expectChannelClose(1);
    assert.deepEqual([close.replyCode, close.replyText, close.classId, close.methodId], [406, tooLargeText(size), 60, 40]);
    await raw.openChannel(1);
    raw.write(method.queueDeclare(1, uniqueName()));
    await raw.expectMethod(50, 11);
  });

  it('answers at the content header without waiting for (or keeping) the body', { ...TEST_OPTS, skip: skipUnderReference }, async () => {
    // RabbitMQ 3.10 reads the whole body first; Wharf refuses at the header, so a
    // 500 MB announcement costs nothing.
    const { raw } = await RawAmqp.open(ctx.broker.port, ctx.broker.host);
    await raw.openChannel(1);
    raw.write(publishMethod(1, 'amq.direct', 'nowhere'));
    raw.write(contentHeaderFrame(1, 500_000_000));
    const close = await raw.expectChannelClose(1);
    assert.equal(close.replyText, tooLargeText(500_000_000));
    assert.equal(ctx.broker.handle.publishBudgets().bytes, 0);
  });

  it('refuses a payload above the limit on the HTTP publish route as RabbitMQ does (400 with the 406 text)', { ...TEST_OPTS, skip: skipUnderReference }, async () => {
    // RabbitMQ 3.10's management plugin, max_message_size = 1024, checked by hand:
    //   {"error":"bad_request","reason":"406 PRECONDITION_FAILED - message size 1025 is larger than configured max size 1024"}
    const post = (payload: string): Promise<Response> =>
      fetch(`http://127.0.0.1:${ctx.broker.handle.httpPort}/api/exchanges/%2F/amq.direct/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
        body: JSON.stringify({ properties: {}, routing_key: 'x', payload, payload_encoding: 'string' }),
      });
    const ok = await post('a'.repeat(MAX_MESSAGE_BYTES));
    assert.deepEqual([ok.status, await ok.json()], [200, { routed: false }]);
    const refused = await post('a'.repeat(MAX_MESSAGE_BYTES + 1));
    assert.deepEqual([refused.status, await refused.json()], [
      400,
      { error: 'bad_request', reason: `406 ${tooLargeText(MAX_MESSAGE_BYTES + 1)}` },
    ]);
  });
});

describe('tune-ok, channel-max and frame-max', () => {
  const ctx = useBroker(undefined, { beforeClose: () => RawAmqp.destroyAll() });

  /** Handshake up to tune-ok with these values; resolves with the server's next frame, or undefined when it hangs up. */
  async function afterTuneOk(tune: { channelMax: number; frameMax: number }): Promise<Frame | undefined> {
    const raw = await RawAmqp.connect(ctx.broker.port, ctx.broker.host);
    raw.write(PROTOCOL_HEADER);
    await raw.expectMethod(10, 10);
    raw.write(method.startOk('guest', 'guest', false));
    await raw.expectMethod(10, 30);
    raw.write(method.tuneOk({ ...tune, heartbeat: 0 }));
    raw.write(method.open('/'));
    try {
      return await raw.nextFrame(WAIT_MS);
    } catch (err) {
      if (!raw.isClosed) throw err;
      return undefined;
    } finally {
      raw.destroy();
    }
  }

  for (const [what, tune] of [
    ['frame_max above the server\'s', { channelMax: 2047, frameMax: 131073 }],
    ['frame_max 0 (no limit)', { channelMax: 2047, frameMax: 0 }],
    ['frame_max below 4096', { channelMax: 2047, frameMax: 4095 }],
    ['channel_max above the server\'s', { channelMax: 2048, frameMax: 131072 }],
    ['channel_max 0 (no limit)', { channelMax: 0, frameMax: 131072 }],
  ] as const) {
    it(`hangs up without connection.close on a tune-ok with ${what}, as RabbitMQ 3.10 does`, TEST_OPTS, async () => {
      const reply = await afterTuneOk(tune);
      assert.equal(reply, undefined, `expected the socket to close, got frame ${reply?.classId}.${reply?.methodId}`);
    });
  }

  it('accepts the server\'s own values and lower ones', TEST_OPTS, async () => {
    for (const tune of [{ channelMax: 2047, frameMax: 131072 }, { channelMax: 1, frameMax: 4096 }]) {
      const reply = await afterTuneOk(tune);
      assert.deepEqual([reply?.classId, reply?.methodId], [10, 41], JSON.stringify(tune));
    }
  });

  it('counts channels against channel_max, not channel numbers (RabbitMQ accepts channel 5 with channel_max 2)', TEST_OPTS, async () => {
    const { raw } = await RawAmqp.open(ctx.broker.port, ctx.broker.host, { channelMax: 2 });
    await raw.openChannel(5);
    await raw.openChannel(65535);
    raw.write(method.channelOpen(1));
    const close = await raw.expectConnectionClose();
    assert.deepEqual(
      [close.replyCode, close.replyText],
      [530, 'NOT_ALLOWED - number of channels opened (2) has reached the negotiated channel_max (2)'],
    );
  });

  it('closes with RabbitMQ\'s 501 FRAME_ERROR text on a frame above the negotiated frame_max', TEST_OPTS, async () => {
    const { raw } = await RawAmqp.open(ctx.broker.port, ctx.broker.host, { frameMax: 8192 });
    await raw.openChannel(1);
    // Above the limit for both: RabbitMQ 3.10 only refuses a payload above frame_max itself
    // (8 bytes of slack), Wharf one whose whole frame is above it (AMQP 0-9-1 §4.2.3).
    raw.write(frame(FRAME_METHOD, 1, Buffer.alloc(9000)));
    const close = await raw.expectConnectionClose();
    assert.deepEqual([close.replyCode, close.replyText], [501, 'FRAME_ERROR - type 1, all octets = <<>>: {frame_too_large,9000,8184}']);
  });
});

describe('publish budget: unconfirmed publish data per connection', () => {
  const BUDGET_BYTES = 1024 * 1024;
  const MESSAGE_BYTES = 64 * 1024;
  const ctx = useBroker({ maxUnconfirmedBytes: BUDGET_BYTES }, { beforeClose: () => RawAmqp.destroyAll() });

  it('stops reading a publisher whose confirms wait, within its budget, and catches up once they are sent', { ...TEST_OPTS, timeout: 60_000, skip: skipUnderReference }, async () => {
    const setup = await ctx.clients.channel();
    const queue = uniqueName();
    await setup.assertQueue(queue, { durable: true });
    const { raw } = await RawAmqp.open(ctx.broker.port, ctx.broker.host);
    await raw.openChannel(1);
    raw.write(methodFrame(1, 85, 10, u8(0))); // confirm.select
    await raw.expectMethod(85, 11);
    const release = ctx.broker.handle.holdDurability();
    const count = 256; // 16 MiB: sixteen times the budget
    const oneMessage = Buffer.concat([
      publishMethod(1, '', queue),
      contentHeaderFrame(1, MESSAGE_BYTES, PERSISTENT_PROPERTIES),
      // Two body frames: each under the default frame_max.
      frame(FRAME_BODY, 1, Buffer.alloc(MESSAGE_BYTES / 2, 1)),
      frame(FRAME_BODY, 1, Buffer.alloc(MESSAGE_BYTES / 2, 2)),
    ]);
    for (let i = 0; i < count; i++) raw.write(oneMessage);
    // Wait until the broker stops reading: its confirms cannot go out while fsyncs are held.
    const deadline = Date.now() + WAIT_MS;
    while (ctx.broker.handle.publishBudgets().pausedConnections === 0) {
      assert.ok(Date.now() < deadline, 'the publisher was never paused');
      await sleep(10);
    }
    await sleep(200); // would more be read while paused? (it must not)
    const held = ctx.broker.handle.publishBudgets();
    // The budget, plus at most one socket read (64 KiB) handled before the check.
    const slackBytes = 64 * 1024 + MESSAGE_BYTES;
    assert.ok(held.bytes <= BUDGET_BYTES + slackBytes, `${held.bytes} bytes held`);
    assert.ok(held.peakBytes <= BUDGET_BYTES + slackBytes, `${held.peakBytes} bytes at the peak`);
    assert.ok(held.bytes >= BUDGET_BYTES, `only ${held.bytes} bytes held when paused`);
    release();
    // Every publish is confirmed in the end, and every message is in the queue.
    let confirmed = 0;
    while (confirmed < count) {
      const f = await raw.expectMethod(60, 80);
      confirmed = Number(f.payload.readBigUInt64BE(4));
    }
    assert.equal((await setup.checkQueue(queue)).messageCount, count);
    const after = ctx.broker.handle.publishBudgets();
    assert.equal(after.bytes, 0);
    assert.equal(after.pausedConnections, 0);
    assert.ok(after.pauses >= 1);
    await setup.deleteQueue(queue);
  });

  it('stops reading a publisher that leaves its basic.returns unread, and catches up when it reads', { ...TEST_OPTS, timeout: 60_000, skip: skipUnderReference }, async () => {
    const { raw } = await RawAmqp.open(ctx.broker.port, ctx.broker.host);
    await raw.openChannel(1);
    raw.socket.pause(); // the client stops reading: each return (with its 64 KiB body) waits in the broker
    const count = 256;
    const oneMessage = Buffer.concat([
      methodFrame(1, 60, 40, Buffer.concat([u16(0), shortstr('amq.direct'), shortstr(uniqueName()), u8(1 /* mandatory */)])),
      contentHeaderFrame(1, MESSAGE_BYTES),
      frame(FRAME_BODY, 1, Buffer.alloc(MESSAGE_BYTES / 2, 1)),
      frame(FRAME_BODY, 1, Buffer.alloc(MESSAGE_BYTES / 2, 2)),
    ]);
    for (let i = 0; i < count; i++) raw.write(oneMessage);
    const deadline = Date.now() + WAIT_MS;
    while (ctx.broker.handle.publishBudgets().pausedConnections === 0) {
      assert.ok(Date.now() < deadline, 'the publisher was never paused');
      await sleep(10);
    }
    await sleep(200);
    const held = ctx.broker.handle.publishBudgets();
    const slackBytes = 64 * 1024 + 2 * MESSAGE_BYTES;
    assert.ok(held.peakBytes <= BUDGET_BYTES + slackBytes, `${held.peakBytes} bytes at the peak`);
    raw.socket.resume();
    for (let i = 0; i < count; i++) await raw.expectMethod(60, 50); // basic.return, all of them
    await raw.openChannel(2); // and the connection works on
  });
});
