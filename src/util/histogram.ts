// A log-linear histogram of non-negative integers (microseconds, in the latency
// trace): constant memory, O(1) record, percentiles within 1/SUB_BUCKETS (~1.6%)
// of the true value. Values below SUB_BUCKETS are exact; above, each power of two
// is split into SUB_BUCKETS/2 equal buckets (HdrHistogram's layout, without its
// generality), and a value is reported as its bucket's highest value, capped by
// the exact maximum. Values past VALUE_MAX are counted as VALUE_MAX.

const SUB_BUCKET_BITS = 6;
const SUB_BUCKETS = 1 << SUB_BUCKET_BITS; // 64
const HALF = SUB_BUCKETS >> 1;
/** 2^36 µs is about 19 hours: anything longer is a hang, not a latency. */
const MAGNITUDES = 36 - SUB_BUCKET_BITS + 1;
export const HISTOGRAM_VALUE_MAX = 2 ** 36 - 1;

export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export class Histogram {
  private readonly counts = new Float64Array(SUB_BUCKETS + (MAGNITUDES - 1) * HALF);
  count = 0;
  max = 0;
  sum = 0;

  /** Adds `value` (rounded, clamped to 0..HISTOGRAM_VALUE_MAX) `times` times. */
  record(value: number, times = 1): void {
    let v = Math.round(value);
    if (!(v > 0)) v = 0; // also NaN
    else if (v > HISTOGRAM_VALUE_MAX) v = HISTOGRAM_VALUE_MAX;
    this.counts[indexOf(v)] += times;
    this.count += times;
    this.sum += v * times;
    if (v > this.max) this.max = v;
  }

  /** The smallest recorded value v such that at least `percent`% of the values are <= v (bucket precision). */
  percentile(percent: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil((Math.min(Math.max(percent, 0), 100) / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(highestOf(i), this.max);
    }
    return this.max;
  }

  mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  summary(): Percentiles {
    return {
      count: this.count,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      p999: this.percentile(99.9),
      max: this.max,
    };
  }

  /** Adds another histogram's counts to this one. */
  add(other: Histogram): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i] += other.counts[i];
    this.count += other.count;
    this.sum += other.sum;
    if (other.max > this.max) this.max = other.max;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.max = 0;
    this.sum = 0;
  }
}

/** Bucket index: values < SUB_BUCKETS map to themselves; then HALF buckets per power of two. */
function indexOf(v: number): number {
  if (v < SUB_BUCKETS) return v;
  // Magnitude m >= 1: v in [2^(m+5), 2^(m+6)), bucket width 2^m.
  const m = bitLength(v) - SUB_BUCKET_BITS;
  const sub = Math.floor(v / 2 ** m); // HALF .. SUB_BUCKETS-1
  return SUB_BUCKETS + (m - 1) * HALF + (sub - HALF);
}

function highestOf(i: number): number {
  if (i < SUB_BUCKETS) return i;
  const m = Math.floor((i - SUB_BUCKETS) / HALF) + 1;
  const sub = ((i - SUB_BUCKETS) % HALF) + HALF;
  return (sub + 1) * 2 ** m - 1;
}

/** Bits needed for a non-negative integer below 2^53 (exact, unlike Math.log2 near powers of two). */
function bitLength(v: number): number {
  return v < 2 ** 32 ? 32 - Math.clz32(v) : 64 - Math.clz32(Math.floor(v / 2 ** 32));
}
