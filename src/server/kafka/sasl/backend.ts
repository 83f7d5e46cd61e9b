// The broker's users as one connection's SASL mechanisms see them: RabbitMQ's loopback rule
// (guest only from loopback) applied for every mechanism, not just PLAIN.

import type { Broker } from '../../../broker/broker.js';
import type { SaslBackend } from './mechanism.js';
import { CLUSTER_LINK_USER } from '../../../broker/access/index.js';

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
 * On a cluster node's listener without SASL, the one login there is: the cluster's link user with
 * the cluster's secret, over PLAIN, which other nodes' transaction coordinators use for
 * WriteTxnMarkers (docs/cluster.md, "Transactions"). Nobody else logs in there.
 */
export function clusterLinkBackend(broker: Broker, remoteAddress: string): SaslBackend {
  const all = saslBackend(broker, remoteAddress);
  return {
    authenticate: (user, password) => user === CLUSTER_LINK_USER && all.authenticate(user, password),
    scramCredentials: () => undefined,
    vhostExists: all.vhostExists,
  };
}
