// ListOffsets (earliest, latest, max timestamp, by timestamp), OffsetForLeaderEpoch (one epoch,
// 0, for the log's whole life on this node) and DeleteRecords. By timestamp is record-precise as
// in Kafka's LogSegment.findOffsetByTimestamp: the partition finds the first batch whose max
// timestamp is late enough, and the records inside it (decompressed if need be) give the first
// record at or after the target; max timestamp is the first record carrying the partition's
// newest timestamp (RecordBatch.offsetOfMaxTimestamp). Under read_committed (isolation level 1)
// ListOffsets stops at the last stable offset, as Kafka does: latest is the LSO, and an offset
// found by timestamp at or past it is not found.

import { LAST_OFFSET_DELTA_AT } from '../../../broker/stream/batch-header.js';
import type { Partition } from '../../../broker/stream/partition.js';
import { ReplicationError } from '../../../broker/stream/replication.js';
import { ErrorCode, decodeRecords } from '../../../protocol/kafka/index.js';
import type { Handler, KafkaContext } from '../context.js';
import { failureOf } from '../errors.js';

/** ListOffsets' special timestamps (Kafka's ListOffsetsRequest). */
const LATEST = -1n;
const EARLIEST = -2n;
const MAX_TIMESTAMP = -3n;
const EARLIEST_LOCAL = -4n;
const LATEST_TIERED = -5n;
const READ_COMMITTED = 1;

/** `replica`: a follower asks, which also reads the logs of quorum queues no client can name (as Fetch). */
function partitionOf(ctx: KafkaContext, topic: string, index: number, replica = false): Partition | undefined {
  return (replica ? ctx.vhost.streams.getAny(topic) : ctx.vhost.streams.get(topic))?.partition(index);
}

/** The offset and timestamp ListOffsets answers for one partition. */
async function lookUp(p: Partition, timestamp: bigint): Promise<{ offset: number; timestamp: number }> {
  if (timestamp === LATEST || timestamp === LATEST_TIERED) return { offset: p.highWatermark, timestamp: -1 };
  if (timestamp === EARLIEST || timestamp === EARLIEST_LOCAL) return { offset: p.logStartOffset, timestamp: -1 };
  if (timestamp === MAX_TIMESTAMP) {
    const max = p.maxTimestamp;
    // The first record at or after the newest timestamp is the first record carrying it.
    return (max >= 0 ? await firstRecordAt(p, max) : undefined) ?? { offset: -1, timestamp: -1 };
  }
  return (await firstRecordAt(p, Number(timestamp))) ?? { offset: -1, timestamp: -1 };
}

/** The first record (from the log start, below the high watermark) with a timestamp >= `target`. */
async function firstRecordAt(p: Partition, target: number): Promise<{ offset: number; timestamp: number } | undefined> {
  let from = p.logStartOffset;
  for (;;) {
    const found = await p.batchForTimestamp(target, from);
    if (!found) return undefined;
    const records = decodeRecords(found.batch);
    for (const r of records) {
      const offset = Number(r.offset);
      if (offset >= from && Number(r.timestamp) >= target) return { offset, timestamp: Number(r.timestamp) };
    }
    // The batch header promised a late enough record that its records do not hold: go on after it.
    from = found.baseOffset + found.batch.readInt32BE(LAST_OFFSET_DELTA_AT) + 1;
  }
}

/** lookUp, bounded by the last stable offset for read_committed readers. */
async function lookUpIsolated(p: Partition, timestamp: bigint, readCommitted: boolean): Promise<{ offset: number; timestamp: number }> {
  if (!readCommitted) return lookUp(p, timestamp);
  const stable = p.lastStableOffset;
  if (timestamp === LATEST || timestamp === LATEST_TIERED) return { offset: stable, timestamp: -1 };
  const r = await lookUp(p, timestamp);
  return r.offset >= stable && timestamp !== EARLIEST && timestamp !== EARLIEST_LOCAL ? { offset: -1, timestamp: -1 } : r;
}

export const listOffsets: Handler<2> = async (ctx, req, v) => {
  // leader_epoch is a v4+ field.
  const epoch = (e: number): { leaderEpoch?: number } => (v >= 4 ? { leaderEpoch: e } : {});
  const topics = [];
  for (const t of req.topics) {
    const partitions = [];
    for (const q of t.partitions) {
      const p = partitionOf(ctx, t.name, q.partitionIndex, req.replicaId >= 0);
      if (!p) {
        partitions.push({ partitionIndex: q.partitionIndex, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, timestamp: -1n, offset: -1n, ...epoch(-1) });
        continue;
      }
      try {
        const role = ctx.broker.replication?.role(ctx.vhost.name, t.name, q.partitionIndex);
        let r = await lookUpIsolated(p, q.timestamp, v >= 2 && req.isolationLevel === READ_COMMITTED);
        if (role !== undefined) {
          // In a cluster: the leader answers, at the epoch asked (v4+), as Kafka's fetchOffsetForTimestamp.
          if (!role.leader) throw new ReplicationError('not-leader', `this node does not lead ${t.name}-${q.partitionIndex}`);
          if (v >= 4 && q.currentLeaderEpoch >= 0 && q.currentLeaderEpoch < role.epoch) throw new ReplicationError('fenced-epoch', `leader epoch ${q.currentLeaderEpoch} is older than ${role.epoch}`);
          if (v >= 4 && q.currentLeaderEpoch > role.epoch) throw new ReplicationError('unknown-epoch', `leader epoch ${q.currentLeaderEpoch} is newer than ${role.epoch}`);
        }
        if (role !== undefined && req.replicaId < 0) {
          // A consumer only below the high watermark; a follower (replica id >= 0) from the whole log.
          const hw = ctx.broker.replication?.highWatermark(ctx.vhost.name, t.name, q.partitionIndex) ?? 0;
          if (q.timestamp === LATEST || q.timestamp === LATEST_TIERED) r = { offset: Math.min(r.offset, hw), timestamp: -1 };
          else if (r.offset >= hw && q.timestamp !== EARLIEST && q.timestamp !== EARLIEST_LOCAL) r = { offset: -1, timestamp: -1 };
        }
        partitions.push({ partitionIndex: q.partitionIndex, errorCode: ErrorCode.NONE, timestamp: BigInt(r.timestamp), offset: BigInt(r.offset), ...epoch(role?.epoch ?? 0) });
      } catch (err) {
        partitions.push({ partitionIndex: q.partitionIndex, errorCode: failureOf(err).code, timestamp: -1n, offset: -1n, ...epoch(-1) });
      }
    }
    topics.push({ name: t.name, partitions });
  }
  return { throttleTimeMs: 0, topics };
};

/** On a single node every record was written in leader epoch 0: that epoch ends at the log end. */
export const offsetForLeaderEpoch: Handler<23> = (ctx, req, v) => {
  // leader_epoch is a v1+ response field.
  const answer = (partition: number, errorCode: number, leaderEpoch: number, endOffset: number) => ({
    partition,
    errorCode,
    ...(v >= 1 ? { leaderEpoch } : {}),
    endOffset: BigInt(endOffset),
  });
  return {
    throttleTimeMs: 0,
    topics: req.topics.map((t) => ({
      topic: t.topic,
      partitions: t.partitions.map((q) => {
        const p = partitionOf(ctx, t.topic, q.partition);
        if (!p) return answer(q.partition, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1, -1);
        const r = ctx.broker.replication;
        const role = r?.role(ctx.vhost.name, t.topic, q.partition);
        if (r !== undefined && role !== undefined) {
          // A replicated partition: its leader answers from the epochs its leaders recorded (docs/cluster.md).
          if (!role.leader) return answer(q.partition, ErrorCode.NOT_LEADER_OR_FOLLOWER, -1, -1);
          if (q.currentLeaderEpoch >= 0 && q.currentLeaderEpoch < role.epoch) return answer(q.partition, ErrorCode.FENCED_LEADER_EPOCH, -1, -1);
          if (q.currentLeaderEpoch > role.epoch) return answer(q.partition, ErrorCode.UNKNOWN_LEADER_EPOCH, -1, -1);
          const end = r.epochEnd(ctx.vhost.name, t.topic, q.partition, q.leaderEpoch);
          return answer(q.partition, ErrorCode.NONE, end.epoch, end.endOffset);
        }
        if (q.currentLeaderEpoch > 0) return answer(q.partition, ErrorCode.UNKNOWN_LEADER_EPOCH, -1, -1);
        if (q.leaderEpoch > 0) return answer(q.partition, ErrorCode.NONE, -1, -1);
        return answer(q.partition, ErrorCode.NONE, 0, p.logEndOffset);
      }),
    })),
  };
};

export const deleteRecords: Handler<21> = async (ctx, req) => {
  const topics = [];
  for (const t of req.topics) {
    const partitions = [];
    for (const q of t.partitions) {
      const p = partitionOf(ctx, t.name, q.partitionIndex);
      if (!p) {
        partitions.push({ partitionIndex: q.partitionIndex, lowWatermark: -1n, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
        continue;
      }
      try {
        // -1 means "up to the high watermark".
        const upTo = q.offset === -1n ? p.highWatermark : Number(q.offset);
        const low = await p.deleteRecordsBefore(upTo);
        partitions.push({ partitionIndex: q.partitionIndex, lowWatermark: BigInt(low), errorCode: ErrorCode.NONE });
      } catch (err) {
        partitions.push({ partitionIndex: q.partitionIndex, lowWatermark: -1n, errorCode: failureOf(err).code });
      }
    }
    topics.push({ name: t.name, partitions });
  }
  return { throttleTimeMs: 0, topics };
};
