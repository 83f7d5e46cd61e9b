// Counts of queues homed on other nodes of a cluster, for /api/queues on any node (docs/cluster.md,
// "Forwarding"): a classic queue's messages live on its home, a quorum queue's on its leader, so
// only that node knows how many there are and who consumes them. RabbitMQ's API shows them on
// every node; so does Wharf's: each node serves the counts of the queues it homes on an internal
// route (the cluster's link user and secret only), and a node asked for queues fetches them from
// the homes of the queues it shows: one request per home node, all at once (never one per queue),
// each answer kept for a second so a dashboard polling every node does not multiply requests.

import type { FastifyInstance } from 'fastify';
import { CLUSTER_LINK_USER } from '../broker/access/index.js';
import type { Broker } from '../broker/broker.js';
import type { Queue } from '../broker/queue/queue.js';
import type { ManagementContext } from './context.js';
import { isLoopback, parseBasic } from './auth.js';

/** What a queue's home knows of it and the others do not. */
export interface QueueCounts {
  readonly ready: number;
  readonly unacked: number;
  readonly consumers: number;
  readonly readyBytes: number;
}

/** The counts a node serves: vhost -> queue -> [ready, unacked, consumers, ready bytes]. */
type Served = Record<string, Record<string, [number, number, number, number]>>;

export const QUEUE_COUNTS_PATH = '/api/wharf/cluster/queue-counts';
/** Counts fetched this recently are reused. */
const CACHE_MS = 1_000;
/** A node slower than this to answer shows its queues with this node's counts (0). */
const ASK_TIMEOUT_MS = 2_000;

export function localCounts(q: Queue): QueueCounts {
  return { ready: q.messageCount, unacked: q.unacked, consumers: q.consumerCount, readyBytes: q.readyBodyBytes };
}

/** The internal route: the counts of every queue homed on this node, for the cluster's other nodes only. */
export function queueCountsRoute(app: FastifyInstance, ctx: ManagementContext): void {
  app.get(QUEUE_COUNTS_PATH, async (req, reply) => {
    const creds = parseBasic(req.headers.authorization);
    if (creds?.user !== CLUSTER_LINK_USER || !ctx.broker.authenticate(creds.user, creds.password, isLoopback(req.socket.remoteAddress ?? ''))) {
      return reply.code(401).send({ error: 'not_authorized', reason: 'Login failed' });
    }
    return reply.header('cache-control', 'no-cache').send(homedHere(ctx.broker));
  });
}

function homedHere(broker: Broker): Served {
  const out: Served = {};
  for (const v of broker.vhostList()) {
    const queues: Served[string] = {};
    for (const q of v.queues.values()) {
      if (broker.isRemote(v.name, q.name)) continue;
      queues[q.name] = [q.messageCount, q.unacked, q.consumerCount, q.readyBodyBytes];
    }
    out[v.name] = queues;
  }
  return out;
}

/** Fetches (and briefly keeps) other nodes' counts; one per management context. */
export class RemoteCounts {
  /** Per node, its latest answer (or the request under way): queue key -> counts. */
  private readonly cached = new Map<string, { atMs: number; counts: Promise<Map<string, QueueCounts>> }>();

  constructor(private readonly ctx: ManagementContext) {}

  /**
   * A lookup of counts for `queues`: the home's for those homed on other nodes (asked once per
   * home, all at once), the queue's own for the rest and outside a cluster.
   */
  async lookup(queues: Iterable<Queue>): Promise<(q: Queue) => QueueCounts> {
    const broker = this.ctx.broker;
    if (this.ctx.cluster() === undefined || broker.remote === undefined) return localCounts;
    const homes = new Set<string>();
    for (const q of queues) {
      if (broker.isRemote(q.vhost, q.name)) homes.add(broker.queueHome(q.vhost, q.name) as string);
    }
    if (homes.size === 0) return localCounts;
    const nodes = [...homes];
    const answers = new Map((await Promise.all(nodes.map((node) => this.of(node)))).map((a, i) => [nodes[i] as string, a]));
    return (q) => {
      const home = broker.isRemote(q.vhost, q.name) ? broker.queueHome(q.vhost, q.name) : undefined;
      return (home === undefined ? undefined : answers.get(home)?.get(keyOf(q.vhost, q.name))) ?? localCounts(q);
    };
  }

  private of(node: string): Promise<Map<string, QueueCounts>> {
    const now = Date.now();
    const known = this.cached.get(node);
    if (known !== undefined && now - known.atMs <= CACHE_MS) return known.counts;
    const counts = this.fetchFrom(node);
    this.cached.set(node, { atMs: now, counts });
    return counts;
  }

  /** A node that is down, slow or refuses gives nothing: its queues show this node's counts (0). */
  private async fetchFrom(node: string): Promise<Map<string, QueueCounts>> {
    const out = new Map<string, QueueCounts>();
    const secret = this.ctx.broker.access.clusterSecret;
    const address = this.ctx.cluster()?.nodes().find((n) => n.name === node && n.up)?.addresses.http;
    if (secret === undefined || address === undefined) return out;
    const authorization = `Basic ${Buffer.from(`${CLUSTER_LINK_USER}:${secret}`).toString('base64')}`;
    try {
      const res = await fetch(`http://${address}${QUEUE_COUNTS_PATH}`, { headers: { authorization }, signal: AbortSignal.timeout(ASK_TIMEOUT_MS) });
      if (!res.ok) return out;
      const served = (await res.json()) as Served;
      for (const [vhost, queues] of Object.entries(served)) {
        for (const [name, [ready, unacked, consumers, readyBytes]] of Object.entries(queues)) {
          out.set(keyOf(vhost, name), { ready, unacked, consumers, readyBytes });
        }
      }
    } catch (err) {
      this.ctx.broker.logger.debug('cannot read queue counts from a node', { node, error: (err as Error).message });
    }
    return out;
  }
}

function keyOf(vhost: string, queue: string): string {
  return `${vhost}\0${queue}`;
}

