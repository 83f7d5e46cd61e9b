// The broker's users as one connection's SASL mechanisms see them: RabbitMQ's loopback rule
// (guest only from loopback) applied for every mechanism, not just PLAIN.

import { CLUSTER_LINK_USER } from '../../../broker/access/access.js';
import type { Broker } from '../../../broker/broker.js';
import type { SaslBackend } from './mechanism.js';

import { isLoopback } from '../../../util/loopback.js';

export { isLoopback };

export function saslBackend(broker: Broker, remoteAddress: string): SaslBackend {
  const loopback = isLoopback(remoteAddress);
  return {
    authenticate: (user, password) => broker.authenticate(user, password, loopback),
    scramCredentials: (user, hash) => (broker.mayConnectFrom(user, loopback) ? broker.scramCredentials(user, hash) : undefined),
    vhostExists: (name) => broker.vhost(name) !== undefined,
  };
}

/**
 * The cluster link user alone (its password is the cluster's secret), for the nodes' own logins
 * to each other's Kafka listeners (follower fetches); undefined outside a cluster.
 */
export function linkBackend(broker: Broker): SaslBackend | undefined {
  if (broker.access.clusterSecret === undefined) return undefined;
  return {
    authenticate: (user, password) => user === CLUSTER_LINK_USER && broker.authenticate(user, password, false),
    scramCredentials: () => undefined,
    vhostExists: (name) => broker.vhost(name) !== undefined,
  };
}
