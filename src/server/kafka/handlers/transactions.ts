// Producers and transactions: InitProducerId (idempotent producers here; transactional ids on the
// vhost's TransactionCoordinator), AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit,
// DescribeTransactions and ListTransactions. The coordinator answers in error kinds; this file
// maps them to Kafka's codes, older versions getting the older code where Kafka does so.

import type { DescribedTransaction, TransactionCoordinator, TxnErrorKind, TxnOffsetCommitRequest, TxnOffsetCommitResult, TxnTopicPartition } from '../../../broker/stream/txn/index.js';
import { TXN_STATES as TXN_STATE_NAMES } from '../../../broker/stream/txn/metadata.js';
import { ErrorCode } from '../../../protocol/kafka/index.js';
import type { Handler, KafkaContext } from '../context.js';
import { REFUSAL_CODES, coordinator as groupCoordinator, groupErrorCode } from './groups.js';

const TXN_CODES: Readonly<Record<TxnErrorKind, number>> = {
  'invalid-request': ErrorCode.INVALID_REQUEST,
  'invalid-transaction-timeout': ErrorCode.INVALID_TRANSACTION_TIMEOUT,
  'concurrent-transactions': ErrorCode.CONCURRENT_TRANSACTIONS,
  'producer-fenced': ErrorCode.PRODUCER_FENCED,
  'invalid-producer-id-mapping': ErrorCode.INVALID_PRODUCER_ID_MAPPING,
  'invalid-txn-state': ErrorCode.INVALID_TXN_STATE,
  'transaction-abortable': ErrorCode.TRANSACTION_ABORTABLE,
  'transactional-id-not-found': ErrorCode.TRANSACTIONAL_ID_NOT_FOUND,
  'unknown-topic-or-partition': ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  'operation-not-attempted': ErrorCode.OPERATION_NOT_ATTEMPTED,
  'coordinator-not-available': ErrorCode.COORDINATOR_NOT_AVAILABLE,
  'unknown-server-error': ErrorCode.UNKNOWN_SERVER_ERROR,
};

export interface TxnCodeRules {
  /** PRODUCER_FENCED reads INVALID_PRODUCER_EPOCH (clients before PRODUCER_FENCED existed, and the produce path). */
  readonly fencedAsEpoch?: boolean;
  /** TRANSACTION_ABORTABLE reads INVALID_TXN_STATE (clients before KIP-890). */
  readonly abortableAsTxnState?: boolean;
}

export function txnErrorCode(kind: TxnErrorKind | undefined, rules: TxnCodeRules = {}): number {
  if (kind === undefined) return ErrorCode.NONE;
  if (kind === 'producer-fenced' && rules.fencedAsEpoch) return ErrorCode.INVALID_PRODUCER_EPOCH;
  if (kind === 'transaction-abortable' && rules.abortableAsTxnState) return ErrorCode.INVALID_TXN_STATE;
  return TXN_CODES[kind];
}

/**
 * The transactional id's coordinator on this node, or the Kafka error code saying why this node
 * does not answer for it: in a cluster, only the leader of the id's transaction state partition
 * does (NOT_COORDINATOR elsewhere, COORDINATOR_LOAD_IN_PROGRESS while it replays the partition).
 */
function transactions(ctx: KafkaContext, transactionalId: string): TransactionCoordinator | number {
  const cluster = ctx.broker.clusterTransactions(ctx.vhost);
  if (cluster !== undefined) {
    const found = cluster.lookup(transactionalId);
    return 'coordinator' in found ? found.coordinator : REFUSAL_CODES[found.error];
  }
  const t = ctx.vhost.transactions;
  if (!t) throw new Error('this vhost has no transaction coordinator');
  return t;
}

/** The coordinators whose transactions this node lists (ListTransactions: in a cluster, those it coordinates). */
function localCoordinators(ctx: KafkaContext): TransactionCoordinator[] {
  const cluster = ctx.broker.clusterTransactions(ctx.vhost);
  if (cluster !== undefined) return cluster.coordinators();
  return ctx.vhost.transactions ? [ctx.vhost.transactions] : [];
}

const NO_PRODUCER_ID = -1n;
const EPOCH_MAX = 0x7fff;

/**
 * Idempotent producers get a fresh producer id (epoch 0); one that presents its id and epoch
 * (KIP-360) gets the next epoch. A transactional id goes to the transaction coordinator.
 */
export const initProducerId: Handler<22> = async (ctx, req, v) => {
  const fail = (errorCode: number) => ({ throttleTimeMs: 0, errorCode, producerId: NO_PRODUCER_ID, producerEpoch: -1 });
  // Kafka: an id without an epoch, or an epoch without an id, is not a request it can answer.
  if ((req.producerId === NO_PRODUCER_ID) !== (req.producerEpoch === -1)) return fail(ErrorCode.INVALID_REQUEST);
  if (req.transactionalId !== null) {
    const expected = req.producerId === NO_PRODUCER_ID ? undefined : { producerId: Number(req.producerId), producerEpoch: req.producerEpoch };
    const c = transactions(ctx, req.transactionalId);
    if (typeof c === 'number') return fail(c);
    const r = await c.initProducerId(req.transactionalId, req.transactionTimeoutMs, expected);
    if (r.error) return fail(txnErrorCode(r.error, { fencedAsEpoch: v < 4 }));
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: BigInt(r.producerId), producerEpoch: r.producerEpoch };
  }
  if (req.producerId >= 0n && req.producerEpoch >= 0 && req.producerEpoch < EPOCH_MAX - 1) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: req.producerId, producerEpoch: req.producerEpoch + 1 };
  }
  let producerId: number;
  try {
    producerId = await ctx.broker.allocateProducerId();
  } catch (err) {
    // Kafka's RPCProducerIdManager answers this, retriable, while it has no block of ids (in a
    // cluster: the node is joining or cannot reach etcd).
    ctx.logger.warn('kafka: allocating a producer id failed', { error: err instanceof Error ? err.message : String(err) });
    return fail(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: BigInt(producerId), producerEpoch: 0 };
};

interface TopicPartitions {
  readonly name: string;
  readonly partitions: readonly number[];
}

function flatten(topics: readonly TopicPartitions[]): TxnTopicPartition[] {
  return topics.flatMap((t) => t.partitions.map((partition) => ({ topic: t.name, partition })));
}

function byTopic(results: readonly { topic: string; partition: number; code: number }[]) {
  const out = new Map<string, { partitionIndex: number; partitionErrorCode: number }[]>();
  for (const r of results) {
    const list = out.get(r.topic) ?? [];
    list.push({ partitionIndex: r.partition, partitionErrorCode: r.code });
    out.set(r.topic, list);
  }
  return [...out].map(([name, resultsByPartition]) => ({ name, resultsByPartition }));
}

interface OneTxn {
  readonly transactionalId: string;
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly verifyOnly: boolean;
  readonly topics: readonly TopicPartitions[];
}

async function addOrVerify(ctx: KafkaContext, t: OneTxn, v: number) {
  const coordinator = transactions(ctx, t.transactionalId);
  const partitions = flatten(t.topics);
  if (typeof coordinator === 'number') return byTopic(partitions.map((p) => ({ ...p, code: coordinator })));
  const pid = Number(t.producerId);
  const results = t.verifyOnly
    ? partitions.map((p) => ({ ...p, error: coordinator.verifyPartition(t.transactionalId, pid, t.producerEpoch, p.topic, p.partition) }))
    : await coordinator.addPartitions(t.transactionalId, pid, t.producerEpoch, partitions);
  return byTopic(results.map((r) => ({ topic: r.topic, partition: r.partition, code: txnErrorCode(r.error, { fencedAsEpoch: v < 2 }) })));
}

/** v0-3 from producers (one transaction); v4+ the batched form brokers send, with verify-only checks. */
export const addPartitionsToTxn: Handler<24> = async (ctx, req, v) => {
  if (v < 4) {
    const one = { transactionalId: req.v3AndBelowTransactionalId, producerId: req.v3AndBelowProducerId, producerEpoch: req.v3AndBelowProducerEpoch, verifyOnly: false, topics: req.v3AndBelowTopics };
    return { throttleTimeMs: 0, resultsByTopicV3AndBelow: await addOrVerify(ctx, one, v) };
  }
  const resultsByTransaction = [];
  for (const t of req.transactions) resultsByTransaction.push({ transactionalId: t.transactionalId, topicResults: await addOrVerify(ctx, t, v) });
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, resultsByTransaction };
};

export const addOffsetsToTxn: Handler<25> = async (ctx, req, v) => {
  const c = transactions(ctx, req.transactionalId);
  if (typeof c === 'number') return { throttleTimeMs: 0, errorCode: c };
  const error = await c.addOffsets(req.transactionalId, Number(req.producerId), req.producerEpoch, req.groupId);
  return { throttleTimeMs: 0, errorCode: txnErrorCode(error, { fencedAsEpoch: v < 2 }) };
};

export const endTxn: Handler<26> = async (ctx, req, v) => {
  const c = transactions(ctx, req.transactionalId);
  if (typeof c === 'number') return { throttleTimeMs: 0, errorCode: c, ...(v >= 5 ? { producerId: -1n, producerEpoch: -1 } : {}) };
  const r = await c.endTxn(req.transactionalId, Number(req.producerId), req.producerEpoch, req.committed);
  const errorCode = txnErrorCode(r.error, { fencedAsEpoch: v < 2 });
  // Producer id and epoch are v5+ fields (KIP-890 part 2).
  return { throttleTimeMs: 0, errorCode, ...(v >= 5 ? { producerId: BigInt(r.producerId), producerEpoch: r.producerEpoch } : {}) };
};

export const txnOffsetCommit: Handler<28> = async (ctx, req, v) => {
  const offsets = [];
  const unknown: { topic: string; partition: number }[] = [];
  for (const t of req.topics) {
    const stream = ctx.vhost.streams.get(t.name);
    for (const p of t.partitions) {
      if (!stream?.partition(p.partitionIndex)) unknown.push({ topic: t.name, partition: p.partitionIndex });
      else offsets.push({ topic: t.name, partition: p.partitionIndex, offset: Number(p.committedOffset), leaderEpoch: v >= 2 ? p.committedLeaderEpoch : -1, metadata: p.committedMetadata });
    }
  }
  const codes: { topic: string; partition: number; code: number }[] = unknown.map((u) => ({ ...u, code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }));
  if (offsets.length > 0) {
    const commit = {
      transactionalId: req.transactionalId,
      groupId: req.groupId,
      producerId: Number(req.producerId),
      producerEpoch: req.producerEpoch,
      generationId: v >= 3 ? req.generationId : -1,
      memberId: v >= 3 ? req.memberId : '',
      groupInstanceId: v >= 3 ? req.groupInstanceId : null,
      offsets,
    };
    const r = ctx.broker.clusterGroups(ctx.vhost) !== undefined ? await clusterTxnCommit(ctx, commit) : await singleNodeTxnCommit(ctx, commit);
    // Verification failures read as Kafka's produce path reports them: fenced is INVALID_PRODUCER_EPOCH.
    if ('code' in r) for (const o of offsets) codes.push({ topic: o.topic, partition: o.partition, code: r.code });
    else if ('error' in r) for (const o of offsets) codes.push({ topic: o.topic, partition: o.partition, code: txnErrorCode(r.error, { fencedAsEpoch: true, abortableAsTxnState: v < 4 }) });
    else for (const o of r.results) codes.push({ topic: o.topic, partition: o.partition, code: groupErrorCode(o.error) });
  }
  const topics = new Map<string, { partitionIndex: number; errorCode: number }[]>();
  for (const c of codes) {
    const list = topics.get(c.topic) ?? [];
    list.push({ partitionIndex: c.partition, errorCode: c.code });
    topics.set(c.topic, list);
  }
  return { throttleTimeMs: 0, topics: [...topics].map(([name, partitions]) => ({ name, partitions })) };
};

/** On a single node, the transaction coordinator checks the producer's transaction, then hands the offsets to the group coordinator. */
function singleNodeTxnCommit(ctx: KafkaContext, req: TxnOffsetCommitRequest): Promise<TxnOffsetCommitResult> {
  const c = transactions(ctx, req.transactionalId);
  if (typeof c === 'number') return Promise.resolve({ error: 'coordinator-not-available' });
  return c.commitOffsets(req);
}

/**
 * In a cluster, TxnOffsetCommit goes to the group's coordinator (clients send it there), which
 * may not be the transaction's: as Kafka's GroupCoordinator without transaction verification
 * (transaction.partition.verification.enable=false), it holds the offsets for the producer id
 * until the transaction's marker reaches the group's offsets partition (WriteTxnMarkers).
 */
async function clusterTxnCommit(ctx: KafkaContext, req: TxnOffsetCommitRequest): Promise<TxnOffsetCommitResult | { code: number }> {
  const g = groupCoordinator(ctx, req.groupId);
  if (typeof g === 'number') return { code: g };
  return { results: await g.txnCommit(req) };
}

/** Each id from its coordinator; NOT_COORDINATOR (or load in progress) for the ids this node does not coordinate. */
function describeOne(ctx: KafkaContext, transactionalId: string): DescribedTransaction | { transactionalId: string; code: number } {
  const c = transactions(ctx, transactionalId);
  if (typeof c === 'number') return { transactionalId, code: c };
  const [d] = c.describe([transactionalId]);
  return d;
}

export const describeTransactions: Handler<65> = (ctx, req) => ({
  throttleTimeMs: 0,
  transactionStates: req.transactionalIds.map((id) => describeOne(ctx, id)).map((t) => {
    if ('code' in t) {
      return { errorCode: t.code, transactionalId: t.transactionalId, transactionState: '', transactionTimeoutMs: 0, transactionStartTimeMs: -1n, producerId: -1n, producerEpoch: -1, topics: [] };
    }
    const topics = new Map<string, number[]>();
    for (const p of t.partitions) topics.set(p.topic, [...(topics.get(p.topic) ?? []), p.partition]);
    return {
      errorCode: txnErrorCode(t.error),
      transactionalId: t.transactionalId,
      transactionState: t.state,
      transactionTimeoutMs: t.timeoutMs,
      transactionStartTimeMs: BigInt(t.startMs),
      producerId: BigInt(t.producerId),
      producerEpoch: t.producerEpoch,
      topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
    };
  }),
});

export const listTransactions: Handler<66> = (ctx, req, v) => {
  const pids = req.producerIdFilters.map(Number);
  const durationMs = v >= 1 ? Number(req.durationFilter) : -1;
  // Kafka's ListTransactions asks each broker for the transactions it coordinates.
  const lists = localCoordinators(ctx).map((c) => c.list(req.stateFilters, pids, durationMs));
  const unknownStates = lists[0]?.unknownStates ?? req.stateFilters.filter((s) => !(TXN_STATE_NAMES as readonly string[]).includes(s));
  return {
    throttleTimeMs: 0,
    errorCode: txnErrorCode(lists.find((r) => r.error !== undefined)?.error),
    unknownStateFilters: [...unknownStates],
    transactionStates: lists.flatMap((r) => r.transactions.map((t) => ({ transactionalId: t.transactionalId, producerId: BigInt(t.producerId), transactionState: t.state }))),
  };
};
