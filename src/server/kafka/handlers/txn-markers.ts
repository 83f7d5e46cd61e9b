// WriteTxnMarkers (api key 27): a transaction coordinator on another node ends a transaction on
// the partitions this node leads (docs/cluster.md, "Transactions"). Cluster-internal, as in Kafka,
// where it needs ClusterAction: only a connection that logged in as the cluster's link user (with
// the cluster's secret) may send it; any other gets CLUSTER_AUTHORIZATION_FAILED on every
// partition. Each partition answers once its marker is on its in-sync replicas; a marker from a
// coordinator epoch older than the partition's last is refused with TRANSACTION_COORDINATOR_FENCED.

import { CLUSTER_LINK_USER } from '../../../broker/access/index.js';
import { applyTxnMarker } from '../../../broker/stream/txn/markers.js';
import { ErrorCode, type WriteTxnMarkersRequest } from '../../../protocol/kafka/index.js';
import type { Handler, KafkaContext } from '../context.js';
import { codeOf } from '../errors.js';

type Marker = WriteTxnMarkersRequest['markers'][number];

/** Every partition of every marker answered with `code` (Kafka's getErrorResponse). */
export function markersAnswered(markers: readonly Marker[], code: (m: Marker, topic: string, partition: number) => number) {
  return markers.map((m) => ({
    producerId: m.producerId,
    topics: m.topics.map((t) => ({ name: t.name, partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, errorCode: code(m, t.name, partitionIndex) })) })),
  }));
}

async function writeOne(ctx: KafkaContext, m: Marker, topic: string, partition: number): Promise<number> {
  const marker = { producerId: Number(m.producerId), producerEpoch: m.producerEpoch, commit: m.transactionResult, coordinatorEpoch: m.coordinatorEpoch };
  try {
    await applyTxnMarker(ctx.broker.txnMarkerHost(ctx.vhost), topic, partition, marker);
    return ErrorCode.NONE;
  } catch (err) {
    const code = codeOf(err);
    if (code === ErrorCode.UNKNOWN_SERVER_ERROR) ctx.logger.warn('kafka: writing a transaction marker failed', { topic, partition, error: err instanceof Error ? err.message : String(err) });
    return code;
  }
}

export const writeTxnMarkers: Handler<27> = async (ctx, req, _v, source) => {
  if (source.user !== CLUSTER_LINK_USER) return { markers: markersAnswered(req.markers, () => ErrorCode.CLUSTER_AUTHORIZATION_FAILED) };
  const codes = new Map<string, number>();
  const key = (m: Marker, topic: string, partition: number): string => `${m.producerId}\u0000${topic}\u0000${partition}`;
  const writes: Promise<void>[] = [];
  for (const m of req.markers) {
    for (const t of m.topics) {
      for (const p of t.partitionIndexes) writes.push(writeOne(ctx, m, t.name, p).then((code) => void codes.set(key(m, t.name, p), code)));
    }
  }
  await Promise.all(writes);
  return { markers: markersAnswered(req.markers, (m, topic, partition) => codes.get(key(m, topic, partition)) ?? ErrorCode.UNKNOWN_SERVER_ERROR) };
};
