// What a protocol adapter asks of stream replication (docs/cluster.md, "Streams: the data
// plane"). Protocol-neutral: roles, offsets and node ids, never wire bytes. A single node has
// no replication (Broker.replication is undefined) and none of this is consulted.

/** A cluster member as clients of a stream protocol reach it. */
export interface ReplicaNode {
  /** A stable number per node name (Kafka's broker id). */
  readonly id: number;
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

/** One replicated partition as this node sees it now. */
export interface PartitionRole {
  /** This node leads it (and its lease is within its deadline). */
  readonly leader: boolean;
  /** The leader's node id, or -1 while there is none. */
  readonly leaderId: number;
  /** The leader's epoch (0 while there is none). */
  readonly epoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  /** The replicas' node names (down ones included), the preferred leader first. */
  readonly replicaNames: readonly string[];
  /** The leader's node name, undefined while there is none. */
  readonly leaderName: string | undefined;
}

/** How long a publish into a replicated stream waits for its in-sync replicas before it fails. */
export const COMMIT_TIMEOUT_MS = 30_000;

/**
 * What an append to a replicated stream waits for once it is on the leader's disk (an AMQP
 * confirm, as Kafka's acks=all): too few in-sync replicas refuse it, otherwise the high
 * watermark must pass `lastOffset`. Undefined when the stream is not replicated (no cluster). In a
 * cluster a stream whose replica this node does not know (not yet, or not while its view of etcd
 * is rebuilt) is refused: never confirmed unreplicated.
 */
export function replicatedCommit(r: StreamReplication | undefined, vhost: string, stream: string, lastOffset: number): Promise<void> | undefined {
  if (r === undefined) return undefined;
  if (r.role(vhost, stream, 0) === undefined) return Promise.reject(new ReplicationError('not-leader', `this node does not know the replicas of ${stream} at the moment; retry shortly`));
  r.checkInSync(vhost, stream, 0);
  return r.committed(vhost, stream, 0, lastOffset, COMMIT_TIMEOUT_MS);
}

/** Why a replicated write or read was refused; the adapter maps it to its protocol's code. */
export type ReplicationRefusal = 'not-leader' | 'not-enough-replicas' | 'fenced-epoch' | 'unknown-epoch' | 'timeout';

export class ReplicationError extends Error {
  constructor(
    readonly kind: ReplicationRefusal,
    message: string,
  ) {
    super(message);
    this.name = 'ReplicationError';
  }
}

/** What every node needs to create a replicated stream as its creator did. */
export interface StreamShape {
  readonly name: string;
  readonly topicId: string;
  readonly partitions: number;
  readonly configs: Readonly<Record<string, string>>;
  /** An AMQP stream queue's declare arguments (undefined for a Kafka topic): every node creates it as a stream queue. */
  readonly amqpArgs?: Readonly<Record<string, unknown>>;
}

export interface StreamReplication {
  /** This node's id. */
  readonly selfId: number;
  /** Every live member, with the address of the stream protocol's listener. */
  nodes(): ReplicaNode[];
  /** The partition's role, or undefined when the stream is not replicated (it is this node's own). */
  role(vhost: string, stream: string, partition: number): PartitionRole | undefined;
  /**
   * A stream was created here: place its partitions' replicas and publish it to the cluster
   * (with its topic id and configs, so every node creates it alike).
   * replicationFactor -1: the default, min(3, live nodes).
   */
  created(vhost: string, stream: StreamShape, replicationFactor: number): Promise<void>;
  /** A stream was deleted here: every node deletes it and its replication state goes from the cluster. */
  deleted(vhost: string, stream: string): Promise<void>;
  /** Checks a replication factor a client asked for before anything is created. */
  checkReplicationFactor(replicationFactor: number): void;
  /** The high watermark: offsets below it are on disk on every in-sync replica. */
  highWatermark(vhost: string, stream: string, partition: number): number;
  /** Refuses a write all in-sync replicas must take when there are too few of them. */
  checkInSync(vhost: string, stream: string, partition: number): void;
  /** Resolves once the high watermark passes `offset` (ReplicationError 'timeout' after timeoutMs, 'not-leader' if deposed). */
  committed(vhost: string, stream: string, partition: number, offset: number, timeoutMs: number): Promise<void>;
  /**
   * Kafka's OffsetsForLeaderEpoch on the leader: the largest epoch <= `epoch` in the partition's
   * history and the offset it ended at (the log end for the current epoch); -1, -1 for an epoch
   * older than the history.
   */
  epochEnd(vhost: string, stream: string, partition: number, epoch: number): { readonly epoch: number; readonly endOffset: number };
  /** A follower fetched from `fetchOffset`: everything below it is on its disk. */
  followerFetched(vhost: string, stream: string, partition: number, replicaId: number, fetchOffset: number): void;
}

const JOINING = 'this node is joining the cluster';

/**
 * A cluster node's replication until it has read the placements from etcd: it leads nothing
 * and creates nothing, so no write is taken (and acknowledged) outside replication while the
 * listeners are already up. Clients get retriable errors and come back.
 */
export class JoiningReplication implements StreamReplication {
  constructor(readonly selfId: number) {}

  nodes(): ReplicaNode[] {
    return [];
  }

  role(): PartitionRole {
    return { leader: false, leaderId: -1, epoch: 0, replicas: [], isr: [], replicaNames: [], leaderName: undefined };
  }

  created(): Promise<void> {
    return Promise.reject(new ReplicationError('not-leader', JOINING));
  }

  deleted(): Promise<void> {
    return Promise.reject(new ReplicationError('not-leader', JOINING));
  }

  checkReplicationFactor(): void {
    throw new ReplicationError('not-leader', JOINING);
  }

  highWatermark(): number {
    return 0;
  }

  checkInSync(): void {
    throw new ReplicationError('not-leader', JOINING);
  }

  committed(): Promise<void> {
    return Promise.reject(new ReplicationError('not-leader', JOINING));
  }

  epochEnd(): { epoch: number; endOffset: number } {
    return { epoch: -1, endOffset: -1 };
  }

  followerFetched(): void {}
}
