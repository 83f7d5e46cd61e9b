import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { RateSampler } from '../../../src/http/rates.js';

describe('RateSampler', () => {
  it('gives the per-second change between the two newest samples, 0 before two, and keeps a fixed ring', () => {
    mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    try {
      const rates = new RateSampler(5000);
      const obj = { count: 0 };
      const read = (o: typeof obj, out: Float64Array): void => void (out[0] = o.count);
      assert.equal(rates.rate(obj, 1, 0), 0);
      rates.sample(obj, 1, read);
      assert.equal(rates.rate(obj, 1, 0), 0);
      for (let i = 1; i <= 10; i++) {
        obj.count += 50 * i;
        mock.timers.tick(5000);
        rates.sample(obj, 1, read);
        assert.equal(rates.rate(obj, 1, 0), (50 * i) / 5);
      }
      // A counter standing still has rate 0.
      mock.timers.tick(5000);
      rates.sample(obj, 1, read);
      assert.equal(rates.rate(obj, 1, 0), 0);
    } finally {
      mock.timers.reset();
    }
  });
});
