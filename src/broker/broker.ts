// The broker: opens the store, recovers topology and messages, owns the
// vhosts and users. Protocol adapters talk to it and to its sessions.


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
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { propertiesCodec } from './content.js';
import { DelayedStore } from './delayed/delayed-store.js';
import { DEDUP_SEGMENT_BYTES_MAX, DedupJournal } from './dedup-journal.js';
import { MessageStore } from './message-store.js';
import { ConnectionRegistry } from './connections.js';
import type { Queue } from './queue/queue.js';
import { Vhost, type VhostSnapshot } from './vhost.js';
import { removeOrphanStreams } from './stream/registry.js';
import { StreamCleaner } from './stream/compaction/stream-cleaner.js';
import type { CleanerHost } from './stream/compaction/cleaner.js';
import { GroupCoordinator, type GroupConfig, type SubscriptionDecoder } from './stream/groups/index.js';
import { TransactionCoordinator, type TxnConfig } from './stream/txn/index.js';
import type { StreamEnv } from './stream/stream.js';
import { deriveScramCredentials, SCRAM_ITERATIONS_DEFAULT, type ScramCredentials, type ScramHash } from './scram-credentials.js';

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

export class Broker {
  private readonly vhosts = new Map<string, Vhost>();
  private readonly users = new Map<string, string>();
  /** SCRAM credentials derived from users' passwords, per user and hash (see scramCredentials). */
  private readonly scramCache = new Map<string, { readonly password: string; readonly credentials: ScramCredentials }>();
  private nextMsgId = 1;
  private nextQueueId = 1;
  private nextStreamId = 1;
  private retentionTimer: NodeJS.Timeout | undefined;
  /** Compaction of streams with cleanup.policy compact (stream/compaction/). */
  cleaner: StreamCleaner | undefined;
  private nextProducerId = 0;
  private producerIdsUsedBelow = 0;
  private producerIdBlock: Promise<void> | undefined;
  /** Kafka's cluster id (22 characters of base64url, as Kafka makes them). */
  clusterId = '';
  private saving: Promise<void> | undefined;
  private saveAgain = false;
  private dirty = false;
  private closed = false;
  readonly startedAt = Date.now();
  readonly delayed: DelayedStore;
  /** How long replaying the logs took at start (ms). */
  recoveryMs = 0;
  /** Client connections of every protocol, for the management API and metrics. */
  readonly connections = new ConnectionRegistry();

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
    broker.users.set('guest', 'guest');
    for (const u of opts.users ?? []) broker.users.set(u.name, u.password);
    const recoveryStart = performance.now();
    await broker.recover();
    broker.recoveryMs = performance.now() - recoveryStart;
    try {
      await broker.openGroups(dd.groupsDir, opts);
      await broker.openTransactions(dd.transactionsDir, opts);
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
    return [...this.users.keys()];
  }

  /** RabbitMQ's rule: guest may only connect from loopback. */
  authenticate(user: string, password: string, fromLoopback: boolean): boolean {
    const expected = this.users.get(user);
    if (expected === undefined || expected !== password) return false;
    return this.mayConnectFrom(user, fromLoopback);
  }

  /** RabbitMQ's loopback_users: guest may only connect from loopback, whatever the mechanism. */
  mayConnectFrom(user: string, fromLoopback: boolean): boolean {
    return user !== 'guest' || fromLoopback;
  }

  /**
   * A user's SCRAM credentials for one hash, or undefined for an unknown user. Derived from
   * today's in-memory password with a random salt and Kafka's 4096 iterations, then cached
   * (PBKDF2 is deliberately slow); a changed password derives afresh.
   */
  scramCredentials(user: string, hash: ScramHash): ScramCredentials | undefined {
    const password = this.users.get(user);
    if (password === undefined) return undefined;
    const key = `${hash}\u0000${user}`;
    const cached = this.scramCache.get(key);
    if (cached !== undefined && cached.password === password) return cached.credentials;
    const credentials = deriveScramCredentials(password, hash, randomBytes(32), SCRAM_ITERATIONS_DEFAULT);
    this.scramCache.set(key, { password, credentials });
    return credentials;
  }

  /** Resolves once durable topology changes made so far are on disk. */
  topologySaved(): Promise<void> {
    if (!this.dirty && !this.saving) return Promise.resolve();
    if (this.saving) {
      if (this.dirty) this.saveAgain = true;
      return this.saving.then(() => this.topologySaved());
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

  /** A group coordinator per vhost, each with its offsets log in `<groups dir>/<vhost, URI-encoded>/`. */
  private async openGroups(dir: string, opts: BrokerCoreOptions): Promise<void> {
    for (const [name, v] of this.vhosts) {
      v.groups = await GroupCoordinator.open({
        store: { dir: join(dir, encodeURIComponent(name)), fsync: opts.fsync },
        logger: this.logger,
        ...(opts.groups ? { config: opts.groups } : {}),
        ...(opts.groupSubscriptions ? { subscriptions: opts.groupSubscriptions } : {}),
      });
    }
  }

  /**
   * A transaction coordinator per vhost, its log in `<transactions dir>/<vhost, URI-encoded>/`.
   * Opened after the streams and groups: transactions a crash left half-ended are finished at once.
   */
  private async openTransactions(dir: string, opts: BrokerCoreOptions): Promise<void> {
    for (const [name, v] of this.vhosts) {
      v.transactions = await TransactionCoordinator.open({
        store: { dir: join(dir, encodeURIComponent(name)), fsync: opts.fsync },
        logger: this.logger,
        participants: {
          partition: (topic, index) => v.streams.get(topic)?.partition(index),
          groups: () => v.groups,
          allocateProducerId: () => this.allocateProducerId(),
        },
        ...(opts.transactions ? { config: opts.transactions } : {}),
      });
    }
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
      this.producerIdBlock ??= (async () => {
        this.producerIdsUsedBelow = this.nextProducerId + PRODUCER_ID_BLOCK;
        this.dirty = true;
        await this.topologySaved();
      })().finally(() => {
        this.producerIdBlock = undefined;
      });
      await this.producerIdBlock;
    }
    return this.nextProducerId++;
  }

  private *cleanerHosts(): Iterable<CleanerHost> {
    for (const v of this.vhosts.values()) {
      for (const s of v.streams.list()) for (const p of s.partitions) yield p.cleanerHost();
    }
  }

  async enforceRetention(nowMs = Date.now()): Promise<void> {
    for (const v of this.vhosts.values()) await v.streams.enforceRetention(nowMs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.retentionTimer);
    await this.cleaner?.stop();
    await this.delayed.close();
    for (const v of this.vhosts.values()) v.close();
    await this.topologySaved();
    for (const v of this.vhosts.values()) {
      // Transactions first: markers still being written need the partitions and groups open.
      await v.transactions?.close();
      await v.groups?.close();
      await v.streams.close();
    }
    await this.store.sync().catch(() => undefined);
    await this.dedup.close();
    await this.log.close();
    await this.release();
  }

  private createVhost(name: string): Vhost {
    const v = new Vhost(name, {
      store: this.store,
      delayed: this.delayed,
      dedup: this.dedup,
      nextMessageId: () => this.nextMsgId++,
      nextQueueId: () => this.nextQueueId++,
      topologyChanged: () => {
        this.dirty = true;
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
    });
    this.vhosts.set(name, v);
    return v;
  }

  private async recover(): Promise<void> {
    const started = Date.now();
    const raw = await readFileIfExists(this.metaPath);
    let meta: MetadataFile = { version: 1, nextQueueId: 1, vhosts: {} };
    if (raw) meta = JSON.parse(raw.toString('utf8'), reviveArgs) as MetadataFile;
    this.nextQueueId = meta.nextQueueId;
    this.nextStreamId = meta.nextStreamId ?? 1;
    this.nextProducerId = this.producerIdsUsedBelow = meta.producerIdsUsedBelow ?? 0;
    this.clusterId = meta.clusterId ?? randomBytes(16).toString('base64url');
    if (!meta.clusterId) this.dirty = true; // saved with the first topology save
    if (!meta.vhosts[DEFAULT_VHOST]) meta.vhosts[DEFAULT_VHOST] = { exchanges: [], queues: [], bindings: [] };
    const byId = new Map<number, Queue>();
    const streamIds = new Set<number>();
    for (const [name, snap] of Object.entries(meta.vhosts)) {
      const v = this.createVhost(name);
      // Streams first: bindings to stream queues name them.
      await v.streams.restore(snap.streams ?? []);
      for (const s of v.streams.list()) streamIds.add(s.id);
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

/** Field-table values JSON cannot hold natively. */
function replaceArgs(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return { $bigint: value.toString() };
  if (value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return { $buffer: Buffer.from((value as { data: number[] }).data).toString('base64') };
  }
  return value;
}

function reviveArgs(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object') {
    const o = value as { $bigint?: string; $buffer?: string };
    if (typeof o.$bigint === 'string') return BigInt(o.$bigint);
    if (typeof o.$buffer === 'string') return Buffer.from(o.$buffer, 'base64');
  }
  return value;
}


