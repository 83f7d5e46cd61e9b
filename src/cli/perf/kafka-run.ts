// `wharf perf-kafka` as a function: create the topic if asked, set up consumers (their start
// offsets are taken before any record is produced) and producers, each with its own client,
// drive them from one control timer (progress each second, the fixed-rate schedule, the end
// conditions), then stop, clean up and report.
//
// When the run ends: producers stop at --records or when --duration is up, then wait for the
// answers to what they sent (at most GRACE_MAX_MS). Consumers then get what is still in flight:
// until they have every record produced in the measured window, or no record came for a
// second, at most GRACE_MAX_MS; with --drain, until they have read what the topic held when
// they started. Any broker error ends the run with that error.

import { KafkaClient, KafkaClientError, brokerError } from '../../client/kafka/index.js';
import { ErrorCode } from '../../protocol/kafka/index.js';
import type { KafkaPerfOptions } from './kafka-options.js';
import { buildKafkaResult, kafkaProgressLine, KafkaStats, type KafkaPerfResult } from './kafka-report.js';
import { KafkaConsumer, KafkaProducer } from './kafka-roles.js';
import { nowMs } from './report.js';
import { share, type PerfIo } from './run.js';

const CONTROL_TICK_MS = 10;
/** With --rate the schedule is released every millisecond (batches of rate/1000 records, not bursts). */
const RATE_TICK_MS = 1;
const PROGRESS_MS = 1000;
const GRACE_IDLE_MS = 1000;
const GRACE_MAX_MS = 5000;
const LEADERS_WAIT_MS = 10_000;

/** Consumer i of m takes partitions i, i+m, ... (none when there are more consumers than partitions). */
export function consumerPartitions(partitions: readonly number[], i: number, m: number): number[] {
  return partitions.filter((_, j) => j % m === i);
}

export async function runKafkaPerf(options: KafkaPerfOptions, io: PerfIo = {}): Promise<KafkaPerfResult> {
  const run = new KafkaPerfRun(options, io);
  try {
    return await run.execute();
  } finally {
    run.destroyAll();
  }
}

class KafkaPerfRun {
  private readonly clients: KafkaClient[] = [];
  private readonly producers: KafkaProducer[] = [];
  private readonly consumers: KafkaConsumer[] = [];
  private failure: Error | undefined;
  private onFailure: (() => void) | undefined;
  private cpuStart = process.cpuUsage();

  constructor(
    private readonly o: KafkaPerfOptions,
    private readonly io: PerfIo,
  ) {}

  async execute(): Promise<KafkaPerfResult> {
    const o = this.o;
    const admin = await this.connect('admin');
    const created = o.create ? await admin.createTopic(o.topic, o.partitions) : false;
    const partitions = await this.partitionsWithLeaders(admin);
    if (o.consumers > partitions.length) {
      throw new KafkaClientError(`${o.consumers} consumers for ${partitions.length} partition(s): each consumer needs a partition of its own`);
    }

    const stats = new KafkaStats();
    for (let i = 0; i < o.consumers; i++) {
      const c = new KafkaConsumer(await this.connect(`consumer-${i + 1}`), consumerPartitions(partitions, i, o.consumers), o, stats, this.fail);
      await c.prepare();
      this.consumers.push(c);
    }
    for (let i = 0; i < o.producers; i++) {
      const p = new KafkaProducer(await this.connect(`producer-${i + 1}`), share(partitions, i, o.producers), o, stats, this.fail);
      await p.prepare();
      this.producers.push(p);
    }
    this.checkFailure();

    stats.begin();
    this.cpuStart = process.cpuUsage();
    for (const c of this.consumers) await c.start();
    for (const p of this.producers) p.start();
    await this.control(stats);
    for (const c of this.consumers) c.stop();
    const endMs = nowMs();
    const cpu = process.cpuUsage(this.cpuStart);
    this.checkFailure();
    const result = buildKafkaResult(stats, endMs, cpu, o);

    if (created && o.cleanup) await admin.deleteTopic(o.topic);
    return result;
  }

  /** The topic's partitions, once each has a leader (a new topic's may take a moment on Kafka). */
  private async partitionsWithLeaders(admin: KafkaClient): Promise<number[]> {
    const deadline = Date.now() + LEADERS_WAIT_MS;
    for (;;) {
      const t = (await admin.metadata([this.o.topic])).topics.get(this.o.topic);
      const ready = t !== undefined && t.errorCode === 0 && t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0);
      if (ready) return t.partitions.map((p) => p.partition);
      if (!this.o.create && t !== undefined && t.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) {
        throw brokerError(`topic '${this.o.topic}' (--no-create: it must exist)`, t.errorCode);
      }
      if (Date.now() > deadline) {
        const why = t === undefined ? 'not in the metadata' : t.errorCode !== 0 ? `error code ${t.errorCode}` : 'partitions without a leader';
        throw new KafkaClientError(`topic '${this.o.topic}': ${why} after ${LEADERS_WAIT_MS} ms${this.o.create ? '' : ' (--no-create: does it exist?)'}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The control loop: one timer for progress, rate schedule and end conditions. */
  private control(stats: KafkaStats): Promise<void> {
    const o = this.o;
    const startMs = stats.startMs;
    const warmupEndMs = startMs + o.warmupSec * 1000;
    let warming = o.warmupSec > 0;
    let deadlineMs = o.durationSec === undefined ? Infinity : warmupEndMs + o.durationSec * 1000;
    let nextProgressMs = startMs + PROGRESS_MS;
    let producersDoneMs = 0;

    return new Promise<void>((resolve) => {
      const finish = (): void => {
        clearInterval(timer);
        this.onFailure = undefined;
        for (const p of this.producers) p.stop();
        resolve();
      };
      this.onFailure = finish;
      const tick = (): void => {
        const now = nowMs();
        const aborted = this.io.signal?.aborted === true;
        if (o.ratePerSec > 0) for (const p of this.producers) p.allow(now - startMs);
        if (warming && now >= warmupEndMs) {
          warming = false;
          if (o.durationSec !== undefined) deadlineMs = now + o.durationSec * 1000;
          stats.restart(now);
          this.cpuStart = process.cpuUsage();
          nextProgressMs = now + PROGRESS_MS;
        }
        if (this.io.progress && now >= nextProgressMs) {
          nextProgressMs += PROGRESS_MS;
          this.io.progress((warming ? 'warm-up: ' : '') + kafkaProgressLine(stats.tick(now)));
        }
        if (aborted) return finish();
        if (now >= deadlineMs) for (const p of this.producers) p.stop();
        if (o.drain) {
          if (this.consumers.every((c) => c.finished) || now >= deadlineMs) finish();
          return;
        }
        if (!this.producers.every((p) => p.sentAll)) return;
        if (producersDoneMs === 0) producersDoneMs = now;
        const answered = this.producers.every((p) => p.finished);
        if (!answered && now - producersDoneMs <= GRACE_MAX_MS) return;
        if (this.consumers.length === 0) return finish();
        if (this.producers.length === 0) return now >= deadlineMs ? finish() : undefined;
        const expected = o.acks === 0 ? stats.produced : stats.acked;
        const caughtUp = stats.consumed >= expected;
        const idle = now - Math.max(stats.lastConsumeMs, producersDoneMs) >= GRACE_IDLE_MS;
        if (caughtUp || idle || now - producersDoneMs >= GRACE_MAX_MS) finish();
      };
      const timer = setInterval(tick, o.ratePerSec > 0 ? RATE_TICK_MS : CONTROL_TICK_MS);
      if (this.failure) finish();
    });
  }

  private async connect(role: string): Promise<KafkaClient> {
    this.checkFailure();
    const c = await KafkaClient.connect(this.o.bootstrap, { clientId: `wharf-perf-kafka-${role}` });
    this.clients.push(c);
    return c;
  }

  private readonly fail = (err: unknown): void => {
    if (this.failure) return;
    this.failure = err instanceof Error ? err : new KafkaClientError(String(err));
    this.onFailure?.();
  };

  private checkFailure(): void {
    if (this.failure) throw this.failure;
  }

  /** After success or failure: nothing stays open. */
  destroyAll(): void {
    for (const c of this.clients) c.destroy();
  }
}
