// How a follower reads its leader's log: an interface here, so the cluster stays
// protocol-neutral; the Kafka adapter implements it with Kafka's follower Fetch
// (server/kafka/replica-fetcher.ts).

export interface ReplicaFetchRequest {
  /** The leader's address for the fetch protocol. */
  readonly host: string;
  readonly port: number;
  readonly stream: string;
  readonly partition: number;
  /** This follower's log end: everything below it is on its disk. */
  readonly offset: number;
  /** The leader epoch the follower believes in (the leader refuses a different one). */
  readonly epoch: number;
  /** This follower's node id. */
  readonly replicaId: number;
  readonly maxWaitMs: number;
}

export type ReplicaFetchResult =
  | { readonly ok: true; readonly batches: readonly Buffer[]; readonly highWatermark: number }
  | { readonly ok: false; readonly error: string };

/** Which end of the leader's log a follower asks for. */
export interface ReplicaOffsetRequest {
  readonly host: string;
  readonly port: number;
  readonly stream: string;
  readonly partition: number;
  readonly epoch: number;
  readonly replicaId: number;
  /** The log start ('earliest') or the log end ('latest'). */
  readonly which: 'earliest' | 'latest';
}

export type ReplicaOffsetResult = { readonly ok: true; readonly offset: number } | { readonly ok: false; readonly error: string };

/** One fetch session to one leader's partition. */
export interface ReplicaSession {
  fetch(req: ReplicaFetchRequest): Promise<ReplicaFetchResult>;
  /** The leader's log start or end, for a follower whose fetch offset is out of its range. */
  listOffset(req: ReplicaOffsetRequest): Promise<ReplicaOffsetResult>;
  close(): void;
}

/** A session for one partition of `vhost` (the leader serves it in that vhost). */
export type ReplicaSessionFactory = (vhost: string) => ReplicaSession;
