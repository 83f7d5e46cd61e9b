// The transaction log: transactional ids' states, durable, in their own segmented log, replayed on
// open (the last record of an id wins). Writes are group-committed: every record submitted while a
// write is in flight goes into the next one, which appends them all and fsyncs once; a write
// resolves once its record is durable.
//
// Every record is an id's whole state, so compaction needs no brackets: once the log is much
// bigger than the live state, every live state is written again, fsync'd, and the segments before
// the one the rewrite starts in are deleted. A crash at any point leaves the last record of each
// id the newest.

import * as path from 'node:path';
import { type FsyncPolicy, type Log, type Logger, openFileLog, stderrLogger } from '../../../store/index.js';
import type { TxnRecord } from './metadata.js';
import { TxnRecordError, TxnRecordType, decodeTxnRemoved, decodeTxnState, encodeTxnRemoved, encodeTxnState } from './records.js';

export interface TxnStoreOptions {
  /** Log segment size. Default 4 MiB. */
  readonly segmentBytesMax?: number;
  /** No compaction while the log is smaller than this. Default 16 MiB. */
  readonly compactBytesMin?: number;
  readonly logger?: Logger;
}

export interface TxnStoreFileOptions extends TxnStoreOptions {
  /** The log's directory (the broker uses `<data>/transactions/<vhost>/`). */
  readonly dir: string;
  readonly fsync?: FsyncPolicy;
}

const SEGMENT_BYTES_DEFAULT = 4 * 1024 * 1024;
const COMPACT_BYTES_MIN_DEFAULT = 16 * 1024 * 1024;

interface Write {
  readonly kind: 'write';
  readonly type: number;
  readonly payload: Buffer;
  readonly apply: () => void;
  resolve(): void;
  reject(err: unknown): void;
}

/** Work that needs the log to itself (compaction). */
interface Task {
  readonly kind: 'task';
  run(): Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

export class TxnStore {
  /** The durable state of every transactional id. */
  private readonly states: Map<string, TxnRecord>;
  private readonly liveBytes = new Map<string, number>();
  private queue: (Write | Task)[] = [];
  private writing: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly segmentBytesMax: number;
  private readonly compactBytesMin: number;
  private readonly logger: Logger;
  /** Records replay could not read (skipped with a warning). */
  readonly skippedRecords: number;
  compactions = 0;

  private constructor(
    private readonly log: Log,
    states: Map<string, TxnRecord>,
    skipped: number,
    opts: TxnStoreOptions,
  ) {
    this.states = states;
    for (const [id, r] of states) this.liveBytes.set(id, encodeTxnState(r).length);
    this.skippedRecords = skipped;
    this.segmentBytesMax = opts.segmentBytesMax ?? SEGMENT_BYTES_DEFAULT;
    this.compactBytesMin = opts.compactBytesMin ?? COMPACT_BYTES_MIN_DEFAULT;
    this.logger = opts.logger ?? stderrLogger;
  }

  static async open(opts: TxnStoreFileOptions): Promise<TxnStore> {
    const log = await openFileLog({
      dir: opts.dir,
      fsync: opts.fsync ?? 'batch',
      segmentBytesMax: opts.segmentBytesMax ?? SEGMENT_BYTES_DEFAULT,
      quarantineDir: path.join(opts.dir, 'quarantine'),
      logger: opts.logger,
      openFilesMax: 2,
    });
    return TxnStore.openOnLog(log, opts);
  }

  /** A store on a log opened elsewhere (tests use the memory log); the store closes it. */
  static async openOnLog(log: Log, opts: TxnStoreOptions = {}): Promise<TxnStore> {
    const logger = opts.logger ?? stderrLogger;
    const states = new Map<string, TxnRecord>();
    let skipped = 0;
    await log.scan((r) => {
      try {
        if (r.type === TxnRecordType.State) {
          const s = decodeTxnState(r.payload);
          states.set(s.transactionalId, s);
        } else if (r.type === TxnRecordType.Removed) states.delete(decodeTxnRemoved(r.payload));
        else throw new TxnRecordError(`unknown transaction record type ${r.type}`);
      } catch (err) {
        if (!(err instanceof TxnRecordError)) throw err;
        skipped++;
        logger.warn('transaction log: a record that cannot be read is skipped', { pos: r.pos, err: err.message });
      }
    });
    return new TxnStore(log, states, skipped, opts);
  }

  /** Every transactional id's durable state, as replayed at open. */
  records(): TxnRecord[] {
    return [...this.states.values()];
  }

  sizeBytes(): number {
    return this.log.sizeBytes();
  }

  segments(): readonly number[] {
    return this.log.segments();
  }

  /** Writes an id's new state; resolves once it is durable. Rejects (and writes nothing) on a write failure. */
  put(r: TxnRecord): Promise<void> {
    let payload: Buffer;
    try {
      payload = encodeTxnState(r);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.submit(TxnRecordType.State, payload, () => {
      this.states.set(r.transactionalId, r);
      this.liveBytes.set(r.transactionalId, payload.length);
    });
  }

  /** Forgets an id; resolves once that is durable. */
  remove(transactionalId: string): Promise<void> {
    return this.submit(TxnRecordType.Removed, encodeTxnRemoved(transactionalId), () => {
      this.states.delete(transactionalId);
      this.liveBytes.delete(transactionalId);
    });
  }

  /** Rewrites the live state and drops the segments before it (normally the store decides when). */
  compact(): Promise<void> {
    return this.submitTask(() => this.rewrite());
  }

  /** Waits for the writes submitted so far, then closes the log. Later writes are refused. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      while (this.writing) await this.writing;
      await this.log.close();
    })();
    return this.closing;
  }

  private submit(type: number, payload: Buffer, apply: () => void): Promise<void> {
    if (this.closing) return Promise.reject(new Error('the transaction log is closed'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ kind: 'write', type, payload, apply, resolve, reject });
      this.kick();
    });
  }

  private submitTask(run: () => Promise<void>): Promise<void> {
    if (this.closing) return Promise.reject(new Error('the transaction log is closed'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ kind: 'task', run, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    // A microtask later, so that writes submitted in one go share an fsync.
    this.writing ??= Promise.resolve()
      .then(() => this.drain())
      .finally(() => {
        this.writing = undefined;
        if (this.queue.length > 0) this.kick();
      });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const head = this.queue[0];
      if (head.kind === 'task') {
        this.queue.shift();
        await head.run().then(head.resolve, head.reject);
        continue;
      }
      let n = 1;
      while (n < this.queue.length && this.queue[n].kind === 'write') n++;
      await this.writeBatch(this.queue.splice(0, n) as Write[]);
      await this.maybeCompact();
    }
  }

  private async writeBatch(batch: readonly Write[]): Promise<void> {
    try {
      for (const w of batch) this.log.append(w.type, w.payload);
      await this.log.sync();
    } catch (err) {
      // The log cut what was not durable: none of this batch is on disk.
      for (const w of batch) w.reject(err);
      return;
    }
    for (const w of batch) {
      w.apply();
      w.resolve();
    }
  }

  private async maybeCompact(): Promise<void> {
    let live = 0;
    for (const n of this.liveBytes.values()) live += n;
    const size = this.log.sizeBytes();
    if (size <= this.compactBytesMin || size <= 2 * live + this.segmentBytesMax) return;
    try {
      await this.rewrite();
    } catch (err) {
      this.logger.warn('transaction log compaction failed; the older records stay in charge', { err: String(err) });
    }
  }

  /** Runs with no other write in flight. */
  private async rewrite(): Promise<void> {
    let first: number | undefined;
    for (const r of this.states.values()) {
      const pos = this.log.append(TxnRecordType.State, encodeTxnState(r));
      first ??= pos.segment;
    }
    await this.log.sync();
    first ??= this.log.activeSegment();
    if (this.log.segments()[0] < first) await this.log.deleteSegmentsBefore(first);
    this.compactions++;
  }
}
