// One transactional id's state (Kafka's TransactionMetadata): the producer id and epoch it owns,
// the state of its current transaction and what takes part in it. A change is prepared as a whole
// new record (Kafka's TxnTransitMetadata) while the metadata remembers the state it is moving to
// (`pending`); the change applies once the record is durable in the transaction log, so memory
// only ever shows what a restart would find. The transitions are Kafka's, for clients that do not
// bump the epoch at every transaction (EndTxn up to v4).

export type TxnState =
  | 'Empty'
  | 'Ongoing'
  | 'PrepareCommit'
  | 'PrepareAbort'
  | 'CompleteCommit'
  | 'CompleteAbort'
  | 'Dead'
  | 'PrepareEpochFence';

/** Kafka's TransactionState ids, as stored. */
export const TXN_STATE_IDS: Readonly<Record<TxnState, number>> = {
  Empty: 0,
  Ongoing: 1,
  PrepareCommit: 2,
  PrepareAbort: 3,
  CompleteCommit: 4,
  CompleteAbort: 5,
  Dead: 6,
  PrepareEpochFence: 7,
};

export const TXN_STATES = Object.keys(TXN_STATE_IDS) as TxnState[];

const VALID_PREVIOUS: Readonly<Record<TxnState, readonly TxnState[]>> = {
  Empty: ['Empty', 'CompleteCommit', 'CompleteAbort'],
  Ongoing: ['Ongoing', 'Empty', 'CompleteCommit', 'CompleteAbort'],
  PrepareCommit: ['Ongoing'],
  PrepareAbort: ['Ongoing', 'PrepareEpochFence'],
  CompleteCommit: ['PrepareCommit'],
  CompleteAbort: ['PrepareAbort'],
  Dead: ['Empty', 'CompleteAbort', 'CompleteCommit'],
  PrepareEpochFence: ['Ongoing'],
};

export const NO_PRODUCER_ID = -1;
export const NO_PRODUCER_EPOCH = -1;
/** Epochs up to 32766 go to clients: the coordinator must always be able to fence with one more. */
export const EPOCH_MAX = 0x7fff;

export function isEpochExhausted(epoch: number): boolean {
  return epoch >= EPOCH_MAX - 1;
}

export interface TxnTopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** What the transaction log stores for a transactional id (Kafka's TransactionLogValue). */
export interface TxnRecord {
  readonly transactionalId: string;
  readonly producerId: number;
  /** The producer id before the last change (a new one after epoch exhaustion): a retry may name it. */
  readonly previousProducerId: number;
  readonly producerEpoch: number;
  /** The epoch before the last InitProducerId bump (-1: none), so a retried InitProducerId gets the same answer. */
  readonly lastProducerEpoch: number;
  readonly timeoutMs: number;
  readonly state: TxnState;
  /** The partitions of the current transaction, by topic. */
  readonly partitions: ReadonlyMap<string, ReadonlySet<number>>;
  /** The consumer groups whose offsets the transaction commits (AddOffsetsToTxn). */
  readonly groups: ReadonlySet<string>;
  /** When the transaction began (its first AddPartitionsToTxn); -1 outside a transaction. */
  readonly startMs: number;
  readonly lastUpdateMs: number;
}

export class TransactionMetadata {
  /** The durable state. */
  current: TxnRecord;
  /** The state a change being written moves to. */
  pending: TxnState | undefined;
  /**
   * An epoch fence was attempted but its write failed: the bumped epoch may or may not be on disk,
   * so the next fence does not bump again (it was never given to a client).
   */
  hasFailedEpochFence = false;

  constructor(record: TxnRecord) {
    this.current = record;
  }

  get transactionalId(): string {
    return this.current.transactionalId;
  }

  get state(): TxnState {
    return this.current.state;
  }

  get producerId(): number {
    return this.current.producerId;
  }

  get producerEpoch(): number {
    return this.current.producerEpoch;
  }

  get isProducerEpochExhausted(): boolean {
    return isEpochExhausted(this.current.producerEpoch);
  }

  hasPartition(topic: string, partition: number): boolean {
    return this.current.partitions.get(topic)?.has(partition) ?? false;
  }

  /** Bumps the epoch to fence the producer of an ongoing transaction (never returned to a client). */
  prepareFenceProducerEpoch(): TxnRecord {
    if (this.producerEpoch === EPOCH_MAX) throw new Error('cannot fence a producer whose epoch is already 32767');
    const epoch = this.hasFailedEpochFence ? this.producerEpoch : this.producerEpoch + 1;
    return this.transit('PrepareEpochFence', { producerEpoch: epoch, lastProducerEpoch: NO_PRODUCER_EPOCH });
  }

  /**
   * InitProducerId on a known id: the next epoch (KIP-360: a producer presenting its current epoch
   * gets the next; one presenting the epoch it had before the last bump gets the same answer again,
   * a retry; any other is fenced). Returns undefined for PRODUCER_FENCED.
   */
  prepareIncrementProducerEpoch(timeoutMs: number, expectedEpoch: number | undefined, nowMs: number): TxnRecord | undefined {
    if (this.isProducerEpochExhausted) throw new Error(`no epochs left for producer id ${this.producerId}`);
    const bumped = this.producerEpoch + 1;
    let next: number;
    let last: number;
    if (expectedEpoch === undefined) [next, last] = [bumped, NO_PRODUCER_EPOCH];
    else if (this.producerEpoch === NO_PRODUCER_EPOCH || expectedEpoch === this.producerEpoch) [next, last] = [bumped, this.producerEpoch];
    else if (expectedEpoch === this.current.lastProducerEpoch) [next, last] = [this.producerEpoch, this.current.lastProducerEpoch];
    else return undefined;
    return this.transit('Empty', { producerEpoch: next, lastProducerEpoch: last, timeoutMs, partitions: new Map(), groups: new Set(), startMs: -1, lastUpdateMs: nowMs });
  }

  /** Epochs exhausted: the transactional id moves to a new producer id at epoch 0. */
  prepareProducerIdRotation(producerId: number, timeoutMs: number, nowMs: number, recordLastEpoch: boolean): TxnRecord {
    return this.transit('Empty', {
      producerId,
      producerEpoch: 0,
      lastProducerEpoch: recordLastEpoch ? this.producerEpoch : NO_PRODUCER_EPOCH,
      timeoutMs,
      partitions: new Map(),
      groups: new Set(),
      startMs: -1,
      lastUpdateMs: nowMs,
    });
  }

  /** AddPartitionsToTxn / AddOffsetsToTxn: the transaction begins (or grows). */
  prepareAddPartitions(partitions: readonly TxnTopicPartition[], groups: readonly string[], nowMs: number): TxnRecord {
    const merged = new Map<string, Set<number>>();
    for (const [t, ps] of this.current.partitions) merged.set(t, new Set(ps));
    for (const p of partitions) {
      let set = merged.get(p.topic);
      if (!set) merged.set(p.topic, (set = new Set()));
      set.add(p.partition);
    }
    const starting = this.state === 'Empty' || this.state === 'CompleteAbort' || this.state === 'CompleteCommit';
    return this.transit('Ongoing', {
      partitions: merged,
      groups: new Set([...this.current.groups, ...groups]),
      startMs: starting ? nowMs : this.current.startMs,
      lastUpdateMs: nowMs,
    });
  }

  prepareAbortOrCommit(state: 'PrepareCommit' | 'PrepareAbort', nowMs: number): TxnRecord {
    return this.transit(state, { lastUpdateMs: nowMs });
  }

  /** The markers are written: the transaction is complete and its participants forgotten. */
  prepareComplete(nowMs: number): TxnRecord {
    this.hasFailedEpochFence = false;
    const state = this.state === 'PrepareCommit' ? 'CompleteCommit' : 'CompleteAbort';
    return this.transit(state, { lastProducerEpoch: this.producerEpoch, partitions: new Map(), groups: new Set(), lastUpdateMs: nowMs });
  }

  /** transactional.id.expiration.ms passed without a transaction: the id is forgotten. */
  prepareDead(): TxnRecord {
    return this.transit('Dead', { partitions: new Map(), groups: new Set() });
  }

  /** The prepared change is durable. */
  complete(next: TxnRecord): void {
    this.current = next;
    this.pending = undefined;
  }

  /** The prepared change could not be written. */
  abandon(): void {
    this.pending = undefined;
  }

  private transit(state: TxnState, change: Partial<TxnRecord>): TxnRecord {
    if (this.pending !== undefined) throw new Error(`transaction ${this.transactionalId}: a change to ${this.pending} is already being written`);
    if (!VALID_PREVIOUS[state].includes(this.state)) {
      throw new Error(`transaction ${this.transactionalId}: ${this.state} cannot move to ${state}`);
    }
    this.pending = state;
    return { ...this.current, previousProducerId: this.current.producerId, ...change, state };
  }
}
