// Queue.flowWait, the queue's side of publisher flow control (docs/architecture.md
// "Flow control"), on a queue over an in-memory log with scripted consumers: when it
// asks publishers to wait, when it must not, and that the wait ends when the queue
// delivers again. The end-to-end view through a real client is in
// test/integration/flow-control.test.ts.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageStore } from '../../../src/broker/message-store.js';
import { StoredMessage, type MessageContent, type QueueEntry } from '../../../src/broker/message.js';
import { parseQueueArgs } from '../../../src/broker/queue/args.js';
import { QUEUE_MEMORY_MESSAGES_MAX, Queue, type Consumer } from '../../../src/broker/queue/queue.js';
import { openMemoryLog } from '../../../src/store/index.js';

/** A consumer whose credit, output and stall the test sets; it settles what it gets (no-ack). */
class ScriptedConsumer implements Consumer {
  readonly noAck = true;
  readonly exclusive = false;
  readonly priority = 0;
  credit = true;
  writable = true;
  stalled = false;
  received = 0;
  constructor(readonly tag: string) {}
  canAccept(): boolean {
    return this.credit && this.writable;
  }
  waitsOnConnection(): boolean {
    return this.credit && !this.writable && !this.stalled;
  }
  deliver(queue: Queue, entry: QueueEntry): void {
    this.received++;
    queue.settle(entry);
  }
  cancelledByBroker(): void {}
}

let nextId = 1;
function fill(q: Queue, n: number): void {
  const now = Date.now();
  for (let i = 0; i < n; i++) {
    const content: MessageContent = { exchange: '', routingKey: q.name, properties: Buffer.from([0, 0]), body: Buffer.from('m') };
    q.enqueue(new StoredMessage(nextId++, false, 1, content, undefined, now), now);
  }
}

function newQueue(args: Record<string, unknown> = {}): Queue {
  const store = new MessageStore(openMemoryLog());
  return new Queue({ name: 'q', id: 0, durable: false, autoDelete: false, exclusiveOwner: undefined, args, vhost: '/', config: parseQueueArgs(args, { queue: 'q', vhost: '/' }, { durable: false, exclusive: false }) }, store);
}

/** Keeps the event loop busy for a while, so the queue sees a broker that falls behind. */
function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}

/**
 * q.flowWait() asked after a busy stretch. The queue samples event-loop utilization over
 * at least 100 ms since its last sample: the first ask (120 ms on) starts a fresh window,
 * so the second one sees only the busy 150 ms.
 */
function flowWaitWhileBusy(q: Queue): Promise<void> | undefined {
  busyFor(120);
  q.flowWait();
  busyFor(150);
  return q.flowWait();
}

/** Deep enough for flow control, with consumer `c` held up by its output. */
function backedUp(args: Record<string, unknown> = {}): { q: Queue; c: ScriptedConsumer } {
  const q = newQueue(args);
  const c = new ScriptedConsumer('c1');
  c.writable = false;
  q.addConsumer(c);
  fill(q, QUEUE_MEMORY_MESSAGES_MAX / 2);
  return { q, c };
}

describe('queue flow control (Queue.flowWait)', () => {
  it('holds publishers while a consumer with credit waits on its output and the broker is busy; the next delivery lets them go', async () => {
    const { q, c } = backedUp();
    const wait = flowWaitWhileBusy(q);
    assert.ok(wait, 'publishers wait');
    assert.equal(q.flowWait(), wait, 'one gate for every publisher');
    c.writable = true;
    q.drain();
    await wait;
    assert.ok(c.received > 0);
    assert.equal(q.flowWait(), undefined, 'empty again: no wait');
  });

  it('a slow client on an idle broker holds nobody back', async () => {
    const { q } = backedUp();
    q.flowWait();
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(q.flowWait(), undefined);
  });

  it('consumers out of credit, or whose client stopped reading, hold nobody back', () => {
    const { q, c } = backedUp();
    c.credit = false;
    assert.equal(flowWaitWhileBusy(q), undefined, 'prefetch full');
    c.credit = true;
    c.stalled = true;
    assert.equal(q.flowWait(), undefined, 'stalled');
  });

  it('with a single active consumer only the active one counts', () => {
    const { q, c } = backedUp({ 'x-single-active-consumer': true });
    c.credit = false;
    c.writable = true;
    const standby = new ScriptedConsumer('c2');
    standby.writable = false;
    q.addConsumer(standby);
    assert.equal(flowWaitWhileBusy(q), undefined);
  });

  it('a consumer waiting for paged-out content holds publishers until it is read back and delivered', async () => {
    const q = newQueue();
    fill(q, QUEUE_MEMORY_MESSAGES_MAX + 100); // the last 100 are paged out
    const c = new ScriptedConsumer('c1');
    q.addConsumer(c); // takes the first QUEUE_MEMORY_MESSAGES_MAX, then waits for the disk
    assert.equal(c.received, QUEUE_MEMORY_MESSAGES_MAX);
    const wait = q.flowWait();
    assert.ok(wait, 'starved: publishers wait, busy or not');
    await wait;
    assert.equal(c.received, QUEUE_MEMORY_MESSAGES_MAX + 100);
    assert.equal(q.flowWait(), undefined);
  });

  it('deleting the queue lets its publishers go', async () => {
    const { q } = backedUp();
    const wait = flowWaitWhileBusy(q);
    assert.ok(wait);
    q.delete();
    await wait;
  });
});
