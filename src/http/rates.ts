// Message rates for the management API with bounded memory. Counters live on the
// broker's objects (src/broker/stats.ts) and only ever grow; a timer samples them
// every `intervalMs` (RabbitMQ's collect_statistics_interval, 5 s) into a small
// fixed ring per object (a Float64Array, kept in a WeakMap so a deleted queue's
// ring goes with it). A rate is the change between the two newest samples per
// second. Nothing is allocated per message; a sample of 10,000 queues is a loop
// over their counters.

/** Samples kept per object: the newest two give the rate; a few more let a change of interval settle. */
const RING_SAMPLES = 4;

export type Sampled = object;

/** Reads an object's counters into `out` (fixed order, fixed length per kind). */
export type Reader<T> = (obj: T, out: Float64Array, at: number) => void;

interface Ring {
  readonly values: Float64Array;
  readonly times: Float64Array;
  /** Samples taken (the newest is at (count - 1) % RING_SAMPLES). */
  count: number;
}

export class RateSampler {
  private readonly rings = new WeakMap<Sampled, Ring>();
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly intervalMs: number) {}

  /** Starts sampling: `sampleAll` is called on each tick and calls `sample` for each object. */
  start(sampleAll: () => void): void {
    sampleAll();
    this.timer = setInterval(sampleAll, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  sample<T extends Sampled>(obj: T, width: number, read: Reader<T>): void {
    let ring = this.rings.get(obj);
    if (!ring) {
      ring = { values: new Float64Array(width * RING_SAMPLES), times: new Float64Array(RING_SAMPLES), count: 0 };
      this.rings.set(obj, ring);
    }
    const slot = ring.count % RING_SAMPLES;
    const now = Date.now();
    read(obj, ring.values.subarray(slot * width, (slot + 1) * width), now);
    ring.times[slot] = now;
    ring.count++;
  }

  /** Per-second rate of field `i` between the two newest samples; 0 with fewer than two. */
  rate(obj: Sampled, width: number, i: number): number {
    const ring = this.rings.get(obj);
    if (!ring || ring.count < 2) return 0;
    const newest = (ring.count - 1) % RING_SAMPLES;
    const prev = (ring.count - 2) % RING_SAMPLES;
    const dt = (ring.times[newest] - ring.times[prev]) / 1000;
    if (dt <= 0) return 0;
    const r = (ring.values[newest * width + i] - ring.values[prev * width + i]) / dt;
    return Math.round(r * 10) / 10;
  }
}
