// Wharf's own Kafka client: small, pipelined, for `wharf perf-kafka`, benchmarks and tests.
// Built on src/protocol/kafka only; nothing in the broker imports it.

export { KafkaConnection, type KafkaConnectOptions, type VersionRange } from './connection.js';
export {
  EARLIEST_OFFSET,
  KafkaClient,
  LATEST_OFFSET,
  parseBootstrap,
  type BrokerAddress,
  type ClusterInfo,
  type FetchSpec,
  type FetchedPartition,
  type PartitionInfo,
  type ProduceResult,
  type ProduceSpec,
  type TopicInfo,
} from './client.js';
export { KafkaClientError, brokerError } from './errors.js';
