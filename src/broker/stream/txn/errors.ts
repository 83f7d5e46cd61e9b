// Errors of the transaction coordinator, in the domain's words. Like the group coordinator's they
// are results, not exceptions. Each kind is named after the Kafka error it stands for; the Kafka
// adapter maps it to the code, older request versions getting older codes where Kafka does so:
//
//   kind                          Kafka error                         code
//   'invalid-request'             INVALID_REQUEST                     42  (an empty transactional id)
//   'invalid-transaction-timeout' INVALID_TRANSACTION_TIMEOUT         50
//   'concurrent-transactions'     CONCURRENT_TRANSACTIONS             51  (retriable: a state change
//                                                                          is being written, or the
//                                                                          previous transaction's
//                                                                          markers)
//   'producer-fenced'             PRODUCER_FENCED                     90  (INVALID_PRODUCER_EPOCH 47
//                                                                          for InitProducerId < v4,
//                                                                          AddPartitionsToTxn,
//                                                                          AddOffsetsToTxn and EndTxn
//                                                                          < v2, and Produce/
//                                                                          TxnOffsetCommit always)
//   'invalid-producer-id-mapping' INVALID_PRODUCER_ID_MAPPING         49
//   'invalid-txn-state'           INVALID_TXN_STATE                   48
//   'transaction-abortable'       TRANSACTION_ABORTABLE               120 (INVALID_TXN_STATE before
//                                                                          Produce v11 and
//                                                                          TxnOffsetCommit v4)
//   'transactional-id-not-found'  TRANSACTIONAL_ID_NOT_FOUND          105
//   'unknown-topic-or-partition'  UNKNOWN_TOPIC_OR_PARTITION          3
//   'operation-not-attempted'     OPERATION_NOT_ATTEMPTED             55  (the other partitions of an
//                                                                          AddPartitionsToTxn one of
//                                                                          whose partitions is unknown)
//   'coordinator-not-available'   COORDINATOR_NOT_AVAILABLE           15  (shutting down, or writing
//                                                                          the transaction log failed)
//   'unknown-server-error'        UNKNOWN_SERVER_ERROR                -1

export type TxnErrorKind =
  | 'invalid-request'
  | 'invalid-transaction-timeout'
  | 'concurrent-transactions'
  | 'producer-fenced'
  | 'invalid-producer-id-mapping'
  | 'invalid-txn-state'
  | 'transaction-abortable'
  | 'transactional-id-not-found'
  | 'unknown-topic-or-partition'
  | 'operation-not-attempted'
  | 'coordinator-not-available'
  | 'unknown-server-error';

/** Every kind, for adapters' exhaustive mapping tests. */
export const TXN_ERROR_KINDS: readonly TxnErrorKind[] = [
  'invalid-request',
  'invalid-transaction-timeout',
  'concurrent-transactions',
  'producer-fenced',
  'invalid-producer-id-mapping',
  'invalid-txn-state',
  'transaction-abortable',
  'transactional-id-not-found',
  'unknown-topic-or-partition',
  'operation-not-attempted',
  'coordinator-not-available',
  'unknown-server-error',
];
