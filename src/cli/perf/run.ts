// `wharf perf` as a function: declare the topology, start consumers, idle
// connections and publishers (one connection each), drive them from one
// control timer (progress each second, the fixed-rate schedule, the end
// conditions), then stop, clean up and report.
//
// When the run ends: publishers stop at --pmessages or when --duration is up;
// then consumers get what is still in flight (until they have all that was
// published, or no delivery came for a second, at most GRACE_MAX_MS), or run to
// --cmessages, or with --drain until every queue reads empty and no delivery
// came for DRAIN_IDLE_MS. Any channel or connection the broker closes ends the
// run with that error.

import { AmqpClientError, connect, type Channel, type Connection } from '../../client/amqp/index.js';
import type { PerfOptions } from './options.js';
import { buildResult, nowMs, progressLine, Stats, type PerfResult } from './report.js';
import { Consumer, Publisher, type Target } from './roles.js';

export interface PerfIo {
  /** Progress lines (not called with --json). */
  progress?: (line: string) => void;
  /** Ends the run early (as if its time were up), e.g. on SIGINT. */
  signal?: AbortSignal;
}

const CONTROL_TICK_MS = 10;
/** With --rate the schedule is released every millisecond, so a publisher sends rate/1000 at a time, not bursts. */
const RATE_TICK_MS = 1;
const PROGRESS_MS = 1000;
const GRACE_IDLE_MS = 1000;
const GRACE_MAX_MS = 5000;
const DRAIN_IDLE_MS = 500;
const IDLE_OPEN_CONCURRENCY = 50;

export function queueNames(o: PerfOptions): string[] {
  return Array.from({ length: o.queues }, (_, i) => `${o.queuePrefix}-${i + 1}`);
}

export function fanoutExchange(o: PerfOptions): string {
  return `${o.queuePrefix}-fanout`;
}

/** Items i, i+n, i+2n... of `all`; or, when there are fewer items than takers, the single item i mod length. */
export function share<T>(all: readonly T[], i: number, n: number): T[] {
  if (all.length <= n) return [all[i % all.length]];
  return all.filter((_, j) => j % n === i);
}

export async function runPerf(options: PerfOptions, io: PerfIo = {}): Promise<PerfResult> {
  const run = new PerfRun(options, io);
  try {
    return await run.execute();
  } finally {
    run.destroyAll();
  }
}

class PerfRun {
  private readonly connections: Connection[] = [];
  private readonly publishers: Publisher[] = [];
  private readonly consumers: Consumer[] = [];
  private readonly queues: string[];
  private failure: AmqpClientError | undefined;
  private onFailure: (() => void) | undefined;
  private stats: Stats | undefined;
  /** The tool's CPU time at the start of the measured window. */
  private cpuStart = process.cpuUsage();

  constructor(
    private readonly o: PerfOptions,
    private readonly io: PerfIo,
  ) {
    this.queues = queueNames(o);
  }

  async execute(): Promise<PerfResult> {
    const o = this.o;
    const setup = await this.open('perf-setup');
    const setupChannel = await this.channelOf(setup);
    await this.declare(setupChannel);

    // Counting starts once the topology is there; consumers and idle connections are set up before publishers start.
    const stats = (this.stats = new Stats());
    for (let i = 0; i < o.consumers; i++) {
      const conn = await this.open(`perf-consumer-${i + 1}`);
      const c = new Consumer(conn, await this.channelOf(conn), o, stats);
      this.consumers.push(c);
      await c.start(share(this.queues, i, o.consumers));
    }
    await this.openIdle();
    const targets = this.targets();
    for (let i = 0; i < o.publishers; i++) {
      const conn = await this.open(`perf-publisher-${i + 1}`);
      const ch = await this.channelOf(conn);
      if (o.confirmWindow > 0) await ch.confirmSelect();
      this.publishers.push(new Publisher(conn, ch, share(targets, i, o.publishers), o, stats));
    }
    this.checkFailure();

    stats.begin();
    this.cpuStart = process.cpuUsage();
    for (const p of this.publishers) p.start();
    await this.control(stats.startMs, setupChannel);
    for (const c of this.consumers) await c.stop().catch(() => undefined);
    const endMs = nowMs();
    const cpu = process.cpuUsage(this.cpuStart);
    this.checkFailure();
    const result = buildResult(stats, endMs, cpu, o);

    await this.cleanup(setupChannel);
    await Promise.all(this.connections.map((c) => c.close()));
    return result;
  }

  private async declare(ch: Channel): Promise<void> {
    const o = this.o;
    if (!o.declare) {
      // Existing topology: check it is there, so a typo fails at once with the broker's 404.
      for (const q of this.queues) await ch.queueDeclare(q, { passive: true });
      if (o.exchangeType === 'fanout') await ch.exchangeDeclare(fanoutExchange(o), 'fanout', { passive: true });
      return;
    }
    for (const q of this.queues) await ch.queueDeclare(q, { durable: o.persistent });
    if (o.exchangeType === 'fanout') {
      const x = fanoutExchange(o);
      await ch.exchangeDeclare(x, 'fanout', { durable: o.persistent });
      for (const q of this.queues) await ch.queueBind(q, x, '');
    }
  }

  private targets(): Target[] {
    if (this.o.exchangeType === 'fanout') return [{ exchange: fanoutExchange(this.o), routingKey: '' }];
    return this.queues.map((q) => ({ exchange: '', routingKey: q }));
  }

  private async cleanup(ch: Channel): Promise<void> {
    const o = this.o;
    if (!o.declare || !o.cleanup || !ch.isOpen) return;
    for (const q of this.queues) await ch.queueDelete(q);
    if (o.exchangeType === 'fanout') await ch.exchangeDelete(fanoutExchange(o));
  }

  /** The control loop: one timer for progress, rate schedule and end conditions. */
  private control(startMs: number, setupChannel: Channel): Promise<void> {
    const o = this.o;
    const stats = this.stats as Stats;
    const warmupEndMs = startMs + o.warmupSec * 1000;
    let warming = o.warmupSec > 0;
    let deadlineMs = o.durationSec === undefined ? Infinity : warmupEndMs + o.durationSec * 1000;
    const expectedPerMessage = o.consumers === 0 || o.cmessages > 0 ? 0 : o.exchangeType === 'fanout' ? o.queues : 1;
    let nextProgressMs = startMs + PROGRESS_MS;
    let publishersDoneMs = 0;
    let checkingDrain = false;
    let drained = false;

    return new Promise<void>((resolve) => {
      const finish = (): void => {
        clearInterval(timer);
        this.onFailure = undefined;
        for (const p of this.publishers) p.stop();
        resolve();
      };
      this.onFailure = finish;
      const tick = (): void => {
        const now = nowMs();
        const aborted = this.io.signal?.aborted === true;
        if (o.ratePerSec > 0) for (const p of this.publishers) p.allow(now - startMs);
        if (warming && now >= warmupEndMs) {
          warming = false;
          // The measured window is --duration long from here, whenever this tick came.
          if (o.durationSec !== undefined) deadlineMs = now + o.durationSec * 1000;
          stats.restart(now);
          this.cpuStart = process.cpuUsage();
          nextProgressMs = now + PROGRESS_MS;
        }
        if (this.io.progress && now >= nextProgressMs) {
          nextProgressMs += PROGRESS_MS;
          this.io.progress((warming ? 'warm-up: ' : '') + progressLine(stats.tick(now)));
        }
        const consumersCounted = o.cmessages > 0 && this.consumers.every((c) => c.finished);
        if (now >= deadlineMs || aborted || consumersCounted) for (const p of this.publishers) p.stop();
        if (!this.publishers.every((p) => p.sentAll)) return;
        if (publishersDoneMs === 0) publishersDoneMs = now;
        const confirmsIn = this.publishers.every((p) => p.finished) || now - publishersDoneMs > GRACE_MAX_MS;
        if (aborted || now >= deadlineMs + GRACE_MAX_MS) return finish();
        if (!confirmsIn) return;
        if (o.consumers === 0) return now >= deadlineMs || o.durationSec === undefined || o.pmessages > 0 ? finish() : undefined;
        if (o.cmessages > 0) return consumersCounted ? finish() : undefined;
        const lastDeliveryMs = Math.max(stats.lastConsumeMs, publishersDoneMs);
        if (o.drain) {
          if (drained) return finish();
          if (!checkingDrain && now - lastDeliveryMs >= DRAIN_IDLE_MS) {
            checkingDrain = true;
            void this.queuesEmpty(setupChannel).then((empty) => {
              checkingDrain = false;
              // Empty and still no delivery since the check started: done.
              if (empty && nowMs() - Math.max(stats.lastConsumeMs, publishersDoneMs) >= DRAIN_IDLE_MS) drained = true;
            }, (err: unknown) => this.fail(err));
          }
          return;
        }
        if (this.publishers.length === 0) return now >= deadlineMs ? finish() : undefined;
        const caughtUp = stats.consumed >= stats.published * expectedPerMessage;
        const idle = now - lastDeliveryMs >= GRACE_IDLE_MS;
        if (caughtUp || idle || now - publishersDoneMs >= GRACE_MAX_MS) finish();
      };
      const timer = setInterval(tick, o.ratePerSec > 0 ? RATE_TICK_MS : CONTROL_TICK_MS);
      if (this.failure) finish();
    });
  }

  private async queuesEmpty(ch: Channel): Promise<boolean> {
    for (const q of this.queues) if ((await ch.queueDeclare(q, { passive: true })).messageCount > 0) return false;
    return true;
  }

  private async openIdle(): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < this.o.idleConnections) {
        const i = ++next;
        await this.channelOf(await this.open(`perf-idle-${i}`));
      }
    };
    await Promise.all(Array.from({ length: Math.min(IDLE_OPEN_CONCURRENCY, this.o.idleConnections) }, worker));
  }

  private async open(name: string): Promise<Connection> {
    this.checkFailure();
    const conn = await connect(this.o.url, { connectionName: name });
    this.connections.push(conn);
    conn.on('close', (err: AmqpClientError | undefined) => {
      if (err) this.fail(err);
    });
    return conn;
  }

  private async channelOf(conn: Connection): Promise<Channel> {
    const ch = await conn.channel();
    ch.on('close', (err: AmqpClientError | undefined) => {
      if (err) this.fail(err);
    });
    return ch;
  }

  private fail(err: unknown): void {
    if (this.failure) return;
    this.failure = err instanceof AmqpClientError ? err : new AmqpClientError(err instanceof Error ? err.message : String(err));
    this.onFailure?.();
  }

  private checkFailure(): void {
    if (this.failure) throw this.failure;
  }

  /** After success or failure: nothing stays open. */
  destroyAll(): void {
    for (const c of this.connections) if (c.isOpen) c.destroy();
  }
}
