// Held messages of x-delayed-message exchanges (docs/architecture.md, "Delayed
// messages"), and messages published to any exchange with a delay of their own
// (PublishInput.delayMs: "ready at time T", what SQS's DelaySeconds needs), counted
// per exchange and routing key while they wait. Content lives in a log of its own (data/delayed/, records in
// src/store/delayed-log.ts); memory holds 24 bytes per message in a typed-array
// heap. One timer, for the earliest due time, releases messages in bounded
// batches: read from disk, route through the exchange's bindings as they are
// now (the normal publish path), wait until that is durable, and only then
// write a Released record. A crash in between releases the message again after
// restart: at-least-once, never lost.

import { StoreCorruptionError, type Log, type LogPosition, type LogRecord, type Logger } from '../../store/index.js';
import {
  DelayedRecordType,
  decodeDropped,
  decodeHeld,
  decodeNames,
  decodeReleased,
  encodeDropped,
  encodeHeld,
  encodeReleased,
  peekHeld,
  type EncodedDelayedRecord,
  type HeldRecord,
} from '../../store/delayed-log.js';
import { DELAY_HEADER, delayOf } from '../exchange/delayed.js';
import type { Exchange } from '../exchange/exchange.js';
import { LiveSegments } from '../live-segments.js';
import type { PublishInput } from '../message.js';
import type { PublishOutcome, Vhost } from '../vhost.js';
import { HeldHeap, type HeldEntry } from './held-heap.js';

/** What a publish takes from the message properties besides the raw bytes. */
export type PublishFields = Pick<PublishInput, 'headers' | 'priority' | 'expiration' | 'messageId'>;

/** Reads and rewrites raw AMQP message properties (src/broker/content.ts; tests may pass their own). */
export interface PropertiesCodec {
  /** The fields a publish of a message with these properties carries (as the channel decodes them). */
  publishFields(properties: Buffer): PublishFields;
  /** The properties with one header set to an integer, every other field and header kept. */
  withIntHeader(properties: Buffer, name: string, value: number): Buffer;
}

/** What a vhost asks of the delayed store. */
export interface DelayedMessages {
  /** Holds the message if it asks for a delay; undefined means route it now. */
  hold(vhost: Vhost, ex: Exchange, input: PublishInput): PublishOutcome | undefined;
  /** Holds a message for `delayMs`, then publishes it to `ex` (any type) as it is. */
  holdLater(vhost: Vhost, ex: Exchange, input: PublishInput, delayMs: number): PublishOutcome;
  /** Messages held by holdLater for this exchange and routing key. */
  pending(vhost: string, exchange: string, routingKey: string): number;
  /** The exchange was deleted: its held messages go, with their storage. */
  dropExchange(ex: Exchange): void;
  /** Resolves once every message held so far is durable (per the fsync policy). */
  sync(): Promise<void>;
}

export interface DelayedStoreOptions {
  readonly log: Log;
  readonly logger: Logger;
  readonly codec: PropertiesCodec;
  vhost(name: string): Vhost | undefined;
  /** Resolves once every message published so far, and the queues it went to, are durable. */
  durable(): Promise<void>;
}

/** One release batch reads at most this many messages, or this many bytes (at least one message). */
const RELEASE_BATCH_MESSAGES = 2048;
const RELEASE_BATCH_BYTES = 4 * 1024 * 1024;
/** Messages routed per turn of the event loop, so a big backlog never blocks it for long. */
const RELEASE_SLICE_MESSAGES = 256;
/** setTimeout's longest delay (~24.8 days); a later due time is re-checked then. */
const TIMER_MS_MAX = 0x7fffffff;
/** After an I/O failure while releasing, the next try waits this long. */
const RETRY_MS = 1000;
/** Recovery marks void entries with this exchange index. */
const VOID = 0xffffffff;

interface ExchangeRef {
  readonly vhost: Vhost;
  readonly exchange: Exchange;
}

export class DelayedStore implements DelayedMessages {
  private readonly heap = new HeldHeap();
  private readonly segments: LiveSegments;
  /** Heap entries name their exchange by index here; a deleted exchange leaves a hole. */
  private readonly refs: (ExchangeRef | undefined)[] = [];
  private readonly refIndex = new Map<Exchange, number>();
  private timer: NodeJS.Timeout | undefined;
  private timerDueMs = Infinity;
  private releasing: Promise<void> | undefined;
  private closed = false;
  private readonly scratch: HeldEntry = { dueMs: 0, segment: 0, offset: 0, size: 0, exchange: 0 };
  /** holdLater's messages: their count per vhost, exchange and routing key, and that key per log position. */
  private readonly pendingCounts = new Map<string, number>();
  private readonly pendingKeys = new Map<string, string>();

  constructor(private readonly opts: DelayedStoreOptions) {
    this.segments = new LiveSegments(opts.log);
  }

  /** Messages held now. */
  get size(): number {
    return this.heap.length;
  }

  hold(vhost: Vhost, ex: Exchange, input: PublishInput): PublishOutcome | undefined {
    const delayMs = delayOf(input.headers);
    if (delayMs === undefined) return undefined;
    return this.holdFor(vhost, ex, input, delayMs);
  }

  holdLater(vhost: Vhost, ex: Exchange, input: PublishInput, delayMs: number): PublishOutcome {
    const out = this.holdFor(vhost, ex, input, delayMs);
    this.countPending(this.lastPosition, pendingKey(vhost.name, ex.name, input.routingKey));
    return out;
  }

  pending(vhost: string, exchange: string, routingKey: string): number {
    return this.pendingCounts.get(pendingKey(vhost, exchange, routingKey)) ?? 0;
  }

  private lastPosition = '';

  private holdFor(vhost: Vhost, ex: Exchange, input: PublishInput, delayMs: number): PublishOutcome {
    const dueMs = Date.now() + delayMs;
    // A transient message, or one on a transient exchange, is written too (memory stays
    // bounded) but marked so that recovery skips it.
    const recoverable = input.persistent && ex.durable;
    const rec = encodeHeld({
      persistent: input.persistent,
      recoverable,
      dueMs,
      delayMs,
      vhost: vhost.name,
      exchange: ex.name,
      routingKey: input.routingKey,
      properties: input.properties,
      body: input.body,
    });
    const pos = this.append(rec);
    this.lastPosition = positionKey(pos.segment, pos.offset);
    const e = this.scratch;
    e.dueMs = dueMs;
    e.segment = pos.segment;
    e.offset = pos.offset;
    e.size = recordBytes(rec);
    e.exchange = this.refFor(vhost, ex);
    this.heap.push(e);
    this.segments.add(pos.segment);
    if (dueMs < this.timerDueMs) this.arm();
    // Held counts as routed: a delayed message is never returned as unroutable (mandatory).
    return { queues: 1, needsSync: recoverable, rejected: false };
  }

  dropExchange(ex: Exchange): void {
    const idx = this.refIndex.get(ex);
    if (idx === undefined) return; // nothing held for it
    this.refIndex.delete(ex);
    this.refs[idx] = undefined;
    const e = this.scratch;
    this.heap.retain(
      (i) => this.heap.exchangeAt(i) !== idx,
      (i) => {
        const gone = this.heap.read(i, e);
        this.segments.settle(gone.segment);
        this.uncountPending(gone.segment, gone.offset);
      },
    );
    this.heap.heapify();
    // Recovery voids the exchange's earlier Held records, so a redeclared exchange starts empty.
    if (ex.durable && !this.closed) this.append(encodeDropped({ vhost: ex.vhost, exchange: ex.name }));
    this.segments.reclaim();
  }

  /** Durable once resolved (per the fsync policy); confirms of held messages wait for it. */
  sync(): Promise<void> {
    return this.opts.log.sync();
  }

  /**
   * Replays the log: recoverable Held records of durable delayed exchanges that still exist,
   * minus Released ones and those voided by Dropped. Overdue messages are released at once.
   */
  async recover(): Promise<{ held: number; orphaned: number; records: number }> {
    const heap = this.heap;
    const e = this.scratch;
    const byName = new Map<string, number>();
    let records = 0;
    let orphaned = 0;
    // Consecutive records mostly name the same exchange: compare bytes rather than decode.
    let lastNames: Buffer | undefined;
    let lastIdx = VOID;
    // holdLater's messages (their exchange is not a delayed one): the routing key they wait for.
    const later = new Map<string, string>();
    await this.opts.log.scan((r) => {
      records++;
      try {
        if (r.type === DelayedRecordType.Held) {
          const h = peekHeld(r.payload);
          if (!h.recoverable) return;
          if (!lastNames?.equals(h.names)) {
            const { vhost, exchange } = decodeNames(h.names);
            lastIdx = this.recoveredRef(byName, vhost, exchange);
            lastNames = h.names;
          }
          const idx = lastIdx;
          if (idx === VOID) {
            orphaned++; // its exchange is gone
            return;
          }
          const ref = this.refs[idx];
          if (ref && !ref.exchange.delayed) {
            later.set(positionKey(r.pos.segment, r.pos.offset), pendingKey(ref.vhost.name, ref.exchange.name, decodeHeld(r.payload).routingKey));
          }
          e.dueMs = h.dueMs;
          e.segment = r.pos.segment;
          e.offset = r.pos.offset;
          e.size = r.size;
          e.exchange = idx;
          heap.append(e); // in log order, so findAppended can binary-search
        } else if (r.type === DelayedRecordType.Released) {
          for (const p of decodeReleased(r.payload)) {
            const i = heap.findAppended(p.segment, p.offset);
            if (i >= 0) heap.setExchange(i, VOID);
          }
        } else if (r.type === DelayedRecordType.Dropped) {
          const d = decodeDropped(r.payload);
          const idx = byName.get(nameKey(d.vhost, d.exchange));
          if (idx !== undefined && idx !== VOID) {
            for (let i = 0; i < heap.length; i++) if (heap.exchangeAt(i) === idx) heap.setExchange(i, VOID);
          }
        }
      } catch (err) {
        // The log checked the CRC; a record we cannot interpret is skipped.
        this.opts.logger.error('delayed-message record unreadable, skipping it', { pos: r.pos, error: String(err) });
      }
    });
    heap.retain((i) => heap.exchangeAt(i) !== VOID, () => undefined);
    for (let i = 0; i < heap.length; i++) {
      const held = heap.read(i, e);
      this.segments.count(held.segment);
      const key = later.size > 0 ? later.get(positionKey(held.segment, held.offset)) : undefined;
      if (key !== undefined) this.countPending(positionKey(held.segment, held.offset), key);
    }
    heap.heapify();
    this.segments.reclaim();
    this.arm();
    return { held: heap.length, orphaned, records };
  }

  /** Stops releasing (an in-flight batch finishes) and closes the log. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.releasing;
    await this.opts.log.close();
  }

  // --- releasing -----------------------------------------------------------

  /** One timer, for the earliest due time. */
  private arm(delayMs?: number): void {
    if (this.closed || this.releasing) return; // the release loop arms when it ends
    const dueMs = delayMs === undefined ? this.heap.topDueMs : Date.now() + delayMs;
    if (this.timer && this.timerDueMs <= dueMs) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDueMs = dueMs;
    if (dueMs === Infinity) return;
    this.timer = setTimeout(() => this.onTimer(), Math.min(Math.max(0, dueMs - Date.now()), TIMER_MS_MAX));
    this.timer.unref();
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerDueMs = Infinity;
    if (this.closed || this.releasing) return;
    let retry = false;
    this.releasing = this.releaseDue()
      .catch((err: unknown) => {
        retry = true;
        this.opts.logger.error('releasing delayed messages failed; retrying', { error: String(err) });
      })
      .finally(() => {
        this.releasing = undefined;
        this.arm(retry ? RETRY_MS : undefined);
      });
  }

  private async releaseDue(): Promise<void> {
    while (!this.closed) {
      const batch = this.takeDue(Date.now());
      if (batch.length === 0) return;
      await this.release(batch);
    }
  }

  private takeDue(nowMs: number): HeldEntry[] {
    const batch: HeldEntry[] = [];
    let bytes = 0;
    while (batch.length < RELEASE_BATCH_MESSAGES && bytes < RELEASE_BATCH_BYTES && this.heap.topDueMs <= nowMs) {
      const e: HeldEntry = { dueMs: 0, segment: 0, offset: 0, size: 0, exchange: 0 };
      this.heap.pop(e);
      batch.push(e);
      bytes += e.size;
    }
    return batch;
  }

  /** Route one batch, make it durable, then mark it released. */
  private async release(batch: readonly HeldEntry[]): Promise<void> {
    let records: (LogRecord | undefined)[];
    try {
      records = await this.read(batch);
    } catch (err) {
      for (const e of batch) this.heap.push(e); // I/O failed: they stay held
      throw err;
    }
    const released: LogPosition[] = [];
    let needsDurable = false;
    for (let i = 0; i < batch.length; i++) {
      if (i > 0 && i % RELEASE_SLICE_MESSAGES === 0) await yieldToEventLoop();
      const ref = this.refs[batch[i].exchange];
      const r = records[i];
      this.uncountPending(batch[i].segment, batch[i].offset);
      // A deleted exchange's messages are void (its Dropped record says so); unreadable ones were logged.
      if (!ref || !r) continue;
      let h: HeldRecord;
      try {
        h = decodeHeld(r.payload);
        const out = ref.vhost.publish(ref.exchange.delayed ? this.releasedInput(h) : this.laterInput(h));
        if (out.needsSync) needsDurable = true;
      } catch (err) {
        this.opts.logger.error('delayed message could not be released, dropping it', { exchange: ref.exchange.name, error: String(err) });
        continue;
      }
      if (h.recoverable) released.push(r.pos);
    }
    if (needsDurable) {
      try {
        await this.opts.durable();
      } catch (err) {
        // Not known to be durable in their queues: keep the Held records (live) so a restart
        // releases them again rather than losing them.
        this.opts.logger.error('released delayed messages not durable; they are released again after a restart', { error: String(err) });
        return;
      }
    }
    // (close() waits for this batch before it closes the log.)
    if (released.length > 0) {
      this.append(encodeReleased(released));
      // Not awaited: only narrows the window in which a crash releases this batch twice.
      this.opts.log.sync().catch(() => undefined);
    }
    for (const e of batch) this.segments.settle(e.segment);
    this.segments.reclaim();
  }

  /**
   * What the exchange routes at release time. As the plugin, x-delay becomes the negated
   * delay, so the message is not delayed again (by this exchange or another delayed
   * exchange it is republished to) and consumers can tell it was delayed.
   */
  private releasedInput(h: HeldRecord): PublishInput {
    const properties = this.opts.codec.withIntHeader(h.properties, DELAY_HEADER, -h.delayMs);
    const fields = this.opts.codec.publishFields(properties);
    return {
      ...fields,
      exchange: h.exchange,
      routingKey: h.routingKey,
      mandatory: false,
      properties,
      // A copy: the read buffer holds a whole batch and must not be kept alive by one message.
      body: Buffer.from(h.body),
      persistent: h.persistent,
      // Negated here too, whatever the codec did, so the exchange can never hold it again.
      headers: { ...fields.headers, [DELAY_HEADER]: -h.delayMs },
    };
  }

  /** What a holdLater message publishes when due: the message as it was sent. */
  private laterInput(h: HeldRecord): PublishInput {
    const fields = this.opts.codec.publishFields(h.properties);
    return { ...fields, exchange: h.exchange, routingKey: h.routingKey, mandatory: false, properties: h.properties, body: Buffer.from(h.body), persistent: h.persistent };
  }

  private countPending(position: string, key: string): void {
    this.pendingKeys.set(position, key);
    this.pendingCounts.set(key, (this.pendingCounts.get(key) ?? 0) + 1);
  }

  private uncountPending(segment: number, offset: number): void {
    if (this.pendingKeys.size === 0) return;
    const position = positionKey(segment, offset);
    const key = this.pendingKeys.get(position);
    if (key === undefined) return;
    this.pendingKeys.delete(position);
    const n = (this.pendingCounts.get(key) ?? 1) - 1;
    if (n > 0) this.pendingCounts.set(key, n);
    else this.pendingCounts.delete(key);
  }

  /** Records in batch order; undefined for one that cannot be read back (logged). */
  private async read(batch: readonly HeldEntry[]): Promise<(LogRecord | undefined)[]> {
    const positions = batch.map((e) => ({ segment: e.segment, offset: e.offset }));
    try {
      return await this.opts.log.readBatch(positions);
    } catch {
      // Find the culprits one by one; the others still go out.
      const out: (LogRecord | undefined)[] = [];
      for (const p of positions) {
        try {
          out.push((await this.opts.log.readBatch([p]))[0]);
        } catch (err) {
          if (!(err instanceof RangeError || err instanceof StoreCorruptionError)) throw err;
          this.opts.logger.error('delayed message unreadable, dropping it', { pos: p, error: String(err) });
          out.push(undefined);
        }
      }
      return out;
    }
  }

  // --- helpers -------------------------------------------------------------

  private append(rec: EncodedDelayedRecord): LogPosition {
    return this.opts.log.append(rec.type, rec.parts);
  }

  private refFor(vhost: Vhost, ex: Exchange): number {
    let idx = this.refIndex.get(ex);
    if (idx === undefined) {
      idx = this.refs.length;
      this.refs.push({ vhost, exchange: ex });
      this.refIndex.set(ex, idx);
    }
    return idx;
  }

  /** The exchange a recovered record belongs to: a durable delayed exchange that exists now, else VOID. */
  private recoveredRef(cache: Map<string, number>, vhostName: string, exchange: string): number {
    const key = nameKey(vhostName, exchange);
    let idx = cache.get(key);
    if (idx === undefined) {
      const vhost = this.opts.vhost(vhostName);
      const ex = vhost?.exchanges.get(exchange);
      // Any durable exchange: a delayed one's own messages, or holdLater's for another.
      idx = vhost && ex && ex.durable ? this.refFor(vhost, ex) : VOID;
      cache.set(key, idx);
    }
    return idx;
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function positionKey(segment: number, offset: number): string {
  return `${segment}:${offset}`;
}

function pendingKey(vhost: string, exchange: string, routingKey: string): string {
  return `${vhost}\u0000${exchange}\u0000${routingKey}`;
}

function nameKey(vhost: string, exchange: string): string {
  return `${vhost}\u0000${exchange}`;
}

/** Bytes the record takes in the log: 8-byte header, type byte, payload. */
function recordBytes(rec: EncodedDelayedRecord): number {
  let n = 9;
  for (const p of rec.parts) n += p.length;
  return n;
}
