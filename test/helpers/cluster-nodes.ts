// Three (or more) `wharf serve --cluster` processes on a private etcd, for the cluster suites:
// each node on port 0 with a temporary data dir, the tests' short lease TTL, and a restart on
// its own data dir after a kill. stop() kills every node with SIGKILL, stops etcd and removes
// the data.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before } from 'node:test';
import { nodeId } from '../../src/cluster/streams/placement.js';
import { ErrorCode } from '../../src/protocol/kafka/index.js';
import { waitUntil } from './async.js';
import { makeDataDir, spawnBroker, type SpawnedBroker } from './broker.js';
import { startTestEtcd, TEST_LEASE_TTL_SEC, type EtcdProcess } from './etcd.js';
import { RawKafka } from './raw-kafka.js';

/** FindCoordinator's key types (KIP-98). */
export const KEY_TYPE_GROUP = 0;
export const KEY_TYPE_TRANSACTION = 1;

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

  /** The name of the node with this Kafka broker id. */
  nameOf(id: number): string {
    return [...this.nodes.keys()].find((n) => nodeId(n) === id) ?? `unknown node ${id}`;
  }

  /** FindCoordinator (v3) for a group or a transactional id, asked of node `via`: the node it names, or the error code. */
  async findCoordinator(via: string, key: string, keyType = KEY_TYPE_GROUP): Promise<{ errorCode: number; nodeId: number; port: number }> {
    const r = await RawKafka.open(this.node(via).kafkaPort);
    try {
      const res = await r.call(10, 3, { key, keyType, coordinatorKeys: [] });
      return { errorCode: res.errorCode, nodeId: res.nodeId, port: res.port };
    } finally {
      r.destroy();
    }
  }

  /** Waits until every node in `via` names one coordinator for the key (other than `not`), with its advertised Kafka port; returns its name. */
  async agreedCoordinator(via: readonly string[], key: string, keyType = KEY_TYPE_GROUP, not?: string): Promise<string> {
    let found = '';
    await waitUntil(async () => {
      const answers = await Promise.all(via.map((n) => this.findCoordinator(n, key, keyType)));
      if (answers.some((a) => a.errorCode !== ErrorCode.NONE)) return false;
      if (new Set(answers.map((a) => a.nodeId)).size !== 1) return false;
      found = this.nameOf(answers[0].nodeId);
      assert.equal(answers[0].port, this.node(found).kafkaPort, 'the coordinator is named with its advertised Kafka address');
      return found !== not;
    }, `every node names one coordinator for ${key}`, 60_000);
    return found;
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

/** What useClusterNodes() gives a describe block. */
export interface UsedClusterNodes {
  /** The started cluster (from the first test on). */
  readonly cluster: ClusterNodes;
  /** kafkajs clients (or anything with disconnect()) to close after the tests. */
  readonly clients: { disconnect(): Promise<void> }[];
  /** A raw Kafka connection to node `name`, closed after the tests. */
  raw(name: string): Promise<RawKafka>;
}

/**
 * A describe block's ClusterNodes, started before its tests and stopped after them, with the
 * raw connections and the clients it handed out closed first.
 */
export function useClusterNodes(names: readonly string[]): UsedClusterNodes {
  let started: ClusterNodes | undefined;
  const raws: RawKafka[] = [];
  const clients: { disconnect(): Promise<void> }[] = [];
  const cluster = (): ClusterNodes => {
    if (started === undefined) throw new Error('the cluster has not started yet');
    return started;
  };
  before(async () => {
    started = await ClusterNodes.start(names);
  });
  after(async () => {
    for (const c of clients) await c.disconnect().catch(() => undefined);
    for (const r of raws) r.destroy();
    await started?.stop();
  });
  return {
    get cluster() {
      return cluster();
    },
    clients,
    async raw(name: string): Promise<RawKafka> {
      const r = await RawKafka.open(cluster().node(name).kafkaPort);
      raws.push(r);
      return r;
    },
  };
}
