// The frame writer: method frames, content split to frame-max (§4.2.6.2),
// heartbeats, and take() handing out buffers that later writes never touch.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CommandAssembler,
  FrameParser,
  FrameWriter,
  PROTOCOL_HEADER,
  encodeMethod,
  encodeProperties,
  heartbeatFrame,
  type Command,
  type Frame,
  type Method,
} from '../../../src/protocol/amqp/index.js';
import { frame } from './arbitraries.js';

const DELIVER: Method = { name: 'basic.deliver', consumerTag: 'ctag', deliveryTag: 1, redelivered: false, exchange: '', routingKey: 'q' };

function framesOf(bytes: Buffer): Frame[] {
  const frames: Frame[] = [];
  const parser = new FrameParser({ onProtocolHeader: () => {}, onFrame: (f) => frames.push(f), onError: (e) => assert.fail(e) }, 0);
  parser.push(PROTOCOL_HEADER);
  parser.push(bytes);
  return frames;
}

function commandsOf(bytes: Buffer): Command[] {
  const commands: Command[] = [];
  const asm = new CommandAssembler((c) => commands.push(c));
  for (const f of framesOf(bytes)) asm.handleFrame(f);
  return commands;
}

test('a method frame is type 1, the channel, the payload size, the payload and 0xce', () => {
  const w = new FrameWriter();
  w.method(7, DELIVER);
  assert.deepEqual(w.take(), frame(1, 7, encodeMethod(DELIVER)));
});

test('content is a header frame with weight 0 and body size, then body frames within frame_max', () => {
  const w = new FrameWriter(4096);
  const props = encodeProperties({ deliveryMode: 2 });
  const body = Buffer.alloc(10000, 7);
  w.method(1, DELIVER);
  w.content(1, 60, props, body);
  const frames = framesOf(w.take() as Buffer);
  assert.deepEqual(
    frames.map((f) => [f.type, f.channel, f.payload.length]),
    [
      [1, 1, encodeMethod(DELIVER).length],
      [2, 1, 12 + props.length],
      [3, 1, 4088],
      [3, 1, 4088],
      [3, 1, 1824],
    ],
  );
  assert.deepEqual(frames[1].payload.subarray(0, 12), Buffer.from([0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0x27, 0x10]));
  assert.deepEqual(frames[1].payload.subarray(12), props);
});

test('content round-trips through the parser and assembler at several frame sizes', () => {
  for (const frameMax of [0, 4096, 131072]) {
    for (const size of [0, 1, 4087, 4088, 4089, 20000]) {
      const w = new FrameWriter(frameMax);
      const body = Buffer.alloc(size);
      for (let i = 0; i < size; i++) body[i] = i % 251;
      const props = encodeProperties({ messageId: `m${size}` });
      w.method(2, DELIVER);
      w.content(2, 60, props, body);
      const [cmd, ...rest] = commandsOf(w.take() as Buffer);
      assert.equal(rest.length, 0);
      assert.deepEqual(cmd.method, DELIVER);
      assert.deepEqual(cmd.header?.rawProperties, props);
      assert.deepEqual(cmd.body, body, `frameMax ${frameMax} size ${size}`);
    }
  }
});

test('an empty body sends no body frame', () => {
  const w = new FrameWriter();
  w.content(1, 60, encodeProperties({}), Buffer.alloc(0));
  assert.deepEqual(framesOf(w.take() as Buffer).map((f) => f.type), [2]);
});

test('frame_max 0 sends the body in one frame', () => {
  const w = new FrameWriter(0);
  w.content(1, 60, encodeProperties({}), Buffer.alloc(300000));
  assert.deepEqual(framesOf(w.take() as Buffer).map((f) => f.payload.length), [14, 300000]);
});

test('heartbeats are 8 bytes on channel 0', () => {
  const expected = Buffer.from([8, 0, 0, 0, 0, 0, 0, 0xce]);
  assert.deepEqual(heartbeatFrame(), expected);
  const w = new FrameWriter();
  w.heartbeat();
  assert.equal(w.length, 8);
  assert.deepEqual(w.take(), expected);
});

test('take() returns undefined when empty and everything since the last take otherwise', () => {
  const w = new FrameWriter();
  assert.equal(w.take(), undefined);
  w.heartbeat();
  w.method(0, { name: 'connection.close-ok' });
  assert.equal(w.length, 8 + 12);
  assert.equal(framesOf(w.take() as Buffer).length, 2);
  assert.equal(w.length, 0);
  assert.equal(w.take(), undefined);
});

test('taken buffers are never overwritten by later writes, across slab growth', () => {
  const w = new FrameWriter(4096);
  const taken: Buffer[] = [];
  const copies: Buffer[] = [];
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < round * 3; i++) {
      w.method(1, { ...DELIVER, deliveryTag: round * 1000 + i } as Method);
      w.content(1, 60, encodeProperties({}), Buffer.alloc(i * 97, round));
    }
    const out = w.take();
    if (out === undefined) continue;
    taken.push(out);
    copies.push(Buffer.from(out));
  }
  assert.deepEqual(taken, copies);
  const tags = commandsOf(Buffer.concat(taken)).map((c) => (c.method as { deliveryTag: number }).deliveryTag);
  assert.equal(tags.length, (49 * 50 * 3) / 2);
});

test('a method that fails to encode adds nothing', () => {
  const w = new FrameWriter();
  w.heartbeat();
  assert.throws(() => w.method(1, { name: 'basic.consume-ok', consumerTag: 'x'.repeat(300) }), RangeError);
  assert.equal(w.length, 8);
});

test('frame_max must leave room for a payload byte', () => {
  assert.throws(() => new FrameWriter(8), RangeError);
  assert.throws(() => new FrameWriter().setFrameMax(-1), RangeError);
  assert.doesNotThrow(() => new FrameWriter().setFrameMax(0));
});
