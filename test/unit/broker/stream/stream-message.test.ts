// The AMQP <-> record mapping (docs/streams.md): an AMQP publish comes back to AMQP consumers
// exactly as published; Kafka clients see the body, a key and the headers as text; a Kafka
// record reaches AMQP consumers with its key, headers and timestamp.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Timestamp, TypedNumber, decodeProperties, encodeProperties, type BasicProperties } from '../../../../src/protocol/amqp/index.js';
import { buildRecordBatchSync, decodeRecords, type KafkaRecord, type RecordSpec } from '../../../../src/protocol/kafka/record-batch.js';
import type { PublishInput } from '../../../../src/broker/message.js';
import { AMQP_CONTENT_HEADER, deliveryOf, recordOf } from '../../../../src/broker/stream/stream-message.js';

function publish(p: BasicProperties, o: Partial<PublishInput> = {}): PublishInput {
  return {
    exchange: 'ex',
    routingKey: 'rk',
    mandatory: false,
    properties: encodeProperties(p),
    body: Buffer.from('body'),
    persistent: p.deliveryMode === 2,
    headers: p.headers,
    priority: 0,
    expiration: -1,
    messageId: p.messageId,
    ...o,
  };
}

/** Through a real batch, as the log stores it, at `offset`. */
function stored(rec: RecordSpec, offset = 7n, timestamp = 1_700_000_123_456n): KafkaRecord {
  return decodeRecords(buildRecordBatchSync({ records: [rec], baseOffset: offset, baseTimestamp: timestamp }))[0];
}

describe('AMQP publish -> record -> AMQP delivery', () => {
  test('exchange, routing key, body and every property come back, with x-stream-offset', () => {
    const p: BasicProperties = {
      contentType: 'text/plain',
      headers: { a: 'x', n: 5, t: { z: [1, 'two'] }, ts: new Timestamp(1_600_000_000) },
      deliveryMode: 2,
      priority: 4,
      messageId: 'm1',
      timestamp: 1_700_000_000,
      userId: 'guest',
    };
    const d = deliveryOf(stored(recordOf(publish(p))), 'q');
    assert.equal(d.exchange, 'ex');
    assert.equal(d.routingKey, 'rk');
    assert.equal(d.body.toString(), 'body');
    assert.deepEqual(decodeProperties(d.properties), { ...p, headers: { ...p.headers, 'x-stream-offset': 7 } });
  });

  test('the same route twice, then another: each record keeps its own', () => {
    const a = deliveryOf(stored(recordOf(publish({}))), 'q');
    const b = deliveryOf(stored(recordOf(publish({}, { exchange: '', routingKey: 'other' }))), 'q');
    const c = deliveryOf(stored(recordOf(publish({}))), 'q');
    assert.deepEqual([a.exchange, a.routingKey, b.exchange, b.routingKey, c.exchange, c.routingKey], ['ex', 'rk', '', 'other', 'ex', 'rk']);
  });

  test('Kafka sees the routing key as the key, or x-stream-key, and the headers as text', () => {
    const rec = stored(recordOf(publish({ headers: { s: 'x', n: 5, big: 2n ** 60n, b: true, v: null, bin: Buffer.from([1, 2]), t: { k: 'v' }, i8: new TypedNumber('int8', -3) } })));
    assert.equal(rec.key?.toString(), 'rk');
    assert.equal(rec.headers[0].key, AMQP_CONTENT_HEADER);
    assert.deepEqual(
      rec.headers.slice(1).map((h) => [h.key, h.value === null ? null : h.value.toString('latin1')]),
      [['s', 'x'], ['n', '5'], ['big', String(2n ** 60n)], ['b', 'true'], ['v', null], ['bin', '\x01\x02'], ['t', '{"k":"v"}'], ['i8', '-3']],
    );
    assert.equal(stored(recordOf(publish({ headers: { 'x-stream-key': 'k1' } }))).key?.toString(), 'k1');
    assert.deepEqual(stored(recordOf(publish({ headers: { 'x-stream-key': Buffer.from([9]) } }))).key, Buffer.from([9]));
    assert.equal(stored(recordOf(publish({}, { routingKey: '' }))).key, null);
  });
});

describe('Kafka record -> AMQP delivery', () => {
  test('body, key, headers (text or bytes), timestamp in seconds, offset', () => {
    const d = deliveryOf(
      stored({
        key: Buffer.from('k'),
        value: Buffer.from('v'),
        headers: [
          { key: 'text', value: Buffer.from('héllo') },
          { key: 'bin', value: Buffer.from([0xff, 0xfe]) },
          { key: 'nil', value: null },
          { key: '__proto__', value: Buffer.from('p') },
          { key: 'x'.repeat(300), value: Buffer.from('too long a name for AMQP') },
        ],
      }),
      'topic',
    );
    assert.equal(d.exchange, '');
    assert.equal(d.routingKey, 'topic');
    assert.equal(d.body.toString(), 'v');
    const p = decodeProperties(d.properties);
    assert.equal(p.timestamp, 1_700_000_123);
    assert.deepEqual(Object.keys(p.headers ?? {}), ['text', 'bin', 'nil', '__proto__', 'x-stream-key', 'x-stream-offset']);
    assert.equal(p.headers?.text, 'héllo');
    assert.deepEqual(p.headers?.bin, Buffer.from([0xff, 0xfe]));
    assert.equal(p.headers?.nil, null);
    assert.equal(Object.getOwnPropertyDescriptor(p.headers, '__proto__')?.value, 'p');
    assert.equal(p.headers?.['x-stream-key'], 'k');
    assert.equal(p.headers?.['x-stream-offset'], 7);
  });

  test('no key, no value, no headers', () => {
    const d = deliveryOf(stored({ key: null, value: null }), 't');
    assert.equal(d.body.length, 0);
    assert.deepEqual(decodeProperties(d.properties).headers, { 'x-stream-offset': 7 });
  });

  test('an x-amqp-content header that is not an envelope is just a header', () => {
    const d = deliveryOf(stored({ value: Buffer.from('v'), headers: [{ key: AMQP_CONTENT_HEADER, value: Buffer.from('nonsense') }] }), 't');
    assert.equal(d.routingKey, 't');
    assert.equal(decodeProperties(d.properties).headers?.[AMQP_CONTENT_HEADER], 'nonsense');
  });
});
