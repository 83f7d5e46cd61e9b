// Queue.retimeReady: a changed x-message-ttl applied to the messages already in the
// queue, counted from each one's publish (SQS's MessageRetentionPeriod), while an
// AMQP-style reconfigure alone leaves their expiry as it was.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_QUEUE_CONFIG } from '../../../../src/broker/queue/args.js';
import { Queue } from '../../../../src/broker/queue/queue.js';
import { StoredMessage } from '../../../../src/broker/message.js';
import type { MessageStore } from '../../../../src/broker/message-store.js';
import { NO_POLICIES } from '../../../../src/broker/policy/effective.js';
import { waitUntil } from '../../../helpers/async.js';

/** A transient queue's store calls: nothing is written; releases are counted. */
function fakeStore(): { store: MessageStore; released: number[] } {
  const released: number[] = [];
  const store = { release: (m: StoredMessage) => released.push(m.id), pageOut: () => undefined } as unknown as MessageStore;
  return { store, released };
}

function message(id: number, publishedAt: number, expiration = -1): StoredMessage {
  return new StoredMessage(id, false, 1, { exchange: '', routingKey: 'q', properties: Buffer.alloc(2), body: Buffer.from('x') }, undefined, publishedAt, expiration, 0);
}

test('retimeReady expires the messages older than a shortened TTL, and keeps the others', async () => {
  const { store, released } = fakeStore();
  const config = { ...DEFAULT_QUEUE_CONFIG, messageTtl: 3_600_000 };
  const q = new Queue({ name: 'q', id: 0, durable: false, autoDelete: false, exclusiveOwner: undefined, args: {}, vhost: '/', config }, store);
  const now = Date.now();
  q.enqueue(message(1, now - 120_000), now - 120_000);
  q.enqueue(message(2, now - 90_000), now - 90_000);
  q.enqueue(message(3, now), now);
  q.reconfigure({ ...config, messageTtl: 60_000 }, NO_POLICIES);
  // A reconfigure alone (RabbitMQ's rule) leaves them: their expiry came with them.
  assert.equal(q.messageCount, 3);
  q.retimeReady();
  await waitUntil(() => q.messageCount === 1, 'the two old messages to expire');
  assert.deepEqual(released.sort(), [1, 2]);
  const left = q.takeReady(1);
  assert.equal(left[0]?.msg.id, 3);
  assert.ok(left[0].expiresAt > now && left[0].expiresAt <= now + 60_000);
});

test('retimeReady keeps a message\'s own shorter expiration', () => {
  const { store } = fakeStore();
  const q = new Queue({ name: 'q', id: 0, durable: false, autoDelete: false, exclusiveOwner: undefined, args: {}, vhost: '/', config: DEFAULT_QUEUE_CONFIG }, store);
  const now = Date.now();
  q.enqueue(message(1, now, 30_000), now);
  q.reconfigure({ ...DEFAULT_QUEUE_CONFIG, messageTtl: 3_600_000 }, NO_POLICIES);
  q.retimeReady();
  const [e] = q.takeReady(1);
  assert.equal(e?.expiresAt, now + 30_000);
});
