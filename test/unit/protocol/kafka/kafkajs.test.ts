// Byte-level agreement with kafkajs 2.2, an independent implementation, for
// every version it speaks of ApiVersions, Metadata, Produce, Fetch and
// JoinGroup: the requests it encodes decode to the values it was given and
// re-encode to the same bytes; the responses Wharf encodes decode in kafkajs
// to the values Wharf put in. (kafkajs stops before the flexible versions:
// fixtures.test.ts covers those with hand-built bytes.)

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import {
  ApiKey,
  concatFrame,
  decodeRecords,
  decodeRequest,
  encodeRequest,
  encodeResponse,
  splitBatches,
  readBatchHeader,
  type ApiKeyNumber,
  type KafkaRequest,
} from '../../../../src/protocol/kafka/index.js';

const require = createRequire(import.meta.url);
type KafkajsRequest = { apiKey: number; apiVersion: number; encode(): Promise<unknown> };
const createRequest = require('kafkajs/src/protocol/request') as (r: { correlationId: number; clientId: string; request: KafkajsRequest }) => Promise<{ buffer: Buffer }>;
const GZIP = 1;

function kafkajsRequest(api: string, v: number, args: unknown): KafkajsRequest {
  return (require(`kafkajs/src/protocol/requests/${api}/v${v}/request`) as (a: unknown) => KafkajsRequest)(args);
}

function kafkajsResponse(api: string, v: number): { decode(b: Buffer): Promise<Record<string, unknown>> } {
  return require(`kafkajs/src/protocol/requests/${api}/v${v}/response`) as { decode(b: Buffer): Promise<Record<string, unknown>> };
}

/** kafkajs's bytes decode, and our encoding of the decoded request is the same bytes. */
async function roundTrip(api: string, v: number, args: unknown): Promise<KafkaRequest> {
  const request = kafkajsRequest(api, v, args);
  const bytes = (await createRequest({ correlationId: 77, clientId: 'kafkajs', request })).buffer;
  const decoded = decodeRequest(bytes.subarray(4));
  assert.equal(decoded.apiVersion, v);
  assert.equal(decoded.correlationId, 77);
  assert.equal(decoded.clientId, 'kafkajs');
  const again = concatFrame(encodeRequest(decoded.apiKey, v, 77, 'kafkajs', decoded.body as never));
  assert.deepEqual(again, bytes, `${api} v${v}: re-encoding gives kafkajs's bytes`);
  return decoded;
}

/** A response body (after the v0 header's correlation id) as kafkajs decodes it. */
async function viaKafkajs<K extends ApiKeyNumber>(api: string, key: K, v: number, body: Parameters<typeof encodeResponse<K>>[3]): Promise<Record<string, unknown>> {
  const frame = concatFrame(encodeResponse(key, v, 9, body));
  assert.equal(frame.readInt32BE(4), 9);
  return kafkajsResponse(api, v).decode(frame.subarray(8));
}

test('ApiVersions v0-v2 requests and responses', async () => {
  for (const v of [0, 1, 2]) {
    const r = await roundTrip('apiVersions', v, {});
    assert.equal(r.apiKey, ApiKey.ApiVersions);
    const res = await viaKafkajs('apiVersions', ApiKey.ApiVersions, v, {
      errorCode: 0,
      apiKeys: [
        { apiKey: 0, minVersion: 0, maxVersion: 11 },
        { apiKey: 18, minVersion: 0, maxVersion: 4 },
      ],
      throttleTimeMs: 5,
    });
    assert.deepEqual(res.apiVersions, [
      { apiKey: 0, minVersion: 0, maxVersion: 11 },
      { apiKey: 18, minVersion: 0, maxVersion: 4 },
    ]);
  }
});

test('Metadata v0-v6 requests and responses', async () => {
  for (let v = 0; v <= 6; v++) {
    const r = await roundTrip('metadata', v, { topics: ['orders', 'logs'], allowAutoTopicCreation: v < 4 || v === 5 });
    assert.ok(r.apiKey === ApiKey.Metadata);
    assert.deepEqual(r.body.topics?.map((t) => t.name), ['orders', 'logs']);
    if (v >= 4) assert.equal(r.body.allowAutoTopicCreation, v === 5);
    const res = await viaKafkajs('metadata', ApiKey.Metadata, v, {
      brokers: [{ nodeId: 1, host: 'localhost', port: 9092, rack: null }],
      clusterId: 'wharf',
      controllerId: 1,
      topics: [
        {
          errorCode: 0,
          name: 'orders',
          partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 1, replicaNodes: [1], isrNodes: [1], offlineReplicas: [] }],
        },
      ],
    });
    const brokers = res.brokers as { nodeId: number; host: string; port: number }[];
    assert.deepEqual(brokers.map((b) => [b.nodeId, b.host, b.port]), [[1, 'localhost', 9092]]);
    const topics = res.topicMetadata as { topic: string; partitionMetadata: { partitionId: number; leader: number; replicas: number[] }[] }[];
    assert.equal(topics[0].topic, 'orders');
    assert.deepEqual(topics[0].partitionMetadata.map((p) => [p.partitionId, p.leader, p.replicas]), [[0, 1, [1]]]);
    if (v >= 2) assert.equal(res.clusterId, 'wharf');
  }
});

test('Produce v3-v7 requests carry kafkajs record batches that decode, gzip included', async () => {
  for (let v = 3; v <= 7; v++) {
    const messages = [
      { key: 'k1', value: 'hello', timestamp: 1700000000000, headers: { h: 'x' } },
      { key: null, value: 'world', timestamp: 1700000000005 },
    ];
    const r = await roundTrip('produce', v, {
      acks: -1,
      timeout: 30000,
      compression: v === 4 ? GZIP : 0,
      topicData: [{ topic: 'orders', partitions: [{ partition: 2, messages }] }],
    });
    assert.ok(r.apiKey === ApiKey.Produce);
    assert.equal(r.body.acks, -1);
    const p = r.body.topicData[0].partitionData[0];
    assert.equal(r.body.topicData[0].name, 'orders');
    assert.equal(p.index, 2);
    const { batches } = splitBatches(p.records as Buffer);
    assert.equal(batches.length, 1);
    const h = readBatchHeader(batches[0]);
    assert.equal(h.compression, v === 4 ? GZIP : 0);
    const records = decodeRecords(batches[0]);
    assert.deepEqual(
      records.map((x) => [x.key?.toString() ?? null, x.value?.toString(), x.timestamp, x.offset, x.headers.map((hh) => [hh.key, hh.value?.toString()])]),
      [
        ['k1', 'hello', 1700000000000n, 0n, [['h', 'x']]],
        [null, 'world', 1700000000005n, 1n, []],
      ],
    );
  }
});

test('Produce v0-v2 requests carry old message sets: magic 0 and 1 are detected, not decoded', async () => {
  for (let v = 0; v <= 2; v++) {
    const r = await roundTrip('produce', v, {
      acks: 1,
      timeout: 1000,
      topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ key: 'a', value: 'b', timestamp: 1 }] }] }],
    });
    assert.ok(r.apiKey === ApiKey.Produce);
    const { batches } = splitBatches(r.body.topicData[0].partitionData[0].records as Buffer);
    assert.equal(batches.length, 1);
    assert.equal(batches[0][16], v === 2 ? 1 : 0, 'magic');
    assert.throws(() => readBatchHeader(batches[0]), /magic/);
  }
});

test('Produce v0-v7 responses', async () => {
  for (let v = 0; v <= 7; v++) {
    const res = await viaKafkajs('produce', ApiKey.Produce, v, {
      responses: [{ name: 'orders', partitionResponses: [{ index: 2, errorCode: 0, baseOffset: 41n, logAppendTimeMs: -1n, logStartOffset: 0n }] }],
      throttleTimeMs: 0,
    });
    const topics = res.topics as { topicName: string; partitions: { partition: number; errorCode: number; baseOffset?: string; offset?: string }[] }[];
    assert.equal(topics[0].topicName, 'orders');
    const p = topics[0].partitions[0];
    assert.deepEqual([p.partition, p.errorCode, v < 3 ? p.offset : p.baseOffset], [2, 0, '41']);
  }
});

test('Fetch v0-v11 requests and responses', async () => {
  for (let v = 0; v <= 11; v++) {
    const r = await roundTrip('fetch', v, {
      replicaId: -1,
      maxWaitTime: 500,
      minBytes: 1,
      maxBytes: 1048576,
      isolationLevel: 1,
      topics: [{ topic: 'orders', partitions: [{ partition: 0, fetchOffset: '42', maxBytes: 65536 }] }],
      rackId: '',
    });
    assert.ok(r.apiKey === ApiKey.Fetch);
    assert.equal(r.body.maxWaitMs, 500);
    assert.equal(r.body.topics[0].topic, 'orders');
    assert.equal(r.body.topics[0].partitions[0].fetchOffset, 42n);
    assert.equal(r.body.topics[0].partitions[0].partitionMaxBytes, 65536);
    if (v >= 4) assert.equal(r.body.isolationLevel, 1);
    const batch = concatFrame([Buffer.alloc(0)]);
    const res = await viaKafkajs('fetch', ApiKey.Fetch, v, {
      responses: [{ topic: 'orders', partitions: [{ partitionIndex: 0, errorCode: 0, highWatermark: 43n, lastStableOffset: 43n, logStartOffset: 0n, abortedTransactions: [], records: batch }] }],
    });
    const topics = res.responses as { topicName: string; partitions: { partition: number; highWatermark: string; messages: unknown[] }[] }[];
    assert.equal(topics[0].topicName, 'orders');
    assert.equal(topics[0].partitions[0].highWatermark, '43');
    assert.deepEqual(topics[0].partitions[0].messages, []);
  }
});

test('JoinGroup v0-v5 requests and responses', async () => {
  for (let v = 0; v <= 5; v++) {
    const r = await roundTrip('joinGroup', v, {
      groupId: 'g1',
      sessionTimeout: 30000,
      rebalanceTimeout: 60000,
      memberId: '',
      groupInstanceId: null,
      protocolType: 'consumer',
      groupProtocols: [{ name: 'RoundRobinAssigner', metadata: Buffer.from([0, 1, 0, 0, 0, 0]) }],
    });
    assert.ok(r.apiKey === ApiKey.JoinGroup);
    assert.equal(r.body.groupId, 'g1');
    assert.equal(r.body.protocolType, 'consumer');
    assert.equal(r.body.protocols[0].name, 'RoundRobinAssigner');
    if (v >= 1) assert.equal(r.body.rebalanceTimeoutMs, 60000);
    const res = await viaKafkajs('joinGroup', ApiKey.JoinGroup, v, {
      errorCode: 0,
      generationId: 3,
      protocolName: 'RoundRobinAssigner',
      leader: 'm-1',
      memberId: 'm-1',
      members: [{ memberId: 'm-1', groupInstanceId: null, metadata: Buffer.from([0, 1]) }],
    });
    assert.deepEqual([res.generationId, res.groupProtocol, res.leaderId, res.memberId], [3, 'RoundRobinAssigner', 'm-1', 'm-1']);
    const members = res.members as { memberId: string; memberMetadata: Buffer }[];
    assert.deepEqual([members[0].memberId, [...members[0].memberMetadata]], ['m-1', [0, 1]]);
  }
});
