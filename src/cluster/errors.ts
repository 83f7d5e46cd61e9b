// The control plane's typed errors: the CLI prints their message, tests check their kind.

export type ClusterErrorKind =
  /** etcd did not answer at start. */
  | 'unreachable'
  /** The data dir belongs to another cluster or another node (its cluster.json says so). */
  | 'foreign-data-dir'
  /** Another live process is registered under this node name. */
  | 'duplicate-node'
  /** A write under an epoch that is no longer the resource's (a deposed leader). */
  | 'fenced'
  /** The node's lease is past its local deadline: it may not act as a leader. */
  | 'no-lease'
  /** A metadata change kept losing its compare-and-swap to other nodes' changes. */
  | 'conflict';

export class ClusterError extends Error {
  constructor(
    readonly kind: ClusterErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'ClusterError';
  }
}
