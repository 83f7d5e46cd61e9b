// The transaction APIs request by request, with the error codes Kafka gives each version: what no
// client library lets a test choose (old versions, stale epochs, requests out of order), plus
// DescribeTransactions and ListTransactions, which kafkajs and librdkafka 2.0 do not send.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ErrorCode } from '../../../src/protocol/kafka/index.js';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { kafkaClient, skipKafkaUnderReference, topicName } from '../../helpers/kafka.js';
import { testBatch, values } from '../../helpers/kafka-batch.js';
import { RawKafka } from '../../helpers/kafka-raw.js';

const TIMEOUT_MS = 60_000;

describe('Kafka transaction APIs, request by request', { skip: skipKafkaUnderReference }, () => {
  let broker: TestBroker;
  let raw: RawKafka;
  let topic: string;
  before(async () => {
    broker = await startTestBroker();
    raw = await RawKafka.connect(broker.handle.kafkaBootstrap);
    topic = topicName('txp');
    const admin = kafkaClient(broker.handle.kafkaBootstrap).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
    await admin.disconnect();
  });
  after(async () => {
    raw?.close();
    await broker?.close();
  });

  async function init(transactionalId: string, version = 4): Promise<{ pid: bigint; epoch: number }> {
    const r = await raw.request(22, version, { transactionalId, transactionTimeoutMs: TIMEOUT_MS, producerId: -1n, producerEpoch: -1 });
    assert.equal(r.errorCode, ErrorCode.NONE);
    return { pid: r.producerId, epoch: r.producerEpoch };
  }

  const addPartitions = async (version: number, transactionalId: string, pid: bigint, epoch: number, partitions: { name: string; partitions: number[] }[]) =>
    (await raw.request(24, version, { v3AndBelowTransactionalId: transactionalId, v3AndBelowProducerId: pid, v3AndBelowProducerEpoch: epoch, v3AndBelowTopics: partitions }))
      .resultsByTopicV3AndBelow.flatMap((t) => t.resultsByPartition.map((p) => `${t.name === topic ? 'T' : t.name}/${p.partitionIndex}=${p.partitionErrorCode}`));

  const endTxn = async (version: number, transactionalId: string, pid: bigint, epoch: number, committed: boolean) =>
    (await raw.request(26, version, { transactionalId, producerId: pid, producerEpoch: epoch, committed })).errorCode;

  const produce = async (version: number, transactionalId: string | null, pid: bigint, epoch: number, seq: number, partition = 0) =>
    (await raw.request(0, version, {
      transactionalId,
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: topic, partitionData: [{ index: partition, records: testBatch(values(2, seq), { producerId: Number(pid), producerEpoch: epoch, baseSequence: seq, transactional: true }) }] }],
    })).responses[0].partitionResponses[0].errorCode;

  test('InitProducerId: new ids, epoch bumps, bad timeouts and requests', async () => {
    const id = topicName('tid');
    const a = await init(id);
    const b = await init(id);
    assert.equal(b.pid, a.pid);
    assert.equal(b.epoch, a.epoch + 1);
    const bad = await raw.request(22, 4, { transactionalId: id, transactionTimeoutMs: 900_001, producerId: -1n, producerEpoch: -1 });
    assert.equal(bad.errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    const empty = await raw.request(22, 4, { transactionalId: '', transactionTimeoutMs: TIMEOUT_MS, producerId: -1n, producerEpoch: -1 });
    assert.equal(empty.errorCode, ErrorCode.INVALID_REQUEST);
    // KIP-360 with a stale epoch: PRODUCER_FENCED from v4, INVALID_PRODUCER_EPOCH before.
    const stale = { transactionalId: id, transactionTimeoutMs: TIMEOUT_MS, producerId: a.pid, producerEpoch: 77 };
    assert.equal((await raw.request(22, 4, stale)).errorCode, ErrorCode.PRODUCER_FENCED);
    assert.equal((await raw.request(22, 3, stale)).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
  });

  test('AddPartitionsToTxn and EndTxn: unknown partitions, stale epochs per version, no transaction', async () => {
    const id = topicName('tid');
    const { pid, epoch } = await init(id);
    assert.equal(await endTxn(3, id, pid, epoch, true), ErrorCode.INVALID_TXN_STATE, 'nothing to commit yet');
    assert.deepEqual(await addPartitions(3, id, pid, epoch, [{ name: topic, partitions: [0] }, { name: 'no-such-topic', partitions: [0] }]), [
      `T/0=${ErrorCode.OPERATION_NOT_ATTEMPTED}`,
      `no-such-topic/0=${ErrorCode.UNKNOWN_TOPIC_OR_PARTITION}`,
    ]);
    assert.deepEqual(await addPartitions(1, id, pid, epoch + 5, [{ name: topic, partitions: [0] }]), [`T/0=${ErrorCode.INVALID_PRODUCER_EPOCH}`]);
    assert.deepEqual(await addPartitions(2, id, pid, epoch + 5, [{ name: topic, partitions: [0] }]), [`T/0=${ErrorCode.PRODUCER_FENCED}`]);
    assert.deepEqual(await addPartitions(3, id, pid + 1n, epoch, [{ name: topic, partitions: [0] }]), [`T/0=${ErrorCode.INVALID_PRODUCER_ID_MAPPING}`]);
    assert.deepEqual(await addPartitions(3, id, pid, epoch, [{ name: topic, partitions: [0, 1] }]), [`T/0=0`, `T/1=0`]);
    assert.equal(await endTxn(1, id, pid, epoch + 1, true), ErrorCode.INVALID_PRODUCER_EPOCH);
    assert.equal(await endTxn(3, id, pid, epoch + 1, true), ErrorCode.PRODUCER_FENCED);
    assert.equal(await endTxn(3, id, pid, epoch, false), ErrorCode.NONE);
    assert.equal(await endTxn(3, id, pid, epoch, false), ErrorCode.NONE, 'a retried abort');
    assert.equal(await endTxn(3, id, pid, epoch, true), ErrorCode.INVALID_TXN_STATE, 'commit after abort');
  });

  test('AddPartitionsToTxn v4+: the batched form, and verify-only checks', async () => {
    const id = topicName('tid');
    const { pid, epoch } = await init(id);
    const r = await raw.request(24, 5, {
      transactions: [
        { transactionalId: id, producerId: pid, producerEpoch: epoch, verifyOnly: false, topics: [{ name: topic, partitions: [1] }] },
        { transactionalId: 'nobody-' + id, producerId: pid, producerEpoch: epoch, verifyOnly: false, topics: [{ name: topic, partitions: [1] }] },
      ],
    });
    const codes = r.resultsByTransaction.map((t) => t.topicResults[0].resultsByPartition[0].partitionErrorCode);
    assert.deepEqual(codes, [ErrorCode.NONE, ErrorCode.INVALID_PRODUCER_ID_MAPPING]);
    const verify = await raw.request(24, 5, {
      transactions: [{ transactionalId: id, producerId: pid, producerEpoch: epoch, verifyOnly: true, topics: [{ name: topic, partitions: [0, 1] }] }],
    });
    assert.deepEqual(verify.resultsByTransaction[0].topicResults[0].resultsByPartition.map((p) => p.partitionErrorCode), [ErrorCode.TRANSACTION_ABORTABLE, ErrorCode.NONE]);
    assert.equal(await endTxn(4, id, pid, epoch, false), ErrorCode.NONE);
  });

  test('Produce: transactional batches need a transactional id and a partition in the transaction', async () => {
    const id = topicName('tid');
    const { pid, epoch } = await init(id);
    assert.equal(await produce(9, null, pid, epoch, 0), ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    assert.equal(await produce(9, id, pid, epoch, 0), ErrorCode.INVALID_TXN_STATE, 'not added to the transaction (before Produce v11)');
    assert.equal(await produce(11, id, pid, epoch, 0), ErrorCode.TRANSACTION_ABORTABLE, 'not added to the transaction (v11)');
    await addPartitions(3, id, pid, epoch, [{ name: topic, partitions: [0] }]);
    assert.equal(await produce(9, id, pid, epoch + 1, 0), ErrorCode.INVALID_PRODUCER_EPOCH);
    assert.equal(await produce(9, id, pid, epoch, 0), ErrorCode.NONE);
    assert.equal(await produce(9, id, pid, epoch, 2), ErrorCode.NONE);
    assert.equal(await endTxn(3, id, pid, epoch, true), ErrorCode.NONE);
    assert.equal(await produce(9, id, pid, epoch, 4), ErrorCode.INVALID_TXN_STATE, 'the transaction is over');
  });

  test('TxnOffsetCommit needs AddOffsetsToTxn first; OffsetFetch with require_stable sees the pending offset', async () => {
    const id = topicName('tid');
    const groupId = topicName('tg');
    const { pid, epoch } = await init(id);
    const commit = async (version: number, e = epoch) =>
      (await raw.request(28, version, { transactionalId: id, groupId, producerId: pid, producerEpoch: e, generationId: -1, memberId: '', groupInstanceId: null, topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: 42n, committedLeaderEpoch: -1, committedMetadata: 'm' }] }] }))
        .topics[0].partitions[0].errorCode;
    assert.equal(await commit(3), ErrorCode.INVALID_TXN_STATE);
    assert.equal(await commit(4), ErrorCode.TRANSACTION_ABORTABLE);
    assert.equal((await raw.request(25, 3, { transactionalId: id, producerId: pid, producerEpoch: epoch, groupId })).errorCode, ErrorCode.NONE);
    assert.equal((await raw.request(25, 1, { transactionalId: id, producerId: pid, producerEpoch: epoch + 1, groupId })).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
    assert.equal(await commit(3, epoch + 1), ErrorCode.INVALID_PRODUCER_EPOCH);
    assert.equal(await commit(3), ErrorCode.NONE);
    const fetchOffset = async (requireStable: boolean) =>
      (await raw.request(9, 7, { groupId, topics: [{ name: topic, partitionIndexes: [0] }], requireStable })).topics[0].partitions[0];
    assert.equal((await fetchOffset(true)).errorCode, ErrorCode.UNSTABLE_OFFSET_COMMIT);
    assert.equal((await fetchOffset(false)).committedOffset, -1n);
    assert.equal(await endTxn(3, id, pid, epoch, true), ErrorCode.NONE);
    const after = await fetchOffset(true);
    assert.equal(after.errorCode, ErrorCode.NONE);
    assert.equal(after.committedOffset, 42n);
  });

  test('DescribeTransactions and ListTransactions; ListOffsets under read_committed stops at the last stable offset', async () => {
    const id = topicName('tid');
    const { pid, epoch } = await init(id);
    await addPartitions(3, id, pid, epoch, [{ name: topic, partitions: [1] }]);
    const listOffsets = async (isolationLevel: number) =>
      (await raw.request(2, 5, { replicaId: -1, isolationLevel, topics: [{ name: topic, partitions: [{ partitionIndex: 1, timestamp: -1n }] }] })).topics[0].partitions[0].offset;
    const before = await listOffsets(1);
    assert.equal(await produce(9, id, pid, epoch, 0, 1), ErrorCode.NONE);
    assert.equal(await listOffsets(1), before);
    assert.equal(await listOffsets(0), before + 2n);

    const d = (await raw.request(65, 0, { transactionalIds: [id, 'nobody-' + id] })).transactionStates;
    assert.equal(d[0].errorCode, ErrorCode.NONE);
    assert.equal(d[0].transactionState, 'Ongoing');
    assert.equal(d[0].producerId, pid);
    assert.equal(d[0].producerEpoch, epoch);
    assert.equal(d[0].transactionTimeoutMs, TIMEOUT_MS);
    assert.ok(d[0].transactionStartTimeMs > 0n);
    assert.deepEqual(d[0].topics, [{ topic, partitions: [1] }]);
    assert.equal(d[1].errorCode, ErrorCode.TRANSACTIONAL_ID_NOT_FOUND);

    const l = await raw.request(66, 1, { stateFilters: ['Ongoing', 'Nonsense'], producerIdFilters: [pid], durationFilter: -1n });
    assert.deepEqual(l.transactionStates.map((t) => [t.transactionalId, t.transactionState]), [[id, 'Ongoing']]);
    assert.deepEqual(l.unknownStateFilters, ['Nonsense']);

    assert.equal(await endTxn(3, id, pid, epoch, true), ErrorCode.NONE);
    assert.equal(await listOffsets(1), before + 3n, 'the records and the COMMIT marker');
    assert.equal((await raw.request(65, 0, { transactionalIds: [id] })).transactionStates[0].transactionState, 'CompleteCommit');
  });
});
