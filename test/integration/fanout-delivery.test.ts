// Regression: a message routed to several queues whose consumers take it at
// once. A no-ack delivery from the first queue used to release the message
// (dropping its content) before the next queue had enqueued it, and the broker
// then spun forever trying to load content that was never written.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Clients, bodies, consumeInto } from '../helpers/amqplib.js';
import { TEST_OPTS, uniqueName } from '../helpers/async.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

describe('fan-out to queues with waiting consumers', () => {
  let broker: TestBroker;
  let clients: Clients;

  before(async () => {
    broker = await startTestBroker();
    clients = new Clients(broker.url);
  });
  after(async () => {
    await clients.closeAll();
    await broker.close();
  });

  for (const persistent of [false, true]) {
    it(`every bound queue's no-ack consumer gets each ${persistent ? 'persistent' : 'transient'} message`, TEST_OPTS, async () => {
      const conn = await clients.connect();
      const ch = await clients.channel(conn);
      const x = uniqueName('x');
      await ch.assertExchange(x, 'fanout', { durable: false, autoDelete: true });
      const queues = [uniqueName(), uniqueName(), uniqueName()];
      const collectors = [];
      for (const q of queues) {
        await ch.assertQueue(q, { durable: persistent, exclusive: true });
        await ch.bindQueue(q, x, '');
        collectors.push((await consumeInto(await clients.channel(conn), q, { noAck: true })).collector);
      }
      for (const m of ['a', 'b', 'c']) ch.publish(x, '', Buffer.from(m), { persistent });
      for (const c of collectors) assert.deepEqual(bodies(await c.waitFor(3)), ['a', 'b', 'c']);
    });
  }
});
