// What the transaction coordinator takes and gives: plain data per Kafka transaction API
// (InitProducerId with a transactional id, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn,
// TxnOffsetCommit, DescribeTransactions, ListTransactions) and for the produce path's check that a
// partition is part of the producer's transaction. Errors are kinds (errors.ts), never exceptions.

import type { GroupCoordinator } from '../groups/coordinator.js';
import type { CommitOffset, PartitionResult as GroupPartitionResult } from '../groups/api.js';
import type { Partition } from '../partition.js';
import type { TxnErrorKind } from './errors.js';
import type { TxnState, TxnTopicPartition } from './metadata.js';

export type { TxnErrorKind } from './errors.js';
export type { TxnState, TxnTopicPartition } from './metadata.js';

/** Something a transaction's marker goes to: a partition, or a group's transactional offsets. */
export type TxnMarkerTarget = { readonly kind: 'partition'; readonly topic: string; readonly partition: number } | { readonly kind: 'group'; readonly groupId: string };

/** A COMMIT or ABORT marker of a producer's transaction, from a coordinator epoch. */
export interface TxnMarker {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly commit: boolean;
  readonly coordinatorEpoch: number;
}

/** Where a transaction's markers and offsets go: the vhost's streams and group coordinator. */
export interface TxnParticipants {
  /** The partition, if the topic and partition exist. */
  partition(topic: string, index: number): Pick<Partition, 'appendMarker'> | undefined;
  groups(): Pick<GroupCoordinator, 'txnCommit' | 'completeTxn'> | undefined;
  /** A producer id never handed out before (shared with idempotent producers). */
  allocateProducerId(): Promise<number>;
  /**
   * In a cluster: writes a marker wherever its target's leader is (this node or another, Kafka's
   * WriteTxnMarkers) and resolves once the leader has it on its in-sync replicas. Throws
   * StreamError 'unknown-partition', 'producer-fenced' or 'coordinator-fenced' for a marker that
   * must not be retried; anything else is retried. Without it, markers go to `partition()` and
   * `groups()` on this node (a single node).
   */
  writeMarker?(target: TxnMarkerTarget, marker: TxnMarker): Promise<void>;
}

export interface ProducerIdAndEpoch {
  readonly producerId: number;
  readonly producerEpoch: number;
}

export interface InitProducerIdResult extends ProducerIdAndEpoch {
  readonly error?: TxnErrorKind;
}

export interface TxnPartitionResult extends TxnTopicPartition {
  readonly error?: TxnErrorKind;
}

export interface EndTxnResult extends ProducerIdAndEpoch {
  readonly error?: TxnErrorKind;
}

export interface TxnOffsetCommitRequest {
  readonly transactionalId: string;
  readonly groupId: string;
  readonly producerId: number;
  readonly producerEpoch: number;
  /** TxnOffsetCommit v3+; -1 and '' before. */
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId?: string | null;
  readonly offsets: readonly CommitOffset[];
}

/** A transaction check's failure or the group coordinator's per-partition result. */
export type TxnOffsetCommitResult = { readonly error: TxnErrorKind } | { readonly results: readonly GroupPartitionResult[] };

export interface DescribedTransaction {
  readonly transactionalId: string;
  readonly error?: TxnErrorKind;
  readonly state: TxnState | '';
  readonly timeoutMs: number;
  /** -1 outside a transaction. */
  readonly startMs: number;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly partitions: readonly TxnTopicPartition[];
}

export interface ListedTransaction {
  readonly transactionalId: string;
  readonly producerId: number;
  readonly state: TxnState;
}

export interface ListTransactionsResult {
  readonly error?: TxnErrorKind;
  /** State names in the filter that are no state. */
  readonly unknownStates: readonly string[];
  readonly transactions: readonly ListedTransaction[];
}
