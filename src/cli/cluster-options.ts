// `wharf serve`'s cluster options (docs/cluster.md): --cluster, --node-name,
// --advertise-host, --cluster-name, --cluster-lease-ttl. Without --cluster none
// of the others may be given, and the node never touches etcd.

import { UsageError, type Resolve } from './config.js';

/** What `serve` passes to startBroker as `cluster`. */
export interface ClusterSpec {
  endpoints: string[];
  nodeName: string;
  clusterName?: string;
  advertiseHost?: string;
  leaseTtlSec?: number;
}

export const clusterFlags = {
  cluster: { type: 'string' },
  'node-name': { type: 'string' },
  'advertise-host': { type: 'string' },
  'cluster-name': { type: 'string' },
  'cluster-lease-ttl': { type: 'string' },
} as const;

export const clusterConfigKeys = ['cluster', 'nodeName', 'advertiseHost', 'clusterName', 'clusterLeaseTtlSec'] as const;

export const clusterHelpText = `  --cluster URLS        WHARF_CLUSTER    join a cluster through etcd at these client URLs, comma-separated,
                                         e.g. http://127.0.0.1:2379 (none: a single node, no etcd)
  --node-name NAME      WHARF_NODE_NAME  with --cluster: this node's name, unique in the cluster (required)
  --advertise-host HOST WHARF_ADVERTISE_HOST
                                         with --cluster: the host other nodes and clients reach this
                                         node at (the bind address; the host name when binding to all)
  --cluster-name NAME   WHARF_CLUSTER_NAME
                                         with --cluster: the cluster's name, its prefix in etcd (wharf)
  --cluster-lease-ttl SECONDS
                        WHARF_CLUSTER_LEASE_TTL
                                         with --cluster: the node lease's TTL; a dead node's leaderships
                                         move after at most this long (4)
`;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

export function resolveCluster(resolve: Resolve): ClusterSpec | undefined {
  const endpoints = resolve('cluster', 'WHARF_CLUSTER', 'cluster', parseEndpoints, undefined);
  const nodeName = resolve('node-name', 'WHARF_NODE_NAME', 'nodeName', parseName, undefined);
  const advertiseHost = resolve('advertise-host', 'WHARF_ADVERTISE_HOST', 'advertiseHost', parseHostName, undefined);
  const clusterName = resolve('cluster-name', 'WHARF_CLUSTER_NAME', 'clusterName', parseName, undefined);
  const leaseTtlSec = resolve('cluster-lease-ttl', 'WHARF_CLUSTER_LEASE_TTL', 'clusterLeaseTtlSec', parseTtl, undefined);
  if (endpoints === undefined) {
    const stray = [
      nodeName !== undefined && '--node-name', advertiseHost !== undefined && '--advertise-host',
      clusterName !== undefined && '--cluster-name', leaseTtlSec !== undefined && '--cluster-lease-ttl',
    ].filter((s) => s !== false);
    if (stray.length > 0) throw new UsageError(`${stray.join(', ')} ${stray.length === 1 ? 'needs' : 'need'} --cluster (etcd's URLs)`);
    return undefined;
  }
  if (nodeName === undefined) throw new UsageError('--cluster needs --node-name (this node\'s name, unique in the cluster)');
  return {
    endpoints,
    nodeName,
    ...(clusterName !== undefined ? { clusterName } : {}),
    ...(advertiseHost !== undefined ? { advertiseHost } : {}),
    ...(leaseTtlSec !== undefined ? { leaseTtlSec } : {}),
  };
}

const invalid = (source: string, raw: unknown, expected: string): UsageError =>
  new UsageError(`invalid ${source}: ${JSON.stringify(raw)} (expected ${expected})`);

function parseEndpoints(raw: unknown, source: string): string[] {
  const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',').map((s) => s.trim()).filter((s) => s !== '') : [];
  const expected = 'etcd client URLs like http://127.0.0.1:2379, comma-separated';
  if (items.length === 0) throw invalid(source, raw, expected);
  return items.map((item) => {
    let url: URL;
    try {
      url = new URL(String(item));
    } catch {
      throw invalid(source, raw, expected);
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') throw invalid(source, raw, expected);
    return String(item);
  });
}

function parseName(raw: unknown, source: string): string {
  if (typeof raw !== 'string' || !NAME.test(raw)) throw invalid(source, raw, "letters, digits, '.', '_', '@', '-' (up to 128, not starting with a sign)");
  return raw;
}

function parseHostName(raw: unknown, source: string): string {
  if (typeof raw !== 'string' || raw.trim() === '' || /\s/.test(raw.trim())) throw invalid(source, raw, 'a host name or address');
  return raw.trim();
}

function parseTtl(raw: unknown, source: string): number {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 3600) throw invalid(source, raw, 'a whole number of seconds from 1 to 3600');
  return n;
}
