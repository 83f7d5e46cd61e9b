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

/** One fetch session to one leader's partition. */
export interface ReplicaSession {
  fetch(req: ReplicaFetchRequest): Promise<ReplicaFetchResult>;
  close(): void;
}

export type ReplicaSessionFactory = () => ReplicaSession;
