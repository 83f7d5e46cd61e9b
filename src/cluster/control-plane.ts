// The control plane of a Wharf cluster on etcd (docs/cluster.md): this node's
// membership under a lease, a watched view of every node and leader, and the
// leaderships this node campaigns for. Protocol-neutral: the server, the HTTP
// API and the CLI read it; it knows nothing of the broker.

import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { Etcd3 } from 'etcd3';
import { monotonicNow } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import { campaign, Term, type Candidate } from './election.js';
import { ClusterError } from './errors.js';
import { DataDirIdentity } from './identity.js';
import { ClusterKeys, resourcePath, validName, type Resource } from './keys.js';
import { NodeLease } from './lease.js';
import { parseNodeRecord, type NodeRecord } from './records.js';
import { ClusterView } from './view.js';

export const DEFAULT_CLUSTER_NAME = 'wharf';
/** The node lease's TTL: a dead node's leaderships move after at most this long. */
export const DEFAULT_LEASE_TTL_SEC = 4;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const REJOIN_RETRY_MS = 1_000;

export interface ControlPlaneOptions {
  /** etcd client URLs, e.g. ["http://127.0.0.1:2379"]. */
  readonly endpoints: readonly string[];
  readonly cluster?: string;
  readonly node: string;
  /** How clients reach this node, by protocol: { amqp: "host:5672", http: "host:15672", ... }. */
  readonly addresses: Readonly<Record<string, string>>;
  readonly version: string;
  readonly leaseTtlSec?: number;
  /**
   * The node's data dir: its cluster.json says which cluster and which life of the node it is
   * (src/cluster/identity.ts). Without it, no identity is kept (in-process tests).
   */
  readonly dataDir?: string;
  /** How long to wait for etcd at start before refusing to start (default 5 s). */
  readonly connectTimeoutMs?: number;
  readonly logger: Logger;
}

export interface ClusterNodeInfo {
  readonly name: string;
  /** Its lease is alive. */
  readonly up: boolean;
  /** This process. */
  readonly self: boolean;
  readonly addresses: Readonly<Record<string, string>>;
  /** The resources it leads, with their epochs. */
  readonly leaders: readonly { readonly resource: string; readonly epoch: number }[];
  readonly startedAt: number | undefined;
  readonly version: string | undefined;
}

/**
 * Events: 'elected' (Term) when this node wins a resource; 'rejoined' after a
 * lost lease was replaced; the Term itself emits 'ended'.
 */
export class ControlPlane extends EventEmitter {
  private readonly terms = new Map<string, Term>();
  private readonly wanted = new Map<string, Resource>();
  private readonly campaigning = new Set<string>();
  private closed = false;
  private rejoinTimer: NodeJS.Timeout | undefined;
  /** Failed attempts to rejoin since the lease was lost (only the first is logged above debug). */
  private rejoinFailures = 0;

  private constructor(
    private readonly client: Etcd3,
    readonly keys: ClusterKeys,
    private readonly options: ControlPlaneOptions,
    private lease: NodeLease,
    readonly view: ClusterView,
    private readonly logger: Logger,
    /** A random id for this process: tells its records from an earlier run's. */
    readonly instance: string,
    /** The data dir's identity (undefined without a data dir). */
    readonly identity: DataDirIdentity | undefined,
  ) {
    super();
    this.watchLease();
    view.on('change', () => this.reconcile());
  }

  /**
   * Connects to etcd, registers this node under a new lease and opens the view.
   * ClusterError 'unreachable' if etcd does not answer in time, 'duplicate-node'
   * if a live process already holds the name.
   */
  static async start(options: ControlPlaneOptions): Promise<ControlPlane> {
    const cluster = options.cluster ?? DEFAULT_CLUSTER_NAME;
    if (!validName(options.node)) {
      throw new Error(`invalid node name '${options.node}' (letters, digits, '.', '_', '@', '-'; up to 128)`);
    }
    const keys = new ClusterKeys(cluster);
    const logger = options.logger.child({ cluster, node: options.node });
    const client = new Etcd3({ hosts: [...options.endpoints], dialTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS });
    let lease: NodeLease | undefined;
    try {
      await reachable(client, options);
      const ttlSec = options.leaseTtlSec ?? DEFAULT_LEASE_TTL_SEC;
      lease = await NodeLease.grant(client, { ttlSec }, logger);
      const instance = randomUUID();
      const identity = options.dataDir === undefined ? undefined : await checkIdentity(client, keys, options);
      await register(client, keys, lease, record(options, instance, identity?.incarnation), logger);
      // Written once registered: a start that fails before leaves no identity the cluster never saw.
      await identity?.save();
      if (identity?.notice !== undefined) logger.warn(identity.notice, { dataDir: options.dataDir, incarnation: identity.incarnation });
      const view = await ClusterView.open(client, keys, logger);
      const plane = new ControlPlane(client, keys, options, lease, view, logger, instance, identity);
      logger.info('joined the cluster', { lease: lease.id, ttlSec: lease.ttlSec, members: view.members.size, up: view.live.size });
      return plane;
    } catch (err) {
      await lease?.revoke();
      client.close();
      throw err;
    }
  }

  get nodeName(): string {
    return this.options.node;
  }

  /** This node holds a lease within its local deadline: it can reach etcd and may act as a leader. */
  get connected(): boolean {
    return this.lease.valid;
  }

  get clusterName(): string {
    return this.keys.cluster;
  }

  /**
   * RabbitMQ's forget_cluster_node: removes a stopped member's members/<node> record, in one
   * transaction that holds only while the node is down (no nodes/<node> key). 'not-found' for a
   * name that never joined, 'running' for a node that is up.
   */
  async forget(node: string): Promise<'forgotten' | 'not-found' | 'running'> {
    const res = await this.client
      .if(this.keys.node(node), 'Create', '==', 0)
      .and(this.keys.member(node), 'Create', '>', 0)
      .then(this.client.delete().key(this.keys.member(node)))
      .else(this.client.get(this.keys.node(node)))
      .commit();
    if (res.succeeded) {
      this.logger.info('forgot a cluster member', { node });
      return 'forgotten';
    }
    return (res.responses[0]?.response_range?.kvs.length ?? 0) > 0 ? 'running' : 'not-found';
  }

  /** Every node that ever joined, up or down, with the leaders each holds (sorted by name). */
  nodes(): ClusterNodeInfo[] {
    const names = new Set([...this.view.members.keys(), ...this.view.live.keys()]);
    const leaders = new Map<string, { resource: string; epoch: number }[]>();
    for (const [path, l] of this.view.leaders) {
      const live = this.view.live.get(l.node);
      if (live === undefined || live.instance !== l.instance) continue;
      let list = leaders.get(l.node);
      if (list === undefined) leaders.set(l.node, (list = []));
      list.push({ resource: path, epoch: l.epoch });
    }
    return [...names].sort().map((name) => {
      const live = this.view.live.get(name);
      const known = live ?? this.view.members.get(name);
      return {
        name,
        up: live !== undefined,
        self: name === this.options.node,
        addresses: known?.addresses ?? {},
        leaders: (leaders.get(name) ?? []).sort((a, b) => a.resource.localeCompare(b.resource)),
        startedAt: live?.startedAt,
        version: known?.version,
      };
    });
  }

  /** Campaigns for the resource now and whenever it has no leader, until close(). */
  lead(resource: Resource): void {
    this.wanted.set(resourcePath(resource), resource);
    this.reconcile();
  }

  /** This node's current term for the resource, if it leads it. */
  term(resource: Resource): Term | undefined {
    const t = this.terms.get(resourcePath(resource));
    return t?.active ? t : undefined;
  }

  /** One campaign for the resource: the Term won, or undefined if another node leads it. */
  async campaign(resource: Resource): Promise<Term | undefined> {
    const path = resourcePath(resource);
    const held = this.term(resource);
    if (held !== undefined) return held;
    const term = await campaign(this.client, this.keys, resource, this.candidate());
    if (term === undefined) return undefined;
    this.terms.set(path, term);
    term.once('ended', (reason: string) => {
      if (this.terms.get(path) === term) this.terms.delete(path);
      this.logger.warn('stepped down', { resource: path, epoch: term.epoch, reason });
      this.reconcileSoon();
    });
    this.logger.info('elected leader', { resource: path, epoch: term.epoch });
    this.emit('elected', term);
    return term;
  }

  /** Resigns every leadership, leaves the cluster (revokes the lease) and disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.rejoinTimer);
    for (const t of [...this.terms.values()]) t.end('node stopping');
    this.terms.clear();
    await this.view.close().catch(() => undefined);
    // Revoking deletes the node key and every leader key at once: others take over without waiting for the TTL.
    await this.lease.revoke();
    this.client.close();
  }

  private candidate(): Candidate {
    return { node: this.options.node, instance: this.instance, lease: this.lease };
  }

  /** Ends terms the view shows lost; campaigns for wanted resources nobody leads. */
  private reconcile(): void {
    if (this.closed) return;
    for (const [path, term] of this.terms) {
      if (this.view.revision < term.revision) continue;
      const l = this.view.leaders.get(path);
      if (l === undefined || l.epoch !== term.epoch || l.instance !== this.instance) term.end('the leader key is gone or another node leads');
    }
    if (!this.lease.valid) return;
    for (const [path, resource] of this.wanted) {
      if (this.terms.has(path) || this.view.leaders.has(path) || this.campaigning.has(path)) continue;
      this.campaigning.add(path);
      this.campaign(resource)
        .catch((err: unknown) => this.logger.warn('campaign failed', { resource: path, error: (err as Error).message }))
        .finally(() => {
          this.campaigning.delete(path);
        });
    }
  }

  private reconcileSoon(): void {
    setImmediate(() => this.reconcile());
  }

  private watchLease(): void {
    const lease = this.lease;
    lease.once('expired', (reason: string) => {
      if (this.closed) return;
      this.logger.error(`lost etcd: ${reason}; leading nothing until it answers again`, { lease: lease.id });
      for (const t of [...this.terms.values()]) t.end(`lease lost: ${reason}`);
      // Stepped down, so its leader keys free nothing it still uses: revoke the lease (best
      // effort) rather than leave them until etcd expires it. After a pause past the local
      // deadline (SIGSTOP, a long GC) etcd may still hold the lease for most of a TTL, and every
      // partition it led would have no leader that long.
      void lease.revoke();
      this.rejoinSoon(0);
    });
  }

  private rejoinSoon(delayMs: number): void {
    this.rejoinTimer = setTimeout(() => void this.rejoin(), delayMs);
  }

  private async rejoin(): Promise<void> {
    if (this.closed) return;
    let lease: NodeLease | undefined;
    try {
      lease = await NodeLease.grant(this.client, { ttlSec: this.lease.ttlSec }, this.logger);
      await register(this.client, this.keys, lease, record(this.options, this.instance, this.identity?.incarnation), this.logger);
    } catch (err) {
      await lease?.revoke();
      if (this.closed) return;
      // One line per outage, not one per attempt.
      const log = this.rejoinFailures++ === 0 ? this.logger.warn.bind(this.logger) : this.logger.debug.bind(this.logger);
      log('cannot rejoin the cluster yet; retrying every second', { error: (err as Error).message.replace(/\s*Resolution note:.*$/s, '') });
      return this.rejoinSoon(REJOIN_RETRY_MS);
    }
    if (this.closed) return void lease.revoke();
    if (!lease.valid) {
      // Its local deadline passed while registering (a slow or partitioned etcd): its 'expired'
      // fired before anyone listened, and it keeps nothing alive any more. Grant another.
      await lease.revoke();
      this.logger.warn('the new lease lapsed while rejoining; retrying');
      return this.rejoinSoon(REJOIN_RETRY_MS);
    }
    this.lease = lease;
    this.watchLease();
    this.logger.warn('etcd is back: rejoined the cluster', { lease: lease.id, attempts: this.rejoinFailures + 1 });
    this.rejoinFailures = 0;
    this.emit('rejoined');
    this.reconcile();
  }
}

function record(options: ControlPlaneOptions, instance: string, incarnation: string | undefined): NodeRecord {
  return {
    name: options.node,
    instance,
    addresses: { ...options.addresses },
    version: options.version,
    startedAt: Date.now(),
    ...(incarnation !== undefined ? { incarnation } : {}),
  };
}

/** The cluster's id (made by the first node to ask) and what members/<node> says, against the data dir's cluster.json. */
async function checkIdentity(client: Etcd3, keys: ClusterKeys, options: ControlPlaneOptions): Promise<DataDirIdentity> {
  const made = randomUUID();
  const res = await client.if(keys.clusterId, 'Create', '==', 0).then(client.put(keys.clusterId).value(made)).else(client.get(keys.clusterId)).commit();
  const clusterId = res.succeeded ? made : (res.responses[0]?.response_range?.kvs[0]?.value.toString() ?? made);
  const memberText = await client.get(keys.member(options.node)).string();
  const member = memberText === null ? undefined : parseNodeRecord(memberText);
  return DataDirIdentity.check({
    dataDir: options.dataDir ?? '',
    cluster: keys.cluster,
    clusterId,
    node: options.node,
    memberIncarnation: member?.incarnation,
    wasMember: memberText !== null,
    etcd: options.endpoints.join(', '),
  });
}

/** One cheap call that needs a working etcd, bounded by the connect timeout. */
async function reachable(client: Etcd3, options: ControlPlaneOptions): Promise<void> {
  const ms = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([client.maintenance.status({ deadline: new Date(Date.now() + ms) }), timeout]);
  } catch (err) {
    // grpc-js appends a "Resolution note:" to refused connections; the first sentence says it all.
    const why = (err as Error).message.replace(/\s*Resolution note:.*$/s, '');
    throw new ClusterError('unreachable', `cannot reach etcd at ${options.endpoints.join(', ')}: ${why}`);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Writes nodes/<name> on the lease (and members/<name>) unless a live process
 * holds the name. A record of this same process (a rejoin) is replaced. A record
 * of another process may be a crashed earlier run of this node whose lease has not
 * expired yet: wait up to one TTL for it to go before calling the name taken.
 */
async function register(client: Etcd3, keys: ClusterKeys, lease: NodeLease, self: NodeRecord, logger: Logger): Promise<void> {
  const key = keys.node(self.name);
  const value = JSON.stringify(self);
  const giveUpAt = monotonicNow() + lease.ttlSec * 1000 + 1000;
  let waitLogged = false;
  for (;;) {
    const res = await client
      .if(key, 'Create', '==', 0)
      .then(client.put(key).value(value).lease(lease.id), client.put(keys.member(self.name)).value(value))
      .else(client.get(key))
      .commit();
    if (res.succeeded) return;
    const existing = res.responses[0]?.response_range?.kvs[0];
    const holder = existing === undefined ? undefined : parseNodeRecord(existing.value.toString());
    if (existing !== undefined && holder?.instance === self.instance) {
      const replaced = await client
        .if(key, 'Mod', '==', existing.mod_revision)
        .then(client.put(key).value(value).lease(lease.id))
        .commit();
      if (replaced.succeeded) return;
      continue;
    }
    if (monotonicNow() > giveUpAt) {
      const where = holder?.addresses.amqp !== undefined ? ` (amqp ${holder.addresses.amqp})` : '';
      throw new ClusterError(
        'duplicate-node',
        `node name '${self.name}' is already in use in cluster '${keys.cluster}' by a running node${where}; ` +
          'give this node another --node-name, or stop the other one',
      );
    }
    if (!waitLogged) {
      waitLogged = true;
      logger.warn('a node record with this name exists; waiting up to one lease TTL for it to expire (a crashed earlier run?)', {
        ttlSec: lease.ttlSec,
      });
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
