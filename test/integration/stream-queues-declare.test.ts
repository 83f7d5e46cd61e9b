// Stream queues (x-queue-type: stream) through amqplib: declaring them, their arguments and
// RabbitMQ 3.10's refusals and equivalence checks, word for word. Passes against the reference
// RabbitMQ too (WHARF_TEST_REFERENCE_URL); where RabbitMQ 3.10 fails with an internal error
// (541) Wharf answers 406, and those cases are Wharf-only.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TEST_OPTS, uniqueName } from '../helpers/async.js';
import { isReference } from '../helpers/broker.js';
import { assertRejectsWith, useBroker, waitForReady } from '../helpers/amqplib.js';

const STREAM = { 'x-queue-type': 'stream' } as const;
const where = (q: string): string => `queue '${q}' in vhost '/'`;

describe('stream queues: declare', () => {
  const ctx = useBroker();

  function streamName(): string {
    return ctx.clients.deleteLater(uniqueName('sq'));
  }

  it('declares a durable stream queue; redeclare and passive declare report its messages', TEST_OPTS, async () => {
    const ch = await ctx.clients.confirmChannel();
    const q = streamName();
    assert.deepEqual(await ch.assertQueue(q, { durable: true, arguments: STREAM }), { queue: q, messageCount: 0, consumerCount: 0 });
    for (let i = 0; i < 3; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
    await ch.waitForConfirms();
    // RabbitMQ's count comes from periodic stats: wait for it. Stream consumers are never counted (3.10 reports 0).
    await waitForReady(ch, q, 3);
    assert.deepEqual(await ch.assertQueue(q, { durable: true, arguments: STREAM }), { queue: q, messageCount: 3, consumerCount: 0 });
    assert.deepEqual(await ch.checkQueue(q), { queue: q, messageCount: 3, consumerCount: 0 });
  });

  const properties = [
    { what: 'non-durable', opts: { durable: false }, text: (q: string) => `invalid property 'non-durable' for ${where(q)}` },
    { what: 'exclusive', opts: { durable: true, exclusive: true }, text: (q: string) => `invalid property 'exclusive-owner' for ${where(q)}` },
    { what: 'auto-delete', opts: { durable: true, autoDelete: true }, text: (q: string) => `invalid property 'auto-delete' for ${where(q)}` },
    // Checked first: auto-delete before exclusive before durable.
    { what: 'non-durable auto-delete', opts: { durable: false, autoDelete: true }, text: (q: string) => `invalid property 'auto-delete' for ${where(q)}` },
  ];
  for (const p of properties) {
    it(`refuses a ${p.what} stream queue with 406`, TEST_OPTS, async () => {
      const ch = await ctx.clients.channel();
      const q = streamName();
      await assertRejectsWith(ch.assertQueue(q, { ...p.opts, arguments: STREAM }), 406, `PRECONDITION_FAILED - ${p.text(q)}`);
    });
  }

  it('refuses a server-named stream queue with 406', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    await assertRejectsWith(
      ch.assertQueue('', { durable: true, arguments: STREAM }),
      406,
      'PRECONDITION_FAILED - Cannot declare a server-named queue for type rabbit_stream_queue',
    );
  });

  it('takes RabbitMQ\'s stream arguments and their duration units', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const accepted: Record<string, unknown>[] = [
      { 'x-max-length-bytes': 1_000_000 },
      { 'x-max-length-bytes': 0 },
      { 'x-max-length-bytes': 2 ** 40 },
      { 'x-stream-max-segment-size-bytes': 500_000 },
      { 'x-stream-max-segment-size-bytes': 0 },
      { 'x-initial-cluster-size': 1 },
      { 'x-queue-leader-locator': 'client-local' },
      { 'x-queue-leader-locator': 'balanced' },
      ...['7D', '12h', '30m', '10s', '1Y', '1M', '1D'].map((age) => ({ 'x-max-age': age })),
      // Arguments no queue type knows are kept and ignored.
      { 'x-something-else': 5 },
    ];
    for (const args of accepted) {
      const q = streamName();
      assert.equal((await ch.assertQueue(q, { durable: true, arguments: { ...STREAM, ...args } })).queue, q, JSON.stringify(args));
      await ch.deleteQueue(q);
    }
  });

  const refused: { args: Record<string, unknown>; text: (q: string) => string; wharfOnly?: true }[] = [
    ...['x-max-length', 'x-message-ttl', 'x-expires', 'x-max-priority', 'x-delivery-limit', 'x-queue-master-locator', 'x-max-in-memory-length', 'x-quorum-initial-group-size']
      .map((key) => ({ args: { [key]: 10 }, text: (q: string) => `invalid arg '${key}' for ${where(q)} of queue type rabbit_stream_queue` })),
    ...[['x-overflow', 'reject-publish'], ['x-dead-letter-exchange', 'dlx'], ['x-dead-letter-routing-key', 'k'], ['x-queue-mode', 'lazy']]
      .map(([key, v]) => ({ args: { [key]: v }, text: (q: string) => `invalid arg '${key}' for ${where(q)} of queue type rabbit_stream_queue` })),
    { args: { 'x-single-active-consumer': true }, text: (q) => `invalid arg 'x-single-active-consumer' for ${where(q)} of queue type rabbit_stream_queue` },
    ...['1d', '10', '0s', '1.5h', '1h '].map((age) => ({ args: { 'x-max-age': age }, text: (q: string) => `invalid arg 'x-max-age' for ${where(q)}: invalid_max_age` })),
    // RabbitMQ 3.10 answers these three with 541 INTERNAL_ERROR (a crash in its parser).
    ...['xx', '-1h', ''].map((age) => ({ args: { 'x-max-age': age }, wharfOnly: true as const, text: (q: string) => `invalid arg 'x-max-age' for ${where(q)}: invalid_max_age` })),
    { args: { 'x-max-age': 10 }, text: (q) => `invalid arg 'x-max-age' for ${where(q)}: {unacceptable_type,byte}` },
    { args: { 'x-max-length-bytes': -1 }, text: (q) => `invalid arg 'x-max-length-bytes' for ${where(q)}: {value_negative,-1}` },
    { args: { 'x-max-length-bytes': 'abc' }, text: (q) => `invalid arg 'x-max-length-bytes' for ${where(q)}: "expected integer, got longstr"` },
    { args: { 'x-max-length-bytes': 1.5 }, text: (q) => `invalid arg 'x-max-length-bytes' for ${where(q)}: "expected integer, got double"` },
    { args: { 'x-stream-max-segment-size-bytes': true }, text: (q) => `invalid arg 'x-stream-max-segment-size-bytes' for ${where(q)}: "expected integer, got bool"` },
    { args: { 'x-stream-max-segment-size-bytes': -5 }, text: (q) => `invalid arg 'x-stream-max-segment-size-bytes' for ${where(q)}: {value_negative,-5}` },
    { args: { 'x-initial-cluster-size': 0 }, text: (q) => `invalid arg 'x-initial-cluster-size' for ${where(q)}: {value_zero,0}` },
    { args: { 'x-queue-leader-locator': 'foo' }, text: (q) => `invalid arg 'x-queue-leader-locator' for ${where(q)}: invalid_queue_locator_arg` },
    { args: { 'x-queue-leader-locator': 5 }, text: (q) => `invalid arg 'x-queue-leader-locator' for ${where(q)}: {unacceptable_type,byte}` },
  ];
  for (const r of refused) {
    it(`refuses ${JSON.stringify(r.args)} with 406`, { ...TEST_OPTS, skip: r.wharfOnly && isReference ? 'RabbitMQ 3.10 fails this with 541 INTERNAL_ERROR' : false }, async () => {
      const ch = await ctx.clients.channel();
      const q = streamName();
      await assertRejectsWith(ch.assertQueue(q, { durable: true, arguments: { ...STREAM, ...r.args } }), 406, `PRECONDITION_FAILED - ${r.text(q)}`);
    });
  }

  it('checks argument values before the queue\'s properties', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const q = streamName();
    await assertRejectsWith(
      ch.assertQueue(q, { durable: false, arguments: { ...STREAM, 'x-max-length': 1 } }),
      406,
      `PRECONDITION_FAILED - invalid arg 'x-max-length' for ${where(q)} of queue type rabbit_stream_queue`,
    );
  });

  const inequivalent: { what: string; opts?: { durable?: boolean; exclusive?: boolean; autoDelete?: boolean }; args: Record<string, unknown>; code?: number; text: (q: string) => string }[] = [
    { what: 'no x-queue-type', args: { 'x-max-age': '1h' }, text: (q) => `inequivalent arg 'x-queue-type' for ${where(q)}: received none but current is the value 'stream' of type 'longstr'` },
    { what: 'a classic type', args: { 'x-queue-type': 'classic', 'x-max-age': '1h' }, text: (q) => `inequivalent arg 'x-queue-type' for ${where(q)}: received 'classic' but current is 'stream'` },
    { what: 'a quorum type', args: { 'x-queue-type': 'quorum', 'x-max-age': '1h' }, text: (q) => `inequivalent arg 'x-queue-type' for ${where(q)}: received 'quorum' but current is 'stream'` },
    { what: 'another x-max-age', args: { ...STREAM, 'x-max-age': '60m' }, text: (q) => `inequivalent arg 'x-max-age' for ${where(q)}: received '60m' but current is '1h'` },
    { what: 'no x-max-age', args: { ...STREAM }, text: (q) => `inequivalent arg 'x-max-age' for ${where(q)}: received none but current is the value '1h' of type 'longstr'` },
    { what: 'a new x-max-length-bytes', args: { ...STREAM, 'x-max-age': '1h', 'x-max-length-bytes': 1000 }, text: (q) => `inequivalent arg 'x-max-length-bytes' for ${where(q)}: received the value '1000' of type 'short' but current is none` },
    { what: 'a new segment size', args: { ...STREAM, 'x-max-age': '1h', 'x-stream-max-segment-size-bytes': 5_000_000 }, text: (q) => `inequivalent arg 'x-stream-max-segment-size-bytes' for ${where(q)}: received the value '5000000' of type 'signedint' but current is none` },
    { what: 'non-durable', opts: { durable: false }, args: { ...STREAM, 'x-max-age': '1h' }, text: (q) => `inequivalent arg 'durable' for ${where(q)}: received 'false' but current is 'true'` },
    { what: 'auto-delete', opts: { autoDelete: true }, args: { ...STREAM, 'x-max-age': '1h' }, text: (q) => `inequivalent arg 'auto_delete' for ${where(q)}: received 'true' but current is 'false'` },
    {
      what: 'exclusive',
      opts: { exclusive: true },
      args: { ...STREAM, 'x-max-age': '1h' },
      code: 405,
      text: (q) => `cannot obtain exclusive access to locked ${where(q)}. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.`,
    },
  ];
  for (const c of inequivalent) {
    it(`refuses a redeclare with ${c.what}`, TEST_OPTS, async () => {
      const ch = await ctx.clients.channel();
      const q = streamName();
      await ch.assertQueue(q, { durable: true, arguments: { ...STREAM, 'x-max-age': '1h' } });
      const failing = await ctx.clients.channel();
      const name = c.code === 405 ? 'RESOURCE_LOCKED' : 'PRECONDITION_FAILED';
      await assertRejectsWith(failing.assertQueue(q, { durable: true, ...c.opts, arguments: c.args }), c.code ?? 406, `${name} - ${c.text(q)}`);
    });
  }

  it('redeclares with equal arguments, ignoring arguments streams do not compare', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const q = streamName();
    await ch.assertQueue(q, { durable: true, arguments: { ...STREAM, 'x-max-age': '1h', 'x-max-length-bytes': 1000 } });
    // The same value in another integer type is equal; x-max-length is not compared on redeclare.
    await ch.assertQueue(q, { durable: true, arguments: { ...STREAM, 'x-max-age': '1h', 'x-max-length-bytes': 1000, 'x-max-length': 5, 'x-foo': 1 } });
  });

  it('refuses x-queue-type stream for an existing classic queue, and a classic declare of a stream', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const classic = streamName();
    await ch.assertQueue(classic, { durable: true });
    await assertRejectsWith(
      ch.assertQueue(classic, { durable: true, arguments: STREAM }),
      406,
      `PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for ${where(classic)}: received the value 'stream' of type 'longstr' but current is none`,
    );
    const ch2 = await ctx.clients.channel();
    const stream = streamName();
    await ch2.assertQueue(stream, { durable: true, arguments: STREAM });
    await assertRejectsWith(
      ch2.assertQueue(stream, { durable: true }),
      406,
      `PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for ${where(stream)}: received none but current is the value 'stream' of type 'longstr'`,
    );
  });

  it('refuses an unknown queue type with RabbitMQ\'s text', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const q = streamName();
    await assertRejectsWith(
      ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'foo' } }),
      406,
      `PRECONDITION_FAILED - invalid arg 'x-queue-type' for ${where(q)}: "unsupported queue type 'foo'"`,
    );
    const ch2 = await ctx.clients.channel();
    await assertRejectsWith(
      ch2.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 5 } }),
      406,
      `PRECONDITION_FAILED - invalid arg 'x-queue-type' for ${where(q)}: {unacceptable_type,byte}`,
    );
  });

  it('deletes a stream queue whatever if-empty and if-unused say, reporting 0 messages', TEST_OPTS, async () => {
    const ch = await ctx.clients.confirmChannel();
    const q = streamName();
    await ch.assertQueue(q, { durable: true, arguments: STREAM });
    ch.sendToQueue(q, Buffer.from('x'));
    await ch.waitForConfirms();
    await ch.prefetch(1);
    await ch.consume(q, () => {});
    const other = await ctx.clients.channel();
    assert.deepEqual(await other.deleteQueue(q, { ifEmpty: true, ifUnused: true }), { messageCount: 0 });
    await assertRejectsWith(other.checkQueue(q), 404, `NOT_FOUND - no ${where(q)}`);
  });
});
