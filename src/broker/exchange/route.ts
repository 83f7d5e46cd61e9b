// Where a message goes from the exchange it was published to: its bindings,
// then exchange-to-exchange bindings and alternate exchanges, each exchange
// once (RabbitMQ's rabbit_exchange:route/2). Pure and in memory: it finds the
// queues, and the delayed exchanges that will hold the message instead of
// routing it now; the caller enqueues and holds.

import type { Args } from '../message.js';
import { delayOf } from './delayed.js';
import { Exchange, type Destination, type RouteTarget } from './exchange.js';

/** What routing looks at. */
export interface RouteMessage {
  readonly routingKey: string;
  /** Routing keys from the CC and BCC headers (sender-selected distribution); undefined for none. */
  readonly ccKeys: readonly string[] | undefined;
  /** The headers as stored (BCC removed), for headers exchanges and x-delay. */
  readonly headers: Args | undefined;
  /** The body, for bindings whose filter policy looks at a JSON body. */
  readonly body?: Buffer;
}

/** The vhost's names, for the default exchange (queues and stream queues by name) and alternate exchanges. */
export interface RouteTopology {
  queue(name: string): RouteTarget | undefined;
  exchange(name: string): Exchange | undefined;
}

const NO_QUEUES: readonly RouteTarget[] = [];

/**
 * The queues `msg` reaches from `start`. Delayed exchanges on the way that hold it (a
 * positive x-delay, as the plugin does wherever the exchange is met) are added to
 * `held`; a hold counts as a match, so their alternate exchange is not used.
 *
 * An exchange's alternate exchange is followed when that exchange's own bindings match
 * nothing, an exchange-to-exchange binding counting as a match (RabbitMQ 3.x: a message
 * bound on to an exchange that routes it nowhere is unroutable, unless that exchange
 * has an AE of its own). A missing alternate exchange routes nothing.
 */
export function routeMessage(start: Exchange, msg: RouteMessage, topo: RouteTopology, held: Exchange[]): readonly RouteTarget[] {
  const out = new Set<Destination>();
  if (!matchInto(start, msg, topo, out, held, true)) {
    const ae = alternateOf(start, topo);
    if (ae === undefined) return NO_QUEUES;
    out.add(ae);
  }
  // The common case: bindings to queues only.
  let onlyQueues = true;
  for (const d of out) {
    if (d instanceof Exchange) {
      onlyQueues = false;
      break;
    }
  }
  if (onlyQueues) return [...out] as RouteTarget[];
  return walk(start, out, msg, topo, held);
}

/** Follows exchange destinations and alternate exchanges breadth-first, each exchange once. */
function walk(start: Exchange, first: Set<Destination>, msg: RouteMessage, topo: RouteTopology, held: Exchange[]): RouteTarget[] {
  const queues = new Set<RouteTarget>();
  const seen = new Set<Exchange>([start]);
  const pending: Exchange[] = [];
  const visit = (d: Destination): void => {
    if (!(d instanceof Exchange)) queues.add(d);
    else if (!seen.has(d)) {
      seen.add(d);
      pending.push(d);
    }
  };
  for (const d of first) visit(d);
  for (let i = 0; i < pending.length; i++) {
    const x = pending[i];
    const next = new Set<Destination>();
    if (matchInto(x, msg, topo, next, held, false)) for (const d of next) visit(d);
    else {
      const ae = alternateOf(x, topo);
      if (ae) visit(ae);
    }
  }
  return [...queues];
}

/**
 * The exchange's own matches into `out`; false if none (then its alternate exchange
 * applies). Only the exchange published to routes as the default exchange (queues by
 * name): as an alternate exchange it matches nothing, as in RabbitMQ.
 */
function matchInto(x: Exchange, msg: RouteMessage, topo: RouteTopology, out: Set<Destination>, held: Exchange[], isStart: boolean): boolean {
  if (x.delayed && delayOf(msg.headers) !== undefined) {
    held.push(x);
    return true;
  }
  if (x.isDefault) {
    if (!isStart) return false;
    addQueue(topo.queue(msg.routingKey), out);
    if (msg.ccKeys) for (const k of msg.ccKeys) addQueue(topo.queue(k), out);
    return out.size > 0;
  }
  x.router.route(msg.routingKey, msg.headers, out, msg.body);
  if (msg.ccKeys) for (const k of msg.ccKeys) x.router.route(k, msg.headers, out, msg.body);
  return out.size > 0;
}

function addQueue(q: RouteTarget | undefined, out: Set<Destination>): void {
  if (q) out.add(q);
}

function alternateOf(x: Exchange, topo: RouteTopology): Exchange | undefined {
  const name = x.alternateExchange;
  return name === undefined || name === '' ? undefined : topo.exchange(name);
}
