// The group coordinator's life as leadership of its offsets partition comes and goes
// (docs/cluster.md, "Consumer groups and producer ids"), step by step: a real broker and Kafka
// listener in this process, raw requests, and a scripted StreamReplication in place of the
// cluster's, which says which __consumer_offsets partitions this node leads under which epoch
// and when a batch is committed. The cluster suite (test/integration/cluster/consumer-groups)
// runs the same through real nodes and failures; here each transition is driven on purpose:
// not leading -> NOT_COORDINATOR; leading -> COORDINATOR_LOAD_IN_PROGRESS, then answers; a
// commit is answered only once its batch is committed; a new epoch reloads what was committed;
// deposed -> NOT_COORDINATOR again. The transaction coordinator does the same with its
// __transaction_state partition (docs/cluster.md, "Transactions").

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { OFFSETS_TOPIC, offsetsPartitionFor } from '../../../src/broker/stream/groups/replicated.js';
import type { PartitionRole, ReplicaNode, StreamReplication, StreamShape } from '../../../src/broker/stream/replication.js';
import { internalPartitionFor } from '../../../src/broker/stream/replicated-coordinators.js';
import { TXN_TOPIC } from '../../../src/broker/stream/txn/replicated.js';
import { decodeResponse, ErrorCode } from '../../../src/protocol/kafka/index.js';
import { waitUntil } from '../../helpers/async.js';
import { RawKafka, startKafkaServer, type KafkaServer } from '../../helpers/raw-kafka.js';

const SELF = 7;
const OTHER = 8;

/** This node leads the partitions in `leading` (partition -> epoch); another node leads the rest. */
class ScriptedReplication implements StreamReplication {
  readonly selfId = SELF;
  readonly leading = new Map<number, number>();
  /** The same for the transaction state topic's partitions. */
  readonly leadingTxn = new Map<number, number>();
  readonly shapes: StreamShape[] = [];
  /** Commits waiting for release(), by offset. */
  readonly waiting: { offset: number; release: () => void }[] = [];
  holdCommits = false;

  constructor(private readonly server: () => KafkaServer) {}

  nodes(): ReplicaNode[] {
    return [
      { id: SELF, name: 'self', host: '127.0.0.1', port: this.server().port },
      { id: OTHER, name: 'other', host: 'other.example', port: 19092 },
    ];
  }

  role(_vhost: string, stream: string, partition: number): PartitionRole | undefined {
    if ((stream !== OFFSETS_TOPIC && stream !== TXN_TOPIC) || this.server().vhost.streams.get(stream) === undefined) return undefined;
    const epoch = (stream === TXN_TOPIC ? this.leadingTxn : this.leading).get(partition);
    const replicaNames = ['self', 'other'];
    if (epoch !== undefined) return { leader: true, leaderId: SELF, leaderName: 'self', epoch, replicas: [SELF, OTHER], replicaNames, isr: [SELF, OTHER] };
    return { leader: false, leaderId: OTHER, leaderName: 'other', epoch: 1, replicas: [SELF, OTHER], replicaNames, isr: [SELF, OTHER] };
  }

  async created(vhost: string, shape: StreamShape): Promise<void> {
    this.shapes.push(shape);
    await this.server().broker.vhost(vhost)?.streams.create(shape.name, { partitions: shape.partitions, kafkaName: true, topicId: shape.topicId, configs: { ...shape.configs } });
  }

  committed(_vhost: string, _stream: string, _partition: number, offset: number): Promise<void> {
    if (!this.holdCommits) return Promise.resolve();
    return new Promise((release) => this.waiting.push({ offset, release }));
  }

  deleted(): Promise<void> {
    return Promise.resolve();
  }

  checkReplicationFactor(): void {}

  highWatermark(): number {
    return 0;
  }

  checkInSync(): void {}

  epochEnd(): { epoch: number; endOffset: number } {
    return { epoch: -1, endOffset: -1 };
  }

  followerFetched(): void {}
}

describe('a group coordinator follows the leadership of its offsets partition', () => {
  let server: KafkaServer;
  let replication: ScriptedReplication;
  let raw: RawKafka;
  const groupId = 'roles-group';
  const topic = 'roles-topic';

  const heartbeat = async (): Promise<number> => (await raw.call(12, 3, { groupId, generationId: 1, memberId: 'nobody', groupInstanceId: null })).errorCode;
  const fetchOffset = async (): Promise<{ errorCode: number; offset: bigint | undefined }> => {
    const r = await raw.call(9, 5, { groupId, topics: [{ name: topic, partitionIndexes: [0] }], requireStable: false, groups: [] });
    return { errorCode: r.errorCode, offset: r.topics[0]?.partitions[0]?.committedOffset };
  };
  const commitBody = (offset: bigint) => ({
    groupId, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1n,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: '' }] }],
  });

  before(async () => {
    server = await startKafkaServer();
    replication = new ScriptedReplication(() => server);
    server.broker.clustered = true;
    server.broker.replication = replication;
    await server.vhost.streams.create(topic, { partitions: 1, kafkaName: true });
    raw = await RawKafka.open(server.port);
  });
  after(async () => {
    raw.destroy();
    server.broker.replication = undefined;
    await server.close();
  });

  it('walks through not leading, loading, committing, a new epoch and being deposed', { timeout: 60_000 }, async () => {
    // No offsets topic yet: FindCoordinator creates it and answers COORDINATOR_NOT_AVAILABLE.
    const first = await raw.call(10, 3, { key: groupId, keyType: 0, coordinatorKeys: [] });
    assert.equal(first.errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    await waitUntil(() => server.vhost.streams.get(OFFSETS_TOPIC) !== undefined, 'the offsets topic is created');
    assert.equal(replication.shapes[0]?.partitions, 10);
    assert.deepEqual(replication.shapes[0]?.configs, { 'retention.ms': '-1', 'retention.bytes': '-1' });
    const p = offsetsPartitionFor(groupId, 10);

    // Another node leads the group's partition: FindCoordinator names it, group requests here are refused.
    const found = await raw.call(10, 3, { key: groupId, keyType: 0, coordinatorKeys: [] });
    assert.deepEqual([found.errorCode, found.nodeId, found.host, found.port], [ErrorCode.NONE, OTHER, 'other.example', 19092]);
    assert.equal(await heartbeat(), ErrorCode.NOT_COORDINATOR);
    assert.equal((await fetchOffset()).errorCode, ErrorCode.NOT_COORDINATOR);

    // This node becomes leader: the first request finds the partition loading, later ones the coordinator.
    replication.leading.set(p, 1);
    assert.equal(await heartbeat(), ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    await waitUntil(async () => (await heartbeat()) === ErrorCode.UNKNOWN_MEMBER_ID, 'the coordinator answers once loaded');
    const self = await raw.call(10, 3, { key: groupId, keyType: 0, coordinatorKeys: [] });
    assert.equal(self.nodeId, SELF);

    // A commit is answered once its batch is committed, not before.
    replication.holdCommits = true;
    const id = raw.send(8, 2, commitBody(42n));
    await waitUntil(() => replication.waiting.length === 1, 'the commit waits for its batch to be committed');
    const log = server.vhost.streams.get(OFFSETS_TOPIC)?.partition(p);
    assert.equal(log?.logEndOffset, 1, 'the commit record is in the offsets partition');
    const early = await raw.next(0);
    assert.equal(early, undefined, 'no answer while the batch is not committed');
    replication.holdCommits = false;
    replication.waiting[0]?.release();
    const frame = await raw.next();
    assert.ok(frame);
    const answer = decodeResponse(8, 2, frame);
    assert.equal(answer.correlationId, id);
    assert.equal(answer.body.topics[0]?.partitions[0]?.errorCode, ErrorCode.NONE);
    assert.deepEqual(await fetchOffset(), { errorCode: ErrorCode.NONE, offset: 42n });

    // Leader again under a newer epoch (a failover and back): a fresh coordinator replays the partition.
    replication.leading.set(p, 2);
    assert.equal((await fetchOffset()).errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    await waitUntil(async () => (await fetchOffset()).errorCode === ErrorCode.NONE, 'reloaded under the new epoch');
    assert.deepEqual(await fetchOffset(), { errorCode: ErrorCode.NONE, offset: 42n }, 'the committed offset is replayed');
    const batches = await log?.read(0, 1 << 20);
    assert.equal(batches?.batches[0]?.readInt32BE(12), 1, 'the commit\'s batch carries the epoch it was written under');

    // Deposed: the coordinator stops answering and ListGroups no longer lists the group.
    replication.leading.delete(p);
    assert.equal((await fetchOffset()).errorCode, ErrorCode.NOT_COORDINATOR);
    assert.equal((await raw.call(8, 2, commitBody(43n))).topics[0]?.partitions[0]?.errorCode, ErrorCode.NOT_COORDINATOR);
    const listed = await raw.call(16, 3, { statesFilter: [], typesFilter: [] });
    assert.ok(!listed.groups.some((g) => g.groupId === groupId));
  });

  it('a transaction coordinator: not leading, loading, answering, replaying under a new epoch, deposed', { timeout: 60_000 }, async () => {
    const transactionalId = 'roles-txn';
    const init = async (): Promise<{ errorCode: number; producerId: bigint; producerEpoch: number }> =>
      raw.call(22, 2, { transactionalId, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
    // No transaction state topic yet: FindCoordinator (key type 1) creates it.
    const first = await raw.call(10, 3, { key: transactionalId, keyType: 1, coordinatorKeys: [] });
    assert.equal(first.errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    await waitUntil(() => server.vhost.streams.get(TXN_TOPIC) !== undefined, 'the transaction state topic is created');
    const shape = replication.shapes.find((x) => x.name === TXN_TOPIC);
    assert.equal(shape?.partitions, 10);
    assert.deepEqual(shape?.configs, { 'retention.ms': '-1', 'retention.bytes': '-1' });
    const p = internalPartitionFor(transactionalId, 10);

    // Another node leads the id's partition: FindCoordinator names it, this node refuses the id.
    const found = await raw.call(10, 3, { key: transactionalId, keyType: 1, coordinatorKeys: [] });
    assert.deepEqual([found.errorCode, found.nodeId, found.host, found.port], [ErrorCode.NONE, OTHER, 'other.example', 19092]);
    assert.equal((await init()).errorCode, ErrorCode.NOT_COORDINATOR);

    // This node leads: loading first, then the coordinator answers.
    replication.leadingTxn.set(p, 1);
    assert.equal((await init()).errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    let r = await init();
    await waitUntil(async () => (r = await init()).errorCode === ErrorCode.NONE, 'the transaction coordinator answers once loaded');
    const { producerId, producerEpoch } = r;

    // A new epoch: a fresh coordinator replays the partition, so the id keeps its producer id and the epoch goes on.
    replication.leadingTxn.set(p, 2);
    await waitUntil(async () => (r = await init()).errorCode === ErrorCode.NONE, 'the coordinator of the new epoch answers');
    assert.equal(r.producerId, producerId, 'the replayed state has the producer id');
    assert.ok(r.producerEpoch > producerEpoch, 'and its epoch, which InitProducerId bumps again');

    // Deposed: NOT_COORDINATOR.
    replication.leadingTxn.delete(p);
    assert.equal((await init()).errorCode, ErrorCode.NOT_COORDINATOR);
  });
});
