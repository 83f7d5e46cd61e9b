// The Kafka protocol layer: bytes in, typed requests, responses and record
// batches out, and back. Imports nothing else from src (docs/architecture.md).
// docs/kafka.md ("Codecs") describes what is generated and how batches are handled.

export * from './generated/index.js';
export type { ApiCodec } from './api-codec.js';
export { ErrorCode, KAFKA_ERRORS, errorCodeName, isRetriableError, kafkaErrorInfo, type ErrorCodeName, type KafkaErrorInfo } from './errors.js';
export { KafkaProtocolError } from './protocol-error.js';
export {
  EMPTY_BUFFER,
  Reader,
  Writer,
  ZERO_UUID,
  concatFrame,
  type Input,
  type MessageCodec,
} from './primitives.js';
export {
  DEFAULT_MAX_FRAME_BYTES,
  KafkaFrameParser,
  decodeRequestHeader,
  type DecodedRequestHeader,
  type KafkaFrameHandler,
  type RequestHeader,
} from './frame.js';
export { decodeRequest, decodeResponse, encodeRequest, encodeResponse, responseCorrelationId, type KafkaRequest } from './messages.js';
export {
  CURRENT_MAGIC,
  LOG_OVERHEAD_BYTES,
  RECORD_BATCH_HEADER_BYTES,
  TimestampType,
  batchMagic,
  buildRecordBatch,
  buildRecordBatchSync,
  checkBatch,
  computeBatchCrc,
  decodeRecords,
  isBatchCrcValid,
  readBatchHeader,
  setBaseOffset,
  setLogAppendTime,
  setPartitionLeaderEpoch,
  splitBatches,
  type KafkaRecord,
  type RecordBatchHeader,
  type RecordBatchSpec,
  type RecordHeader,
  type RecordSpec,
  type SplitBatches,
} from './record-batch.js';
export {
  ControlRecordType,
  buildMarkerBatch,
  decodeControlRecordType,
  decodeTransactionMarker,
  encodeControlRecordKey,
  encodeTransactionMarkerValue,
  type MarkerBatchSpec,
  type TransactionMarker,
} from './control-records.js';
export {
  Compression,
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  compress,
  compressionName,
  decompress,
  type CompressionCodec,
} from './compression.js';
export {
  CONSUMER_PROTOCOL_MAX_VERSION,
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
} from './consumer-protocol.js';
