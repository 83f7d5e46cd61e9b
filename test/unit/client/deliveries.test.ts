// The client's basic.deliver fast path agrees with the generic decoder, joins
// bodies split over frames, leaves every other frame alone, and turns malformed
// input into AmqpProtocolError (never another exception).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DeliveryFastPath } from '../../../src/client/amqp/deliveries.js';
import {
  AmqpProtocolError,
  FrameParser,
  FrameWriter,
  decodeMethod,
  encodeMethod,
  encodeProperties,
  type BasicDeliver,
  type Frame,
} from '../../../src/protocol/amqp/index.js';

interface Got {
  channel: number;
  d: BasicDeliver;
  body: string;
}

function frames(bytes: Buffer): Frame[] {
  const out: Frame[] = [];
  const parser = new FrameParser({ onProtocolHeader: () => undefined, onFrame: (f) => out.push(f), onError: (e) => assert.fail(e.message) }, 0, false);
  parser.push(bytes);
  return out;
}

function deliverBytes(channel: number, d: BasicDeliver, body: Buffer, frameMax = 131072): Buffer {
  const w = new FrameWriter(frameMax);
  w.method(channel, d);
  w.content(channel, 60, encodeProperties({ deliveryMode: 2 }), body);
  return w.take() as Buffer;
}

function run(bytes: Buffer): { got: Got[]; passed: Frame[] } {
  const got: Got[] = [];
  const passed: Frame[] = [];
  const fast = new DeliveryFastPath((channel, d, _header, body) => got.push({ channel, d, body: body.toString() }));
  for (const f of frames(bytes)) if (!fast.take(f)) passed.push(f);
  return { got, passed };
}

const deliver = (over: Partial<BasicDeliver> = {}): BasicDeliver => ({
  name: 'basic.deliver', consumerTag: 'ctag-1', deliveryTag: 1, redelivered: false, exchange: '', routingKey: 'q', ...over,
});

describe('client basic.deliver fast path', () => {
  it('decodes as the generic decoder does, for any field values', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 60 }), fc.string({ maxLength: 60 }), fc.string({ maxLength: 60 }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.boolean(),
        (consumerTag, exchange, routingKey, deliveryTag, redelivered) => {
          const d = deliver({ consumerTag, exchange, routingKey, deliveryTag, redelivered });
          const { got, passed } = run(Buffer.concat([deliverBytes(3, d, Buffer.from('x')), deliverBytes(3, d, Buffer.from('y'))]));
          assert.deepEqual(passed, []);
          assert.deepEqual(got, [{ channel: 3, d: decodeMethod(encodeMethod(d)), body: 'x' }, { channel: 3, d, body: 'y' }]);
        },
      ),
    );
  });

  it('joins a body split over several frames, and passes an empty body', () => {
    const body = 'abcdefghij'.repeat(50);
    const { got } = run(Buffer.concat([deliverBytes(1, deliver(), Buffer.from(body), 64), deliverBytes(2, deliver(), Buffer.alloc(0))]));
    assert.deepEqual(got.map((g) => [g.channel, g.body]), [[1, body], [2, '']]);
  });

  it('leaves other methods and their content to the assembler', () => {
    const w = new FrameWriter();
    w.method(1, { name: 'basic.ack', deliveryTag: 5, multiple: true });
    w.method(1, { name: 'basic.return', replyCode: 312, replyText: 'NO_ROUTE', exchange: '', routingKey: 'x' });
    w.content(1, 60, encodeProperties({}), Buffer.from('r'));
    const { got, passed } = run(w.take() as Buffer);
    assert.deepEqual(got, []);
    assert.deepEqual(passed.map((f) => f.type), [1, 1, 2, 3]);
  });

  it('malformed deliveries and frame order errors are AmqpProtocolError', () => {
    const full = encodeMethod(deliver());
    const fast = (): DeliveryFastPath => new DeliveryFastPath(() => assert.fail('no delivery expected'));
    for (let cut = 5; cut < full.length; cut++) {
      assert.throws(() => fast().take({ type: 1, channel: 1, payload: full.subarray(0, cut) }), AmqpProtocolError, `cut at ${cut}`);
    }
    assert.throws(() => fast().take({ type: 1, channel: 1, payload: Buffer.concat([full, Buffer.from([0])]) }), AmqpProtocolError);
    const f = fast();
    f.take({ type: 1, channel: 1, payload: full });
    assert.throws(() => f.take({ type: 3, channel: 1, payload: Buffer.from('x') }), /expected content header for basic.deliver/);
    const g = fast();
    g.take({ type: 1, channel: 1, payload: full });
    assert.throws(() => g.take({ type: 1, channel: 1, payload: full }), /expected content for basic.deliver, got a method frame/);
    const h = fast();
    h.take({ type: 1, channel: 1, payload: full });
    assert.throws(() => h.take({ type: 2, channel: 1, payload: Buffer.from([0, 60]) }), AmqpProtocolError);
  });
});
