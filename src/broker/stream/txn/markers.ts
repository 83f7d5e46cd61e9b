// Transaction markers in a cluster (docs/cluster.md, "Transactions"): the coordinator writes a
// COMMIT or ABORT marker to each partition of the transaction on that partition's leader, which
// may be this node or another (Kafka's WriteTxnMarkers, sent by the adapter: TxnMarkerSender),
// and the offsets of the transaction to the leader of the group's offsets partition the same way.
// The leader appends the marker and answers once its in-sync replicas have it (Kafka appends
// markers with acks=all). A marker from a coordinator epoch older than the partition has seen is
// refused ('coordinator-fenced'), so a deposed coordinator cannot end a transaction again.

import { StreamError } from '../errors.js';
import type { ReplicatedGroups } from '../groups/replicated.js';
import { OFFSETS_TOPIC } from '../groups/replicated.js';
import type { StreamRegistry } from '../registry.js';
import { COMMIT_TIMEOUT_MS, ReplicationError, type StreamReplication } from '../replication.js';
import type { TxnMarker, TxnMarkerTarget } from './api.js';

/** Sends a marker to the node that leads the partition (Kafka's WriteTxnMarkers); resolves once that node wrote it. */
export type TxnMarkerSender = (vhost: string, nodeId: number, topic: string, partition: number, marker: TxnMarker) => Promise<void>;

/** What the marker path needs of the broker, for one vhost. */
export interface TxnMarkerHost {
  readonly vhost: string;
  readonly streams: StreamRegistry;
  replication(): StreamReplication | undefined;
  /** The vhost's replicated consumer groups. */
  groups(): ReplicatedGroups | undefined;
  /** How markers reach other nodes (set by the Kafka adapter), undefined before it is wired. */
  sender(): TxnMarkerSender | undefined;
}

/** The coordinator's side: writes the marker on the target's leader, wherever it is. */
export async function writeTxnMarker(h: TxnMarkerHost, target: TxnMarkerTarget, marker: TxnMarker): Promise<void> {
  let topic: string;
  let partition: number;
  if (target.kind === 'group') {
    const groups = h.groups();
    if (groups === undefined) throw new Error('the consumer groups are not running yet');
    topic = OFFSETS_TOPIC;
    partition = groups.partitionOf(target.groupId);
  } else {
    ({ topic, partition } = target);
  }
  const role = h.replication()?.role(h.vhost, topic, partition);
  if (role === undefined || role.leader) return applyTxnMarker(h, topic, partition, marker);
  if (role.leaderId < 0) throw new ReplicationError('not-leader', `${topic}-${partition} has no leader`);
  const send = h.sender();
  if (send === undefined) throw new Error('markers to other nodes cannot be sent yet');
  await send(h.vhost, role.leaderId, topic, partition, marker);
}

/**
 * The leader's side (a marker this node's coordinator wrote, or one WriteTxnMarkers brought):
 * appends it to a partition this node leads and resolves once it is committed. For an offsets
 * partition, the group coordinator of that partition commits (or drops) the producer's
 * transactional offsets instead. Throws ReplicationError 'not-leader' when this node does not lead
 * the partition, StreamError for a marker the partition refuses.
 */
export async function applyTxnMarker(h: TxnMarkerHost, topic: string, index: number, marker: TxnMarker): Promise<void> {
  const replication = h.replication();
  const role = replication?.role(h.vhost, topic, index);
  if (role !== undefined && !role.leader) throw new ReplicationError('not-leader', `this node does not lead ${topic}-${index}`);
  const groups = topic === OFFSETS_TOPIC ? h.groups() : undefined;
  if (groups !== undefined) {
    const found = groups.lookupPartition(index);
    if ('error' in found) throw new ReplicationError('not-leader', `the group coordinator of ${topic}-${index} is not here (${found.error})`);
    await found.coordinator.completeTxnOfProducer(marker.producerId, marker.commit);
    return;
  }
  const partition = h.streams.get(topic)?.partition(index);
  if (partition === undefined) throw new StreamError('unknown-partition', `${topic}-${index} does not exist`);
  // Kafka appends markers with acks=all: too few in-sync replicas refuse it (and it is retried).
  if (role !== undefined) replication?.checkInSync(h.vhost, topic, index);
  const r = partition.appendMarker(marker, Date.now());
  await r.durable;
  if (role !== undefined) await replication?.committed(h.vhost, topic, index, r.offset, COMMIT_TIMEOUT_MS);
}
