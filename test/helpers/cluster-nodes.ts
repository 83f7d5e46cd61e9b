// Three (or more) `wharf serve --cluster` processes on a private etcd, for the cluster suites:
// each node on port 0 with a temporary data dir, the tests' short lease TTL, and a restart on
// its own data dir after a kill. stop() kills every node with SIGKILL, stops etcd and removes
// the data.

import { rm } from 'node:fs/promises';
import { makeDataDir, spawnBroker, type SpawnedBroker } from './broker.js';
import { startTestEtcd, TEST_LEASE_TTL_SEC, type EtcdProcess } from './etcd.js';

export class ClusterNodes {
  readonly nodes = new Map<string, SpawnedBroker>();
  readonly dirs = new Map<string, string>();

  private constructor(readonly etcd: EtcdProcess) {}

  /** Starts etcd, then the named nodes one after the other. */
  static async start(names: readonly string[]): Promise<ClusterNodes> {
    const c = new ClusterNodes(await startTestEtcd());
    for (const name of names) {
      const dir = await makeDataDir();
      c.dirs.set(name, dir);
      c.nodes.set(name, await spawnBroker(dir, c.args(name)));
    }
    return c;
  }

  /** The cluster options of a node (`wharf serve` arguments). */
  args(name: string): string[] {
    return ['--cluster', this.etcd.endpoint, '--node-name', name, '--advertise-host', '127.0.0.1', '--cluster-lease-ttl', String(TEST_LEASE_TTL_SEC)];
  }

  node(name: string): SpawnedBroker {
    const n = this.nodes.get(name);
    if (n === undefined) throw new Error(`no node ${name}`);
    return n;
  }

  /** Kafka bootstrap addresses of the named nodes. */
  bootstrapOf(names: readonly string[]): string[] {
    return names.map((n) => this.node(n).kafkaBootstrap);
  }

  /** Starts a node again on its data dir (after a kill). */
  async restart(name: string): Promise<SpawnedBroker> {
    const dir = this.dirs.get(name);
    if (dir === undefined) throw new Error(`no node ${name}`);
    const n = await spawnBroker(dir, this.args(name));
    this.nodes.set(name, n);
    return n;
  }

  async stop(): Promise<void> {
    for (const n of this.nodes.values()) await n.kill('SIGKILL').catch(() => undefined);
    await this.etcd.stop();
    for (const d of this.dirs.values()) await rm(d, { recursive: true, force: true });
  }
}
