// The broker's view of the shared message log: writes Enqueue/Ack/Purge
// records, counts live messages per segment so fully-consumed segments are
// deleted, pages message content out and back in, and replays the log on start.

import { StoreCorruptionError, type Log, type LogPosition, type LogRecord } from '../store/index.js';
import {
  RecordType,
  decodeMessageRecords,
  encodeAck,
  encodeBatch,
  encodeEnqueue,
  peekEnqueue,
  type EncodedRecord,
  type EnqueueRecord,
} from '../store/message-log.js';
import { StoredMessage, type MessageContent } from './message.js';

export interface RecoveryResult {
  /** Per durable queue id: live messages (by id) in queue order. */
  readonly queues: Map<number, Map<number, StoredMessage>>;
  readonly nextMsgId: number;
  readonly records: number;
}

export class MessageStore {
  /** Live (unreleased) messages per segment id. */
  private readonly live = new Map<number, number>();
  private pendingAcks = new Map<number, number[]>();
  private ackFlushScheduled = false;
  private deleting = false;
  private deleteAgain = false;
  private lastSegment = -1;
  /** While a tx commit collects its records they go here instead of the log. */
  private batch: EncodedRecord[] | undefined;

  /** Told about each message whose content can never be read back. */
  onUnreadable: ((m: StoredMessage, err: unknown) => void) | undefined;
  /** Another store a confirm also waits for (the de-duplication keys). */
  syncAlso: (() => Promise<void>) | undefined;

  constructor(readonly log: Log) {}

  /** Write a message for its durable queues (persistent) or to page it out (transient). */
  write(msg: StoredMessage, queueIds: readonly number[], content: MessageContent): void {
    // Paging out inside a tx batch would put transient copies in it: keep content instead.
    if (this.batch && queueIds.length === 0) return;
    const rec = encodeEnqueue({
      msgId: msg.id,
      persistent: msg.persistent && queueIds.length > 0,
      queueIds,
      exchange: content.exchange,
      routingKey: content.routingKey,
      properties: content.properties,
      body: content.body,
    });
    if (this.batch) {
      this.batch.push(rec);
      return;
    }
    msg.pos = this.append(rec, 1);
  }

  /** Collect writes into one atomic Batch record (tx.commit) until endBatch. */
  beginBatch(): void {
    this.flushAcks();
    this.batch = [];
  }

  endBatch(messages: readonly StoredMessage[]): void {
    const records = this.batch ?? [];
    this.batch = undefined;
    // Acks gathered during the batch must land inside it.
    for (const [queueId, ids] of this.pendingAcks) records.push(encodeAck(queueId, ids));
    this.pendingAcks = new Map();
    if (records.length === 0) return;
    // Messages already consumed and released during the commit are not live.
    const live = messages.filter((m) => m.refs > 0);
    const pos = this.append(encodeBatch(records), live.length);
    for (const m of live) m.pos = pos;
    if (live.length < messages.length) this.deleteConsumedSegments();
  }

  ack(queueId: number, msgId: number): void {
    let ids = this.pendingAcks.get(queueId);
    if (!ids) this.pendingAcks.set(queueId, (ids = []));
    ids.push(msgId);
    if (!this.ackFlushScheduled && !this.batch) {
      this.ackFlushScheduled = true;
      setImmediate(() => this.flushAcks());
    }
  }

  /** The message is in no queue any more: its log space may be reclaimed. */
  release(msg: StoredMessage): void {
    if (!msg.written) return;
    const segment = msg.logSegment;
    const n = (this.live.get(segment) ?? 1) - 1;
    if (n > 0) this.live.set(segment, n);
    else {
      this.live.delete(segment);
      this.deleteConsumedSegments();
    }
  }

  /** Durable once resolved (per the log's fsync policy). */
  sync(): Promise<void> {
    this.flushAcks();
    const synced = this.log.sync();
    return this.syncAlso ? Promise.all([synced, this.syncAlso()]).then(() => undefined) : synced;
  }

  /** Read content back for messages that were paged out. */
  async load(messages: readonly StoredMessage[]): Promise<void> {
    const want = messages.filter((m) => !m.content && m.written);
    if (want.length === 0) return;
    let records: LogRecord[];
    try {
      records = await this.log.readBatch(want.map((m) => m.pos as LogPosition));
    } catch {
      // Find the culprits one by one; the others still load.
      for (const m of want) await this.loadOne(m);
      return;
    }
    for (let i = 0; i < want.length; i++) this.fill(want[i], records[i]);
  }

  private async loadOne(m: StoredMessage): Promise<void> {
    try {
      this.fill(m, await this.log.readBatch([m.pos as LogPosition]).then((r) => r[0]));
    } catch (err) {
      if (!(err instanceof RangeError || err instanceof StoreCorruptionError)) throw err;
      // The record was cut off after a failed write (its publish was nacked), or the disk damaged it.
      this.onUnreadable?.(m, err);
      m.markUnreadable();
    }
  }

  private fill(m: StoredMessage, r: LogRecord): void {
    if (m.content) return;
    const enq = decodeMessageRecords(r.type, r.payload).find(
      (x): x is EnqueueRecord => x.type === RecordType.Enqueue && x.msgId === m.id,
    );
    if (!enq) {
      m.markUnreadable();
      return;
    }
    m.content = {
      exchange: enq.exchange,
      routingKey: enq.routingKey,
      // Copies, so a big read buffer is not kept alive by one small message.
      properties: Buffer.from(enq.properties),
      body: Buffer.from(enq.body),
    };
  }

  /**
   * Replay the log: which persistent messages are still in which durable queue,
   * in queue order. Each message's `refs` is set to the number of queues holding it.
   */
  async recover(durableQueueIds: ReadonlySet<number>): Promise<RecoveryResult> {
    const perQueue = new Map<number, Map<number, StoredMessage>>();
    let maxId = 0;
    let records = 0;
    const enqueue = (msgId: number, queueIds: readonly number[], bodySize: number, pos: LogPosition): void => {
      let msg: StoredMessage | undefined;
      for (const q of queueIds) {
        if (!durableQueueIds.has(q)) continue;
        let map = perQueue.get(q);
        if (!map) perQueue.set(q, (map = new Map()));
        msg ??= new StoredMessage(msgId, true, bodySize, undefined, pos);
        map.set(msgId, msg);
      }
    };
    await this.log.scan((r) => {
      records++;
      try {
        if (r.type === RecordType.Enqueue) {
          // The hot case: read only the header, never the body.
          const e = peekEnqueue(r.payload);
          if (e.msgId > maxId) maxId = e.msgId;
          if (e.persistent) enqueue(e.msgId, e.queueIds, e.bodySize, r.pos);
          return;
        }
        for (const rec of decodeMessageRecords(r.type, r.payload)) {
          if (rec.type === RecordType.Enqueue) {
            if (rec.msgId > maxId) maxId = rec.msgId;
            if (rec.persistent) enqueue(rec.msgId, rec.queueIds, rec.body.length, r.pos);
          } else if (rec.type === RecordType.Ack) {
            const map = perQueue.get(rec.queueId);
            if (map) for (const id of rec.msgIds) map.delete(id);
          } else {
            const map = perQueue.get(rec.queueId);
            if (map) for (const id of map.keys()) if (id <= rec.upTo) map.delete(id);
          }
        }
      } catch {
        // A record we cannot interpret is skipped; the log already verified its CRC.
      }
    });
    // Log order is message-id order, and Maps keep insertion order: queue order needs no sort.
    for (const map of perQueue.values()) {
      for (const msg of map.values()) {
        if (msg.refs++ === 0) this.live.set(msg.logSegment, (this.live.get(msg.logSegment) ?? 0) + 1);
      }
    }
    this.deleteConsumedSegments();
    return { queues: perQueue, nextMsgId: maxId + 1, records };
  }

  /** Append a record holding `messages` message copies (each counted live in its segment). */
  private append(rec: EncodedRecord, messages = 0): LogPosition {
    const pos = this.log.append(rec.type, rec.parts);
    if (messages > 0) this.live.set(pos.segment, (this.live.get(pos.segment) ?? 0) + messages);
    if (pos.segment !== this.lastSegment) {
      // A new segment: the one before may already be fully consumed.
      this.lastSegment = pos.segment;
      this.deleteConsumedSegments();
    }
    return pos;
  }

  private flushAcks(): void {
    this.ackFlushScheduled = false;
    if (this.batch || this.pendingAcks.size === 0) return;
    for (const [queueId, ids] of this.pendingAcks) this.append(encodeAck(queueId, ids));
    this.pendingAcks = new Map();
  }

  /** Segments are deleted oldest-first only: a later segment may hold acks for an older one. */
  private deleteConsumedSegments(): void {
    if (this.deleting) {
      this.deleteAgain = true;
      return;
    }
    const segments = this.log.segments();
    const active = this.log.activeSegment();
    let keepFrom = active;
    for (const s of segments) {
      if (s === active || (this.live.get(s) ?? 0) > 0) {
        keepFrom = s;
        break;
      }
    }
    if (segments.length === 0 || keepFrom === segments[0]) return;
    this.deleting = true;
    // Acks written so far must be durable before older segments go, or a crash could resurrect nothing (they go together).
    this.log
      .deleteSegmentsBefore(keepFrom)
      .catch(() => undefined)
      .finally(() => {
        this.deleting = false;
        if (this.deleteAgain) {
          this.deleteAgain = false;
          this.deleteConsumedSegments();
        }
      });
  }
}
