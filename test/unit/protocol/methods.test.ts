// Method codecs: known bytes, round trips of every method in the spec with
// arbitrary field values, byte-for-byte agreement with amqplib's independent
// codec, and the errors malformed payloads give.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  AmqpProtocolError,
  FRAME_BODY,
  FRAME_END,
  FRAME_HEADER,
  FRAME_HEARTBEAT,
  FRAME_METHOD,
  FRAME_MIN_SIZE,
  METHOD_FIELDS,
  METHOD_NAMES,
  PROTOCOL_HEADER,
  REPLY_CODES,
  ReplyCode,
  decodeMethod,
  encodeMethod,
  encodeMethodInto,
  hasContent,
  isHardError,
  isSynchronousRequest,
  methodIds,
  methodMaxBytes,
  methodName,
  replyCodeName,
  type Method,
  type MethodOf,
} from '../../../src/protocol/amqp/index.js';
import { anyMethod, loadAmqplibDefs, methodArbitrary, simpleTable } from './arbitraries.js';

function syntaxErrorOf(payload: Buffer): AmqpProtocolError {
  try {
    decodeMethod(payload);
  } catch (e) {
    assert.ok(e instanceof AmqpProtocolError, `expected AmqpProtocolError, got ${String(e)}`);
    return e;
  }
  assert.fail('decodeMethod accepted a malformed payload');
}

test('basic.publish encodes to the bytes §4.2.5 describes, bits packed into one octet', () => {
  const m: Method = { name: 'basic.publish', ticket: 0, exchange: 'ex', routingKey: 'rk', mandatory: true, immediate: false };
  const bytes = Buffer.from([0, 60, 0, 40, 0, 0, 2, 0x65, 0x78, 2, 0x72, 0x6b, 0b01]);
  assert.deepEqual(encodeMethod(m), bytes);
  assert.deepEqual(decodeMethod(bytes), m);
});

test('five consecutive bits of queue.declare share one octet in spec order', () => {
  const m: MethodOf<'queue.declare'> = {
    name: 'queue.declare',
    ticket: 0,
    queue: 'q',
    passive: true,
    durable: false,
    exclusive: true,
    autoDelete: false,
    nowait: true,
    arguments: {},
  };
  const payload = encodeMethod(m);
  assert.deepEqual(payload, Buffer.from([0, 50, 0, 10, 0, 0, 1, 0x71, 0b10101, 0, 0, 0, 0]));
  assert.deepEqual(decodeMethod(payload), m);
});

test('longlong fields carry safe integers up to 2^53-1', () => {
  const m: Method = { name: 'basic.ack', deliveryTag: Number.MAX_SAFE_INTEGER, multiple: true };
  const payload = encodeMethod(m);
  assert.deepEqual(payload.subarray(4, 12), Buffer.from([0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
  assert.deepEqual(decodeMethod(payload), m);
});

test('SASL fields are bytes, other longstrs text', () => {
  const m: Method = {
    name: 'connection.start-ok',
    clientProperties: { product: 'test', capabilities: { publisher_confirms: true } },
    mechanism: 'PLAIN',
    response: Buffer.from('\0guest\0guest'),
    locale: 'en_US',
  };
  const decoded = decodeMethod(encodeMethod(m)) as MethodOf<'connection.start-ok'>;
  assert.ok(Buffer.isBuffer(decoded.response));
  assert.deepEqual(decoded, m);
  const secret = decodeMethod(encodeMethod({ name: 'connection.update-secret', newSecret: 'jwt', reason: 'refresh' }));
  assert.deepEqual(secret, { name: 'connection.update-secret', newSecret: 'jwt', reason: 'refresh' });
});

test('every method in the spec round-trips with arbitrary field values', () => {
  for (const name of METHOD_NAMES) {
    fc.assert(
      fc.property(methodArbitrary(name), (m) => {
        assert.deepEqual(decodeMethod(encodeMethod(m)), m);
      }),
      { numRuns: 60 },
    );
  }
});

test('encodeMethodInto stays within methodMaxBytes and writes nothing outside its range', () => {
  fc.assert(
    fc.property(anyMethod, fc.nat(16), (m, offset) => {
      const max = methodMaxBytes(m);
      const b = Buffer.alloc(offset + max + 4, 0xaa);
      const end = encodeMethodInto(m, b, offset);
      assert.ok(end - offset <= max, `${m.name}: ${end - offset} > ${max}`);
      assert.ok(b.subarray(0, offset).every((x) => x === 0xaa));
      assert.ok(b.subarray(end).every((x) => x === 0xaa));
      assert.deepEqual(decodeMethod(b.subarray(offset, end)), m);
    }),
    { numRuns: 500 },
  );
});

test('encodings are byte-for-byte those of amqplib for every method', () => {
  const defs = loadAmqplibDefs();
  for (const name of METHOD_NAMES) {
    const { classId, methodId } = methodIds(name);
    fc.assert(
      fc.property(methodArbitrary(name, simpleTable), (m) => {
        // amqplib wants every longstr as a Buffer.
        const fields: Record<string, unknown> = { ...m };
        for (const f of METHOD_FIELDS[name]) {
          if (f.type === 'longstr' && typeof fields[f.name] === 'string') fields[f.name] = Buffer.from(fields[f.name] as string);
        }
        const theirs = defs.encodeMethod(classId * 0x10000 + methodId, 1, fields);
        assert.deepEqual(encodeMethod(m), theirs.subarray(7, theirs.length - 1), name);
      }),
      { numRuns: 25 },
    );
  }
});

test('every strict prefix of a method payload is a 502 SYNTAX_ERROR naming the method', () => {
  fc.assert(
    fc.property(anyMethod, (m) => {
      const payload = encodeMethod(m);
      const { classId, methodId } = methodIds(m.name);
      for (let cut = 0; cut < payload.length; cut++) {
        const e = syntaxErrorOf(payload.subarray(0, cut));
        assert.equal(e.replyCode, ReplyCode.SYNTAX_ERROR);
        if (cut >= 4) {
          assert.equal(e.classId, classId);
          assert.equal(e.methodId, methodId);
          assert.match(e.message, new RegExp(`^malformed ${m.name.replace('.', '\\.')}: `));
        }
      }
    }),
    { numRuns: 200 },
  );
});

test('trailing bytes after the last field are a syntax error', () => {
  const payload = Buffer.concat([encodeMethod({ name: 'channel.close-ok' }), Buffer.from([0])]);
  const e = syntaxErrorOf(payload);
  assert.equal(e.replyCode, ReplyCode.SYNTAX_ERROR);
  assert.equal(e.message, 'malformed channel.close-ok: 1 unexpected trailing bytes at offset 4');
});

test('unknown classes and methods are 540 NOT_IMPLEMENTED carrying their ids', () => {
  const e = syntaxErrorOf(Buffer.from([0, 60, 0, 99]));
  assert.equal(e.replyCode, ReplyCode.NOT_IMPLEMENTED);
  assert.equal(e.message, 'unknown method class 60 method 99');
  assert.equal(e.classId, 60);
  assert.equal(e.methodId, 99);
  assert.equal(syntaxErrorOf(Buffer.from([0x03, 0xe7, 0, 10, 1, 2])).replyCode, ReplyCode.NOT_IMPLEMENTED);
});

test('a longlong beyond 2^53-1 is refused, not rounded', () => {
  const payload = Buffer.from([0, 60, 0, 80, 0, 0x20, 0, 0, 0, 0, 0, 0, 0]);
  const e = syntaxErrorOf(payload);
  assert.equal(e.replyCode, ReplyCode.SYNTAX_ERROR);
  assert.match(e.message, /9007199254740992 .*exceeds 2\^53-1/);
});

test('a reply text over 255 bytes is cut at a character boundary; other shortstrs refuse', () => {
  const close = (replyText: string): string =>
    (decodeMethod(encodeMethod({ name: 'channel.close', replyCode: 404, replyText, classId: 0, methodId: 0 })) as MethodOf<'channel.close'>)
      .replyText;
  assert.equal(close('x'.repeat(300)), 'x'.repeat(255));
  assert.equal(close('é'.repeat(200)), 'é'.repeat(127));
  assert.equal(close('ok'), 'ok');
  assert.throws(() => encodeMethod({ name: 'basic.consume-ok', consumerTag: 'x'.repeat(256) }), RangeError);
  assert.throws(() => encodeMethod({ name: 'basic.consume-ok', consumerTag: 'é'.repeat(128) }), RangeError);
  assert.equal(
    (decodeMethod(encodeMethod({ name: 'basic.consume-ok', consumerTag: 'é'.repeat(127) })) as MethodOf<'basic.consume-ok'>).consumerTag,
    'é'.repeat(127),
  );
});

test('method ids, names, content and synchronous flags come from the spec', () => {
  assert.deepEqual(methodIds('basic.publish'), { classId: 60, methodId: 40 });
  assert.deepEqual(methodIds('exchange.unbind-ok'), { classId: 40, methodId: 51 });
  assert.equal(methodName(60, 40), 'basic.publish');
  assert.equal(methodName(10, 70), 'connection.update-secret');
  assert.equal(methodName(85, 10), 'confirm.select');
  assert.equal(methodName(60, 99), undefined);
  assert.equal(METHOD_NAMES.length, 66);
  for (const name of METHOD_NAMES) assert.equal(methodName(methodIds(name).classId, methodIds(name).methodId), name);
  assert.deepEqual(
    METHOD_NAMES.filter((n) => hasContent(n)),
    ['basic.publish', 'basic.return', 'basic.deliver', 'basic.get-ok'],
  );
  assert.equal(isSynchronousRequest('queue.declare'), true);
  assert.equal(isSynchronousRequest('connection.start'), true);
  assert.equal(isSynchronousRequest('queue.declare-ok'), false);
  assert.equal(isSynchronousRequest('basic.publish'), false);
});

test('constants and reply codes match the spec', () => {
  assert.deepEqual(
    [FRAME_METHOD, FRAME_HEADER, FRAME_BODY, FRAME_HEARTBEAT, FRAME_END, FRAME_MIN_SIZE],
    [1, 2, 3, 8, 0xce, 4096],
  );
  assert.deepEqual(PROTOCOL_HEADER, Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'));
  assert.deepEqual(
    { ...ReplyCode },
    {
      REPLY_SUCCESS: 200,
      CONTENT_TOO_LARGE: 311,
      NO_ROUTE: 312,
      NO_CONSUMERS: 313,
      CONNECTION_FORCED: 320,
      INVALID_PATH: 402,
      ACCESS_REFUSED: 403,
      NOT_FOUND: 404,
      RESOURCE_LOCKED: 405,
      PRECONDITION_FAILED: 406,
      FRAME_ERROR: 501,
      SYNTAX_ERROR: 502,
      COMMAND_INVALID: 503,
      CHANNEL_ERROR: 504,
      UNEXPECTED_FRAME: 505,
      RESOURCE_ERROR: 506,
      NOT_ALLOWED: 530,
      NOT_IMPLEMENTED: 540,
      INTERNAL_ERROR: 541,
    },
  );
  assert.equal(replyCodeName(404), 'NOT_FOUND');
  assert.equal(replyCodeName(501), 'FRAME_ERROR');
  assert.equal(replyCodeName(999), 'UNKNOWN_REPLY_CODE_999');
  const hard = [320, 402, 501, 502, 503, 504, 505, 506, 530, 540, 541];
  const soft = [311, 312, 313, 403, 404, 405, 406];
  for (const code of hard) assert.equal(isHardError(code), true, String(code));
  for (const code of [...soft, 200, 999]) assert.equal(isHardError(code), false, String(code));
  assert.deepEqual(
    REPLY_CODES.filter((r) => r.errorClass === 'soft-error').map((r) => r.code).sort(),
    soft,
  );
});
