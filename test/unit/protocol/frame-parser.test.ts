// The frame parser must give the same frames however the stream is split
// (§4.2.3), and turn every malformed frame into one FRAME_ERROR.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AmqpProtocolError,
  FrameParser,
  PROTOCOL_HEADER,
  ReplyCode,
  encodeMethod,
  type Frame,
} from '../../../src/protocol/amqp/index.js';
import { frame } from './arbitraries.js';

interface Recorded {
  header: { ok: boolean; received: Buffer }[];
  frames: Frame[];
  errors: AmqpProtocolError[];
}

function record(frameMax?: number): { parser: FrameParser; events: Recorded } {
  const events: Recorded = { header: [], frames: [], errors: [] };
  const parser = new FrameParser(
    {
      onProtocolHeader: (ok, received) => events.header.push({ ok, received }),
      onFrame: (f) => events.frames.push({ type: f.type, channel: f.channel, payload: Buffer.from(f.payload) }),
      onError: (e) => events.errors.push(e),
    },
    frameMax,
  );
  return { parser, events };
}

function parse(chunks: Buffer[], frameMax?: number): Recorded {
  const { parser, events } = record(frameMax);
  for (const c of chunks) parser.push(c);
  return events;
}

const method = encodeMethod({ name: 'basic.publish', ticket: 0, exchange: 'amq.direct', routingKey: 'rk', mandatory: false, immediate: false });
const header = Buffer.from([0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0x80, 0, 4, 0x74, 0x65, 0x78, 0x74]);
const FRAMES: Frame[] = [
  { type: 1, channel: 1, payload: method },
  { type: 2, channel: 1, payload: header },
  { type: 3, channel: 1, payload: Buffer.from('hello') },
  { type: 8, channel: 0, payload: Buffer.alloc(0) },
  { type: 3, channel: 65535, payload: Buffer.alloc(0) },
];
const STREAM = Buffer.concat([PROTOCOL_HEADER, ...FRAMES.map((f) => frame(f.type, f.channel, f.payload))]);
const EXPECTED: Recorded = { header: [{ ok: true, received: PROTOCOL_HEADER }], frames: FRAMES, errors: [] };

function expectError(events: Recorded, code: number, pattern: RegExp): void {
  assert.equal(events.errors.length, 1);
  assert.ok(events.errors[0] instanceof AmqpProtocolError);
  assert.equal(events.errors[0].replyCode, code);
  assert.match(events.errors[0].message, pattern);
}

test('whole frames in one chunk', () => {
  assert.deepEqual(parse([STREAM]), EXPECTED);
});

test('byte-by-byte feeding gives the same frames', () => {
  const chunks = [...STREAM].map((b) => Buffer.from([b]));
  assert.deepEqual(parse(chunks), EXPECTED);
});

test('every split offset gives identical frames', () => {
  for (let i = 0; i <= STREAM.length; i++) {
    assert.deepEqual(parse([STREAM.subarray(0, i), STREAM.subarray(i)]), EXPECTED, `split at ${i}`);
  }
});

test('every pair of split offsets gives identical frames', () => {
  for (let i = 0; i <= STREAM.length; i++) {
    for (let j = i; j <= STREAM.length; j++) {
      const chunks = [STREAM.subarray(0, i), STREAM.subarray(i, j), STREAM.subarray(j)];
      assert.deepEqual(parse(chunks), EXPECTED, `split at ${i} and ${j}`);
    }
  }
});

test('a frame within one chunk is a zero-copy slice of it', () => {
  const chunk = Buffer.concat([PROTOCOL_HEADER, frame(3, 1, Buffer.from('abc'))]);
  let payload: Buffer | undefined;
  const parser = new FrameParser({ onProtocolHeader: () => {}, onFrame: (f) => (payload = f.payload), onError: assert.fail });
  parser.push(chunk);
  assert.ok(payload !== undefined);
  assert.equal(payload.buffer, chunk.buffer);
  assert.equal(payload.byteOffset, chunk.byteOffset + 8 + 7);
  assert.equal(payload.toString(), 'abc');
});

test('the 0-9-1 protocol header is accepted', () => {
  assert.deepEqual(parse([Buffer.from('AMQP\x00\x00\x09\x01', 'latin1')]).header, [{ ok: true, received: PROTOCOL_HEADER }]);
});

test('an AMQP 0-9 header is refused with the 8 bytes received', () => {
  const other = Buffer.from('AMQP\x01\x01\x00\x09', 'latin1');
  const events = parse([other, frame(8, 0, Buffer.alloc(0))]);
  assert.deepEqual(events.header, [{ ok: false, received: other }]);
  assert.deepEqual(events.frames, []);
  assert.deepEqual(events.errors, []);
});

test('an HTTP request is refused as soon as its first byte is known', () => {
  assert.deepEqual(parse([Buffer.from('HTTP/1.1 GET /')]).header, [{ ok: false, received: Buffer.from('HTTP/1.1') }]);
  const byByte = parse([...Buffer.from('HTTP/1.1')].map((b) => Buffer.from([b])));
  assert.deepEqual(byByte.header, [{ ok: false, received: Buffer.from('H') }]);
  const late = parse([Buffer.from('AMQ'), Buffer.from('X')]);
  assert.deepEqual(late.header, [{ ok: false, received: Buffer.from('AMQX') }]);
});

test('a short header waits for more bytes before deciding', () => {
  const { parser, events } = record();
  parser.push(Buffer.from('AMQP\x00\x00', 'latin1'));
  assert.deepEqual(events.header, []);
  parser.push(Buffer.from([9, 1]));
  assert.deepEqual(events.header, [{ ok: true, received: PROTOCOL_HEADER }]);
});

test('a bad frame-end byte is a FRAME_ERROR and stops the parser', () => {
  const bad = Buffer.concat([PROTOCOL_HEADER, frame(1, 1, method, 0xcd), frame(8, 0, Buffer.alloc(0))]);
  for (const chunks of [[bad], [...bad].map((b) => Buffer.from([b]))]) {
    const events = parse(chunks);
    expectError(events, ReplyCode.FRAME_ERROR, /^frame_end byte was 0xcd, not 0xce \(frame type 1 on channel 1\)$/);
    assert.deepEqual(events.frames, []);
  }
});

test('a frame larger than frame_max is a FRAME_ERROR as soon as its header arrives', () => {
  const { parser, events } = record(4096);
  parser.push(PROTOCOL_HEADER);
  parser.push(frame(3, 1, Buffer.alloc(4088))); // exactly 4096 bytes: allowed
  assert.equal(events.frames.length, 1);
  parser.push(frame(3, 1, Buffer.alloc(4089)).subarray(0, 7)); // only the header of a 4097-byte frame
  expectError(events, ReplyCode.FRAME_ERROR, /^type 3, all octets = <<>>: \{frame_too_large,4089,4088\}$/);
  parser.push(frame(8, 0, Buffer.alloc(0)));
  assert.equal(events.frames.length, 1);
});

test('frame_max defaults to FRAME_MIN_SIZE, follows setFrameMax, and 0 means no limit', () => {
  const big = Buffer.concat([PROTOCOL_HEADER, frame(3, 1, Buffer.alloc(5000))]);
  assert.equal(parse([big]).errors.length, 1);
  assert.equal(parse([big], 0).frames.length, 1);
  const { parser, events } = record();
  parser.setFrameMax(131072);
  parser.push(big);
  assert.deepEqual([events.frames.length, events.errors.length], [1, 0]);
});

test('an unknown frame type is a FRAME_ERROR', () => {
  const events = parse([Buffer.concat([PROTOCOL_HEADER, frame(9, 3, Buffer.from([1]))])]);
  expectError(events, ReplyCode.FRAME_ERROR, /^unknown frame type 9 on channel 3$/);
  // Split inside the frame header, too.
  const split = parse([PROTOCOL_HEADER, Buffer.from([0x41, 0x4d]), Buffer.from([0x51, 0, 0, 0, 0])]);
  expectError(split, ReplyCode.FRAME_ERROR, /^unknown frame type 65 on channel 19793$/);
});

test('input after an error is ignored', () => {
  const { parser, events } = record();
  parser.push(Buffer.concat([PROTOCOL_HEADER, frame(7, 0, Buffer.alloc(0))]));
  parser.push(frame(8, 0, Buffer.alloc(0)));
  assert.deepEqual([events.frames.length, events.errors.length], [0, 1]);
});

test('stop() drops the rest of the stream, even within a chunk', () => {
  const frames: Frame[] = [];
  const parser: FrameParser = new FrameParser({
    onProtocolHeader: () => {},
    onFrame: (f) => {
      frames.push(f);
      parser.stop();
    },
    onError: assert.fail,
  });
  parser.push(STREAM);
  assert.equal(frames.length, 1);
});

test('an exception from the handler propagates and stops the parser', () => {
  let calls = 0;
  const parser = new FrameParser({
    onProtocolHeader: () => {},
    onFrame: () => {
      calls++;
      throw new Error('handler bug');
    },
    onError: assert.fail,
  });
  assert.throws(() => parser.push(STREAM), /handler bug/);
  parser.push(frame(8, 0, Buffer.alloc(0)));
  assert.equal(calls, 1);
});
