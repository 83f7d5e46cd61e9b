// The cluster's control plane on etcd (docs/cluster.md).
export { ControlPlane, DEFAULT_CLUSTER_NAME, DEFAULT_LEASE_TTL_SEC, type ClusterNodeInfo, type ControlPlaneOptions } from './control-plane.js';
export { fencedWrite, Term } from './election.js';
export { ClusterError, type ClusterErrorKind } from './errors.js';
export { CONTROLLER, ClusterKeys, parseResourcePath, resourcePath, type Resource } from './keys.js';
export { localDeadline, stepDownMarginMs } from './lease.js';
