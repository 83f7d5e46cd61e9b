// Replica reassignment (docs/cluster.md, "Reassignment"): where a replicated stream's partitions
// should live over the live nodes, and the two steps that move them there as Kafka's
// reassignment does: first the placement lists old and new replicas together (the new ones
// fetch and join the ISR), then, once the new ones are in sync, only the new ones (the removed
// ones stop and delete their copy; a removed leader resigns and an in-sync new replica leads).
// Pure functions, tested without an etcd.

import { place, type StreamPlacement } from './placement.js';

/** One partition whose replicas change. */
export interface ReplicaMove {
  readonly vhost: string;
  readonly stream: string;
  readonly partition: number;
  readonly from: readonly string[];
  readonly to: readonly string[];
}

/**
 * The partitions of `current` whose replica set differs from placement.ts's placement over
 * `live` with the stream's replication factor (its widest partition, at most the live nodes).
 * A partition whose set stays keeps its order (its leader does not move).
 */
export function planMoves(current: StreamPlacement, live: readonly string[]): ReplicaMove[] {
  const factor = Math.min(Math.max(0, ...current.replicas.map((r) => r.length)), live.length);
  if (factor < 1) return [];
  const target = place(current.vhost, { name: current.name, topicId: current.topicId, partitions: current.partitions, configs: current.configs }, factor, live);
  const moves: ReplicaMove[] = [];
  for (let i = 0; i < current.partitions; i++) {
    const from = current.replicas[i];
    const to = target.replicas[i];
    if (from.length === to.length && to.every((n) => from.includes(n))) continue;
    moves.push({ vhost: current.vhost, stream: current.name, partition: i, from, to });
  }
  return moves;
}

/** The first step's replicas: the old ones (the leader among them stays), then the new ones. */
export function widened(from: readonly string[], to: readonly string[]): string[] {
  return [...from, ...to.filter((n) => !from.includes(n))];
}

/** `placement` with these partitions' replicas replaced. */
export function withReplicas(placement: StreamPlacement, replicas: ReadonlyMap<number, readonly string[]>): StreamPlacement {
  return { ...placement, replicas: placement.replicas.map((r, i) => [...(replicas.get(i) ?? r)]) };
}
