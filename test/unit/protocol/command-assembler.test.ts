// Commands from frames (§4.2.6): content-bearing methods collect a content
// header and body frames; anything out of order is UNEXPECTED_FRAME.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AmqpProtocolError,
  CommandAssembler,
  ReplyCode,
  decodeProperties,
  encodeMethod,
  encodeProperties,
  type Command,
  type Frame,
  type Method,
} from '../../../src/protocol/amqp/index.js';

const PUBLISH: Method = { name: 'basic.publish', ticket: 0, exchange: '', routingKey: 'q', mandatory: true, immediate: false };

function methodFrame(channel: number, m: Method): Frame {
  return { type: 1, channel, payload: encodeMethod(m) };
}

function headerFrame(channel: number, bodySize: number, classId = 60, properties = encodeProperties({ contentType: 'text/plain' })): Frame {
  const fixed = Buffer.alloc(12);
  fixed.writeUInt16BE(classId, 0);
  fixed.writeBigUInt64BE(BigInt(bodySize), 4);
  return { type: 2, channel, payload: Buffer.concat([fixed, properties]) };
}

function bodyFrame(channel: number, body: string | Buffer): Frame {
  return { type: 3, channel, payload: Buffer.from(body) };
}

function assembler(maxBodyBytes?: number): { asm: CommandAssembler; commands: Command[] } {
  const commands: Command[] = [];
  return { asm: new CommandAssembler((c) => commands.push(c), maxBodyBytes), commands };
}

function protocolError(fn: () => void): AmqpProtocolError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof AmqpProtocolError, `expected AmqpProtocolError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a protocol error');
}

test('a method without content is a command at once', () => {
  const { asm, commands } = assembler();
  asm.handleFrame(methodFrame(3, { name: 'basic.ack', deliveryTag: 7, multiple: false }));
  assert.deepEqual(commands, [{ channel: 3, method: { name: 'basic.ack', deliveryTag: 7, multiple: false } }]);
});

test('publish with an empty body completes right after its header', () => {
  const { asm, commands } = assembler();
  asm.handleFrame(methodFrame(1, PUBLISH));
  assert.equal(commands.length, 0);
  asm.handleFrame(headerFrame(1, 0));
  assert.equal(commands.length, 1);
  assert.deepEqual(commands[0].method, PUBLISH);
  assert.equal(commands[0].header?.bodySize, 0);
  assert.equal(commands[0].body?.length, 0);
  assert.deepEqual(decodeProperties(commands[0].header.rawProperties), { contentType: 'text/plain' });
});

test('publish with one body frame passes the frame payload through without copying', () => {
  const { asm, commands } = assembler();
  const body = bodyFrame(1, 'hello');
  asm.handleFrame(methodFrame(1, PUBLISH));
  asm.handleFrame(headerFrame(1, 5));
  asm.handleFrame(body);
  assert.equal(commands.length, 1);
  assert.equal(commands[0].body, body.payload);
  assert.equal(commands[0].channel, 1);
});

test('publish with many body frames joins them once', () => {
  const { asm, commands } = assembler();
  asm.handleFrame(methodFrame(1, PUBLISH));
  asm.handleFrame(headerFrame(1, 11));
  for (const part of ['hel', '', 'lo ', 'wor', 'ld']) {
    assert.equal(commands.length, 0);
    asm.handleFrame(bodyFrame(1, part));
  }
  assert.equal(commands.length, 1);
  assert.equal(commands[0].body?.toString(), 'hello world');
});

test('content on different channels may interleave', () => {
  const { asm, commands } = assembler();
  asm.handleFrame(methodFrame(1, PUBLISH));
  asm.handleFrame(methodFrame(2, PUBLISH));
  asm.handleFrame(headerFrame(2, 2));
  asm.handleFrame(headerFrame(1, 2));
  asm.handleFrame(bodyFrame(1, 'a'));
  asm.handleFrame(bodyFrame(2, 'bb'));
  asm.handleFrame(methodFrame(2, { name: 'basic.qos', prefetchSize: 0, prefetchCount: 1, global: false }));
  asm.handleFrame(bodyFrame(1, 'a'));
  assert.deepEqual(
    commands.map((c) => [c.channel, c.method.name, c.body?.toString()]),
    [
      [2, 'basic.publish', 'bb'],
      [2, 'basic.qos', undefined],
      [1, 'basic.publish', 'aa'],
    ],
  );
});

test('a content header without a pending content method is UNEXPECTED_FRAME', () => {
  const { asm } = assembler();
  const e = protocolError(() => asm.handleFrame(headerFrame(4, 1)));
  assert.equal(e.replyCode, ReplyCode.UNEXPECTED_FRAME);
  assert.equal(e.channel, 4);
  assert.equal(e.message, 'expected method frame, got non method frame instead');
});

test('a body frame without a content header is UNEXPECTED_FRAME', () => {
  const { asm } = assembler();
  assert.equal(protocolError(() => asm.handleFrame(bodyFrame(1, 'x'))).replyCode, ReplyCode.UNEXPECTED_FRAME);
  asm.handleFrame(methodFrame(1, PUBLISH));
  const e = protocolError(() => asm.handleFrame(bodyFrame(1, 'x')));
  assert.equal(e.replyCode, ReplyCode.UNEXPECTED_FRAME);
  assert.equal(e.message, 'expected content header for basic.publish, got a content body frame instead');
  assert.deepEqual([e.classId, e.methodId], [60, 40]);
});

test('a method frame while content is pending is UNEXPECTED_FRAME', () => {
  for (const sent of [0, 1]) {
    const { asm } = assembler();
    asm.handleFrame(methodFrame(1, PUBLISH));
    if (sent) asm.handleFrame(headerFrame(1, 10));
    const e = protocolError(() => asm.handleFrame(methodFrame(1, PUBLISH)));
    assert.equal(e.replyCode, ReplyCode.UNEXPECTED_FRAME);
    assert.match(e.message, sent ? /expected content body for basic.publish/ : /expected content header for basic.publish/);
    assert.equal(e.channel, 1);
  }
});

test('a second content header is UNEXPECTED_FRAME', () => {
  const { asm } = assembler();
  asm.handleFrame(methodFrame(1, PUBLISH));
  asm.handleFrame(headerFrame(1, 10));
  assert.equal(protocolError(() => asm.handleFrame(headerFrame(1, 10))).replyCode, ReplyCode.UNEXPECTED_FRAME);
});

test('a content header of another class is UNEXPECTED_FRAME', () => {
  const { asm } = assembler();
  asm.handleFrame(methodFrame(1, PUBLISH));
  const e = protocolError(() => asm.handleFrame(headerFrame(1, 1, 50)));
  assert.equal(e.replyCode, ReplyCode.UNEXPECTED_FRAME);
  assert.equal(e.message, 'expected content header for class 60, got one for class 50 instead');
});

test('more body bytes than the header announced is a FRAME_ERROR', () => {
  const { asm, commands } = assembler();
  asm.handleFrame(methodFrame(1, PUBLISH));
  asm.handleFrame(headerFrame(1, 3));
  asm.handleFrame(bodyFrame(1, 'ab'));
  const e = protocolError(() => asm.handleFrame(bodyFrame(1, 'cd')));
  assert.equal(e.replyCode, ReplyCode.FRAME_ERROR);
  assert.match(e.message, /content body of at least 4 bytes exceeds the body size 3/);
  assert.equal(commands.length, 0);
});

test('a short content header is a SYNTAX_ERROR on its channel', () => {
  const { asm } = assembler();
  asm.handleFrame(methodFrame(2, PUBLISH));
  const e = protocolError(() => asm.handleFrame({ type: 2, channel: 2, payload: Buffer.alloc(13) }));
  assert.equal(e.replyCode, ReplyCode.SYNTAX_ERROR);
  assert.equal(e.channel, 2);
});

test('a body over maxBodyBytes is a channel-level PRECONDITION_FAILED and its frames are skipped', () => {
  const { asm, commands } = assembler(4);
  asm.handleFrame(methodFrame(1, PUBLISH));
  const e = protocolError(() => asm.handleFrame(headerFrame(1, 6)));
  assert.equal(e.replyCode, ReplyCode.PRECONDITION_FAILED);
  assert.equal(e.message, 'message size 6 is larger than configured max size 4');
  assert.deepEqual([e.channel, e.classId, e.methodId], [1, 60, 40]);
  asm.handleFrame(bodyFrame(1, 'abc'));
  asm.handleFrame(bodyFrame(1, 'def'));
  asm.handleFrame(methodFrame(1, PUBLISH));
  asm.handleFrame(headerFrame(1, 4));
  asm.handleFrame(bodyFrame(1, 'abcd'));
  assert.deepEqual(commands.map((c) => c.body?.toString()), ['abcd']);
});

test('resetChannel drops partial content', () => {
  const { asm, commands } = assembler();
  asm.handleFrame(methodFrame(1, PUBLISH));
  asm.handleFrame(headerFrame(1, 10));
  asm.resetChannel(1);
  asm.handleFrame(methodFrame(1, { name: 'channel.close-ok' }));
  assert.deepEqual(commands, [{ channel: 1, method: { name: 'channel.close-ok' } }]);
});

test('decode errors carry the channel and method ids', () => {
  const { asm } = assembler();
  const truncated = encodeMethod(PUBLISH).subarray(0, 6);
  const e = protocolError(() => asm.handleFrame({ type: 1, channel: 9, payload: truncated }));
  assert.deepEqual([e.replyCode, e.channel, e.classId, e.methodId], [ReplyCode.SYNTAX_ERROR, 9, 60, 40]);
  const unknown = protocolError(() => asm.handleFrame({ type: 1, channel: 9, payload: Buffer.from([0, 60, 0, 99]) }));
  assert.deepEqual([unknown.replyCode, unknown.channel, unknown.classId, unknown.methodId], [ReplyCode.NOT_IMPLEMENTED, 9, 60, 99]);
});

test('heartbeats are ignored and unknown frame types refused', () => {
  const { asm, commands } = assembler();
  asm.handleFrame({ type: 8, channel: 0, payload: Buffer.alloc(0) });
  assert.equal(commands.length, 0);
  assert.equal(protocolError(() => asm.handleFrame({ type: 4, channel: 0, payload: Buffer.alloc(0) })).replyCode, ReplyCode.FRAME_ERROR);
});

test('bufferedBodyBytes counts bodies kept until complete, not refused ones, and drops with a reset', () => {
  const { asm, commands } = assembler(8);
  asm.handleFrame(methodFrame(1, PUBLISH));
  asm.handleFrame(headerFrame(1, 6));
  asm.handleFrame(bodyFrame(1, 'abc'));
  asm.handleFrame(methodFrame(2, PUBLISH));
  asm.handleFrame(headerFrame(2, 5));
  asm.handleFrame(bodyFrame(2, 'xy'));
  assert.equal(asm.bufferedBodyBytes, 5);
  asm.handleFrame(bodyFrame(1, 'def'));
  assert.equal(asm.bufferedBodyBytes, 2, 'channel 1 complete: its body is passed on');
  asm.resetChannel(2);
  assert.equal(asm.bufferedBodyBytes, 0);
  asm.handleFrame(methodFrame(3, PUBLISH));
  protocolError(() => asm.handleFrame(headerFrame(3, 100)));
  asm.handleFrame(bodyFrame(3, Buffer.alloc(50)));
  assert.equal(asm.bufferedBodyBytes, 0, 'a refused body is skipped, not kept');
  assert.deepEqual(commands.map((c) => c.body?.toString()), ['abcdef']);
});
