// SeqMap: a Map from mostly-increasing integer keys, checked against a real Map
// under random operations, plus the order and edge cases the session relies on.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SeqMap } from '../../../src/util/seq-map.js';
import { SmallSet } from '../../../src/util/small-set.js';

type Op = { kind: 'append' | 'bulk' | 'set' | 'delete' | 'deleteOldest' | 'drain' | 'clear'; key: number };

const op: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom<Op['kind']>('append', 'append', 'append', 'bulk', 'set', 'delete', 'deleteOldest', 'deleteOldest', 'drain', 'clear'),
  key: fc.integer({ min: 0, max: 200 }),
});

/** A Map kept in key order, the reference. */
function sortedEntries(m: Map<number, string>): [number, string][] {
  return [...m.entries()].sort((a, b) => a[0] - b[0]);
}

describe('SeqMap', () => {
  it('behaves like a Map iterated in key order, under random appends, sets and deletes', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const s = new SeqMap<string>();
        const m = new Map<number, string>();
        let next = 0;
        for (const o of ops) {
          if (o.kind === 'append' || o.kind === 'bulk') {
            // bulk: enough at once to grow the ring past the size where it shrinks again
            for (let i = o.kind === 'bulk' ? 1500 : 1; i > 0; i--) {
              next += 1 + (o.key % 3);
              s.set(next, `v${next}`);
              m.set(next, `v${next}`);
            }
          } else if (o.kind === 'drain') {
            for (const [k] of sortedEntries(m).slice(0, Math.max(0, m.size - (o.key % 5)))) assert.equal(s.delete(k), m.delete(k));
          } else if (o.kind === 'set') {
            s.set(o.key, `w${o.key}`);
            m.set(o.key, `w${o.key}`);
            next = Math.max(next, o.key);
          } else if (o.kind === 'delete') {
            assert.equal(s.delete(o.key), m.delete(o.key));
          } else if (o.kind === 'deleteOldest') {
            const oldest = sortedEntries(m)[0];
            if (oldest) assert.equal(s.delete(oldest[0]), m.delete(oldest[0]));
          } else {
            s.clear();
            m.clear();
          }
          assert.equal(s.size, m.size);
        }
        assert.deepEqual([...s], sortedEntries(m));
        assert.deepEqual([...s.values()], sortedEntries(m).map(([, v]) => v));
        for (let k = 0; k <= next + 1; k++) {
          assert.equal(s.get(k), m.get(k));
          assert.equal(s.has(k), m.has(k));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('keeps delivery-tag order through growth, oldest-first removal and out-of-order removal', () => {
    const s = new SeqMap<number>();
    for (let tag = 1; tag <= 1000; tag++) s.set(tag, tag);
    for (let tag = 1; tag <= 500; tag++) assert.ok(s.delete(tag));
    for (let tag = 1000; tag > 900; tag -= 2) assert.ok(s.delete(tag));
    for (let tag = 1001; tag <= 1100; tag++) s.set(tag, tag);
    const keys = [...s].map(([k]) => k);
    assert.equal(keys.length, 500 - 50 + 100);
    assert.deepEqual(keys, [...keys].sort((a, b) => a - b));
    assert.equal(keys[0], 501);
    assert.equal(s.get(999), 999);
    assert.equal(s.get(1000), undefined);
  });

  it('stays correct while a large backlog drains and the ring shrinks', () => {
    const s = new SeqMap<number>();
    for (let tag = 1; tag <= 5000; tag++) s.set(tag, tag * 2);
    for (let tag = 1; tag <= 4990; tag++) s.delete(tag);
    assert.deepEqual([...s.values()], Array.from({ length: 10 }, (_, i) => (4991 + i) * 2));
    for (let tag = 5001; tag <= 5100; tag++) s.set(tag, tag * 2);
    s.set(4995, -1);
    assert.equal(s.size, 110);
    assert.equal(s.get(4995), -1);
    assert.equal(s.get(5100), 10200);
    assert.equal(s.get(4990), undefined);
    assert.deepEqual([...s].map(([k]) => k), [...Array.from({ length: 10 }, (_, i) => 4991 + i), ...Array.from({ length: 100 }, (_, i) => 5001 + i)]);
  });

  it('inserts below the highest key in order (a rolled-back transaction re-adds old tags)', () => {
    const s = new SeqMap<string>();
    s.set(10, 'a').set(20, 'b').set(15, 'c').set(5, 'd').set(20, 'e');
    assert.deepEqual([...s], [[5, 'd'], [10, 'a'], [15, 'c'], [20, 'e']]);
  });

  it('refuses keys that are not integers and undefined values', () => {
    const s = new SeqMap<string | undefined>();
    assert.throws(() => s.set(1.5, 'x'), RangeError);
    assert.throws(() => s.set(2, undefined), TypeError);
    assert.equal(s.size, 0);
  });
});

describe('SmallSet', () => {
  it('adds once, deletes, keeps insertion order', () => {
    const s = new SmallSet<string>();
    s.add('a').add('b').add('a').add('c');
    assert.equal(s.size, 3);
    assert.ok(s.delete('b'));
    assert.ok(!s.delete('b'));
    assert.ok(s.has('a') && !s.has('b'));
    assert.deepEqual([...s], ['a', 'c']);
    s.clear();
    assert.equal(s.size, 0);
  });
});
