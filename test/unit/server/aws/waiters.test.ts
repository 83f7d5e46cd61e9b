// SqsWaiters' line discipline, with a stand-in queue and taker (the integration suite
// test/integration/aws/sqs-long-poll.test.ts drives the real thing through the SDK):
// first come first served, a waiter that went away while messages were being taken gives
// them back, the queue is watched only while someone waits, deletion fails the line.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Queue, ReadyWatcher } from '../../../../src/broker/queue/queue.js';
import type { Received } from '../../../../src/server/aws/sqs/receiver.js';
import { SqsWaiters, type RequestLife, type Taker } from '../../../../src/server/aws/sqs/waiters.js';

class FakeQueue {
  readonly name = 'q';
  deleted = false;
  ready: number[] = [];
  readonly watchers = new Set<ReadyWatcher>();
  get messageCount(): number {
    return this.ready.length;
  }
  watchReady(w: ReadyWatcher): void {
    this.watchers.add(w);
  }
  unwatchReady(w: ReadyWatcher): void {
    this.watchers.delete(w);
  }
  add(...ids: number[]): void {
    this.ready.push(...ids);
    for (const w of this.watchers) w(this as unknown as Queue);
  }
}

class FakeTaker implements Taker {
  givenBack: number[] = [];
  /** Runs between taking and answering, as a disk read of paged-out content would. */
  duringTake: (() => void) | undefined;
  constructor(private readonly q: FakeQueue) {}
  async receive(_queue: string, max: number): Promise<Received[]> {
    const ids = this.q.ready.splice(0, max);
    await Promise.resolve();
    this.duringTake?.();
    return ids.map((id) => ({ result: { deliveryTag: id }, receiptHandle: String(id) }) as unknown as Received);
  }
  giveBack(got: readonly Received[]): void {
    for (const g of got) this.givenBack.push(g.result.deliveryTag);
  }
}

class Life implements RequestLife {
  private fn: (() => void) | undefined;
  isGone = false;
  gone(): boolean {
    return this.isGone;
  }
  onGone(fn: () => void): void {
    this.fn = fn;
  }
  answered(): boolean {
    return false;
  }
  leave(): void {
    this.isGone = true;
    this.fn?.();
  }
}

const ids = (got: Received[]): number[] => got.map((g) => g.result.deliveryTag);
const setup = () => {
  const q = new FakeQueue();
  const taker = new FakeTaker(q);
  const waiters = new SqsWaiters(taker, () => new Error('QueueDoesNotExist'));
  return { q, taker, waiters, queue: q as unknown as Queue };
};

test('waiters are served in arrival order, each up to its max; the queue is unwatched when the line empties', async () => {
  const { q, waiters, queue } = setup();
  const a = waiters.wait(queue, 2, 30, 20_000);
  const b = waiters.wait(queue, 10, 30, 20_000);
  assert.equal(waiters.size, 2);
  assert.equal(q.watchers.size, 1);
  q.add(1, 2, 3);
  assert.deepEqual(ids(await a), [1, 2]);
  assert.deepEqual(ids(await b), [3]);
  assert.equal(waiters.size, 0);
  assert.equal(q.watchers.size, 0);
});

test('a waiter that goes away while its messages are taken gives them back; the next one gets new ones', async () => {
  const { q, taker, waiters, queue } = setup();
  const life = new Life();
  const gone = waiters.wait(queue, 1, 30, 20_000, life);
  const next = waiters.wait(queue, 1, 30, 20_000);
  taker.duringTake = () => {
    taker.duringTake = undefined;
    life.leave();
  };
  q.add(7);
  assert.deepEqual(ids(await gone), []);
  q.add(8);
  assert.deepEqual(ids(await next), [8]);
  assert.deepEqual(taker.givenBack, [7]);
});

test('a gone request leaves the line at once; a timed-out one answers empty', async () => {
  const { q, waiters, queue } = setup();
  const life = new Life();
  const gone = waiters.wait(queue, 1, 30, 20_000, life);
  life.leave();
  assert.deepEqual(await gone, []);
  assert.equal(waiters.size, 0);
  assert.deepEqual(await waiters.wait(queue, 1, 30, 1), []);
  assert.equal(q.watchers.size, 0);
});

test('deleting the queue fails everyone waiting on it', async () => {
  const { q, waiters, queue } = setup();
  const all = [waiters.wait(queue, 1, 30, 20_000), waiters.wait(queue, 1, 30, 20_000)];
  q.deleted = true;
  for (const w of [...q.watchers]) w(queue);
  for (const p of all) await assert.rejects(p, /QueueDoesNotExist/);
  assert.equal(waiters.size, 0);
  await assert.rejects(waiters.wait(queue, 1, 30, 20_000), /QueueDoesNotExist/);
});
