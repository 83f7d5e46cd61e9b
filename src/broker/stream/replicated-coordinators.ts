// Coordinators placed on the partitions of a replicated internal topic, as Kafka places its group
// coordinators on __consumer_offsets and its transaction coordinators on __transaction_state
// (docs/cluster.md, "Consumer groups" and "Transactions"). A key (a group id, a transactional id)
// belongs to partition abs(javaHash(key)) % N, and the leader of that partition coordinates it.
// Each partition this node leads gets its own coordinator, whose store writes to and replays that
// partition through a PartitionLog: a write is answered once it is on a majority, and a new leader
// loads the partition before it answers (load in progress meanwhile). A coordinator whose
// partition this node no longer leads (or leads under a newer epoch) is closed. Both the groups
// (groups/replicated.ts) and the transactions (txn/replicated.ts) are one of these.

import { randomUUID } from 'node:crypto';
import type { Logger } from '../../store/index.js';
import { PartitionLog } from './groups/partition-log.js';
import type { StreamRegistry } from './registry.js';
import type { StreamReplication } from './replication.js';

export type CoordinatorRefusal = 'not-coordinator' | 'coordinator-load-in-progress' | 'coordinator-not-available';

/** This node's coordinator of a partition (with the leader epoch it loaded under), or why there is none. */
export type PartitionLookup<C> = { readonly coordinator: C; readonly epoch: number } | { readonly error: CoordinatorRefusal };

/** How often the partitions this node leads are checked (loaded, or their coordinators closed). */
const CHECK_MS = 250;

/** Java's String.hashCode over UTF-16 code units, as Kafka's partitionFor uses it. */
export function javaStringHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/** Kafka's partitionFor: Utils.abs(key.hashCode) % partitions (abs(MIN_VALUE) is 0). */
export function internalPartitionFor(key: string, partitions: number): number {
  const h = javaStringHash(key);
  return (h === -2147483648 ? 0 : Math.abs(h)) % partitions;
}

export interface InternalTopic {
  /** Kafka's name for it (`__consumer_offsets`, `__transaction_state`). */
  readonly name: string;
  /** The partition count it is created with (fixed once it exists, as in Kafka). */
  readonly partitions: number;
  /** The configs it is created with. */
  readonly configs: Readonly<Record<string, string>>;
  /** How long a write waits for the in-sync replicas before it fails. */
  readonly commitTimeoutMs: number;
  /** What its coordinators are called in log lines ('group coordinator'). */
  readonly role: string;
}

export interface ReplicatedCoordinatorsOptions {
  readonly vhost: string;
  readonly streams: StreamRegistry;
  /** The broker's replication now (it changes as the node joins and leaves). */
  readonly replication: () => StreamReplication | undefined;
  readonly logger: Logger;
}

interface Loaded<C> {
  readonly epoch: number;
  coordinator: C | undefined;
}

export abstract class ReplicatedCoordinators<C extends { close(): Promise<void> }> {
  private readonly loaded = new Map<number, Loaded<C>>();
  private creating: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  protected constructor(
    protected readonly base: ReplicatedCoordinatorsOptions,
    protected readonly topic: InternalTopic,
  ) {
    // Loads the partitions this node comes to lead before a client asks, and closes the
    // coordinators of those it no longer leads (a deposed coordinator stops answering).
    this.timer = setInterval(() => this.check(), CHECK_MS);
    this.timer.unref();
  }

  /** A coordinator over the partition's log, its state replayed from it. */
  protected abstract open(log: PartitionLog, partition: number, epoch: number): Promise<C>;

  /** What the "loaded" log line says of a fresh coordinator. */
  protected abstract describe(coordinator: C): Record<string, unknown>;

  /**
   * The topic's partition count: the topic's own once it exists (Kafka reads it the same way, so
   * a topic made another way still places every key), the configured one before.
   */
  get partitions(): number {
    return this.base.streams.get(this.topic.name)?.partitions.length ?? this.topic.partitions;
  }

  partitionOf(key: string): number {
    return internalPartitionFor(key, this.partitions);
  }

  /** The node id of the key's coordinator (FindCoordinator), or why there is none now. */
  coordinatorId(key: string): { readonly nodeId: number } | { readonly error: 'coordinator-not-available' } {
    const role = this.base.replication()?.role(this.base.vhost, this.topic.name, this.partitionOf(key));
    if (role === undefined) {
      // Kafka creates its internal topics on the first FindCoordinator.
      this.createTopic();
      return { error: 'coordinator-not-available' };
    }
    return role.leaderId < 0 ? { error: 'coordinator-not-available' } : { nodeId: role.leaderId };
  }

  /** The coordinators this node runs now, one per partition it leads and has loaded. */
  coordinators(): C[] {
    this.check();
    const out: C[] = [];
    for (const l of this.loaded.values()) if (l.coordinator !== undefined) out.push(l.coordinator);
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    const closing = [...this.loaded.keys()].map((p) => this.unload(p));
    await Promise.all(closing);
  }

  /** The partition's coordinator if this node leads the partition and has loaded it. */
  lookupPartition(p: number): PartitionLookup<C> {
    if (this.closed) return { error: 'not-coordinator' };
    const replication = this.base.replication();
    const role = replication?.role(this.base.vhost, this.topic.name, p);
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
    return entry.coordinator !== undefined ? { coordinator: entry.coordinator, epoch: entry.epoch } : { error: 'coordinator-load-in-progress' };
  }

  private check(): void {
    if (this.closed || this.base.streams.get(this.topic.name) === undefined) return;
    for (let p = 0; p < this.partitions; p++) this.lookupPartition(p);
  }

  /** Replays the partition into a new coordinator; requests wait (load in progress) until it is ready. */
  private load(p: number, epoch: number, replication: StreamReplication): Loaded<C> {
    const entry: Loaded<C> = { epoch, coordinator: undefined };
    this.loaded.set(p, entry);
    const { vhost, logger } = this.base;
    const name = this.topic.name;
    void (async () => {
      const partition = this.base.streams.get(name)?.partition(p);
      if (partition === undefined) throw new Error(`${name}-${p} does not exist here`);
      const log = new PartitionLog({
        partition,
        epoch,
        committed: (offset) => replication.committed(vhost, name, p, offset, this.topic.commitTimeoutMs),
      });
      const coordinator = await this.open(log, p, epoch);
      if (this.loaded.get(p) !== entry) {
        await coordinator.close();
        return;
      }
      entry.coordinator = coordinator;
      logger.info(`${this.topic.role} loaded`, { vhost, partition: `${name}-${p}`, epoch, ...this.describe(coordinator) });
    })().catch((err: unknown) => {
      logger.warn(`loading a ${name} partition failed; retrying`, { vhost, partition: p, error: err instanceof Error ? err.message : String(err) });
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
    this.base.logger.info(`${this.topic.role} resigned`, { vhost: this.base.vhost, partition: `${this.topic.name}-${p}`, epoch: entry.epoch });
    await c.close().catch((err: unknown) => this.base.logger.warn(`closing a ${this.topic.role} failed`, { error: String(err) }));
  }

  /**
   * Places the topic in the cluster, with its partition count and configs, unless it exists
   * (every node creates it from the placement). The first FindCoordinator calls it, and Metadata
   * auto-creating the topic, as Kafka's AutoTopicCreationManager does for its internal topics.
   */
  createTopic(): void {
    const replication = this.base.replication();
    const { name } = this.topic;
    if (this.creating !== undefined || replication === undefined || this.base.streams.get(name) !== undefined) return;
    const shape = { name, topicId: randomUUID(), partitions: this.partitions, configs: { ...this.topic.configs } };
    this.creating = replication
      .created(this.base.vhost, shape, -1)
      .catch((err: unknown) => this.base.logger.warn(`cannot create ${name} yet`, { vhost: this.base.vhost, error: err instanceof Error ? err.message : String(err) }))
      .finally(() => {
        this.creating = undefined;
      });
  }
}
