// The latency trace's histogram: exact below 64, within 1/32 above, percentiles
// as the nearest-rank definition on the recorded values (bucket precision).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Histogram, HISTOGRAM_VALUE_MAX } from '../../../src/util/histogram.js';

function nearestRank(sorted: number[], percent: number): number {
  const rank = Math.max(1, Math.ceil((percent / 100) * sorted.length));
  return sorted[rank - 1];
}

describe('Histogram', () => {
  it('is exact for small values', () => {
    const h = new Histogram();
    for (let v = 0; v < 64; v++) h.record(v);
    assert.equal(h.count, 64);
    assert.equal(h.percentile(50), 31);
    assert.equal(h.percentile(100), 63);
    assert.equal(h.max, 63);
    assert.equal(h.mean(), 31.5);
  });

  it('percentiles are within 1/32 above the true nearest-rank value and never above the max', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50_000_000 }), { minLength: 1, maxLength: 300 }), fc.constantFrom(50, 90, 99, 99.9, 100), (values, p) => {
        const h = new Histogram();
        for (const v of values) h.record(v);
        const sorted = [...values].sort((a, b) => a - b);
        const truth = nearestRank(sorted, p);
        const got = h.percentile(p);
        assert.ok(got >= truth, `p${p}: ${got} < ${truth}`);
        assert.ok(got <= Math.max(truth * (1 + 1 / 32), truth + 1), `p${p}: ${got} too far above ${truth}`);
        assert.ok(got <= h.max);
        assert.equal(h.max, sorted[sorted.length - 1]);
      }),
      { numRuns: 300 },
    );
  });

  it('counts repeated values, clamps negatives, NaN and huge values, and merges', () => {
    const a = new Histogram();
    a.record(1000, 99);
    a.record(-5);
    a.record(Number.NaN);
    a.record(1e30);
    assert.equal(a.count, 102);
    assert.equal(a.max, HISTOGRAM_VALUE_MAX);
    assert.equal(a.percentile(1), 0);
    assert.ok(Math.abs(a.percentile(50) - 1000) <= 1000 / 32);
    const b = new Histogram();
    b.record(5);
    b.add(a);
    assert.equal(b.count, 103);
    assert.equal(b.max, HISTOGRAM_VALUE_MAX);
    b.reset();
    assert.equal(b.count, 0);
    assert.equal(b.percentile(99), 0);
    assert.deepEqual(b.summary(), { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
  });
});
