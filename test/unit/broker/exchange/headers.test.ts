import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BrokerError } from '../../../../src/broker/errors.js';
import { headerValueEquals, HeadersRouter, parseMatchMode } from '../../../../src/broker/exchange/headers.js';
import type { Args } from '../../../../src/broker/exchange/router.js';

// Stand-ins for the field-table decoder's typed values (same shapes).
class TypedNumber {
  constructor(readonly type: string, readonly value: number | bigint) {}
}
class Timestamp {
  constructor(readonly seconds: number | bigint) {}
}
class Decimal {
  constructor(readonly scale: number, readonly value: number) {}
}

function matches(bindingArgs: Args, headers: Args | undefined): boolean {
  const r = new HeadersRouter<string>();
  r.bind('q', '', bindingArgs);
  const out = new Set<string>();
  r.route('ignored', headers, out);
  return out.has('q');
}

describe('headers router: x-match modes', () => {
  const cases: [name: string, binding: Args, headers: Args | undefined, expected: boolean][] = [
    // all (the default)
    ['all: every pair present and equal', { a: 1, b: 'x' }, { a: 1, b: 'x', c: 3 }, true],
    ['all is the default', { a: 1, b: 'x' }, { a: 1 }, false],
    ['all: explicit', { 'x-match': 'all', a: 1, b: 'x' }, { a: 1, b: 'x' }, true],
    ['all: one value differs', { 'x-match': 'all', a: 1, b: 'x' }, { a: 1, b: 'y' }, false],
    ['all: one header missing', { 'x-match': 'all', a: 1, b: 'x' }, { a: 1 }, false],
    ['all: no headers at all', { a: 1 }, undefined, false],
    ['all: empty headers', { a: 1 }, {}, false],
    ['all: no match args matches every message', {}, { a: 1 }, true],
    ['all: no match args matches a message without headers', {}, undefined, true],
    ['all: only x- args count as no match args', { 'x-match': 'all', 'x-foo': 1 }, undefined, true],
    // any
    ['any: one pair equal is enough', { 'x-match': 'any', a: 1, b: 'x' }, { a: 2, b: 'x' }, true],
    ['any: none equal', { 'x-match': 'any', a: 1, b: 'x' }, { a: 2, b: 'y' }, false],
    ['any: none present', { 'x-match': 'any', a: 1 }, { c: 1 }, false],
    ['any: no headers', { 'x-match': 'any', a: 1 }, undefined, false],
    ['any: no match args matches nothing', { 'x-match': 'any' }, { a: 1 }, false],
    ['any: only x- args matches nothing', { 'x-match': 'any', 'x-a': 1 }, { 'x-a': 1 }, false],
    // x- arguments
    ['all: x- binding args are ignored', { 'x-match': 'all', a: 1, 'x-key': 'v' }, { a: 1 }, true],
    ['any: x- binding args are ignored', { 'x-match': 'any', 'x-key': 'v' }, { 'x-key': 'v' }, false],
    ['all-with-x: x- args must match', { 'x-match': 'all-with-x', a: 1, 'x-key': 'v' }, { a: 1 }, false],
    ['all-with-x: x- args matched', { 'x-match': 'all-with-x', a: 1, 'x-key': 'v' }, { a: 1, 'x-key': 'v' }, true],
    ['any-with-x: an x- arg is enough', { 'x-match': 'any-with-x', a: 1, 'x-key': 'v' }, { 'x-key': 'v' }, true],
    ['any-with-x: nothing equal', { 'x-match': 'any-with-x', a: 1, 'x-key': 'v' }, { 'x-key': 'w' }, false],
    ['all-with-x: x-match itself never has to match', { 'x-match': 'all-with-x' }, { 'x-match': 'any' }, true],
    ['any-with-x: x-match itself never matches', { 'x-match': 'any-with-x' }, { 'x-match': 'any-with-x' }, false],
    ['x- headers in the message do not matter by themselves', { a: 1 }, { a: 1, 'x-b': 2 }, true],
    // void: presence only
    ['all: void binding value matches any value', { a: null }, { a: 'anything' }, true],
    ['all: void binding value matches a void header', { a: null }, { a: null }, true],
    ['all: void binding value needs the header', { a: null }, { b: 1 }, false],
    ['any: void binding value matches presence', { 'x-match': 'any', a: null, b: 1 }, { a: 0 }, true],
    ['all: void header does not equal a real value', { a: 1 }, { a: null }, false],
    ['all: undefined binding value is void too', { a: undefined }, { a: 5 }, true],
    // names
    ['names are case-sensitive', { A: 1 }, { a: 1 }, false],
    ['prototype names are ordinary names', { constructor: 1 }, {}, false],
    ['__proto__ as a header name', JSON.parse('{"__proto__": 1}') as Args, JSON.parse('{"__proto__": 1}') as Args, true],
  ];
  for (const [name, binding, headers, expected] of cases) {
    it(name, () => assert.equal(matches(binding, headers), expected));
  }
});

describe('headers router: value comparison (RabbitMQ compares decoded values, not type tags)', () => {
  const cases: [name: string, bound: unknown, header: unknown, expected: boolean][] = [
    ['equal strings', 'abc', 'abc', true],
    ['strings differ in case', 'abc', 'ABC', false],
    ['string and byte array with the same bytes', 'abc', Buffer.from('abc'), true],
    ['byte arrays', Buffer.from([1, 2]), Buffer.from([1, 2]), true],
    ['different byte arrays', Buffer.from([1, 2]), Buffer.from([1, 3]), false],
    ['unicode string and its UTF-8 bytes', 'é', Buffer.from('é', 'utf8'), true],
    ['integers of different widths', new TypedNumber('I', 5), new TypedNumber('l', 5n), true],
    ['plain number and typed number', 5, new TypedNumber('b', 5), true],
    ['number and bigint', 5, 5n, true],
    ['integer and double 5.0', new TypedNumber('l', 5n), new TypedNumber('d', 5), true],
    ['bigint and fraction', 5n, 5.5, false],
    ['large bigints', 2n ** 63n - 1n, 2n ** 63n - 1n, true],
    ['different numbers', 5, 6, false],
    ['timestamp and integer with the same value', new Timestamp(1700000000), 1700000000, true],
    ['timestamps', new Timestamp(1), new Timestamp(1n), true],
    ['number and numeric string', 5, '5', false],
    ['boolean and 1', true, 1, false],
    ['booleans', false, false, true],
    ['different booleans', true, false, false],
    ['decimals', new Decimal(2, 314), new Decimal(2, 314), true],
    ['decimals with other scales', new Decimal(2, 314), new Decimal(3, 3140), false],
    ['decimal and number', new Decimal(0, 5), 5, false],
    ['arrays', [1, 'a', [true]], [1, 'a', [true]], true],
    ['arrays, lenient element types', [1, 'a'], [new TypedNumber('s', 1), Buffer.from('a')], true],
    ['arrays of different length', [1], [1, 1], false],
    ['array and string', ['a'], 'a', false],
    ['tables in any key order', { a: 1, b: { c: 'x' } }, { b: { c: 'x' }, a: 1 }, true],
    ['tables with different values', { a: 1 }, { a: 2 }, false],
    ['tables with different keys', { a: 1 }, { a: 1, b: 1 }, false],
    ['table and array', {}, [], false],
    ['empty string and void', '', null, false],
    ['zero and void', 0, null, false],
    ['NaN never equals', NaN, NaN, false],
  ];
  for (const [name, bound, header, expected] of cases) {
    it(`${name}: ${expected ? 'match' : 'no match'}`, () => {
      assert.equal(headerValueEquals(bound, header), expected);
      assert.equal(headerValueEquals(header, bound), expected, 'symmetric');
      assert.equal(matches({ h: bound }, { h: header }), expected);
    });
  }
});

describe('headers router: x-match validation', () => {
  it('accepts the four modes and no x-match', () => {
    assert.equal(parseMatchMode({}), 'all');
    for (const m of ['all', 'any', 'all-with-x', 'any-with-x'] as const) assert.equal(parseMatchMode({ 'x-match': m }), m);
  });

  for (const [value, message] of [
    ['some', "Invalid x-match field value 'some'; expected all, any, all-with-x, or any-with-x"],
    ['ALL', "Invalid x-match field value 'ALL'; expected all, any, all-with-x, or any-with-x"],
    [1, 'Invalid x-match field type number; expected longstr'],
    [null, 'Invalid x-match field type void; expected longstr'],
    [Buffer.from('all'), 'Invalid x-match field type binary; expected longstr'],
    [{ a: 1 }, 'Invalid x-match field type table; expected longstr'],
  ] as const) {
    it(`refuses x-match ${JSON.stringify(value)} with PRECONDITION_FAILED and binds nothing`, () => {
      const r = new HeadersRouter<string>();
      assert.throws(
        () => r.bind('q', '', { 'x-match': value }),
        (err: unknown) => err instanceof BrokerError && err.kind === 'precondition-failed' && err.message === message,
      );
      assert.equal(r.size, 0);
    });
  }
});

describe('headers router: routing', () => {
  it('routes to each matching destination once, ignoring the routing key', () => {
    const r = new HeadersRouter<string>();
    r.bind('pdf-reports', '', { 'x-match': 'all', format: 'pdf', type: 'report' });
    r.bind('pdf-or-log', '', { 'x-match': 'any', format: 'pdf', type: 'log' });
    r.bind('zip-reports', '', { 'x-match': 'all', format: 'zip', type: 'report' });
    r.bind('pdf-or-log', 'other-key', { 'x-match': 'any', format: 'pdf' });
    const route = (h: Args): string[] => {
      const out = new Set<string>();
      r.route('whatever', h, out);
      return [...out].sort();
    };
    assert.deepEqual(route({ format: 'pdf', type: 'report' }), ['pdf-or-log', 'pdf-reports']);
    assert.deepEqual(route({ format: 'pdf' }), ['pdf-or-log']);
    assert.deepEqual(route({ format: 'zip', type: 'log' }), ['pdf-or-log']);
    assert.deepEqual(route({ format: 'zip', type: 'report' }), ['zip-reports']);
    assert.deepEqual(route({}), []);
  });

  it('a destination matches through any of its bindings', () => {
    const r = new HeadersRouter<string>();
    r.bind('q', '', { a: 1 });
    r.bind('q', '', { b: 2 });
    const out = new Set<string>();
    r.route('', { b: 2 }, out);
    assert.deepEqual([...out], ['q']);
    r.unbind('q', '', { b: 2 });
    out.clear();
    r.route('', { b: 2 }, out);
    assert.deepEqual([...out], []);
  });
});
