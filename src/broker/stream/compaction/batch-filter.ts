// What survives of one stored batch in a cleaning pass (Kafka's LogCleaner.cleanInto filter and
// MemoryRecords.filterTo). A record survives if it is the latest of its key the offset map knows
// (records past the map's range are not judged), unless it is a tombstone whose delete horizon has
// passed. A batch whose records all go is dropped, except the last batch of an active producer
// (its sequence numbers guard against duplicates) and the last batch of the pass (it carries the
// last offset): those stay, emptied. A batch that loses records, or gains a delete horizon, is
// rebuilt with the same offsets; an untouched batch is kept byte for byte.

import {
  type KeptRecord,
  emptyBatchLike,
  forEachRecord,
  readBatchHeader,
  rebuildBatch,
  recordsBody,
} from '../../../protocol/kafka/record-batch.js';
import type { OffsetMap } from './offset-map.js';
import type { CleanedTransactions } from './transactions.js';

export interface FilterContext {
  readonly map: OffsetMap;
  readonly nowMs: number;
  /** delete.retention.ms: how long tombstones (and emptied transactions' markers) stay once seen. */
  readonly deleteRetentionMs: number;
  /** Transactions of the pass; undefined keeps every transactional and control batch as it is. */
  readonly txns: CleanedTransactions | undefined;
  /** Per producer id, the last offset of its last batch (that batch always stays). */
  readonly lastOffsetOfProducer: ReadonlyMap<number, number>;
  /** One past the last offset this pass may clean: the batch ending there stays, even emptied. */
  readonly upperBoundOffset: number;
}

export interface FilterOutcome {
  /** The batch to write (the original, a rebuilt or an emptied one), or undefined to drop it. */
  readonly batch: Buffer | undefined;
  readonly recordsRead: number;
  readonly recordsKept: number;
  /** The kept batch's delete horizon when it holds tombstones or a removable marker, else -1. */
  readonly deleteHorizonMs: number;
}

/** Kafka's ControlRecordType of a control batch's first record (undefined if it has none). */
export function controlType(body: Buffer, count: number): number | undefined {
  let type: number | undefined;
  if (count === 0) return undefined;
  forEachRecord(body, count, (r) => {
    if (type === undefined && r.keyLength >= 4) type = body.readInt16BE(r.keyStart + 2);
  });
  return type;
}

export async function filterBatch(batch: Buffer, ctx: FilterContext): Promise<FilterOutcome> {
  const h = readBatchHeader(batch);
  const count = h.recordsCount;
  const baseOffset = Number(h.baseOffset);
  const lastOffset = baseOffset + h.lastOffsetDelta;
  const producerId = Number(h.producerId);
  const horizon = h.hasDeleteHorizonMs ? Number(h.baseTimestamp) : undefined;
  if (!ctx.txns && (h.isTransactional || h.isControl)) {
    return { batch, recordsRead: count, recordsKept: count, deleteHorizonMs: -1 };
  }
  const body = recordsBody(batch, h);
  let canDiscard: boolean;
  let discardRecords: boolean;
  if (h.isControl) {
    canDiscard = ctx.txns?.onControlBatch(producerId, lastOffset, controlType(body, count)) ?? false;
    // A marker goes only once its delete horizon (set when it first became removable) has passed.
    discardRecords = canDiscard && horizon !== undefined && horizon <= ctx.nowMs;
  } else {
    canDiscard = ctx.txns?.onBatch(producerId, lastOffset, h.isTransactional) ?? false;
    discardRecords = canDiscard;
  }
  const retainEmpty =
    (producerId >= 0 && ctx.lastOffsetOfProducer.get(producerId) === lastOffset) || lastOffset + 1 === ctx.upperBoundOffset;
  if (discardRecords && !retainEmpty) return { batch: undefined, recordsRead: count, recordsKept: 0, deleteHorizonMs: -1 };

  const keep: KeptRecord[] = [];
  let tombstones = false;
  const map = ctx.map;
  const retainDeletes = horizon === undefined || ctx.nowMs < horizon;
  forEachRecord(body, count, (r) => {
    let kept: boolean;
    if (discardRecords) kept = false;
    else if (h.isControl) kept = true;
    else if (baseOffset + r.offsetDelta > map.latestOffset) kept = true;
    else if (r.keyLength < 0) kept = false; // no key in a compacted log: Kafka drops it as invalid
    else kept = baseOffset + r.offsetDelta >= map.get(body, r.keyStart, r.keyLength) && (r.valueLength >= 0 || retainDeletes);
    if (!kept) return;
    keep.push({ start: r.start, end: r.end, attributes: r.attributes, timestampDelta: r.timestampDelta, offsetDelta: r.offsetDelta, rest: r.rest });
    if (r.valueLength < 0 && !h.isControl) tombstones = true;
  });

  if (keep.length === 0) {
    const out = retainEmpty ? emptyBatchLike(batch) : undefined;
    return { batch: out, recordsRead: count, recordsKept: 0, deleteHorizonMs: -1 };
  }
  const markerOfEmptyTransaction = canDiscard && h.isControl;
  const needsHorizon = tombstones || markerOfEmptyTransaction;
  const newHorizon = needsHorizon && horizon === undefined ? ctx.nowMs + ctx.deleteRetentionMs : undefined;
  const deleteHorizonMs = needsHorizon ? (newHorizon ?? horizon ?? -1) : -1;
  if (keep.length === count && newHorizon === undefined) return { batch, recordsRead: count, recordsKept: count, deleteHorizonMs };
  const rebuilt = await rebuildBatch({ batch, body, keep, deleteHorizonMs: newHorizon });
  return { batch: rebuilt, recordsRead: count, recordsKept: keep.length, deleteHorizonMs };
}
