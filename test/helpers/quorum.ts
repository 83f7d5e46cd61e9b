// A replicated quorum queue's leader as a cluster node's management API shows it (RabbitMQ's
// `leader` and `online` fields of /api/queues), for the cluster suites.

import { waitUntil } from './async.js';
import type { TestCluster } from './cluster.js';

const AUTH = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };

async function queueView(cluster: TestCluster, via: string, queue: string, vhost: string): Promise<{ leader: string | null; online: string[] } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${cluster.node(via).httpPort}/api/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(queue)}`, { headers: AUTH, signal: AbortSignal.timeout(2000) });
    return res.ok ? ((await res.json()) as { leader: string | null; online: string[] }) : undefined;
  } catch {
    return undefined;
  }
}

/** The leader of `queue` as node `via` sees it once all three members are online. */
export async function leaderVia(cluster: TestCluster, via: string, queue: string, vhost = '/'): Promise<string | undefined> {
  const v = await queueView(cluster, via, queue, vhost);
  return v !== undefined && v.leader !== null && v.online.length === 3 ? v.leader : undefined;
}

/** After the kill of `old`: the queue's new leader, as node `via` sees it. */
export async function newLeader(cluster: TestCluster, via: string, queue: string, old: string, vhost = '/'): Promise<string> {
  let next = '';
  await waitUntil(async () => {
    next = (await queueView(cluster, via, queue, vhost))?.leader ?? '';
    return next !== '' && next !== old;
  }, `a new leader of ${queue}`, 20_000);
  return next;
}
