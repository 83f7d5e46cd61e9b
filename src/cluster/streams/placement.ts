// Where a replicated stream's partitions live (docs/cluster.md, "Streams: the data plane").
// Pure functions, tested without an etcd.
//
//   /wharf/<cluster>/meta/streams/<vhost>/<stream>
//     {"vhost", "name", "topicId", "configs", "partitions", "replicas": [["n1","n2","n3"], ...]}
//
// Written once, by the node where the stream was created, in a transaction that succeeds only
// if the key does not exist: the first placement of a name wins and every node applies it.

/** The default replication factor in a cluster (Kafka's default.replication.factor as clusters set it). */
export const DEFAULT_REPLICATION_FACTOR = 3;

export interface StreamPlacement {
  readonly vhost: string;
  readonly name: string;
  /** One topic id on every node (Metadata and Fetch v13+ name topics by it). */
  readonly topicId: string;
  /** The topic's explicit configs, as its creator took them. */
  readonly configs: Readonly<Record<string, string>>;
  readonly partitions: number;
  /** Node names per partition; the first is the preferred leader. */
  readonly replicas: readonly (readonly string[])[];
  /** An AMQP stream queue's declare arguments; absent for a Kafka topic. */
  readonly amqpArgs?: Readonly<Record<string, unknown>>;
}

/** Kafka's broker id for a node name: FNV-1a, 31 bits, so it is the same on every node and every run. */
export function nodeId(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) & 0x7fffffff;
}

/**
 * Replicas for each partition: `factor` consecutive nodes of the sorted live list, starting at a
 * different node per partition (Kafka's round-robin assignment), so leaders spread out.
 */
export function place(
  vhost: string,
  stream: {
    readonly name: string;
    readonly topicId: string;
    readonly partitions: number;
    readonly configs: Readonly<Record<string, string>>;
    readonly amqpArgs?: Readonly<Record<string, unknown>>;
  },
  factor: number,
  live: readonly string[],
): StreamPlacement {
  const { name, partitions } = stream;
  const nodes = [...live].sort();
  if (factor < 1 || factor > nodes.length) throw new RangeError(`replication factor ${factor} with ${nodes.length} live node(s)`);
  const start = nodeId(name) % nodes.length;
  const replicas: string[][] = [];
  for (let p = 0; p < partitions; p++) {
    const r: string[] = [];
    for (let k = 0; k < factor; k++) r.push(nodes[(start + p + k) % nodes.length]);
    replicas.push(r);
  }
  const amqpArgs = stream.amqpArgs === undefined ? {} : { amqpArgs: { ...stream.amqpArgs } };
  return { vhost, name, topicId: stream.topicId, configs: { ...stream.configs }, partitions, replicas, ...amqpArgs };
}

export function placementKey(root: string, vhost: string, name: string): string {
  return `${root}meta/streams/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`;
}

export function parsePlacement(text: string): StreamPlacement | undefined {
  try {
    const v = JSON.parse(text) as Partial<StreamPlacement>;
    if (typeof v.vhost !== 'string' || typeof v.name !== 'string' || typeof v.topicId !== 'string') return undefined;
    if (!Number.isSafeInteger(v.partitions) || !Array.isArray(v.replicas)) return undefined;
    const replicas = v.replicas.filter((r) => Array.isArray(r) && r.every((n) => typeof n === 'string'));
    if (replicas.length !== v.partitions) return undefined;
    const configs: Record<string, string> = {};
    if (typeof v.configs === 'object' && v.configs !== null) for (const [k, c] of Object.entries(v.configs)) if (typeof c === 'string') configs[k] = c;
    const amqpArgs = typeof v.amqpArgs === 'object' && v.amqpArgs !== null && !Array.isArray(v.amqpArgs) ? { amqpArgs: v.amqpArgs } : {};
    return { vhost: v.vhost, name: v.name, topicId: v.topicId, configs, partitions: v.partitions as number, replicas, ...amqpArgs };
  } catch {
    return undefined;
  }
}

/** The in-sync replica set as a leader writes it, fenced by its epoch: state/<resource>/isr. */
export function parseIsr(text: string): string[] | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) && v.every((n) => typeof n === 'string') ? (v as string[]) : undefined;
  } catch {
    return undefined;
  }
}
