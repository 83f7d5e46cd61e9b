// Connection-level behaviour seen by amqplib and by a raw socket: the
// handshake (AMQP 0-9-1 §2.2.4), authentication, tune negotiation, server
// properties, channels and channel-max, and the connection errors the spec
// prescribes for malformed input (§4.2.3 frame end, §2.3.7 error handling).
// Every expectation was checked against RabbitMQ 3.10 (see test/helpers/broker.ts).

import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import type { ChannelModel } from 'amqplib';
import { TEST_OPTS, WAIT_MS, once, sleep, uniqueName, withTimeout } from '../helpers/async.js';
import { skipUnderReference, startTestBroker } from '../helpers/broker.js';
import { assertRejectsWith, tunedOf, useBroker, watchOf, type AmqpError } from '../helpers/amqplib.js';
import {
  FRAME_HEARTBEAT,
  FRAME_METHOD,
  PROTOCOL_HEADER,
  RawAmqp,
  contentHeaderFrame,
  frame,
  method,
  methodFrame,
  shortstr,
  u16,
  u32,
  u8,
} from '../helpers/raw-amqp.js';

describe('amqplib: connection', () => {
  const ctx = useBroker(undefined, { beforeClose: () => RawAmqp.destroyAll() });

  it('connects, opens a channel and closes cleanly', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    await ch.checkExchange('amq.direct');
    const closed = once<[Error | undefined]>(conn, 'close');
    await conn.close();
    const [err] = await closed;
    assert.equal(err, undefined, 'a client-initiated close is not an error');
    assert.deepEqual(watchOf(conn).errors, []);
  });

  it('refuses a wrong password with 403 ACCESS_REFUSED', TEST_OPTS, async () => {
    const url = new URL(ctx.broker.url);
    url.password = 'not-the-password';
    await assertRejectsWith(
      ctx.clients.connect(undefined, url.toString()),
      403,
      'ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.',
    );
  });

  it('refuses an unknown user with 403 ACCESS_REFUSED', TEST_OPTS, async () => {
    const url = new URL(ctx.broker.url);
    url.username = 'nobody-here';
    await assertRejectsWith(ctx.clients.connect(undefined, url.toString()), 403, /^ACCESS_REFUSED - /);
  });

  it('sends connection.close 403 and closes the socket after a failed login', TEST_OPTS, async () => {
    const raw = await RawAmqp.connect(ctx.broker.port, ctx.broker.host);
    try {
      raw.write(PROTOCOL_HEADER);
      await raw.expectMethod(10, 10);
      raw.write(method.startOk('guest', 'wrong', true));
      const close = await raw.expectConnectionClose();
      assert.equal(close.replyCode, 403);
      assert.match(close.replyText, /^ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN/);
    } finally {
      raw.destroy();
    }
  });

  it('just closes the socket after a failed login when the client lacks authentication_failure_close', TEST_OPTS, async () => {
    // AMQP 0-9-1 §2.2.4: the server closes the socket without connection.close.
    const raw = await RawAmqp.connect(ctx.broker.port, ctx.broker.host);
    try {
      raw.write(PROTOCOL_HEADER);
      await raw.expectMethod(10, 10);
      raw.write(method.startOk('guest', 'wrong', false));
      await assert.rejects(raw.nextFrame(), /socket closed before the next frame/);
    } finally {
      raw.destroy();
    }
  });

  it('offers RabbitMQ defaults in connection.tune: channel-max 2047, frame-max 131072, heartbeat 60', TEST_OPTS, async () => {
    const { raw, serverTune } = await RawAmqp.open(ctx.broker.port, ctx.broker.host);
    raw.destroy();
    assert.deepEqual(serverTune, { channelMax: 2047, frameMax: 131072, heartbeat: 60 });
  });

  it('negotiates a lower heartbeat, frameMax and channelMax asked for by the client', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect(undefined, {
      ...connectOptions(ctx.broker.url),
      heartbeat: 5,
      frameMax: 16384,
      channelMax: 10,
    });
    assert.deepEqual(tunedOf(conn), { heartbeat: 5, frameMax: 16384, channelMax: 10 });
    // A body larger than the frame size arrives whole across several frames.
    const ch = await ctx.clients.channel(conn);
    const { queue } = await ch.assertQueue('', { exclusive: true });
    const body = Buffer.alloc(100_000, 7);
    ch.sendToQueue(queue, body);
    const got = await waitGet(ch, queue);
    assert.ok(got.content.equals(body));
  });

  it('accepts heartbeat 0 (disabled) and the server default when the client has no preference', TEST_OPTS, async () => {
    const off = await ctx.clients.connect(undefined, { ...connectOptions(ctx.broker.url), heartbeat: 0 });
    assert.equal(tunedOf(off).heartbeat, 0);
    const dflt = await ctx.clients.connect();
    assert.equal(tunedOf(dflt).heartbeat, 60);
    assert.equal(tunedOf(dflt).frameMax, 131072);
  });

  it('sends heartbeat frames at the negotiated interval', TEST_OPTS, async () => {
    const { raw } = await RawAmqp.open(ctx.broker.port, ctx.broker.host, { heartbeat: 1 });
    try {
      const f = await raw.nextFrame(WAIT_MS);
      assert.equal(f.type, FRAME_HEARTBEAT);
      assert.equal(f.channel, 0);
    } finally {
      raw.destroy();
    }
  });

  it('keeps an idle connection with a 1 s heartbeat open', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect(undefined, { ...connectOptions(ctx.broker.url), heartbeat: 1 });
    // amqplib drops the connection if it hears nothing for two intervals.
    await sleep(3500);
    assert.deepEqual(watchOf(conn).errors, []);
    const ch = await ctx.clients.channel(conn);
    await ch.checkExchange('amq.fanout');
  });

  it('drops a client that sends nothing for two heartbeat intervals', TEST_OPTS, async () => {
    // RabbitMQ closes the socket ("missed heartbeats from client") without connection.close.
    const { raw } = await RawAmqp.open(ctx.broker.port, ctx.broker.host, { heartbeat: 1 });
    const close = await closeOrHangUp(raw);
    if (close !== undefined) assert.equal(close, 501, 'a close frame, if any, must be a hard error');
    await withTimeout(raw.closed, WAIT_MS, 'the server to drop the silent client');
  });

  it('closes clients with 320 CONNECTION_FORCED when the broker shuts down', { ...TEST_OPTS, skip: skipUnderReference }, async () => {
    const own = await startTestBroker();
    try {
      const conn = await ctx.clients.connect(undefined, own.url);
      await ctx.clients.channel(conn);
      // amqplib treats 320 as non-fatal: no 'error' event, only 'close' with the reason.
      const closed = once<[AmqpError | undefined]>(conn, 'close');
      await own.close();
      const [err] = await closed;
      assert.ok(err, 'close carries the server reason');
      assert.equal(err.code, 320);
      assert.match(err.message, /"CONNECTION_FORCED - /);
    } finally {
      await own.close();
    }
  });

  it('advertises the capabilities RabbitMQ advertises in connection.start', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const props = conn.connection.serverProperties as unknown as Record<string, unknown>;
    assert.equal(typeof props.product, 'string');
    assert.ok((props.product as string).length > 0);
    assert.equal(typeof props.version, 'string');
    assert.ok((props.version as string).length > 0);
    const caps = props.capabilities as Record<string, unknown>;
    for (const cap of [
      'publisher_confirms',
      'exchange_exchange_bindings',
      'basic.nack',
      'consumer_cancel_notify',
      'connection.blocked',
      'consumer_priorities',
      'authentication_failure_close',
      'per_consumer_qos',
    ]) {
      assert.equal(caps[cap], true, `capability ${cap}`);
    }
  });

  it('offers PLAIN and AMQPLAIN and the en_US locale', TEST_OPTS, async () => {
    const raw = await RawAmqp.connect(ctx.broker.port, ctx.broker.host);
    try {
      raw.write(PROTOCOL_HEADER);
      const start = await raw.expectMethod(10, 10);
      assert.equal(start.payload.readUInt8(4), 0, 'version-major');
      assert.equal(start.payload.readUInt8(5), 9, 'version-minor');
      const text = start.payload.toString('latin1');
      assert.ok(text.includes('PLAIN'), 'mechanisms include PLAIN');
      assert.ok(text.includes('AMQPLAIN'), 'mechanisms include AMQPLAIN');
      assert.ok(text.includes('en_US'), 'locales include en_US');
    } finally {
      raw.destroy();
    }
  });

  it('supports direct reply-to (amq.rabbitmq.reply-to) and advertises it', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const caps = (conn.connection.serverProperties as unknown as { capabilities: Record<string, unknown> }).capabilities;
    assert.equal(caps.direct_reply_to, true);
    const client = await ctx.clients.channel(conn);
    const server = await ctx.clients.channel(await ctx.clients.connect());
    const { queue: rpcQueue } = await server.assertQueue('', { exclusive: true });
    await server.consume(rpcQueue, (msg) => {
      if (!msg) return;
      server.sendToQueue(msg.properties.replyTo as string, Buffer.from(`re:${msg.content.toString()}`), {
        correlationId: msg.properties.correlationId as string,
      });
    }, { noAck: true });
    const replies: { body: string; correlationId: unknown }[] = [];
    const got = new Promise<void>((resolve) => {
      void client.consume('amq.rabbitmq.reply-to', (msg) => {
        if (!msg) return;
        replies.push({ body: msg.content.toString(), correlationId: msg.properties.correlationId });
        resolve();
      }, { noAck: true });
    });
    await sleep(0);
    client.sendToQueue(rpcQueue, Buffer.from('ping'), { replyTo: 'amq.rabbitmq.reply-to', correlationId: 'c1' });
    await withTimeout(got, WAIT_MS, 'the direct reply');
    assert.deepEqual(replies, [{ body: 're:ping', correlationId: 'c1' }]);
  });

  it('opens and closes channels, and reuses a closed channel number', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const a = await ctx.clients.channel(conn);
    const b = await ctx.clients.channel(conn);
    const numA = channelNumber(a);
    assert.notEqual(numA, channelNumber(b));
    await a.close();
    const c = await ctx.clients.channel(conn);
    assert.equal(channelNumber(c), numA, 'amqplib reuses the lowest free number; the server must accept it');
    await c.checkExchange('amq.topic');
    await b.checkExchange('amq.topic');
  });

  it('handles 200 channels on one connection', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const channels = await Promise.all(Array.from({ length: 200 }, () => conn.createChannel()));
    const queues = await Promise.all(channels.map((ch) => ch.assertQueue('', { exclusive: true })));
    assert.equal(new Set(queues.map((q) => q.queue)).size, 200);
    await Promise.all(channels.map((ch) => ch.close()));
    const ch = await ctx.clients.channel(conn);
    await ch.checkExchange('amq.direct');
  });

  it('closes the connection with 530 NOT_ALLOWED past the negotiated channel-max', TEST_OPTS, async () => {
    const { raw } = await RawAmqp.open(ctx.broker.port, ctx.broker.host, { channelMax: 2 });
    try {
      await raw.openChannel(1);
      await raw.openChannel(2);
      raw.write(method.channelOpen(3));
      const close = await raw.expectConnectionClose();
      assert.deepEqual(
        { code: close.replyCode, text: close.replyText },
        { code: 530, text: 'NOT_ALLOWED - number of channels opened (2) has reached the negotiated channel_max (2)' },
      );
    } finally {
      raw.destroy();
    }
  });
});

describe('raw socket: malformed input', () => {
  const ctx = useBroker(undefined, { beforeClose: checkBystander });
  /** An amqplib connection opened before each bad one; it must keep working. */
  let bystander: ChannelModel;

  beforeEach(async () => {
    bystander = await ctx.clients.connect();
  });

  async function checkBystander(): Promise<void> {
    RawAmqp.destroyAll();
    // The broker still serves the connection opened before the bad one.
    const ch = await ctx.clients.channel(bystander);
    const { queue } = await ch.assertQueue('', { exclusive: true });
    ch.sendToQueue(queue, Buffer.from('still here'));
    const got = await waitGet(ch, queue);
    assert.equal(got.content.toString(), 'still here');
    assert.deepEqual(watchOf(bystander).errors, []);
  }

  async function headerReply(bytes: Buffer): Promise<Buffer> {
    const raw = await RawAmqp.connect(ctx.broker.port, ctx.broker.host);
    raw.rawMode();
    raw.write(bytes);
    await withTimeout(raw.closed, WAIT_MS, 'the server to close the socket');
    return raw.unparsed();
  }

  it('answers an HTTP request with the AMQP 0-9-1 header and closes', TEST_OPTS, async () => {
    const reply = await headerReply(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    assert.deepEqual(reply, Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'));
  });

  it('answers the AMQP 0-10 header with the 0-9-1 header and closes', TEST_OPTS, async () => {
    const reply = await headerReply(Buffer.from([0x41, 0x4d, 0x51, 0x50, 1, 1, 0, 10]));
    assert.deepEqual(reply, Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'));
  });

  it('answers the AMQP 1.0 header with the 0-9-1 header and closes', TEST_OPTS, async () => {
    const reply = await headerReply(Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0]));
    assert.deepEqual(reply, Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'));
  });

  it('closes with 501 FRAME_ERROR on a bad frame-end byte', TEST_OPTS, async () => {
    const { raw } = await RawAmqp.open(ctx.broker.port, ctx.broker.host);
    raw.write(frame(FRAME_HEARTBEAT, 0, Buffer.alloc(0), 0x00));
    const close = await raw.expectConnectionClose();
    assert.equal(close.replyCode, 501);
    assert.match(close.replyText, /^FRAME_ERROR - /);
  });

  it('closes with 501 FRAME_ERROR on a bad frame-end byte after a method', TEST_OPTS, async () => {
    const { raw } = await RawAmqp.open(ctx.broker.port, ctx.broker.host);
    raw.write(frame(FRAME_METHOD, 1, Buffer.concat([u16(20), u16(10), u8(0)]), 0x01));
    const close = await raw.expectConnectionClose();
    assert.equal(close.replyCode, 501);
    assert.match(close.replyText, /^FRAME_ERROR - /);
  });

  it('closes with 501 FRAME_ERROR on an unknown frame type', TEST_OPTS, async () => {
    const { raw } = await RawAmqp.open(ctx.broker.port, ctx.broker.host);
    raw.write(frame(7, 0, Buffer.alloc(0)));
    const close = await raw.expectConnectionClose();
    assert.equal(close.replyCode, 501);
    assert.match(close.replyText, /^FRAME_ERROR - /);
  });

  it('closes with 501 FRAME_ERROR on a frame larger than frame-max', TEST_OPTS, async () => {
    const { raw } = await RawAmqp.open(ctx.broker.port, ctx.broker.host);
    await raw.openChannel(1);
    raw.write(frame(FRAME_METHOD, 1, Buffer.alloc(200_000)));
    const close = await raw.expectConnectionClose();
    assert.equal(close.replyCode, 501);
    assert.match(close.replyText, /^FRAME_ERROR - /);
  });

  it('closes with 501 FRAME_ERROR as soon as a frame header announces more than frame-max', TEST_OPTS, async () => {
    const { raw } = await RawAmqp.open(ctx.broker.port, ctx.broker.host);
    await raw.openChannel(1);
    // Only the 7-byte header and a few payload bytes: the server must not wait for 3 MiB.
    raw.write(Buffer.concat([u8(FRAME_METHOD), u16(1), u32(3 * 1024 * 1024), Buffer.alloc(16)]));
    const close = await raw.expectConnectionClose();
    assert.equal(close.replyCode, 501);
    assert.match(close.replyText, /^FRAME_ERROR - /);
  });

  it('drops the connection on an unknown class/method', TEST_OPTS, async () => {
    // RabbitMQ's reader crashes on an unknown method id and closes the socket
    // without connection.close. A broker may instead send connection.close
    // with 503 COMMAND_INVALID or 540 NOT_IMPLEMENTED first; either way the
    // connection must end.
    for (const [ch, classId, methodId] of [[0, 99, 99], [1, 99, 1], [1, 60, 99]] as const) {
      const { raw } = await RawAmqp.open(ctx.broker.port, ctx.broker.host);
      if (ch !== 0) await raw.openChannel(ch);
      raw.write(methodFrame(ch, classId, methodId));
      const close = await closeOrHangUp(raw);
      if (close !== undefined) assert.ok([503, 540].includes(close), `reply code ${close} for ${classId}.${methodId}`);
      await withTimeout(raw.closed, WAIT_MS, 'the server to close the socket');
    }
  });

  it('closes with 540 NOT_IMPLEMENTED on basic.publish with immediate=true', TEST_OPTS, async () => {
    const { raw } = await RawAmqp.open(ctx.broker.port, ctx.broker.host);
    await raw.openChannel(1);
    raw.write(methodFrame(1, 60, 40, Buffer.concat([u16(0), shortstr('amq.direct'), shortstr('k'), u8(2 /* immediate */)])));
    raw.write(contentHeaderFrame(1, 0));
    const close = await raw.expectConnectionClose();
    assert.deepEqual(
      [close.replyCode, close.replyText, close.classId, close.methodId],
      [540, 'NOT_IMPLEMENTED - immediate=true', 60, 40],
    );
  });

  it('closes with 504 CHANNEL_ERROR on a method for an unopened channel', TEST_OPTS, async () => {
    const { raw } = await RawAmqp.open(ctx.broker.port, ctx.broker.host);
    raw.write(method.queueDeclare(5, uniqueName()));
    const close = await raw.expectConnectionClose();
    assert.deepEqual(
      [close.replyCode, close.replyText, close.classId, close.methodId],
      [504, "CHANNEL_ERROR - expected 'channel.open'", 50, 10],
    );
  });

  it('closes with 504 CHANNEL_ERROR on a second channel.open', TEST_OPTS, async () => {
    const { raw } = await RawAmqp.open(ctx.broker.port, ctx.broker.host);
    await raw.openChannel(1);
    raw.write(method.channelOpen(1));
    const close = await raw.expectConnectionClose();
    assert.deepEqual(
      [close.replyCode, close.replyText, close.classId, close.methodId],
      [504, "CHANNEL_ERROR - second 'channel.open' seen", 20, 10],
    );
  });

  it('closes with 504 CHANNEL_ERROR on a channel method sent on channel 0', TEST_OPTS, async () => {
    const { raw } = await RawAmqp.open(ctx.broker.port, ctx.broker.host);
    raw.write(method.queueDeclare(0, uniqueName()));
    const close = await raw.expectConnectionClose();
    assert.equal(close.replyCode, 504);
    assert.match(close.replyText, /^CHANNEL_ERROR - /);
    assert.deepEqual([close.classId, close.methodId], [50, 10]);
  });

  it('closes with 505 UNEXPECTED_FRAME on a content header without a method', TEST_OPTS, async () => {
    const { raw } = await RawAmqp.open(ctx.broker.port, ctx.broker.host);
    await raw.openChannel(1);
    raw.write(contentHeaderFrame(1, 10));
    const close = await raw.expectConnectionClose();
    assert.deepEqual(
      [close.replyCode, close.replyText],
      [505, 'UNEXPECTED_FRAME - expected method frame, got non method frame instead'],
    );
  });

  it('closes with 505 UNEXPECTED_FRAME on a content body without a method', TEST_OPTS, async () => {
    const { raw } = await RawAmqp.open(ctx.broker.port, ctx.broker.host);
    await raw.openChannel(1);
    raw.write(frame(3, 1, Buffer.from('abc')));
    const close = await raw.expectConnectionClose();
    assert.deepEqual(
      [close.replyCode, close.replyText],
      [505, 'UNEXPECTED_FRAME - expected method frame, got non method frame instead'],
    );
  });

  it('closes with 505 UNEXPECTED_FRAME on a heartbeat on a non-zero channel', TEST_OPTS, async () => {
    const { raw } = await RawAmqp.open(ctx.broker.port, ctx.broker.host);
    await raw.openChannel(1);
    raw.write(frame(FRAME_HEARTBEAT, 1, Buffer.alloc(0)));
    const close = await raw.expectConnectionClose();
    assert.equal(close.replyCode, 505);
    assert.match(close.replyText, /^UNEXPECTED_FRAME - /);
  });
});

/** amqplib connect options from a URL (to add tune preferences). */
function connectOptions(url: string) {
  const u = new URL(url);
  return {
    protocol: 'amqp',
    hostname: u.hostname,
    port: Number(u.port),
    username: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
  };
}

function channelNumber(ch: object): number {
  return (ch as { ch: number }).ch;
}

/** basic.get until a message is there (publishing is asynchronous). */
async function waitGet(ch: import('amqplib').Channel, queue: string) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const m = await ch.get(queue, { noAck: true });
    if (m) return m;
    if (Date.now() > deadline) assert.fail(`no message in ${queue}`);
    await sleep(10);
  }
}

/**
 * Waits for the server to end the connection; resolves with the reply code of
 * a connection.close if one came first, undefined if the socket just closed.
 */
async function closeOrHangUp(raw: RawAmqp): Promise<number | undefined> {
  try {
    const close = await raw.expectConnectionClose();
    return close.replyCode;
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('socket closed')) return undefined;
    throw err;
  }
}
