// Three `wharf serve --cluster` processes on a private etcd with loopback ports and temporary
// data dirs, for the cluster tests and the Jepsen-style runs: start, kill and restart nodes,
// SIGSTOP them, and read who leads what from /api/nodes.

import { rm } from 'node:fs/promises';
import { after, before } from 'node:test';
import { Clients } from './amqplib.js';
import { makeDataDir, spawnBroker, type SpawnedBroker } from './broker.js';
import { startTestEtcd, TEST_LEASE_TTL_SEC, type EtcdProcess } from './etcd.js';

export const NODE_NAMES = ['n1', 'n2', 'n3'];

export interface LeaderSeen {
  readonly node: string;
  readonly epoch: number;
}

export class TestCluster {
  etcd!: EtcdProcess;
  readonly nodes = new Map<string, SpawnedBroker>();
  readonly dirs = new Map<string, string>();
  readonly paused = new Set<string>();

  constructor(readonly names: readonly string[] = NODE_NAMES) {}

  async start(): Promise<void> {
    this.etcd = await startTestEtcd();
    for (const name of this.names) {
      this.dirs.set(name, await makeDataDir());
      await this.spawn(name);
    }
  }

  /** Starts (or restarts, on its data dir) a node. */
  async spawn(name: string): Promise<void> {
    const args = ['--cluster', this.etcd.endpoint, '--node-name', name, '--advertise-host', '127.0.0.1', '--cluster-lease-ttl', String(TEST_LEASE_TTL_SEC)];
    this.nodes.set(name, await spawnBroker(this.dirs.get(name) ?? '', args));
  }

  node(name: string): SpawnedBroker {
    const n = this.nodes.get(name);
    if (n === undefined) throw new Error(`no node ${name}`);
    return n;
  }

  up(name: string): boolean {
    const n = this.nodes.get(name);
    return n !== undefined && n.process.exitCode === null && n.process.signalCode === null && !this.paused.has(name);
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
      const res = await fetch(`http://127.0.0.1:${this.nodes.get(asked)?.httpPort}/api/nodes`, {
        headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
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

  /** Every node running and unpaused again. */
  async heal(): Promise<void> {
    for (const name of this.names) {
      const n = this.nodes.get(name);
      if (this.paused.has(name)) {
        n?.process.kill('SIGCONT');
        this.paused.delete(name);
      }
      if (n !== undefined && (n.process.exitCode !== null || n.process.signalCode !== null)) await this.spawn(name);
    }
  }

  /** kill -9 of every node (so their logs on disk can be read), then etcd. */
  async stop(): Promise<void> {
    await this.killAll();
    await this.etcd?.stop();
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
