// `wharf cluster [status]`: every node of the cluster, up or down, how to reach it
// and what it leads (GET /api/nodes on any node). `wharf cluster dev`: a private
// etcd and N nodes on loopback to try a cluster out (cli/cluster-dev.ts).

import { commonHelp, type AdminIo, type ParsedVerb } from './options.js';
import type { Verb } from './run.js';
import { withActions } from './subcommands.js';
import { formatTable } from './table.js';

const help = `Usage: wharf cluster [status] [options]
       wharf cluster dev [--nodes N]

status (the default) lists every node of the cluster the broker at --url is in:
its name, whether it is up (its etcd lease is alive), its AMQP, Kafka and HTTP
addresses, and the resources it leads with their epochs. A single node lists itself.

dev starts a private etcd (/usr/bin/etcd) and N Wharf nodes (3) on free loopback
ports with temporary data dirs, prints their addresses, and stops them all on
Ctrl-C. For trying a cluster out; nothing it stores survives it.

Examples:
  wharf cluster status --url http://127.0.0.1:15672
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

async function dev(p: ParsedVerb, _args: readonly string[], io: AdminIo): Promise<void> {
  const count = p.flags.int('cluster dev', 'nodes', 3, 1);
  const { runClusterDev } = await import('../cluster-dev.js');
  await runClusterDev(count, io);
}

export const clusterVerbs: Readonly<Record<string, Verb>> = {
  cluster: withActions('cluster', help, { nodes: { type: 'string' } }, {
    list: { args: [], run: status },
    status: { args: [], run: status },
    dev: { args: [], run: dev },
  }),
};
