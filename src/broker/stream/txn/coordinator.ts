// The transaction coordinator of one vhost (Kafka's TransactionCoordinator): maps transactional ids
// to producer ids and epochs, tracks each id's transaction through Kafka's states, fences zombies
// by epoch, aborts transactions past their timeout, and ends transactions by writing COMMIT or
// ABORT markers to every partition in them and committing or dropping their offsets in the group
// coordinator. Protocol-neutral: the Kafka adapter maps InitProducerId (with a transactional id),
// AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit, DescribeTransactions and
// ListTransactions onto it, and asks it whether a transactional produce is part of its transaction.
//
// Durability: every state change is written to the transaction log (txn-store.ts) before it takes
// effect. Ending a transaction writes PrepareCommit/PrepareAbort (the decision) first, then the
// markers and offsets, waits until they are durable, then CompleteCommit/CompleteAbort (which the
// durable markers imply, so it takes effect without waiting for its fsync). A restart finds a
// transaction in Prepare* and writes its markers again (a second marker of the same decision ends
// nothing), so a crash at any point leaves it committed everywhere or aborted everywhere. See
// docs/kafka.md ("Exactly-once").

import { type Logger, stderrLogger } from '../../../store/index.js';
import { StreamError } from '../errors.js';
import { type Scheduler, type TimerHandle, realScheduler } from '../groups/scheduler.js';
import type {
  DescribedTransaction,
  EndTxnResult,
  InitProducerIdResult,
  ListTransactionsResult,
  ListedTransaction,
  ProducerIdAndEpoch,
  TxnOffsetCommitRequest,
  TxnOffsetCommitResult,
  TxnMarkerTarget,
  TxnParticipants,
  TxnPartitionResult,
} from './api.js';
import { type TxnConfig, resolveTxnConfig } from './config.js';
import type { TxnErrorKind } from './errors.js';
import {
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  TXN_STATES,
  TransactionMetadata,
  type TxnRecord,
  type TxnState,
  type TxnTopicPartition,
  isEpochExhausted,
} from './metadata.js';
import { TxnStore, type TxnStoreFileOptions } from './txn-store.js';

/** One node, one coordinator: markers carry coordinator epoch 0. */
export const COORDINATOR_EPOCH = 0;

export interface TransactionCoordinatorOptions {
  readonly participants: TxnParticipants;
  /**
   * The epoch its markers carry, so partitions refuse a stale coordinator's (Kafka's coordinator
   * epoch: the leader epoch of its transaction state partition). COORDINATOR_EPOCH on a single node.
   */
  readonly coordinatorEpoch?: number;
  readonly config?: Partial<TxnConfig>;
  readonly scheduler?: Scheduler;
  readonly logger?: Logger;
}

export interface TransactionCoordinatorFileOptions extends TransactionCoordinatorOptions {
  readonly store: TxnStoreFileOptions;
}

/** Something a marker goes to: a partition, or a group's transactional offsets. */
type Participant = TxnMarkerTarget;

const ERROR = (error: TxnErrorKind): InitProducerIdResult => ({ error, producerId: NO_PRODUCER_ID, producerEpoch: NO_PRODUCER_EPOCH });

export class TransactionCoordinator {
  private readonly txns = new Map<string, TransactionMetadata>();
  /** Transactions whose markers are being written, by transactional id. */
  private readonly completing = new Map<string, Promise<void>>();
  private readonly config: TxnConfig;
  private readonly scheduler: Scheduler;
  private readonly participants: TxnParticipants;
  private readonly logger: Logger;
  private readonly coordinatorEpoch: number;
  /** The periodic checks' next timers, by name. */
  private readonly timers = new Map<string, TimerHandle>();
  /** Marker retries waiting for their delay (woken early by close()). */
  private readonly sleepers = new Set<() => void>();
  private closing: Promise<void> | undefined;

  /** Takes over `store`: close() closes it. Transactions a crash left in Prepare* are finished. */
  constructor(
    private readonly store: TxnStore,
    opts: TransactionCoordinatorOptions,
  ) {
    this.config = resolveTxnConfig(opts.config);
    this.scheduler = opts.scheduler ?? realScheduler;
    this.participants = opts.participants;
    this.logger = opts.logger ?? stderrLogger;
    this.coordinatorEpoch = opts.coordinatorEpoch ?? COORDINATOR_EPOCH;
    for (const r of store.records()) this.txns.set(r.transactionalId, new TransactionMetadata(r));
    for (const meta of this.txns.values()) {
      if (meta.state === 'PrepareCommit' || meta.state === 'PrepareAbort') void this.finish(meta);
    }
    this.every('abort', this.config.abortCheckIntervalMs, () => this.abortTimedOut());
    this.every('expire', this.config.idExpirationCheckIntervalMs, () => void this.expireIds());
  }

  static async open(opts: TransactionCoordinatorFileOptions): Promise<TransactionCoordinator> {
    const store = await TxnStore.open({ logger: opts.logger, ...opts.store });
    return new TransactionCoordinator(store, opts);
  }

  // ---- producers ----

  /**
   * InitProducerId with a transactional id: a new id gets a new producer id; a known one the next
   * epoch, which fences the producer that had it. An ongoing transaction is aborted first (with an
   * epoch bump the caller never sees) and the caller gets CONCURRENT_TRANSACTIONS, to retry.
   * `expected` is the producer id and epoch the caller had (KIP-360), if any.
   */
  async initProducerId(transactionalId: string, timeoutMs: number, expected?: ProducerIdAndEpoch): Promise<InitProducerIdResult> {
    if (this.closing) return ERROR('coordinator-not-available');
    if (transactionalId === '') return ERROR('invalid-request');
    if (!(timeoutMs > 0 && timeoutMs <= this.config.maxTimeoutMs)) return ERROR('invalid-transaction-timeout');
    let meta = this.txns.get(transactionalId);
    if (!meta) {
      let producerId: number;
      try {
        producerId = await this.participants.allocateProducerId();
      } catch (err) {
        this.logger.warn('transactions: allocating a producer id failed', { err: String(err) });
        return ERROR('coordinator-not-available');
      }
      meta = this.txns.get(transactionalId) ?? this.create(transactionalId, producerId, timeoutMs);
    }
    const prepared = await this.prepareInit(meta, timeoutMs, expected);
    if ('error' in prepared) return ERROR(prepared.error);
    if (prepared.record.state === 'PrepareEpochFence') {
      const r = await this.endTransaction(transactionalId, prepared.record.producerId, prepared.record.producerEpoch, false, false);
      return ERROR(r.error ?? 'concurrent-transactions');
    }
    const failed = await this.write(meta, prepared.record);
    return failed ? ERROR(failed) : { producerId: meta.producerId, producerEpoch: meta.producerEpoch };
  }

  private create(transactionalId: string, producerId: number, timeoutMs: number): TransactionMetadata {
    const meta = new TransactionMetadata({
      transactionalId,
      producerId,
      previousProducerId: NO_PRODUCER_ID,
      producerEpoch: NO_PRODUCER_EPOCH,
      lastProducerEpoch: NO_PRODUCER_EPOCH,
      timeoutMs,
      state: 'Empty',
      partitions: new Map(),
      groups: new Set(),
      startMs: -1,
      lastUpdateMs: this.scheduler.now(),
    });
    this.txns.set(transactionalId, meta);
    return meta;
  }

  /** Kafka's prepareInitProducerIdTransit. */
  private async prepareInit(meta: TransactionMetadata, timeoutMs: number, expected?: ProducerIdAndEpoch): Promise<{ record: TxnRecord } | { error: TxnErrorKind }> {
    if (meta.pending !== undefined) return { error: 'concurrent-transactions' };
    if (expected && !this.isValidProducerId(meta, expected)) return { error: 'producer-fenced' };
    switch (meta.state) {
      case 'PrepareAbort':
      case 'PrepareCommit':
        return { error: 'concurrent-transactions' };
      case 'Ongoing':
        return { record: meta.prepareFenceProducerEpoch() };
      case 'Empty':
      case 'CompleteAbort':
      case 'CompleteCommit': {
        const now = this.scheduler.now();
        if (meta.isProducerEpochExhausted && (!expected || expected.producerEpoch === meta.producerEpoch)) {
          let producerId: number;
          try {
            producerId = await this.participants.allocateProducerId();
          } catch {
            return { error: 'coordinator-not-available' };
          }
          // Awaited: someone may have started a change meanwhile.
          if (meta.pending !== undefined) return { error: 'concurrent-transactions' };
          return { record: meta.prepareProducerIdRotation(producerId, timeoutMs, now, expected !== undefined) };
        }
        const record = meta.prepareIncrementProducerEpoch(timeoutMs, expected?.producerEpoch, now);
        return record ? { record } : { error: 'producer-fenced' };
      }
      default:
        return { error: 'unknown-server-error' };
    }
  }

  /**
   * A producer that presents its id and epoch is the current one unless fenced: the id was just
   * created (no epoch yet), it is the current id, or it is the previous id with an exhausted epoch
   * (a retry after a rotation whose answer was lost).
   */
  private isValidProducerId(meta: TransactionMetadata, expected: ProducerIdAndEpoch): boolean {
    return (
      meta.producerEpoch === NO_PRODUCER_EPOCH ||
      expected.producerId === meta.producerId ||
      (expected.producerId === meta.current.previousProducerId && isEpochExhausted(expected.producerEpoch))
    );
  }

  // ---- transactions ----

  /**
   * AddPartitionsToTxn: the partitions join the producer's transaction (which begins with the
   * first). All partitions must exist: otherwise the unknown ones answer UNKNOWN_TOPIC_OR_PARTITION
   * and the others OPERATION_NOT_ATTEMPTED, as in Kafka.
   */
  async addPartitions(transactionalId: string, producerId: number, producerEpoch: number, partitions: readonly TxnTopicPartition[]): Promise<TxnPartitionResult[]> {
    const all = (error: TxnErrorKind | undefined): TxnPartitionResult[] => partitions.map((p) => (error ? { ...p, error } : { ...p }));
    if (this.closing) return all('coordinator-not-available');
    if (transactionalId === '') return all('invalid-request');
    const unknown = partitions.filter((p) => !this.participants.partition(p.topic, p.partition));
    if (unknown.length > 0) {
      return partitions.map((p) => ({ ...p, error: unknown.includes(p) ? 'unknown-topic-or-partition' : 'operation-not-attempted' }));
    }
    return all(await this.add(transactionalId, producerId, producerEpoch, partitions, []));
  }

  /** AddOffsetsToTxn: the group's offsets join the transaction (committed by TxnOffsetCommit). */
  addOffsets(transactionalId: string, producerId: number, producerEpoch: number, groupId: string): Promise<TxnErrorKind | undefined> {
    if (this.closing) return Promise.resolve('coordinator-not-available');
    if (transactionalId === '') return Promise.resolve('invalid-request');
    return this.add(transactionalId, producerId, producerEpoch, [], [groupId]);
  }

  /** Kafka's handleAddPartitionsToTransaction. */
  private async add(transactionalId: string, producerId: number, producerEpoch: number, partitions: readonly TxnTopicPartition[], groups: readonly string[]): Promise<TxnErrorKind | undefined> {
    const meta = this.txns.get(transactionalId);
    if (!meta || meta.producerId !== producerId) return 'invalid-producer-id-mapping';
    if (meta.producerEpoch !== producerEpoch) return 'producer-fenced';
    if (meta.pending !== undefined || meta.state === 'PrepareCommit' || meta.state === 'PrepareAbort') return 'concurrent-transactions';
    const known = partitions.every((p) => meta.hasPartition(p.topic, p.partition)) && groups.every((g) => meta.current.groups.has(g));
    if (meta.state === 'Ongoing' && known) return undefined;
    return this.write(meta, meta.prepareAddPartitions(partitions, groups, this.scheduler.now()));
  }

  /**
   * EndTxn: commits or aborts the producer's transaction. Answers once the markers and offsets
   * are durable and the transaction is complete; if a participant fails a write, answers as soon
   * as the decision is durable and keeps trying in the background (the next transaction then
   * gets CONCURRENT_TRANSACTIONS until it is done).
   */
  endTxn(transactionalId: string, producerId: number, producerEpoch: number, commit: boolean): Promise<EndTxnResult> {
    if (this.closing) return Promise.resolve(ERROR('coordinator-not-available'));
    return this.endTransaction(transactionalId, producerId, producerEpoch, commit, true);
  }

  /** Kafka's endTransaction, for clients (EndTxn) and for the coordinator itself (fencing, timeouts). */
  private async endTransaction(transactionalId: string, producerId: number, producerEpoch: number, commit: boolean, fromClient: boolean): Promise<EndTxnResult> {
    if (transactionalId === '') return ERROR('invalid-request');
    const meta = this.txns.get(transactionalId);
    if (!meta) return ERROR('invalid-producer-id-mapping');
    const checked = this.checkEnd(meta, producerId, producerEpoch, commit, fromClient);
    if (checked !== 'proceed') {
      // A fence that could not even start must not leave its pending state behind.
      if (!fromClient && meta.pending === 'PrepareEpochFence') meta.abandon();
      return checked;
    }
    let isEpochFence = false;
    if (meta.pending === 'PrepareEpochFence') {
      // The fenced epoch takes effect now: the zombie's requests are refused from here on.
      isEpochFence = true;
      meta.pending = undefined;
      meta.current = { ...meta.current, producerEpoch, lastProducerEpoch: NO_PRODUCER_EPOCH };
    }
    const record = meta.prepareAbortOrCommit(commit ? 'PrepareCommit' : 'PrepareAbort', this.scheduler.now());
    const failed = await this.write(meta, record);
    if (failed) {
      if (isEpochFence) meta.hasFailedEpochFence = true;
      return ERROR(failed);
    }
    await new Promise<void>((answer) => {
      this.finish(meta, answer).then(answer, answer);
    });
    return { producerId: meta.producerId, producerEpoch: meta.producerEpoch };
  }

  /** The checks of Kafka's endTransaction before the decision is written. */
  private checkEnd(meta: TransactionMetadata, producerId: number, producerEpoch: number, commit: boolean, fromClient: boolean): EndTxnResult | 'proceed' {
    const done = { producerId: meta.producerId, producerEpoch: meta.producerEpoch };
    if (meta.producerId !== producerId) return ERROR('invalid-producer-id-mapping');
    const validEpoch = (!fromClient || producerEpoch === meta.producerEpoch) && producerEpoch >= meta.producerEpoch;
    if (!validEpoch) return ERROR('producer-fenced');
    if (meta.pending !== undefined && meta.pending !== 'PrepareEpochFence') return ERROR('concurrent-transactions');
    switch (meta.state) {
      case 'Ongoing':
        return 'proceed';
      case 'CompleteCommit':
        return commit ? done : ERROR('invalid-txn-state');
      case 'CompleteAbort':
        return commit ? ERROR('invalid-txn-state') : done;
      case 'PrepareCommit':
        return commit ? ERROR('concurrent-transactions') : ERROR('invalid-txn-state');
      case 'PrepareAbort':
        return commit ? ERROR('invalid-txn-state') : ERROR('concurrent-transactions');
      case 'Empty':
        return ERROR('invalid-txn-state');
      default:
        return ERROR('unknown-server-error');
    }
  }

  /**
   * Writes the markers of a decided transaction (PrepareCommit/PrepareAbort) until every
   * participant has them durably, then Complete. `stalled` is called when a participant failed
   * (the caller need not wait for the retries). One run per transaction at a time.
   */
  private finish(meta: TransactionMetadata, stalled?: () => void): Promise<void> {
    const running = this.completing.get(meta.transactionalId);
    if (running) return running;
    const run = this.markAndComplete(meta, stalled ?? (() => {})).finally(() => this.completing.delete(meta.transactionalId));
    this.completing.set(meta.transactionalId, run);
    return run;
  }

  private async markAndComplete(meta: TransactionMetadata, stalled: () => void): Promise<void> {
    const decided = meta.current;
    const commit = decided.state === 'PrepareCommit';
    let left = participantsOf(decided);
    for (;;) {
      left = await this.writeMarkers(decided, commit, left);
      if (left.length === 0) break;
      stalled();
      if (this.closing) return; // the next start finishes it
      await this.sleep(this.config.markerRetryMs);
    }
    if (this.closing) return;
    // Complete is implied by the durable decision and the durable markers, so it takes effect at
    // once and is written without waiting: if a crash loses it, the restart finds the decision
    // and writes the markers again, which ends nothing twice. The next transaction's first
    // record follows it in the log, so that one is never durable without it.
    const complete = meta.prepareComplete(this.scheduler.now());
    meta.complete(complete);
    this.store.put(complete).catch((err: unknown) => {
      this.logger.warn('transactions: writing a Complete state failed; a restart writes the markers again', { transactionalId: meta.transactionalId, err: String(err) });
    });
  }

  /** Writes the markers (and ends the transactional offsets); returns the participants that failed. */
  private async writeMarkers(r: TxnRecord, commit: boolean, targets: readonly Participant[]): Promise<Participant[]> {
    const marker = { producerId: r.producerId, producerEpoch: r.producerEpoch, commit, coordinatorEpoch: this.coordinatorEpoch };
    const { writeMarker } = this.participants;
    const results = await Promise.all(
      targets.map(async (t): Promise<Participant | undefined> => {
        try {
          if (writeMarker !== undefined) {
            await writeMarker.call(this.participants, t, marker);
          } else if (t.kind === 'partition') {
            // A partition deleted since is skipped, as Kafka drops markers for partitions that are gone.
            const p = this.participants.partition(t.topic, t.partition);
            if (p) await p.appendMarker(marker, this.scheduler.now()).durable;
          } else {
            await this.participants.groups()?.completeTxn(t.groupId, r.producerId, commit);
          }
          return undefined;
        } catch (err) {
          if (err instanceof StreamError && err.kind === 'unknown-partition') return undefined; // deleted while we wrote
          // Kafka's TransactionMarkerRequestCompletionHandler stops sending a marker that is fenced:
          // the producer moved on, or a newer coordinator has the transaction.
          if (err instanceof StreamError && (err.kind === 'producer-fenced' || err.kind === 'coordinator-fenced')) {
            this.logger.error('transactions: a partition refused a marker; skipped', { transactionalId: r.transactionalId, ...t, err: err.message });
            return undefined;
          }
          this.logger.warn('transactions: writing a marker failed; retrying', { transactionalId: r.transactionalId, ...t, err: String(err) });
          return t;
        }
      }),
    );
    return results.filter((t): t is Participant => t !== undefined);
  }

  // ---- checks for the produce and offset paths ----

  /**
   * Kafka's transaction verification (KIP-890): a transactional batch may start a producer's
   * transaction on a partition only if the coordinator has the partition in that transaction.
   */
  verifyPartition(transactionalId: string, producerId: number, producerEpoch: number, topic: string, partition: number): TxnErrorKind | undefined {
    const meta = this.verified(transactionalId, producerId, producerEpoch);
    if (typeof meta === 'string') return meta;
    return meta.hasPartition(topic, partition) ? undefined : 'transaction-abortable';
  }

  /** TxnOffsetCommit: the producer's transaction must include the group (AddOffsetsToTxn). */
  async commitOffsets(req: TxnOffsetCommitRequest): Promise<TxnOffsetCommitResult> {
    const groups = this.participants.groups();
    if (this.closing || !groups) return { error: 'coordinator-not-available' };
    const meta = this.verified(req.transactionalId, req.producerId, req.producerEpoch);
    if (typeof meta === 'string') return { error: meta };
    if (!meta.current.groups.has(req.groupId)) return { error: 'transaction-abortable' };
    return { results: await groups.txnCommit(req) };
  }

  private verified(transactionalId: string, producerId: number, producerEpoch: number): TransactionMetadata | TxnErrorKind {
    if (this.closing) return 'coordinator-not-available';
    if (transactionalId === '') return 'invalid-request';
    const meta = this.txns.get(transactionalId);
    if (!meta || meta.producerId !== producerId) return 'invalid-producer-id-mapping';
    if (meta.producerEpoch !== producerEpoch) return 'producer-fenced';
    if (meta.state === 'PrepareCommit' || meta.state === 'PrepareAbort') return 'concurrent-transactions';
    return meta;
  }

  // ---- admin ----

  describe(transactionalIds: readonly string[]): DescribedTransaction[] {
    return transactionalIds.map((transactionalId) => {
      const none = { transactionalId, state: '' as const, timeoutMs: 0, startMs: -1, producerId: NO_PRODUCER_ID, producerEpoch: NO_PRODUCER_EPOCH, partitions: [] };
      if (this.closing) return { ...none, error: 'coordinator-not-available' };
      if (transactionalId === '') return { ...none, error: 'invalid-request' };
      const meta = this.txns.get(transactionalId);
      if (!meta || meta.state === 'Dead') return { ...none, error: 'transactional-id-not-found' };
      const r = meta.current;
      const partitions = [...r.partitions].flatMap(([topic, ps]) => [...ps].map((partition) => ({ topic, partition })));
      return { transactionalId, state: r.state, timeoutMs: r.timeoutMs, startMs: r.startMs, producerId: r.producerId, producerEpoch: r.producerEpoch, partitions };
    });
  }

  /** ListTransactions: filters by state names, producer ids, and (v1) running longer than `durationMs` (-1: any). */
  list(states: readonly string[], producerIds: readonly number[], durationMs = -1): ListTransactionsResult {
    if (this.closing) return { error: 'coordinator-not-available', unknownStates: [], transactions: [] };
    const wanted = new Set(states.filter((s) => TXN_STATES.includes(s as TxnState)));
    const unknownStates = states.filter((s) => !wanted.has(s));
    const pids = new Set(producerIds);
    const now = this.scheduler.now();
    const transactions: ListedTransaction[] = [];
    for (const meta of this.txns.values()) {
      const r = meta.current;
      if (r.state === 'Dead') continue;
      if (pids.size > 0 && !pids.has(r.producerId)) continue;
      if (states.length > 0 && !wanted.has(r.state)) continue;
      if (durationMs >= 0 && now - r.startMs <= durationMs) continue;
      transactions.push({ transactionalId: r.transactionalId, producerId: r.producerId, state: r.state });
    }
    return { unknownStates, transactions };
  }

  // ---- timers ----

  /** Aborts transactions past their timeout, fencing the producer (its epoch is bumped). */
  abortTimedOut(): void {
    if (this.closing) return;
    const now = this.scheduler.now();
    for (const meta of [...this.txns.values()]) {
      const r = meta.current;
      if (r.state !== 'Ongoing' || meta.pending !== undefined || r.startMs + r.timeoutMs >= now) continue;
      const fence = meta.prepareFenceProducerEpoch();
      this.logger.info('transactions: aborting a transaction past its timeout', { transactionalId: r.transactionalId, timeoutMs: r.timeoutMs });
      void this.endTransaction(r.transactionalId, fence.producerId, fence.producerEpoch, false, false).then((res) => {
        if (res.error && res.error !== 'concurrent-transactions') this.logger.warn('transactions: aborting a timed-out transaction failed', { transactionalId: r.transactionalId, error: res.error });
      });
    }
  }

  /** Forgets ids idle past transactional.id.expiration.ms. Resolves once that is durable. */
  async expireIds(): Promise<void> {
    if (this.closing) return;
    const cutoff = this.scheduler.now() - this.config.idExpirationMs;
    const removals: Promise<void>[] = [];
    for (const meta of [...this.txns.values()]) {
      const idle = meta.state === 'Empty' || meta.state === 'CompleteCommit' || meta.state === 'CompleteAbort';
      if (!idle || meta.pending !== undefined || meta.current.lastUpdateMs > cutoff) continue;
      meta.prepareDead();
      removals.push(
        this.store.remove(meta.transactionalId).then(
          () => {
            this.txns.delete(meta.transactionalId);
          },
          (err: unknown) => {
            meta.abandon();
            this.logger.warn('transactions: removing an expired transactional id failed', { transactionalId: meta.transactionalId, err: String(err) });
          },
        ),
      );
    }
    await Promise.all(removals);
  }

  private every(name: string, ms: number, run: () => void): void {
    const tick = (): void => {
      if (this.closing) return;
      try {
        run();
      } catch (err) {
        this.logger.error('transactions: a timer failed', { err: err instanceof Error ? err.stack : String(err) });
      }
      this.timers.set(name, this.scheduler.setTimer(tick, ms));
    };
    this.timers.set(name, this.scheduler.setTimer(tick, ms));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this.sleepers.delete(wake);
        timer.cancel();
        resolve();
      };
      const timer = this.scheduler.setTimer(wake, ms);
      this.sleepers.add(wake);
    });
  }

  // ---- state ----

  /** Writes a prepared change; applies it once durable. Returns the error to answer if it could not be written. */
  private async write(meta: TransactionMetadata, record: TxnRecord): Promise<TxnErrorKind | undefined> {
    try {
      await this.store.put(record);
    } catch (err) {
      meta.abandon();
      this.logger.warn('transactions: writing the transaction log failed', { transactionalId: meta.transactionalId, err: String(err) });
      return 'coordinator-not-available';
    }
    meta.complete(record);
    return undefined;
  }

  /** The state of a transactional id (tests, management). */
  stateOf(transactionalId: string): TxnRecord | undefined {
    return this.txns.get(transactionalId)?.current;
  }

  /** Stops the timers, lets marker writes in flight finish their step, closes the log. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const t of this.timers.values()) t.cancel();
      for (const wake of [...this.sleepers]) wake();
      await Promise.allSettled([...this.completing.values()]);
      await this.store.close();
    })();
    return this.closing;
  }
}

function participantsOf(r: TxnRecord): Participant[] {
  const out: Participant[] = [];
  for (const [topic, ps] of r.partitions) for (const partition of ps) out.push({ kind: 'partition', topic, partition });
  for (const groupId of r.groups) out.push({ kind: 'group', groupId });
  return out;
}
