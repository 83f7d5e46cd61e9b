// Counters, latency histograms and the text `wharf perf-kafka` prints: progress lines, the
// human summary and the final JSON line (a contract: bench/streams.ts parses it). Latencies
// are recorded in microseconds in HDR histograms (report.ts's LatencyRecorder): produce
// latency from a record's creation to its acknowledgement (Kafka's ProducerPerformance
// measures the same: linger, batching and the broker's fsync included), end-to-end latency
// from its creation to a consumer's receipt of the fetch response that carried it.

import { LatencyRecorder, nowMs, round3, type CpuSummary, type LatencySummary } from './report.js';
import { reportedKafkaConfig, type KafkaPerfOptions } from './kafka-options.js';

const MIB = 1024 * 1024;

export class KafkaStats {
  produced = 0;
  acked = 0;
  consumed = 0;
  /** Record batch bytes as sent (after compression) and as fetched. */
  producedBytes = 0;
  consumedBytes = 0;
  produceRequests = 0;
  fetchRequests = 0;
  /** nowMs() of the measured window's start and of the last event of each kind (0 = none yet). */
  startMs = nowMs();
  lastProduceMs = 0;
  lastAckMs = 0;
  lastConsumeMs = 0;
  readonly produceLatency = new LatencyRecorder();
  readonly endToEndLatency = new LatencyRecorder();
  private intervalStartMs = this.startMs;
  private intervalProduced = 0;
  private intervalAcked = 0;
  private intervalConsumed = 0;

  begin(): void {
    this.startMs = this.intervalStartMs = nowMs();
  }

  /** Ends the warm-up: counts and histograms start again from `now`. */
  restart(now: number): void {
    this.produced = this.acked = this.consumed = this.producedBytes = this.consumedBytes = 0;
    this.produceRequests = this.fetchRequests = 0;
    this.lastProduceMs = this.lastAckMs = this.lastConsumeMs = 0;
    this.produceLatency.reset();
    this.endToEndLatency.reset();
    this.startMs = this.intervalStartMs = now;
    this.intervalProduced = this.intervalAcked = this.intervalConsumed = 0;
  }

  tick(now: number): KafkaProgressSample {
    const secs = Math.max(now - this.intervalStartMs, 1) / 1000;
    const produce = this.produceLatency.tick();
    const e2e = this.endToEndLatency.tick();
    const sample: KafkaProgressSample = {
      elapsedSec: (now - this.startMs) / 1000,
      producedPerSec: (this.produced - this.intervalProduced) / secs,
      ackedPerSec: (this.acked - this.intervalAcked) / secs,
      consumedPerSec: (this.consumed - this.intervalConsumed) / secs,
      produceP99Ms: produce.p99Ms,
      endToEndP99Ms: e2e.p99Ms,
    };
    this.intervalStartMs = now;
    this.intervalProduced = this.produced;
    this.intervalAcked = this.acked;
    this.intervalConsumed = this.consumed;
    return sample;
  }
}

export interface KafkaProgressSample {
  elapsedSec: number;
  producedPerSec: number;
  ackedPerSec: number;
  consumedPerSec: number;
  produceP99Ms: number | undefined;
  endToEndP99Ms: number | undefined;
}

/** The final JSON line's object; keys in the documented order. */
export interface KafkaPerfResult {
  produced: number;
  acked: number;
  consumed: number;
  /** Records per second, from the start to the last such event. */
  produceRate: number;
  ackRate: number;
  consumeRate: number;
  /** Record batch bytes per second (MiB/s), as sent and as fetched. */
  produceMiBps: number;
  consumeMiBps: number;
  durationMs: number;
  produceLatencyMs: LatencySummary;
  /** End to end: creation to receipt by a consumer. */
  latencyMs: LatencySummary;
  cpu: CpuSummary;
  requests: { produce: number; fetch: number };
  config: Record<string, unknown>;
}

function rate(count: number, startMs: number, lastMs: number): number {
  if (count === 0 || lastMs <= startMs) return 0;
  return Math.round((count * 1000) / (lastMs - startMs));
}

export function buildKafkaResult(s: KafkaStats, endMs: number, cpu: NodeJS.CpuUsage, o: KafkaPerfOptions): KafkaPerfResult {
  const durationMs = Math.max(endMs - s.startMs, 0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const mibps = (bytes: number, lastMs: number): number => (lastMs > s.startMs ? round3((bytes * 1000) / (lastMs - s.startMs) / MIB) : 0);
  return {
    produced: s.produced,
    acked: s.acked,
    consumed: s.consumed,
    produceRate: rate(s.produced, s.startMs, s.lastProduceMs),
    ackRate: rate(s.acked, s.startMs, s.lastAckMs),
    consumeRate: rate(s.consumed, s.startMs, s.lastConsumeMs),
    produceMiBps: mibps(s.producedBytes, s.lastProduceMs),
    consumeMiBps: mibps(s.consumedBytes, s.lastConsumeMs),
    durationMs: round3(durationMs),
    produceLatencyMs: s.produceLatency.summary(),
    latencyMs: s.endToEndLatency.summary(),
    cpu: {
      userMs: round3(cpu.user / 1000),
      systemMs: round3(cpu.system / 1000),
      percentOfOneCore: durationMs > 0 ? round3((cpuMs / durationMs) * 100) : 0,
    },
    requests: { produce: s.produceRequests, fetch: s.fetchRequests },
    config: reportedKafkaConfig(o),
  };
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const millis = (n: number | undefined): string => (n === undefined ? '-' : n.toFixed(3));

/** "time 3.0 s, produced 812,345 rec/s, acked 800,000 rec/s, consumed 799,000 rec/s, p99 produce 3.112 ms, end-to-end 4.001 ms" */
export function kafkaProgressLine(s: KafkaProgressSample): string {
  return (
    `time ${s.elapsedSec.toFixed(1)} s, produced ${int(s.producedPerSec)} rec/s, acked ${int(s.ackedPerSec)} rec/s, ` +
    `consumed ${int(s.consumedPerSec)} rec/s, p99 produce ${millis(s.produceP99Ms)} ms, end-to-end ${millis(s.endToEndP99Ms)} ms`
  );
}

function latencyText(l: LatencySummary): string {
  return `p50 ${l.p50}, p95 ${l.p95}, p99 ${l.p99}, p99.9 ${l.p999}, max ${l.max}`;
}

export function kafkaSummaryLines(r: KafkaPerfResult): string[] {
  return [
    `summary: ${(r.durationMs / 1000).toFixed(1)} s`,
    `  produced ${int(r.produced)} records (${int(r.produceRate)} rec/s, ${r.produceMiBps.toFixed(1)} MiB/s of batches), acked ${int(r.acked)} (${int(r.ackRate)} rec/s)`,
    `  consumed ${int(r.consumed)} records (${int(r.consumeRate)} rec/s, ${r.consumeMiBps.toFixed(1)} MiB/s of batches)`,
    `  produce latency ms: ${latencyText(r.produceLatencyMs)}`,
    `  end-to-end latency ms: ${latencyText(r.latencyMs)}`,
    `  requests: ${int(r.requests.produce)} produce, ${int(r.requests.fetch)} fetch`,
    `  perf-kafka's own cpu: ${r.cpu.percentOfOneCore.toFixed(1)}% of one core (user ${int(r.cpu.userMs)} ms, system ${int(r.cpu.systemMs)} ms)`,
  ];
}
