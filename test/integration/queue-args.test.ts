// Queue argument validation as RabbitMQ does it: a known x-argument with the
// wrong type or out of range, an unknown x-overflow value, a dead-letter
// routing key without an exchange, a non-durable or exclusive quorum queue:
// 406 PRECONDITION_FAILED naming the argument, and no queue is created.
// Valid arguments of any integer width are accepted; a redeclare must match.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TEST_OPTS, uniqueName } from '../helpers/async.js';
import { skipUnderReference } from '../helpers/broker.js';
import { assertRejectsWith, useBroker } from '../helpers/amqplib.js';

interface BadCase {
  readonly what: string;
  readonly args: Record<string, unknown>;
  readonly durable?: boolean;
  readonly exclusive?: boolean;
  /** The reply text must match this (it names the argument). */
  readonly text: RegExp;
  /** Only Wharf has this argument or this check. */
  readonly wharfOnly?: boolean;
}

const invalid = (name: string): RegExp => new RegExp(`^PRECONDITION_FAILED - invalid arg '${name}' for queue '[^']+' in vhost '/'`);

const BAD: readonly BadCase[] = [
  { what: 'x-message-ttl as a string', args: { 'x-message-ttl': 'soon' }, text: invalid('x-message-ttl') },
  { what: 'a negative x-message-ttl', args: { 'x-message-ttl': -1 }, text: invalid('x-message-ttl') },
  { what: 'a fractional x-message-ttl', args: { 'x-message-ttl': 1.5 }, text: invalid('x-message-ttl') },
  { what: 'x-expires 0', args: { 'x-expires': 0 }, text: invalid('x-expires') },
  { what: 'x-expires as a string', args: { 'x-expires': '100' }, text: invalid('x-expires') },
  { what: 'a negative x-max-length', args: { 'x-max-length': -1 }, text: invalid('x-max-length') },
  { what: 'x-max-length as a string', args: { 'x-max-length': 'ten' }, text: invalid('x-max-length') },
  { what: 'a negative x-max-length-bytes', args: { 'x-max-length-bytes': -5 }, text: invalid('x-max-length-bytes') },
  { what: 'an unknown x-overflow value', args: { 'x-overflow': 'drop-tail' }, text: invalid('x-overflow') },
  { what: 'x-overflow as a number', args: { 'x-overflow': 1 }, text: invalid('x-overflow') },
  { what: 'x-max-priority 256', args: { 'x-max-priority': 256 }, text: invalid('x-max-priority') },
  { what: 'a negative x-max-priority', args: { 'x-max-priority': -1 }, text: invalid('x-max-priority') },
  { what: 'x-max-priority as a string', args: { 'x-max-priority': 'high' }, text: invalid('x-max-priority') },
  { what: 'x-dead-letter-exchange as a number', args: { 'x-dead-letter-exchange': 42 }, text: invalid('x-dead-letter-exchange') },
  {
    what: 'x-dead-letter-routing-key without x-dead-letter-exchange',
    args: { 'x-dead-letter-routing-key': 'dead' },
    text: invalid('x-dead-letter-routing-key'),
  },
  { what: 'x-delivery-limit as a string', args: { 'x-delivery-limit': 'three' }, text: invalid('x-delivery-limit') },
  { what: 'x-single-active-consumer as a string', args: { 'x-single-active-consumer': 'yes' }, text: invalid('x-single-active-consumer') },
  { what: 'an unknown x-queue-type', args: { 'x-queue-type': 'fancy' }, text: /x-queue-type/ },
  { what: 'a non-durable quorum queue', args: { 'x-queue-type': 'quorum' }, durable: false, text: /invalid property 'non-durable'/ },
  { what: 'an exclusive quorum queue', args: { 'x-queue-type': 'quorum' }, exclusive: true, text: /invalid property 'exclusive-declare'/ },
  { what: 'x-consumer-timeout as a string', args: { 'x-consumer-timeout': 'later' }, text: invalid('x-consumer-timeout') },
  { what: 'x-consumer-timeout 0', args: { 'x-consumer-timeout': 0 }, text: invalid('x-consumer-timeout'), wharfOnly: true },
  {
    what: 'an unknown x-consumer-timeout-mode',
    args: { 'x-consumer-timeout-mode': 'shrug' },
    text: invalid('x-consumer-timeout-mode'),
    wharfOnly: true,
  },
];

describe('queue argument validation', () => {
  const ctx = useBroker();

  for (const c of BAD) {
    it(`refuses ${c.what} with 406 naming it, and creates nothing`, { ...TEST_OPTS, skip: c.wharfOnly ? skipUnderReference : false }, async () => {
      const conn = await ctx.clients.connect();
      const ch = await ctx.clients.channel(conn);
      const q = ctx.clients.deleteLater(uniqueName('bad'));
      await assertRejectsWith(
        ch.assertQueue(q, { durable: c.durable ?? true, exclusive: c.exclusive ?? false, arguments: c.args }),
        406,
        c.text,
      );
      const probe = await ctx.clients.channel(conn);
      await assertRejectsWith(probe.checkQueue(q), 404);
    });
  }

  it('accepts every valid argument, as any integer width, and an equivalent redeclare', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const dlx = ctx.clients.deleteExchangeLater(uniqueName('dlx'));
    await ch.assertExchange(dlx, 'fanout', { durable: true });
    const q = ctx.clients.deleteLater(uniqueName('all'));
    const args = {
      'x-message-ttl': 100_000, // int
      'x-expires': 2 ** 40, // long
      'x-max-length': 100, // byte
      'x-max-length-bytes': 30_000, // short
      'x-overflow': 'reject-publish-dlx',
      'x-dead-letter-exchange': dlx,
      'x-dead-letter-routing-key': 'dead',
      'x-max-priority': 255,
      'x-single-active-consumer': true,
      'x-queue-type': 'quorum',
      'x-delivery-limit': 5,
      'x-custom-unknown': 'kept and ignored',
    };
    await ch.assertQueue(q, { durable: true, arguments: args });
    const ok = await ch.assertQueue(q, { durable: true, arguments: args });
    assert.equal(ok.queue, q);
  });

  it('refuses a redeclare with a different x-argument with 406 inequivalent arg', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.clients.deleteLater(uniqueName('q'));
    await ch.assertQueue(q, { durable: false, arguments: { 'x-max-length': 10 } });
    await assertRejectsWith(
      ch.assertQueue(q, { durable: false, arguments: { 'x-max-length': 20 } }),
      406,
      /^PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue/,
    );
  });

  it('refuses a consumer x-priority that is not an integer with 406 naming it', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.clients.deleteLater(uniqueName('q'));
    await ch.assertQueue(q, { durable: false });
    await assertRejectsWith(ch.consume(q, () => undefined, { arguments: { 'x-priority': 'high' } }), 406, /x-priority/);
  });
});
