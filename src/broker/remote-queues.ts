// Queues homed on another node of a cluster (docs/cluster.md, "Forwarding"): every node has
// every queue's definition, but a classic queue's messages live on its home node only. The
// broker routes a publish on the node it arrives at; copies for a queue homed elsewhere go
// through this interface, which a cluster node implements over a link to the home node.

import type { PublishInput } from './message.js';
import type { Queue } from './queue/queue.js';

export interface RemoteQueues {
  /**
   * One routed copy of a message for a queue homed on `home`, with the exchange and routing
   * key it was published with; resolves once the home has confirmed it (on its disk), rejects
   * if the home refused it or cannot be reached.
   */
  publish(home: string, vhost: string, queue: string, input: PublishInput): Promise<void>;
}

/**
 * Splits a publish's routed queues: copies for queues homed on other nodes go there (a write
 * a confirm waits for), the rest stay to be enqueued here. Without a cluster, all stay.
 */
export function forwardRemote(
  vhost: string,
  routed: readonly Queue[],
  input: PublishInput,
  ctx: { remoteHome?(vhost: string, queue: string): string | undefined; readonly remote?: RemoteQueues },
): { queues: readonly Queue[]; forwarded?: { count: number; write: Promise<void> } } {
  const remote = ctx.remote;
  if (ctx.remoteHome === undefined || remote === undefined) return { queues: routed };
  const here: Queue[] = [];
  const writes: Promise<void>[] = [];
  for (const q of routed) {
    const node = ctx.remoteHome(vhost, q.name);
    if (node === undefined) here.push(q);
    else writes.push(remote.publish(node, vhost, q.name, input));
  }
  if (writes.length === 0) return { queues: routed };
  const write = Promise.all(writes).then(() => undefined);
  // Handled here too: a publish outside confirm mode has no one waiting for it.
  write.catch(() => undefined);
  return { queues: here, forwarded: { count: writes.length, write } };
}
