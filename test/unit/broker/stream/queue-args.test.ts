// RabbitMQ's duration strings and x-stream-offset values, parsed as RabbitMQ 3.10 parses them.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Timestamp, TypedNumber } from '../../../../src/protocol/amqp/index.js';
import { BrokerError } from '../../../../src/broker/errors.js';
import { parseDuration, streamStartOf } from '../../../../src/broker/stream/queue-args.js';

test('durations: RabbitMQ\'s units, whole numbers, never zero', () => {
  const day = 86_400_000;
  assert.equal(parseDuration('10s'), 10_000);
  assert.equal(parseDuration('30m'), 1_800_000);
  assert.equal(parseDuration('12h'), 43_200_000);
  assert.equal(parseDuration('7D'), 7 * day);
  assert.equal(parseDuration('1M'), 30 * day);
  assert.equal(parseDuration('1Y'), 365 * day);
  assert.equal(parseDuration('999999999999Y'), Number.MAX_SAFE_INTEGER);
  for (const bad of ['0s', '1d', '10', '', 'h', '-1h', '1.5h', ' 1h', '1h ', '1H']) assert.equal(parseDuration(bad), undefined, bad);
});

test('x-stream-offset: names, offsets, timestamps, intervals; x-priority and anything else refused', () => {
  const now = 1_700_000_000_000;
  const start = (v: unknown): unknown => streamStartOf(v === undefined ? {} : { 'x-stream-offset': v }, "queue 'q' in vhost '/'", now);
  assert.deepEqual(start(undefined), { kind: 'next' });
  assert.deepEqual(start('first'), { kind: 'first' });
  assert.deepEqual(start(Buffer.from('last')), { kind: 'last' });
  assert.deepEqual(start('next'), { kind: 'next' });
  assert.deepEqual(start(5), { kind: 'offset', offset: 5 });
  assert.deepEqual(start(5n), { kind: 'offset', offset: 5 });
  assert.deepEqual(start(new TypedNumber('int8', -1)), { kind: 'offset', offset: -1 });
  assert.deepEqual(start(new Timestamp(1_600_000_000)), { kind: 'timestamp', ms: 1_600_000_000_000 });
  assert.deepEqual(start('1h'), { kind: 'timestamp', ms: now - 3_600_000 });
  const refused: [unknown, string][] = [
    ['2', '{longstr,<<"2">>}'],
    ['bogus', '{longstr,<<"bogus">>}'],
    [true, '{bool,true}'],
    [2.5, '{double,2.5}'],
    [new TypedNumber('float', 1), '{float,1}'],
  ];
  for (const [v, term] of refused) {
    assert.throws(() => start(v), (e: unknown) => e instanceof BrokerError && e.kind === 'precondition-failed' &&
      e.message === `invalid arg 'x-stream-offset' for queue 'q' in vhost '/': {invalid_stream_offset_arg,${term}}`);
  }
  assert.throws(() => streamStartOf({ 'x-priority': 1 }, "queue 'q' in vhost '/'", now), /invalid arg 'x-priority' for queue 'q' in vhost '\/' of queue type rabbit_stream_queue/);
});
