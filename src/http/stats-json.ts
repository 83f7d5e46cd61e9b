// message_stats objects and *_details rates in RabbitMQ's JSON shape, from the
// broker's counters (src/broker/stats.ts) and the rate sampler's rings.

import type { Broker } from '../broker/broker.js';
import type { Queue } from '../broker/queue/queue.js';
import type { Exchange } from '../broker/exchange/exchange.js';
import type { Vhost } from '../broker/vhost.js';
import { MessageCounters } from '../broker/stats.js';
import type { RateSampler } from './rates.js';

/** Sampled fields, in ring order: the counters, then the depth gauges. */
const COUNTER_FIELDS = [
  'publish',
  'deliver',
  'deliverNoAck',
  'get',
  'getNoAck',
  'getEmpty',
  'ack',
  'redeliver',
  'confirm',
  'returnUnroutable',
  'dropUnroutable',
] as const satisfies readonly (keyof MessageCounters)[];
const MESSAGES = COUNTER_FIELDS.length;
const READY = MESSAGES + 1;
const UNACKED = MESSAGES + 2;
export const SAMPLE_WIDTH = COUNTER_FIELDS.length + 3;

const SNAKE: Record<(typeof COUNTER_FIELDS)[number], string> = {
  publish: 'publish',
  deliver: 'deliver',
  deliverNoAck: 'deliver_no_ack',
  get: 'get',
  getNoAck: 'get_no_ack',
  getEmpty: 'get_empty',
  ack: 'ack',
  redeliver: 'redeliver',
  confirm: 'confirm',
  returnUnroutable: 'return_unroutable',
  dropUnroutable: 'drop_unroutable',
};

/** Fields a queue's message_stats shows (RabbitMQ leaves out the publishing-side ones). */
const QUEUE_FIELDS: readonly (typeof COUNTER_FIELDS)[number][] = ['publish', 'deliver', 'deliverNoAck', 'get', 'getNoAck', 'getEmpty', 'ack', 'redeliver'];
const VHOST_FIELDS = COUNTER_FIELDS;

export interface Depth {
  messages: number;
  ready: number;
  unacked: number;
}

function writeCounters(c: MessageCounters, d: Depth, out: Float64Array): void {
  for (let i = 0; i < COUNTER_FIELDS.length; i++) out[i] = c[COUNTER_FIELDS[i]];
  out[MESSAGES] = d.messages;
  out[READY] = d.ready;
  out[UNACKED] = d.unacked;
}

export function queueDepth(q: Queue): Depth {
  const ready = q.messageCount;
  return { messages: ready + q.unacked, ready, unacked: q.unacked };
}

export function vhostDepth(v: Vhost): Depth {
  const d = { messages: 0, ready: 0, unacked: 0 };
  for (const q of v.queues.values()) {
    d.ready += q.messageCount;
    d.unacked += q.unacked;
  }
  d.messages = d.ready + d.unacked;
  return d;
}

/** The sum over vhosts, for /api/overview and the global metrics. */
export function totals(broker: Broker): { counters: MessageCounters; depth: Depth } {
  const counters = new MessageCounters();
  const depth = { messages: 0, ready: 0, unacked: 0 };
  for (const v of broker.vhostList()) {
    for (const f of COUNTER_FIELDS) counters[f] += v.stats[f];
    const d = vhostDepth(v);
    depth.messages += d.messages;
    depth.ready += d.ready;
    depth.unacked += d.unacked;
  }
  return { counters, depth };
}

/** One tick of the sampler: every queue, exchange and vhost, and the broker's totals. */
export function sampleAll(broker: Broker, rates: RateSampler): void {
  for (const v of broker.vhostList()) {
    for (const q of v.queues.values()) rates.sample(q, SAMPLE_WIDTH, (o, out) => writeCounters(o.stats, queueDepth(o), out));
    for (const x of v.exchanges.values()) {
      rates.sample(x, 2, (o, out) => {
        out[0] = o.stats.publishIn;
        out[1] = o.stats.publishOut;
      });
    }
    rates.sample(v, SAMPLE_WIDTH, (o, out) => writeCounters(o.stats, vhostDepth(o), out));
  }
  rates.sample(broker, SAMPLE_WIDTH, (o, out) => {
    const t = totals(o);
    writeCounters(t.counters, t.depth, out);
  });
}

function statsJson(obj: object, c: MessageCounters, fields: readonly (typeof COUNTER_FIELDS)[number][], rates: RateSampler): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const rate = (f: (typeof COUNTER_FIELDS)[number]): number => rates.rate(obj, SAMPLE_WIDTH, COUNTER_FIELDS.indexOf(f));
  for (const f of fields) {
    out[SNAKE[f]] = c[f];
    out[`${SNAKE[f]}_details`] = { rate: rate(f) };
  }
  const deliverGet = c.deliver + c.deliverNoAck + c.get + c.getNoAck;
  const deliverGetRate = rate('deliver') + rate('deliverNoAck') + rate('get') + rate('getNoAck');
  out.deliver_get = deliverGet;
  out.deliver_get_details = { rate: Math.round(deliverGetRate * 10) / 10 };
  return out;
}

export function queueMessageStats(q: Queue, rates: RateSampler): Record<string, unknown> {
  return statsJson(q, q.stats, QUEUE_FIELDS, rates);
}

export function vhostMessageStats(obj: object, c: MessageCounters, rates: RateSampler): Record<string, unknown> {
  return statsJson(obj, c, VHOST_FIELDS, rates);
}

/** messages / messages_ready / messages_unacknowledged with their _details rates. */
export function depthJson(obj: object, d: Depth, rates: RateSampler): Record<string, unknown> {
  return {
    messages: d.messages,
    messages_details: { rate: rates.rate(obj, SAMPLE_WIDTH, MESSAGES) },
    messages_ready: d.ready,
    messages_ready_details: { rate: rates.rate(obj, SAMPLE_WIDTH, READY) },
    messages_unacknowledged: d.unacked,
    messages_unacknowledged_details: { rate: rates.rate(obj, SAMPLE_WIDTH, UNACKED) },
  };
}

export function exchangeMessageStats(x: Exchange, rates: RateSampler): Record<string, unknown> {
  return {
    publish_in: x.stats.publishIn,
    publish_in_details: { rate: rates.rate(x, 2, 0) },
    publish_out: x.stats.publishOut,
    publish_out_details: { rate: rates.rate(x, 2, 1) },
  };
}

type Reader<T> = (o: T) => unknown;

/**
 * A reader of one dotted path of queueJson's stats (message_stats.*, messages*_details.rate)
 * straight from the counters and the sampler, for sorting without rendering; undefined
 * for a path that is not a stats path. Must give what queueJson shows at that path.
 */
export function queueStatsColumn(path: string, rates: RateSampler): Reader<Queue> | undefined {
  const depthRate = /^(messages|messages_ready|messages_unacknowledged)_details\.rate$/.exec(path);
  if (depthRate) {
    const index = depthRate[1] === 'messages' ? MESSAGES : depthRate[1] === 'messages_ready' ? READY : UNACKED;
    return (q) => rates.rate(q, SAMPLE_WIDTH, index);
  }
  const m = /^message_stats\.([a-z_]+?)(_details\.rate)?$/.exec(path);
  if (!m) return undefined;
  const [, snake, details] = m;
  if (snake === 'deliver_get') {
    const parts = ['deliver', 'deliverNoAck', 'get', 'getNoAck'] as const;
    if (!details) return (q) => parts.reduce((sum, f) => sum + q.stats[f], 0);
    return (q) => Math.round(parts.reduce((sum, f) => sum + rates.rate(q, SAMPLE_WIDTH, COUNTER_FIELDS.indexOf(f)), 0) * 10) / 10;
  }
  const field = QUEUE_FIELDS.find((f) => SNAKE[f] === snake);
  if (!field) return () => undefined;
  if (!details) return (q) => q.stats[field];
  const index = COUNTER_FIELDS.indexOf(field);
  return (q) => rates.rate(q, SAMPLE_WIDTH, index);
}
