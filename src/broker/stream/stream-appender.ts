// Appends AMQP publishes to a stream partition as record batches built by the broker. Publishes
// made in one turn of the microtask queue (all those of one socket read, across channels) go into
// one uncompressed batch: one log append, one CRC, one index entry, instead of one per message.
// Every publish of a batch shares one promise, resolved once the batch is durable (the
// partition's high watermark passed it), which is what a publisher confirm waits for.

import { buildRecordBatchSync, type RecordSpec } from '../../protocol/kafka/record-batch.js';
import type { Partition } from './partition.js';

/** Where a batch holds its partitionLeaderEpoch (outside the CRC, as Kafka's leader stamps it). */
const PARTITION_LEADER_EPOCH_AT = 12;
/** A batch is closed at about this size; later publishes of the same turn start another one. */
const BATCH_BYTES_MAX = 1024 * 1024;

interface Group {
  readonly records: RecordSpec[];
  /** Told each record's offset once the batch is in the log: [index in records, callback]. */
  placed: [number, (offset: number) => void][] | undefined;
  bytes: number;
  readonly durable: Promise<void>;
  readonly settle: (p: Promise<void>) => void;
}

export class StreamAppender {
  private group: Group | undefined;

  constructor(
    private readonly partition: Partition,
    /** Once a batch is durable here, what else it waits for (a replicated stream's high watermark); its last offset. */
    private readonly commit: (lastOffset: number) => Promise<void> | undefined = () => undefined,
    /**
     * A replicated partition's leader epoch, stamped on each batch as the Kafka adapter's leader
     * does: a follower's truncation matches its log against the leader's epochs by it. It throws
     * to refuse the batch (no known leadership): its records' promises reject.
     */
    private readonly epoch: () => number | undefined = () => undefined,
  ) {}

  /**
   * Queues a record; resolves once it is durable, rejects if it could not be written.
   * `placed` learns the record's offset when its batch is appended (before it is durable).
   */
  append(rec: RecordSpec, bytes: number, placed?: (offset: number) => void): Promise<void> {
    let g = this.group;
    if (g && g.bytes + bytes > BATCH_BYTES_MAX && g.records.length > 0) {
      this.flush();
      g = undefined;
    }
    if (!g) {
      g = this.open();
      queueMicrotask(() => this.flush());
    }
    if (placed !== undefined) (g.placed ??= []).push([g.records.length, placed]);
    g.records.push(rec);
    g.bytes += bytes;
    return g.durable;
  }

  private open(): Group {
    let settle: (p: Promise<void>) => void = () => {};
    const durable = new Promise<void>((resolve) => {
      settle = resolve;
    });
    // Publishers outside confirm mode never look at it: a failure must not become an unhandled rejection.
    durable.catch(() => {});
    const g: Group = { records: [], placed: undefined, bytes: 0, durable, settle };
    this.group = g;
    return g;
  }

  /** Writes the open batch, if any. */
  flush(): void {
    const g = this.group;
    if (!g) return;
    this.group = undefined;
    try {
      const batch = buildRecordBatchSync({ records: g.records, baseTimestamp: BigInt(Date.now()) });
      const epoch = this.epoch();
      if (epoch !== undefined) batch.writeInt32BE(epoch, PARTITION_LEADER_EPOCH_AT);
      const { baseOffset, durable } = this.partition.appendOwn(batch);
      const last = baseOffset + g.records.length - 1;
      if (g.placed !== undefined) for (const [i, placed] of g.placed) placed(baseOffset + i);
      g.settle(durable.then(() => this.commit(last)));
    } catch (err) {
      g.settle(Promise.reject(err));
    }
  }
}
