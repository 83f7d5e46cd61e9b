// Several `wharf serve --cluster` processes on one private etcd, each on its own data dir, for
// the fault suites (test/integration/cluster/faults*.test.ts): start, stop (SIGTERM) or kill -9
// a node by name and start it again on its data dir, ask /api/nodes who leads what, and reach
// the nodes with kafkajs. Several FaultClusters may share one etcd under different cluster names.

import { mkdir, rm } from 'node:fs/promises';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import { freePort } from '../../src/cluster/etcd-process.js';
import { nodeId } from '../../src/cluster/streams/placement.js';
import { makeDataDir, spawnBroker, type SpawnedBroker } from './broker.js';
import { waitUntil } from './async.js';
import { etcdClient, TEST_LEASE_TTL_SEC, type EtcdProcess } from './etcd.js';

interface NodeJson {
  name: string;
  running: boolean;
  leaders?: { resource: string; epoch: number }[];
}

export class FaultCluster {
  readonly nodes = new Map<string, SpawnedBroker>();
  readonly dirs = new Map<string, string>();
  /** Every stderr of every run of each node, for log-line checks. */
  private readonly pastStderr = new Map<string, string>();

  constructor(
    readonly etcd: EtcdProcess,
    readonly name: string,
    readonly names: readonly string[],
  ) {}

  /** Each node's Kafka port, the same across its restarts (clients keep their bootstrap list, as in production). */
  private readonly kafkaPorts = new Map<string, number>();

  args(node: string): string[] {
    return [
      '--cluster', this.etcd.endpoint, '--cluster-name', this.name, '--node-name', node,
      '--advertise-host', '127.0.0.1', '--cluster-lease-ttl', String(TEST_LEASE_TTL_SEC), '--log-level', 'info',
    ];
  }

  /** Starts every node, each on a new data dir. */
  async start(): Promise<void> {
    for (const n of this.names) await this.startNode(n);
  }

  /** Starts the node on its data dir (a new one the first time; `dir` to give one). */
  async startNode(node: string, dir?: string): Promise<SpawnedBroker> {
    if (dir !== undefined) this.dirs.set(node, dir);
    let d = this.dirs.get(node);
    if (d === undefined) {
      d = await makeDataDir();
      this.dirs.set(node, d);
    }
    // A node may wait up to a TTL for its previous record, on a machine shared with other suites.
    let port = this.kafkaPorts.get(node);
    if (port === undefined) {
      port = await freePort();
      this.kafkaPorts.set(node, port);
    }
    const b = await spawnBroker(d, [...this.args(node), '--kafka-port', String(port)], { startTimeoutMs: 60_000 });
    this.keepStderr(node);
    this.nodes.set(node, b);
    return b;
  }

  /** SIGTERM (a clean stop) or SIGKILL; resolves once the process is gone. */
  async stopNode(node: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const b = this.nodes.get(node);
    if (b === undefined) return;
    this.keepStderr(node);
    await b.kill(signal);
  }

  /** Waits until etcd has dropped the node's record (its lease lapsed or was revoked), so a restart does not wait for it. */
  async gone(node: string): Promise<void> {
    const client = etcdClient(this.etcd);
    try {
      await waitUntil(async () => (await client.get(`/wharf/${this.name}/nodes/${node}`).string()) === null, `${node}'s record gone from etcd`, 30_000);
    } finally {
      client.close();
    }
  }

  /** Empties the node's data dir (the node must be stopped). */
  async wipe(node: string): Promise<void> {
    const d = this.dirs.get(node);
    if (d === undefined) return;
    await rm(d, { recursive: true, force: true });
    await mkdir(d);
  }

  /** All the node's stderr so far, across its runs. */
  stderr(node: string): string {
    const b = this.nodes.get(node);
    return (this.pastStderr.get(node) ?? '') + (b === undefined ? '' : b.stderr().slice(this.seenOf.get(b) ?? 0));
  }

  up(node: string): boolean {
    const b = this.nodes.get(node);
    return b !== undefined && b.process.exitCode === null && b.process.signalCode === null;
  }

  bootstrap(nodes: readonly string[] = this.names): string[] {
    return nodes.filter((n) => this.up(n)).map((n) => this.nodes.get(n)?.kafkaBootstrap ?? '');
  }

  kafka(nodes: readonly string[] = this.names, extra: Partial<KafkaConfig> = {}): Kafka {
    return new Kafka({
      clientId: 'wharf-faults',
      brokers: this.bootstrap(nodes),
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1000,
      retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 },
      ...extra,
    });
  }

  nameOf(id: number): string | undefined {
    return this.names.find((n) => nodeId(n) === id);
  }

  /** The partition's leader and epoch as a running node's /api/nodes shows them (asked of `via`, or any running node). */
  async leader(topic: string, partition: number, via?: string): Promise<{ node: string; epoch: number } | undefined> {
    const asked = via ?? this.names.find((n) => this.up(n));
    const b = asked === undefined ? undefined : this.nodes.get(asked);
    if (b === undefined) return undefined;
    try {
      const res = await fetch(`http://127.0.0.1:${b.httpPort}/api/nodes`, {
        headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
        signal: AbortSignal.timeout(3000),
      });
      const list = (await res.json()) as NodeJson[];
      const resource = `stream/%2F/${encodeURIComponent(topic)}/${partition}`;
      for (const n of list) {
        const l = n.running ? n.leaders?.find((x) => x.resource === resource) : undefined;
        if (l !== undefined) return { node: n.name, epoch: l.epoch };
      }
    } catch {
      // a node going down under the question: the caller asks again
    }
    return undefined;
  }

  /** The partition's ISR by node name, from Metadata on the running nodes (undefined when none answers with a leader). */
  async isr(topic: string, partition: number): Promise<string[] | undefined> {
    const admin = this.kafka(this.names, { retry: { retries: 0 } }).admin();
    try {
      await admin.connect();
      const md = await admin.fetchTopicMetadata({ topics: [topic] });
      const p = md.topics[0]?.partitions.find((x) => x.partitionId === partition);
      if (p === undefined || p.leader < 0) return undefined;
      return p.isr.map((id) => this.nameOf(id) ?? String(id)).sort();
    } catch {
      return undefined;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /** Kills every node (SIGKILL) and removes the data dirs. */
  async destroy(): Promise<void> {
    for (const b of this.nodes.values()) await b.kill('SIGKILL').catch(() => undefined);
    for (const d of this.dirs.values()) await rm(d, { recursive: true, force: true });
  }

  private keepStderr(node: string): void {
    const b = this.nodes.get(node);
    if (b === undefined) return;
    const text = b.stderr();
    const kept = this.pastStderr.get(node) ?? '';
    // A process's stderr only grows: keep what is new since the last look.
    const seen = this.seenOf.get(b) ?? 0;
    this.pastStderr.set(node, kept + text.slice(seen));
    this.seenOf.set(b, text.length);
  }

  private readonly seenOf = new WeakMap<SpawnedBroker, number>();
}
