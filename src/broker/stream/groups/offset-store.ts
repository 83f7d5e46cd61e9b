// Committed offsets of consumer groups, durable: an append-only log of changes (records.ts) in its
// own directory, replayed on open. Writes are group-committed: every change submitted while a
// write is in flight goes into the next one, which appends them all and fsyncs once. The in-memory
// state only ever shows durable changes, applied in log order after their fsync, so a reader
// never sees an offset that a crash could take back, and memory always equals a replay of the log.
//
// The log stays bounded: once it is much bigger than the live state, a snapshot of the whole state
// is appended between SnapshotBegin and SnapshotEnd records, fsync'd, and the segments before the
// one it starts in are deleted. Replay trusts a snapshot only once its end record (with matching
// id and counts) is read, so a crash at any point leaves either the old records or the complete
// snapshot in charge.

import * as path from 'node:path';
import { type FsyncPolicy, type Log, type LogPosition, type Logger, openFileLog, stderrLogger } from '../../../store/index.js';
import { OffsetState, type StoredGroup } from './offset-state.js';
import {
  GroupRecordError,
  GroupRecordType,
  type OffsetEntry,
  type StoredGroupMeta,
  type TopicPartitionRef,
  decodeDeleteGroup,
  decodeDeleteOffsets,
  decodeGroupMeta,
  decodeOffsets,
  decodeSnapshotMark,
  decodeTxnEnd,
  decodeTxnOffsets,
  encodeDeleteGroup,
  encodeDeleteOffsets,
  encodeGroupMeta,
  encodeOffsets,
  encodeSnapshotMark,
  encodeTxnEnd,
  encodeTxnOffsets,
  offsetEntryBytes,
} from './records.js';

export interface OffsetStoreOptions {
  /** Log segment size. Default 4 MiB: small, so a snapshot frees space soon. */
  readonly segmentBytesMax?: number;
  /** No snapshot while the log is smaller than this. Default 16 MiB. */
  readonly compactBytesMin?: number;
  readonly logger?: Logger;
}

export interface OffsetStoreFileOptions extends OffsetStoreOptions {
  /** The directory of the offsets log (the broker uses `<data>/groups/`). */
  readonly dir: string;
  /** Where recovery copies bytes it cuts off. Default `<dir>/quarantine`. */
  readonly quarantineDir?: string;
  /** Default 'batch'. */
  readonly fsync?: FsyncPolicy;
}

export const OFFSETS_SEGMENT_BYTES_DEFAULT = 4 * 1024 * 1024;
export const OFFSETS_COMPACT_BYTES_MIN_DEFAULT = 16 * 1024 * 1024;
/** Snapshot offsets go out in records of about this many bytes. */
const SNAPSHOT_CHUNK_BYTES = 256 * 1024;

interface LogWrite {
  readonly type: number;
  readonly payload: Buffer;
}

interface Change {
  readonly kind: 'change';
  readonly groupId: string;
  readonly isCommit: boolean;
  readonly writes: readonly LogWrite[];
  apply(state: OffsetState): void;
  resolve(): void;
  reject(err: unknown): void;
}

/** Work that needs the log to itself (a snapshot). */
interface Task {
  readonly kind: 'task';
  run(): Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

export interface OffsetStoreStats {
  /** Snapshots written. */
  snapshots: number;
  /** Torn or unparsable records skipped by replay. */
  skippedRecords: number;
}

export class OffsetStore {
  private queue: (Change | Task)[] = [];
  private writing: Promise<void> | undefined;
  /** Commits submitted and not yet durable (or failed), per group. */
  private readonly pendingCommits = new Map<string, number>();
  private closing: Promise<void> | undefined;
  private readonly segmentBytesMax: number;
  private readonly compactBytesMin: number;
  private readonly logger: Logger;
  readonly stats: OffsetStoreStats;

  private constructor(
    private readonly log: Log,
    private readonly state: OffsetState,
    opts: OffsetStoreOptions,
    skippedRecords: number,
  ) {
    this.segmentBytesMax = opts.segmentBytesMax ?? OFFSETS_SEGMENT_BYTES_DEFAULT;
    this.compactBytesMin = opts.compactBytesMin ?? OFFSETS_COMPACT_BYTES_MIN_DEFAULT;
    this.logger = opts.logger ?? stderrLogger;
    this.stats = { snapshots: 0, skippedRecords };
  }

  /** Opens (creating if needed) the offsets log in `opts.dir` and replays it. */
  static async open(opts: OffsetStoreFileOptions): Promise<OffsetStore> {
    const log = await openFileLog({
      dir: opts.dir,
      fsync: opts.fsync ?? 'batch',
      segmentBytesMax: opts.segmentBytesMax ?? OFFSETS_SEGMENT_BYTES_DEFAULT,
      quarantineDir: opts.quarantineDir ?? path.join(opts.dir, 'quarantine'),
      logger: opts.logger,
      openFilesMax: 4,
    });
    return OffsetStore.openOnLog(log, opts);
  }

  /** A store on a log opened elsewhere (tests use the memory log); the store closes it. */
  static async openOnLog(log: Log, opts: OffsetStoreOptions = {}): Promise<OffsetStore> {
    const logger = opts.logger ?? stderrLogger;
    const { state, skipped } = await replay(log, logger);
    const store = new OffsetStore(log, state, opts, skipped);
    store.maybeCompactSoon();
    return store;
  }

  // ---- reading (durable state only) ----

  hasGroup(groupId: string): boolean {
    return this.state.groups.has(groupId);
  }

  groupIds(): string[] {
    return [...this.state.groups.keys()];
  }

  meta(groupId: string): StoredGroupMeta | undefined {
    return this.state.groups.get(groupId)?.meta;
  }

  offset(groupId: string, topic: string, partition: number): OffsetEntry | undefined {
    return this.state.groups.get(groupId)?.offset(topic, partition);
  }

  /** Every committed offset of the group, by topic then partition in commit order. */
  offsets(groupId: string): OffsetEntry[] {
    const g = this.state.groups.get(groupId);
    return g ? [...g.offsets()] : [];
  }

  offsetCount(groupId: string): number {
    return this.state.groups.get(groupId)?.offsetCount ?? 0;
  }

  /** Groups holding offsets of `topic`, with those partitions. */
  partitionsOfTopic(topic: string): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (const [groupId, g] of this.state.groups) {
      const parts = g.topics.get(topic);
      if (parts) out.set(groupId, [...parts.keys()]);
    }
    return out;
  }

  /**
   * Offsets the group committed are on their way to disk, or held by an open transaction
   * (retention leaves the group alone).
   */
  hasPendingCommits(groupId: string): boolean {
    return this.pendingCommits.has(groupId) || (this.state.groups.get(groupId)?.pending.size ?? 0) > 0;
  }

  /** An open transaction committed an offset for the partition (Kafka's UNSTABLE_OFFSET_COMMIT). */
  hasPendingTxnOffset(groupId: string, topic: string, partition: number): boolean {
    return this.state.groups.get(groupId)?.hasPending(topic, partition) ?? false;
  }

  /** Producers whose open transactions hold offsets of the group. */
  pendingTxnProducers(groupId: string): number[] {
    return [...(this.state.groups.get(groupId)?.pending.keys() ?? [])];
  }

  /** Bytes of the log on disk (and buffered). */
  sizeBytes(): number {
    return this.log.sizeBytes();
  }

  /** Bytes the live state would take as a snapshot (about). */
  liveBytes(): number {
    return this.state.liveBytes;
  }

  segments(): readonly number[] {
    return this.log.segments();
  }

  // ---- writing: each resolves once the change is durable and visible ----

  /** Rejects with a RangeError (and writes nothing) if a string is too long for the log. */
  commit(groupId: string, entries: readonly OffsetEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    const copy = [...entries];
    return this.submit(groupId, GroupRecordType.Commit, () => encodeOffsets(groupId, copy), (s) => s.applyCommit(groupId, copy), true);
  }

  /** Offsets committed inside the producer's transaction: pending until txnEnd. Rejects like commit(). */
  txnCommit(groupId: string, producerId: number, entries: readonly OffsetEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    const copy = [...entries];
    return this.submit(groupId, GroupRecordType.TxnCommit, () => encodeTxnOffsets(groupId, producerId, copy), (s) => s.applyTxnCommit(groupId, producerId, copy));
  }

  /** The producer's transaction ended: its pending offsets of the group are committed or dropped. */
  txnEnd(groupId: string, producerId: number, commit: boolean): Promise<void> {
    return this.submit(groupId, GroupRecordType.TxnEnd, () => encodeTxnEnd(groupId, producerId, commit), (s) => s.applyTxnEnd(groupId, producerId, commit));
  }

  deleteOffsets(groupId: string, partitions: readonly TopicPartitionRef[]): Promise<void> {
    if (partitions.length === 0) return Promise.resolve();
    const copy = [...partitions];
    return this.submit(groupId, GroupRecordType.DeleteOffsets, () => encodeDeleteOffsets(groupId, copy), (s) => s.applyDeleteOffsets(groupId, copy));
  }

  deleteGroup(groupId: string): Promise<void> {
    return this.submit(groupId, GroupRecordType.DeleteGroup, () => encodeDeleteGroup(groupId), (s) => s.applyDeleteGroup(groupId));
  }

  setMeta(groupId: string, meta: StoredGroupMeta): Promise<void> {
    const copy = { ...meta };
    return this.submit(groupId, GroupRecordType.GroupMeta, () => encodeGroupMeta(groupId, copy), (s) => s.applyMeta(groupId, copy));
  }

  /** Writes a snapshot now and drops the segments before it (normally the store decides when). */
  compact(): Promise<void> {
    return this.submitTask(() => this.snapshot());
  }

  /** Waits for the writes submitted so far, then closes the log. Later writes are refused. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      while (this.writing) await this.writing;
      await this.log.close();
    })();
    return this.closing;
  }

  // ---- the writer ----

  private submit(groupId: string, type: number, encode: () => Buffer, apply: (s: OffsetState) => void, isCommit = false): Promise<void> {
    if (this.closing) return Promise.reject(new Error('offset store is closed'));
    let writes: LogWrite[];
    try {
      writes = [{ type, payload: encode() }];
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => {
      if (isCommit) this.pendingCommits.set(groupId, (this.pendingCommits.get(groupId) ?? 0) + 1);
      this.queue.push({ kind: 'change', groupId, isCommit, writes, apply, resolve, reject });
      this.kick();
    });
  }

  private submitTask(run: () => Promise<void>): Promise<void> {
    if (this.closing) return Promise.reject(new Error('offset store is closed'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ kind: 'task', run, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    // Started a microtask later, so that changes submitted in one go share a write.
    this.writing ??= Promise.resolve()
      .then(() => this.drain())
      .finally(() => {
        this.writing = undefined;
        // A change submitted after drain() saw the queue empty but before this ran.
        if (this.queue.length > 0) this.kick();
      });
  }

  /** One write at a time: a run of queued changes (one fsync for all), or a task on its own. */
  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const head = this.queue[0];
      if (head.kind === 'task') {
        this.queue.shift();
        await head.run().then(head.resolve, head.reject);
        continue;
      }
      let n = 1;
      while (n < this.queue.length && this.queue[n].kind === 'change') n++;
      const batch = this.queue.splice(0, n) as Change[];
      await this.writeBatch(batch);
      await this.maybeCompact();
    }
  }

  private async writeBatch(batch: readonly Change[]): Promise<void> {
    try {
      for (const c of batch) for (const w of c.writes) this.log.append(w.type, w.payload);
      await this.log.sync();
    } catch (err) {
      // The log cut the records that were not durable: nothing of this batch is on disk.
      for (const c of batch) this.settle(c, err);
      return;
    }
    for (const c of batch) {
      c.apply(this.state);
      this.settle(c, undefined);
    }
  }

  private settle(c: Change, err: unknown): void {
    if (c.isCommit) {
      const n = (this.pendingCommits.get(c.groupId) ?? 1) - 1;
      if (n > 0) this.pendingCommits.set(c.groupId, n);
      else this.pendingCommits.delete(c.groupId);
    }
    if (err === undefined) c.resolve();
    else c.reject(err);
  }

  // ---- snapshots ----

  /** The log has grown well past what a snapshot of the live state would take. */
  private needsCompaction(): boolean {
    const size = this.log.sizeBytes();
    return size > this.compactBytesMin && size > 2 * this.state.liveBytes + this.segmentBytesMax;
  }

  private async maybeCompact(): Promise<void> {
    if (!this.needsCompaction()) return;
    try {
      await this.snapshot();
    } catch (err) {
      this.logger.warn('offsets log snapshot failed; the older records stay in charge', { err: String(err) });
    }
  }

  private maybeCompactSoon(): void {
    if (this.needsCompaction()) this.compact().catch((err: unknown) => this.logger.warn('offsets log snapshot failed', { err: String(err) }));
  }

  /** Runs with no other write in flight, so the snapshot is exactly the state at its log position. */
  private async snapshot(): Promise<void> {
    const snapshotId = Math.floor(Math.random() * Number.MAX_SAFE_INTEGER);
    const begin = this.log.append(GroupRecordType.SnapshotBegin, encodeSnapshotMark({ snapshotId, groups: 0, offsets: 0 }));
    let groups = 0;
    let offsets = 0;
    for (const [groupId, g] of this.state.groups) {
      groups++;
      offsets += this.appendGroup(groupId, g) + this.appendPending(groupId, g);
    }
    this.log.append(GroupRecordType.SnapshotEnd, encodeSnapshotMark({ snapshotId, groups, offsets }));
    await this.log.sync();
    await this.dropBefore(begin);
    this.stats.snapshots++;
  }

  private appendGroup(groupId: string, g: StoredGroup): number {
    if (g.meta) this.log.append(GroupRecordType.SnapshotGroupMeta, encodeGroupMeta(groupId, g.meta));
    let chunk: OffsetEntry[] = [];
    let chunkBytes = 0;
    const flush = (): void => {
      if (chunk.length > 0) this.log.append(GroupRecordType.SnapshotOffsets, encodeOffsets(groupId, chunk));
      chunk = [];
      chunkBytes = 0;
    };
    for (const e of g.offsets()) {
      chunk.push(e);
      chunkBytes += offsetEntryBytes(e.topic, e.metadata);
      if (chunkBytes >= SNAPSHOT_CHUNK_BYTES) flush();
    }
    flush();
    return g.offsetCount;
  }

  /** A group's pending transactional offsets, one record per producer; returns how many. */
  private appendPending(groupId: string, g: StoredGroup): number {
    let n = 0;
    for (const [producerId, m] of g.pending) {
      this.log.append(GroupRecordType.SnapshotTxnOffsets, encodeTxnOffsets(groupId, producerId, [...m.values()]));
      n += m.size;
    }
    return n;
  }

  private async dropBefore(begin: LogPosition): Promise<void> {
    if (this.log.segments()[0] < begin.segment) await this.log.deleteSegmentsBefore(begin.segment);
  }
}

// ---- replay ----

interface OpenSnapshot {
  readonly snapshotId: number;
  readonly state: OffsetState;
}

/** Rebuilds the state from the log: records in order, a complete snapshot replacing all before it. */
async function replay(log: Log, logger: Logger): Promise<{ state: OffsetState; skipped: number }> {
  let state = new OffsetState();
  let snap: OpenSnapshot | undefined;
  let skipped = 0;
  const abandon = (why: string): void => {
    if (!snap) return;
    logger.warn(`offsets log: an incomplete snapshot is ignored (${why})`, { snapshotId: snap.snapshotId });
    snap = undefined;
  };
  await log.scan((r) => {
    try {
      switch (r.type) {
        case GroupRecordType.SnapshotBegin:
          abandon('another snapshot began');
          snap = { snapshotId: decodeSnapshotMark(r.payload).snapshotId, state: new OffsetState() };
          break;
        case GroupRecordType.SnapshotOffsets:
        case GroupRecordType.SnapshotGroupMeta:
        case GroupRecordType.SnapshotTxnOffsets:
          // Content of a snapshot whose begin is gone (a deleted segment) or that was abandoned: ignored.
          if (snap) applyRecord(snap.state, r.type, r.payload);
          break;
        case GroupRecordType.SnapshotEnd: {
          const end = decodeSnapshotMark(r.payload);
          if (snap && end.snapshotId === snap.snapshotId && end.groups === snap.state.groups.size && end.offsets === snap.state.offsetCount + snap.state.pendingCount) {
            state = snap.state;
            snap = undefined;
          } else abandon('its end does not match');
          break;
        }
        default:
          // Snapshots are written with nothing in between: a live record means the snapshot was torn.
          abandon('a live record follows it');
          applyRecord(state, r.type, r.payload);
      }
    } catch (err) {
      if (!(err instanceof GroupRecordError)) throw err;
      skipped++;
      logger.warn('offsets log: a record that cannot be read is skipped', { pos: r.pos, err: err.message });
    }
  });
  abandon('the log ends inside it');
  return { state, skipped };
}

function applyRecord(state: OffsetState, type: number, payload: Buffer): void {
  switch (type) {
    case GroupRecordType.Commit:
    case GroupRecordType.SnapshotOffsets: {
      const c = decodeOffsets(payload);
      state.applyCommit(c.groupId, c.entries);
      return;
    }
    case GroupRecordType.TxnCommit:
    case GroupRecordType.SnapshotTxnOffsets: {
      const c = decodeTxnOffsets(payload);
      state.applyTxnCommit(c.groupId, c.producerId, c.entries);
      return;
    }
    case GroupRecordType.TxnEnd: {
      const e = decodeTxnEnd(payload);
      state.applyTxnEnd(e.groupId, e.producerId, e.commit);
      return;
    }
    case GroupRecordType.DeleteOffsets: {
      const d = decodeDeleteOffsets(payload);
      state.applyDeleteOffsets(d.groupId, d.partitions);
      return;
    }
    case GroupRecordType.DeleteGroup:
      state.applyDeleteGroup(decodeDeleteGroup(payload));
      return;
    case GroupRecordType.GroupMeta:
    case GroupRecordType.SnapshotGroupMeta: {
      const m = decodeGroupMeta(payload);
      state.applyMeta(m.groupId, m.meta);
      return;
    }
    default:
      throw new GroupRecordError(`unknown group record type ${type}`);
  }
}
