// A vhost's durable topology as saved with the broker's metadata: its durable exchanges
// (not the predeclared amq.* ones), durable queues, bindings that persist, and streams;
// and rebuilding it at startup, policies applied before the queues get their messages.

import { Exchange, type Destination, type ExchangeType } from './exchange/exchange.js';
import type { Args } from './message.js';
import type { MessageStore } from './message-store.js';
import { applyToExchange, applyToQueue, applyToStream, type PolicyLookup } from './policy/apply.js';
import { DEFAULT_QUEUE_CONFIG, parseQueueArgs } from './queue/args.js';
import { Queue } from './queue/queue.js';
import type { StreamDef } from './stream/stream.js';
import type { Vhost } from './vhost.js';

export interface ExchangeDef {
  name: string;
  type: ExchangeType;
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  args: Args;
}

export interface QueueDef {
  name: string;
  id: number;
  durable: boolean;
  autoDelete: boolean;
  args: Args;
}

export interface BindingDef {
  source: string;
  destination: string;
  destinationKind: 'queue' | 'exchange';
  routingKey: string;
  args: Args;
}

export interface VhostSnapshot {
  exchanges: ExchangeDef[];
  queues: QueueDef[];
  bindings: BindingDef[];
  streams?: StreamDef[];
}

/** What restoring needs of the broker around the vhost. */
export interface TopologyContext {
  readonly store: MessageStore;
  readonly policies?: PolicyLookup;
  queueError(queue: string, err: unknown): void;
}

/** The exchanges every vhost has. */
export const PREDECLARED: readonly [string, ExchangeType][] = [
  ['', 'direct'],
  ['amq.direct', 'direct'],
  ['amq.fanout', 'fanout'],
  ['amq.topic', 'topic'],
  ['amq.headers', 'headers'],
  ['amq.match', 'headers'],
];

export function snapshotTopology(v: Vhost): VhostSnapshot {
  const exchanges: ExchangeDef[] = [];
  const bindings: BindingDef[] = [];
  for (const ex of v.exchanges.values()) {
    if (!ex.durable || ex.isDefault) continue;
    if (!ex.name.startsWith('amq.')) {
      exchanges.push({ name: ex.name, type: ex.type, durable: true, autoDelete: ex.autoDelete, internal: ex.internal, args: ex.args });
    }
    for (const b of ex.router.bindings()) {
      const d = b.destination;
      if (!persists(d)) continue;
      bindings.push({
        source: ex.name,
        destination: d.name,
        // A stream queue is a queue to AMQP (and its name is in the queues' namespace).
        destinationKind: d instanceof Exchange ? 'exchange' : 'queue',
        routingKey: b.routingKey,
        args: b.args,
      });
    }
  }
  const queues: QueueDef[] = [];
  for (const q of v.queues.values()) {
    if (q.persistsMessages) queues.push({ name: q.name, id: q.id, durable: true, autoDelete: q.autoDelete, args: q.args });
  }
  return { exchanges, queues, bindings, streams: v.streams.snapshot() };
}

/**
 * Rebuild a vhost's durable topology at startup (queues get their recovered messages separately).
 * Streams are restored first (streams.restore), so bindings to stream queues find them.
 */
export function restoreTopology(v: Vhost, s: VhostSnapshot, ctx: TopologyContext): void {
  for (const e of s.exchanges) {
    const x = new Exchange({ ...e, vhost: v.name });
    applyToExchange(ctx.policies, x);
    v.exchanges.set(e.name, x);
  }
  // The predeclared amq.* exchanges and the streams too: policies are loaded before the topology.
  for (const [n] of PREDECLARED) applyToExchange(ctx.policies, v.getExchange(n));
  for (const st of v.streams.list()) applyToStream(ctx.policies, v.name, st);
  for (const d of s.queues) {
    let config = DEFAULT_QUEUE_CONFIG;
    try {
      config = parseQueueArgs(d.args, { queue: d.name, vhost: v.name }, { durable: true, exclusive: false });
    } catch (err) {
      ctx.queueError(d.name, err);
    }
    const q = new Queue({ name: d.name, id: d.id, durable: true, autoDelete: d.autoDelete, exclusiveOwner: undefined, args: d.args, vhost: v.name, config }, ctx.store);
    // Before its messages are restored: recovered() then enforces the effective limits.
    applyToQueue(ctx.policies, q);
    v.addQueue(q);
  }
  for (const b of s.bindings) {
    const src = v.exchanges.get(b.source);
    const dest = b.destinationKind === 'queue' ? (v.queues.get(b.destination) ?? v.streamQueues.get(b.destination)) : v.exchanges.get(b.destination);
    if (src && dest) src.router.bind(dest, b.routingKey, b.args);
  }
}

/** Bindings to it are persisted: durable queues, stream queues (always durable), durable exchanges. */
export function persists(d: Destination): boolean {
  if (d instanceof Queue) return d.persistsMessages;
  if (d instanceof Exchange) return d.durable;
  return true;
}
