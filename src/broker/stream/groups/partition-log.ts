// The log of a cluster's group or transaction coordinator: the Log an OffsetStore (or a TxnStore)
// writes and replays, kept in one partition of a replicated internal topic (Kafka's
// __consumer_offsets, __transaction_state) instead of its own files. Each log record is one
// Kafka record, key = [record type], value = the store's payload (records.ts), so the store's
// replay and its records are the same as on a single node. sync() appends what was buffered as
// one batch stamped with the leader's epoch and resolves once the batch is committed (the high
// watermark passed it: on a majority's disk), so an OffsetCommit or a transaction's state change
// is answered only then (docs/cluster.md, "Consumer groups", "Transactions").
//
// Only what a store without snapshots needs is here: a replicated partition is not cut into
// files the store could drop, so the cluster's stores never compact (compactBytesMin is
// infinite) and the segment calls are inert.

import { buildRecordBatchSync, decodeRecords } from '../../../protocol/kafka/record-batch.js';
import type { Log, LogPosition, LogRecord, LogStats, SegmentRewriter } from '../../../store/index.js';
import { isControlBatch } from '../batch-attributes.js';
import { LAST_OFFSET_DELTA_AT } from '../batch-header.js';
import type { Partition } from '../partition.js';

/** Kafka's partitionLeaderEpoch field of a v2 batch (outside the CRC). */
const PARTITION_LEADER_EPOCH_AT = 12;
/** Bytes per read while replaying. */
const SCAN_BYTES = 1024 * 1024;

export interface PartitionLogHost {
  readonly partition: Partition;
  /** The leader epoch this coordinator loaded under: stamped on every batch. */
  readonly epoch: number;
  /** Resolves once the partition's high watermark passes `offset`; rejects if deposed or too slow. */
  committed(offset: number): Promise<void>;
}

interface Buffered {
  readonly type: number;
  readonly payload: Buffer;
}

export class PartitionLog implements Log {
  private buffered: Buffered[] = [];
  private tail: Promise<void> = Promise.resolve();
  private closed = false;
  readonly stats: LogStats = { appends: 0, bytesAppended: 0, writes: 0, fsyncs: 0 };

  constructor(private readonly host: PartitionLogHost) {}

  append(type: number, payload: Buffer | readonly Buffer[]): LogPosition {
    if (this.closed) throw new Error('the internal partition log is closed');
    if (!Number.isInteger(type) || type < 0 || type > 255) throw new RangeError(`record type ${type} is not 0..255`);
    const bytes = Buffer.isBuffer(payload) ? payload : Buffer.concat(payload);
    this.buffered.push({ type, payload: bytes });
    this.stats.appends++;
    this.stats.bytesAppended += bytes.length;
    return { segment: 0, offset: this.host.partition.logEndOffset + this.buffered.length - 1 };
  }

  /** Appends the buffered records as one batch; resolves once it is committed. Batches commit in order. */
  sync(): Promise<void> {
    const records = this.buffered;
    this.buffered = [];
    const previous = this.tail;
    if (records.length === 0) return previous;
    let written: Promise<void>;
    try {
      const batch = buildRecordBatchSync({ records: records.map((r) => ({ key: Buffer.from([r.type]), value: r.payload })), baseTimestamp: BigInt(Date.now()) });
      batch.writeInt32BE(this.host.epoch, PARTITION_LEADER_EPOCH_AT);
      const r = this.host.partition.appendOwn(batch);
      this.stats.writes++;
      const last = r.baseOffset + records.length - 1;
      written = r.durable.then(() => this.host.committed(last));
    } catch (err) {
      written = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    // Callers see their own batch's failure; the chain waits for every batch, failed or not.
    const mine = previous.then(
      () => written,
      () => written,
    );
    this.tail = mine.catch(() => undefined);
    return mine;
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  /** Replays every record of the partition up to its end on this node's disk. */
  async scan(onRecord: (r: LogRecord) => void): Promise<void> {
    const p = this.host.partition;
    let offset = p.logStartOffset;
    while (offset < p.highWatermark) {
      const read = await p.read(offset, SCAN_BYTES);
      if (read.batches.length === 0) break;
      for (const batch of read.batches) {
        const base = Number(batch.readBigInt64BE(0));
        const last = base + batch.readInt32BE(LAST_OFFSET_DELTA_AT);
        offset = Math.max(offset, last + 1);
        if (isControlBatch(batch)) continue;
        for (const rec of decodeRecords(batch)) {
          if (rec.key === null || rec.key.length !== 1 || rec.value === null) continue;
          onRecord({ type: rec.key[0], payload: rec.value, pos: { segment: 0, offset: Number(rec.offset) }, size: rec.value.length });
        }
      }
    }
  }

  read(): Promise<LogRecord> {
    return Promise.reject(new Error('the internal partition log is read by scan() only'));
  }

  readBatch(): Promise<LogRecord[]> {
    return Promise.reject(new Error('the internal partition log is read by scan() only'));
  }

  readFrom(): Promise<LogRecord[]> {
    return Promise.reject(new Error('the internal partition log is read by scan() only'));
  }

  segments(): readonly number[] {
    return [0];
  }

  activeSegment(): number {
    return 0;
  }

  /** A replicated partition has no segments of its own to drop (the store never snapshots). */
  deleteSegmentsBefore(): Promise<void> {
    return Promise.resolve();
  }

  replaceSegments(): SegmentRewriter {
    throw new Error('the internal partition log cannot replace segments');
  }

  /** The replication cuts the partition itself (a diverged follower); the stores never do. */
  truncate(): Promise<void> {
    return Promise.reject(new Error('the internal partition log cannot be cut through its store'));
  }

  sizeBytes(): number {
    return this.host.partition.sizeBytes;
  }

  /** Waits for the batches in flight; the partition stays open (the stream owns it). */
  async close(): Promise<void> {
    this.closed = true;
    await this.tail;
  }
}
