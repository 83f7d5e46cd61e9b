// A cluster's topology as records (docs/cluster.md, "Metadata: the topology"): durable
// exchanges, durable queues (with their home node) and the bindings between them, one
// record per object in RabbitMQ's definitions format, for src/cluster/meta/sync.ts to keep
// in etcd. It is the same RecordStore contract as the access model's and the policies':
// records() is what this node has, applyRecord() makes this node's topology hold a record
// (or not). Exclusive and non-durable objects stay on their node, as meta.json keeps them.

import { createHash } from 'node:crypto';
import { BrokerError } from './errors.js';
import { Exchange } from './exchange/exchange.js';
import type { Args } from './message.js';
import { Queue } from './queue/queue.js';
import { replaceArgs, reviveArgs } from './args-json.js';
import type { Vhost } from './vhost.js';

export interface ExchangeRecord {
  name: string;
  vhost: string;
  type: string;
  durable: true;
  auto_delete: boolean;
  internal: boolean;
  arguments: Args;
}

export interface QueueRecord {
  name: string;
  vhost: string;
  durable: true;
  auto_delete: boolean;
  arguments: Args;
  /** The queue's home: the node that holds its messages. */
  node: string;
}

export interface BindingRecord {
  source: string;
  vhost: string;
  destination: string;
  destination_type: 'queue' | 'exchange';
  routing_key: string;
  arguments: Args;
}

type Kind = 'exchanges' | 'queues' | 'bindings';

/** What the records need of the broker. */
export interface TopologyHost {
  vhost(name: string): Vhost | undefined;
  vhostList(): Vhost[];
  /** This node's name in the cluster. */
  readonly nodeName: string;
  /** The node a queue was declared on (a quorum queue's home is its leader, which moves: not that). */
  declaredHome(vhost: string, queue: string): string | undefined;
  setQueueHome(vhost: string, queue: string, node: string | undefined): void;
  readonly logger: { warn(msg: string, fields?: Record<string, unknown>): void };
}

export class TopologyRecords {
  committer: ((change: () => void) => Promise<void>) | undefined;
  /** Records from the cluster this node cannot hold yet (a binding whose queue or vhost is not here yet), by key. */
  private readonly pending = new Map<string, string>();
  /** Applying a record from the cluster: the topology changes it makes are not this node's to commit. */
  applying = false;

  constructor(private readonly host: TopologyHost) {}

  records(): Map<string, string> {
    const out = new Map<string, string>();
    for (const v of this.host.vhostList()) {
      for (const ex of v.exchanges.values()) {
        if (!ex.durable || ex.isDefault) continue;
        if (!ex.name.startsWith('amq.')) out.set(key('exchanges', v.name, ex.name), exchangeValue(v.name, ex));
        for (const b of ex.router.bindings()) {
          const d = b.destination;
          // Stream queues are not replicated this way (streams have their own placement).
          const kind = d instanceof Queue ? (d.persistsMessages ? 'queue' : undefined) : d instanceof Exchange && d.durable ? 'exchange' : undefined;
          if (kind === undefined) continue;
          const rec: BindingRecord = { source: ex.name, vhost: v.name, destination: d.name, destination_type: kind, routing_key: b.routingKey, arguments: b.args };
          out.set(bindingKey(rec), json(rec));
        }
      }
      for (const q of v.queues.values()) {
        if (!q.persistsMessages) continue;
        const rec: QueueRecord = { name: q.name, vhost: v.name, durable: true, auto_delete: q.autoDelete, arguments: q.args, node: this.host.declaredHome(v.name, q.name) ?? this.host.nodeName };
        out.set(key('queues', v.name, q.name), json(rec));
      }
    }
    for (const [k, value] of this.pending) out.set(k, value);
    return out;
  }

  /** Makes this node's topology hold the record (undefined: not hold it). False for a key this version cannot read. */
  applyRecord(k: string, value: string | undefined): boolean {
    const [kind, vhost, name] = parseKey(k);
    if (kind === undefined) return false;
    this.applying = true;
    try {
      this.pending.delete(k);
      const v = this.host.vhost(vhost);
      if (value === undefined) {
        if (v !== undefined) this.remove(v, kind, name);
        return true;
      }
      if (v === undefined) {
        this.pending.set(k, value);
        return true;
      }
      const held = kind === 'exchanges' ? this.putExchange(v, JSON.parse(value, reviveArgs) as ExchangeRecord)
        : kind === 'queues' ? this.putQueue(v, JSON.parse(value, reviveArgs) as QueueRecord)
          : this.putBinding(v, JSON.parse(value, reviveArgs) as BindingRecord);
      if (!held) this.pending.set(k, value);
      else if (kind !== 'bindings') this.retryPending();
      return true;
    } finally {
      this.applying = false;
    }
  }

  /** Records that waited for a vhost, a queue or an exchange: applied if they can be now. */
  retryPending(): void {
    for (const [k, value] of [...this.pending]) {
      const [, vhost] = parseKey(k);
      if (this.host.vhost(vhost) !== undefined) this.applyRecord(k, value);
    }
  }

  async save(): Promise<void> {
    // meta.json is saved by the broker when the topology changes (the vhost's topologyChanged).
  }

  private putExchange(v: Vhost, r: ExchangeRecord): boolean {
    const o = { passive: false, durable: true, autoDelete: r.auto_delete, internal: r.internal, args: r.arguments };
    try {
      v.declareExchange(r.name, r.type, o);
    } catch (err) {
      if (!(err instanceof BrokerError) || err.kind !== 'precondition-failed') throw err;
      // The cluster's definition won over this node's (two declares at once): take it.
      v.deleteExchange(r.name, false);
      v.declareExchange(r.name, r.type, o);
    }
    return true;
  }

  private putQueue(v: Vhost, r: QueueRecord): boolean {
    const o = { passive: false, durable: true, exclusive: false, autoDelete: r.auto_delete, args: r.arguments, reserved: true };
    const existing = v.queues.get(r.name);
    if (existing !== undefined && !sameQueue(existing, r)) v.removeQueue(existing);
    this.host.setQueueHome(v.name, r.name, r.node);
    try {
      const q = v.declareQueue(r.name, o, '');
      if (q instanceof Promise) return true;
    } catch (err) {
      this.host.logger.warn('cannot hold a queue of the cluster here', { vhost: v.name, queue: r.name, error: (err as Error).message });
      return false;
    }
    return true;
  }

  private putBinding(v: Vhost, r: BindingRecord): boolean {
    if (!v.exchanges.has(r.source)) return false;
    if (r.destination_type === 'queue') {
      if (!v.queues.has(r.destination)) return false;
      v.bindQueue(r.destination, r.source, r.routing_key, r.arguments, '');
    } else {
      if (!v.exchanges.has(r.destination)) return false;
      v.bindExchange(r.destination, r.source, r.routing_key, r.arguments);
    }
    return true;
  }

  private remove(v: Vhost, kind: Kind, name: string): void {
    if (kind === 'exchanges') v.deleteExchange(name, false);
    else if (kind === 'queues') {
      const q = v.queues.get(name);
      if (q !== undefined) v.removeQueue(q);
      this.host.setQueueHome(v.name, name, undefined);
    } else {
      // A binding's key is a hash: find the binding that has it.
      for (const ex of v.exchanges.values()) {
        for (const b of ex.router.bindings()) {
          const d = b.destination;
          const rec: BindingRecord = { source: ex.name, vhost: v.name, destination: d.name, destination_type: d instanceof Exchange ? 'exchange' : 'queue', routing_key: b.routingKey, arguments: b.args };
          if (bindingKey(rec).split('/')[2] !== name) continue;
          if (rec.destination_type === 'queue') v.unbindQueue(d.name, ex.name, b.routingKey, b.args, '');
          else v.unbindExchange(d.name, ex.name, b.routingKey, b.args);
          return;
        }
      }
    }
  }
}

function exchangeValue(vhost: string, ex: Exchange): string {
  const rec: ExchangeRecord = { name: ex.name, vhost, type: ex.type, durable: true, auto_delete: ex.autoDelete, internal: ex.internal, arguments: ex.args };
  return json(rec);
}

function sameQueue(q: Queue, r: QueueRecord): boolean {
  return q.persistsMessages && q.autoDelete === r.auto_delete && json(q.args) === json(r.arguments);
}

function json(value: unknown): string {
  return JSON.stringify(value, replaceArgs);
}

/** `<kind>/<vhost>/<name>`, vhost and name percent-encoded (so a `/` in a name cannot alias another key). */
function key(kind: Kind, vhost: string, name: string): string {
  return `${kind}/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`;
}

/** A binding has no name: its key is a hash of what identifies it (AMQP 0-9-1 §3.1.3.3). */
function bindingKey(r: BindingRecord): string {
  const id = json([r.source, r.destination_type, r.destination, r.routing_key, r.arguments]);
  return key('bindings', r.vhost, createHash('sha256').update(id).digest('hex').slice(0, 32));
}

function parseKey(k: string): [Kind | undefined, string, string] {
  const parts = k.split('/');
  const kind = parts[0];
  if (parts.length !== 3 || (kind !== 'exchanges' && kind !== 'queues' && kind !== 'bindings')) return [undefined, '', ''];
  return [kind, decodeURIComponent(parts[1] as string), decodeURIComponent(parts[2] as string)];
}
