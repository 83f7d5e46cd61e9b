// The Kafka APIs Wharf serves, by api key (ApiVersions itself is answered by the connection).
// ApiVersions advertises exactly these (with the
// ranges in versions.ts); a request for any other API closes the connection, as Kafka does.

import type { ApiKeyNumber } from '../../../protocol/kafka/index.js';
import type { Handler } from '../context.js';
import { alterConfigs, createPartitions, createTopics, deleteTopics, describeConfigs, incrementalAlterConfigs, initProducerId } from './admin.js';
import { fetch } from './fetch.js';
import { describeCluster, findCoordinator, metadata } from './metadata.js';
import { deleteRecords, listOffsets, offsetForLeaderEpoch } from './offsets.js';
import { produce } from './produce.js';

const table: [number, Handler<never>][] = [
  [0, produce as Handler<never>],
  [1, fetch as Handler<never>],
  [2, listOffsets as Handler<never>],
  [3, metadata as Handler<never>],
  [10, findCoordinator as Handler<never>],
  [19, createTopics as Handler<never>],
  [20, deleteTopics as Handler<never>],
  [21, deleteRecords as Handler<never>],
  [22, initProducerId as Handler<never>],
  [23, offsetForLeaderEpoch as Handler<never>],
  [32, describeConfigs as Handler<never>],
  [33, alterConfigs as Handler<never>],
  [37, createPartitions as Handler<never>],
  [44, incrementalAlterConfigs as Handler<never>],
  [60, describeCluster as Handler<never>],
];

export const HANDLERS: ReadonlyMap<number, Handler<ApiKeyNumber>> = new Map(table as [number, Handler<ApiKeyNumber>][]);
