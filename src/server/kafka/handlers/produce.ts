// Produce: each partition's record batches are appended as the producer sent them (the broker
// checks CRCs, sizes and idempotent sequences and assigns offsets). acks=-1 answers once the
// batches are fsync'd (group commit, shared with every append of the same turn); acks=1 once
// appended; acks=0 never.

import { ErrorCode, type Input, type ProduceResponseTopicProduceResponse } from '../../../protocol/kafka/index.js';
import type { Handler } from '../context.js';
import { failureOf } from '../errors.js';

type PartitionOut = Input<ProduceResponseTopicProduceResponse>['partitionResponses'] extends readonly (infer E)[] | undefined ? E : never;

export const produce: Handler<0> = async (ctx, req) => {
  if (req.acks !== 0 && req.acks !== 1 && req.acks !== -1) {
    return {
      responses: req.topicData.map((t) => ({
        name: t.name,
        partitionResponses: t.partitionData.map((p) => ({ index: p.index, errorCode: ErrorCode.INVALID_REQUIRED_ACKS })),
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
      if (req.transactionalId !== null) {
        // Transactions are the exactly-once issue's; until then a transactional batch is refused.
        return { index: p.index, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, baseOffset: -1n, logStartOffset: -1n };
      }
      if (!p.records || p.records.length === 0) {
        return { index: p.index, errorCode: ErrorCode.CORRUPT_MESSAGE, baseOffset: -1n, logStartOffset: -1n, errorMessage: 'no records' };
      }
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
