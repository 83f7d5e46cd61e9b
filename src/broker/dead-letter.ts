// Message content edits the broker makes: the x-death history of a
// dead-lettered message (as RabbitMQ writes it), cycle detection, and the
// x-delivery-count header of a redelivered message (as quorum queues add it).

import {
  Timestamp,
  decodeProperties,
  encodeProperties,
  type FieldTable,
  type FieldValue,
} from '../protocol/amqp/content.js';
import { withHeaders } from './content.js';
import { BCC_HEADER, CC_HEADER, senderSelectedKeys } from './exchange/sender-selected.js';
import type { MessageContent } from './message.js';
import type { DeathReason } from './queue/queue.js';

export interface Death {
  /** The queue the message left. */
  readonly queue: string;
  readonly reason: DeathReason;
  readonly now: number;
  /** The queue's x-dead-letter-routing-key, if it has one. */
  readonly routingKey?: string;
}

export interface DeadLetteredContent {
  readonly properties: Buffer;
  readonly headers: FieldTable;
  /** The key it is routed by and stored with: x-dead-letter-routing-key, else its own routing key. */
  readonly routingKey: string;
  /** Without x-dead-letter-routing-key: its CC keys, routed by too; undefined for none. */
  readonly ccKeys: readonly string[] | undefined;
  readonly priority: number;
}

/**
 * RabbitMQ's dead-lettering edits: the x-death entry for (queue, reason) is added or,
 * if present, has its count incremented and moves to the front; x-first-death-* are set
 * once and x-last-death-* every time; the expiration property is removed (kept in
 * x-death as original-expiration) so the copy does not expire again. It is routed by
 * x-dead-letter-routing-key, which also removes the CC header (x-death keeps its keys),
 * or else by its routing key and CC keys, read with the publish's rule
 * (exchange/sender-selected.ts). BCC was removed when it was published, so, unlike
 * RabbitMQ, which keeps BCC keys with the message, they are not routed by again.
 */
export function deadLetterContent(content: MessageContent, d: Death): DeadLetteredContent {
  // Properties 0-9-1 does not define (a client's extension) cannot be re-encoded and are lost here;
  // the x-death history matters more. Every defined property is kept.
  const props = decodeProperties(content.properties);
  const headers: FieldTable = { ...(props.headers ?? {}) };
  const ccKeys = senderSelectedKeys(headers, true);
  const routingKeys = ccKeys ? [content.routingKey, ...ccKeys] : [content.routingKey];
  // Stored without BCC since the publish strips it; data of older versions may still have it.
  delete headers[BCC_HEADER];
  const deaths = Array.isArray(headers['x-death']) ? (headers['x-death'] as FieldValue[]).filter(isTable) : [];
  const i = deaths.findIndex((x) => text(x['queue']) === d.queue && text(x['reason']) === d.reason);
  let entry: FieldTable;
  if (i >= 0) {
    const old = deaths[i];
    deaths.splice(i, 1);
    entry = { ...old, count: BigInt(numberOf(old['count']) + 1) };
  } else {
    entry = {
      count: 1n,
      reason: d.reason,
      queue: d.queue,
      time: new Timestamp(Math.floor(d.now / 1000)),
      exchange: content.exchange,
      'routing-keys': routingKeys,
    };
    if (props.expiration !== undefined) entry['original-expiration'] = props.expiration;
  }
  deaths.unshift(entry);
  headers['x-death'] = deaths;
  if (headers['x-first-death-reason'] === undefined) {
    headers['x-first-death-reason'] = d.reason;
    headers['x-first-death-queue'] = d.queue;
    headers['x-first-death-exchange'] = content.exchange;
  }
  headers['x-last-death-reason'] = d.reason;
  headers['x-last-death-queue'] = d.queue;
  headers['x-last-death-exchange'] = content.exchange;
  if (d.routingKey !== undefined) delete headers[CC_HEADER];
  const { expiration: _expiration, ...rest } = props;
  return {
    properties: encodeProperties({ ...rest, headers }),
    headers,
    routingKey: d.routingKey ?? content.routingKey,
    ccKeys: d.routingKey === undefined ? ccKeys : undefined,
    priority: props.priority ?? 0,
  };
}

/**
 * RabbitMQ's cycle rule: dead-lettering a message into a queue it already died in is a
 * cycle, and the copy for that queue is dropped, unless a consumer rejected it somewhere
 * along the way (then the loop is driven by a client and allowed). Rejections never cycle.
 */
export function isDeadLetterCycle(headers: FieldTable, reason: DeathReason, target: string): boolean {
  if (reason === 'rejected') return false;
  const deaths = Array.isArray(headers['x-death']) ? (headers['x-death'] as FieldValue[]).filter(isTable) : [];
  for (const x of deaths) {
    if (text(x['reason']) === 'rejected') return false;
    if (text(x['queue']) === target) return true;
  }
  return false;
}

/** The header a redelivery carries: how often the message came back (RabbitMQ quorum queues). */
export const DELIVERY_COUNT_HEADER = 'x-delivery-count';

/** A redelivery carries how often the message came back (RabbitMQ quorum queues: x-delivery-count). */
export function withDeliveryCount(content: MessageContent, count: number): MessageContent {
  return { ...content, properties: withHeaders(content.properties, (h) => ({ ...h, [DELIVERY_COUNT_HEADER]: BigInt(count) })) };
}

/** One x-death entry, read back for browsing dead letters. */
export interface DeathEntry {
  readonly reason: string | undefined;
  readonly queue: string | undefined;
  readonly count: number;
  /** Seconds since the epoch (an AMQP timestamp), undefined when absent. */
  readonly time: number | undefined;
  readonly exchange: string | undefined;
  readonly routingKeys: readonly string[];
  readonly originalExpiration: string | undefined;
}

/** The x-death entries of a message's headers, newest death first (as RabbitMQ orders them). */
export function deathsOf(headers: FieldTable | undefined): DeathEntry[] {
  const list = headers?.['x-death'];
  if (!Array.isArray(list)) return [];
  return list.filter(isTable).map((x) => {
    const t = x['time'];
    const keys = x['routing-keys'];
    return {
      reason: text(x['reason']),
      queue: text(x['queue']),
      count: numberOf(x['count']),
      time: t instanceof Timestamp ? t.seconds : typeof t === 'number' || typeof t === 'bigint' ? Number(t) : undefined,
      exchange: text(x['exchange']),
      routingKeys: Array.isArray(keys) ? keys.map(text).filter((k): k is string => k !== undefined) : [],
      originalExpiration: text(x['original-expiration']),
    };
  });
}

/** Headers RabbitMQ's dead-lettering adds, which a replay may strip. */
const DEATH_HEADERS = ['x-death', 'x-first-death-reason', 'x-first-death-queue', 'x-first-death-exchange', 'x-last-death-reason', 'x-last-death-queue', 'x-last-death-exchange'];

/** The headers without the dead-lettering history. */
export function withoutDeathHeaders(headers: FieldTable): FieldTable {
  const out: FieldTable = { ...headers };
  for (const h of DEATH_HEADERS) delete out[h];
  return out;
}

function isTable(v: FieldValue): v is FieldTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v) && v.constructor === Object;
}

function text(v: FieldValue | undefined): string | undefined {
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return undefined;
}

function numberOf(v: FieldValue | undefined): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'object' && v !== null && 'value' in v && typeof v.value === 'number') return v.value;
  return 0;
}
