// Streams as AMQP queues (RabbitMQ's stream queues), for one vhost: a stream with one partition is
// the stream queue of the same name, whichever protocol created it. Declaring (with RabbitMQ's
// argument rules), the message count it reports, publishing into it (StreamAppender), and its
// consumers, which are cancelled when the stream is deleted by any protocol.

import { BrokerError, preconditionFailed } from '../errors.js';
import { argNumber } from '../queue/args.js';
import type { Args, PublishInput } from '../message.js';
import type { RemoteQueues } from '../remote-queues.js';
import { StreamError } from './errors.js';
import { checkStreamEquivalent, streamConfigsOf, STREAM_QUEUE_TYPE, type StreamQueueDeclare } from './queue-args.js';
import type { StreamRegistry } from './registry.js';
import { ReplicationError, replicatedCommit, type StreamReplication } from './replication.js';
import type { Stream } from './stream.js';
import { StreamAppender } from './stream-appender.js';
import { recordOf } from './stream-message.js';

/** What a stream queue's declare-ok, and RabbitMQ's stats, report. */
export interface StreamQueueInfo {
  readonly name: string;
  readonly messageCount: number;
  /** RabbitMQ 3.10 reports 0 consumers for a stream queue, whatever it has (rabbit_stream_queue:stat/1). */
  readonly consumerCount: 0;
}

/** A consumer as the vhost knows it: stopped and told when its stream is deleted. */
export interface StreamSubscription {
  /** The stream went away: stop reading and tell the client (basic.cancel). */
  cancelledByBroker(): void;
}

/** A Kafka-created stream counts as declared with these arguments. */
const KAFKA_CREATED_ARGS: Args = { 'x-queue-type': STREAM_QUEUE_TYPE };

/** Per-record overhead on top of body and properties, for sizing batches. */
const RECORD_OVERHEAD_BYTES = 64;

export class StreamQueues {
  private readonly appenders = new Map<Stream, StreamAppender>();
  private readonly subscriptions = new Map<Stream, Set<StreamSubscription>>();

  constructor(
    private readonly vhost: string,
    private readonly registry: StreamRegistry,
    /** The cluster's stream replication (docs/cluster.md); undefined on a single node. */
    private readonly replication: () => StreamReplication | undefined = () => undefined,
    /** The links to other nodes, for publishes into streams led elsewhere; undefined on a single node. */
    private readonly remote: () => RemoteQueues | undefined = () => undefined,
  ) {}

  /** The stream queue `name`: a stream with one partition. */
  get(name: string): Stream | undefined {
    const s = this.registry.get(name);
    return s !== undefined && s.partitions.length === 1 ? s : undefined;
  }

  /** Queue names streams hold, created or being created (the queues' namespace is shared). */
  holds(name: string): boolean {
    return this.registry.has(name);
  }

  /** Throws unless `name` is a stream queue; a stream of several partitions is not one. */
  require(name: string): Stream {
    const s = this.get(name);
    if (s) return s;
    const other = this.registry.get(name);
    if (other) throw multiPartition(other, this.vhost);
    throw new BrokerError('not-found', `no queue '${name}' in vhost '${this.vhost}'`);
  }

  info(s: Stream): StreamQueueInfo {
    const p = s.partitions[0];
    return { name: s.name, messageCount: p.highWatermark - p.logStartOffset, consumerCount: 0 };
  }

  /**
   * queue.declare of `d.queue` where a stream is, or with x-queue-type stream: an existing one is
   * checked for equivalence (RabbitMQ checks nothing else then), a new one created and persisted.
   */
  async declare(d: StreamQueueDeclare): Promise<StreamQueueInfo> {
    for (;;) {
      const pending = this.registry.creation(d.queue);
      if (!pending) break;
      await pending;
    }
    const existing = this.registry.get(d.queue);
    if (existing) {
      if (existing.partitions.length !== 1) throw multiPartition(existing, this.vhost);
      checkStreamEquivalent(d, existing.definition.amqpArgs ?? KAFKA_CREATED_ARGS);
      return this.info(existing);
    }
    const configs = streamConfigsOf(d);
    const replication = this.replication();
    try {
      // A node still joining the cluster creates nothing replication would not know of.
      replication?.checkReplicationFactor(-1);
      const s = (await this.registry.create(d.queue, { partitions: 1, configs, amqpArgs: d.args })) as Stream;
      // In a cluster every node creates it (docs/cluster.md): RabbitMQ's x-initial-cluster-size
      // replicas, at most the live nodes (RabbitMQ takes what there is), min(3, live) by default.
      const size = argNumber(d.args['x-initial-cluster-size']);
      const factor = size === undefined ? -1 : Math.min(size, replication?.nodes().length ?? 1);
      await replication?.created(this.vhost, { name: s.name, topicId: s.topicId, partitions: 1, configs: s.configs, amqpArgs: d.args }, factor);
      return this.info(s);
    } catch (err) {
      throw asBrokerError(err);
    }
  }

  /** queue.delete: RabbitMQ 3.10 deletes a stream whatever if-unused and if-empty say, and reports 0 messages. */
  async delete(s: Stream): Promise<number> {
    try {
      await this.registry.delete(s.name);
      if (this.replication()?.role(this.vhost, s.name, 0) !== undefined) await this.replication()?.deleted(this.vhost, s.name);
    } catch (err) {
      throw asBrokerError(err);
    }
    return 0;
  }

  /**
   * Appends a routed publish to each stream; resolves once it is durable in all of them (in a
   * cluster: committed, the high watermark past it). A replicated stream led by another node gets
   * it through the link to its leader (docs/cluster.md, "Stream queues"), confirmed once the leader
   * has committed it; with no leader at the moment the write fails (a basic.nack).
   */
  publish(streams: readonly Stream[], input: PublishInput): Promise<void> {
    const rec = recordOf(input);
    const bytes = input.body.length + input.properties.length + RECORD_OVERHEAD_BYTES;
    if (streams.length === 1) return this.writeTo(streams[0], input, () => this.appenderOf(streams[0]).append(rec, bytes));
    const all = Promise.all(streams.map((s) => this.writeTo(s, input, () => this.appenderOf(s).append(rec, bytes)))).then(() => undefined);
    all.catch(() => {}); // as StreamAppender: only confirms look at it
    return all;
  }

  /** Whether this node takes writes into `s` itself: it leads it, or it is not replicated. */
  leadsHere(s: Stream): boolean {
    const role = this.replication()?.role(this.vhost, s.name, 0);
    return role === undefined || role.leader;
  }

  /**
   * The node a consumer of stream queue `name` on this node reads from, when not this one: a node
   * holding a replica reads its own copy (up to the high watermark it knows, leader or follower);
   * one holding none relays to the leader, as RabbitMQ reads from a local member if there is one.
   */
  readerElsewhere(name: string): string | undefined {
    const r = this.replication();
    const role = this.get(name) === undefined ? undefined : r?.role(this.vhost, name, 0);
    // No replicas known (a node still joining): it reads here once it knows the high watermark, as before it joined.
    if (r === undefined || role === undefined || role.replicas.length === 0 || role.replicas.includes(r.selfId)) return undefined;
    if (role.leaderName === undefined || role.leaderId === r.selfId) throw noLeader(name, this.vhost);
    return role.leaderName;
  }

  /** Here (`append`) when this node leads `s`; otherwise forwarded to its leader. */
  private writeTo(s: Stream, input: PublishInput, append: () => Promise<void>): Promise<void> {
    const r = this.replication();
    const role = r?.role(this.vhost, s.name, 0);
    if (role === undefined || role.leader) return append();
    const remote = this.remote();
    // A leader this node's view names but that is not serving yet (or is stepping down) is no one to forward to.
    const leader = role.leaderId === r?.selfId ? undefined : role.leaderName;
    const write = leader === undefined || remote === undefined ? Promise.reject(noLeader(s.name, this.vhost)) : remote.publish(leader, this.vhost, s.name, input);
    write.catch(() => {}); // a publish outside confirm mode has no one waiting for it
    return write;
  }

  private appenderOf(s: Stream): StreamAppender {
    let a = this.appenders.get(s);
    if (!a) {
      // Several partitions (grown by Kafka's CreatePartitions after AMQP bound it): partition 0.
      // Replicated: a batch counts (for confirms) once the high watermark passes it, as acks=all.
      a = new StreamAppender(
        s.partitions[0],
        (last) => this.committed(s, last),
        () => this.replication()?.role(this.vhost, s.name, 0)?.epoch,
      );
      this.appenders.set(s, a);
    }
    return a;
  }

  private committed(s: Stream, lastOffset: number): Promise<void> | undefined {
    return replicatedCommit(this.replication(), this.vhost, s.name, lastOffset);
  }

  /** Registers a consumer of `s`; returns the function that forgets it. */
  subscribe(s: Stream, sub: StreamSubscription): () => void {
    let set = this.subscriptions.get(s);
    if (!set) {
      set = new Set();
      this.subscriptions.set(s, set);
    }
    set.add(sub);
    return () => {
      const now = this.subscriptions.get(s);
      if (!now) return;
      now.delete(sub);
      if (now.size === 0) this.subscriptions.delete(s);
    };
  }

  /** The stream was deleted (AMQP queue.delete or Kafka DeleteTopics): its consumers are cancelled. */
  deleted(s: Stream): void {
    this.appenders.get(s)?.flush();
    this.appenders.delete(s);
    const subs = this.subscriptions.get(s);
    this.subscriptions.delete(s);
    if (subs) for (const sub of subs) sub.cancelledByBroker();
  }
}

function multiPartition(s: Stream, vhost: string): BrokerError {
  return preconditionFailed(
    `queue '${s.name}' in vhost '${vhost}' is a stream with ${s.partitions.length} partitions; ` +
      'only a stream of one partition is a stream queue (docs/streams.md)',
  );
}

function noLeader(name: string, vhost: string): BrokerError {
  return new BrokerError('not-found', `stream queue '${name}' in vhost '${vhost}' has no leader at the moment; retry shortly`);
}

function asBrokerError(err: unknown): unknown {
  if (err instanceof ReplicationError) return new BrokerError('internal-error', `cannot replicate the stream queue: ${err.message}`, true);
  if (!(err instanceof StreamError)) return err;
  if (err.kind === 'invalid-config') return preconditionFailed(err.message);
  return new BrokerError('internal-error', err.message, true);
}
