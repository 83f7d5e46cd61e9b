// Fetch: whole record batches from each partition, exactly as stored, up to the high watermark
// (records below it are durable); read_committed (isolation level 1) only up to the last stable
// offset, with the aborted transactions among the batches returned, which the client drops.
// When there is less than min_bytes it long-polls: it waits for any of the partitions' high
// watermarks to move and answers as soon as enough data is there, when max_wait_ms has passed,
// or when the client goes away.

import { CLUSTER_LINK_USER } from '../../../broker/access/access.js';
import { LAST_OFFSET_DELTA_AT } from '../../../broker/stream/batch-header.js';
import type { Partition } from '../../../broker/stream/partition.js';
import { ReplicationError } from '../../../broker/stream/replication.js';
import type { Stream } from '../../../broker/stream/stream.js';
import {
  ErrorCode,
  ZERO_UUID,
  type FetchRequest,
  type FetchRequestFetchPartition,
  type FetchResponsePartitionData,
  type Input,
} from '../../../protocol/kafka/index.js';
import { AFTER_WRITE, streamById, type Handler, type KafkaContext } from '../context.js';
import { failureOf } from '../errors.js';
import { ReadBufferPool } from '../read-buffers.js';

/** One pool for every Kafka connection of the process. */
const readBuffers = new ReadBufferPool();

interface Wanted {
  readonly topic: string;
  readonly topicId: string;
  readonly stream: Stream | undefined;
  readonly req: FetchRequestFetchPartition;
  readonly partition: Partition | undefined;
}

type PartitionOut = Input<FetchResponsePartitionData>;

/** A partition answered with an error and no data. */
function refusedPartition(partitionIndex: number, errorCode: number): PartitionOut {
  return { partitionIndex, errorCode, highWatermark: -1n, lastStableOffset: -1n, logStartOffset: -1n, records: null };
}

const READ_COMMITTED = 1;
/** Kafka's fetch.max.bytes broker default: no response is bigger, whatever the client asks. */
const FETCH_BYTES_MAX = 55 * 1024 * 1024;

function resolve(
  ctx: KafkaContext,
  topics: readonly { topic: string; topicId: string; partitions: readonly FetchRequestFetchPartition[] }[],
  byId: boolean,
  replica: boolean,
): Wanted[] {
  const out: Wanted[] = [];
  for (const t of topics) {
    // A follower also fetches the logs of quorum queues, which no client can name.
    const byName = replica ? ctx.vhost.streams.getAny(t.topic) : ctx.vhost.streams.get(t.topic);
    const stream = byId ? (t.topicId !== ZERO_UUID ? streamById(ctx.vhost, t.topicId) : undefined) : byName;
    for (const p of t.partitions) {
      out.push({ topic: stream?.name ?? t.topic, topicId: stream?.topicId ?? t.topicId, stream, req: p, partition: stream?.partition(p.partition) });
    }
  }
  return out;
}

/**
 * In a cluster, a replicated partition is read on its leader only, at the leader's epoch
 * (Kafka's Partition.fetchRecords: NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH for an older
 * current_leader_epoch, UNKNOWN_LEADER_EPOCH for a newer one). A follower's fetch (replica id
 * set) reports its log end and reads up to the leader's log end; a consumer reads below the high
 * watermark. Undefined: not replicated, read as on a single node.
 */
function replicaLimit(ctx: KafkaContext, w: Wanted, replicaId: number): number | ReplicationError | undefined {
  const r = ctx.broker.replication;
  const role = r?.role(ctx.vhost.name, w.topic, w.req.partition);
  if (r === undefined || role === undefined) return undefined;
  if (!role.leader) return new ReplicationError('not-leader', `this node does not lead ${w.topic}-${w.req.partition}`);
  const asked = w.req.currentLeaderEpoch;
  if (asked >= 0 && asked < role.epoch) return new ReplicationError('fenced-epoch', `leader epoch ${asked} is older than ${role.epoch}`);
  if (asked > role.epoch) return new ReplicationError('unknown-epoch', `leader epoch ${asked} is newer than ${role.epoch}`);
  if (replicaId >= 0) r.followerFetched(ctx.vhost.name, w.topic, w.req.partition, replicaId, Number(w.req.fetchOffset));
  return r.highWatermark(ctx.vhost.name, w.topic, w.req.partition);
}

async function readOnce(
  ctx: KafkaContext,
  wanted: readonly Wanted[],
  maxBytes: number,
  readCommitted: boolean,
  unknownCode: number,
  alloc: (bytes: number) => Buffer,
  replicaId: number,
): Promise<{ parts: PartitionOut[]; bytes: number; failed: boolean }> {
  const parts: PartitionOut[] = [];
  let bytes = 0;
  let failed = false;
  for (const w of wanted) {
    const p = w.partition;
    if (!p) {
      failed = true;
      parts.push(refusedPartition(w.req.partition, w.stream ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : unknownCode));
      continue;
    }
    const base = { partitionIndex: w.req.partition, preferredReadReplica: -1 };
    const budget = Math.min(w.req.partitionMaxBytes, maxBytes - bytes);
    try {
      const limit = replicaLimit(ctx, w, replicaId);
      if (limit instanceof ReplicationError) throw limit;
      // KIP-74: the first partition with data returns at least one batch even past the limits.
      const fetchOffset = Number(w.req.fetchOffset);
      const r = budget > 0 || bytes === 0 ? await p.read(fetchOffset, Math.max(budget, 1), readCommitted ? 'committed' : 'uncommitted', alloc) : undefined;
      let hw = BigInt(r?.highWatermark ?? p.highWatermark);
      let batches = r?.batches ?? [];
      let readBytes = r?.bytes ?? 0;
      if (limit !== undefined) {
        hw = BigInt(Math.min(limit, Number(hw)));
        // A consumer sees only what every in-sync replica has; a follower reads on to the log end.
        if (replicaId < 0) {
          batches = batches.filter((b) => Number(b.readBigInt64BE(0)) < limit);
          readBytes = batches.reduce((n, b) => n + b.length, 0);
        }
      }
      bytes += readBytes;
      parts.push({
        ...base,
        abortedTransactions: readCommitted ? abortedIn(p, fetchOffset, batches) : null,
        errorCode: ErrorCode.NONE,
        highWatermark: hw,
        lastStableOffset: BigInt(Math.min(p.lastStableOffset, Number(hw))),
        logStartOffset: BigInt(r?.logStartOffset ?? p.logStartOffset),
        // The writer takes a list of buffers for a records field and sends them without a copy.
        records: (batches.length === 1 ? batches[0] : batches) as unknown as Buffer,
      });
    } catch (err) {
      failed = true;
      parts.push({
        ...base,
        abortedTransactions: readCommitted ? [] : null,
        errorCode: failureOf(err).code,
        highWatermark: err instanceof ReplicationError ? -1n : BigInt(p.highWatermark),
        lastStableOffset: BigInt(p.lastStableOffset),
        logStartOffset: BigInt(p.logStartOffset),
        records: null,
      });
    }
  }
  return { parts, bytes, failed };
}

/** The aborted transactions a read_committed reader needs to drop records of the batches returned. */
function abortedIn(p: Partition, fetchOffset: number, batches: readonly Buffer[]): { producerId: bigint; firstOffset: bigint }[] {
  if (batches.length === 0) return [];
  const last = batches[batches.length - 1];
  const upperBound = Number(last.readBigInt64BE(0)) + last.readInt32BE(LAST_OFFSET_DELTA_AT) + 1;
  return p.abortedTransactions(fetchOffset, upperBound).map((t) => ({ producerId: BigInt(t.producerId), firstOffset: BigInt(t.firstOffset) }));
}

/** Resolves when any partition's high watermark moves, after `ms`, or when the client goes away. */
function waitForData(partitions: readonly Partition[], ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((done) => {
    const stops: (() => void)[] = [];
    const finish = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', finish);
      for (const s of stops) s();
      done();
    };
    const timer = setTimeout(finish, ms);
    signal.addEventListener('abort', finish);
    for (const p of partitions) stops.push(p.watch(finish));
  });
}

/** The most response bytes a Fetch may bring (its max bytes, within fetch.max.bytes), for the connection's output budget. */
export function fetchResponseBytesMax(req: FetchRequest, v: number): number {
  return Math.max(0, Math.min(v >= 3 ? req.maxBytes : FETCH_BYTES_MAX, FETCH_BYTES_MAX));
}

export const fetch: Handler<1> = async (ctx, req, v, source) => {
  const byId = v >= 13;
  const unknownCode = byId ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
  const replicaId = v <= 14 ? req.replicaId : req.replicaState.replicaId;
  // A follower's fetch moves the high watermark: in a cluster only the nodes (logged in as the
  // link user) may send one, as Kafka asks ClusterAction of it (TOPIC_AUTHORIZATION_FAILED).
  if (replicaId >= 0 && ctx.broker.replication !== undefined && source.user !== CLUSTER_LINK_USER) {
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      sessionId: 0,
      responses: req.topics.map((t) => ({ topic: t.topic, topicId: t.topicId, partitions: t.partitions.map((p) => refusedPartition(p.partition, ErrorCode.TOPIC_AUTHORIZATION_FAILED)) })),
    };
  }
  const wanted = resolve(ctx, req.topics, byId, replicaId >= 0);
  const maxBytes = Math.min(v >= 3 ? req.maxBytes : 0x7fffffff, FETCH_BYTES_MAX);
  const readCommitted = req.isolationLevel === READ_COMMITTED;
  const deadline = Date.now() + Math.max(0, req.maxWaitMs);
  // The batches are views of pooled read buffers, given back once the response is written.
  let lease = readBuffers.lease();
  let result = await readOnce(ctx, wanted, maxBytes, readCommitted, unknownCode, lease.alloc, replicaId);
  const live = wanted.map((w) => w.partition).filter((p): p is Partition => p !== undefined);
  while (result.bytes < req.minBytes && !result.failed && live.length > 0 && !source.signal.aborted) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    await waitForData(live, left, source.signal);
    lease.release(); // the short result is dropped
    lease = readBuffers.lease();
    result = await readOnce(ctx, wanted, maxBytes, readCommitted, unknownCode, lease.alloc, replicaId);
  }
  // Group the partitions back under their topics, in request order.
  const topics: { topic: string; topicId: string; partitions: PartitionOut[] }[] = [];
  let i = 0;
  for (const t of req.topics) {
    const w = t.partitions.length > 0 ? wanted[i] : undefined;
    const partitions = result.parts.slice(i, i + t.partitions.length);
    i += t.partitions.length;
    topics.push({ topic: w?.topic ?? t.topic, topicId: w?.topicId ?? t.topicId, partitions });
  }
  const done = lease;
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses: topics, [AFTER_WRITE]: () => done.release() };
};
