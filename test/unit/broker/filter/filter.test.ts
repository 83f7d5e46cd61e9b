// The SNS filter language: matching (the examples of AWS's documentation), SNS's
// validation texts, the three inputs (SNS attributes, AMQP headers, JSON bodies),
// and the index: it finds exactly what testing every policy finds (property test),
// while testing only the branches filed under the message's values.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  compileFilterPolicy,
  FilterIndex,
  FilterPolicyError,
  headersInput,
  jsonBodyInput,
  matchesPolicy,
  snsAttributesInput,
} from '../../../../src/broker/filter/index.js';

type Attrs = Record<string, { DataType: string; StringValue: string }>;
const S = (v: string) => ({ DataType: 'String', StringValue: v });
const N = (v: number) => ({ DataType: 'Number', StringValue: String(v) });
const A = (v: unknown[]) => ({ DataType: 'String.Array', StringValue: JSON.stringify(v) });

function attrs(policy: object, a: Attrs): boolean {
  return matchesPolicy(compileFilterPolicy(policy), snsAttributesInput(a));
}
function body(policy: object, b: unknown): boolean {
  return matchesPolicy(compileFilterPolicy(policy, 'MessageBody'), jsonBodyInput(b));
}
function refused(policy: unknown, detail: string, scope: 'MessageAttributes' | 'MessageBody' = 'MessageAttributes'): void {
  assert.throws(
    () => compileFilterPolicy(typeof policy === 'string' ? policy : (policy as object), scope),
    (err: unknown) => err instanceof FilterPolicyError && err.detail === detail,
    detail,
  );
}

describe('filter policies: matching', () => {
  const order = { store: S('example_corp'), event: S('order_placed'), customer_interests: A(['soccer', 'rugby', 'hockey']), price_usd: N(210.75) };

  it('exact values: AND across keys, OR within a list, String.Array elements', () => {
    assert.ok(attrs({ store: ['example_corp'], event: ['order_cancelled', 'order_placed'] }, order));
    assert.ok(attrs({ customer_interests: ['rugby'] }, order));
    assert.ok(!attrs({ customer_interests: ['baseball'] }, order));
    assert.ok(!attrs({ store: ['example_corp'], event: ['order_cancelled'] }, order));
    assert.ok(!attrs({ missing: ['x'] }, order));
  });

  it('numbers match numbers, strings match strings', () => {
    assert.ok(attrs({ price_usd: [210.75] }, order));
    assert.ok(attrs({ n: [5] }, { n: N(5.0) }));
    assert.ok(!attrs({ n: ['5'] }, { n: N(5) }));
    assert.ok(!attrs({ s: [5] }, { s: S('5') }));
    assert.ok(attrs({ price_usd: [{ numeric: ['>', 0, '<=', 300] }] }, order));
    assert.ok(!attrs({ price_usd: [{ numeric: ['<', 100] }] }, order));
    assert.ok(attrs({ price_usd: [{ numeric: ['=', 210.75] }] }, order));
    assert.ok(!attrs({ store: [{ numeric: ['>', 0] }] }, order));
  });

  it('anything-but, prefix, suffix, equals-ignore-case', () => {
    assert.ok(attrs({ store: [{ 'anything-but': ['other_corp', 'x'] }] }, order));
    assert.ok(!attrs({ store: [{ 'anything-but': 'example_corp' }] }, order));
    assert.ok(!attrs({ gone: [{ 'anything-but': 'x' }] }, order), 'anything-but needs the key');
    assert.ok(attrs({ price_usd: [{ 'anything-but': [100, 200] }] }, order));
    assert.ok(!attrs({ store: [{ 'anything-but': { prefix: 'example' } }] }, order));
    assert.ok(attrs({ event: [{ prefix: 'order_' }] }, order));
    assert.ok(attrs({ event: [{ suffix: '_placed' }] }, order));
    assert.ok(attrs({ store: [{ 'equals-ignore-case': 'EXAMPLE_Corp' }] }, order));
    assert.ok(!attrs({ price_usd: [{ prefix: '2' }] }, order), 'prefix is for strings');
  });

  it('exists, cidr and $or', () => {
    assert.ok(attrs({ store: [{ exists: true }] }, order));
    assert.ok(attrs({ coupon: [{ exists: false }] }, order));
    assert.ok(!attrs({ store: [{ exists: false }] }, order));
    assert.ok(attrs({ ip: [{ cidr: '10.0.0.0/24' }] }, { ip: S('10.0.0.255') }));
    assert.ok(!attrs({ ip: [{ cidr: '10.0.0.0/24' }] }, { ip: S('10.0.1.0') }));
    assert.ok(attrs({ ip: [{ cidr: '2001:db8::/32' }] }, { ip: S('2001:db8:1::7') }));
    assert.ok(attrs({ $or: [{ store: ['nope'] }, { event: ['order_placed'] }] }, order));
    assert.ok(!attrs({ event: ['order_placed'], $or: [{ store: ['nope'] }, { price_usd: [{ numeric: ['<', 10] }] }] }, order));
    assert.ok(attrs({}, {}), 'an empty policy matches everything');
  });

  it('MessageBody: nested keys, arrays of objects, booleans and null', () => {
    const b = { order: { total: 600, items: [{ sku: 'a1' }, { sku: 'b2' }], gift: true, note: null }, region: 'eu-west' };
    assert.ok(body({ order: { total: [{ numeric: ['>', 500] }] } }, b));
    assert.ok(body({ order: { items: { sku: ['b2'] } } }, b));
    assert.ok(body({ order: { gift: [true], note: [null] } }, b));
    assert.ok(body({ region: [{ prefix: 'eu-' }], $or: [{ order: { total: [1] } }, { order: { gift: [true] } }] }, b));
    assert.ok(!body({ order: { total: [{ numeric: ['<', 500] }] } }, b));
    assert.ok(!body({ region: ['eu-west'] }, 'not an object'));
  });

  it('AMQP headers as attributes: strings, byte strings, numbers, arrays', () => {
    const p = compileFilterPolicy({ kind: ['vip'], amount: [{ numeric: ['>=', 500] }], tags: ['blue'] });
    assert.ok(matchesPolicy(p, headersInput({ kind: Buffer.from('vip'), amount: 750n, tags: ['red', 'blue'] })));
    assert.ok(!matchesPolicy(p, headersInput({ kind: 'vip', amount: 499, tags: ['blue'] })));
    assert.ok(!matchesPolicy(p, headersInput(undefined)));
  });
});

describe('filter policies: validation with SNS texts', () => {
  it('refuses what SNS refuses', () => {
    refused('{"a":', 'FilterPolicy: failed to parse JSON. ' + (() => { try { JSON.parse('{"a":'); } catch (e) { return (e as Error).message; } return ''; })());
    refused({ a: ['1'], b: ['1'], c: ['1'], d: ['1'], e: ['1'], f: ['1'] }, 'FilterPolicy: Filter policy can not have more than 5 keys');
    refused({ a: Array.from({ length: 151 }, (_, i) => i) }, 'FilterPolicy: Filter policy is too complex');
    refused({ a: [] }, 'FilterPolicy: Empty arrays are not allowed');
    refused({ a: 'x' }, 'FilterPolicy: "a" must be an object or an array');
    refused({ a: { b: ['x'] } }, 'Filter policy scope MessageAttributes does not support nested filter policy');
    // AWS (LocalStack's snapshots): the form is checked before the scope, and anything-but takes no suffix.
    refused({ key: { suffix: 'value' } }, 'FilterPolicy: "suffix" must be an object or an array');
    refused({ a: [{ 'anything-but': { suffix: 'inc' } }] }, 'FilterPolicy: Unsupported anything-but pattern: suffix');
    refused({ a: [{ prefix: 'x', suffix: 'y' }] }, 'FilterPolicy: Only one key allowed in match expression');
    refused({ a: [{ prefix: 1 }] }, 'FilterPolicy: prefix match pattern must be a string');
    refused({ a: [{ foo: 1 }] }, 'FilterPolicy: Unrecognized match type foo');
    refused({ a: [{ exists: 'yes' }] }, 'FilterPolicy: exists match pattern must be either true or false.');
    refused({ a: [[1]] }, 'FilterPolicy: Match value must be String, number, true, false, or null');
    refused({ a: [{ 'anything-but': { wildcard: 'x' } }] }, 'FilterPolicy: Unsupported anything-but pattern: wildcard');
    refused({ a: [{ numeric: [] }] }, 'FilterPolicy: Invalid member in numeric match: ]');
    refused({ a: [{ numeric: ['!=', 1] }] }, 'FilterPolicy: Unrecognized numeric range operator: !=');
    refused({ a: [{ numeric: ['=', 'x'] }] }, 'FilterPolicy: Value of equals must be numeric');
    refused({ a: [{ numeric: ['<', 1, '>', 0] }] }, 'FilterPolicy: Too many elements in numeric expression');
    refused({ a: [{ numeric: ['>', 1, '>', 5] }] }, 'FilterPolicy: Bad numeric range operator: >');
    refused({ a: [{ numeric: ['>', 5, '<', 1] }] }, 'FilterPolicy: Bottom must be less than top');
    refused({ a: [{ numeric: ['>', 0, '<', 5, '<', 6] }] }, 'FilterPolicy: Too many terms in numeric range expression');
    refused({ a: [{ cidr: '10.0.0.0' }] }, "FilterPolicy: Malformed CIDR, one '/' required");
    refused({ a: [{ cidr: '10.0.0.0/x' }] }, 'FilterPolicy: Malformed CIDR, mask bits must be an integer');
    refused({ a: [{ cidr: '10.0.0.300/8' }] }, 'FilterPolicy: Nonstandard IP address: 10.0.0.300');
  });

  it('locates errors in a policy given as text as SNS (Jackson) does', () => {
    const text = (policy: object): string => {
      try {
        compileFilterPolicy(JSON.stringify(policy, null, 1));
      } catch (err) {
        return (err as FilterPolicyError).detail + (err as FilterPolicyError).location;
      }
      return 'accepted';
    };
    // LocalStack's snapshots of AWS (test_sns_filter_policy.snapshot.json), from a policy sent with spaces.
    assert.equal(text({ key: [] }), 'FilterPolicy: Empty arrays are not allowed\n at [Source: (String)"{"key":[]}"; line: 1, column: 10]');
    assert.equal(text({ key: [{ suffix: 100 }] }), 'FilterPolicy: suffix match pattern must be a string\n at [Source: (String)"{"key":[{"suffix":100}]}"; line: 1, column: 22]');
    assert.equal(text({ key: [{ numeric: ['operator'] }] }), 'FilterPolicy: Unrecognized numeric range operator: operator\n at [Source: (String)"{"key":[{"numeric":["operator"]}]}"; line: 1, column: 32]');
    assert.equal(text({ key: [{ numeric: ['<', 100, '>', 10] }] }), 'FilterPolicy: Too many elements in numeric expression\n at [Source: (String)"{"key":[{"numeric":["<",100,">",10]}]}"; line: 1, column: 30]');
    assert.equal(text({ key: [{ numeric: ['>', 20, '<', 30, '<', 50] }] }), 'FilterPolicy: Too many terms in numeric range expression\n at [Source: (String)"{"key":[{"numeric":[">",20,"<",30,"<",50]}]}"; line: 1, column: 36]');
    assert.equal(text({ key: [{ exists: null }] }), 'FilterPolicy: exists match pattern must be either true or false.\n at [Source: (String)"{"key":[{"exists":null}]}"; line: 1, column: 23]');
    assert.equal(text({ key: [{ cidr: 'bad-filter' }] }), "FilterPolicy: Malformed CIDR, one '/' required");
  });

  it('counts complexity as SNS does: values times nesting depth, $or adding up', () => {
    // 3 x 4 x 2 x 3 = 72 (AWS's example), accepted; one more array of 3 makes 216.
    const ok = { a: { b: { c: ['1', '2', '3', '4'] } }, d: { e: ['1', '2', '3'] } };
    compileFilterPolicy(ok, 'MessageBody');
    refused({ ...ok, f: ['1', '2', '3'] }, 'FilterPolicy: Filter policy is too complex', 'MessageBody');
  });
});

describe('filter index', () => {
  it('tests only the branches filed under the message values, not every policy', () => {
    const index = new FilterIndex<number>();
    for (let i = 0; i < 10_000; i++) index.add(i, compileFilterPolicy({ customer: [`c${i}`], price: [{ numeric: ['>', i % 100] }] }));
    index.add(-1, compileFilterPolicy({ price: [{ numeric: ['>', 1000] }] }));
    const hit = index.match(snsAttributesInput({ customer: S('c42'), price: N(50) }));
    assert.deepEqual([...hit], [42]);
    assert.equal(index.evaluations, 2, 'the c42 branch and the one without an exact-value key');
    index.remove(42);
    assert.deepEqual([...index.match(snsAttributesInput({ customer: S('c42'), price: N(50) }))], []);
    assert.equal(index.size, 10_000);
  });

  it('finds exactly what testing every policy finds (property)', () => {
    const key = fc.constantFrom('a', 'b', 'c');
    const val = fc.oneof(fc.constantFrom('x', 'y', 'z', 'xy'), fc.integer({ min: 0, max: 3 }));
    const cond = fc.oneof(
      val,
      fc.record({ prefix: fc.constantFrom('x', 'y') }),
      fc.record({ 'anything-but': fc.constantFrom('x', 'y') }),
      fc.record({ numeric: fc.constantFrom(['>', 1], ['<=', 2], ['=', 0]) }),
      fc.record({ exists: fc.boolean() }),
    );
    const simple = fc.dictionary(key, fc.array(cond, { minLength: 1, maxLength: 3 }), { maxKeys: 3 });
    const policy = fc.oneof(simple, fc.tuple(simple, simple, simple).map(([p, q, r]) => ({ ...p, $or: [q, r] })));
    const message = fc.dictionary(key, fc.oneof(val.map((v) => (typeof v === 'number' ? N(v) : S(v))), fc.array(fc.constantFrom('x', 'y'), { maxLength: 2 }).map(A)), { maxKeys: 3 });
    fc.assert(
      fc.property(fc.array(policy, { maxLength: 12 }), fc.array(message, { minLength: 1, maxLength: 5 }), (policies, messages) => {
        // Policies SNS would refuse as too complex are left out.
        const compiled = policies.flatMap((p) => {
          try {
            return [compileFilterPolicy(p)];
          } catch (err) {
            if (err instanceof FilterPolicyError) return [];
            throw err;
          }
        });
        const index = new FilterIndex<number>();
        compiled.forEach((c, i) => index.add(i, c));
        for (const m of messages) {
          const input = snsAttributesInput(m);
          const naive = compiled.flatMap((c, i) => (matchesPolicy(c, input) ? [i] : []));
          assert.deepEqual([...index.match(input)].sort((x, y) => x - y), naive);
        }
      }),
      { numRuns: 300, seed: 15 },
    );
  });
});
