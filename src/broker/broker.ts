// The broker: opens the store, recovers topology and messages, owns the
// vhosts and users. Protocol adapters talk to it and to its sessions.


import type { StreamReplication } from './stream/replication.js';
import { QuorumQueues } from './queue/quorum-queues.js';
import {
  openDataDir,
  openFileLog,
  readFileIfExists,
  writeFileAtomic,
  type FsyncPolicy,
  type Log,
  type Logger,
} from '../store/index.js';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { propertiesCodec } from './content.js';
import { DelayedStore } from './delayed/delayed-store.js';
import { DEDUP_SEGMENT_BYTES_MAX, DedupJournal } from './dedup-journal.js';
import { MessageStore } from './message-store.js';
import { Moves } from './move.js';
import { ConnectionRegistry } from './connections.js';
import type { Queue } from './queue/queue.js';
import { Vhost, type VhostSnapshot } from './vhost.js';
import { removeOrphanStreams } from './stream/registry.js';
import { StreamCleaner } from './stream/compaction/stream-cleaner.js';
import type { CleanerHost } from './stream/compaction/cleaner.js';
import { GroupCoordinator, ReplicatedGroups, type GroupConfig, type SubscriptionDecoder } from './stream/groups/index.js';
import { ReplicatedTransactions, TransactionCoordinator, type TxnConfig } from './stream/txn/index.js';
import { type TxnMarkerHost, type TxnMarkerSender, writeTxnMarker } from './stream/txn/markers.js';
import type { StreamEnv } from './stream/stream.js';
import { PolicyStore } from './policy/policy-store.js';
import { logPolicyChange } from './audit.js';
import type { PolicyDef, PolicyKind } from './policy/definition.js';
import { Access, openGrant, type AccessGrant, type Identity } from './access/index.js';
import { BrokerError } from './errors.js';
import { replaceArgs, reviveArgs } from './args-json.js';
import { TopologyRecords } from './topology-records.js';
import type { RemoteQueues } from './remote-queues.js';
import type { ScramCredentials, ScramHash } from './scram-credentials.js';

export interface User {
  readonly name: string;
  readonly password: string;
}

export interface BrokerCoreOptions {
  readonly dataDir: string;
  readonly fsync: FsyncPolicy;
  readonly logger: Logger;
  readonly users?: readonly User[];
  readonly segmentBytesMax?: number;
  /** Broker-wide consumer (ack) timeout in ms; 0 disables it. RabbitMQ's default is 30 minutes. */
  readonly consumerTimeoutMs?: number;
  /** How often stream retention runs (ms). */
  readonly retentionCheckMs?: number;
  /** How often the stream cleaner looks for compacted partitions to clean (ms; Kafka's log.cleaner.backoff.ms, 15 s). */
  readonly streamCleanerIntervalMs?: number;
  /** Memory of the cleaner's key -> offset map (bytes; 32 MiB, about 1.2 million keys per pass). */
  readonly streamCleanerMapBytes?: number;
  /** Consumer group settings (Kafka's broker defaults for what is left out). */
  readonly groups?: Partial<GroupConfig>;
  /** Reads subscribed topics from group members' metadata (the Kafka adapter's decoder). */
  readonly groupSubscriptions?: SubscriptionDecoder;
  /** Transaction coordinator settings (Kafka's broker defaults for what is left out). */
  readonly transactions?: Partial<TxnConfig>;
}

export const DEFAULT_CONSUMER_TIMEOUT_MS = 30 * 60 * 1000;
/** How often streams delete segments past their retention (Kafka's log.retention.check.interval.ms is 5 min). */
export const RETENTION_CHECK_MS = 60_000;
const PRODUCER_ID_BLOCK = 1000;

interface MetadataFile {
  version: 1;
  nextQueueId: number;
  nextStreamId?: number;
  /** Producer ids below this may have been handed out (allocated in blocks). */
  producerIdsUsedBelow?: number;
  /** Kafka's cluster id: made once, kept for the data dir's life. */
  clusterId?: string;
  vhosts: Record<string, VhostSnapshot>;
}

export const DEFAULT_VHOST = '/';

/** What a new vhost's record holds besides its topology (RabbitMQ's vhost metadata). */
export interface VhostMetadata {
  readonly description?: string;
  readonly tags?: readonly string[];
  readonly defaultQueueType?: string;
}

export class Broker {
  private readonly vhosts = new Map<string, Vhost>();
  /** Users, vhost records, permissions and limits (access/), persisted in access.json. */
  access!: Access;
  private groupsDir = '';
  private transactionsDir = '';
  private coordinatorOptions: BrokerCoreOptions | undefined;
  private nextMsgId = 1;
  private nextQueueId = 1;
  private nextStreamId = 1;
  private retentionTimer: NodeJS.Timeout | undefined;
  /** Compaction of streams with cleanup.policy compact (stream/compaction/). */
  cleaner: StreamCleaner | undefined;
  /** Stream replication in a cluster (docs/cluster.md); undefined on a single node. */
  replication: StreamReplication | undefined;
  /** Quorum queues replicated through it (startQuorumQueues, in a cluster); undefined on a single node. */
  quorum: QuorumQueues | undefined;
  /**
   * The node runs in a cluster (set before it joins, never unset): its consumer groups are the
   * cluster's even while `replication` is not running yet or any more, so it never answers a
   * group request from its single-node state.
   */
  clustered = false;
  /** In a cluster, how transaction markers reach other nodes' partitions (Kafka's WriteTxnMarkers, set by the adapter). */
  txnMarkerSender: TxnMarkerSender | undefined;
  private nextProducerId = 0;
  private producerIdsUsedBelow = 0;
  private producerIdBlock: Promise<void> | undefined;
  /** In a cluster, where blocks of producer ids come from (etcd); undefined: this node's metadata file. */
  private producerIdBlocks: (() => Promise<{ readonly first: number; readonly end: number }>) | undefined;
  /** Kafka's cluster id (22 characters of base64url, as Kafka makes them). */
  clusterId = '';
  private saving: Promise<void> | undefined;
  private saveAgain = false;
  private metadataApplying: Promise<void> = Promise.resolve();
  private dirty = false;
  private closed = false;
  readonly startedAt = Date.now();
  readonly delayed: DelayedStore;
  /** How long replaying the logs took at start (ms). */
  recoveryMs = 0;
  /** Client connections of every protocol, for the management API and metrics. */
  readonly connections = new ConnectionRegistry();
  /** Policies and operator policies (policies.json), loaded before the topology so recovery applies them. */
  policies!: PolicyStore;
  /** Moves (replays) of messages between queues, for the management API. */
  readonly moves: Moves;
  /** The topology as records, for a cluster's etcd (src/cluster/meta/sync.ts); its committer is set only in a cluster. */
  readonly topology: TopologyRecords = new TopologyRecords(this);
  /** This node's --node-name in a cluster; '' on a single node. */
  nodeName = '';
  /** Each queue's home node in a cluster (the node holding its messages), by vhost and queue. */
  private readonly homes = new Map<string, string>();
  /** In a cluster: the links that forward to queues homed on other nodes (docs/cluster.md, "Forwarding"). */
  remote: RemoteQueues | undefined;
  /** The last commit of topology changes to the cluster, while it runs. */
  private topologyCommit: Promise<void> | undefined;
  private topologyCommitQueued = false;

  private constructor(
    readonly store: MessageStore,
    private readonly log: Log,
    delayedLog: Log,
    private readonly metaPath: string,
    readonly logger: Logger,
    private readonly release: () => Promise<void>,
    private readonly consumerTimeoutMs: number,
    private readonly dedup: DedupJournal,
    private readonly streamEnv: StreamEnv,
  ) {
    this.delayed = new DelayedStore({
      log: delayedLog,
      logger,
      codec: propertiesCodec,
      vhost: (name) => this.vhosts.get(name),
      // Released messages count as delivered to their queues only once those and the queues are on disk.
      durable: () => Promise.all([this.store.sync(), this.topologySaved()]).then(() => undefined),
    });
    this.moves = new Moves(store);
    // A confirm waits for the de-duplication keys and for held delayed messages too.
    store.syncWith(dedup);
    store.syncWith(this.delayed);
  }

  static async open(opts: BrokerCoreOptions): Promise<Broker> {
    const dd = await openDataDir(opts.dataDir, opts.logger);
    const logOptions = {
      fsync: opts.fsync,
      logger: opts.logger,
      ...(opts.segmentBytesMax ? { segmentBytesMax: opts.segmentBytesMax } : {}),
    };
    const log = await openFileLog({ dir: dd.messagesDir, ...logOptions });
    const delayedLog = await openFileLog({ dir: dd.delayedDir, ...logOptions, quarantineDir: join(dd.quarantineDir, 'delayed') });
    const dedupLog = await openFileLog({
      dir: dd.dedupDir,
      fsync: opts.fsync,
      logger: opts.logger,
      segmentBytesMax: DEDUP_SEGMENT_BYTES_MAX,
      quarantineDir: join(dd.quarantineDir, 'dedup'),
    });
    const dedup = new DedupJournal(dedupLog, () => log.sync(), (err) =>
      opts.logger.error('writing de-duplication keys failed', { error: String(err) }),
    );
    const broker = new Broker(
      new MessageStore(log),
      log,
      delayedLog,
      dd.metaPath,
      opts.logger,
      dd.release,
      opts.consumerTimeoutMs ?? DEFAULT_CONSUMER_TIMEOUT_MS,
      dedup,
      { dir: dd.streamsDir, fsync: opts.fsync, logger: opts.logger },
    );
    broker.store.onUnreadable = (m, err) =>
      opts.logger.error('message content unreadable, dropping it', { msgId: m.id, error: String(err) });
    broker.policies = await PolicyStore.open(join(dd.dir, 'policies.json'));
    broker.groupsDir = dd.groupsDir;
    broker.transactionsDir = dd.transactionsDir;
    broker.coordinatorOptions = opts;
    const recoveryStart = performance.now();
    await broker.recover(join(dd.dir, 'access.json'), opts.users ?? []);
    broker.recoveryMs = performance.now() - recoveryStart;
    try {
      for (const [name, v] of broker.vhosts) await broker.openCoordinators(name, v);
    } catch (err) {
      await broker.close();
      throw err;
    }
    broker.startRetention(opts.retentionCheckMs ?? RETENTION_CHECK_MS);
    broker.cleaner = new StreamCleaner({
      logger: opts.logger,
      partitions: () => broker.cleanerHosts(),
      ...(opts.streamCleanerIntervalMs !== undefined ? { intervalMs: opts.streamCleanerIntervalMs } : {}),
      ...(opts.streamCleanerMapBytes !== undefined ? { mapBytes: opts.streamCleanerMapBytes } : {}),
    });
    broker.cleaner.start();
    return broker;
  }

  vhost(name: string): Vhost | undefined {
    return this.vhosts.get(name);
  }

  vhostList(): Vhost[] {
    return [...this.vhosts.values()];
  }

  userNames(): string[] {
    return this.access.userList().map((u) => u.name);
  }

  /** For logins without a password (EXTERNAL, a TLS client certificate): is there such a user? */
  userExists(name: string): boolean {
    return this.access.user(name) !== undefined;
  }

  /** Checks a password against the user's hash; RabbitMQ's rule: guest may only connect from loopback. */
  authenticate(user: string, password: string, fromLoopback: boolean): boolean {
    return this.access.authenticate(user, password, fromLoopback) !== undefined;
  }

  /**
   * Sets (adds or replaces) a validated policy (definition.ts: validatePolicy) and applies it to
   * the vhost's queues and exchanges at once; resolves once it is on disk. True if it is new.
   */
  async setPolicy(kind: PolicyKind, def: PolicyDef): Promise<boolean> {
    const isNew = await this.policies.put(kind, def);
    this.vhosts.get(def.vhost)?.applyPolicies();
    logPolicyChange(this.logger, 'set', { kind, vhost: def.vhost, name: def.name, pattern: def.pattern, applyTo: def['apply-to'], priority: def.priority, definition: def.definition });
    return isNew;
  }

  /** Clears a policy (its objects fall back to the next matching one, or none); false if there was none. */
  async clearPolicy(kind: PolicyKind, vhost: string, name: string): Promise<boolean> {
    const had = await this.policies.delete(kind, vhost, name);
    if (had) {
      this.vhosts.get(vhost)?.applyPolicies();
      logPolicyChange(this.logger, 'cleared', { kind, vhost, name });
    }
    return had;
  }

  /**
   * An authenticated user asks to use a vhost (any protocol): the grant checks each
   * operation (access/grant.ts) and counts against the connection limits until released.
   */
  connect(identity: Identity): AccessGrant {
    if (this.closed) throw new BrokerError('not-allowed', 'broker is shutting down', true);
    return openGrant(this.access, identity);
  }

  /** Creates a vhost (or updates the metadata of an existing one); resolves once durable. Returns true if created. */
  async addVhost(name: string, meta: VhostMetadata = {}): Promise<boolean> {
    const created = !this.vhosts.has(name);
    // The record first: after a crash, access.json decides which vhosts exist.
    await this.access.putVhost(name, meta);
    // In a cluster another node's create of the same name may have been applied meanwhile.
    if (!created || this.vhosts.has(name)) return created;
    const v = this.createVhost(name);
    await this.openCoordinators(name, v);
    this.dirty = true;
    await this.topologySaved();
    return true;
  }

  /**
   * Deletes a vhost: its connections are closed (320 CONNECTION_FORCED, as RabbitMQ),
   * its queues with their messages, streams, exchanges and bindings, its groups and
   * transactions, and its permissions and limits. Resolves once durable; false if none.
   */
  async deleteVhost(name: string): Promise<boolean> {
    if (!this.vhosts.has(name)) return false;
    await this.access.deleteVhost(name);
    await this.policies.dropVhost(name);
    await this.removeVhostTopology(name);
    return true;
  }

  /**
   * In a cluster, after records from another node were applied to the access model and
   * the policies (docs/cluster.md, "Metadata"): vhosts created there get their topology
   * here, vhosts deleted there lose theirs (their connections here closed), and every
   * vhost applies the policies again. Calls are serialised.
   */
  metadataChanged(): Promise<void> {
    const run = async (): Promise<void> => {
      for (const rec of this.access.vhostList()) {
        if (this.vhosts.has(rec.name)) continue;
        const v = this.createVhost(rec.name);
        await this.openCoordinators(rec.name, v);
        this.dirty = true;
      }
      for (const name of [...this.vhosts.keys()]) if (!this.access.vhost(name)) await this.removeVhostTopology(name);
      for (const v of this.vhosts.values()) v.applyPolicies();
      // Topology records that waited for a vhost created just now.
      this.topology.retryPending();
      await this.topologySaved();
    };
    this.metadataApplying = this.metadataApplying.then(run, run);
    return this.metadataApplying;
  }

  /** The node-local part of deleting a vhost: its connections, queues, streams, exchanges, groups and transactions. */
  private async removeVhostTopology(name: string): Promise<void> {
    const v = this.vhosts.get(name);
    if (!v) return;
    for (const c of [...this.connections.values()]) {
      if (c.info().vhost === name) c.forceClose(`vhost '${name}' is deleted`);
    }
    this.vhosts.delete(name);
    for (const q of [...v.queues.values()]) v.removeQueue(q);
    for (const s of [...v.streams.list()]) await v.streams.delete(s.name);
    // Exchanges through the vhost, so a delayed exchange's held messages are dropped too.
    for (const x of [...v.exchanges.keys()]) if (x !== '' && !x.startsWith('amq.')) v.deleteExchange(x, false);
    v.close();
    this.dirty = true;
    await this.topologySaved();
    await v.transactions?.close();
    await v.clusterTransactions?.close();
    await v.groups?.close();
    await v.clusterGroups?.close();
    await v.streams.close();
    const dir = encodeURIComponent(name);
    await rm(join(this.groupsDir, dir), { recursive: true, force: true });
    await rm(join(this.transactionsDir, dir), { recursive: true, force: true });
  }


  /** RabbitMQ's loopback_users: guest may only connect from loopback, whatever the mechanism. */
  mayConnectFrom(user: string, fromLoopback: boolean): boolean {
    return user !== 'guest' || fromLoopback;
  }

  /**
   * A user's SCRAM credentials for one hash (Kafka's SASL SCRAM), or undefined for an
   * unknown user or one whose password was never set through Wharf (imported as a hash only).
   */
  scramCredentials(user: string, hash: ScramHash): ScramCredentials | undefined {
    const c = this.access.user(user)?.scram?.[hash];
    if (!c) return undefined;
    return { salt: Buffer.from(c.salt, 'base64'), iterations: c.iterations, storedKey: Buffer.from(c.storedKey, 'base64'), serverKey: Buffer.from(c.serverKey, 'base64') };
  }

  /**
   * The node a queue's messages live on (docs/cluster.md, "Forwarding"): undefined on a single
   * node and for a queue the cluster does not know. A classic queue's home is the node it was
   * declared on; a replicated queue's is its leader, which moves on failover (setQueueHome).
   */
  queueHome(vhost: string, queue: string): string | undefined {
    // A quorum queue's home is its leader (none while it has none: the queue then refuses here).
    if (this.quorum?.has(vhost, queue)) return this.quorum.quorumLeader(vhost, queue);
    return this.declaredHome(vhost, queue);
  }

  /** The node a queue was declared on, as its topology record says. */
  declaredHome(vhost: string, queue: string): string | undefined {
    return this.homes.get(homeKey(vhost, queue));
  }

  /** Sets (undefined: forgets) a queue's home. */
  setQueueHome(vhost: string, queue: string, node: string | undefined): void {
    if (node === undefined) this.homes.delete(homeKey(vhost, queue));
    else this.homes.set(homeKey(vhost, queue), node);
  }

  /** A queue whose messages live on another node of the cluster: operations on it are forwarded there. */
  isRemote(vhost: string, queue: string): boolean {
    const home = this.queueHome(vhost, queue);
    return home !== undefined && home !== this.nodeName;
  }

  /**
   * A topology change (declare, delete, bind, unbind) from a client. On a single node it runs
   * now. In a cluster it runs and goes to etcd in one compare-and-swap; if another node changed
   * the same object first, it runs again on that node's version, so a declare inequivalent to
   * the winner's throws as it would on one node.
   */
  changeTopology<T>(change: () => T): T | Promise<T> {
    const commit = this.topology.committer;
    if (commit === undefined) return change();
    let result: T;
    return commit(() => {
      result = change();
    }).then(() => result);
  }

  /** Durable topology changed here without a client's changeTopology (auto-delete, the management API): to the cluster. */
  private topologyToCluster(): void {
    const commit = this.topology.committer;
    if (commit === undefined || this.topology.applying || this.topologyCommitQueued) return;
    this.topologyCommitQueued = true;
    const p = commit(() => {
      this.topologyCommitQueued = false;
    });
    this.topologyCommit = p;
    const done = (): void => {
      if (this.topologyCommit === p) this.topologyCommit = undefined;
    };
    p.then(done, (err: unknown) => {
      this.topologyCommitQueued = false;
      done();
      this.logger.error('writing a topology change to the cluster failed', { error: String(err) });
    });
  }

  /** Resolves once durable topology changes made so far are on disk (and, in a cluster, in etcd). */
  topologySaved(): Promise<void> {
    const commit = this.topologyCommit;
    const saved = this.topologySavedHere();
    return commit === undefined ? saved : Promise.all([saved, commit]).then(() => undefined);
  }

  private topologySavedHere(): Promise<void> {
    if (!this.dirty && !this.saving) return Promise.resolve();
    if (this.saving) {
      if (this.dirty) this.saveAgain = true;
      return this.saving.then(() => this.topologySavedHere());
    }
    this.dirty = false;
    this.saving = this.saveMetadata()
      .catch((err: unknown) => {
        // Not saved: the next caller must try again, and this one must not reply ok.
        this.dirty = true;
        throw err;
      })
      .finally(() => {
        this.saving = undefined;
      });
    return this.saving;
  }

  stats(): Record<string, unknown> {
    let queues = 0;
    let messages = 0;
    for (const v of this.vhosts.values()) {
      for (const q of v.queues.values()) {
        queues++;
        messages += q.messageCount + q.unacked;
      }
    }
    return { queues, messages, logBytes: this.log.sizeBytes(), uptimeMs: Date.now() - this.startedAt };
  }

  /**
   * A vhost's group coordinator (offsets log in `<groups dir>/<vhost, URI-encoded>/`) and
   * transaction coordinator (`<transactions dir>/<vhost, URI-encoded>/`), opened after its
   * streams: transactions a crash left half-ended are finished at once.
   */
  private async openCoordinators(name: string, v: Vhost): Promise<void> {
    const opts = this.coordinatorOptions as BrokerCoreOptions;
    v.groups = await GroupCoordinator.open({
      store: { dir: join(this.groupsDir, encodeURIComponent(name)), fsync: opts.fsync },
      logger: this.logger,
      ...(opts.groups ? { config: opts.groups } : {}),
      ...(opts.groupSubscriptions ? { subscriptions: opts.groupSubscriptions } : {}),
    });
    v.transactions = await TransactionCoordinator.open({
      store: { dir: join(this.transactionsDir, encodeURIComponent(name)), fsync: opts.fsync },
      logger: this.logger,
      participants: {
        partition: (topic, index) => v.streams.get(topic)?.partition(index),
        groups: () => v.groups,
        allocateProducerId: () => this.allocateProducerId(),
      },
      ...(opts.transactions ? { config: opts.transactions } : {}),
    });
  }

  /**
   * In a cluster, the vhost's consumer groups as Kafka places them (docs/cluster.md, "Consumer
   * groups"): on partitions of a replicated offsets topic, each coordinated by its leader.
   * Undefined on a single node, where `v.groups` holds them.
   */
  clusterGroups(v: Vhost): ReplicatedGroups | undefined {
    if (!this.clustered) return undefined;
    const opts = this.coordinatorOptions as BrokerCoreOptions;
    v.clusterGroups ??= new ReplicatedGroups({
      vhost: v.name,
      streams: v.streams,
      replication: () => this.replication,
      coordinator: {
        ...(opts.groups ? { config: opts.groups } : {}),
        ...(opts.groupSubscriptions ? { subscriptions: opts.groupSubscriptions } : {}),
      },
      logger: this.logger,
    });
    return v.clusterGroups;
  }

  /**
   * In a cluster, the vhost's transactions as Kafka places them (docs/cluster.md, "Transactions"):
   * on partitions of a replicated transaction state topic, each coordinated by its leader, whose
   * markers go to each partition's leader. Undefined on a single node, where `v.transactions` holds them.
   */
  clusterTransactions(v: Vhost): ReplicatedTransactions | undefined {
    if (!this.clustered) return undefined;
    const opts = this.coordinatorOptions as BrokerCoreOptions;
    const markers = this.txnMarkerHost(v);
    v.clusterTransactions ??= new ReplicatedTransactions({
      vhost: v.name,
      streams: v.streams,
      replication: () => this.replication,
      participants: () => ({
        partition: (topic, index) => v.streams.get(topic)?.partition(index),
        groups: () => undefined,
        allocateProducerId: () => this.allocateProducerId(),
        writeMarker: (target, marker) => writeTxnMarker(markers, target, marker),
      }),
      logger: this.logger,
      ...(opts.transactions ? { config: opts.transactions } : {}),
    });
    return v.clusterTransactions;
  }

  /** Where a vhost's transaction markers go in a cluster (stream/txn/markers.ts). */
  txnMarkerHost(v: Vhost): TxnMarkerHost {
    return {
      vhost: v.name,
      streams: v.streams,
      replication: () => this.replication,
      groups: () => this.clusterGroups(v),
      sender: () => this.txnMarkerSender,
    };
  }

  /** Every stream of every vhost, oldest segments past their retention deleted, on one timer. */
  private startRetention(everyMs: number): void {
    let running = false;
    this.retentionTimer = setInterval(() => {
      if (running || this.closed) return;
      running = true;
      void this.enforceRetention()
        .catch((err: unknown) => this.logger.error('stream retention failed', { error: String(err) }))
        .finally(() => {
          running = false;
        });
    }, everyMs);
    this.retentionTimer.unref();
  }

  /**
   * A producer id never handed out before, also across restarts (Kafka's InitProducerId without a
   * transactional id). Ids are reserved in blocks, each persisted before its first id is used.
   */
  async allocateProducerId(): Promise<number> {
    while (this.nextProducerId >= this.producerIdsUsedBelow) {
      this.producerIdBlock ??= this.reserveProducerIds().finally(() => {
        this.producerIdBlock = undefined;
      });
      await this.producerIdBlock;
    }
    return this.nextProducerId++;
  }

  /**
   * In a cluster, producer ids come in blocks from `source` (an etcd counter, so they are unique
   * across nodes: two nodes handing out the same id made a new idempotent producer's first
   * batches look like another's duplicates after a failover, acknowledged and never written,
   * as the network-partition runs found, docs/cluster.md): what is left of the node's own block is dropped. A rejected block fails the
   * allocation (the Kafka adapter answers a retriable error).
   */
  useProducerIdBlocks(source: () => Promise<{ readonly first: number; readonly end: number }>): void {
    this.producerIdBlocks = source;
    this.nextProducerId = this.producerIdsUsedBelow;
  }

  private async reserveProducerIds(): Promise<void> {
    const source = this.producerIdBlocks;
    if (source !== undefined) {
      const block = await source();
      if (this.producerIdBlocks !== source) return; // replaced meanwhile: the loop takes the next one
      this.nextProducerId = block.first;
      this.producerIdsUsedBelow = block.end;
      return;
    }
    this.producerIdsUsedBelow = this.nextProducerId + PRODUCER_ID_BLOCK;
    this.dirty = true;
    await this.topologySaved();
  }

  private *cleanerHosts(): Iterable<CleanerHost> {
    for (const v of this.vhosts.values()) {
      for (const s of v.streams.list()) for (const p of s.partitions) yield p.cleanerHost();
    }
  }

  async enforceRetention(nowMs = Date.now()): Promise<void> {
    for (const v of this.vhosts.values()) await v.streams.enforceRetention(nowMs);
  }

  /**
   * In a cluster, once stream replication runs: quorum queues become replicated (docs/cluster.md,
   * "Quorum queues"). Those declared from now on, and those whose logs the cluster already has.
   */
  startQuorumQueues(): QuorumQueues {
    this.quorum ??= new QuorumQueues({
      vhosts: () => this.vhosts.values(),
      replication: () => this.replication,
      nextMessageId: () => this.nextMsgId++,
      store: this.store,
      policies: this.policies,
      logger: this.logger,
    });
    return this.quorum;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.quorum?.close();
    clearInterval(this.retentionTimer);
    await this.cleaner?.stop();
    await this.moves.close();
    await this.delayed.close();
    for (const v of this.vhosts.values()) v.close();
    await this.topologySaved();
    for (const v of this.vhosts.values()) {
      // Transactions first: markers still being written need the partitions and groups open.
      await v.transactions?.close();
      await v.clusterTransactions?.close();
      await v.groups?.close();
      await v.clusterGroups?.close();
      await v.streams.close();
    }
    await this.store.sync().catch(() => undefined);
    await this.dedup.close();
    await this.log.close();
    await this.release();
  }

  private createVhost(name: string): Vhost {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the context's getter reads the broker's link, set after the vhosts exist
    const broker = this;
    const v = new Vhost(name, {
      store: this.store,
      delayed: this.delayed,
      dedup: this.dedup,
      nextMessageId: () => this.nextMsgId++,
      nextQueueId: () => this.nextQueueId++,
      topologyChanged: () => {
        this.dirty = true;
        this.topologyToCluster();
        // Changes with no client waiting (auto-delete, exclusive queues going) are saved too.
        setImmediate(() => {
          this.topologySaved().catch((err: unknown) => this.logger.error('saving metadata failed', { error: String(err) }));
        });
      },
      topologySaved: () => this.topologySaved(),
      queueError: (queue: string, err: unknown) => {
        this.logger.error('queue error', { queue, error: String(err) });
      },
      consumerTimeoutMs: this.consumerTimeoutMs,
      streamEnv: this.streamEnv,
      nextStreamId: () => this.nextStreamId++,
      policies: this.policies,
      queueLimit: () => this.access.vhost(name)?.limits['max-queues'],
      replication: () => this.replication,
      quorum: () => this.quorum,
      remoteHome: (vhost, queue) => (this.remote !== undefined && this.isRemote(vhost, queue) ? this.queueHome(vhost, queue) : undefined),
      get remote() {
        return broker.remote;
      },
    });
    this.vhosts.set(name, v);
    return v;
  }

  private async recover(accessPath: string, bootUsers: BrokerCoreOptions['users'] & object): Promise<void> {
    const started = Date.now();
    const raw = await readFileIfExists(this.metaPath);
    let meta: MetadataFile = { version: 1, nextQueueId: 1, vhosts: {} };
    if (raw) meta = JSON.parse(raw.toString('utf8'), reviveArgs) as MetadataFile;
    await this.recoverAccess(accessPath, meta, bootUsers);
    this.nextQueueId = meta.nextQueueId;
    this.nextStreamId = meta.nextStreamId ?? 1;
    this.nextProducerId = this.producerIdsUsedBelow = meta.producerIdsUsedBelow ?? 0;
    this.clusterId = meta.clusterId ?? randomBytes(16).toString('base64url');
    if (!meta.clusterId) this.dirty = true; // saved with the first topology save
    const byId = new Map<number, Queue>();
    const streamIds = new Set<number>();
    for (const [name, snap] of Object.entries(meta.vhosts)) {
      const v = this.createVhost(name);
      // Streams first: bindings to stream queues name them.
      await v.streams.restore(snap.streams ?? []);
      // Quorum queues' logs too: their directories are no orphans (a restart must keep them).
      for (const s of [...v.streams.list(), ...v.streams.internal()]) streamIds.add(s.id);
      v.restore(snap);
      for (const q of v.queues.values()) byId.set(q.id, q);
    }
    if (this.dirty) await this.topologySaved();
    const orphans = await removeOrphanStreams(this.streamEnv.dir, streamIds);
    if (orphans > 0) this.logger.warn('removed stream directories no stream owns (a crash during create or delete)', { orphans });
    const result = await this.store.recover(new Set(byId.keys()));
    this.nextMsgId = result.nextMsgId;
    let messages = 0;
    for (const [id, list] of result.queues) {
      const q = byId.get(id);
      if (!q) continue;
      for (const { msg, returns } of list.values()) {
        q.restore(msg, returns);
        messages++;
      }
    }
    for (const q of byId.values()) await q.restoreGroups();
    for (const q of byId.values()) q.recovered();
    const dedupKeys = await this.dedup.recover((queueId, key, expiresAt) => byId.get(queueId)?.dedup?.restore(key, expiresAt));
    // After the queues: overdue delayed messages are released into them.
    const delayed = await this.delayed.recover();
    this.logger.info('recovered', {
      queues: byId.size,
      messages,
      dedupKeys,
      records: result.records,
      delayed: delayed.held,
      delayedOrphaned: delayed.orphaned,
      ms: Date.now() - started,
    });
  }

  /**
   * Opens access.json. Once it exists it decides which vhosts exist: a vhost in
   * meta.json without a record is one whose deletion a crash interrupted (dropped
   * now), and a record without topology is a vhost created just before a crash.
   */
  private async recoverAccess(path: string, meta: MetadataFile, bootUsers: readonly User[]): Promise<void> {
    const { access, created } = await Access.open(path, Object.keys(meta.vhosts));
    this.access = access;
    for (const name of Object.keys(meta.vhosts)) {
      if (access.vhost(name)) continue;
      this.logger.warn('dropping the topology of a deleted vhost', { vhost: name });
      delete meta.vhosts[name];
      this.dirty = true;
    }
    for (const v of access.vhostList()) meta.vhosts[v.name] ??= { exchanges: [], queues: [], bindings: [] };
    if (access.applyBootUsers(bootUsers) || created) await access.save();
  }

  private async saveMetadata(): Promise<void> {
    do {
      this.saveAgain = false;
      // A deleted delayed exchange's Dropped record is durable before meta.json forgets the exchange.
      await this.delayed.sync();
      const meta: MetadataFile = {
        version: 1,
        nextQueueId: this.nextQueueId,
        nextStreamId: this.nextStreamId,
        producerIdsUsedBelow: this.producerIdsUsedBelow,
        clusterId: this.clusterId,
        vhosts: {},
      };
      for (const [name, v] of this.vhosts) meta.vhosts[name] = v.snapshot();
      await writeFileAtomic(this.metaPath, JSON.stringify(meta, replaceArgs));
    } while (this.saveAgain);
  }
}

function homeKey(vhost: string, queue: string): string {
  return `${vhost}\0${queue}`;
}
