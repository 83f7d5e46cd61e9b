// A quorum queue's command log (src/broker/queue/quorum-log.ts): records written as a Kafka
// batch and read back replay to the live messages: Enqueues minus Settles, in offset order,
// with the delivery count of each one's last Return, and the exchange, routing key,
// properties, body and flags each was published with. And the cut-point rule: replaying the
// log from the cut gives the same live messages as replaying all of it, for whatever prefix of
// the uncommitted tail a new leader may hold.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { buildRecordBatchSync, decodeRecords, type KafkaRecord, type RecordSpec } from '../../../../src/protocol/kafka/record-batch.js';
import { cutPoint, enqueueRecord, isEnqueue, liveMessageOf, QuorumLiveSet, returnRecord, settleRecord, type LiveMessage } from '../../../../src/broker/queue/quorum-log.js';
import type { PublishInput } from '../../../../src/broker/message.js';

function input(body: string, o: Partial<PublishInput> = {}): PublishInput {
  return {
    exchange: 'ex',
    routingKey: 'rk',
    mandatory: false,
    properties: Buffer.from([0x10, 0x00, 0x02]),
    body: Buffer.from(body),
    persistent: true,
    headers: undefined,
    priority: 0,
    expiration: -1,
    messageId: undefined,
    ...o,
  };
}

/** The two-pass replay of records [from, to): the live set, then the live Enqueues decoded in offset order. */
function replay(records: readonly KafkaRecord[], from = 0, to = Number.POSITIVE_INFINITY): { live: QuorumLiveSet; messages: LiveMessage[] } {
  const range = records.filter((r) => Number(r.offset) >= from && Number(r.offset) < to);
  const live = new QuorumLiveSet();
  for (const rec of range) live.apply(rec);
  const messages: LiveMessage[] = [];
  for (const rec of range) {
    const returns = isEnqueue(rec) ? live.returnsOf(Number(rec.offset)) : undefined;
    if (returns !== undefined) messages.push(liveMessageOf(rec, returns));
  }
  return { live, messages };
}

function decoded(records: RecordSpec[]): KafkaRecord[] {
  return [...decodeRecords(buildRecordBatchSync({ records, baseTimestamp: 1000n }))];
}

describe('quorum queue log replay', () => {
  it('Enqueues minus Settles, in offset order, with the last Return count and the message as published', () => {
    const records = [
      enqueueRecord(input('m0'), 1000), // 0
      enqueueRecord(input('m1', { persistent: false, priority: 3, expiration: 500 }), 1001), // 1
      enqueueRecord(input('m2'), 1002), // 2
      returnRecord([[0, 1], [1, 1]]), // 3
      settleRecord([2]), // 4
      returnRecord([[0, 2], [2, 5]]), // 5: a Return of a settled message changes nothing
      enqueueRecord(input('m3'), 1003), // 6
      settleRecord([6, 99]), // 7: an offset never enqueued is ignored
    ];
    const { live: set, messages: live } = replay(decoded(records));
    assert.deepEqual(live.map((m) => [m.offset, m.content.body.toString(), m.returns]), [[0, 'm0', 2], [1, 'm1', 1]]);
    const m1 = live[1];
    assert.deepEqual(
      { exchange: m1.content.exchange, routingKey: m1.content.routingKey, properties: [...m1.content.properties] },
      { exchange: 'ex', routingKey: 'rk', properties: [0x10, 0x00, 0x02] },
    );
    assert.deepEqual({ persistent: m1.persistent, priority: m1.priority, expiration: m1.expiration, publishedAt: m1.publishedAt }, { persistent: false, priority: 3, expiration: 500, publishedAt: 1001 });
    assert.equal(set.lowestLive(), 0);
    assert.deepEqual(set.offsets(), [0, 1]);
  });

  it('an empty log, and a log whose every message was settled, replay to nothing', () => {
    const empty = replay([]);
    assert.deepEqual(empty.messages, []);
    assert.equal(empty.live.lowestLive(), undefined);
    const all = replay(decoded([enqueueRecord(input('a'), 1), settleRecord([0])]));
    assert.deepEqual(all.messages, []);
    assert.equal(all.live.size, 0);
  });

  it('a message moved to the tail carries its delivery count; the old copy, settled, is gone', () => {
    const { messages } = replay(decoded([enqueueRecord(input('old'), 1), returnRecord([[0, 2]]), enqueueRecord(input('old'), 1, 2), settleRecord([0])]));
    assert.deepEqual(messages.map((m) => [m.offset, m.content.body.toString(), m.returns, m.publishedAt]), [[2, 'old', 2, 1]]);
  });

  it('the cut point: the lowest needed offset, at most the high watermark; the log end when nothing is needed', () => {
    assert.equal(cutPoint([], 40), 40);
    assert.equal(cutPoint([17, 9, 30], 40), 9);
    assert.equal(cutPoint([50, 60], 40), 40);
    assert.equal(cutPoint(new Set([3]), 0), 0);
  });

  it('replaying from the cut gives the same live messages and delivery counts as replaying the whole log, for any prefix a new leader holds', () => {
    const op = fc.record({ kind: fc.constantFrom('enqueue', 'enqueue', 'settle', 'return'), pick: fc.nat(), many: fc.integer({ min: 1, max: 3 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), fc.nat(), fc.nat(), (ops, hwPick, endPick) => {
        // The leader's commands: its live messages (offset -> delivery count) as it goes.
        const specs: RecordSpec[] = [];
        const live = new Map<number, number>();
        /** Where each settled Enqueue's Settle record is. */
        const settledAt = new Map<number, number>();
        for (const o of ops) {
          const offsets = [...live.keys()];
          if (o.kind === 'enqueue' || offsets.length === 0) {
            live.set(specs.length, 0);
            specs.push(enqueueRecord(input(`m${specs.length}`), specs.length));
            continue;
          }
          const chosen = [...new Set(Array.from({ length: o.many }, (_, i) => offsets[(o.pick + i * 7) % offsets.length]))];
          if (o.kind === 'settle') {
            for (const c of chosen) {
              live.delete(c);
              settledAt.set(c, specs.length);
            }
            specs.push(settleRecord(chosen));
          } else {
            for (const c of chosen) live.set(c, (live.get(c) ?? 0) + 1);
            specs.push(returnRecord(chosen.map((c) => [c, live.get(c) ?? 0] as const)));
          }
        }
        const records = decoded(specs);
        const end = records.length;
        const hw = hwPick % (end + 1);
        // What the leader keeps: its live messages and the settled ones whose Settle is not committed.
        const needed = [...live.keys(), ...[...settledAt].filter(([, at]) => at >= hw).map(([o]) => o)];
        const cut = cutPoint(needed, hw);
        assert.ok(cut <= hw);
        // A new leader holds every committed record and maybe part of the uncommitted tail.
        const upTo = hw + (endPick % (end - hw + 1));
        const whole = replay(records, 0, upTo).messages.map((m) => [m.offset, m.content.body.toString(), m.returns]);
        const fromCut = replay(records, cut, upTo).messages.map((m) => [m.offset, m.content.body.toString(), m.returns]);
        assert.deepEqual(fromCut, whole);
      }),
      { numRuns: 500 },
    );
  });
});
