// A channel closed by both peers at once (issue 9): the server closes it for an
// error (a publish to a missing exchange: 404) while the client's own
// channel.close is on its way. AMQP 0-9-1, channel.close rule "stability": after
// sending close, a peer discards every method but close and close-ok, and answers
// a close with close-ok. RabbitMQ also frees the channel number on the client's
// close-ok, keeps assembling content on the closing channel, and refuses a
// channel.open before that close-ok (504). Every expectation was checked against
// RabbitMQ 3.10 (see test/helpers/broker.ts).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AMQPClient } from '@cloudamqp/amqp-client';
import { TEST_OPTS, WAIT_MS, uniqueName, waitUntil, withTimeout } from '../helpers/async.js';
import { useBroker, watchOf } from '../helpers/amqplib.js';
import {
  FRAME_BODY,
  RawAmqp,
  contentHeaderFrame,
  decodeClose,
  frame,
  method,
  publishFrames,
} from '../helpers/raw-amqp.js';

const BODY = Buffer.from('m');
const EXCLUSIVE_AUTO_DELETE = 4 | 8;

describe('channel.close crossing the server\'s channel.close', () => {
  const ctx = useBroker(undefined, { beforeClose: () => RawAmqp.destroyAll() });

  /** A raw connection with channels 1 and 2 open. */
  async function rawWithChannels(): Promise<RawAmqp> {
    const { raw } = await RawAmqp.open(ctx.broker.port, ctx.broker.host);
    await raw.openChannel(1);
    await raw.openChannel(2);
    return raw;
  }

  /** Publishes to a missing exchange on channel 1 and checks the server's channel.close 404. */
  async function failChannel1(raw: RawAmqp, also: Buffer = Buffer.alloc(0)): Promise<void> {
    const missing = uniqueName('x-missing');
    raw.write(Buffer.concat([publishFrames(1, missing, 'k', BODY), also]));
    const f = await raw.nextFrame();
    assert.equal(f.channel, 1);
    assert.deepEqual(decodeClose(f), {
      replyCode: 404,
      replyText: `NOT_FOUND - no exchange '${missing}' in vhost '/'`,
      classId: 60,
      methodId: 40,
    });
  }

  /** Channel 1 opens again and channel 2 still works: the connection survived. */
  async function assertChannelsWork(raw: RawAmqp): Promise<void> {
    raw.write(method.channelOpen(1));
    assert.equal(await raw.nextLabel(), 'channel.open-ok@1');
    raw.write(method.queueDeclare(2, '', EXCLUSIVE_AUTO_DELETE));
    assert.equal(await raw.nextLabel(), 'queue.declare-ok@2');
  }

  it('amqplib: closing a channel right after a refused publish keeps the connection and its other channels', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const other = await ctx.clients.channel(conn);
    const x = ctx.clients.deleteExchangeLater(uniqueName('x-cross'));
    for (let i = 0; i < 5; i++) {
      // amqplib reuses the lowest free channel number: every round reopens the one just closed.
      const ch = await ctx.clients.channel(conn);
      ch.publish(uniqueName('x-missing'), 'k', BODY);
      // close() goes out before the server's 404 comes back; amqplib answers that with close-ok.
      await withTimeout(ch.close(), WAIT_MS, 'channel.close-ok');
      await other.assertExchange(x, 'fanout', { durable: false });
    }
    assert.deepEqual(watchOf(conn).errors, []);
  });

  it('@cloudamqp/amqp-client: a channel closed right after a refused publish leaves the connection up', TEST_OPTS, async () => {
    const conn = await new AMQPClient(ctx.broker.url).connect();
    try {
      const other = await conn.channel();
      const x = uniqueName('x-cross');
      for (let i = 0; i < 3; i++) {
        const ch = await conn.channel();
        void ch.basicPublish(uniqueName('x-missing'), 'k', 'm').catch(() => undefined);
        // amqp-client's close() never settles when the server's close crosses it (it ignores
        // close-ok for a channel it has dropped), so it is not awaited.
        void ch.close().catch(() => undefined);
        // The client drops the channel, and sends close-ok, when the server's close arrives.
        await waitUntil(() => conn.channels[ch.id] === undefined, 'the server\'s channel.close to arrive');
        await other.exchangeDeclare(x, 'fanout', { durable: false });
      }
      await other.exchangeDelete(x);
      assert.equal(conn.closed, false);
    } finally {
      await conn.close().catch(() => undefined);
    }
  });

  it('answers a channel.close sent with the failing publish with close-ok, then takes the client\'s close-ok', TEST_OPTS, async () => {
    const raw = await rawWithChannels();
    await failChannel1(raw, method.channelClose(1));
    assert.equal(await raw.nextLabel(), 'channel.close-ok@1');
    raw.write(method.channelCloseOk(1));
    await assertChannelsWork(raw);
  });

  it('answers a channel.close sent after the server\'s close arrived', TEST_OPTS, async () => {
    const raw = await rawWithChannels();
    await failChannel1(raw);
    raw.write(method.channelClose(1));
    assert.equal(await raw.nextLabel(), 'channel.close-ok@1');
    raw.write(method.channelClose(1));
    assert.equal(await raw.nextLabel(), 'channel.close-ok@1', 'each close gets its close-ok');
    raw.write(method.channelCloseOk(1));
    await assertChannelsWork(raw);
  });

  it('answers a channel.close queued behind a command that then fails', TEST_OPTS, async () => {
    const raw = await rawWithChannels();
    const missing = uniqueName('q-missing');
    // basic.get finishes later than it starts (content may need reading): the close waits behind it.
    raw.write(Buffer.concat([method.basicGet(1, missing), method.channelClose(1)]));
    const f = await raw.nextFrame();
    assert.equal(f.channel, 1);
    assert.deepEqual(decodeClose(f), { replyCode: 404, replyText: `NOT_FOUND - no queue '${missing}' in vhost '/'`, classId: 60, methodId: 70 });
    assert.equal(await raw.nextLabel(), 'channel.close-ok@1');
    raw.write(method.channelCloseOk(1));
    await assertChannelsWork(raw);
  });

  it('ignores other methods and content on the closed channel until the client\'s close-ok', TEST_OPTS, async () => {
    const raw = await rawWithChannels();
    await failChannel1(raw);
    raw.write(Buffer.concat([
      method.queueDeclare(1, '', EXCLUSIVE_AUTO_DELETE),
      publishFrames(1, 'amq.direct', 'k', BODY),
      method.basicGet(1, uniqueName('q-missing')),
      // Content split over two body frames is assembled and dropped as well.
      method.basicPublish(1, 'amq.direct', 'k'),
      contentHeaderFrame(1, 4),
      frame(FRAME_BODY, 1, Buffer.from('ab')),
      frame(FRAME_BODY, 1, Buffer.from('cd')),
      method.channelCloseOk(1),
    ]));
    // Nothing answered the ignored methods: the next frame is the reply to the next open.
    await assertChannelsWork(raw);
  });

  it('closes the connection with 504 on a channel.open before the client\'s close-ok', TEST_OPTS, async () => {
    const raw = await rawWithChannels();
    await failChannel1(raw);
    raw.write(method.channelOpen(1));
    const reply = await raw.expectConnectionClose();
    assert.deepEqual(reply, { replyCode: 504, replyText: "CHANNEL_ERROR - second 'channel.open' seen", classId: 20, methodId: 10 });
  });

  it('keeps content framing rules on the closed channel: a method inside a message is 505', TEST_OPTS, async () => {
    const raw = await rawWithChannels();
    await failChannel1(raw);
    raw.write(Buffer.concat([method.basicPublish(1, 'amq.direct', 'k'), contentHeaderFrame(1, 4), method.channelCloseOk(1)]));
    const reply = await raw.expectConnectionClose();
    assert.equal(reply.replyCode, 505);
    assert.deepEqual([reply.classId, reply.methodId], [60, 40]);
  });

  it('frees the channel number on close-ok: a second close-ok is 504', TEST_OPTS, async () => {
    const raw = await rawWithChannels();
    await failChannel1(raw);
    raw.write(Buffer.concat([method.channelCloseOk(1), method.channelCloseOk(1)]));
    const reply = await raw.expectConnectionClose();
    assert.deepEqual(reply, { replyCode: 504, replyText: "CHANNEL_ERROR - expected 'channel.open'", classId: 20, methodId: 41 });
  });
});
