// Message groups over AMQP (queue argument x-message-group-header): with several
// consumers, a group's messages never have two deliveries in flight at once and
// arrive in publish order; a nack-requeue puts the message back at the head of its
// group; messages without the header are not held back; bad arguments are 406.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Channel, ConsumeMessage } from 'amqplib';
import { TEST_OPTS, uniqueName, waitUntil } from '../helpers/async.js';
import { replyOf, useBroker } from '../helpers/amqplib.js';
import { skipUnderReference } from '../helpers/broker.js';

const HEADER = 'x-group';

describe('message groups (x-message-group-header)', { skip: skipUnderReference }, () => {
  const ctx = useBroker();

  async function groupQueue(ch: Channel): Promise<string> {
    const q = ctx.clients.deleteLater(uniqueName('groups'));
    await ch.assertQueue(q, { durable: true, arguments: { 'x-message-group-header': HEADER } });
    return q;
  }

  it('two consumers never hold two messages of one group at once; each group arrives in order', TEST_OPTS, async () => {
    const pub = await ctx.clients.channel();
    const q = await groupQueue(pub);
    const groups = ['g0', 'g1', 'g2', 'g3'];
    const perGroup = 25;
    const inFlight = new Map<string, string>();
    const seen = new Map<string, number[]>();
    const violations: string[] = [];
    let received = 0;
    let peak = 0;
    const consumer = async (name: string): Promise<void> => {
      const ch = await ctx.clients.channel();
      await ch.prefetch(10);
      await ch.consume(q, (m: ConsumeMessage | null) => {
        if (!m) return;
        const g = String(m.properties.headers?.[HEADER]);
        const holder = inFlight.get(g);
        if (holder !== undefined) violations.push(`${g} delivered to ${name} while ${holder} holds one`);
        inFlight.set(g, name);
        peak = Math.max(peak, inFlight.size);
        (seen.get(g) ?? seen.set(g, []).get(g))?.push(Number(m.content.toString()));
        // Ack on a later turn, so other deliveries can arrive meanwhile.
        setTimeout(() => {
          inFlight.delete(g);
          received++;
          ch.ack(m);
        }, 2);
      });
    };
    await consumer('A');
    await consumer('B');
    for (let i = 0; i < perGroup; i++) {
      for (const g of groups) pub.sendToQueue(q, Buffer.from(String(i)), { headers: { [HEADER]: g }, persistent: true });
    }
    await waitUntil(() => received === groups.length * perGroup, 'every message acked');
    assert.deepEqual(violations, []);
    for (const g of groups) assert.deepEqual(seen.get(g), Array.from({ length: perGroup }, (_, i) => i), `order of ${g}`);
    assert.ok(peak > 1, 'different groups were in flight together');
  });

  it('basic.get: a group is held while its message is unacked; a requeue returns it to the head of its group', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const q = await groupQueue(ch);
    const send = (body: string, g?: string): boolean => ch.sendToQueue(q, Buffer.from(body), g ? { headers: { [HEADER]: g } } : {});
    send('a1', 'a');
    send('a2', 'a');
    send('b1', 'b');
    send('free1');
    send('free2');
    const get = async (): Promise<string | false> => {
      const m = await ch.get(q, { noAck: false });
      return m === false ? false : m.content.toString();
    };
    const first = await ch.get(q, { noAck: false });
    assert.ok(first);
    assert.equal(first.content.toString(), 'a1');
    const b1 = await ch.get(q, { noAck: false });
    assert.ok(b1);
    assert.equal(b1.content.toString(), 'b1', 'a2 waits for a1');
    assert.equal(await get(), 'free1', 'ungrouped messages are not held back');
    assert.equal(await get(), 'free2');
    assert.equal(await get(), false);
    assert.equal((await ch.checkQueue(q)).messageCount, 1, 'a2 is still counted as ready');
    ch.nack(first, false, true);
    const again = await ch.get(q, { noAck: false });
    assert.ok(again);
    assert.equal(again.content.toString(), 'a1');
    assert.equal(again.fields.redelivered, true);
    assert.equal(await get(), false);
    ch.ack(again);
    assert.equal(await get(), 'a2');
  });

  it('refuses an empty header name and x-max-priority with groups (406)', TEST_OPTS, async () => {
    for (const args of [{ 'x-message-group-header': '' }, { 'x-message-group-header': HEADER, 'x-max-priority': 5 }]) {
      const ch = await ctx.clients.channel();
      const err = await ch.assertQueue(uniqueName('bad-groups'), { arguments: args }).then(() => undefined, (e: unknown) => e);
      assert.equal(replyOf(err).code, 406);
    }
  });
});
