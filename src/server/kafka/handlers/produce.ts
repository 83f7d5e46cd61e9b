// Produce: each partition's record batch is appended as the producer sent it (the broker checks
// it as Kafka does, see batch-header.ts clientBatch, and assigns offsets). acks=-1 answers once
// the batch is fsync'd (group commit, shared with every append of the same turn); acks=1 once
// appended; acks=0 never, but a failed acks=0 produce closes the connection, as Kafka does, since
// that is the only way such a producer learns of the error. A transactional batch that would open
// its producer's transaction on a partition is first checked with the transaction coordinator
// (Kafka's KIP-890 verification): the partition must be in the producer's ongoing transaction.

import { isTransactionalBatch } from '../../../broker/stream/batch-attributes.js';
import { LAST_OFFSET_DELTA_AT } from '../../../broker/stream/batch-header.js';
import { StreamError } from '../../../broker/stream/errors.js';
import {
  Compression,
  ErrorCode,
  decodeRecords,
  type Input,
  type ProduceResponseTopicProduceResponse,
} from '../../../protocol/kafka/index.js';
import { CloseConnection, type Handler, type KafkaContext } from '../context.js';
import { failureOf } from '../errors.js';
import { txnErrorCode } from './transactions.js';

type PartitionOut = Input<ProduceResponseTopicProduceResponse>['partitionResponses'] extends readonly (infer E)[] | undefined ? E : never;

/** Kafka's ProduceRequest.validateRecords: zstd needs Produce v7+. */
const ZSTD_MIN_VERSION = 7;
const COMPRESSION_AT = 22;
const BATCH_HEADER_BYTES = 61;
const MAGIC_AT = 16;
/** Kafka's partitionLeaderEpoch field of a v2 batch. */
const PARTITION_LEADER_EPOCH_AT = 12;

/** The records of a compressed batch must decompress and parse (Kafka's LogValidator reads them all). */
function checkCompressed(batch: Buffer): void {
  try {
    decodeRecords(batch);
  } catch (err) {
    throw new StreamError('corrupt', `compressed record batch does not decode: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function refused(index: number, errorCode: number, errorMessage: string | null = null): PartitionOut {
  return { index, errorCode, errorMessage, baseOffset: -1n, logStartOffset: -1n };
}

/** Whether a partition's records look like a transactional v2 batch (the request-level check of a transactional id). */
function hasTransactionalRecords(records: Buffer | null): boolean {
  return records !== null && records.length >= BATCH_HEADER_BYTES && records[MAGIC_AT] === 2 && isTransactionalBatch(records);
}

/** The coordinator refused a transactional batch (KIP-890 verification), with its Kafka error code. */
class Unverified extends Error {
  constructor(readonly code: number) {
    super(`transactional batch not verified (error ${code})`);
  }
}

/**
 * Kafka's verification, called by the partition (after its batch checks) for a transactional
 * batch that would open its producer's transaction there: throws Unverified if the coordinator
 * does not have the partition in that producer's ongoing transaction.
 */
function verifier(ctx: KafkaContext, transactionalId: string, topic: string, index: number, v: number): ((producerId: number, producerEpoch: number) => void) | undefined {
  const cluster = ctx.broker.clusterTransactions(ctx.vhost);
  // In a cluster the leader checks nothing when the id's coordinator is another node (Kafka with
  // transaction.partition.verification.enable=false, as before 3.6): the producer added the
  // partition there first. When this node coordinates the id, it verifies as a single node does.
  const local = cluster?.lookup(transactionalId);
  if (local !== undefined && !('coordinator' in local)) return undefined;
  return (producerId, producerEpoch) => {
    const coordinator = local !== undefined && 'coordinator' in local ? local.coordinator : ctx.vhost.transactions;
    if (!coordinator) throw new Unverified(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    const error = coordinator.verifyPartition(transactionalId, producerId, producerEpoch, topic, index);
    if (error !== undefined) throw new Unverified(txnErrorCode(error, { fencedAsEpoch: true, abortableAsTxnState: v <= 10 }));
  };
}

export const produce: Handler<0> = async (ctx, req, v) => {
  const validAcks = req.acks === 0 || req.acks === 1 || req.acks === -1;
  // Kafka (KafkaApis.handleProduceRequest): transactional records need the request's
  // transactional id, checked for the whole request before anything else.
  const txnUnauthorized = req.transactionalId === null && req.topicData.some((t) => t.partitionData.some((p) => hasTransactionalRecords(p.records)));
  const waits: Promise<void>[] = [];
  let failed = false;
  // In a cluster (docs/cluster.md); undefined on a single node, where nothing below changes.
  const replication = ctx.broker.replication;
  const responses = req.topicData.map((t) => {
    const stream = ctx.vhost.streams.get(t.name);
    const partitionResponses = t.partitionData.map((p): PartitionOut => {
      const out = answer(p.index, p.records);
      if (out.errorCode !== ErrorCode.NONE) failed = true;
      return out;
    });
    return { name: t.name, partitionResponses };

    function answer(index: number, records: Buffer | null): PartitionOut {
      if (txnUnauthorized) return refused(index, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
      const partition = stream?.partition(index);
      if (!partition) return refused(index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      // ReplicaManager.appendRecords refuses bad acks before appending anything.
      if (!validAcks) return refused(index, ErrorCode.INVALID_REQUIRED_ACKS);
      if (!records || records.length === 0) return refused(index, ErrorCode.INVALID_RECORD, 'a produce request must have one record batch per partition');
      if (v < ZSTD_MIN_VERSION && records.length > COMPRESSION_AT + 1 && (records[COMPRESSION_AT] & 0x07) === Compression.ZSTD) {
        return refused(index, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `Produce v${v} may not carry zstd-compressed batches`);
      }
      try {
        const role = replication?.role(ctx.vhost.name, t.name, index);
        // In a cluster every topic is replicated: a partition whose replica this node does not know
        // (not yet, or not while its view of etcd is rebuilt after an outage) is refused, never
        // written unreplicated and unfenced (the Jepsen-style soak's etcd kill -9 found such writes
        // acknowledged, and replicas diverging at their offsets).
        if (replication !== undefined && role === undefined) return refused(index, ErrorCode.NOT_LEADER_OR_FOLLOWER);
        if (role !== undefined && !role.leader) return refused(index, ErrorCode.NOT_LEADER_OR_FOLLOWER);
        // Kafka checks the ISR against min.insync.replicas before appending (Partition.appendRecordsToLeader).
        if (role !== undefined && req.acks === -1) replication?.checkInSync(ctx.vhost.name, t.name, index);
        // A replicated partition's leader stamps its epoch on the batch, as Kafka's does (outside the CRC).
        if (role !== undefined && records.length >= PARTITION_LEADER_EPOCH_AT + 4) records.writeInt32BE(role.epoch, PARTITION_LEADER_EPOCH_AT);
        const verify = req.transactionalId === null ? undefined : verifier(ctx, req.transactionalId, t.name, index, v);
        const r = partition.append(records, Date.now(), checkCompressed, verify);
        const out: PartitionOut = { index, errorCode: ErrorCode.NONE, baseOffset: BigInt(r.baseOffset), logAppendTimeMs: -1n, logStartOffset: BigInt(r.logStartOffset) };
        if (role !== undefined && replication !== undefined && req.acks !== 0) {
          // acks=1: on the leader's disk; acks=all: below the high watermark (on every in-sync replica's disk).
          const last = r.baseOffset + records.readInt32BE(LAST_OFFSET_DELTA_AT);
          const settled = req.acks === -1 ? r.durable.then(() => replication.committed(ctx.vhost.name, t.name, index, last, req.timeoutMs)) : r.durable;
          waits.push(
            settled.catch((err: unknown) => {
              const f = failureOf(err);
              Object.assign(out, { errorCode: f.code, errorMessage: f.message, baseOffset: -1n });
            }),
          );
        } else if (req.acks === -1) {
          waits.push(
            r.durable.catch((err: unknown) => {
              const f = failureOf(err);
              Object.assign(out, { errorCode: f.code, errorMessage: f.message, baseOffset: -1n });
            }),
          );
        }
        return out;
      } catch (err) {
        if (err instanceof Unverified) return refused(index, err.code);
        const f = failureOf(err);
        return refused(index, f.code, f.message);
      }
    }
  });
  if (req.acks === 0) {
    if (failed) throw new CloseConnection('a produce with acks=0 failed');
    return undefined;
  }
  if (waits.length > 0) await Promise.all(waits);
  return { responses, throttleTimeMs: 0 };
};
