// The two roles of `wharf perf-kafka`. A producer sends one batch per partition per Produce
// request to each partition leader, with up to --max-in-flight requests outstanding per
// connection. Flat out, a batch is made full just before it is sent; at a fixed rate, records
// are made on the run's control tick (what the schedule allows since the start) into one
// partition's batch at a time (Kafka's sticky partitioning) and a batch goes out when full or
// --linger old. A consumer fetches its partitions from their leaders, one Fetch in flight per
// leader (as Kafka's consumer), counting records from batch headers and reading each record's
// creation time for the end-to-end latency.

import { EARLIEST_OFFSET, KafkaClient, LATEST_OFFSET, brokerError, type KafkaConnection } from '../../client/kafka/index.js';
import { ErrorCode } from '../../protocol/kafka/index.js';
import type { KafkaPerfOptions } from './kafka-options.js';
import { BatchTemplate, CODECS, compressBatch, creationTimes, forEachBatch } from './kafka-records.js';
import type { KafkaStats } from './kafka-report.js';
import { nowMs } from './report.js';

export type OnError = (err: unknown) => void;

/** Records a producer may have made and not yet sent (fixed rate, broker behind): Kafka's buffer.memory, in records. */
const BACKLOG_RECORDS_MAX = 1_000_000;

interface OpenBatch {
  readonly partition: number;
  buf: Buffer;
  n: number;
  /** Creation times and counts, flattened: [ms, count, ms, count...]. */
  readonly groups: number[];
  firstMs: number;
}

interface PartitionState {
  readonly partition: number;
  readonly sender: Sender;
  open: OpenBatch | undefined;
  readonly full: OpenBatch[];
}

interface Sender {
  readonly conn: KafkaConnection;
  readonly parts: PartitionState[];
  /** Requests sent (or being compressed) and not answered. */
  inFlight: number;
}

export class KafkaProducer {
  private readonly template: BatchTemplate;
  private readonly codec: number;
  private readonly limit: number;
  private parts: PartitionState[] = [];
  private senders: Sender[] = [];
  /** Records made (fixed rate: into batches not yet sent) and records sent. */
  private made = 0;
  private sent = 0;
  private backlog = 0;
  private sticky = 0;
  private allowed = 0;
  private stopped = false;
  private scheduled = false;
  private waitingForDrain = false;

  constructor(
    private readonly client: KafkaClient,
    private readonly partitions: readonly number[],
    private readonly o: KafkaPerfOptions,
    private readonly stats: KafkaStats,
    private readonly onError: OnError,
  ) {
    this.template = new BatchTemplate(o.batchRecords, o.sizeBytes);
    this.codec = CODECS[o.compression];
    this.limit = o.records > 0 ? o.records : Infinity;
  }

  /** Connects to the leaders of its partitions. */
  async prepare(): Promise<void> {
    const byConn = new Map<KafkaConnection, Sender>();
    for (const partition of this.partitions) {
      const conn = await this.client.leader(this.o.topic, partition);
      let sender = byConn.get(conn);
      if (!sender) {
        sender = { conn, parts: [], inFlight: 0 };
        byConn.set(conn, sender);
        conn.on('drain', () => {
          this.waitingForDrain = false;
          this.schedule();
        });
      }
      const state: PartitionState = { partition, sender, open: undefined, full: [] };
      sender.parts.push(state);
      this.parts.push(state);
    }
    this.senders = [...byConn.values()];
  }

  get sentAll(): boolean {
    return this.stopped || this.sent >= this.limit;
  }

  /** Everything it will send is sent and answered. */
  get finished(): boolean {
    return this.sentAll && this.senders.every((s) => s.inFlight === 0);
  }

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
  }

  /** Fixed rate: called at each control tick with the time since the start. */
  allow(elapsedMs: number): void {
    this.allowed = Math.floor((this.o.ratePerSec * elapsedMs) / 1000);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.waitingForDrain || this.sentAll) return;
    this.scheduled = true;
    setImmediate(this.pump);
  }

  private readonly pump = (): void => {
    this.scheduled = false;
    if (this.sentAll) return;
    const now = nowMs();
    if (this.o.ratePerSec > 0) this.make(now);
    for (const s of this.senders) {
      while (!this.sentAll && (this.o.acks === 0 || s.inFlight < this.o.maxInFlight)) {
        if (!s.conn.writable()) {
          this.waitingForDrain = true;
          return;
        }
        const batches = this.o.ratePerSec > 0 ? this.takeReady(s, now) : this.makeFull(s, now);
        if (batches.length === 0) break;
        this.send(s, batches);
      }
    }
    // Flat out with acks=0 nothing comes back to wake the loop: go round again.
    if (this.o.acks === 0 && this.o.ratePerSec === 0) this.schedule();
  };

  /** Fixed rate: makes the records the schedule allows, one partition's batch at a time. */
  private make(now: number): void {
    const cap = this.o.batchRecords;
    while (this.made < this.allowed && this.made < this.limit && this.backlog < BACKLOG_RECORDS_MAX) {
      const p = this.parts[this.sticky];
      const b = (p.open ??= { partition: p.partition, buf: this.template.acquire(), n: 0, groups: [], firstMs: now });
      const take = Math.min(cap - b.n, this.allowed - this.made, this.limit - this.made);
      for (let i = 0; i < take; i++) this.template.stamp(b.buf, b.n + i, now);
      b.n += take;
      addGroup(b.groups, now, take);
      this.made += take;
      this.backlog += take;
      if (b.n === cap) {
        p.full.push(b);
        p.open = undefined;
        this.sticky = (this.sticky + 1) % this.parts.length;
      }
    }
  }

  /** Fixed rate: a full batch per partition, or its open one once --linger old. */
  private takeReady(s: Sender, now: number): OpenBatch[] {
    const out: OpenBatch[] = [];
    for (const p of s.parts) {
      const b = p.full.shift() ?? (p.open && now - p.open.firstMs >= this.o.lingerMs ? p.open : undefined);
      if (!b) continue;
      if (b === p.open) p.open = undefined;
      out.push(b);
    }
    return out;
  }

  /** Flat out: a batch per partition, made full now (the last ones may be short of --records). */
  private makeFull(s: Sender, now: number): OpenBatch[] {
    const out: OpenBatch[] = [];
    for (const p of s.parts) {
      const n = Math.min(this.o.batchRecords, this.limit - this.made);
      if (n <= 0) break;
      const buf = this.template.acquire();
      for (let i = 0; i < n; i++) this.template.stamp(buf, i, now);
      this.made += n;
      this.backlog += n;
      out.push({ buf, n, groups: [now, n], firstMs: now, partition: p.partition });
    }
    return out;
  }

  private send(s: Sender, batches: OpenBatch[]): void {
    s.inFlight++;
    const sealed = batches.map((b) => this.template.seal(b.buf, b.n, b.firstMs));
    let count = 0;
    for (const b of batches) count += b.n;
    this.sent += count;
    this.backlog -= count;
    if (this.codec === 0) {
      this.produce(s, batches, sealed);
      return;
    }
    Promise.all(sealed.map((x) => compressBatch(x, this.codec))).then((compressed) => {
      // The uncompressed buffers are done with once compressed; pool them again.
      for (const b of batches) this.template.release(b.buf);
      this.produce(s, batches, compressed, false);
    }, this.onError);
  }

  private produce(s: Sender, batches: OpenBatch[], records: Buffer[], releaseAfter = true): void {
    const stats = this.stats;
    const now = nowMs();
    let count = 0;
    for (let i = 0; i < batches.length; i++) {
      count += batches[i].n;
      stats.producedBytes += records[i].length;
    }
    stats.produced += count;
    stats.produceRequests++;
    stats.lastProduceMs = now;
    let answer;
    try {
      answer = KafkaClient.produce(s.conn, {
        topic: this.o.topic,
        acks: this.o.acks,
        partitions: batches.map((b, i) => ({ partition: b.partition, records: records[i] })),
      });
    } catch (err) {
      this.onError(err);
      return;
    }
    if (answer === undefined) {
      // acks=0: no answer comes; the buffers stay with the socket (never pooled again).
      s.inFlight--;
      return;
    }
    answer.then((results) => {
      s.inFlight--;
      const acked = nowMs();
      for (const r of results) {
        if (r.errorCode !== ErrorCode.NONE) return this.onError(brokerError(`produce to ${this.o.topic}-${r.partition}`, r.errorCode, r.errorMessage));
      }
      for (const b of batches) {
        for (let g = 0; g < b.groups.length; g += 2) stats.produceLatency.record(acked - b.groups[g], b.groups[g + 1]);
        if (releaseAfter) this.template.release(b.buf);
      }
      stats.acked += count;
      stats.lastAckMs = acked;
      this.schedule();
    }, this.onError);
  }
}

function addGroup(groups: number[], ms: number, count: number): void {
  const n = groups.length;
  if (n > 0 && groups[n - 2] === ms) groups[n - 1] += count;
  else groups.push(ms, count);
}

interface FetchPosition {
  readonly partition: number;
  offset: number;
  /** --drain: the end offset when the consumer started. */
  end: number;
}

export class KafkaConsumer {
  private positions: FetchPosition[] = [];
  private readonly loops: Promise<void>[] = [];
  private stopped = false;

  constructor(
    private readonly client: KafkaClient,
    private readonly partitions: readonly number[],
    private readonly o: KafkaPerfOptions,
    private readonly stats: KafkaStats,
    private readonly onError: OnError,
  ) {}

  /** Finds where to start (and, with --drain, where to stop) in each partition. */
  async prepare(): Promise<void> {
    const topic = this.o.topic;
    const starts = await this.client.listOffsets(topic, this.partitions, this.o.fromBeginning ? EARLIEST_OFFSET : LATEST_OFFSET);
    const ends = this.o.drain ? await this.client.listOffsets(topic, this.partitions, LATEST_OFFSET) : undefined;
    this.positions = this.partitions.map((partition) => ({ partition, offset: starts.get(partition) ?? 0, end: ends?.get(partition) ?? Infinity }));
  }

  /** --drain: every partition is read up to where it ended at the start. */
  get finished(): boolean {
    return this.positions.every((p) => p.offset >= p.end);
  }

  async start(): Promise<void> {
    const byConn = new Map<KafkaConnection, FetchPosition[]>();
    for (const p of this.positions) {
      const conn = await this.client.leader(this.o.topic, p.partition);
      byConn.set(conn, [...(byConn.get(conn) ?? []), p]);
    }
    for (const [conn, positions] of byConn) this.loops.push(this.loop(conn, positions).catch(this.onError));
  }

  stop(): void {
    this.stopped = true;
  }

  private async loop(conn: KafkaConnection, positions: FetchPosition[]): Promise<void> {
    const o = this.o;
    while (!this.stopped && conn.isOpen) {
      const wanted = positions.filter((p) => p.offset < p.end);
      if (wanted.length === 0) return;
      const fetched = await KafkaClient.fetch(conn, {
        topic: o.topic,
        partitions: wanted.map((p) => ({ partition: p.partition, offset: p.offset, maxBytes: o.partitionMaxBytes })),
        maxWaitMs: o.fetchMaxWaitMs,
        minBytes: 1,
        maxBytes: o.fetchMaxBytes,
      });
      if (this.stopped) return;
      this.stats.fetchRequests++;
      const now = nowMs();
      for (const f of fetched) {
        const pos = wanted.find((p) => p.partition === f.partition);
        if (!pos) continue;
        if (f.errorCode !== ErrorCode.NONE) throw brokerError(`fetch ${o.topic}-${f.partition} at offset ${pos.offset}`, f.errorCode);
        if (f.records !== null && f.records.length > 0) this.take(pos, f.records, now);
      }
    }
  }

  /** Counts the records of a fetched partition from `pos.offset` on and records their latency. */
  private take(pos: FetchPosition, records: Buffer, now: number): void {
    const stats = this.stats;
    const e2e = stats.endToEndLatency;
    let count = 0;
    let bytes = 0;
    const next = forEachBatch(records, (b) => {
      if (b.nextOffset <= pos.offset) return;
      const skip = Math.max(0, pos.offset - b.baseOffset);
      count += b.recordsCount - skip;
      bytes += b.end - b.start;
      creationTimes(records, b, skip, (createdMs, n) => e2e.record(now - createdMs, n));
    });
    if (next > pos.offset) pos.offset = next;
    if (count === 0) return;
    stats.consumed += count;
    stats.consumedBytes += bytes;
    stats.lastConsumeMs = now;
  }
}
