// Transactions of one vhost in a cluster (docs/cluster.md, "Transactions"), as Kafka places them:
// a transactional id belongs to partition abs(hash(transactionalId)) % N of the replicated
// transaction state topic (Kafka's __transaction_state), and the leader of that partition is its
// transaction coordinator. Each partition this node leads gets its own TransactionCoordinator,
// whose TxnStore writes to and replays that partition: a state change is answered once it is on
// the in-sync replicas, and a new leader replays the partition before it answers
// (COORDINATOR_LOAD_IN_PROGRESS meanwhile), then finishes the transactions it finds prepared and
// aborts the open ones on their timeout, as Kafka's new coordinator does. Its markers carry the
// partition's leader epoch as their coordinator epoch, so a deposed coordinator's are refused.
// The placement, loading and closing are the groups' (../replicated-coordinators.ts).

import type { Logger } from '../../../store/index.js';
import { OFFSETS_COMMIT_TIMEOUT_MS, OFFSETS_TOPIC_PARTITIONS_DEFAULT } from '../groups/replicated.js';
import type { PartitionLog } from '../groups/partition-log.js';
import type { StreamRegistry } from '../registry.js';
import { type CoordinatorRefusal, ReplicatedCoordinators } from '../replicated-coordinators.js';
import type { StreamReplication } from '../replication.js';
import type { TxnParticipants } from './api.js';
import type { TxnConfig } from './config.js';
import { TransactionCoordinator } from './coordinator.js';
import { TxnStore } from './txn-store.js';

/** Kafka's name for the transaction state topic. */
export const TXN_TOPIC = '__transaction_state';
/**
 * Kafka's transaction.state.log.num.partitions is 50; Wharf takes the offsets topic's count
 * (each partition is one more follower fetch loop per replica), fixed once the topic exists.
 */
export const TXN_TOPIC_PARTITIONS_DEFAULT = OFFSETS_TOPIC_PARTITIONS_DEFAULT;
/** The coordinators' replay needs every record (no compaction yet). */
const TXN_TOPIC_CONFIGS: Readonly<Record<string, string>> = { 'retention.ms': '-1', 'retention.bytes': '-1' };

export type TxnLookup = { readonly coordinator: TransactionCoordinator } | { readonly error: CoordinatorRefusal };

export interface ReplicatedTransactionsOptions {
  readonly vhost: string;
  readonly streams: StreamRegistry;
  /** The broker's replication now (it changes as the node joins and leaves). */
  readonly replication: () => StreamReplication | undefined;
  readonly partitions?: number;
  readonly config?: Partial<TxnConfig>;
  /** Where the markers of a coordinator loaded under `coordinatorEpoch` go. */
  readonly participants: (coordinatorEpoch: number) => TxnParticipants;
  readonly logger: Logger;
}

export class ReplicatedTransactions extends ReplicatedCoordinators<TransactionCoordinator> {
  constructor(private readonly o: ReplicatedTransactionsOptions) {
    super(o, {
      name: TXN_TOPIC,
      partitions: o.partitions ?? TXN_TOPIC_PARTITIONS_DEFAULT,
      configs: TXN_TOPIC_CONFIGS,
      commitTimeoutMs: OFFSETS_COMMIT_TIMEOUT_MS,
      role: 'transaction coordinator',
    });
  }

  /** The transactional id's coordinator if this node is it and has loaded its partition. */
  lookup(transactionalId: string): TxnLookup {
    return this.lookupPartition(this.partitionOf(transactionalId));
  }

  protected async open(log: PartitionLog, _partition: number, epoch: number): Promise<TransactionCoordinator> {
    const store = await TxnStore.openOnLog(log, { compactBytesMin: Number.POSITIVE_INFINITY, logger: this.o.logger });
    return new TransactionCoordinator(store, {
      participants: this.o.participants(epoch),
      coordinatorEpoch: epoch,
      logger: this.o.logger,
      ...(this.o.config ? { config: this.o.config } : {}),
    });
  }

  protected describe(c: TransactionCoordinator): Record<string, unknown> {
    return { transactionalIds: c.list([], []).transactions.length };
  }
}
