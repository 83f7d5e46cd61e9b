// How an x-delayed-message exchange reads its declare argument and a message's
// x-delay header (the plugin's rules, rabbit_delayed_message_utils).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BrokerError } from '../../../../src/broker/errors.js';
import { DELAY_MS_MAX, delayOf, delayedRouterType } from '../../../../src/broker/exchange/delayed.js';
import { Decimal, Timestamp, TypedNumber } from '../../../../src/protocol/amqp/index.js';

describe('x-delayed-type', () => {
  it('names the routing type', () => {
    for (const t of ['direct', 'fanout', 'topic', 'headers'] as const) assert.equal(delayedRouterType({ 'x-delayed-type': t }), t);
  });

  it('is required and must name an existing, non-delayed type (PRECONDITION_FAILED)', () => {
    for (const args of [{}, { 'x-delayed-type': 'nope' }, { 'x-delayed-type': 'x-delayed-message' }, { 'x-delayed-type': 1 }]) {
      assert.throws(
        () => delayedRouterType(args),
        (e: unknown) =>
          e instanceof BrokerError &&
          e.kind === 'precondition-failed' &&
          e.message === "Invalid argument, 'x-delayed-type' must be an existing exchange type",
      );
    }
  });
});

describe('x-delay', () => {
  const delay = (v: unknown) => delayOf({ 'x-delay': v });

  it('holds for a positive integer of any integer type', () => {
    assert.equal(delay(5000), 5000);
    assert.equal(delay(5000n), 5000);
    assert.equal(delay(new TypedNumber('uint8', 7)), 7);
    assert.equal(delay(new TypedNumber('uint32', DELAY_MS_MAX)), DELAY_MS_MAX);
  });

  it('truncates floats and parses integer strings', () => {
    assert.equal(delay(1500.9), 1500);
    assert.equal(delay(new TypedNumber('float', 2.5)), 2);
    assert.equal(delay('250'), 250);
    assert.equal(delay('+250'), 250);
  });

  it('routes at once for no header, <= 0, too long, or anything not a number', () => {
    assert.equal(delayOf(undefined), undefined);
    assert.equal(delayOf({ other: 5 }), undefined);
    for (const v of [0, -1, 0.9, DELAY_MS_MAX + 1, '12ms', '', '-5', 'x', true, null, Buffer.from('5'), new Decimal(0, 5), new Timestamp(5), [5], { a: 1 }]) {
      assert.equal(delay(v), undefined, `x-delay ${String(v)}`);
    }
  });
});
