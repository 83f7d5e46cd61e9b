// The typed-array heap of held messages: pops in (due time, log position)
// order whatever the push order, keeps that order through retain + heapify,
// and finds recovered entries by position.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { HeldHeap, type HeldEntry } from '../../../../src/broker/delayed/held-heap.js';

const entryArb = fc.record({
  dueMs: fc.integer({ min: 0, max: 50 }), // few distinct values: many ties
  segment: fc.integer({ min: 0, max: 3 }),
  offset: fc.integer({ min: 8, max: 1_000_000 }),
  size: fc.integer({ min: 9, max: 5000 }),
  exchange: fc.integer({ min: 0, max: 4 }),
});

const byDueThenPosition = (a: HeldEntry, b: HeldEntry): number =>
  a.dueMs - b.dueMs || a.segment - b.segment || a.offset - b.offset;

function drain(h: HeldHeap): HeldEntry[] {
  const out: HeldEntry[] = [];
  for (;;) {
    const e = { dueMs: 0, segment: 0, offset: 0, size: 0, exchange: 0 };
    if (!h.pop(e)) return out;
    out.push(e);
  }
}

/** Positions are unique in a log: drop duplicates the generator made (as plain objects). */
function uniquePositions(entries: HeldEntry[]): HeldEntry[] {
  const seen = new Set<string>();
  return entries.filter((e) => !seen.has(`${e.segment}:${e.offset}`) && seen.add(`${e.segment}:${e.offset}`)).map((e) => ({ ...e }));
}

test('pops by due time, then log position (FIFO among equal due times)', () => {
  fc.assert(
    fc.property(fc.array(entryArb, { maxLength: 3000 }), (raw) => {
      const entries = uniquePositions(raw);
      const h = new HeldHeap();
      for (const e of entries) h.push(e);
      assert.equal(h.length, entries.length);
      assert.equal(h.topDueMs, entries.length ? Math.min(...entries.map((e) => e.dueMs)) : Infinity);
      assert.deepEqual(drain(h), [...entries].sort(byDueThenPosition));
      assert.equal(h.topDueMs, Infinity);
    }),
    { numRuns: 50 },
  );
});

test('retain drops entries, reports each, and heapify restores the order', () => {
  fc.assert(
    fc.property(fc.array(entryArb, { maxLength: 3000 }), fc.integer({ min: 0, max: 4 }), (raw, dropped) => {
      const entries = uniquePositions(raw);
      const h = new HeldHeap();
      for (const e of entries) h.push(e);
      let removed = 0;
      h.retain((i) => h.exchangeAt(i) !== dropped, () => removed++);
      h.heapify();
      const kept = entries.filter((e) => e.exchange !== dropped);
      assert.equal(removed, entries.length - kept.length);
      assert.deepEqual(drain(h), kept.sort(byDueThenPosition));
    }),
    { numRuns: 50 },
  );
});

test('entries appended in log order are found by position, then heapified', () => {
  const h = new HeldHeap();
  const entries: HeldEntry[] = [];
  for (let i = 0; i < 5000; i++) {
    const e = { dueMs: (i * 7919) % 1000, segment: i >> 10, offset: 8 + (i % 1024) * 40, size: 40, exchange: 0 };
    entries.push(e);
    h.append(e);
  }
  assert.equal(h.findAppended(2, 8 + 5 * 40), 2 * 1024 + 5);
  assert.equal(h.findAppended(2, 9), -1);
  assert.equal(h.findAppended(9, 8), -1);
  h.heapify();
  assert.deepEqual(drain(h), entries.sort(byDueThenPosition));
});
