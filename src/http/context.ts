// What the management API and metrics read: the broker, its resource monitor,
// its listeners, and the rate sampler.

import type { Broker } from '../broker/broker.js';
import type { ResourceMonitor } from '../broker/resource-monitor.js';
import type { RateSampler } from './rates.js';
import type { ClusterNodeInfo } from '../cluster/index.js';

/** What the management API shows of the cluster this node is in (docs/cluster.md). */
export interface ClusterInfo {
  readonly clusterName: string;
  /** Every member, up or down, with its addresses and the leaderships it holds. */
  nodes(): ClusterNodeInfo[];
  /** Moves replicated streams' replicas over the live nodes (docs/cluster.md, "Reassignment"). */
  rebalance?(timeoutMs: number): Promise<RebalanceMove[]>;
  /** Removes a stopped member's record (RabbitMQ's forget_cluster_node). */
  forget?(node: string): Promise<'forgotten' | 'not-found' | 'running'>;
}

/** One partition a rebalance moved (done) or started to move (its new replicas not in sync yet). */
export interface RebalanceMove {
  readonly vhost: string;
  readonly stream: string;
  readonly partition: number;
  readonly from: readonly string[];
  readonly to: readonly string[];
  readonly done: boolean;
}

export interface ListenerInfo {
  readonly protocol: string;
  readonly ip: string;
  readonly port: number;
}

export interface ManagementContext {
  readonly broker: Broker;
  readonly resources: ResourceMonitor | undefined;
  /** The broker's listeners (AMQP, Kafka, HTTP), for /api/overview and the port-listener check. */
  readonly listeners: () => readonly ListenerInfo[];
  /** RabbitMQ's node name ("wharf@host"); in a cluster, the --node-name. */
  readonly nodeName: string;
  /** The cluster, when the node runs with --cluster (read on each request: it joins after the HTTP server starts). */
  readonly cluster: () => ClusterInfo | undefined;
  readonly rates: RateSampler;
  /** Connections blocked by a resource alarm. */
  readonly blockedConnections: () => number;
  /** max_message_size: larger payloads on the publish route are refused as RabbitMQ does. */
  readonly maxMessageBytes: number;
}
