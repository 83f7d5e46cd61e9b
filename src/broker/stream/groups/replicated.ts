// Consumer groups of one vhost in a cluster (docs/cluster.md, "Consumer groups"), as Kafka places
// them: a group belongs to partition abs(hash(groupId)) % N of the replicated offsets topic
// (Kafka's __consumer_offsets), and the leader of that partition is its coordinator. Each
// partition this node leads gets its own GroupCoordinator, whose OffsetStore writes to and
// replays that partition (partition-log.ts): a commit is answered once it is on a majority, and a
// new leader loads the partition before it answers (COORDINATOR_LOAD_IN_PROGRESS meanwhile).
// A coordinator whose partition it no longer leads (or leads under a newer epoch) is closed:
// its members get errors and rejoin the new coordinator, as in Kafka, where membership lives in
// the coordinator's memory only. Protocol-neutral: the Kafka adapter maps the errors to codes.

import { randomUUID } from 'node:crypto';
import type { Logger } from '../../../store/index.js';
import type { StreamRegistry } from '../registry.js';
import type { StreamReplication } from '../replication.js';
import { GroupCoordinator, type GroupCoordinatorOptions } from './coordinator.js';
import { OffsetStore } from './offset-store.js';
import { PartitionLog } from './partition-log.js';

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
const CHECK_MS = 250;

export type CoordinatorRefusal = 'not-coordinator' | 'coordinator-load-in-progress' | 'coordinator-not-available';

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

interface Loaded {
  readonly epoch: number;
  coordinator: GroupCoordinator | undefined;
}

/** Java's String.hashCode over UTF-16 code units, as Kafka's partitionFor uses it. */
export function javaStringHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/** Kafka's GroupCoordinator.partitionFor: Utils.abs(groupId.hashCode) % partitions (abs(MIN_VALUE) is 0). */
export function offsetsPartitionFor(groupId: string, partitions: number): number {
  const h = javaStringHash(groupId);
  return (h === -2147483648 ? 0 : Math.abs(h)) % partitions;
}

export class ReplicatedGroups {
  private readonly partitionsDefault: number;
  private readonly loaded = new Map<number, Loaded>();
  private creating: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly o: ReplicatedGroupsOptions) {
    this.partitionsDefault = o.partitions ?? OFFSETS_TOPIC_PARTITIONS_DEFAULT;
    // Loads the partitions this node comes to lead before a client asks, and closes the
    // coordinators of those it no longer leads (a deposed coordinator stops answering).
    this.timer = setInterval(() => this.check(), CHECK_MS);
    this.timer.unref();
  }

  /**
   * The offsets topic's partition count: the topic's own once it exists (Kafka reads it the same
   * way, so a topic made another way still places every group), the default before.
   */
  get partitions(): number {
    return this.o.streams.get(OFFSETS_TOPIC)?.partitions.length ?? this.partitionsDefault;
  }

  partitionOf(groupId: string): number {
    return offsetsPartitionFor(groupId, this.partitions);
  }

  /** The node id of the group's coordinator (FindCoordinator), or why there is none now. */
  coordinatorId(groupId: string): { readonly nodeId: number } | { readonly error: 'coordinator-not-available' } {
    const role = this.o.replication()?.role(this.o.vhost, OFFSETS_TOPIC, this.partitionOf(groupId));
    if (role === undefined) {
      // Kafka creates the offsets topic on the first FindCoordinator.
      this.createTopic();
      return { error: 'coordinator-not-available' };
    }
    return role.leaderId < 0 ? { error: 'coordinator-not-available' } : { nodeId: role.leaderId };
  }

  /** The group's coordinator if this node is it and has loaded its partition. */
  lookup(groupId: string): CoordinatorLookup {
    return this.lookupPartition(this.partitionOf(groupId));
  }

  /** The coordinators this node runs now, one per offsets partition it leads and has loaded. */
  coordinators(): GroupCoordinator[] {
    this.check();
    const out: GroupCoordinator[] = [];
    for (const l of this.loaded.values()) if (l.coordinator !== undefined) out.push(l.coordinator);
    return out;
  }

  /** A topic was deleted: every coordinator here forgets its offsets (as a single node's does). */
  async onTopicDeleted(topic: string): Promise<void> {
    await Promise.all(this.coordinators().map((c) => c.onTopicDeleted(topic)));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    const closing = [...this.loaded.keys()].map((p) => this.unload(p));
    await Promise.all(closing);
  }

  private lookupPartition(p: number): CoordinatorLookup {
    if (this.closed) return { error: 'not-coordinator' };
    const replication = this.o.replication();
    const role = replication?.role(this.o.vhost, OFFSETS_TOPIC, p);
    if (replication === undefined || role === undefined || !role.leader) {
      void this.unload(p);
      return { error: 'not-coordinator' };
    }
    let entry = this.loaded.get(p);
    if (entry !== undefined && entry.epoch !== role.epoch) {
      void this.unload(p);
      entry = undefined;
    }
    entry ??= this.load(p, role.epoch, replication);
    return entry.coordinator !== undefined ? { coordinator: entry.coordinator } : { error: 'coordinator-load-in-progress' };
  }

  private check(): void {
    if (this.closed || this.o.streams.get(OFFSETS_TOPIC) === undefined) return;
    for (let p = 0; p < this.partitions; p++) this.lookupPartition(p);
  }

  /** Replays the partition into a new coordinator; requests wait (load in progress) until it is ready. */
  private load(p: number, epoch: number, replication: StreamReplication): Loaded {
    const entry: Loaded = { epoch, coordinator: undefined };
    this.loaded.set(p, entry);
    const vhost = this.o.vhost;
    void (async () => {
      const partition = this.o.streams.get(OFFSETS_TOPIC)?.partition(p);
      if (partition === undefined) throw new Error(`${OFFSETS_TOPIC}-${p} does not exist here`);
      const log = new PartitionLog({
        partition,
        epoch,
        committed: (offset) => replication.committed(vhost, OFFSETS_TOPIC, p, offset, OFFSETS_COMMIT_TIMEOUT_MS),
      });
      const store = await OffsetStore.openOnLog(log, { compactBytesMin: Number.POSITIVE_INFINITY, logger: this.o.logger });
      const coordinator = new GroupCoordinator(store, { logger: this.o.logger, ...this.o.coordinator });
      if (this.loaded.get(p) !== entry) {
        await coordinator.close();
        return;
      }
      entry.coordinator = coordinator;
      this.o.logger.info('group coordinator loaded', { vhost, partition: `${OFFSETS_TOPIC}-${p}`, epoch, groups: store.groupIds().length });
    })().catch((err: unknown) => {
      this.o.logger.warn('loading an offsets partition failed; retrying', { vhost, partition: p, error: err instanceof Error ? err.message : String(err) });
      if (this.loaded.get(p) === entry) this.loaded.delete(p);
    });
    return entry;
  }

  private async unload(p: number): Promise<void> {
    const entry = this.loaded.get(p);
    if (entry === undefined) return;
    this.loaded.delete(p);
    const c = entry.coordinator;
    if (c === undefined) return;
    this.o.logger.info('group coordinator resigned', { vhost: this.o.vhost, partition: `${OFFSETS_TOPIC}-${p}`, epoch: entry.epoch });
    await c.close().catch((err: unknown) => this.o.logger.warn('closing a group coordinator failed', { error: String(err) }));
  }

  /**
   * Places the offsets topic in the cluster, with its partition count and configs, unless it
   * exists (every node creates it from the placement). The first FindCoordinator calls it, and
   * Metadata auto-creating the topic, as Kafka's AutoTopicCreationManager does for its internal topics.
   */
  createTopic(): void {
    const replication = this.o.replication();
    if (this.creating !== undefined || replication === undefined || this.o.streams.get(OFFSETS_TOPIC) !== undefined) return;
    const shape = { name: OFFSETS_TOPIC, topicId: randomUUID(), partitions: this.partitions, configs: { ...OFFSETS_TOPIC_CONFIGS } };
    this.creating = replication
      .created(this.o.vhost, shape, -1)
      .catch((err: unknown) => this.o.logger.warn('cannot create the offsets topic yet', { vhost: this.o.vhost, error: err instanceof Error ? err.message : String(err) }))
      .finally(() => {
        this.creating = undefined;
      });
  }
}
