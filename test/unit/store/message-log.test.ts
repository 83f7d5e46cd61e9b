import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  RecordType,
  decodeMessageRecords,
  encodeAck,
  encodeBatch,
  encodeEnqueue,
  encodePurge,
  encodeReturn,
  MessageRecordError,
  peekEnqueue,
  type EncodedRecord,
} from '../../../src/store/message-log.js';

const join = (r: EncodedRecord): Buffer => Buffer.concat(r.parts);

const enqueueArb = fc.record({
  msgId: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  persistent: fc.boolean(),
  queueIds: fc.array(fc.integer({ min: 1, max: 0xffffffff }), { maxLength: 20 }),
  publishedAt: fc.integer({ min: 0, max: 2 ** 45 }),
  expiration: fc.integer({ min: -1, max: 2 ** 32 }),
  priority: fc.integer({ min: 0, max: 255 }),
  exchange: fc.string({ maxLength: 40 }),
  routingKey: fc.string({ maxLength: 40 }),
  properties: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
  body: fc.uint8Array({ maxLength: 256 }).map((a) => Buffer.from(a)),
});

test('enqueue records round-trip', () => {
  fc.assert(
    fc.property(enqueueArb, (r) => {
      const bytes = join(encodeEnqueue(r));
      const [d] = decodeMessageRecords(RecordType.Enqueue, bytes);
      assert.deepEqual(d, { type: RecordType.Enqueue, ...r });
      // Recovery's header-only read agrees with the full decode.
      const { exchange: _e, routingKey: _k, properties: _p, body, ...head } = r;
      assert.deepEqual(peekEnqueue(bytes), { ...head, bodySize: body.length });
    }),
  );
});

test('format-1 enqueue records (no times) still decode, with neutral times and priority', () => {
  const v2 = join(encodeEnqueue({ msgId: 7, persistent: true, queueIds: [3], publishedAt: 5, expiration: 9, priority: 4, exchange: 'x', routingKey: 'k', properties: Buffer.from([0, 0]), body: Buffer.from('hi') }));
  // Format 1 had flags, id, then the queue count straight away.
  const v1 = Buffer.concat([Buffer.from([1]), v2.subarray(1, 9), v2.subarray(26)]);
  assert.deepEqual(decodeMessageRecords(RecordType.Enqueue, v1), [
    { type: RecordType.Enqueue, msgId: 7, persistent: true, queueIds: [3], publishedAt: 0, expiration: -1, priority: 0, exchange: 'x', routingKey: 'k', properties: Buffer.from([0, 0]), body: Buffer.from('hi') },
  ]);
});

test('ack, return, purge and batch records round-trip', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.array(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), { maxLength: 50 }),
      enqueueArb,
      (queueId, ids, enq) => {
        const counts = ids.map((_, i) => i);
        assert.deepEqual(decodeMessageRecords(RecordType.Return, join(encodeReturn(queueId, ids, counts))), [
          { type: RecordType.Return, queueId, msgIds: ids, counts },
        ]);
        assert.deepEqual(decodeMessageRecords(RecordType.Ack, join(encodeAck(queueId, ids))), [
          { type: RecordType.Ack, queueId, msgIds: ids },
        ]);
        assert.deepEqual(decodeMessageRecords(RecordType.Purge, join(encodePurge(queueId, 42))), [
          { type: RecordType.Purge, queueId, upTo: 42 },
        ]);
        const batch = encodeBatch([encodeEnqueue(enq), encodeAck(queueId, ids)]);
        assert.deepEqual(decodeMessageRecords(RecordType.Batch, join(batch)), [
          { type: RecordType.Enqueue, ...enq },
          { type: RecordType.Ack, queueId, msgIds: ids },
        ]);
      },
    ),
  );
});

test('truncated or unknown records throw MessageRecordError, never anything else', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 6 }), fc.uint8Array({ maxLength: 64 }), (type, bytes) => {
      for (const decode of [() => decodeMessageRecords(type, Buffer.from(bytes)), () => peekEnqueue(Buffer.from(bytes))]) {
        try {
          decode();
        } catch (err) {
          assert.ok(err instanceof MessageRecordError, String(err));
        }
      }
    }),
  );
  assert.throws(() => decodeMessageRecords(99, Buffer.alloc(0)), MessageRecordError);
  assert.throws(() => decodeMessageRecords(RecordType.Ack, Buffer.alloc(3)), MessageRecordError);
});
