// The JSON values of the control plane's keys (docs/cluster.md, "What etcd holds").

/** nodes/<name> (on the node's lease) and members/<name> (no lease: who has ever joined). */
export interface NodeRecord {
  readonly name: string;
  /** A random id per process: tells a node's own stale record from another process's. */
  readonly instance: string;
  /** host:port per protocol, as clients should reach them ("amqp", "kafka", "http", "aws"...). */
  readonly addresses: Readonly<Record<string, string>>;
  readonly version: string;
  /** ms since the epoch, when this process joined. */
  readonly startedAt: number;
  /** The data dir's incarnation (its cluster.json): which life of the node this is. */
  readonly incarnation?: string;
}

/** leaders/<resource> (on the leader's lease). */
export interface LeaderRecord {
  readonly node: string;
  readonly instance: string;
  readonly epoch: number;
  /** The lease id (decimal), which fenced writes compare too. */
  readonly lease: string;
}

export function parseNodeRecord(text: string): NodeRecord | undefined {
  const v = parseObject(text);
  if (v === undefined || typeof v.name !== 'string' || typeof v.instance !== 'string') return undefined;
  const addresses: Record<string, string> = {};
  if (typeof v.addresses === 'object' && v.addresses !== null) {
    for (const [k, a] of Object.entries(v.addresses)) if (typeof a === 'string') addresses[k] = a;
  }
  return {
    name: v.name,
    instance: v.instance,
    addresses,
    version: typeof v.version === 'string' ? v.version : 'unknown',
    startedAt: typeof v.startedAt === 'number' ? v.startedAt : 0,
    ...(typeof v.incarnation === 'string' ? { incarnation: v.incarnation } : {}),
  };
}

export function parseLeaderRecord(text: string): LeaderRecord | undefined {
  const v = parseObject(text);
  if (v === undefined || typeof v.node !== 'string' || typeof v.instance !== 'string') return undefined;
  if (typeof v.epoch !== 'number' || !Number.isSafeInteger(v.epoch) || typeof v.lease !== 'string') return undefined;
  return { node: v.node, instance: v.instance, epoch: v.epoch, lease: v.lease };
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
