// A quorum queue's command log (src/broker/queue/quorum-log.ts): records written as a Kafka
// batch and read back replay to the live messages: Enqueues minus Settles, in offset order,
// with the delivery count of each one's last Return, and the exchange, routing key,
// properties, body and flags each was published with.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildRecordBatchSync, decodeRecords } from '../../../../src/protocol/kafka/record-batch.js';
import { enqueueRecord, QuorumReplay, returnRecord, settleRecord } from '../../../../src/broker/queue/quorum-log.js';
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
    const batch = buildRecordBatchSync({ records, baseTimestamp: 1000n });
    const replay = new QuorumReplay();
    for (const rec of decodeRecords(batch)) replay.apply(rec);
    const live = replay.messages();
    assert.deepEqual(live.map((m) => [m.offset, m.content.body.toString(), m.returns]), [[0, 'm0', 2], [1, 'm1', 1]]);
    const m1 = live[1];
    assert.deepEqual(
      { exchange: m1.content.exchange, routingKey: m1.content.routingKey, properties: [...m1.content.properties] },
      { exchange: 'ex', routingKey: 'rk', properties: [0x10, 0x00, 0x02] },
    );
    assert.deepEqual({ persistent: m1.persistent, priority: m1.priority, expiration: m1.expiration, publishedAt: m1.publishedAt }, { persistent: false, priority: 3, expiration: 500, publishedAt: 1001 });
    assert.equal(replay.lowestLive(), 0);
  });

  it('an empty log, and a log whose every message was settled, replay to nothing', () => {
    const empty = new QuorumReplay();
    assert.deepEqual(empty.messages(), []);
    assert.equal(empty.lowestLive(), undefined);
    const replay = new QuorumReplay();
    const batch = buildRecordBatchSync({ records: [enqueueRecord(input('a'), 1), settleRecord([0])], baseTimestamp: 1n });
    for (const rec of decodeRecords(batch)) replay.apply(rec);
    assert.deepEqual(replay.messages(), []);
  });
});
