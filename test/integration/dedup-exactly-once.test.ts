// Exactly-once consume-transform-produce inside Wharf: de-duplicating input and
// output queues plus a transactional worker (ack of the input and publish of the
// output commit together). Producer retries, a worker that dies before its
// commit, and an at-least-once worker that dies after publishing but before its
// ack all end with exactly one output per input.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import { TEST_OPTS, WAIT_MS, uniqueName, waitUntil, withTimeout } from '../helpers/async.js';
import { isReference } from '../helpers/broker.js';
import { collect, consumeInto, destroySocket, tx, useBroker, waitForReady } from '../helpers/amqplib.js';

const skip = isReference ? 'message de-duplication is a Wharf feature (RabbitMQ needs a plugin)' : false;
const DEDUP = { 'x-message-deduplication': true };
const INPUTS = ['alpha', 'bravo', 'charlie', 'delta', 'echo'];

/** The worker's transformation; the output's message-id is derived from the input's. */
function transform(m: ConsumeMessage): { body: Buffer; messageId: string } {
  return { body: Buffer.from(m.content.toString().toUpperCase()), messageId: `out:${String(m.properties.messageId)}` };
}

describe('de-duplication: exactly-once consume-transform-produce', () => {
  const ctx = useBroker();

  it('every input yields exactly one output despite producer retries and worker crashes', { ...TEST_OPTS, skip }, async () => {
    const input = ctx.clients.deleteLater(uniqueName('in'));
    const output = ctx.clients.deleteLater(uniqueName('out'));
    const admin = await ctx.clients.channel();
    await admin.assertQueue(input, { durable: true, arguments: DEDUP });
    await admin.assertQueue(output, { durable: true, arguments: DEDUP });

    // (a) The producer retries some publishes (as after a lost confirm): the input queue absorbs them.
    const producer = await ctx.clients.confirmChannel();
    for (const body of [...INPUTS, 'bravo', 'delta', 'bravo']) {
      producer.sendToQueue(input, Buffer.from(body), { messageId: `in:${body}`, persistent: true });
    }
    await withTimeout(producer.waitForConfirms(), WAIT_MS, 'producer confirms');
    await waitForReady(admin, input, INPUTS.length);

    // (b) A transactional worker publishes its output, then dies before tx.commit:
    // the publish is discarded and the input goes back to the queue.
    {
      const conn = await ctx.clients.connect();
      const ch = await ctx.clients.channel(conn);
      await tx.select(ch);
      await ch.prefetch(1);
      const { collector } = await consumeInto(ch, input);
      const [m] = await collector.waitFor(1);
      const out = transform(m);
      ch.sendToQueue(output, out.body, { messageId: out.messageId, persistent: true });
      ch.ack(m);
      await ch.checkQueue(output); // a round trip: the server has the publish and the ack
      destroySocket(conn);
      await waitForReady(admin, input, INPUTS.length);
      assert.equal((await admin.checkQueue(output)).messageCount, 0, 'an uncommitted output leaves nothing behind');
    }

    // (c) An at-least-once worker (no tx) publishes its output with a confirm, then dies
    // before acking: the input is redelivered and its output will be published again.
    let published: string;
    {
      const conn = await ctx.clients.connect();
      const ch: ConfirmChannel = await ctx.clients.confirmChannel(conn);
      await ch.prefetch(1);
      const { collector } = await consumeInto(ch, input);
      const [m] = await collector.waitFor(1);
      assert.equal(m.fields.redelivered, true, 'the input of the worker that died is redelivered');
      const out = transform(m);
      published = out.messageId;
      ch.sendToQueue(output, out.body, { messageId: out.messageId, persistent: true });
      await withTimeout(ch.waitForConfirms(), WAIT_MS, 'worker confirms');
      destroySocket(conn);
      await waitForReady(admin, input, INPUTS.length);
      assert.equal((await admin.checkQueue(output)).messageCount, 1);
    }

    // A healthy transactional worker processes everything: publish output, ack input, commit.
    const ch = await ctx.clients.channel();
    await tx.select(ch);
    await ch.prefetch(1);
    const processed: string[] = [];
    let work = Promise.resolve();
    let failure: unknown;
    await ch.consume(input, (m) => {
      if (!m) return;
      work = work
        .then(async () => {
          const out = transform(m);
          ch.sendToQueue(output, out.body, { messageId: out.messageId, persistent: true });
          ch.ack(m);
          await tx.commit(ch);
          processed.push(String(m.properties.messageId));
        })
        .catch((err: unknown) => {
          failure ??= err;
        });
    });
    await waitUntil(() => processed.length === INPUTS.length || failure !== undefined, 'the worker processed every input');
    assert.equal(failure, undefined);
    assert.deepEqual([...processed].sort(), INPUTS.map((b) => `in:${b}`).sort(), 'each input processed once');
    assert.ok(processed.includes(published.slice('out:'.length)), 'the crashed worker’s input was processed again');
    await waitForReady(admin, input, 0);

    // Exactly one output per input, the at-least-once worker's duplicate included.
    const outputs = await collect(admin, output, INPUTS.length, { noAck: true });
    assert.deepEqual(
      outputs.map((m) => [m.properties.messageId, m.content.toString()]).sort(),
      INPUTS.map((b) => [`out:in:${b}`, b.toUpperCase()]).sort(),
    );
    assert.equal((await admin.checkQueue(output)).messageCount, 0);
  });
});
