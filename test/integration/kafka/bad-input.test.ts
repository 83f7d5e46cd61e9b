// Bad input on the Kafka listener, answered as Kafka answers it (the codes and the closes are
// Kafka 3.x's: KafkaApis, ProduceRequest.validateRecords, UnifiedLog, LogValidator,
// ProducerAppendInfo), and never a crash or a harmed neighbour: a kafkajs client connected
// before the first bad request still produces and reads after the last one.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { crc32c } from '@node-rs/crc32';
import type { Producer } from 'kafkajs';
import { ErrorCode } from '../../../src/protocol/kafka/index.js';
import { kafkaClient, skipKafkaUnderReference, topicName } from '../../helpers/kafka.js';
import { testBatch, values } from '../../helpers/kafka-batch.js';
import { RawKafka, rawRequest, sized, startKafkaServer, type KafkaServer } from '../../helpers/raw-kafka.js';

const REQUEST_BYTES_MAX = 1024 * 1024;

/** A batch with its CRC recomputed after `edit` (so only the edit is wrong). */
function edited(batch: Buffer, edit: (b: Buffer) => void): Buffer {
  const b = Buffer.from(batch);
  edit(b);
  b.writeUInt32BE(crc32c(b.subarray(21)), 17);
  return b;
}

describe('kafka: bad input', { skip: skipKafkaUnderReference }, () => {
  let server: KafkaServer;
  let healthy: Producer;
  let healthyTopic: string;
  let healthySent = 0;

  before(async () => {
    server = await startKafkaServer({ requestBytesMax: REQUEST_BYTES_MAX });
    healthyTopic = topicName('healthy');
    await server.vhost.streams.create(healthyTopic, { partitions: 1, kafkaName: true });
    healthy = kafkaClient(server.bootstrap).producer({ allowAutoTopicCreation: false });
    await healthy.connect();
  });
  afterEach(async () => {
    RawKafka.destroyAll();
    // The neighbour connected before the bad input still works after it.
    const [r] = await healthy.send({ topic: healthyTopic, acks: -1, messages: [{ value: `ok-${healthySent}` }] });
    assert.equal(r.errorCode, 0);
    assert.equal(Number(r.baseOffset), healthySent++);
  });
  after(async () => {
    await healthy?.disconnect();
    await server?.close();
  });

  async function produceCode(topic: string, records: Buffer | null, opts: { acks?: number; partition?: number; version?: number } = {}): Promise<number> {
    const raw = await RawKafka.open(server.port);
    const res = await raw.call(0, opts.version ?? 9, {
      transactionalId: null,
      acks: opts.acks ?? -1,
      timeoutMs: 1000,
      topicData: [{ name: topic, partitionData: [{ index: opts.partition ?? 0, records }] }],
    });
    raw.destroy();
    return res.responses[0].partitionResponses[0].errorCode;
  }

  async function newTopic(configs: Record<string, string> = {}): Promise<string> {
    const name = topicName('bad');
    await server.vhost.streams.create(name, { partitions: 1, kafkaName: true, configs });
    return name;
  }

  test('an unknown api key closes the connection', async () => {
    for (const apiKey of [999, 57, -1]) {
      const raw = await RawKafka.open(server.port);
      raw.write(rawRequest(apiKey, 0, 7));
      assert.equal(await raw.closesWithin(), true, `api key ${apiKey}`);
    }
  });

  test('an unsupported version of a served API closes the connection', async () => {
    // Produce v2 carries message sets v0/v1; Metadata v99 does not exist.
    for (const [apiKey, version] of [[0, 2], [1, 3], [3, 99], [19, -1]]) {
      const raw = await RawKafka.open(server.port);
      raw.write(rawRequest(apiKey, version, 7, Buffer.alloc(16)));
      assert.equal(await raw.closesWithin(), true, `api key ${apiKey} v${version}`);
    }
  });

  test('ApiVersions at a version too new is answered in v0 with UNSUPPORTED_VERSION (KIP-511)', async () => {
    const raw = await RawKafka.open(server.port);
    raw.write(rawRequest(18, 99, 4242, Buffer.alloc(3)));
    const frame = await raw.next();
    assert.ok(frame, 'a response, not a close');
    assert.equal(frame.readInt32BE(0), 4242, 'correlation id');
    assert.equal(frame.readInt16BE(4), ErrorCode.UNSUPPORTED_VERSION);
    // v0: an int32 count of (api key, min, max) entries; ApiVersions itself is among them.
    const n = frame.readInt32BE(6);
    const keys = Array.from({ length: n }, (_, i) => frame.readInt16BE(10 + i * 6));
    assert.ok(keys.includes(18) && keys.includes(0) && keys.includes(1));
    // The connection stays open: the client retries with a version we serve.
    const again = await raw.call(18, 3, { clientSoftwareName: 'raw-test', clientSoftwareVersion: '1.0' });
    assert.equal(again.errorCode, ErrorCode.NONE);
  });

  test('ApiVersions v3 with an invalid client software name is INVALID_REQUEST', async () => {
    const raw = await RawKafka.open(server.port);
    const res = await raw.call(18, 3, { clientSoftwareName: 'bad name!', clientSoftwareVersion: '1.0' });
    assert.equal(res.errorCode, ErrorCode.INVALID_REQUEST);
  });

  test('truncated requests and garbage bodies close the connection', async () => {
    const cases: [string, Buffer][] = [
      ['a frame shorter than a header', sized(Buffer.from([0, 3, 0]))],
      ['an empty frame', sized(Buffer.alloc(0))],
      ['a header whose client id runs past the frame', sized(Buffer.from([0, 3, 0, 1, 0, 0, 0, 1, 0, 50, 65]))],
      ['Metadata v1 without a body', rawRequest(3, 1, 1)],
      ['Produce v9 with a garbage body', rawRequest(0, 9, 1, Buffer.from('not a produce request at all, just bytes'))],
      ['Fetch v12 with an array length past the end', rawRequest(1, 12, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff]))],
    ];
    for (const [what, bytes] of cases) {
      const raw = await RawKafka.open(server.port);
      raw.write(bytes);
      assert.equal(await raw.closesWithin(), true, what);
    }
  });

  test('a negative or oversized size prefix closes the connection before any body arrives', async () => {
    for (const size of [-1, -2147483648, REQUEST_BYTES_MAX + 1, 2147483647]) {
      const raw = await RawKafka.open(server.port);
      const head = Buffer.alloc(4);
      head.writeInt32BE(size);
      raw.write(head); // only the size: a server that buffered the body would wait for it
      assert.equal(await raw.closesWithin(), true, `size ${size}`);
    }
    // A request of exactly the limit is read.
    const raw = await RawKafka.open(server.port);
    const pad = REQUEST_BYTES_MAX - 10 - 3;
    raw.write(rawRequest(18, 0, 1, Buffer.alloc(pad), 'raw'));
    const frame = await raw.next();
    assert.ok(frame, 'answered');
  });

  test('Produce: a bad CRC is CORRUPT_MESSAGE, nothing is appended', async () => {
    const topic = await newTopic();
    const bad = testBatch(values(2));
    bad[bad.length - 1] ^= 0xff;
    assert.equal(await produceCode(topic, bad), ErrorCode.CORRUPT_MESSAGE);
    assert.equal(server.vhost.streams.get(topic)?.partition(0)?.logEndOffset, 0);
  });

  test('Produce v3+: magic 0/1 message sets and malformed batches are INVALID_RECORD (ProduceRequest.validateRecords, LogValidator)', async () => {
    const topic = await newTopic();
    const good = testBatch(values(2));
    const cases: [string, Buffer | null][] = [
      ['magic 1', edited(good, (b) => { b[16] = 1; })],
      ['magic 0', edited(good, (b) => { b[16] = 0; })],
      ['two batches', Buffer.concat([good, good])],
      ['no records field', null],
      ['an empty records field', Buffer.alloc(0)],
      ['a truncated batch', good.subarray(0, 40)],
      ['a base offset other than 0', edited(good, (b) => b.writeBigInt64BE(5n, 0))],
      ['a record count that disagrees with the last offset delta', edited(good, (b) => b.writeInt32BE(3, 57))],
      ['a record count of 0', edited(good, (b) => { b.writeInt32BE(0, 57); b.writeInt32BE(-1, 23); })],
      ['a control batch', edited(good, (b) => b.writeInt16BE(0x20, 21))],
      ['a producer id without a sequence', testBatch(values(1), { producerId: 5, producerEpoch: 0, baseSequence: -1 })],
      ['records that do not parse', edited(good, (b) => { b[61] = 0x7f; })],
    ];
    for (const [what, records] of cases) assert.equal(await produceCode(topic, records), ErrorCode.INVALID_RECORD, what);
    assert.equal(server.vhost.streams.get(topic)?.partition(0)?.logEndOffset, 0, 'nothing appended');
  });

  test('Produce: an unknown magic or a length below any format\'s minimum is CORRUPT_MESSAGE', async () => {
    const topic = await newTopic();
    assert.equal(await produceCode(topic, edited(testBatch(values(1)), (b) => { b[16] = 3; })), ErrorCode.CORRUPT_MESSAGE);
    assert.equal(await produceCode(topic, edited(testBatch(values(1)), (b) => b.writeInt32BE(5, 8))), ErrorCode.CORRUPT_MESSAGE);
  });

  test('Produce: zstd before Produce v7 is UNSUPPORTED_COMPRESSION_TYPE', async () => {
    const topic = await newTopic();
    const zstd = edited(testBatch(values(1)), (b) => b.writeInt16BE(4, 21));
    assert.equal(await produceCode(topic, zstd, { version: 6 }), ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
    // From v7 on it is read; these records are not zstd frames, so they are corrupt.
    assert.equal(await produceCode(topic, zstd, { version: 7 }), ErrorCode.CORRUPT_MESSAGE);
  });

  test('Produce: a batch over max.message.bytes is MESSAGE_TOO_LARGE', async () => {
    const topic = await newTopic({ 'max.message.bytes': '200' });
    assert.equal(await produceCode(topic, testBatch(values(10, 0, 50))), ErrorCode.MESSAGE_TOO_LARGE);
    assert.equal(await produceCode(topic, testBatch(values(1, 0, 10))), ErrorCode.NONE);
  });

  test('Produce: acks other than -1, 0, 1 is INVALID_REQUIRED_ACKS; missing topics and partitions are UNKNOWN_TOPIC_OR_PARTITION', async () => {
    const topic = await newTopic();
    for (const acks of [2, -2, 100]) assert.equal(await produceCode(topic, testBatch(values(1)), { acks }), ErrorCode.INVALID_REQUIRED_ACKS, `acks ${acks}`);
    assert.equal(await produceCode(topicName('missing'), testBatch(values(1))), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.equal(await produceCode(topic, testBatch(values(1)), { partition: 1 }), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.equal(await produceCode(topic, testBatch(values(1)), { partition: -1 }), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.equal(server.vhost.streams.get(topic)?.partition(0)?.logEndOffset, 0);
  });

  test('Produce with acks=0 that fails closes the connection (the producer has no other way to learn)', async () => {
    const topic = await newTopic();
    const raw = await RawKafka.open(server.port);
    raw.send(0, 9, { transactionalId: null, acks: 0, timeoutMs: 1000, topicData: [{ name: topic, partitionData: [{ index: 0, records: testBatch(values(1)) }] }] });
    // A good acks=0 produce gets no response and keeps the connection.
    const md = await raw.call(3, 1, { topics: [] });
    assert.equal(md.brokers.length, 1);
    raw.send(0, 9, { transactionalId: null, acks: 0, timeoutMs: 1000, topicData: [{ name: topic, partitionData: [{ index: 5, records: testBatch(values(1)) }] }] });
    assert.equal(await raw.closesWithin(), true);
  });

  test('Metadata and CreateTopics refuse invalid topic names with INVALID_TOPIC_EXCEPTION', async () => {
    const raw = await RawKafka.open(server.port);
    const names = ['', '.', '..', 'bad name', 'x'.repeat(250), 'ü'];
    const md = await raw.call(3, 9, { topics: names.map((name) => ({ name })), allowAutoTopicCreation: true, includeTopicAuthorizedOperations: false });
    assert.deepEqual(md.topics.map((t) => t.errorCode), names.map(() => ErrorCode.INVALID_TOPIC_EXCEPTION));
    // Without auto-creation the same names are still invalid rather than unknown (Topic.validate first).
    const md2 = await raw.call(3, 9, { topics: [{ name: 'bad name' }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    assert.equal(md2.topics[0].errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
    const dotted = topicName('a.b');
    const created = await raw.call(19, 5, { topics: [{ name: dotted, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 1000, validateOnly: false });
    assert.equal(created.topics[0].errorCode, ErrorCode.NONE);
    const collide = await raw.call(19, 5, {
      topics: [...names, dotted.replace('.', '_')].map((name) => ({ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] })),
      timeoutMs: 1000,
      validateOnly: false,
    });
    assert.deepEqual(collide.topics.map((t) => t.errorCode), [...names, 'collision'].map(() => ErrorCode.INVALID_TOPIC_EXCEPTION));
    // A Metadata request auto-creating the colliding name is refused the same way.
    const md3 = await raw.call(3, 9, { topics: [{ name: dotted.replace('.', '_') }], allowAutoTopicCreation: true, includeTopicAuthorizedOperations: false });
    assert.equal(md3.topics[0].errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
  });

  test('Fetch and ListOffsets of offsets out of range are OFFSET_OUT_OF_RANGE', async () => {
    const topic = await newTopic();
    assert.equal(await produceCode(topic, testBatch(values(3))), ErrorCode.NONE);
    const raw = await RawKafka.open(server.port);
    for (const fetchOffset of [4n, 1000n, -1n, -5n]) {
      const res = await raw.call(1, 11, {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 1,
        maxBytes: 1 << 20,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
        forgottenTopicsData: [],
        rackId: '',
      });
      const p = res.responses[0].partitions[0];
      assert.equal(p.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE, `offset ${fetchOffset}`);
      assert.equal(p.highWatermark, 3n);
    }
  });

  test('idempotent producers: a gap is OUT_OF_ORDER_SEQUENCE_NUMBER, an old epoch INVALID_PRODUCER_EPOCH, a retry is answered with its first offset', async () => {
    const topic = await newTopic();
    const batch = (seq: number, epoch = 0, pid = 4000): Buffer => testBatch(values(2), { producerId: pid, producerEpoch: epoch, baseSequence: seq });
    const raw = await RawKafka.open(server.port);
    const send = async (records: Buffer): Promise<{ errorCode: number; baseOffset: bigint }> => {
      const res = await raw.call(0, 9, { transactionalId: null, acks: -1, timeoutMs: 1000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] });
      return res.responses[0].partitionResponses[0];
    };
    // An unknown producer may start at any sequence (its state may have expired; Kafka 2.5+).
    const first = await send(batch(10));
    assert.equal(first.errorCode, ErrorCode.NONE);
    assert.equal(first.baseOffset, 0n);
    const second = await send(batch(12));
    assert.equal(second.errorCode, ErrorCode.NONE);
    assert.equal(second.baseOffset, 2n);
    const retry = await send(batch(10));
    assert.equal(retry.errorCode, ErrorCode.NONE);
    assert.equal(retry.baseOffset, 0n, 'a duplicate of the first batch gets its offset back');
    assert.equal((await send(batch(20))).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert.equal((await send(batch(15))).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 'a sequence already passed that is not a known batch');
    assert.equal((await send(batch(3, 1))).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 'a new epoch must start at 0');
    assert.equal((await send(batch(0, 1))).errorCode, ErrorCode.NONE);
    assert.equal((await send(batch(14, 0))).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
    assert.equal(server.vhost.streams.get(topic)?.partition(0)?.logEndOffset, 6);
  });

  test('a client gone mid-request or mid-long-poll leaves no watcher, timer or connection behind', async () => {
    const topic = await newTopic();
    const partition = server.vhost.streams.get(topic)?.partition(0);
    assert.ok(partition);
    const baseline = server.listener.connectionCount;
    // Half a request, then gone.
    const half = await RawKafka.open(server.port);
    half.write(rawRequest(3, 1, 1, Buffer.from([0, 0, 0, 0])).subarray(0, 9));
    // A long poll on an empty partition, then gone.
    const polls = await Promise.all([1, 2, 3].map(() => RawKafka.open(server.port)));
    for (const raw of polls) {
      raw.send(1, 11, {
        replicaId: -1,
        maxWaitMs: 60_000,
        minBytes: 1,
        maxBytes: 1 << 20,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
        forgottenTopicsData: [],
        rackId: '',
      });
    }
    await until(() => partition.watcherCount === 3, 'three long polls waiting');
    assert.equal(server.listener.connectionCount, baseline + 4);
    half.destroy();
    for (const raw of polls) raw.destroy();
    await until(() => partition.watcherCount === 0 && server.listener.connectionCount === baseline, 'watchers and connections released');
  });

  test('a client that stops reading its responses is paused: bounded in-flight requests and unsent bytes', async () => {
    const topic = await newTopic();
    // 1 MiB in the partition, so each Fetch response is about 1 MiB.
    for (let i = 0; i < 16; i++) assert.equal(await produceCode(topic, testBatch(values(64, i * 64, 1000))), ErrorCode.NONE);
    const raw = await RawKafka.open(server.port);
    raw.socket.pause(); // never read
    const fetches = 2000;
    for (let i = 0; i < fetches; i++) {
      raw.send(1, 11, {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 2 << 20,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 2 << 20 }] }],
        forgottenTopicsData: [],
        rackId: '',
      });
    }
    // 2000 responses of 1 MiB would be 2 GB; the server holds at most its output limit plus one response.
    const { OUTPUT_BYTES_MAX, PENDING_MAX } = await import('../../../src/server/kafka/connection.js');
    await until(() => server.listener.connectionStats().some((s) => s.paused && s.outputBytes > OUTPUT_BYTES_MAX), 'the connection pauses');
    const held = server.listener.connectionStats().find((s) => s.paused);
    assert.ok(held);
    assert.ok(held.inFlight <= PENDING_MAX, `${held.inFlight} in flight`);
    assert.ok(held.outputBytes <= OUTPUT_BYTES_MAX + (2 << 20), `${held.outputBytes} bytes unsent`);
    assert.ok(held.backlogFrames < fetches, 'the rest is not even read');
    raw.destroy();
    await until(() => server.listener.connectionStats().every((s) => !s.paused), 'the stalled connection is gone');
  });
});

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
