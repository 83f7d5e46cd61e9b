// What consumers hear when their queue goes (issue 9). RabbitMQ sends basic.cancel
// to each consumer of a deleted queue, if its client announced the
// consumer_cancel_notify capability, once the queue is gone; the deleting channel
// gets its queue.delete-ok first and then the cancels of its own consumers, so a
// program that closes the channel when its consumer is cancelled still gets the
// delete-ok. Other channels hear of it about then, in no fixed order (RabbitMQ's
// channels are processes of their own). The other ways a queue goes (auto-delete
// when its last consumer leaves, an exclusive queue's connection closing) leave no
// consumer to tell. Every expectation was checked against RabbitMQ 3.10 (see
// test/helpers/broker.ts).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AMQPClient } from '@cloudamqp/amqp-client';
import type { Channel, ChannelModel } from 'amqplib';
import { TEST_OPTS, WAIT_MS, uniqueName, waitUntil, withTimeout } from '../helpers/async.js';
import { assertReply, useBroker } from '../helpers/amqplib.js';
import { RawAmqp, firstShortstr, label, method } from '../helpers/raw-amqp.js';

const DURABLE = 2;
const NOTIFY = { consumer_cancel_notify: true };

describe('queue deletion and its consumers', () => {
  const ctx = useBroker(undefined, { beforeClose: () => RawAmqp.destroyAll() });

  /** A raw connection with channels 1..n open; `capabilities` as announced in connection.start-ok. */
  async function rawWithChannels(n: number, capabilities: Record<string, boolean> = NOTIFY): Promise<RawAmqp> {
    const { raw } = await RawAmqp.open(ctx.broker.port, ctx.broker.host, { capabilities });
    for (let ch = 1; ch <= n; ch++) await raw.openChannel(ch);
    return raw;
  }

  /** Reads `n` frames and returns their labels, basic.cancel with its consumer tag ('basic.cancel@1 c1'). */
  async function nextFrames(raw: RawAmqp, n: number): Promise<string[]> {
    const out: string[] = [];
    while (out.length < n) {
      const f = await raw.nextFrame();
      const l = label(f);
      out.push(l.startsWith('basic.cancel@') ? `${l} ${firstShortstr(f)}` : l);
    }
    return out;
  }

  async function declareAndConsume(raw: RawAmqp, q: string, flags: number, consumers: [channel: number, tag: string][]): Promise<void> {
    raw.write(method.queueDeclare(consumers[0][0], q, flags));
    assert.equal(await raw.nextLabel(), `queue.declare-ok@${consumers[0][0]}`);
    for (const [ch, tag] of consumers) {
      raw.write(method.basicConsume(ch, q, tag));
      assert.equal(await raw.nextLabel(), `basic.consume-ok@${ch}`);
    }
  }

  for (const durable of [false, true]) {
    const kind = durable ? 'durable' : 'transient';

    // The regression: Wharf sent the cancel at once and the delete-ok only once the
    // deletion was on disk, so amqplib dropped the pending delete reply when the
    // consumer callback closed the channel ("Channel ended, no reply will be forthcoming").
    it(`amqplib: a consumer that closes its channel on the cancel still gets its deleteQueue() reply (${kind})`, TEST_OPTS, async () => {
      for (let i = 0; i < 3; i++) {
        const ch = await ctx.clients.channel();
        const q = ctx.clients.deleteLater(uniqueName('q-del'));
        await ch.assertQueue(q, { durable });
        let closing: Promise<void> | undefined;
        await ch.consume(q, (m) => {
          if (m === null) closing = ch.close();
        });
        assert.deepEqual(await ch.deleteQueue(q), { messageCount: 0 });
        await waitUntil(() => closing !== undefined, 'the consumer callback to get null');
        await withTimeout(closing as Promise<void>, WAIT_MS, 'channel.close-ok');
      }
    });

    it(`@cloudamqp/amqp-client: the deleting channel gets the delete-ok before its consumer ends (${kind})`, TEST_OPTS, async () => {
      const conn = await new AMQPClient(ctx.broker.url).connect();
      try {
        const ch = await conn.channel();
        const q = uniqueName('q-del');
        await ch.queueDeclare(q, { durable, autoDelete: false });
        const consumer = await ch.basicConsume(q, { noAck: true }, () => undefined);
        const events: string[] = [];
        const ended = consumer.wait().then(
          () => events.push('consumer ended'),
          () => events.push('consumer ended'),
        );
        await ch.queueDelete(q).then(() => events.push('deleted'));
        await withTimeout(ended, WAIT_MS, 'the server-sent basic.cancel');
        assert.deepEqual(events, ['deleted', 'consumer ended']);
      } finally {
        await conn.close().catch(() => undefined);
      }
    });

    it(`sends the deleting channel its queue.delete-ok before the basic.cancel of its own consumers (${kind})`, TEST_OPTS, async () => {
      const raw = await rawWithChannels(2);
      const q = uniqueName('q-del');
      await declareAndConsume(raw, q, durable ? DURABLE : 0, [[1, 'c1'], [1, 'c1b'], [2, 'c2']]);
      raw.write(method.queueDelete(1, q));
      const frames = await nextFrames(raw, 4);
      assert.deepEqual([...frames].sort(), ['basic.cancel@1 c1', 'basic.cancel@1 c1b', 'basic.cancel@2 c2', 'queue.delete-ok@1']);
      const ownFrames = frames.filter((f) => f.endsWith('@1') || f.includes('@1 '));
      assert.equal(ownFrames[0], 'queue.delete-ok@1', `order: ${frames.join(', ')}`);
    });

    it(`tells consumers on other channels and connections (${kind})`, TEST_OPTS, async () => {
      const consumers = await rawWithChannels(2);
      const deleter = await rawWithChannels(1);
      const q = uniqueName('q-del');
      await declareAndConsume(consumers, q, durable ? DURABLE : 0, [[1, 'c1'], [2, 'c2']]);
      deleter.write(method.queueDelete(1, q));
      assert.equal(await deleter.nextLabel(), 'queue.delete-ok@1');
      assert.deepEqual((await nextFrames(consumers, 2)).sort(), ['basic.cancel@1 c1', 'basic.cancel@2 c2']);
      // The channels stay open.
      consumers.write(method.queueDeclare(1, '', 4 | 8));
      assert.equal(await consumers.nextLabel(), 'queue.declare-ok@1');
    });
  }

  it('sends no basic.cancel to a client without the consumer_cancel_notify capability', TEST_OPTS, async () => {
    const raw = await rawWithChannels(2, {});
    const q = uniqueName('q-del');
    await declareAndConsume(raw, q, 0, [[1, 'c1']]);
    raw.write(method.queueDelete(2, q));
    assert.equal(await raw.nextLabel(), 'queue.delete-ok@2');
    // Had a cancel been sent, it would come before this reply.
    raw.write(method.queueDeclare(1, '', 4 | 8));
    assert.equal(await raw.nextLabel(), 'queue.declare-ok@1');
    // The consumer is gone all the same: cancelling it is answered as for any unknown tag.
    raw.write(method.basicCancel(1, 'c1'));
    assert.equal(await raw.nextLabel(), 'basic.cancel-ok@1');
  });

  it('deletes an auto-delete queue when its last consumer cancels, telling nobody', TEST_OPTS, async () => {
    const conn = await ctx.clients.connect();
    const q = ctx.clients.deleteLater(uniqueName('q-autodel'));
    const cancelled: string[] = [];
    const consume = async (ch: Channel, name: string): Promise<string> => {
      const ok = await ch.consume(q, (m) => {
        if (m === null) cancelled.push(name);
      });
      return ok.consumerTag;
    };
    const ch1 = await ctx.clients.channel(conn);
    const ch2 = await ctx.clients.channel(conn);
    await ch1.assertQueue(q, { durable: false, autoDelete: true });
    const tag1 = await consume(ch1, 'first');
    const tag2 = await consume(ch2, 'second');
    await ch1.cancel(tag1);
    assert.equal((await ch1.checkQueue(q)).consumerCount, 1);
    await ch2.cancel(tag2);
    // RabbitMQ's queue answers the cancel and then deletes itself: poll, as a client would have to.
    await waitForQueueGone(conn, q);
    assert.deepEqual(cancelled, []);
  });

  it('deletes an exclusive queue with its connection, consumers and all', TEST_OPTS, async () => {
    const owner = await ctx.clients.connect();
    const ch = await ctx.clients.channel(owner);
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.consume(queue, () => undefined);
    await owner.close();
    // RabbitMQ deletes it once it sees the connection gone: soon after close-ok, not before.
    await waitForQueueGone(await ctx.clients.connect(), queue);
  });

  /** Polls with passive declares until the queue is gone (404), and checks that reply. */
  async function waitForQueueGone(conn: ChannelModel, q: string): Promise<void> {
    let gone = false;
    await waitUntil(async () => {
      const ch = await ctx.clients.channel(conn);
      gone = await ch.checkQueue(q).then(
        () => false,
        (err: unknown) => {
          assertReply(err, 404, `NOT_FOUND - no queue '${q}' in vhost '/'`);
          return true;
        },
      );
      return gone;
    }, `queue ${q} to be deleted`);
  }
});
