// Consumer groups of one vhost in a cluster (docs/cluster.md, "Consumer groups"), as Kafka places
// them: a group belongs to partition abs(hash(groupId)) % N of the replicated offsets topic
// (Kafka's __consumer_offsets), and the leader of that partition is its coordinator. Each
// partition this node leads gets its own GroupCoordinator, whose OffsetStore writes to and
// replays that partition (partition-log.ts): a commit is answered once it is on a majority, and a
// new leader loads the partition before it answers (COORDINATOR_LOAD_IN_PROGRESS meanwhile).
// A coordinator whose partition it no longer leads (or leads under a newer epoch) is closed:
// its members get errors and rejoin the new coordinator, as in Kafka, where membership lives in
// the coordinator's memory only. The placement, loading and closing are shared with the
// transaction coordinators (../replicated-coordinators.ts). Protocol-neutral: the Kafka adapter
// maps the errors to codes.

import type { Logger } from '../../../store/index.js';
import type { StreamRegistry } from '../registry.js';
import { type CoordinatorRefusal, ReplicatedCoordinators, internalPartitionFor, javaStringHash } from '../replicated-coordinators.js';
import type { StreamReplication } from '../replication.js';
import { GroupCoordinator, type GroupCoordinatorOptions } from './coordinator.js';
import { OffsetStore } from './offset-store.js';
import type { PartitionLog } from './partition-log.js';

export { javaStringHash, type CoordinatorRefusal };

/** Kafka's name for the offsets topic. */
export const OFFSETS_TOPIC = '__consumer_offsets';
/**
 * Kafka's offsets.topic.num.partitions is 50. Each partition a node holds a replica of costs a
 * follower fetch loop (a long poll every 500 ms) per follower, so Wharf's default is 10; the
 * number is fixed once the topic exists, as in Kafka.
 */
export const OFFSETS_TOPIC_PARTITIONS_DEFAULT = 10;
/** Kafka's offsets.commit.timeout.ms: how long a commit waits for the in-sync replicas. */
export const OFFSETS_COMMIT_TIMEOUT_MS = 5000;
/** The offsets topic keeps everything: the coordinator's replay needs every record (no compaction yet). */
const OFFSETS_TOPIC_CONFIGS: Readonly<Record<string, string>> = { 'retention.ms': '-1', 'retention.bytes': '-1' };

export type CoordinatorLookup = { readonly coordinator: GroupCoordinator } | { readonly error: CoordinatorRefusal };

export interface ReplicatedGroupsOptions {
  readonly vhost: string;
  readonly streams: StreamRegistry;
  /** The broker's replication now (it changes as the node joins and leaves). */
  readonly replication: () => StreamReplication | undefined;
  readonly partitions?: number;
  readonly coordinator: GroupCoordinatorOptions;
  readonly logger: Logger;
}

/** Kafka's GroupCoordinator.partitionFor: Utils.abs(groupId.hashCode) % partitions (abs(MIN_VALUE) is 0). */
export function offsetsPartitionFor(groupId: string, partitions: number): number {
  return internalPartitionFor(groupId, partitions);
}

export class ReplicatedGroups extends ReplicatedCoordinators<GroupCoordinator> {
  constructor(private readonly o: ReplicatedGroupsOptions) {
    super(o, {
      name: OFFSETS_TOPIC,
      partitions: o.partitions ?? OFFSETS_TOPIC_PARTITIONS_DEFAULT,
      configs: OFFSETS_TOPIC_CONFIGS,
      commitTimeoutMs: OFFSETS_COMMIT_TIMEOUT_MS,
      role: 'group coordinator',
    });
  }

  /** The group's coordinator if this node is it and has loaded its partition. */
  lookup(groupId: string): CoordinatorLookup {
    return this.lookupPartition(this.partitionOf(groupId));
  }

  /** A topic was deleted: every coordinator here forgets its offsets (as a single node's does). */
  async onTopicDeleted(topic: string): Promise<void> {
    await Promise.all(this.coordinators().map((c) => c.onTopicDeleted(topic)));
  }

  protected async open(log: PartitionLog): Promise<GroupCoordinator> {
    const store = await OffsetStore.openOnLog(log, { compactBytesMin: Number.POSITIVE_INFINITY, logger: this.o.logger });
    return new GroupCoordinator(store, { logger: this.o.logger, ...this.o.coordinator });
  }

  protected describe(c: GroupCoordinator): Record<string, unknown> {
    return { groups: c.groupCount() };
  }
}
