// The broker's typed errors as Kafka error codes: one place, so every handler answers a domain
// failure with the code (and message, where the response has one) Kafka would.

import { StreamError, type StreamErrorKind } from '../../broker/stream/errors.js';
import { ReplicationError, type ReplicationRefusal } from '../../broker/stream/replication.js';
import { ErrorCode } from '../../protocol/kafka/index.js';

const STREAM_CODES: Readonly<Record<StreamErrorKind, number>> = {
  corrupt: ErrorCode.CORRUPT_MESSAGE,
  'invalid-record': ErrorCode.INVALID_RECORD,
  'policy-violation': ErrorCode.POLICY_VIOLATION,
  'too-large': ErrorCode.MESSAGE_TOO_LARGE,
  'offset-out-of-range': ErrorCode.OFFSET_OUT_OF_RANGE,
  'out-of-order-sequence': ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
  'producer-fenced': ErrorCode.INVALID_PRODUCER_EPOCH,
  'coordinator-fenced': ErrorCode.TRANSACTION_COORDINATOR_FENCED,
  'invalid-txn-state': ErrorCode.INVALID_TXN_STATE,
  'unknown-partition': ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  storage: ErrorCode.KAFKA_STORAGE_ERROR,
  'invalid-config': ErrorCode.INVALID_CONFIG,
  exists: ErrorCode.TOPIC_ALREADY_EXISTS,
  'invalid-name': ErrorCode.INVALID_TOPIC_EXCEPTION,
  'invalid-partitions': ErrorCode.INVALID_PARTITIONS,
};

const REPLICATION_CODES: Readonly<Record<ReplicationRefusal, number>> = {
  'not-leader': ErrorCode.NOT_LEADER_OR_FOLLOWER,
  'not-enough-replicas': ErrorCode.NOT_ENOUGH_REPLICAS,
  'fenced-epoch': ErrorCode.FENCED_LEADER_EPOCH,
  'unknown-epoch': ErrorCode.UNKNOWN_LEADER_EPOCH,
  timeout: ErrorCode.REQUEST_TIMED_OUT,
};

export interface KafkaFailure {
  readonly code: number;
  readonly message: string | null;
}

/** The Kafka error code for anything a handler caught; unexpected errors are UNKNOWN_SERVER_ERROR. */
export function failureOf(err: unknown): KafkaFailure {
  if (err instanceof StreamError) return { code: STREAM_CODES[err.kind], message: err.message };
  if (err instanceof ReplicationError) return { code: REPLICATION_CODES[err.kind], message: err.message };
  return { code: ErrorCode.UNKNOWN_SERVER_ERROR, message: err instanceof Error ? err.message : String(err) };
}

export function codeOf(err: unknown): number {
  return failureOf(err).code;
}
