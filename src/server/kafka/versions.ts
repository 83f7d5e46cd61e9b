// The API versions Wharf's Kafka listener advertises in ApiVersions (docs/kafka.md). The ranges
// start where record batches v2 begin (older versions carry message sets v0/v1 that Wharf does
// not store) and end at the newest version of the schemas in spec/kafka-messages, so kafkajs,
// librdkafka and the current Java client each find a common version without falling back.

export interface VersionRange {
  readonly min: number;
  readonly max: number;
}

export const SUPPORTED_VERSIONS: ReadonlyMap<number, VersionRange> = new Map([
  [0, { min: 3, max: 11 }], // Produce: v3 is the first with record batches v2
  [1, { min: 4, max: 17 }], // Fetch: v4 is the first that returns record batches v2
  [2, { min: 1, max: 10 }], // ListOffsets
  [3, { min: 0, max: 12 }], // Metadata
  [8, { min: 2, max: 9 }], // OffsetCommit
  [9, { min: 1, max: 9 }], // OffsetFetch
  [10, { min: 0, max: 6 }], // FindCoordinator
  [11, { min: 0, max: 9 }], // JoinGroup
  [12, { min: 0, max: 4 }], // Heartbeat
  [13, { min: 0, max: 5 }], // LeaveGroup
  [14, { min: 0, max: 5 }], // SyncGroup
  [15, { min: 0, max: 5 }], // DescribeGroups
  [16, { min: 0, max: 5 }], // ListGroups
  [17, { min: 0, max: 1 }], // SaslHandshake: v0 = raw SASL tokens follow, v1 = SaslAuthenticate requests
  [18, { min: 0, max: 4 }], // ApiVersions
  [19, { min: 0, max: 7 }], // CreateTopics
  [20, { min: 0, max: 6 }], // DeleteTopics
  [21, { min: 0, max: 2 }], // DeleteRecords
  [22, { min: 0, max: 5 }], // InitProducerId
  [23, { min: 0, max: 4 }], // OffsetForLeaderEpoch
  [24, { min: 0, max: 5 }], // AddPartitionsToTxn: v0-3 from producers, v4-5 the batched broker form
  [25, { min: 0, max: 4 }], // AddOffsetsToTxn
  [26, { min: 0, max: 4 }], // EndTxn: v5 (epoch bump per transaction, KIP-890 part 2) is unstable
  [27, { min: 0, max: 1 }], // WriteTxnMarkers: cluster-internal (a coordinator to a partition's leader)
  [28, { min: 0, max: 4 }], // TxnOffsetCommit
  [32, { min: 0, max: 4 }], // DescribeConfigs
  [33, { min: 0, max: 2 }], // AlterConfigs
  [36, { min: 0, max: 2 }], // SaslAuthenticate
  [37, { min: 0, max: 3 }], // CreatePartitions
  [42, { min: 0, max: 2 }], // DeleteGroups
  [44, { min: 0, max: 1 }], // IncrementalAlterConfigs
  [47, { min: 0, max: 0 }], // OffsetDelete
  [60, { min: 0, max: 1 }], // DescribeCluster
  [65, { min: 0, max: 0 }], // DescribeTransactions
  [66, { min: 0, max: 1 }], // ListTransactions
]);

export function isSupported(apiKey: number, version: number): boolean {
  const r = SUPPORTED_VERSIONS.get(apiKey);
  return r !== undefined && version >= r.min && version <= r.max;
}
