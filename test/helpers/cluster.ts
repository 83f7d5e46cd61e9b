// Three `wharf serve --cluster` processes on a private etcd with loopback ports and temporary
// data dirs, for the cluster tests and the Jepsen-style runs: start, kill and restart nodes,
// SIGSTOP them, and read who leads what from /api/nodes.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { Clients } from './amqplib.js';
import { makeDataDir, spawnBroker, type SpawnedBroker } from './broker.js';
import { startTestEtcd, TEST_LEASE_TTL_SEC, type EtcdProcess } from './etcd.js';
import { createNetwork, type NetnsNetwork } from './jepsen/netns.js';

export const NODE_NAMES = ['n1', 'n2', 'n3'];
/** etcd's host name in a namespaced network. */
export const ETCD_HOST = 'etcd';
/** A node restarted under a loaded machine (three nodes, etcd and the clients on two shared cores) may take a while. */
const NODE_START_TIMEOUT_MS = 60_000;

/** Where the cluster's hosts (the nodes and etcd) run, and how to reach them. */
export interface Hosts {
  address(host: string): string;
  /** The command prefix that runs a program on the host. */
  wrap(host: string): string[];
  /** The private network, for network faults (undefined on loopback). */
  readonly net: NetnsNetwork | undefined;
  /** user:password for the management API (guest only logs in from loopback, as in RabbitMQ). */
  readonly login: string;
  /** More arguments for each node. */
  readonly nodeArgs: readonly string[];
  destroy(): void;
}

export const loopbackHosts: Hosts = { address: () => '127.0.0.1', wrap: () => [], net: undefined, login: 'guest:guest', nodeArgs: [], destroy: () => undefined };

/** Each node and etcd in a network namespace of its own on a private bridge (jepsen/netns.ts). */
export function netnsHosts(nodes: readonly string[]): Hosts {
  const net = createNetwork([...nodes, ETCD_HOST]);
  // The test process reaches the nodes from the bridge's address, not loopback: a user of its own,
  // with every permission on the default vhost (the AMQP workload publishes and consumes there).
  const dir = mkdtempSync(join(tmpdir(), 'wharf-jepsen-'));
  const definitions = join(dir, 'definitions.json');
  writeFileSync(definitions, JSON.stringify({
    users: [{ name: 'jepsen', password: 'jepsen', tags: 'administrator' }],
    permissions: [{ user: 'jepsen', vhost: '/', configure: '.*', write: '.*', read: '.*' }],
  }));
  return {
    address: (h) => net.address(h),
    wrap: (h) => net.wrap(h),
    net,
    login: 'jepsen:jepsen',
    nodeArgs: ['--definitions', definitions],
    destroy: () => {
      net.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface LeaderSeen {
  readonly node: string;
  readonly epoch: number;
}

export class TestCluster {
  etcd!: EtcdProcess;
  readonly nodes = new Map<string, SpawnedBroker>();
  readonly dirs = new Map<string, string>();
  readonly paused = new Set<string>();
  /** Nodes cut off from etcd: their own view is stale, so nobody asks them. */
  readonly isolated = new Set<string>();
  /** The logs (stderr) of each node's earlier processes, killed and restarted since. */
  private readonly pastLogs = new Map<string, string[]>();

  constructor(
    readonly names: readonly string[] = NODE_NAMES,
    readonly hosts: Hosts = loopbackHosts,
  ) {}

  async start(): Promise<void> {
    this.etcd = await startTestEtcd({ host: this.hosts.address(ETCD_HOST), wrap: this.hosts.wrap(ETCD_HOST) });
    for (const name of this.names) {
      this.dirs.set(name, await makeDataDir());
      await this.spawn(name);
    }
  }

  /** Starts (or restarts, on its data dir) a node. */
  async spawn(name: string): Promise<void> {
    const before = this.nodes.get(name);
    if (before !== undefined) this.pastLogs.set(name, [...(this.pastLogs.get(name) ?? []), before.stderr()]);
    const host = this.hosts.address(name);
    const args = ['--cluster', this.etcd.endpoint, '--node-name', name, '--advertise-host', host, '--cluster-lease-ttl', String(TEST_LEASE_TTL_SEC), ...this.hosts.nodeArgs];
    this.nodes.set(name, await spawnBroker(this.dirs.get(name) ?? '', args, { host, wrap: this.hosts.wrap(name), startTimeoutMs: NODE_START_TIMEOUT_MS }));
  }

  node(name: string): SpawnedBroker {
    const n = this.nodes.get(name);
    if (n === undefined) throw new Error(`no node ${name}`);
    return n;
  }

  /** An AMQP URL of the node, with the login the hosts take (guest only from loopback). */
  amqpUrl(name: string): string {
    return `amqp://${this.hosts.login}@${this.hosts.address(name)}:${this.node(name).port}`;
  }

  up(name: string): boolean {
    const n = this.nodes.get(name);
    return n !== undefined && n.process.exitCode === null && n.process.signalCode === null && !this.paused.has(name) && !this.isolated.has(name);
  }

  bootstrap(): string[] {
    return this.names.filter((n) => this.up(n)).map((n) => this.nodes.get(n)?.kafkaBootstrap ?? '');
  }

  /** Every leadership whose resource starts with `prefix`, as a running node's /api/nodes shows them. */
  async leadersUnder(prefix: string): Promise<Map<string, LeaderSeen>> {
    const out = new Map<string, LeaderSeen>();
    const asked = this.names.find((n) => this.up(n));
    if (asked === undefined) return out;
    try {
      const res = await fetch(`http://${this.hosts.address(asked)}:${this.nodes.get(asked)?.httpPort}/api/nodes`, {
        headers: { authorization: `Basic ${Buffer.from(this.hosts.login).toString('base64')}` },
        signal: AbortSignal.timeout(2000),
      });
      const list = (await res.json()) as { name: string; running: boolean; leaders?: { resource: string; epoch: number }[] }[];
      for (const n of list) {
        if (!n.running) continue;
        for (const l of n.leaders ?? []) if (l.resource.startsWith(prefix)) out.set(l.resource, { node: n.name, epoch: l.epoch });
      }
    } catch {
      // A node going down under the question: the caller asks again.
    }
    return out;
  }

  /** Each partition's leader and epoch. */
  async leaders(topic: string): Promise<Map<number, LeaderSeen>> {
    const prefix = `stream/%2F/${encodeURIComponent(topic)}/`;
    const out = new Map<number, LeaderSeen>();
    for (const [resource, l] of await this.leadersUnder(prefix)) out.set(Number(resource.slice(prefix.length)), l);
    return out;
  }

  /** Every node running, unpaused and reachable again. */
  async heal(): Promise<void> {
    for (const name of this.names) {
      this.hosts.net?.mend(name);
      this.isolated.delete(name);
      const n = this.nodes.get(name);
      if (this.paused.has(name)) {
        n?.process.kill('SIGCONT');
        this.paused.delete(name);
      }
      if (n !== undefined && (n.process.exitCode !== null || n.process.signalCode !== null)) await this.spawn(name);
    }
  }

  /** Writes every node's log (each process of it, in order) and etcd's to files in a new directory under the temp dir; returns it. */
  async saveLogs(tag: string): Promise<string> {
    const dir = join(tmpdir(), `wharf-jepsen-logs-${tag}-${Date.now().toString(36)}`);
    await mkdir(dir, { recursive: true });
    for (const name of this.names) {
      const logs = [...(this.pastLogs.get(name) ?? []), this.nodes.get(name)?.stderr() ?? ''];
      await writeFile(join(dir, `${name}.log`), logs.map((l, i) => `==== ${name}, process ${i + 1} of ${logs.length}\n${l}`).join('\n'));
    }
    await writeFile(join(dir, 'etcd.log'), this.etcd?.log() ?? '');
    return dir;
  }

  /** kill -9 of every node (so their logs on disk can be read), then etcd. */
  async stop(): Promise<void> {
    await this.killAll();
    await this.etcd?.stop();
    this.hosts.destroy();
  }

  async killAll(): Promise<void> {
    for (const [name, n] of this.nodes) {
      if (this.paused.has(name)) n.process.kill('SIGCONT');
      await n.kill('SIGKILL').catch(() => undefined);
    }
    this.paused.clear();
  }

  async removeData(): Promise<void> {
    for (const d of this.dirs.values()) await rm(d, { recursive: true, force: true });
  }
}

/**
 * A describe block's cluster, started before its tests and stopped (its data removed) after,
 * with amqplib clients per node (`clientsOf`) closed first.
 */
export function useCluster(): { readonly cluster: TestCluster; clientsOf(name: string): Clients } {
  const cluster = new TestCluster();
  const clients: Clients[] = [];
  before(() => cluster.start());
  after(async () => {
    for (const c of clients) await c.closeAll().catch(() => undefined);
    await cluster.stop();
    await cluster.removeData();
  });
  return {
    cluster,
    clientsOf(name: string): Clients {
      const c = new Clients(cluster.node(name).url);
      clients.push(c);
      return c;
    },
  };
}
