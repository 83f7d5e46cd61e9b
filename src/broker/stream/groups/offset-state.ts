// The durable state of consumer groups as plain data: per group, its committed offsets and the
// little group metadata that is persisted. The offsets log's records are changes to it; replaying
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

  offset(topic: string, partition: number): OffsetEntry | undefined {
    return this.topics.get(topic)?.get(partition);
  }

  *offsets(): IterableIterator<OffsetEntry> {
    for (const parts of this.topics.values()) yield* parts.values();
  }
}

export class OffsetState {
  readonly groups = new Map<string, StoredGroup>();
  /** Bytes the state takes written out as records (about: record headers not counted). */
  liveBytes = 0;
  offsetCount = 0;

  applyCommit(groupId: string, entries: readonly OffsetEntry[]): void {
    const g = this.groupFor(groupId);
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
    if (g.offsetCount === 0 && !g.meta) this.groups.delete(groupId);
  }
}

function metaBytes(groupId: string, meta: StoredGroupMeta): number {
  return encodeGroupMeta(groupId, meta).length;
}
