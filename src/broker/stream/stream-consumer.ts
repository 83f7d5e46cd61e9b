// A consumer of a stream partition with credit (RabbitMQ's stream queue consumer): it starts at
// an offset (first, last, next, a number, a point in time), delivers records in offset order
// while it has credit, and nothing is removed by reading. Memory is bounded: it holds one read
// of at most READ_BYTES_MAX of batches and decodes one batch at a time; the next read happens
// only when those are delivered and credit is left. At the end of the stream it waits for the
// high watermark to move (Partition.watch). Protocol-neutral: its owner (a channel's Session)
// turns deliveries into frames and returns credit on acks.
//
// It reads as Kafka's read_committed consumers do (docs/streams.md, "AMQP and Kafka: one
// stream"): only below the partition's last stable offset, so records of a Kafka transaction
// still open are not delivered until it ends; records of aborted transactions are never delivered;
// transaction markers (control batches) carry no messages and are skipped. An AMQP consumer has no
// way to drop aborted records itself, and RabbitMQ's streams have no transactions to mirror.

import { decodeRecords, readBatchHeader, type KafkaRecord } from '../../protocol/kafka/record-batch.js';
import type { MessageContent } from '../message.js';
import { StreamError } from './errors.js';
import type { AbortedTxn } from './aborted-txns.js';
import type { Partition } from './partition.js';
import { deliveryOf } from './stream-message.js';

/** Where a consumer starts (RabbitMQ's x-stream-offset). */
export type StreamStart =
  | { readonly kind: 'first' }
  | { readonly kind: 'last' }
  | { readonly kind: 'next' }
  | { readonly kind: 'offset'; readonly offset: number }
  | { readonly kind: 'timestamp'; readonly ms: number };

export interface StreamConsumerOwner {
  /** The channel can take a delivery now (open, flow on, channel-wide prefetch, socket writable). */
  canDeliver(): boolean;
  deliver(c: StreamConsumer, offset: number, content: MessageContent): void;
  /** Reading failed (not a deleted stream: that cancels consumers from above). */
  failed(c: StreamConsumer, err: unknown): void;
}

/** Bytes of batches read at a time: enough for a fast consumer, bounded for thousands of slow ones. */
const READ_BYTES_MIN = 64 * 1024;
const READ_BYTES_MAX = 1024 * 1024;
const READ_BYTES_PER_CREDIT = 4 * 1024;

export class StreamConsumer {
  private unacked = 0;
  /** Offset of the next record to deliver. */
  private next = 0;
  /** Batches read and not yet decoded, oldest first. */
  private batches: Buffer[] = [];
  private batchAt = 0;
  /** Records of the batch being delivered, and the offset after that batch. */
  private records: KafkaRecord[] = [];
  private recordAt = 0;
  private batchEnd = 0;
  /** Aborted transactions among `batches` (their records are skipped). */
  private aborted: readonly AbortedTxn[] = [];
  private started = false;
  private reading = false;
  private active = true;
  private unwatch: (() => void) | undefined;
  private readonly readBytes: number;

  constructor(
    readonly streamName: string,
    private readonly partition: Partition,
    readonly tag: string,
    /** Deliveries not yet acked that it may have (basic.qos prefetch). */
    readonly prefetch: number,
    private readonly owner: StreamConsumerOwner,
  ) {
    this.readBytes = Math.min(READ_BYTES_MAX, Math.max(READ_BYTES_MIN, prefetch * READ_BYTES_PER_CREDIT));
  }

  /** Finds where to start, then delivers as credit allows. */
  begin(start: StreamStart): void {
    this.startOffset(start).then(
      (offset) => {
        this.next = offset;
        this.started = true;
        this.pump();
      },
      (err: unknown) => this.fail(err),
    );
  }

  /** `n` of its deliveries were acked (or are gone with their channel): credit comes back. */
  settled(n: number): void {
    this.unacked -= n;
    this.pump();
  }

  stop(): void {
    this.active = false;
    this.unwatch?.();
    this.unwatch = undefined;
    this.batches = [];
    this.records = [];
    this.aborted = [];
  }

  get isActive(): boolean {
    return this.active;
  }

  /** Delivers while it has credit and the channel takes more; reads or waits when out of records. */
  pump(): void {
    if (!this.active || !this.started || this.reading) return;
    while (this.unacked < this.prefetch && this.owner.canDeliver()) {
      let rec: KafkaRecord | undefined;
      try {
        rec = this.nextRecord();
      } catch (err) {
        this.fail(err); // a batch that does not decode (the log's CRC passed, so never expected)
        return;
      }
      if (rec === undefined) {
        this.fill();
        return;
      }
      this.unacked++;
      this.owner.deliver(this, Number(rec.offset), deliveryOf(rec, this.streamName));
      if (!this.active) return;
    }
  }

  private nextRecord(): KafkaRecord | undefined {
    for (;;) {
      while (this.recordAt < this.records.length) {
        const r = this.records[this.recordAt++];
        const offset = Number(r.offset);
        if (offset < this.next) continue; // the read started inside this batch
        this.next = offset + 1;
        return r;
      }
      // Past a batch even if it gave nothing (control records): never read it again.
      if (this.batchEnd > this.next) this.next = this.batchEnd;
      if (this.batchAt >= this.batches.length) {
        this.batches = [];
        this.batchAt = 0;
        return undefined;
      }
      this.openBatch(this.batches[this.batchAt++]);
    }
  }

  private openBatch(batch: Buffer): void {
    const h = readBatchHeader(batch);
    this.batchEnd = Number(h.baseOffset) + h.lastOffsetDelta + 1;
    this.recordAt = 0;
    // Control batches (transaction markers) carry no messages; aborted transactions' batches are dropped.
    this.records = h.isControl || (h.isTransactional && this.inAborted(Number(h.producerId), Number(h.baseOffset))) ? [] : decodeRecords(batch, h);
  }

  /** Whether the producer's batch at `offset` belongs to a transaction an ABORT marker ended. */
  private inAborted(producerId: number, offset: number): boolean {
    return this.aborted.some((t) => t.producerId === producerId && t.firstOffset <= offset && offset < t.lastOffset);
  }

  /** Reads the next batches, or waits for the last stable offset to pass the next offset. */
  private fill(): void {
    const p = this.partition;
    if (this.next >= p.lastStableOffset) {
      this.waitForData();
      return;
    }
    // Retention deleted what it was about to read: carry on from the oldest record left.
    if (this.next < p.logStartOffset) this.next = p.logStartOffset;
    this.reading = true;
    const from = this.next;
    p.read(from, this.readBytes, 'committed').then(
      (r) => {
        this.reading = false;
        if (!this.active) return;
        this.aborted = r.batches.length > 0 ? p.abortedTransactions(from, endOf(r.batches[r.batches.length - 1])) : [];
        this.batches = r.batches;
        this.batchAt = 0;
        this.pump();
      },
      (err: unknown) => {
        this.reading = false;
        if (!this.active) return;
        if (err instanceof StreamError && err.kind === 'offset-out-of-range' && this.next < p.logStartOffset) {
          this.pump();
          return;
        }
        this.fail(err);
      },
    );
  }

  private waitForData(): void {
    if (this.unwatch) return;
    this.unwatch = this.partition.watch(() => {
      if (this.partition.lastStableOffset <= this.next) return;
      this.unwatch?.();
      this.unwatch = undefined;
      this.pump();
    });
  }

  private fail(err: unknown): void {
    if (!this.active) return;
    this.stop();
    this.owner.failed(this, err);
  }

  private async startOffset(start: StreamStart): Promise<number> {
    const p = this.partition;
    switch (start.kind) {
      case 'first':
        return p.logStartOffset;
      case 'next':
        return p.lastStableOffset;
      case 'last':
        return p.lastBatchOffset('committed');
      case 'offset':
        // Below the log start: the oldest record (RabbitMQ); past the end: waits for that offset.
        return Math.max(start.offset, p.logStartOffset);
      case 'timestamp':
        return this.offsetForTime(start.ms);
    }
  }

  /** The first record with a timestamp at or after `ms`; the next offset if all are older. */
  private async offsetForTime(ms: number): Promise<number> {
    const found = await this.partition.batchForTimestamp(ms);
    if (!found) return this.partition.lastStableOffset;
    const h = readBatchHeader(found.batch);
    if (!h.isControl) {
      for (const r of decodeRecords(found.batch, h)) if (Number(r.timestamp) >= ms) return Math.max(Number(r.offset), this.partition.logStartOffset);
    }
    return Math.max(found.baseOffset, this.partition.logStartOffset);
  }
}

/** The offset after a batch's last record. */
function endOf(batch: Buffer): number {
  const h = readBatchHeader(batch);
  return Number(h.baseOffset) + h.lastOffsetDelta + 1;
}
