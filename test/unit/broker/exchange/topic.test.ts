import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { splitTopicKey, TopicRouter } from '../../../../src/broker/exchange/topic.js';

function routed<D>(r: TopicRouter<D>, key: string): D[] {
  const out = new Set<D>();
  r.route(key, undefined, out);
  return [...out].sort();
}

function matches(bindingKey: string, routingKey: string): boolean {
  const r = new TopicRouter<string>();
  r.bind('q', bindingKey, {});
  return routed(r, routingKey).length === 1;
}

/**
 * The obvious regex translation, as a reference: each word of the routing key
 * becomes ".word", so the empty key is "" and "a..b" is ".a..b"; `*` is one
 * such segment, `#` any number of them. Exponential in the worst case, which
 * is fine for the short keys it is given here.
 */
function referenceMatch(bindingKey: string, routingKey: string): boolean {
  const words = (key: string): string[] => (key === '' ? [] : key.split('.'));
  const subject = words(routingKey).map((w) => '.' + w).join('');
  const pattern = words(bindingKey)
    .map((w) => (w === '#' ? '(?:\\.[^.]*)*' : w === '*' ? '\\.[^.]*' : '\\.' + w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${pattern}$`).test(subject);
}

describe('splitTopicKey', () => {
  it('splits like RabbitMQ: the empty key is zero words, empty words are kept', () => {
    assert.deepEqual(splitTopicKey(''), []);
    assert.deepEqual(splitTopicKey('a'), ['a']);
    assert.deepEqual(splitTopicKey('a.b'), ['a', 'b']);
    assert.deepEqual(splitTopicKey('a..b'), ['a', '', 'b']);
    assert.deepEqual(splitTopicKey('.'), ['', '']);
    assert.deepEqual(splitTopicKey('a.'), ['a', '']);
  });
});

describe('topic router: RabbitMQ topic exchange expectations', () => {
  // The binding set and expected routes of RabbitMQ's own topic exchange unit test.
  const bindings: [string, string][] = [
    ['a.b.c', 't1'], ['a.*.c', 't2'], ['a.#.b', 't3'], ['a.b.b.c', 't4'], ['#', 't5'],
    ['#.#', 't6'], ['#.b', 't7'], ['*.*', 't8'], ['a.*', 't9'], ['*.b.c', 't10'],
    ['a.#', 't11'], ['a.#.#', 't12'], ['b.b.c', 't13'], ['a.b.b', 't14'], ['a.b', 't15'],
    ['b.c', 't16'], ['', 't17'], ['*.*.*', 't18'], ['vodka.martini', 't19'], ['a.b.c', 't20'],
    ['*.#', 't21'], ['#.*.#', 't22'], ['*.#.#', 't23'], ['#.#.#', 't24'], ['*', 't25'],
    ['#.b.#', 't26'],
  ];
  const r = new TopicRouter<string>();
  for (const [key, q] of bindings) r.bind(q, key, {});
  const sorted = (qs: string[]): string[] => [...qs].sort();

  const before: [string, string[]][] = [
    ['a.b.c', ['t1', 't2', 't5', 't6', 't10', 't11', 't12', 't18', 't20', 't21', 't22', 't23', 't24', 't26']],
    ['a.b', ['t3', 't5', 't6', 't7', 't8', 't9', 't11', 't12', 't15', 't21', 't22', 't23', 't24', 't26']],
    ['a.b.b', ['t3', 't5', 't6', 't7', 't11', 't12', 't14', 't18', 't21', 't22', 't23', 't24', 't26']],
    ['', ['t5', 't6', 't17', 't24']],
    ['b.c.c', ['t5', 't6', 't18', 't21', 't22', 't23', 't24', 't26']],
    ['a.a.a.a.a', ['t5', 't6', 't11', 't12', 't21', 't22', 't23', 't24']],
    ['vodka.gin', ['t5', 't6', 't8', 't21', 't22', 't23', 't24']],
    ['vodka.martini', ['t5', 't6', 't8', 't19', 't21', 't22', 't23', 't24']],
    ['b.b.c', ['t5', 't6', 't10', 't13', 't18', 't21', 't22', 't23', 't24', 't26']],
    ['nothing.here.at.all', ['t5', 't6', 't21', 't22', 't23', 't24']],
    ['oneword', ['t5', 't6', 't21', 't22', 't23', 't24', 't25']],
  ];
  for (const [key, expected] of before) {
    it(`routes ${JSON.stringify(key)}`, () => assert.deepEqual(routed(r, key), sorted(expected)));
  }

  const after: [string, string[]][] = [
    ['a.b.c', ['t2', 't6', 't10', 't12', 't18', 't20', 't22', 't23', 't24', 't26']],
    ['a.b', ['t3', 't6', 't7', 't8', 't9', 't12', 't15', 't22', 't23', 't24', 't26']],
    ['a.b.b', ['t3', 't6', 't7', 't12', 't14', 't18', 't22', 't23', 't24', 't26']],
    ['', ['t6', 't17', 't24']],
    ['b.c.c', ['t6', 't18', 't22', 't23', 't24', 't26']],
    ['a.a.a.a.a', ['t6', 't12', 't22', 't23', 't24']],
    ['vodka.gin', ['t6', 't8', 't22', 't23', 't24']],
    ['vodka.martini', ['t6', 't8', 't22', 't23', 't24']],
    ['b.b.c', ['t6', 't10', 't13', 't18', 't22', 't23', 't24', 't26']],
    ['nothing.here.at.all', ['t6', 't22', 't23', 't24']],
    ['oneword', ['t6', 't22', 't23', 't24', 't25']],
  ];
  it('routes correctly after removing t1, t5, t11, t19 and t21', () => {
    const r2 = new TopicRouter<string>();
    for (const [key, q] of bindings) r2.bind(q, key, {});
    for (const n of [1, 5, 11, 19, 21]) {
      const [key, q] = bindings[n - 1];
      assert.equal(r2.unbind(q, key, {}), true);
    }
    for (const [key, expected] of after) assert.deepEqual(routed(r2, key), sorted(expected), key);
    for (const [key, q] of bindings) r2.unbind(q, key, {});
    assert.equal(r2.size, 0);
    for (const key of ['a.b.c', 'b.b.c', '']) assert.deepEqual(routed(r2, key), []);
  });
});

describe('topic router: edge cases', () => {
  const cases: [bindingKey: string, routingKey: string, expected: boolean][] = [
    // `#` at the start, middle and end
    ['#.a', 'a', true],
    ['#.a', 'b.a', true],
    ['#.a', 'b.c.a', true],
    ['#.a', 'a.b', false],
    ['#.a', '', false],
    ['a.#.b', 'a.b', true],
    ['a.#.b', 'a.x.b', true],
    ['a.#.b', 'a.x.y.z.b', true],
    ['a.#.b', 'a.b.b', true],
    ['a.#.b', 'a.b.c', false],
    ['a.#.b', 'b', false],
    ['a.#', 'a', true],
    ['a.#', 'a.b.c', true],
    ['a.#', 'ab', false],
    ['a.#', '', false],
    // `#` alone and repeated
    ['#', '', true],
    ['#', 'a', true],
    ['#', 'a.b.c', true],
    ['#', '...', true],
    ['#.#', '', true],
    ['#.#', 'a.b', true],
    ['#.#.#.#', 'a', true],
    // `*` is exactly one word, possibly empty
    ['*', 'a', true],
    ['*', '', false],
    ['*', 'a.b', false],
    ['*', '.', false],
    ['*.*', '.', true],
    ['a.*', 'a.', true],
    ['*.a', '.a', true],
    ['*.*', 'a', false],
    ['*.#.*', 'a', false],
    ['*.#.*', 'a.b', true],
    ['*.#.*', 'a.b.c.d', true],
    ['#.*', '', false],
    ['#.*', 'a', true],
    ['#.*.#', '', false],
    ['#.*.#', 'x', true],
    // the empty key and empty words
    ['', '', true],
    ['', 'a', false],
    ['', '.', false],
    ['.', '.', true],
    ['.', '', false],
    ['a..b', 'a..b', true],
    ['a..b', 'a.b', false],
    ['a.*.b', 'a..b', true],
    ['a.#.b', 'a..b', true],
    ['a.', 'a.', true],
    ['a.', 'a', false],
    // wildcards only as whole words; elsewhere they are plain characters
    ['a*', 'ab', false],
    ['a*', 'a*', true],
    ['#a', 'a', false],
    ['#a', '#a', true],
    ['a.b', 'a.*', false],
    ['a.*', 'a.*', true],
    ['*', '#', true],
    // case and prototype names are not special
    ['A', 'a', false],
    ['constructor', 'constructor', true],
    ['__proto__.*', '__proto__.x', true],
  ];
  for (const [bindingKey, routingKey, expected] of cases) {
    it(`${JSON.stringify(bindingKey)} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(routingKey)}`, () => {
      assert.equal(matches(bindingKey, routingKey), expected);
      assert.equal(referenceMatch(bindingKey, routingKey), expected, 'reference matcher disagrees');
    });
  }

  it('is not exponential on many `#`', { timeout: 5000 }, () => {
    const r = new TopicRouter<string>();
    r.bind('q', Array(40).fill('#').join('.') + '.x', {});
    r.bind('p', Array(40).fill('#.a').join('.') + '.x', {});
    const key = Array(200).fill('a').join('.');
    assert.deepEqual(routed(r, key), []);
    assert.deepEqual(routed(r, key + '.x'), ['p', 'q']);
  });

  it('routes after later binds and unbinds (no stale cached results)', () => {
    const r = new TopicRouter<string>();
    r.bind('q1', 'a.*', {});
    assert.deepEqual(routed(r, 'a.b'), ['q1']);
    r.bind('q2', '#', {});
    assert.deepEqual(routed(r, 'a.b'), ['q1', 'q2']);
    r.unbind('q1', 'a.*', {});
    assert.deepEqual(routed(r, 'a.b'), ['q2']);
    r.unbindAll('q2');
    assert.deepEqual(routed(r, 'a.b'), []);
    r.bind('q1', 'a.b', {});
    assert.deepEqual(routed(r, 'a.b'), ['q1']);
  });

  it('keeps sibling patterns when one is removed', () => {
    const r = new TopicRouter<string>();
    r.bind('q1', 'a.#', {});
    r.bind('q2', 'a.#.b', {});
    r.bind('q3', 'a', {});
    r.unbind('q1', 'a.#', {});
    assert.deepEqual(routed(r, 'a.x.b'), ['q2']);
    assert.deepEqual(routed(r, 'a'), ['q3']);
    r.unbind('q3', 'a', {});
    assert.deepEqual(routed(r, 'a.b'), ['q2']);
    r.bind('q1', 'a.#', {});
    assert.deepEqual(routed(r, 'a'), ['q1']);
  });

  it('survives many distinct routing keys (result cache eviction)', () => {
    const r = new TopicRouter<number>();
    r.bind(1, 'k.*', {});
    for (let i = 0; i < 10_000; i++) assert.equal(routed(r, `k.${i}`).length, 1);
    assert.deepEqual(routed(r, 'k.0'), [1]);
  });
});

describe('topic router: property test against a regex reference', () => {
  const bindingWord = fc.constantFrom('a', 'b', '', '*', '#', 'a*');
  const routingWord = fc.constantFrom('a', 'b', '', '*', '#', 'a*');
  const key = (word: fc.Arbitrary<string>) => fc.array(word, { maxLength: 6 }).map((ws) => ws.join('.'));

  it('routes exactly to the destinations whose binding key the reference matches', () => {
    fc.assert(
      fc.property(fc.array(key(bindingWord), { minLength: 1, maxLength: 12 }), fc.array(key(routingWord), { maxLength: 8 }),
        (bindingKeys, routingKeys) => {
          const r = new TopicRouter<number>();
          bindingKeys.forEach((k, i) => r.bind(i, k, {}));
          for (const rk of routingKeys) {
            const expected = bindingKeys.flatMap((k, i) => (referenceMatch(k, rk) ? [i] : []));
            assert.deepEqual(routed(r, rk).sort((x, y) => x - y), expected, `routing key ${JSON.stringify(rk)}`);
          }
        }),
      { numRuns: 500 },
    );
  });

  it('agrees with a model under random bind/unbind sequences', () => {
    const op = fc.record({
      kind: fc.constantFrom('bind', 'bind', 'unbind', 'unbindAll'),
      dest: fc.integer({ min: 0, max: 3 }),
      key: key(bindingWord),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), fc.array(key(routingWord), { minLength: 1, maxLength: 5 }), (ops, routingKeys) => {
        const r = new TopicRouter<number>();
        const model = new Set<string>(); // JSON [dest, key]
        for (const { kind, dest, key: k } of ops) {
          const id = JSON.stringify([dest, k]);
          if (kind === 'bind') {
            assert.equal(r.bind(dest, k, {}), !model.has(id));
            model.add(id);
          } else if (kind === 'unbind') {
            assert.equal(r.unbind(dest, k, {}), model.has(id));
            model.delete(id);
          } else {
            const mine = [...model].filter((m) => (JSON.parse(m) as [number, string])[0] === dest);
            assert.equal(r.unbindAll(dest), mine.length);
            for (const m of mine) model.delete(m);
          }
          assert.equal(r.size, model.size);
          for (const rk of routingKeys) {
            const expected = new Set<number>();
            for (const m of model) {
              const [d, bk] = JSON.parse(m) as [number, string];
              if (referenceMatch(bk, rk)) expected.add(d);
            }
            assert.deepEqual(routed(r, rk), [...expected].sort((x, y) => x - y));
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
