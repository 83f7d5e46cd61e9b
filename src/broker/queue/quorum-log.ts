// The records of a quorum queue's replicated log in a cluster (docs/cluster.md, "Quorum queues"):
// one Kafka record per command, its kind in the record key. Pure: encoding, decoding, the
// replay that turns a log into the queue's live messages, and where the log may be cut.
//
//   key "E"  Enqueue  value: the body; headers x (exchange), k (routing key), p (the AMQP
//                     properties, raw), m (JSON [persistent 0|1, expiration ms, priority, publishedAt ms]),
//                     r (its delivery count, decimal; only on a message moved to the tail, QuorumQueues.moveOld)
//   key "S"  Settle   value: JSON [offset, ...]: those Enqueues left the queue for good
//   key "R"  Return   value: JSON [[offset, returns], ...]: those came back, with their delivery count

import type { KafkaRecord, RecordSpec } from '../../protocol/kafka/record-batch.js';
import type { MessageContent, PublishInput } from '../message.js';

const ENQUEUE = Buffer.from('E');
const SETTLE = Buffer.from('S');
const RETURN = Buffer.from('R');

/** What an Enqueue record holds of a message. */
export type EnqueueInput = Pick<PublishInput, 'exchange' | 'routingKey' | 'properties' | 'body' | 'persistent' | 'expiration' | 'priority'>;

/** An Enqueue; `returns` > 0 only for a message re-appended at the tail with the delivery count it had. */
export function enqueueRecord(input: EnqueueInput, publishedAt: number, returns = 0): RecordSpec {
  const meta = [input.persistent ? 1 : 0, input.expiration, input.priority, publishedAt];
  const headers = [
    { key: 'x', value: Buffer.from(input.exchange, 'utf8') },
    { key: 'k', value: Buffer.from(input.routingKey, 'utf8') },
    { key: 'p', value: input.properties },
    { key: 'm', value: Buffer.from(JSON.stringify(meta)) },
  ];
  if (returns > 0) headers.push({ key: 'r', value: Buffer.from(String(returns)) });
  return { key: ENQUEUE, value: input.body, headers };
}

export function settleRecord(offsets: readonly number[]): RecordSpec {
  return { key: SETTLE, value: Buffer.from(JSON.stringify(offsets)) };
}

export function returnRecord(returns: readonly (readonly [number, number])[]): RecordSpec {
  return { key: RETURN, value: Buffer.from(JSON.stringify(returns)) };
}

/** A message of the log that is still in the queue. */
export interface LiveMessage {
  readonly offset: number;
  readonly content: MessageContent;
  readonly persistent: boolean;
  readonly expiration: number;
  readonly priority: number;
  readonly publishedAt: number;
  /** Its delivery count from the last Return record (0 if none). */
  returns: number;
}

/**
 * Pass one of a replay, in offset order: which Enqueues are live (Enqueues minus Settles) and the
 * delivery count of each one's last Return. Numbers only, never a body: a log far larger than
 * memory replays in two passes, this one and a second that reads the live Enqueues back
 * (liveMessageOf) in offset order.
 */
export class QuorumLiveSet {
  /** Live Enqueue offset -> its delivery count. */
  private readonly live = new Map<number, number>();

  apply(rec: KafkaRecord): void {
    const kind = rec.key?.toString('latin1');
    if (kind === 'E') this.live.set(Number(rec.offset), Number(rec.headers.find((h) => h.key === 'r')?.value?.toString() ?? 0) || 0);
    else if (kind === 'S') {
      const v = parseJson(rec.value);
      if (Array.isArray(v)) for (const o of v) this.live.delete(Number(o));
    } else if (kind === 'R') {
      const v = parseJson(rec.value);
      if (!Array.isArray(v)) return;
      for (const pair of v) {
        if (!Array.isArray(pair)) continue;
        const o = Number(pair[0]);
        if (this.live.has(o)) this.live.set(o, Number(pair[1]) || 0);
      }
    }
  }

  /** The delivery count of the live Enqueue at `offset`, or undefined if it is not live. */
  returnsOf(offset: number): number | undefined {
    return this.live.get(offset);
  }

  get size(): number {
    return this.live.size;
  }

  /** The live offsets, oldest first. */
  offsets(): number[] {
    return [...this.live.keys()].sort((a, b) => a - b);
  }

  /** The lowest live Enqueue's offset (everything below it is garbage), or undefined if none is live. */
  lowestLive(): number | undefined {
    return lowestOf(this.live.keys());
  }
}

/** The message an Enqueue record carries (its body and properties copied out of the batch it was read in). */
export function liveMessageOf(rec: KafkaRecord, returns: number): LiveMessage {
  const h = (k: string): Buffer => rec.headers.find((x) => x.key === k)?.value ?? Buffer.alloc(0);
  const meta = parseJson(h('m'));
  const [persistent, expiration, priority, publishedAt] = Array.isArray(meta) ? meta.map(Number) : [1, -1, 0, 0];
  return {
    offset: Number(rec.offset),
    // Copies: a view would keep the whole read buffer (up to a megabyte) alive for one message.
    content: { exchange: h('x').toString('utf8'), routingKey: h('k').toString('utf8'), properties: Buffer.from(h('p')), body: Buffer.from(rec.value ?? Buffer.alloc(0)) },
    persistent: persistent === 1,
    expiration: Number.isFinite(expiration) ? expiration : -1,
    priority: Number.isFinite(priority) ? priority : 0,
    publishedAt: Number.isFinite(publishedAt) ? publishedAt : 0,
    returns,
  };
}

export function isEnqueue(rec: KafkaRecord): boolean {
  return rec.key?.length === 1 && rec.key[0] === ENQUEUE[0];
}

/**
 * Where the log may be cut (its log start moved to, Kafka's DeleteRecords): the lowest offset
 * still needed, or the high watermark if that is lower (only committed records are cut, so every
 * replica cuts the same prefix). `needed` are the live Enqueues' offsets and those whose Settle is
 * not committed yet (a failover before it must still find them). Below the lowest live Enqueue
 * everything is garbage: a Settle or Return at offset X only names Enqueues below X, so the
 * records from the cut on replay to exactly the same live set.
 */
export function cutPoint(needed: Iterable<number>, highWatermark: number): number {
  const low = lowestOf(needed);
  return low === undefined ? highWatermark : Math.min(low, highWatermark);
}

function lowestOf(offsets: Iterable<number>): number | undefined {
  let low: number | undefined;
  for (const o of offsets) if (low === undefined || o < low) low = o;
  return low;
}

function parseJson(b: Buffer | null): unknown {
  if (b === null) return undefined;
  try {
    return JSON.parse(b.toString('utf8'));
  } catch {
    return undefined;
  }
}
