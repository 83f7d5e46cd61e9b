// Produce: each partition's record batches are appended as the producer sent them (the broker
// checks CRCs, sizes and idempotent sequences and assigns offsets). acks=-1 answers once the
// batches are fsync'd (group commit, shared with every append of the same turn); acks=1 once
// appended; acks=0 never. A transactional batch that would open its producer's transaction on a
// partition is first checked with the transaction coordinator (Kafka's KIP-890 verification):
// the partition must be in the producer's ongoing transaction.

import { ErrorCode, type Input, type ProduceResponseTopicProduceResponse } from '../../../protocol/kafka/index.js';
import { isTransactionalBatch } from '../../../broker/stream/batch-attributes.js';
import type { Handler, KafkaContext } from '../context.js';
import { failureOf } from '../errors.js';
import { txnErrorCode } from './transactions.js';

type PartitionOut = Input<ProduceResponseTopicProduceResponse>['partitionResponses'] extends readonly (infer E)[] | undefined ? E : never;

const BATCH_HEADER_BYTES = 61;

/** The producer of a transactional batch (read from the header of the first batch), or undefined. */
function transactionalProducer(records: Buffer | null): { producerId: number; producerEpoch: number } | undefined {
  if (!records || records.length < BATCH_HEADER_BYTES || !isTransactionalBatch(records)) return undefined;
  return { producerId: Number(records.readBigInt64BE(43)), producerEpoch: records.readInt16BE(51) };
}

/** Kafka's verification of a transactional batch that opens its producer's transaction here; an error code or undefined. */
function verifyTransactional(ctx: KafkaContext, transactionalId: string, topic: string, index: number, records: Buffer, v: number): number | undefined {
  const producer = transactionalProducer(records);
  const partition = ctx.vhost.streams.get(topic)?.partition(index);
  if (!producer || !partition || partition.openTxnFirstOffset(producer.producerId) !== undefined) return undefined;
  const coordinator = ctx.vhost.transactions;
  if (!coordinator) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
  const error = coordinator.verifyPartition(transactionalId, producer.producerId, producer.producerEpoch, topic, index);
  return error === undefined ? undefined : txnErrorCode(error, { fencedAsEpoch: true, abortableAsTxnState: v <= 10 });
}

export const produce: Handler<0> = async (ctx, req, v) => {
  if (req.acks !== 0 && req.acks !== 1 && req.acks !== -1) {
    return {
      responses: req.topicData.map((t) => ({
        name: t.name,
        partitionResponses: t.partitionData.map((p) => ({ index: p.index, errorCode: ErrorCode.INVALID_REQUIRED_ACKS })),
      })),
      throttleTimeMs: 0,
    };
  }
  // Kafka: transactional records need the request's transactional id.
  if (req.transactionalId === null && req.topicData.some((t) => t.partitionData.some((p) => transactionalProducer(p.records)))) {
    return {
      responses: req.topicData.map((t) => ({
        name: t.name,
        partitionResponses: t.partitionData.map((p) => ({ index: p.index, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, baseOffset: -1n, logStartOffset: -1n })),
      })),
      throttleTimeMs: 0,
    };
  }
  const waits: Promise<void>[] = [];
  const responses = req.topicData.map((t) => {
    const stream = ctx.vhost.streams.get(t.name);
    const partitionResponses = t.partitionData.map((p): PartitionOut => {
      const partition = stream?.partition(p.index);
      if (!partition) return { index: p.index, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, baseOffset: -1n, logStartOffset: -1n };
      if (!p.records || p.records.length === 0) {
        return { index: p.index, errorCode: ErrorCode.CORRUPT_MESSAGE, baseOffset: -1n, logStartOffset: -1n, errorMessage: 'no records' };
      }
      const unverified = req.transactionalId === null ? undefined : verifyTransactional(ctx, req.transactionalId, t.name, p.index, p.records, v);
      if (unverified !== undefined) return { index: p.index, errorCode: unverified, baseOffset: -1n, logStartOffset: -1n };
      try {
        const r = partition.append(p.records);
        const out: PartitionOut = {
          index: p.index,
          errorCode: ErrorCode.NONE,
          baseOffset: BigInt(r.baseOffset),
          logAppendTimeMs: -1n,
          logStartOffset: BigInt(r.logStartOffset),
        };
        if (req.acks === -1) {
          waits.push(
            r.durable.catch((err: unknown) => {
              const f = failureOf(err);
              Object.assign(out, { errorCode: f.code, errorMessage: f.message, baseOffset: -1n });
            }),
          );
        }
        return out;
      } catch (err) {
        const f = failureOf(err);
        return { index: p.index, errorCode: f.code, errorMessage: f.message, baseOffset: -1n, logStartOffset: -1n };
      }
    });
    return { name: t.name, partitionResponses };
  });
  if (req.acks === 0) return undefined;
  if (waits.length > 0) await Promise.all(waits);
  return { responses, throttleTimeMs: 0 };
};
