// Publisher flow control (Queue.flowWait, docs/queues.md "Flow control"): a queue whose
// consumers could take more than the broker gets to them holds its publishers back by
// not reading their connections for a while. What must never happen: a publisher held
// back for good. These tests take the two ways a consumer can be slow that must not
// stop publishers: out of credit, and a client that stops reading its socket.

import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
import type { ChannelModel } from 'amqplib';
import { useBroker } from '../helpers/amqplib.js';
import { TEST_OPTS, uniqueName, waitUntil } from '../helpers/async.js';

const MESSAGES = 20_000;
const BODY = Buffer.alloc(1024, 'x');

/** The client's socket (amqplib keeps it as connection.stream). */
function socketOf(conn: ChannelModel): Socket {
  return (conn as unknown as { connection: { stream: Socket } }).connection.stream;
}

describe('publisher flow control', () => {
  const ctx = useBroker();

  it('a consumer whose client stops reading its socket does not stop publishers: every publish is confirmed', TEST_OPTS, async () => {
    const q = ctx.clients.deleteLater(uniqueName('flow-stalled'));
    const consumerConn = await ctx.clients.connect();
    const cch = await consumerConn.createChannel();
    await cch.assertQueue(q, { durable: false });
    let got = 0;
    let lastSeq = -1;
    let inOrder = true;
    await cch.consume(q, (m) => {
      if (!m) return;
      const seq = m.content.readUInt32BE(0);
      if (seq !== lastSeq + 1) inOrder = false;
      lastSeq = seq;
      got++;
    }, { noAck: true });
    // The consumer's client stops reading: its TCP window and the broker's output buffer fill up.
    socketOf(consumerConn).pause();

    const pch = await ctx.clients.confirmChannel();
    for (let i = 0; i < MESSAGES; i++) {
      const body = Buffer.from(BODY);
      body.writeUInt32BE(i, 0);
      pch.sendToQueue(q, body);
    }
    await pch.waitForConfirms();

    // Reading again, the consumer gets everything, in order.
    socketOf(consumerConn).resume();
    await waitUntil(() => got === MESSAGES, `all ${MESSAGES} delivered (got ${got})`);
    assert.ok(inOrder, 'deliveries in publish order');
  });

  it('consumers out of credit (prefetch full) do not hold publishers back: the backlog is accepted', TEST_OPTS, async () => {
    const q = ctx.clients.deleteLater(uniqueName('flow-prefetch'));
    const cch = await ctx.clients.channel();
    await cch.assertQueue(q, { durable: false });
    await cch.prefetch(1);
    let got = 0;
    await cch.consume(q, (m) => {
      if (m) got++; // never acked: the consumer stays out of credit
    });
    const pch = await ctx.clients.confirmChannel();
    for (let i = 0; i < MESSAGES; i++) pch.sendToQueue(q, BODY);
    await pch.waitForConfirms();
    const { messageCount } = await pch.checkQueue(q);
    assert.equal(got, 1);
    assert.equal(messageCount, MESSAGES - 1);
  });
});
