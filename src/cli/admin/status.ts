// `wharf status`: the overview, the node's alarms and the listeners in a few lines.

import type { Verb } from './run.js';
import { commonHelp, parseVerb, positionalsExactly } from './options.js';

interface Overview {
  product_name?: string;
  product_version?: string;
  rabbitmq_version?: string;
  node?: string;
  object_totals?: Record<string, number>;
  queue_totals?: { messages?: number; messages_ready?: number; messages_unacknowledged?: number };
  message_stats?: Record<string, unknown>;
  listeners?: { protocol: string; ip_address?: string; port: number }[];
}

interface NodeInfo {
  name: string;
  mem_used?: number;
  mem_limit?: number;
  mem_alarm?: boolean;
  disk_free?: number;
  disk_free_limit?: number;
  disk_free_alarm?: boolean;
  uptime?: number;
}

const help = `Usage: wharf status [options]

The broker at a glance: product and version, node, object and message totals,
publish/deliver rates, memory and disk against their alarms, listeners.
With --json: {"overview": GET /api/overview, "nodes": GET /api/nodes}.

Example:
  wharf status --url http://broker:15672 --user admin --password s3cret

${commonHelp}`;

async function run(args: readonly string[], io: Parameters<Verb['run']>[1]): Promise<void> {
  const p = parseVerb('status', args, {}, io.env);
  positionalsExactly('status', p, []);
  const client = p.client();
  const overview = await client.get<Overview>('/api/overview');
  const nodes = await client.get<NodeInfo[]>('/api/nodes');
  if (p.json) {
    io.stdout(JSON.stringify({ overview, nodes }, null, 2) + '\n');
    return;
  }
  io.stdout(statusText(client.url, overview, nodes));
}

function statusText(url: string, o: Overview, nodes: readonly NodeInfo[]): string {
  const t = o.object_totals ?? {};
  const q = o.queue_totals ?? {};
  const rate = (key: string): string => {
    const r = (o.message_stats?.[`${key}_details`] as { rate?: number } | undefined)?.rate;
    return r === undefined ? '0.0' : r.toFixed(1);
  };
  const lines = [
    `${o.product_name ?? 'RabbitMQ'} ${o.product_version ?? o.rabbitmq_version ?? ''} at ${url}`.trimEnd(),
    `node:        ${o.node ?? '?'}`,
    `objects:     ${t.connections ?? 0} connections, ${t.channels ?? 0} channels, ${t.consumers ?? 0} consumers, ` +
      `${t.queues ?? 0} queues, ${t.exchanges ?? 0} exchanges`,
    `messages:    ${q.messages ?? 0} (${q.messages_ready ?? 0} ready, ${q.messages_unacknowledged ?? 0} unacked)`,
    `rates/s:     publish ${rate('publish')}, deliver ${rate('deliver_get')}, ack ${rate('ack')}`,
  ];
  for (const n of nodes) {
    const alarms = [n.mem_alarm ? 'memory' : '', n.disk_free_alarm ? 'disk' : ''].filter((a) => a !== '');
    lines.push(
      `memory:      ${mb(n.mem_used)} used of ${mb(n.mem_limit)} limit`,
      `disk free:   ${mb(n.disk_free)} (limit ${mb(n.disk_free_limit)})`,
      `alarms:      ${alarms.length > 0 ? alarms.join(', ') : 'none'}`,
    );
  }
  const listeners = (o.listeners ?? []).map((l) => `${l.protocol} ${l.port}`).join(', ');
  if (listeners) lines.push(`listeners:   ${listeners}`);
  return lines.join('\n') + '\n';
}

function mb(bytes: number | undefined): string {
  return bytes === undefined ? '?' : `${(bytes / 1e6).toFixed(0)} MB`;
}

export const statusVerbs: Readonly<Record<string, Verb>> = { status: { help, run } };
