// The control plane's key layout in etcd (docs/cluster.md, "What etcd holds").
// Pure functions, so the layout is tested without an etcd.
//
//   /wharf/<cluster>/cluster-id                            the cluster's random id (made once)
//   /wharf/<cluster>/members/<node>                        every node that ever joined (no lease)
//   /wharf/<cluster>/nodes/<node>                          a node's record, on its lease: it is up
//   /wharf/<cluster>/leaders/<resource>                    the leader of a resource, on its lease
//   /wharf/<cluster>/epochs/<resource>                     the resource's last epoch (no lease: it outlives leaders)
//   /wharf/<cluster>/state/<resource>/<name>               data a leader writes fenced by its epoch
//
// <resource> is `controller`, `queue/<vhost>/<queue>` or `stream/<vhost>/<stream>/<partition>`,
// vhost and names percent-encoded so that a '/' in a name cannot alias another key.

/** What a leader is elected for: the cluster's controller, one queue, or one stream partition. */
export type Resource =
  | { readonly kind: 'controller' }
  | { readonly kind: 'queue'; readonly vhost: string; readonly name: string }
  | { readonly kind: 'stream'; readonly vhost: string; readonly name: string; readonly partition: number };

export const CONTROLLER: Resource = { kind: 'controller' };

/** Cluster and node names: what etcd keys and log lines carry unquoted. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

export function validName(name: string): boolean {
  return NAME.test(name);
}

export class ClusterKeys {
  readonly root: string;

  constructor(readonly cluster: string) {
    if (!validName(cluster)) throw new Error(`invalid cluster name '${cluster}' (letters, digits, '.', '_', '@', '-'; up to 128)`);
    this.root = `/wharf/${cluster}/`;
  }

  /** The cluster's random id, made once by its first node: what a data dir's cluster.json names. */
  get clusterId(): string {
    return `${this.root}cluster-id`;
  }

  get nodesPrefix(): string {
    return `${this.root}nodes/`;
  }

  get membersPrefix(): string {
    return `${this.root}members/`;
  }

  get leadersPrefix(): string {
    return `${this.root}leaders/`;
  }

  node(name: string): string {
    return this.nodesPrefix + name;
  }

  member(name: string): string {
    return this.membersPrefix + name;
  }

  leader(r: Resource): string {
    return this.leadersPrefix + resourcePath(r);
  }

  epoch(r: Resource): string {
    return `${this.root}epochs/${resourcePath(r)}`;
  }

  state(r: Resource, name: string): string {
    return `${this.root}state/${resourcePath(r)}/${encodeURIComponent(name)}`;
  }

  /** The node name in a nodes/ key, or undefined for a key of another kind. */
  nodeOf(key: string): string | undefined {
    return key.startsWith(this.nodesPrefix) ? key.slice(this.nodesPrefix.length) : undefined;
  }

  /** The node name in a members/ key, or undefined. */
  memberOf(key: string): string | undefined {
    return key.startsWith(this.membersPrefix) ? key.slice(this.membersPrefix.length) : undefined;
  }

  /** The resource path in a leaders/ key, or undefined. */
  leaderPathOf(key: string): string | undefined {
    return key.startsWith(this.leadersPrefix) ? key.slice(this.leadersPrefix.length) : undefined;
  }
}

/** A resource as the path in its keys; also its name in /api/nodes and `wharf cluster status`. */
export function resourcePath(r: Resource): string {
  switch (r.kind) {
    case 'controller':
      return 'controller';
    case 'queue':
      return `queue/${encodeURIComponent(r.vhost)}/${encodeURIComponent(r.name)}`;
    case 'stream':
      if (!Number.isSafeInteger(r.partition) || r.partition < 0) throw new Error(`invalid partition ${r.partition}`);
      return `stream/${encodeURIComponent(r.vhost)}/${encodeURIComponent(r.name)}/${r.partition}`;
  }
}

/** The inverse of resourcePath; undefined for a path no version of Wharf writes. */
export function parseResourcePath(path: string): Resource | undefined {
  const parts = path.split('/');
  try {
    if (parts.length === 1 && parts[0] === 'controller') return CONTROLLER;
    if (parts.length === 3 && parts[0] === 'queue') {
      return { kind: 'queue', vhost: decodeURIComponent(parts[1]), name: decodeURIComponent(parts[2]) };
    }
    if (parts.length === 4 && parts[0] === 'stream' && /^\d+$/.test(parts[3])) {
      return { kind: 'stream', vhost: decodeURIComponent(parts[1]), name: decodeURIComponent(parts[2]), partition: Number(parts[3]) };
    }
  } catch {
    // a malformed percent-escape: not ours
  }
  return undefined;
}
