// The Kafka APIs Wharf serves, by api key (ApiVersions itself is answered by the connection).
// ApiVersions advertises exactly these (with the
// ranges in versions.ts); a request for any other API closes the connection, as Kafka does.

import type { ApiKeyNumber } from '../../../protocol/kafka/index.js';
import type { Handler } from '../context.js';
import { alterConfigs, createPartitions, createTopics, deleteTopics, describeConfigs, incrementalAlterConfigs } from './admin.js';
import { fetch } from './fetch.js';
import { deleteGroups, describeGroups, heartbeat, joinGroup, leaveGroup, listGroups, offsetCommit, offsetDelete, offsetFetch, syncGroup } from './groups.js';
import { describeCluster, findCoordinator, metadata } from './metadata.js';
import { deleteRecords, listOffsets, offsetForLeaderEpoch } from './offsets.js';
import { produce } from './produce.js';
import { saslAuthenticate, saslHandshake } from './sasl.js';
import { writeTxnMarkers } from './txn-markers.js';
import { addOffsetsToTxn, addPartitionsToTxn, describeTransactions, endTxn, initProducerId, listTransactions, txnOffsetCommit } from './transactions.js';

/** Handlers stored side by side; each is called only with its own api key's request. */
type AnyHandler = Handler<ApiKeyNumber>;

const table: [number, AnyHandler][] = [
  [0, produce as unknown as AnyHandler],
  [1, fetch as unknown as AnyHandler],
  [2, listOffsets as unknown as AnyHandler],
  [3, metadata as unknown as AnyHandler],
  [8, offsetCommit as unknown as AnyHandler],
  [9, offsetFetch as unknown as AnyHandler],
  [10, findCoordinator as unknown as AnyHandler],
  [11, joinGroup as unknown as AnyHandler],
  [12, heartbeat as unknown as AnyHandler],
  [13, leaveGroup as unknown as AnyHandler],
  [14, syncGroup as unknown as AnyHandler],
  [15, describeGroups as unknown as AnyHandler],
  [16, listGroups as unknown as AnyHandler],
  [17, saslHandshake as unknown as AnyHandler],
  [19, createTopics as unknown as AnyHandler],
  [20, deleteTopics as unknown as AnyHandler],
  [21, deleteRecords as unknown as AnyHandler],
  [22, initProducerId as unknown as AnyHandler],
  [23, offsetForLeaderEpoch as unknown as AnyHandler],
  [24, addPartitionsToTxn as unknown as AnyHandler],
  [25, addOffsetsToTxn as unknown as AnyHandler],
  [26, endTxn as unknown as AnyHandler],
  [27, writeTxnMarkers as unknown as AnyHandler],
  [28, txnOffsetCommit as unknown as AnyHandler],
  [32, describeConfigs as unknown as AnyHandler],
  [33, alterConfigs as unknown as AnyHandler],
  [36, saslAuthenticate as unknown as AnyHandler],
  [37, createPartitions as unknown as AnyHandler],
  [42, deleteGroups as unknown as AnyHandler],
  [44, incrementalAlterConfigs as unknown as AnyHandler],
  [47, offsetDelete as unknown as AnyHandler],
  [60, describeCluster as unknown as AnyHandler],
  [65, describeTransactions as unknown as AnyHandler],
  [66, listTransactions as unknown as AnyHandler],
];

export const HANDLERS: ReadonlyMap<number, AnyHandler> = new Map(table);
