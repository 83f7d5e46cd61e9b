// The durable state of consumer groups as plain data: per group, its committed offsets, the
// offsets producers committed inside transactions still open (pending), and the little group
// metadata that is persisted. The offsets log's records are changes to it; replaying
// them in order rebuilds it, and a snapshot is it written out whole.

import {
  type OffsetEntry,
  type StoredGroupMeta,
  type TopicPartitionRef,
  encodeGroupMeta,
  offsetEntryBytes,
} from './records.js';

export class StoredGroup {
  meta: StoredGroupMeta | undefined;
  /** topic -> partition -> offset. */
  readonly topics = new Map<string, Map<number, OffsetEntry>>();
  offsetCount = 0;
  /** Producer id -> offsets its open transaction committed, by "topic\0partition". */
  readonly pending = new Map<number, Map<string, OffsetEntry>>();

  offset(topic: string, partition: number): OffsetEntry | undefined {
    return this.topics.get(topic)?.get(partition);
  }

  *offsets(): IterableIterator<OffsetEntry> {
    for (const parts of this.topics.values()) yield* parts.values();
  }

  /** An open transaction committed an offset for this partition (Kafka: an unstable offset). */
  hasPending(topic: string, partition: number): boolean {
    const key = tpKey(topic, partition);
    for (const m of this.pending.values()) if (m.has(key)) return true;
    return false;
  }

  get pendingCount(): number {
    let n = 0;
    for (const m of this.pending.values()) n += m.size;
    return n;
  }
}

function tpKey(topic: string, partition: number): string {
  return `${topic}\0${partition}`;
}

export class OffsetState {
  readonly groups = new Map<string, StoredGroup>();
  /** Bytes the state takes written out as records (about: record headers not counted). */
  liveBytes = 0;
  offsetCount = 0;
  /** Offsets of open transactions, over all groups. */
  pendingCount = 0;

  applyCommit(groupId: string, entries: readonly OffsetEntry[]): void {
    const g = this.groupFor(groupId);
    // A commit after a transaction's commit wins over it (Kafka keeps whichever was written last).
    this.dropPending(g, entries);
    this.putCommitted(g, entries);
  }

  private putCommitted(g: StoredGroup, entries: readonly OffsetEntry[]): void {
    for (const e of entries) {
      let parts = g.topics.get(e.topic);
      if (!parts) g.topics.set(e.topic, (parts = new Map()));
      const old = parts.get(e.partition);
      if (old) this.forget(old);
      else {
        g.offsetCount++;
        this.offsetCount++;
      }
      parts.set(e.partition, e);
      this.liveBytes += offsetEntryBytes(e.topic, e.metadata);
    }
  }

  applyDeleteOffsets(groupId: string, partitions: readonly TopicPartitionRef[]): void {
    const g = this.groups.get(groupId);
    if (!g) return;
    this.dropPending(g, partitions);
    for (const p of partitions) {
      const parts = g.topics.get(p.topic);
      const old = parts?.get(p.partition);
      if (!parts || !old) continue;
      parts.delete(p.partition);
      if (parts.size === 0) g.topics.delete(p.topic);
      this.forget(old);
      g.offsetCount--;
      this.offsetCount--;
    }
    this.dropIfBare(groupId, g);
  }

  applyDeleteGroup(groupId: string): void {
    const g = this.groups.get(groupId);
    if (!g) return;
    for (const e of g.offsets()) this.forget(e);
    for (const m of g.pending.values()) for (const e of m.values()) this.forgetPending(e);
    this.offsetCount -= g.offsetCount;
    if (g.meta) this.liveBytes -= metaBytes(groupId, g.meta);
    this.groups.delete(groupId);
  }

  applyMeta(groupId: string, meta: StoredGroupMeta): void {
    const g = this.groupFor(groupId);
    if (g.meta) this.liveBytes -= metaBytes(groupId, g.meta);
    g.meta = meta;
    this.liveBytes += metaBytes(groupId, meta);
  }

  /** TxnOffsetCommit: offsets held for the producer's transaction until it ends. */
  applyTxnCommit(groupId: string, producerId: number, entries: readonly OffsetEntry[]): void {
    const g = this.groupFor(groupId);
    let m = g.pending.get(producerId);
    if (!m) g.pending.set(producerId, (m = new Map()));
    for (const e of entries) {
      const key = tpKey(e.topic, e.partition);
      const old = m.get(key);
      if (old) this.forgetPending(old);
      else this.pendingCount++;
      m.set(key, e);
      this.liveBytes += offsetEntryBytes(e.topic, e.metadata) + 8;
    }
  }

  /** The producer's transaction ended: a commit makes its pending offsets the group's, an abort drops them. */
  applyTxnEnd(groupId: string, producerId: number, commit: boolean): void {
    const g = this.groups.get(groupId);
    const m = g?.pending.get(producerId);
    if (!g || !m) return;
    g.pending.delete(producerId);
    for (const e of m.values()) this.forgetPending(e);
    if (commit) this.putCommitted(g, [...m.values()]);
    else this.dropIfBare(groupId, g);
  }

  private dropPending(g: StoredGroup, partitions: readonly TopicPartitionRef[]): void {
    if (g.pending.size === 0) return;
    for (const [producerId, m] of g.pending) {
      for (const p of partitions) {
        const key = tpKey(p.topic, p.partition);
        const e = m.get(key);
        if (!e) continue;
        m.delete(key);
        this.forgetPending(e);
      }
      if (m.size === 0) g.pending.delete(producerId);
    }
  }

  private forgetPending(e: OffsetEntry): void {
    this.pendingCount--;
    this.liveBytes -= offsetEntryBytes(e.topic, e.metadata) + 8;
  }

  private groupFor(groupId: string): StoredGroup {
    let g = this.groups.get(groupId);
    if (!g) this.groups.set(groupId, (g = new StoredGroup()));
    return g;
  }

  private forget(e: OffsetEntry): void {
    this.liveBytes -= offsetEntryBytes(e.topic, e.metadata);
  }

  /** A group with neither offsets nor metadata is not stored at all. */
  private dropIfBare(groupId: string, g: StoredGroup): void {
    if (g.offsetCount === 0 && !g.meta && g.pending.size === 0) this.groups.delete(groupId);
  }
}

function metaBytes(groupId: string, meta: StoredGroupMeta): number {
  return encodeGroupMeta(groupId, meta).length;
}
