// `wharf cluster [status]`: every node of the cluster, up or down, how to reach it
// and what it leads (GET /api/nodes on any node). `wharf cluster dev`: a private
// etcd and N nodes on loopback to try a cluster out (cli/cluster-dev.ts).

import { VerbFailure, commonHelp, seg, type AdminIo, type ParsedVerb } from './options.js';
import type { Verb } from './run.js';
import { withActions } from './subcommands.js';
import { formatTable } from './table.js';

const help = `Usage: wharf cluster [status] [options]
       wharf cluster rebalance [options]
       wharf cluster forget NODE [options]
       wharf cluster dev [--nodes N]

status (the default) lists every node of the cluster the broker at --url is in:
its name, whether it is up (its etcd lease is alive), its AMQP, Kafka and HTTP
addresses, and the resources it leads with their epochs. A single node lists itself.

rebalance places every replicated Kafka topic's partitions over the nodes that
are up (after adding or removing nodes) and moves the replicas that change, as
Kafka's reassignment does: the new replicas fetch and join the in-sync replicas
first, then the old ones stop and delete their copy. It prints each partition it
moved; one whose new replicas were not in sync within 20 s keeps its old and new
replicas (exit code 1): run it again to finish.

forget removes a stopped node from the cluster's members (RabbitMQ's
forget_cluster_node); a running node is refused. Rebalance afterwards to move its
replicas to the nodes that are left.

dev starts a private etcd (/usr/bin/etcd) and N Wharf nodes (3) on free loopback
ports with temporary data dirs, prints their addresses, and stops them all on
Ctrl-C. For trying a cluster out; nothing it stores survives it.

Examples:
  wharf cluster status --url http://127.0.0.1:15672
  wharf cluster rebalance --url http://127.0.0.1:15672
  wharf cluster forget n3
  wharf cluster dev --nodes 3

${commonHelp}`;

interface NodeJson {
  name: string;
  running?: boolean;
  addresses?: Record<string, string>;
  leaders?: { resource: string; epoch: number }[];
}

async function status(p: ParsedVerb, _args: readonly string[], io: AdminIo): Promise<void> {
  const nodes = await p.client().get<NodeJson[]>('/api/nodes');
  if (p.json) {
    io.stdout(JSON.stringify(nodes, null, 2) + '\n');
    return;
  }
  io.stdout(statusTable(nodes));
}

export function statusTable(nodes: readonly NodeJson[]): string {
  const rows = nodes.map((n) => ({
    name: n.name,
    state: n.running === false ? 'down' : 'up',
    amqp: n.addresses?.amqp ?? '',
    kafka: n.addresses?.kafka ?? '',
    http: n.addresses?.http ?? '',
    leaders: (n.leaders ?? []).map((l) => `${l.resource}@${l.epoch}`).join(' '),
  }));
  return formatTable([
    { header: 'name', value: 'name' },
    { header: 'state', value: 'state' },
    { header: 'amqp', value: 'amqp' },
    { header: 'kafka', value: 'kafka' },
    { header: 'http', value: 'http' },
    { header: 'leaders (resource@epoch)', value: 'leaders' },
  ], rows);
}

interface MoveJson {
  vhost: string;
  stream: string;
  partition: number;
  from: string[];
  to: string[];
  done: boolean;
}

async function rebalance(p: ParsedVerb, _args: readonly string[], io: AdminIo): Promise<void> {
  const { moves } = (await p.client().post('/api/cluster/rebalance')).body as { moves: MoveJson[] };
  if (p.json) io.stdout(JSON.stringify(moves, null, 2) + '\n');
  else if (moves.length === 0) io.stdout('every replicated partition is already placed over the live nodes\n');
  else {
    const rows = moves.map((m) => ({ partition: `${m.stream}-${m.partition}`, vhost: m.vhost, from: m.from.join(','), to: m.to.join(','), state: m.done ? 'moved' : 'catching up' }));
    io.stdout(formatTable([
      { header: 'partition', value: 'partition' },
      { header: 'vhost', value: 'vhost' },
      { header: 'from', value: 'from' },
      { header: 'to', value: 'to' },
      { header: 'state', value: 'state' },
    ], rows));
  }
  if (moves.some((m) => !m.done)) {
    throw new VerbFailure('some new replicas are not in sync yet; they keep fetching: run `wharf cluster rebalance` again to finish');
  }
}

async function forget(p: ParsedVerb, args: readonly string[], io: AdminIo): Promise<void> {
  const [node] = args;
  await p.client().delete(`/api/cluster/members/${seg(node)}`);
  io.stdout(`forgot node ${node}\n`);
}

async function dev(p: ParsedVerb, _args: readonly string[], io: AdminIo): Promise<void> {
  const count = p.flags.int('cluster dev', 'nodes', 3, 1);
  const { runClusterDev } = await import('../cluster-dev.js');
  await runClusterDev(count, io);
}

export const clusterVerbs: Readonly<Record<string, Verb>> = {
  cluster: withActions('cluster', help, { nodes: { type: 'string' } }, {
    list: { args: [], run: status },
    status: { args: [], run: status },
    rebalance: { args: [], run: rebalance },
    forget: { args: ['NODE'], run: forget },
    dev: { args: [], run: dev },
  }),
};
