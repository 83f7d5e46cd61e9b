// How the cleaner treats transactions (Kafka's CleanedTransactionMetadata). Records of aborted
// transactions are dropped and never enter the offset map; a transaction marker (a control batch)
// stays until no batch of its transaction is left in the log, and then until its delete horizon
// has passed, so a read_committed consumer never meets transactional data without its marker.
//
// The partition supplies its aborted-transaction index (aborted-txns.ts) through TransactionIndex
// and bounds cleaning by its last stable offset, so an open transaction is never touched. A host
// without an index (transactions() undefined: the cleaner's unit tests) runs in a conservative
// mode: nothing at or past the first transactional or control batch is cleaned (see cleaner.ts).

/** An aborted transaction: its producer, its first offset and the offset of its ABORT marker. */
export interface AbortedTransaction {
  readonly producerId: number;
  readonly firstOffset: number;
  readonly lastOffset: number;
}

/** What a partition with transactions tells the cleaner (Kafka's transaction index). */
export interface TransactionIndex {
  /** Aborted transactions with any offset in [from, to), in order of first offset. */
  abortedTransactions(from: number, to: number): readonly AbortedTransaction[];
}

/** Kafka's ControlRecordType, read from a control record's key: version int16, type int16. */
export const ControlType = { ABORT: 0, COMMIT: 1 } as const;

/**
 * The transactions a cleaning pass is inside of, as it walks the log in offset order. Batches of
 * one producer's transaction are contiguous in its history: a transactional batch belongs to the
 * producer's open transaction, which its next marker ends.
 */
export class CleanedTransactions {
  /** Producers whose current transaction (not aborted) the pass has seen batches of. */
  private readonly committed = new Set<number>();
  /** Producers inside an aborted transaction, with whether the pass saw any of its batches. */
  private readonly aborted = new Map<number, { sawBatch: boolean }>();
  /** Aborted transactions not yet reached, by first offset. */
  private pending: AbortedTransaction[] = [];
  private readonly known = new Set<string>();

  /** Adds aborted transactions (duplicates of ones already added are ignored). */
  add(txns: readonly AbortedTransaction[]): void {
    let added = false;
    for (const t of txns) {
      const key = `${t.producerId}:${t.firstOffset}`;
      if (this.known.has(key)) continue;
      this.known.add(key);
      this.pending.push(t);
      added = true;
    }
    if (added) this.pending.sort((a, b) => a.firstOffset - b.firstOffset);
  }

  private reach(offset: number): void {
    let n = 0;
    while (n < this.pending.length && this.pending[n].firstOffset <= offset) {
      const t = this.pending[n++];
      if (!this.aborted.has(t.producerId)) this.aborted.set(t.producerId, { sawBatch: false });
    }
    if (n > 0) this.pending = this.pending.slice(n);
  }

  /** A data batch: true if it belongs to an aborted transaction (its records may all go). */
  onBatch(producerId: number, lastOffset: number, transactional: boolean): boolean {
    this.reach(lastOffset);
    if (!transactional) return false;
    const a = this.aborted.get(producerId);
    if (a) {
      a.sawBatch = true;
      return true;
    }
    this.committed.add(producerId);
    return false;
  }

  /**
   * A control batch (`type` from its record's key; undefined for a batch already emptied): true if
   * the marker may go, i.e. no batch of its transaction was met in this pass (Kafka keeps an
   * ABORT marker while the aborted batches are still there, a COMMIT marker while any batch of
   * its transaction is).
   */
  onControlBatch(producerId: number, lastOffset: number, type: number | undefined): boolean {
    this.reach(lastOffset);
    if (type === undefined) return true; // an emptied control batch was cleaned already
    if (type === ControlType.ABORT) {
      const a = this.aborted.get(producerId);
      this.aborted.delete(producerId);
      return !a?.sawBatch;
    }
    if (type === ControlType.COMMIT) return !this.committed.delete(producerId);
    return false;
  }
}
