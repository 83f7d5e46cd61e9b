// Queues homed on another node of a cluster (docs/cluster.md, "Forwarding"): every node has
// every queue's definition, but a classic queue's messages live on its home node only. The
// broker routes a publish on the node it arrives at; copies for a queue homed elsewhere go
// through this interface, which a cluster node implements over a link to the home node.

import type { PublishInput } from './message.js';

export interface RemoteQueues {
  /**
   * One routed copy of a message for a queue homed on `home`, with the exchange and routing
   * key it was published with; resolves once the home has confirmed it (on its disk), rejects
   * if the home refused it or cannot be reached.
   */
  publish(home: string, vhost: string, queue: string, input: PublishInput): Promise<void>;
}
