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
  encodeReturn,
  peekEnqueue,
  type EncodedRecord,
  type EnqueuePeek,
  type EnqueueRecord,
} from '../store/message-log.js';
import { LiveSegments } from './live-segments.js';
import { StoredMessage, type MessageContent } from './message.js';

/** A recovered message in one queue, with how often it was returned there. */
export interface RecoveredEntry {
  readonly msg: StoredMessage;
  returns: number;
}

export interface RecoveryResult {
  /** Per durable queue id: live messages (by id) in queue order. */
  readonly queues: Map<number, Map<number, RecoveredEntry>>;
  readonly nextMsgId: number;
  readonly records: number;
}

export class MessageStore {
  /** Live (unreleased) messages per segment, and deleting the segments without any. */
  private readonly segments: LiveSegments;
  private pendingAcks = new Map<number, number[]>();
  private pendingReturns = new Map<number, { ids: number[]; counts: number[] }>();
  private ackFlushScheduled = false;
  /** While a tx commit or a dead-lettering collects its records they go here instead of the log. */
  private batch: EncodedRecord[] | undefined;
  /** Messages written into the open batch (their position is the batch record's). */
  private batchMessages: StoredMessage[] = [];
  /** Nesting depth of beginBatch (a dead-lettering inside a tx commit joins the commit's batch). */
  private batchDepth = 0;
  /** Messages a deep queue wanted paged out while a batch was open: done when it closes. */
  private deferredPageOuts: StoredMessage[] = [];

  /** Other stores a sync() covers too (de-duplication keys, held delayed messages), so a confirm waits for them. */
  private readonly syncedWith: { sync(): Promise<void> }[] = [];

  /** Told about each message whose content can never be read back. */
  onUnreadable: ((m: StoredMessage, err: unknown) => void) | undefined;

  constructor(readonly log: Log) {
    this.segments = new LiveSegments(log);
  }

  /** Write a message for its durable queues (persistent) or to page it out (transient). */
  write(msg: StoredMessage, queueIds: readonly number[], content: MessageContent): void {
    // Paging out inside a tx batch would put transient copies in it: keep content instead.
    if (this.batch && queueIds.length === 0) return;
    const rec = encodeEnqueue({
      msgId: msg.id,
      persistent: msg.persistent && queueIds.length > 0,
      queueIds,
      publishedAt: msg.publishedAt,
      expiration: msg.expiration,
      priority: msg.priority,
      exchange: content.exchange,
      routingKey: content.routingKey,
      properties: content.properties,
      body: content.body,
    });
    if (this.batch) {
      this.batch.push(rec);
      this.batchMessages.push(msg);
      return;
    }
    msg.pos = this.append(rec, 1);
  }

  /** Drop a message's content from memory, writing it first if it is not in the log (transient). */
  pageOut(msg: StoredMessage): void {
    if (this.batch) {
      // Its position is known only when the batch is written.
      this.deferredPageOuts.push(msg);
      return;
    }
    if (!msg.written && msg.content) this.write(msg, [], msg.content);
    if (msg.written) msg.content = undefined;
  }

  /**
   * Collect writes, acks and returns into one atomic Batch record until the matching
   * endBatch (tx.commit; dead-lettering, so a moved message is never in both queues
   * or neither after a crash). Nested calls join the outer batch.
   */
  beginBatch(): void {
    if (this.batchDepth++ > 0) return;
    this.flushAcks();
    this.batch = [];
    this.batchMessages = [];
  }

  endBatch(): void {
    if (--this.batchDepth > 0) return;
    const records = this.batch ?? [];
    const messages = this.batchMessages;
    this.batch = undefined;
    this.batchMessages = [];
    // Acks and returns gathered during the batch must land inside it.
    records.push(...this.takePending());
    if (records.length > 0) {
      // Messages already consumed and released during the batch are not live.
      const live = messages.filter((m) => m.refs > 0);
      const pos = this.append(encodeBatch(records), live.length);
      for (const m of live) m.pos = pos;
      if (live.length < messages.length) this.segments.reclaim();
    }
    // Page-outs asked for during the batch: the messages now have their position.
    const deferred = this.deferredPageOuts;
    this.deferredPageOuts = [];
    for (const m of deferred) if (m.refs > 0 && m.content) this.pageOut(m);
  }

  ack(queueId: number, msgId: number): void {
    let ids = this.pendingAcks.get(queueId);
    if (!ids) this.pendingAcks.set(queueId, (ids = []));
    ids.push(msgId);
    this.scheduleFlush();
  }

  /** A message went back to a queue unsuccessfully for the `count`th time (logged for x-delivery-limit). */
  returned(queueId: number, msgId: number, count: number): void {
    let r = this.pendingReturns.get(queueId);
    if (!r) this.pendingReturns.set(queueId, (r = { ids: [], counts: [] }));
    r.ids.push(msgId);
    r.counts.push(count);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (!this.ackFlushScheduled && !this.batch) {
      this.ackFlushScheduled = true;
      setImmediate(() => this.flushAcks());
    }
  }

  /** The message is in no queue any more: its log space may be reclaimed. */
  release(msg: StoredMessage): void {
    if (!msg.written) return;
    if (this.segments.settle(msg.logSegment)) this.segments.reclaim();
  }

  /** Durable once resolved (per the log's fsync policy). */
  sync(): Promise<void> {
    this.flushAcks();
    if (this.syncedWith.length === 0) return this.log.sync();
    return Promise.all([this.log.sync(), ...this.syncedWith.map((l) => l.sync())]).then(() => undefined);
  }

  /** Make sync() cover another log too. */
  syncWith(other: { sync(): Promise<void> }): void {
    this.syncedWith.push(other);
  }

  /** Read content back for messages that were paged out. */
  async load(messages: readonly StoredMessage[]): Promise<void> {
    const want = messages.filter((m) => !m.content && m.written);
    if (want.length === 0) return;
    // Messages written in one Batch record (a tx, a dead-lettering) share its position: read it once.
    const byPos = new Map<string, StoredMessage[]>();
    for (const m of want) {
      const key = `${m.logSegment}:${(m.pos as LogPosition).offset}`;
      const list = byPos.get(key);
      if (list) list.push(m);
      else byPos.set(key, [m]);
    }
    const groups = [...byPos.values()];
    let records: LogRecord[];
    try {
      records = await this.log.readBatch(groups.map((g) => g[0].pos as LogPosition));
    } catch {
      // Find the culprits one by one; the others still load.
      for (const m of want) await this.loadOne(m);
      return;
    }
    for (let i = 0; i < groups.length; i++) this.fillAll(groups[i], records[i]);
  }

  /**
   * Content of messages without keeping it (the management API's peek): in-memory content
   * as is, paged-out content read from the log and dropped once the caller is done with it.
   * Undefined for a message whose record cannot be read.
   */
  async peekContents(messages: readonly StoredMessage[]): Promise<(MessageContent | undefined)[]> {
    const out: (MessageContent | undefined)[] = messages.map((m) => m.content);
    const want = messages.flatMap((m, i) => (!m.content && m.written ? [i] : []));
    if (want.length === 0) return out;
    let records: LogRecord[];
    try {
      records = await this.log.readBatch(want.map((i) => messages[i].pos as LogPosition));
    } catch {
      return out;
    }
    for (let k = 0; k < want.length; k++) {
      const m = messages[want[k]];
      const r = records[k];
      for (const x of decodeMessageRecords(r.type, r.payload)) {
        if (x.type === RecordType.Enqueue && x.msgId === m.id) out[want[k]] = contentOf(x);
      }
    }
    return out;
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
    this.fillAll([m], r);
  }

  /** Content for messages whose Enqueue is in record r (one, or several in a Batch). */
  private fillAll(messages: readonly StoredMessage[], r: LogRecord): void {
    const found = new Map<number, EnqueueRecord>();
    for (const x of decodeMessageRecords(r.type, r.payload)) if (x.type === RecordType.Enqueue) found.set(x.msgId, x);
    for (const m of messages) {
      const enq = found.get(m.id);
      if (m.content) continue;
      if (!enq) m.markUnreadable();
      else m.content = contentOf(enq);
    }
  }

  /**
   * Replay the log: which persistent messages are still in which durable queue,
   * in queue order. Each message's `refs` is set to the number of queues holding it.
   */
  async recover(durableQueueIds: ReadonlySet<number>): Promise<RecoveryResult> {
    const perQueue = new Map<number, Map<number, RecoveredEntry>>();
    let maxId = 0;
    let records = 0;
    const enqueue = (e: EnqueuePeek, pos: LogPosition): void => {
      let msg: StoredMessage | undefined;
      for (const q of e.queueIds) {
        if (!durableQueueIds.has(q)) continue;
        let map = perQueue.get(q);
        if (!map) perQueue.set(q, (map = new Map()));
        msg ??= new StoredMessage(e.msgId, true, e.bodySize, undefined, pos, e.publishedAt, e.expiration, e.priority);
        map.set(e.msgId, { msg, returns: 0 });
      }
    };
    await this.log.scan((r) => {
      records++;
      try {
        if (r.type === RecordType.Enqueue) {
          // The hot case: read only the header, never the body.
          const e = peekEnqueue(r.payload);
          if (e.msgId > maxId) maxId = e.msgId;
          if (e.persistent) enqueue(e, r.pos);
          return;
        }
        for (const rec of decodeMessageRecords(r.type, r.payload)) {
          if (rec.type === RecordType.Enqueue) {
            if (rec.msgId > maxId) maxId = rec.msgId;
            if (rec.persistent) enqueue({ ...rec, bodySize: rec.body.length }, r.pos);
          } else if (rec.type === RecordType.Ack) {
            const map = perQueue.get(rec.queueId);
            if (map) for (const id of rec.msgIds) map.delete(id);
          } else if (rec.type === RecordType.Return) {
            const map = perQueue.get(rec.queueId);
            if (map) {
              for (let i = 0; i < rec.msgIds.length; i++) {
                const entry = map.get(rec.msgIds[i]);
                if (entry) entry.returns = rec.counts[i];
              }
            }
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
      for (const { msg } of map.values()) {
        if (msg.refs++ === 0) this.segments.count(msg.logSegment);
      }
    }
    this.segments.reclaim();
    return { queues: perQueue, nextMsgId: maxId + 1, records };
  }

  /** Append a record holding `messages` message copies (each counted live in its segment). */
  private append(rec: EncodedRecord, messages = 0): LogPosition {
    const pos = this.log.append(rec.type, rec.parts);
    this.segments.add(pos.segment, messages);
    return pos;
  }

  private flushAcks(): void {
    this.ackFlushScheduled = false;
    if (this.batch) return;
    for (const rec of this.takePending()) this.append(rec);
  }

  private takePending(): EncodedRecord[] {
    const out: EncodedRecord[] = [];
    for (const [queueId, r] of this.pendingReturns) out.push(encodeReturn(queueId, r.ids, r.counts));
    for (const [queueId, ids] of this.pendingAcks) out.push(encodeAck(queueId, ids));
    if (this.pendingReturns.size > 0) this.pendingReturns = new Map();
    if (this.pendingAcks.size > 0) this.pendingAcks = new Map();
    return out;
  }
}

function contentOf(enq: EnqueueRecord): MessageContent {
  return {
    exchange: enq.exchange,
    routingKey: enq.routingKey,
    // Copies, so a big read buffer is not kept alive by one small message.
    properties: Buffer.from(enq.properties),
    body: Buffer.from(enq.body),
  };
}
