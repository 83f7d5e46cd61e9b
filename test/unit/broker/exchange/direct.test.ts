import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DirectRouter } from '../../../../src/broker/exchange/direct.js';

function routed(r: DirectRouter<string>, key: string): string[] {
  const out = new Set<string>();
  r.route(key, undefined, out);
  return [...out].sort();
}

describe('direct router', () => {
  const r = new DirectRouter<string>();
  r.bind('q-orders', 'orders', {});
  r.bind('q-orders-2', 'orders', {});
  r.bind('q-empty', '', {});
  r.bind('q-star', '*', {});
  r.bind('q-hash', '#', {});
  r.bind('q-case', 'Orders', {});
  r.bind('q-multi', 'a', {});
  r.bind('q-multi', 'b', {});

  const cases: [string, string[]][] = [
    ['orders', ['q-orders', 'q-orders-2']],
    ['Orders', ['q-case']],
    ['orders ', []],
    ['', ['q-empty']],
    ['*', ['q-star']], // wildcards are plain characters here
    ['#', ['q-hash']],
    ['x', []],
    ['a', ['q-multi']],
    ['b', ['q-multi']],
    ['__proto__', []],
    ['constructor', []],
  ];
  for (const [key, expected] of cases) {
    it(`routing key ${JSON.stringify(key)} -> ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(routed(r, key), expected);
    });
  }

  it('ignores headers', () => {
    const out = new Set<string>();
    r.route('orders', { x: 1 }, out);
    assert.equal(out.size, 2);
  });

  it('unbinding one key leaves the destination reachable through its others', () => {
    const d = new DirectRouter<string>();
    d.bind('q', 'a', {});
    d.bind('q', 'b', {});
    d.unbind('q', 'a', {});
    assert.deepEqual(routed(d as DirectRouter<string>, 'a'), []);
    assert.deepEqual(routed(d as DirectRouter<string>, 'b'), ['q']);
  });

  it('routes among many bindings by exact key', () => {
    const d = new DirectRouter<number>();
    for (let i = 0; i < 10_000; i++) d.bind(i, `key-${i % 1000}`, {});
    const out = new Set<number>();
    d.route('key-7', undefined, out);
    assert.equal(out.size, 10);
    for (const q of out) assert.equal(q % 1000, 7);
  });
});
