// What every router must do with its bindings, whatever its matching rule:
// one suite run against each exchange type.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BrokerError } from '../../../../src/broker/errors.js';
import { createRouter, isRouterType, routerTypes, type RouterType } from '../../../../src/broker/exchange/index.js';
import { BindingTable, deepEqual, type Router } from '../../../../src/broker/exchange/router.js';

class TypedNumber {
  constructor(readonly type: string, readonly value: number | bigint) {}
}
class Timestamp {
  constructor(readonly seconds: number) {}
}

/** A routing key and headers that reach a binding made with bindKey and no args, per type. */
const probe: Record<RouterType, { bindKey: string; routeKey: string }> = {
  direct: { bindKey: 'k', routeKey: 'k' },
  fanout: { bindKey: 'k', routeKey: 'anything' },
  topic: { bindKey: 'k.#', routeKey: 'k.x' },
  headers: { bindKey: 'k', routeKey: 'ignored' }, // no match args + x-match all: matches everything
};

function routed<D>(r: Router<D>, key: string, headers?: Record<string, unknown>): D[] {
  const out = new Set<D>();
  r.route(key, headers, out);
  return [...out].sort();
}

for (const type of routerTypes) {
  describe(`${type} router: binding bookkeeping`, () => {
    const { bindKey, routeKey } = probe[type];

    it('bind adds once; an identical binding is refused', () => {
      const r = createRouter<string>(type);
      assert.equal(r.bind('q1', bindKey, {}), true);
      assert.equal(r.bind('q1', bindKey, {}), false);
      assert.equal(r.size, 1);
      assert.deepEqual(routed(r, routeKey), ['q1']);
    });

    it('args identify a binding by deep equality, ignoring key order', () => {
      const r = createRouter<string>(type);
      const args = { a: 1, nested: { x: [1, 'two', Buffer.from('3')] }, t: new Timestamp(5) };
      assert.equal(r.bind('q1', bindKey, args), true);
      const same = { t: new Timestamp(5), nested: { x: [1, 'two', Buffer.from('3')] }, a: 1 };
      assert.equal(r.bind('q1', bindKey, same), false);
      assert.equal(r.bind('q1', bindKey, { ...args, a: 2 }), true);
      assert.equal(r.size, 2);
      assert.equal(r.unbind('q1', bindKey, same), true);
      assert.equal(r.unbind('q1', bindKey, same), false);
      assert.equal(r.size, 1);
    });

    it('the same destination with two arg variants is routed to once, until both are gone', () => {
      const r = createRouter<string>(type);
      r.bind('q1', bindKey, { v: 1 });
      r.bind('q1', bindKey, { v: 2 });
      assert.deepEqual(routed(r, routeKey, { v: 1 }), ['q1']);
      r.unbind('q1', bindKey, { v: 1 });
      assert.deepEqual(routed(r, routeKey, { v: 2 }), ['q1']);
      r.unbind('q1', bindKey, { v: 2 });
      assert.deepEqual(routed(r, routeKey, { v: 2 }), []);
      assert.equal(r.size, 0);
    });

    it('unbind of something never bound returns false and changes nothing', () => {
      const r = createRouter<string>(type);
      r.bind('q1', bindKey, {});
      assert.equal(r.unbind('q2', bindKey, {}), false);
      assert.equal(r.unbind('q1', 'other', {}), false);
      assert.equal(r.unbind('q1', bindKey, { a: 1 }), false);
      assert.equal(r.size, 1);
      assert.deepEqual(routed(r, routeKey), ['q1']);
    });

    it('unbindAll removes every binding of one destination and says how many', () => {
      const r = createRouter<string>(type);
      r.bind('q1', bindKey, {});
      r.bind('q1', bindKey, { a: 1 });
      r.bind('q1', 'other', {});
      r.bind('q2', bindKey, {});
      assert.equal(r.unbindAll('q1'), 3);
      assert.equal(r.unbindAll('q1'), 0);
      assert.equal(r.size, 1);
      assert.deepEqual(routed(r, routeKey), ['q2']);
      assert.deepEqual([...r.bindings()], [{ destination: 'q2', routingKey: bindKey, args: {} }]);
    });

    it('bindings() lists every binding with its args', () => {
      const r = createRouter<string>(type);
      r.bind('q1', bindKey, {});
      r.bind('q2', bindKey, { a: 1 });
      const list = [...r.bindings()].sort((x, y) => x.destination.localeCompare(y.destination));
      assert.deepEqual(list, [
        { destination: 'q1', routingKey: bindKey, args: {} },
        { destination: 'q2', routingKey: bindKey, args: { a: 1 } },
      ]);
    });

    it('route adds to a set that already holds destinations, without removing any', () => {
      const r = createRouter<string>(type);
      r.bind('q1', bindKey, {});
      const out = new Set(['earlier']);
      r.route(routeKey, undefined, out);
      assert.deepEqual([...out].sort(), ['earlier', 'q1']);
    });

    it('destinations may be any object, compared by identity', () => {
      const r = createRouter<{ name: string }>(type);
      const a = { name: 'a' };
      const b = { name: 'a' };
      r.bind(a, bindKey, {});
      assert.equal(r.bind(b, bindKey, {}), true);
      const out = new Set<{ name: string }>();
      r.route(routeKey, undefined, out);
      assert.equal(out.size, 2);
    });
  });
}

describe('createRouter', () => {
  it('knows the four AMQP exchange types', () => {
    assert.deepEqual([...routerTypes], ['direct', 'fanout', 'topic', 'headers']);
    for (const t of routerTypes) assert.equal(isRouterType(t), true);
    assert.equal(isRouterType('x-delayed-message'), false);
  });

  it('throws COMMAND_INVALID, connection-level, for an unknown type', () => {
    for (const bad of ['x-consistent-hash', 'Direct', '', 'toString', '__proto__']) {
      assert.throws(
        () => createRouter(bad),
        (err: unknown) =>
          err instanceof BrokerError &&
          err.kind === 'command-invalid' &&
          err.connectionLevel &&
          err.message === `invalid exchange type '${bad}'`,
      );
    }
  });
});

describe('deepEqual', () => {
  const equal: [string, unknown, unknown][] = [
    ['numbers', 1, 1],
    ['NaN', NaN, NaN],
    ['strings', 'a', 'a'],
    ['null', null, null],
    ['bigints', 5n, 5n],
    ['buffers by bytes', Buffer.from('ab'), Buffer.from('ab')],
    ['arrays', [1, [2, 'x']], [1, [2, 'x']]],
    ['tables in any key order', { a: 1, b: { c: 2 } }, { b: { c: 2 }, a: 1 }],
    ['class instances by fields', new TypedNumber('l', 1n), new TypedNumber('l', 1n)],
    ['dates by time', new Date(5), new Date(5)],
    ['empty tables', {}, {}],
  ];
  const different: [string, unknown, unknown][] = [
    ['number vs bigint', 1, 1n],
    ['string vs buffer', 'ab', Buffer.from('ab')],
    ['number vs string', 1, '1'],
    ['null vs undefined', null, undefined],
    ['array lengths', [1], [1, 1]],
    ['array vs table', [1], { 0: 1 }],
    ['missing key', { a: 1 }, { a: 1, b: 2 }],
    ['undefined vs missing key', { a: undefined }, { b: undefined }],
    ['nested value', { a: { b: 1 } }, { a: { b: 2 } }],
    ['class vs plain table with the same fields', new Timestamp(5), { seconds: 5 }],
    ['different classes', new TypedNumber('l', 1), new Timestamp(1)],
    ['typed numbers of different types', new TypedNumber('l', 1), new TypedNumber('I', 1)],
    ['dates', new Date(5), new Date(6)],
    ['buffers', Buffer.from('a'), Buffer.from('b')],
  ];
  for (const [name, a, b] of equal) {
    it(`equal: ${name}`, () => {
      assert.equal(deepEqual(a, b), true);
      assert.equal(deepEqual(b, a), true);
    });
  }
  for (const [name, a, b] of different) {
    it(`different: ${name}`, () => {
      assert.equal(deepEqual(a, b), false);
      assert.equal(deepEqual(b, a), false);
    });
  }
});

describe('BindingTable', () => {
  it('counts arg variants per (destination, key) pair', () => {
    const t = new BindingTable<string>();
    assert.equal(t.add('q', 'k', {}), 1);
    assert.equal(t.add('q', 'k', { a: 1 }), 2);
    assert.equal(t.add('q', 'k', { a: 1 }), 'duplicate');
    assert.equal(t.add('q', 'j', {}), 1);
    assert.equal(t.size, 3);
    assert.equal(t.remove('q', 'k', {}), 1);
    assert.equal(t.remove('q', 'k', {}), 'missing');
    assert.equal(t.remove('q', 'k', { a: 1 }), 0);
    assert.deepEqual([...t.destinations()], ['q']);
    assert.equal(t.remove('q', 'j', {}), 0);
    assert.deepEqual([...t.destinations()], []);
    assert.equal(t.size, 0);
  });
});
