// A follower's fetch session to its leader, in Kafka's own terms (docs/cluster.md, "Streams:
// the data plane"): Fetch v12 with replica_id set to the follower's broker id and
// current_leader_epoch set to the epoch it follows, one request at a time on one connection.
// The leader reads its log below its log end (not the high watermark) for a replica, and its
// answer's high watermark is what the follower learns of the commit point. Each connection first
// logs in (SASL PLAIN as the cluster's link user, its password the cluster's secret) in the
// partition's vhost: the leader serves a replica's fetch only to that user, on any listener.

import type { ReplicaFetchRequest, ReplicaFetchResult, ReplicaOffsetRequest, ReplicaOffsetResult, ReplicaSession } from '../../cluster/streams/fetcher.js';
import { BATCH_LOG_OVERHEAD_BYTES } from '../../broker/stream/batch-header.js';
import { ErrorCode, errorCodeName } from '../../protocol/kafka/index.js';
import { KafkaPeerSession, linkLogin } from './peer-session.js';

const FETCH = 1 as const;
const FETCH_VERSION = 12;
const LIST_OFFSETS = 2 as const;
/** v4: current_leader_epoch, so a stale leader answers FENCED_LEADER_EPOCH. */
const LIST_OFFSETS_VERSION = 4;
const FETCH_BYTES_MAX = 8 * 1024 * 1024;

export class KafkaReplicaSession implements ReplicaSession {
  private readonly peer: KafkaPeerSession;

  /** `secret`: the cluster's secret (the link user's password); undefined until the node has read it. */
  constructor(vhost: string, secret: () => string | undefined) {
    this.peer = new KafkaPeerSession('wharf-replica', linkLogin(vhost, secret));
  }

  async fetch(req: ReplicaFetchRequest): Promise<ReplicaFetchResult> {
    try {
      const body = await this.peer.request(FETCH, FETCH_VERSION, req, {
        replicaId: req.replicaId,
        maxWaitMs: req.maxWaitMs,
        minBytes: 1,
        maxBytes: FETCH_BYTES_MAX,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{
          topic: req.stream,
          partitions: [{ partition: req.partition, currentLeaderEpoch: req.epoch, fetchOffset: BigInt(req.offset), lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: FETCH_BYTES_MAX }],
        }],
        forgottenTopicsData: [],
        rackId: '',
      }, req.maxWaitMs);
      if (body.errorCode !== ErrorCode.NONE) return { ok: false, error: errorCodeName(body.errorCode) };
      const p = body.responses[0]?.partitions[0];
      if (p === undefined) return { ok: false, error: 'the leader answered no partition' };
      if (p.errorCode !== ErrorCode.NONE) return { ok: false, error: errorCodeName(p.errorCode) };
      return { ok: true, batches: wholeBatches(p.records), highWatermark: Number(p.highWatermark), logStartOffset: Number(p.logStartOffset) };
    } catch (err) {
      this.peer.drop();
      return { ok: false, error: (err as Error).message };
    }
  }

  /**
   * Kafka's follower asks its leader for its log start or end (ListOffsets with the replica id,
   * earliest -2 or latest -1): what it needs after OFFSET_OUT_OF_RANGE.
   */
  async listOffset(req: ReplicaOffsetRequest): Promise<ReplicaOffsetResult> {
    try {
      const body = await this.peer.request(LIST_OFFSETS, LIST_OFFSETS_VERSION, req, {
        replicaId: req.replicaId,
        isolationLevel: 0,
        topics: [{ name: req.stream, partitions: [{ partitionIndex: req.partition, currentLeaderEpoch: req.epoch, timestamp: req.which === 'earliest' ? -2n : -1n, maxNumOffsets: 1 }] }],
        timeoutMs: 0,
      }, 0);
      const p = body.topics[0]?.partitions[0];
      if (p === undefined) return { ok: false, error: 'the leader answered no partition' };
      if (p.errorCode !== ErrorCode.NONE) return { ok: false, error: errorCodeName(p.errorCode) };
      return { ok: true, offset: Number(p.offset) };
    } catch (err) {
      this.peer.drop();
      return { ok: false, error: (err as Error).message };
    }
  }

  close(): void {
    this.peer.close();
  }
}

/** The whole batches of a records field (a size limit may cut the last one short). */
function wholeBatches(records: Buffer | null): Buffer[] {
  const out: Buffer[] = [];
  if (records === null) return out;
  let at = 0;
  while (at + BATCH_LOG_OVERHEAD_BYTES <= records.length) {
    const size = records.readInt32BE(at + 8) + BATCH_LOG_OVERHEAD_BYTES;
    if (at + size > records.length) break;
    out.push(records.subarray(at, at + size));
    at += size;
  }
  return out;
}
