// routeMessage (exchange-to-exchange bindings, alternate exchanges, CC keys,
// delayed exchanges met on the way) and the CC/BCC header rule, on plain
// objects standing in for queues. The integration suites check the same rules
// through clients against RabbitMQ.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BrokerError } from '../../../../src/broker/errors.js';
import { Exchange, type ExchangeType, type RouteTarget } from '../../../../src/broker/exchange/exchange.js';
import { routeMessage, type RouteMessage, type RouteTopology } from '../../../../src/broker/exchange/route.js';
import { senderSelectedKeys } from '../../../../src/broker/exchange/sender-selected.js';
import type { Queue } from '../../../../src/broker/queue/queue.js';
import { TypedNumber } from '../../../../src/protocol/amqp/index.js';

/** A vhost's worth of exchanges and stand-in queues. */
function topology() {
  const exchanges = new Map<string, Exchange>();
  const queues = new Map<string, Queue>();
  const topo: RouteTopology = { queue: (n) => queues.get(n), exchange: (n) => exchanges.get(n) };
  const exchange = (name: string, type: ExchangeType = 'direct', args: Record<string, unknown> = {}): Exchange => {
    const x = new Exchange({ name, type, durable: false, autoDelete: false, internal: false, args, vhost: '/' });
    exchanges.set(name, x);
    return x;
  };
  const queue = (name: string): Queue => {
    const q = { name } as unknown as Queue;
    queues.set(name, q);
    return q;
  };
  exchange('');
  return { topo, exchange, queue };
}

const msg = (routingKey: string, o: Partial<RouteMessage> = {}): RouteMessage => ({ routingKey, ccKeys: undefined, headers: undefined, ...o });
const names = (qs: readonly RouteTarget[]): string[] => qs.map((q) => q.name).sort();

describe('routeMessage', () => {
  it('follows alternate exchanges when an exchange matches nothing, each once', () => {
    const t = topology();
    const q = t.queue('q');
    t.exchange('last', 'fanout').router.bind(q, '', {});
    t.exchange('middle', 'direct', { 'alternate-exchange': 'last' });
    const first = t.exchange('first', 'direct', { 'alternate-exchange': 'middle' });
    assert.deepEqual(names(routeMessage(first, msg('k'), t.topo, [])), ['q']);
    const loop = t.exchange('loop-a', 'direct', { 'alternate-exchange': 'loop-b' });
    t.exchange('loop-b', 'direct', { 'alternate-exchange': 'loop-a' });
    assert.deepEqual(routeMessage(loop, msg('k'), t.topo, []), []);
    const self = t.exchange('self', 'direct', { 'alternate-exchange': 'self' });
    assert.deepEqual(routeMessage(self, msg('k'), t.topo, []), []);
    const missing = t.exchange('missing', 'direct', { 'alternate-exchange': 'nope' });
    assert.deepEqual(routeMessage(missing, msg('k'), t.topo, []), []);
    const toDefault = t.exchange('to-default', 'direct', { 'alternate-exchange': '' });
    assert.deepEqual(routeMessage(toDefault, msg('q'), t.topo, []), [], 'the default exchange as AE routes nothing');
  });

  it('counts an exchange-to-exchange binding as a match; the destination may use its own AE', () => {
    const t = topology();
    const q = t.queue('q');
    t.exchange('ae', 'fanout').router.bind(q, '', {});
    const source = t.exchange('source', 'direct', { 'alternate-exchange': 'ae' });
    source.router.bind(t.exchange('empty'), 'k', {});
    assert.deepEqual(routeMessage(source, msg('k'), t.topo, []), []);
    const plain = t.exchange('plain');
    plain.router.bind(t.exchange('dest', 'direct', { 'alternate-exchange': 'ae' }), 'k', {});
    assert.deepEqual(names(routeMessage(plain, msg('k'), t.topo, [])), ['q']);
  });

  it('matches CC keys too, on named exchanges and the default exchange, each queue once', () => {
    const t = topology();
    const [a, b] = [t.queue('a'), t.queue('b')];
    const x = t.exchange('x');
    x.router.bind(a, 'ka', {});
    x.router.bind(b, 'kb', {});
    assert.deepEqual(names(routeMessage(x, msg('ka', { ccKeys: ['kb', 'ka', 'none'] }), t.topo, [])), ['a', 'b']);
    const def = t.topo.exchange('') as Exchange;
    assert.deepEqual(names(routeMessage(def, msg('nope', { ccKeys: ['a', 'b'] }), t.topo, [])), ['a', 'b']);
  });

  it('collects delayed exchanges that hold the message instead of routing through them', () => {
    const t = topology();
    const q = t.queue('q');
    const dx = t.exchange('dx', 'x-delayed-message', { 'x-delayed-type': 'direct', 'alternate-exchange': 'ae' });
    t.exchange('ae', 'fanout').router.bind(q, '', {});
    dx.router.bind(q, 'k', {});
    const source = t.exchange('source', 'fanout');
    source.router.bind(dx, '', {});
    const held: Exchange[] = [];
    assert.deepEqual(routeMessage(source, msg('k', { headers: { 'x-delay': 500 } }), t.topo, held), []);
    assert.deepEqual(held, [dx], 'held, and its alternate exchange is not used');
    const released: Exchange[] = [];
    assert.deepEqual(names(routeMessage(dx, msg('other', { headers: { 'x-delay': -500 } }), t.topo, released)), ['q']);
    assert.deepEqual(released, []);
  });
});

describe('CC and BCC headers', () => {
  it('add their string elements as routing keys; absent headers cost nothing', () => {
    assert.equal(senderSelectedKeys({ other: 1 }), undefined);
    assert.deepEqual(senderSelectedKeys({ CC: ['a', 5, Buffer.from('b')], BCC: ['c'] }), ['a', 'c']);
  });

  it('must be arrays: anything else is PRECONDITION_FAILED with its AMQP type, unless lenient', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ CC: 'a' }, '"CC",longstr'],
      [{ BCC: new TypedNumber('int8', 1) }, '"BCC",byte'],
      [{ CC: 7 }, '"CC",signedint'],
      [{ CC: 7n }, '"CC",long'],
      [{ CC: null }, '"CC",void'],
    ];
    for (const [headers, detail] of cases) {
      assert.throws(
        () => senderSelectedKeys(headers),
        (e: unknown) => e instanceof BrokerError && e.kind === 'precondition-failed' && e.message === `invalid message: {unacceptable_type_in_header,${detail}}`,
      );
      assert.deepEqual(senderSelectedKeys(headers, true), []);
    }
  });
});
