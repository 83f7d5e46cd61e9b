// Byte fixtures for flexible versions (KIP-482), which kafkajs does not speak:
// compact strings/arrays/bytes (length + 1 as an unsigned varint), header v2
// with its tagged-field section, response header v0 for ApiVersions, and
// tagged fields in ascending tag order with their sizes. The hex is written
// field by field from the protocol guide, or captured from librdkafka.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ApiKey,
  concatFrame,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  type ApiKeyNumber,
  type Input,
  type RequestOf,
  type ResponseOf,
} from '../../../../src/protocol/kafka/index.js';

/** Hex with spaces, `|` separators and `#` comments to the end of the line; a size prefix is added. */
function frame(hex: string): Buffer {
  const body = Buffer.from(hex.replace(/#.*$/gm, '').replace(/[\s|]/g, ''), 'hex');
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return Buffer.concat([size, body]);
}

function requestFixture<K extends ApiKeyNumber>(key: K, v: number, id: number, clientId: string | null, body: Input<RequestOf<K>>, hex: string): void {
  const bytes = frame(hex);
  assert.deepEqual(concatFrame(encodeRequest(key, v, id, clientId, body)), bytes, 'encoding');
  const decoded = decodeRequest(bytes.subarray(4));
  assert.deepEqual([decoded.apiKey, decoded.apiVersion, decoded.correlationId, decoded.clientId], [key, v, id, clientId]);
  assert.deepEqual(concatFrame(encodeRequest(key, v, id, clientId, decoded.body as Input<RequestOf<K>>)), bytes, 're-encoding the decoded body');
}

function responseFixture<K extends ApiKeyNumber>(key: K, v: number, id: number, body: Input<ResponseOf<K>>, hex: string): ResponseOf<K> {
  const bytes = frame(hex);
  assert.deepEqual(concatFrame(encodeResponse(key, v, id, body)), bytes, 'encoding');
  const decoded = decodeResponse(key, v, bytes.subarray(4));
  assert.equal(decoded.correlationId, id);
  return decoded.body;
}

test('ApiVersions v3 request as librdkafka 2.0.2 sends it (header v2)', () => {
  requestFixture(ApiKey.ApiVersions, 3, 1, 'rdkafka', { clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.0.2' }, `
    0012 0003 00000001 | 0007 72646b61666b61 | 00  # api key 18, v3, correlation 1, client id STRING, no tags
    0b 6c696272646b61666b61 | 06 322e302e32 | 00  # compact "librdkafka", compact "2.0.2", no tags`);
});

test('ApiVersions v3 response: header v0 (no tags), compact array, tagged field 1', () => {
  const body = responseFixture(ApiKey.ApiVersions, 3, 1, {
    errorCode: 0,
    apiKeys: [
      { apiKey: 0, minVersion: 0, maxVersion: 11 },
      { apiKey: 18, minVersion: 0, maxVersion: 4 },
    ],
    throttleTimeMs: 0,
    finalizedFeaturesEpoch: 5n,
  }, `
    00000001  # correlation id; ApiVersions answers with header v0 always
    0000 | 03  # error code, 2 api keys (compact: 2 + 1)
    0000 0000 000b 00 | 0012 0000 0004 00  # key, min, max, no tags
    00000000  # throttle time
    01 | 01 08 0000000000000005  # 1 tagged field: tag 1 (FinalizedFeaturesEpoch), 8 bytes`);
  assert.equal(body.finalizedFeaturesEpoch, 5n);
  assert.deepEqual(body.supportedFeatures, []);
  assert.equal(body.zkMigrationReady, false);
});

test('Metadata v12 request: null client id, uuid, compact nullable name', () => {
  requestFixture(ApiKey.Metadata, 12, 2, null, { topics: [{ name: 'orders' }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: true }, `
    0003 000c 00000002 | ffff | 00  # api key 3, v12, correlation 2, null client id, no tags
    02 | 00000000000000000000000000000000 | 07 6f7264657273 | 00  # 1 topic: zero topic id, "orders", no tags
    00 | 01 | 00  # allow auto-creation false, include topic operations true, no tags`);
});

test('Metadata v12 response: brokers, cluster id, topic id, partitions', () => {
  const body = responseFixture(ApiKey.Metadata, 12, 2, {
    throttleTimeMs: 0,
    brokers: [{ nodeId: 1, host: 'h', port: 9092, rack: null }],
    clusterId: 'c',
    controllerId: 1,
    topics: [
      {
        errorCode: 0,
        name: 't',
        topicId: '0123abcd-4567-89ef-0123-456789abcdef',
        isInternal: false,
        partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 1, leaderEpoch: 0, replicaNodes: [1], isrNodes: [1], offlineReplicas: [] }],
        topicAuthorizedOperations: -2147483648,
      },
    ],
  }, `
    00000002 | 00  # correlation id, header v1 tags
    00000000  # throttle time
    02 | 00000001 02 68 00002384 00 00  # 1 broker: node 1, "h", 9092, null rack, no tags
    02 63 | 00000001  # cluster id "c", controller 1
    02 | 0000 | 02 74 | 0123abcd456789ef0123456789abcdef | 00  # 1 topic: error 0, "t", topic id, not internal
    02 | 0000 00000000 00000001 00000000 | 02 00000001 | 02 00000001 | 01 | 00  # partition 0: leader 1, epoch 0, replicas [1], isr [1], offline []
    80000000 | 00  # topic authorized operations (INT32 min: none), topic tags
    00  # response tags`);
  assert.equal(body.topics[0].topicId, '0123abcd-4567-89ef-0123-456789abcdef');
});

test('Produce v9 request: compact nullable transactional id and records', () => {
  requestFixture(ApiKey.Produce, 9, 3, 'c', {
    transactionalId: null,
    acks: -1,
    timeoutMs: 30000,
    topicData: [{ name: 't', partitionData: [{ index: 0, records: Buffer.from('deadbeef', 'hex') }] }],
  }, `
    0000 0009 00000003 | 0001 63 | 00  # api key 0, v9, correlation 3, client "c", no tags
    00 | ffff | 00007530  # null transactional id, acks -1, timeout 30000
    02 | 02 74 | 02 | 00000000 | 05 deadbeef | 00 | 00  # 1 topic "t": 1 partition 0, 4 bytes of records
    00  # request tags`);
});

test('Fetch v15 request: topic ids, tagged ClusterId, no ReplicaId', () => {
  requestFixture(ApiKey.Fetch, 15, 4, 'c', {
    clusterId: 'c1',
    maxWaitMs: 500,
    minBytes: 1,
    maxBytes: 1048576,
    isolationLevel: 1,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{ topicId: '0123abcd-4567-89ef-0123-456789abcdef', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 42n, logStartOffset: -1n, partitionMaxBytes: 65536 }] }],
    rackId: '',
  }, `
    0001 000f 00000004 | 0001 63 | 00  # api key 1, v15
    000001f4 00000001 00100000 01 00000000 ffffffff  # max wait, min bytes, max bytes, isolation, session id, epoch
    02 | 0123abcd456789ef0123456789abcdef  # 1 topic by id
    02 | 00000000 ffffffff 000000000000002a ffffffff ffffffffffffffff 00010000 00 | 00  # partition 0 at offset 42
    01 | 01  # no forgotten topics, rack ""
    01 | 00 03 03 6331  # tag 0 (ClusterId), 3 bytes: compact "c1" (length 2 + 1)`);
});

test('Fetch v16 response: tagged CurrentLeader per partition and NodeEndpoints', () => {
  const body = responseFixture(ApiKey.Fetch, 16, 4, {
    throttleTimeMs: 0,
    errorCode: 0,
    sessionId: 0,
    responses: [
      {
        topicId: '0123abcd-4567-89ef-0123-456789abcdef',
        partitions: [{ partitionIndex: 0, errorCode: 6, highWatermark: 10n, lastStableOffset: 10n, logStartOffset: 0n, currentLeader: { leaderId: 2, leaderEpoch: 1 }, abortedTransactions: null, records: null }],
      },
    ],
    nodeEndpoints: [{ nodeId: 2, host: 'b', port: 9093, rack: null }],
  }, `
    00000004 | 00  # correlation id, header tags
    00000000 0000 00000000  # throttle, error, session
    02 | 0123abcd456789ef0123456789abcdef  # 1 topic by id
    02 | 00000000 0006 000000000000000a 000000000000000a 0000000000000000  # partition 0: NOT_LEADER_OR_FOLLOWER, hw 10, lso 10, log start 0
    00 | ffffffff | 00  # null aborted transactions, preferred replica -1, null records
    01 | 01 09 00000002 00000001 00  # 1 tag: 1 (CurrentLeader), 9 bytes: leader 2, epoch 1, no tags
    00  # topic tags
    01 | 00 0d 02 | 00000002 02 62 00002385 00 00  # response tag 0 (NodeEndpoints), 13 bytes: node 2 "b" 9093 null rack`);
  assert.deepEqual(body.responses[0].partitions[0].currentLeader, { leaderId: 2, leaderEpoch: 1 });
  assert.deepEqual(body.responses[0].partitions[0].divergingEpoch, { epoch: -1, endOffset: -1n });
  assert.deepEqual(body.nodeEndpoints, [{ nodeId: 2, host: 'b', port: 9093, rack: null }]);
});

test('JoinGroup v6 request: compact bytes metadata and nullable instance id', () => {
  requestFixture(ApiKey.JoinGroup, 6, 5, 'c', {
    groupId: 'g',
    sessionTimeoutMs: 30000,
    rebalanceTimeoutMs: 60000,
    memberId: '',
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from([0, 3]) }],
  }, `
    000b 0006 00000005 | 0001 63 | 00  # api key 11, v6
    02 67 | 00007530 | 0000ea60 | 01 | 00  # "g", session 30000, rebalance 60000, member "", null instance
    09 636f6e73756d6572  # "consumer"
    02 | 06 72616e6765 | 03 0003 | 00  # 1 protocol "range" with 2 bytes of metadata
    00  # request tags`);
});

test('a tagged field the codec does not know is skipped', () => {
  // Metadata v12 request with an extra tag 7 of 3 bytes in the request's tag section.
  const bytes = frame('0003 000c 00000002 ffff 00 | 01 | 01 | 00 | 01 07 03 aabbcc');
  const r = decodeRequest(bytes.subarray(4));
  assert.ok(r.apiKey === ApiKey.Metadata);
  assert.deepEqual(r.body.topics, []);
  assert.equal(r.body.allowAutoTopicCreation, true);
});
