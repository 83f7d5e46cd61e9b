// The records of a quorum queue's replicated log in a cluster (docs/cluster.md, "Quorum queues"):
// one Kafka record per command, its kind in the record key. Pure: encoding, decoding and the
// replay that turns a log into the queue's live messages.
//
//   key "E"  Enqueue  value: the body; headers x (exchange), k (routing key), p (the AMQP
//                     properties, raw), m (JSON [persistent 0|1, expiration ms, priority, publishedAt ms])
//   key "S"  Settle   value: JSON [offset, ...]: those Enqueues left the queue for good
//   key "R"  Return   value: JSON [[offset, returns], ...]: those came back, with their delivery count

import type { KafkaRecord, RecordSpec } from '../../protocol/kafka/record-batch.js';
import type { MessageContent, PublishInput } from '../message.js';

const ENQUEUE = Buffer.from('E');
const SETTLE = Buffer.from('S');
const RETURN = Buffer.from('R');

export function enqueueRecord(input: PublishInput, publishedAt: number): RecordSpec {
  const meta = [input.persistent ? 1 : 0, input.expiration, input.priority, publishedAt];
  return {
    key: ENQUEUE,
    value: input.body,
    headers: [
      { key: 'x', value: Buffer.from(input.exchange, 'utf8') },
      { key: 'k', value: Buffer.from(input.routingKey, 'utf8') },
      { key: 'p', value: input.properties },
      { key: 'm', value: Buffer.from(JSON.stringify(meta)) },
    ],
  };
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

/** Replays records in offset order: Enqueues minus Settles, with the counts of Returns. */
export class QuorumReplay {
  private readonly live = new Map<number, LiveMessage>();

  apply(rec: KafkaRecord): void {
    const kind = rec.key?.toString('latin1');
    const offset = Number(rec.offset);
    if (kind === 'E') {
      const h = (k: string): Buffer => rec.headers.find((x) => x.key === k)?.value ?? Buffer.alloc(0);
      const meta = parseJson(h('m'));
      const [persistent, expiration, priority, publishedAt] = Array.isArray(meta) ? meta.map(Number) : [1, -1, 0, 0];
      this.live.set(offset, {
        offset,
        content: { exchange: h('x').toString('utf8'), routingKey: h('k').toString('utf8'), properties: h('p'), body: rec.value ?? Buffer.alloc(0) },
        persistent: persistent === 1,
        expiration: Number.isFinite(expiration) ? expiration : -1,
        priority: Number.isFinite(priority) ? priority : 0,
        publishedAt: Number.isFinite(publishedAt) ? publishedAt : 0,
        returns: 0,
      });
    } else if (kind === 'S') {
      const v = parseJson(rec.value);
      if (Array.isArray(v)) for (const o of v) this.live.delete(Number(o));
    } else if (kind === 'R') {
      const v = parseJson(rec.value);
      if (!Array.isArray(v)) return;
      for (const pair of v) {
        if (!Array.isArray(pair)) continue;
        const m = this.live.get(Number(pair[0]));
        if (m !== undefined) m.returns = Number(pair[1]) || 0;
      }
    }
  }

  /** The live messages, oldest first. */
  messages(): LiveMessage[] {
    return [...this.live.values()].sort((a, b) => a.offset - b.offset);
  }

  /** The lowest live Enqueue's offset (everything below it is garbage), or undefined if none is live. */
  lowestLive(): number | undefined {
    let low: number | undefined;
    for (const o of this.live.keys()) if (low === undefined || o < low) low = o;
    return low;
  }
}

function parseJson(b: Buffer | null): unknown {
  if (b === null) return undefined;
  try {
    return JSON.parse(b.toString('utf8'));
  } catch {
    return undefined;
  }
}
