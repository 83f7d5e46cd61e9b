// Errors of streams, in the domain's words. Each adapter maps the kind to its own code: Kafka's
// error codes (server/kafka/errors.ts), AMQP reply codes for stream queues.

export type StreamErrorKind =
  /** A batch fails its checks (length, CRC, record count): Kafka's CORRUPT_MESSAGE. */
  | 'corrupt'
  /** A batch Kafka's validation refuses (magic 0/1 in Produce v3+, bad counts, unparsable records, no key on a compacted topic): INVALID_RECORD. */
  | 'invalid-record'
  /** What the stream's configs forbid (DeleteRecords without cleanup.policy delete): POLICY_VIOLATION. */
  | 'policy-violation'
  /** A batch bigger than the stream's max message bytes: RECORD_TOO_LARGE / MESSAGE_TOO_LARGE. */
  | 'too-large'
  /** A read below the log start or past the end: OFFSET_OUT_OF_RANGE. */
  | 'offset-out-of-range'
  /** An idempotent producer skipped sequence numbers: OUT_OF_ORDER_SEQUENCE_NUMBER. */
  | 'out-of-order-sequence'
  /** A producer epoch older than the one the stream knows: INVALID_PRODUCER_EPOCH / PRODUCER_FENCED. */
  | 'producer-fenced'
  /** A transaction marker from a coordinator epoch older than the partition has seen (a stale coordinator): TRANSACTION_COORDINATOR_FENCED. */
  | 'coordinator-fenced'
  /** A producer with an open transaction on the partition wrote a non-transactional batch: INVALID_TXN_STATE. */
  | 'invalid-txn-state'
  /** The stream or partition is gone or was never there: UNKNOWN_TOPIC_OR_PARTITION. */
  | 'unknown-partition'
  /** Writing to the disk failed: KAFKA_STORAGE_ERROR. */
  | 'storage'
  /** A topic config name or value Wharf does not accept: INVALID_CONFIG. */
  | 'invalid-config'
  /** A stream by that name (or a queue) exists: TOPIC_ALREADY_EXISTS. */
  | 'exists'
  /** An illegal stream name: INVALID_TOPIC_EXCEPTION. */
  | 'invalid-name'
  /** A partition count that is not allowed: INVALID_PARTITIONS. */
  | 'invalid-partitions';

export class StreamError extends Error {
  constructor(
    readonly kind: StreamErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'StreamError';
  }
}
