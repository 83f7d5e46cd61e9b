// A virtual host: its exchanges, queues and bindings, and the publish path
// (route, write once to the log for durable queues, enqueue everywhere).

import { deadLetterContent, isDeadLetterCycle } from './dead-letter.js';
import { accessRefused, BrokerError, commandInvalid, notFound, preconditionFailed, resourceLocked } from './errors.js';
import { Exchange, type ExchangeType, type RouteTarget } from './exchange/exchange.js';
import { routeMessage, type RouteTopology } from './exchange/route.js';
import { senderSelectedKeys, withoutBcc } from './exchange/sender-selected.js';
import { StoredMessage, type Args, type MessageContent, type PublishInput, type QueueEntry } from './message.js';
import type { MessageStore } from './message-store.js';
import type { DelayedMessages } from './delayed/delayed-store.js';
import { parseQueueArgs } from './queue/args.js';
import { Queue, type DeathReason } from './queue/queue.js';
import { dropDuplicates, type KeyRecorder } from './queue/dedup.js';
import { randomBytes } from 'node:crypto';
import { StreamRegistry } from './stream/registry.js';
import type { GroupCoordinator, ReplicatedGroups } from './stream/groups/index.js';
import type { ReplicatedTransactions, TransactionCoordinator } from './stream/txn/index.js';
import { Stream, type StreamEnv } from './stream/stream.js';
import { declaresStream } from './stream/queue-args.js';
import { StreamQueues, type StreamQueueInfo } from './stream/stream-queues.js';
import type { StreamReplication } from './stream/replication.js';
import type { QueueReplication } from './queue/quorum-queues.js';
import { notSupported } from './session-streams.js';
import { MessageCounters } from './stats.js';
import { forwardRemote, type RemoteQueues } from './remote-queues.js';
import { applyToExchange, applyToQueue, applyToStream, type PolicyLookup } from './policy/apply.js';
import { PREDECLARED, persists, restoreTopology, snapshotTopology, type VhostSnapshot } from './vhost-topology.js';

export type { BindingDef, ExchangeDef, QueueDef, VhostSnapshot } from './vhost-topology.js';

/** What the vhost needs from the broker around it. */
export interface VhostContext {
  readonly store: MessageStore;
  /** Holds messages of x-delayed-message exchanges until they are due. */
  readonly delayed: DelayedMessages;
  /** Where de-duplication keys that must survive a restart go. */
  readonly dedup: KeyRecorder;
  nextMessageId(): number;
  nextQueueId(): number;
  /** Durable topology changed: persist it. */
  topologyChanged(): void;
  /** Resolves once the durable topology changes made so far (streams included) are on disk. */
  topologySaved(): Promise<void>;
  queueError(queue: string, err: unknown): void;
  /** Broker-wide consumer (ack) timeout in ms; 0 for none. Queues may override it. */
  readonly consumerTimeoutMs: number;
  /** Where streams keep their files. */
  readonly streamEnv: StreamEnv;
  nextStreamId(): number;
  /** Policies and operator policies (src/broker/policy/); none when absent. */
  readonly policies?: PolicyLookup;
  /** The vhost's max-queues limit, if it has one. */
  queueLimit?(): number | undefined;
  /** The cluster's stream replication (docs/cluster.md); undefined on a single node. */
  replication?(): StreamReplication | undefined;
  /** The cluster's quorum queue replication (docs/cluster.md); undefined on a single node. */
  quorum?(): QueueReplication | undefined;
  /** In a cluster: the home of a queue homed on another node (undefined: its messages are here). */
  remoteHome?(vhost: string, queue: string): string | undefined;
  /** Forwards copies to queues homed elsewhere (set with remoteHome). */
  readonly remote?: RemoteQueues;
}

export interface PublishOutcome {
  /** Queues the message was routed to (a queue that dropped it as a duplicate counts). */
  readonly queues: number;
  /** Written to the log for a durable queue, or a durable de-duplication key: a confirm must wait for sync. */
  readonly needsSync: boolean;
  /** A queue refused it (x-overflow reject-publish/-dlx): under confirms it is nacked. */
  readonly rejected: boolean;
  /** A queue it went to is in flow control (Queue.flowWait): the publisher should stop reading until this resolves. */
  readonly flow?: Promise<void>;
  /** The properties as stored, when the broker changed them (BCC removed): what a basic.return carries. */
  readonly properties?: Buffer;
  /** Appended to a stream: resolves once durable there (a confirm waits for it), rejects if the write failed. */
  readonly streamWrite?: Promise<void>;
}

/** What queue.declare reports. */
export type DeclaredQueue = Queue | StreamQueueInfo;

const NOT_ROUTED: PublishOutcome = { queues: 0, needsSync: false, rejected: false };

/** What dead-lettering one message did. */
interface DeadLetterCopies {
  /** Written for a durable queue: a confirm waits for the sync. */
  readonly written: boolean;
  /** Held by a delayed exchange whose log a confirm (or the source's Ack) waits for. */
  readonly heldSync: boolean;
  /** A delayed exchange could not hold it (its log failed or is closed): the source must keep it. */
  readonly holdFailed: boolean;
}

const NO_COPIES: DeadLetterCopies = { written: false, heldSync: false, holdFailed: false };

const EXCHANGE_TYPES: ReadonlySet<string> = new Set(['direct', 'fanout', 'topic', 'headers', 'x-delayed-message']);


export class Vhost {
  readonly exchanges = new Map<string, Exchange>();
  readonly queues = new Map<string, Queue>();
  /** Direct reply-to addresses (amq.rabbitmq.reply-to.*) to their channel's delivery. */
  readonly directReplies = new Map<string, (content: MessageContent) => void>();
  /** Streams (Kafka topics, AMQP stream queues); their names share the queues' namespace. */
  readonly streams: StreamRegistry;
  /** Streams of one partition as AMQP queues (RabbitMQ's stream queues). */
  readonly streamQueues: StreamQueues;
  /** Consumer groups over the streams (set by the broker once their offsets log is open). */
  groups: GroupCoordinator | undefined;
  /** In a cluster, the groups this node coordinates (Broker.clusterGroups makes it on first use). */
  clusterGroups: ReplicatedGroups | undefined;
  /** Transactions over the streams (set by the broker once their log is open, after the groups). */
  transactions: TransactionCoordinator | undefined;
  /** In a cluster, the transactions this node coordinates (Broker.clusterTransactions makes it on first use). */
  clusterTransactions: ReplicatedTransactions | undefined;
  /** Message counters for the management API and metrics (message_stats). */
  readonly stats = new MessageCounters();
  private closed = false;
  /** Names routing looks up: queues (and stream queues) for the default exchange, alternate exchanges. */
  private readonly topology: RouteTopology = {
    queue: (name) => this.queues.get(name) ?? this.streamQueues.get(name),
    exchange: (name) => this.exchanges.get(name),
  };

  constructor(
    readonly name: string,
    private readonly ctx: VhostContext,
  ) {
    this.streams = new StreamRegistry({
      env: ctx.streamEnv,
      vhost: name,
      nextStreamId: () => ctx.nextStreamId(),
      queueExists: (n) => this.queues.has(n),
      streamRemoved: (stream) => this.streamRemoved(stream),
      streamDeleted: async (n) => {
        await this.groups?.onTopicDeleted(n);
        await this.clusterGroups?.onTopicDeleted(n);
      },
      topologyChanged: () => {
        ctx.topologyChanged();
        return ctx.topologySaved();
      },
    });
    this.streamQueues = new StreamQueues(name, this.streams, () => ctx.replication?.(), () => ctx.remote);
    for (const [n, type] of PREDECLARED) {
      this.exchanges.set(n, new Exchange({ name: n, type, durable: true, autoDelete: false, internal: false, args: {}, vhost: name }));
    }
  }

  /** A policy of this vhost was set, changed or cleared: every queue and exchange gets its policies again, at once. */
  applyPolicies(): void {
    for (const x of this.exchanges.values()) applyToExchange(this.ctx.policies, x);
    for (const q of this.queues.values()) applyToQueue(this.ctx.policies, q);
    for (const s of this.streams.list()) applyToStream(this.ctx.policies, this.name, s);
  }

  // --- exchanges ---------------------------------------------------------

  declareExchange(
    name: string,
    type: string,
    o: { passive: boolean; durable: boolean; autoDelete: boolean; internal: boolean; args: Args },
  ): Exchange {
    // RabbitMQ refuses even a passive declare of the default exchange.
    if (name === '') throw accessRefused('operation not permitted on the default exchange');
    const existing = this.exchanges.get(name);
    if (o.passive) {
      if (!existing) throw notFound('exchange', name, this.name);
      return existing;
    }
    if (name.startsWith('amq.') && !existing) {
      throw accessRefused(`exchange name '${name}' contains reserved prefix 'amq.*'`);
    }
    if (!EXCHANGE_TYPES.has(type)) throw commandInvalid(`unknown exchange type '${type}'`);
    const t = type as ExchangeType;
    if (existing) {
      existing.checkEquivalent({ ...o, type: t });
      return existing;
    }
    const ex = new Exchange({ name, type: t, durable: o.durable, autoDelete: o.autoDelete, internal: o.internal, args: o.args, vhost: this.name });
    applyToExchange(this.ctx.policies, ex);
    this.exchanges.set(name, ex);
    if (ex.durable) this.ctx.topologyChanged();
    return ex;
  }

  deleteExchange(name: string, ifUnused: boolean): void {
    if (name === '') throw accessRefused('operation not permitted on the default exchange');
    if (name.startsWith('amq.')) {
      throw accessRefused(`deletion of system exchange '${name}' in vhost '${this.name}' not allowed`);
    }
    const ex = this.exchanges.get(name);
    if (!ex) return; // RabbitMQ: deleting a missing exchange succeeds
    if (ifUnused && (ex.router.size > 0 || this.isBindingDestination(ex))) {
      throw preconditionFailed(`exchange '${name}' in vhost '${this.name}' in use`);
    }
    this.removeExchange(ex);
  }

  /**
   * Sets (or, with undefined, removes) one argument of an exchange: metadata an adapter keeps
   * on it (SNS topic attributes and tags), persisted with the topology. Not for arguments that
   * routing reads when the exchange is made (alternate-exchange, x-delayed-type).
   */
  setExchangeArgument(name: string, key: string, value: unknown): void {
    const ex = this.getExchange(name);
    const args: Record<string, unknown> = { ...ex.args };
    if (value === undefined) delete args[key];
    else args[key] = value;
    ex.args = args;
    if (ex.durable) this.ctx.topologyChanged();
  }

  getExchange(name: string): Exchange {
    const ex = this.exchanges.get(name);
    if (!ex) throw notFound('exchange', name, this.name);
    return ex;
  }

  // --- queues ------------------------------------------------------------

  /** queue.declare; a stream queue's (new, or a name a stream holds) resolves once it is on disk. */
  declareQueue(
    requestedName: string,
    o: { passive: boolean; durable: boolean; exclusive: boolean; autoDelete: boolean; args: Args; reserved?: boolean },
    connectionId: string,
    authorize?: (name: string) => void,
  ): DeclaredQueue | Promise<DeclaredQueue> {
    if (o.passive) {
      const q = this.queues.get(requestedName);
      if (!q && this.streamQueues.holds(requestedName)) return this.streamQueues.info(this.streamQueues.require(requestedName));
      return this.getQueue(requestedName, connectionId);
    }
    if (requestedName === '' && declaresStream(o.args)) {
      throw preconditionFailed('Cannot declare a server-named queue for type rabbit_stream_queue');
    }
    const name = requestedName === '' ? `amq.gen-${randomBytes(16).toString('base64url').slice(0, 22)}` : requestedName;
    // `reserved`: an adapter's own queue (SNS's HTTP subscriptions), never a client's declare.
    if (requestedName.startsWith('amq.') && o.reserved !== true) {
      throw accessRefused(`queue name '${requestedName}' contains reserved prefix 'amq.*'`);
    }
    // The caller's permission check, on the generated name for a server-named queue (RabbitMQ's order).
    authorize?.(name);
    if (!this.queues.has(name) && !this.streamQueues.holds(name)) this.checkQueueLimit(name);
    if (this.streamQueues.holds(name) || (!this.queues.has(name) && declaresStream(o.args))) {
      return this.streamQueues.declare({ queue: name, vhost: this.name, ...o }).then((info) => {
        const s = this.streamQueues.get(name);
        if (s) applyToStream(this.ctx.policies, this.name, s);
        return info;
      });
    }
    const existing = this.queues.get(name);
    // x-queue-type stream for a classic queue: RabbitMQ's equivalence check answers it.
    const config = existing && declaresStream(o.args) ? existing.config : parseQueueArgs(o.args, { queue: name, vhost: this.name }, o);
    if (existing) {
      this.checkExclusive(existing, connectionId);
      existing.checkEquivalent(o.durable, o.autoDelete, o.exclusive, o.args);
      existing.touch();
      return existing;
    }
    // In a cluster a quorum queue's messages live in its replicated log (quorum-queues.ts), not
    // in this node's message log and topology: id 0.
    const quorum = config.queueType === 'quorum' ? this.ctx.quorum?.() : undefined;
    // Exclusive queues die with their connection: they are never persisted.
    const persisted = o.durable && !o.exclusive && quorum === undefined;
    const q = new Queue(
      {
        name,
        id: persisted ? this.ctx.nextQueueId() : 0,
        durable: o.durable,
        autoDelete: o.autoDelete,
        exclusiveOwner: o.exclusive ? connectionId : undefined,
        args: o.args,
        vhost: this.name,
        config,
      },
      this.ctx.store,
    );
    applyToQueue(this.ctx.policies, q);
    this.addQueue(q);
    if (persisted) this.ctx.topologyChanged();
    if (quorum !== undefined) {
      return quorum.declared(this, q).then(
        () => q,
        (err: unknown) => {
          this.removeQueue(q);
          throw err instanceof BrokerError ? err : new BrokerError('internal-error', `cannot replicate queue '${name}' in vhost '${this.name}': ${(err as Error).message}`, true);
        },
      );
    }
    return q;
  }

  /** Throws unless this node may serve consumers of `q` now (a quorum queue in a cluster: its leader). */
  checkServing(q: Queue): void {
    if (q.journal !== undefined) this.ctx.quorum?.()?.checkServing(q);
  }

  /**
   * Replaces a queue's arguments in place (what SQS's SetQueueAttributes needs; AMQP's
   * queue.declare cannot), validated as a declare's, in force at once as a policy change
   * is (Queue.reconfigure), and saved with the topology. The arguments fixed at creation
   * (x-queue-type, x-max-priority, x-message-deduplication) must not change.
   */
  setQueueArgs(name: string, args: Args): Queue {
    const q = this.queues.get(name);
    if (!q) throw notFound('queue', name, this.name);
    for (const fixed of ['x-queue-type', 'x-max-priority', 'x-message-deduplication']) {
      if (!sameArgValue(args[fixed], q.args[fixed])) throw preconditionFailed(`cannot change arg '${fixed}' of queue '${name}' in vhost '${this.name}'`);
    }
    const config = parseQueueArgs(args, { queue: name, vhost: this.name }, { durable: q.durable, exclusive: q.exclusiveOwner !== undefined });
    q.redeclare(args, config);
    applyToQueue(this.ctx.policies, q);
    if (q.persistsMessages) this.ctx.topologyChanged();
    return q;
  }

  /** RabbitMQ's max-queues vhost limit: 406 on the declare that would pass it. */
  private checkQueueLimit(name: string): void {
    const max = this.ctx.queueLimit?.();
    if (max !== undefined && max >= 0 && this.queues.size + this.streams.size >= max) {
      throw preconditionFailed(`cannot declare queue '${name}': queue limit in vhost '${this.name}' (${max}) is reached`);
    }
  }

  addQueue(q: Queue): void {
    q.onUnused = (queue) => this.removeQueue(queue);
    q.onIdle = (queue) => this.removeQueue(queue);
    q.onError = (queue, err) => this.ctx.queueError(queue.name, err);
    q.onDeadLetter = (queue, entries, reason) => this.deadLetter(queue, entries, reason);
    this.queues.set(q.name, q);
    // Every queue is bound to the default exchange by its name.
  }

  /** The broker is closing: queues stop their timers, and nothing more is dead-lettered into the log. */
  close(): void {
    this.closed = true;
    for (const q of this.queues.values()) q.stop();
  }

  /** Resolves once the topology changes made so far are on disk (a queue's deletion, say). */
  topologySaved(): Promise<void> {
    return this.ctx.topologySaved();
  }

  /** Broker-wide consumer timeout (ms, 0 for none); x-consumer-timeout overrides it per queue. */
  get consumerTimeoutMs(): number {
    return this.ctx.consumerTimeoutMs;
  }

  /** Look up a queue the connection may use (exclusive queues: only their owner). */
  getQueue(name: string, connectionId: string): Queue {
    const q = this.queues.get(name);
    if (!q) throw notFound('queue', name, this.name);
    this.checkExclusive(q, connectionId);
    return q;
  }

  /** A classic queue, or the stream queue of that name, for binding, consuming and the like. */
  getQueueOrStream(name: string, connectionId: string): Queue | Stream {
    if (!this.queues.has(name) && this.streamQueues.holds(name)) return this.streamQueues.require(name);
    return this.getQueue(name, connectionId);
  }

  /** queue.purge; RabbitMQ refuses it for stream queues (540, connection). */
  purgeQueue(name: string, connectionId: string): number {
    const q = this.getQueueOrStream(name, connectionId);
    if (q instanceof Stream) throw notSupported('queue.purge', q.name, this.name);
    this.checkServing(q);
    return q.purge();
  }

  /** Reading a stream for a consumer failed. */
  streamError(name: string, err: unknown): void {
    this.ctx.queueError(name, err);
  }

  /** queue.delete; deleting a stream queue deletes the stream (for Kafka too) and resolves once that is durable. */
  deleteQueue(name: string, o: { ifUnused: boolean; ifEmpty: boolean }, connectionId: string): number | Promise<number> {
    const q = this.queues.get(name);
    const stream = q ? undefined : this.streamQueues.get(name);
    if (stream) return this.streamQueues.delete(stream);
    if (!q) return 0; // RabbitMQ: deleting a missing queue succeeds with 0 messages
    this.checkExclusive(q, connectionId);
    if (o.ifUnused && q.consumerCount > 0) throw preconditionFailed(`queue '${name}' in vhost '${this.name}' in use`);
    if (o.ifEmpty && q.messageCount > 0) throw preconditionFailed(`queue '${name}' in vhost '${this.name}' not empty`);
    const quorum = q.journal !== undefined ? this.ctx.quorum?.() : undefined;
    if (quorum !== undefined) {
      const count = this.removeQueue(q);
      return quorum.deleted(this, name).then(() => count);
    }
    return this.removeQueue(q);
  }

  removeQueue(q: Queue): number {
    if (this.queues.get(q.name) !== q) return 0;
    this.queues.delete(q.name);
    for (const ex of this.exchanges.values()) {
      if (ex.router.unbindAll(q) > 0) this.maybeAutoDeleteExchange(ex);
    }
    // Marked before q.delete(): its consumers are told once the deletion is on disk (Session.consumerGone).
    if (q.persistsMessages) this.ctx.topologyChanged();
    return q.delete();
  }

  /** Exclusive queues owned by a closing connection are deleted. */
  connectionClosed(connectionId: string): void {
    for (const q of [...this.queues.values()]) if (q.exclusiveOwner === connectionId) this.removeQueue(q);
  }

  // --- bindings ----------------------------------------------------------

  bindQueue(queueName: string, exchangeName: string, routingKey: string, args: Args, connectionId: string): void {
    const q = this.getQueueOrStream(queueName, connectionId);
    const ex = this.bindableExchange(exchangeName);
    if (ex.router.bind(q, routingKey, args) && ex.durable && persists(q)) this.ctx.topologyChanged();
  }

  /** RabbitMQ 3.x: unbinding with a missing queue or exchange succeeds (idempotent). */
  unbindQueue(queueName: string, exchangeName: string, routingKey: string, args: Args, connectionId: string): void {
    if (exchangeName === '') throw accessRefused('operation not permitted on the default exchange');
    const ex = this.exchanges.get(exchangeName);
    if ((!this.queues.has(queueName) && !this.streamQueues.get(queueName)) || !ex) return;
    const q = this.getQueueOrStream(queueName, connectionId);
    if (ex.router.unbind(q, routingKey, args)) {
      if (ex.durable && persists(q)) this.ctx.topologyChanged();
      this.maybeAutoDeleteExchange(ex);
    }
  }

  bindExchange(destination: string, source: string, routingKey: string, args: Args): void {
    const dest = this.bindableExchange(destination);
    const src = this.bindableExchange(source);
    if (src.router.bind(dest, routingKey, args) && src.durable && dest.durable) this.ctx.topologyChanged();
  }

  unbindExchange(destination: string, source: string, routingKey: string, args: Args): void {
    if (destination === '' || source === '') throw accessRefused('operation not permitted on the default exchange');
    const dest = this.exchanges.get(destination);
    const src = this.exchanges.get(source);
    if (!dest || !src) return;
    if (src.router.unbind(dest, routingKey, args)) {
      if (src.durable && dest.durable) this.ctx.topologyChanged();
      this.maybeAutoDeleteExchange(src);
    }
  }

  // --- publish -----------------------------------------------------------

  /** Throws as publish would for a missing or internal exchange. */
  checkPublishable(exchange: string): void {
    const ex = this.getExchange(exchange);
    if (ex.internal) throw accessRefused(`cannot publish to internal exchange '${ex.name}' in vhost '${this.name}'`);
  }

  /**
   * Route and enqueue one message. Throws when the exchange is missing or internal, or
   * the CC/BCC headers are not arrays (checked before anything is routed, as RabbitMQ).
   */
  publish(input: PublishInput): PublishOutcome {
    const ex = this.exchanges.get(input.exchange);
    if (!ex) throw notFound('exchange', input.exchange, this.name);
    if (ex.internal) throw accessRefused(`cannot publish to internal exchange '${ex.name}' in vhost '${this.name}'`);
    this.stats.publish++;
    ex.stats.publishIn++;
    // Ready later: held (on disk, per the fsync policy) and published to the exchange as it is when due.
    if (input.delayMs !== undefined && input.delayMs > 0) return this.ctx.delayed.holdLater(this, ex, input, input.delayMs);
    // Sender-selected distribution costs nothing for a publish without headers.
    const ccKeys = input.headers === undefined ? undefined : senderSelectedKeys(input.headers);
    if (ex.isDefault && input.routingKey.startsWith('amq.rabbitmq.reply-to.')) return this.publishDirectReply(input);
    const stored = ccKeys === undefined ? input : withoutBcc(input);
    const held: Exchange[] = [];
    const targets = routeMessage(ex, { routingKey: input.routingKey, ccKeys, headers: stored.headers, body: input.body }, this.topology, held);
    // Delayed exchanges hold the message as published (BCC included), so its release routes by the same keys.
    const heldSync = this.holdAt(held, input);
    if (targets.length === 0) {
      if (held.length > 0) return { queues: held.length, needsSync: heldSync, rejected: false };
      if (input.mandatory) this.stats.returnUnroutable++;
      else this.stats.dropUnroutable++;
      return stored === input ? NOT_ROUTED : { ...NOT_ROUTED, properties: stored.properties };
    }
    ex.stats.publishOut++;
    // Routing names queues and stream queues alike; each kind is written its own way.
    const { queues: routed, streams } = splitTargets(targets);
    // Copies for queues homed on other nodes (a classic queue's home, a quorum queue's leader) go there.
    const local = forwardRemote(this.name, routed, stored, this.ctx);
    const forwarded = local.forwarded;
    const { plain: queues, replicated } = byJournal(local.queues);
    let out: PublishOutcome;
    if (forwarded) out = queues.length === 0 ? { queues: 0, needsSync: false, rejected: false } : this.enqueue(stored, queues, Date.now());
    else if (!streams) out = this.enqueue(stored, queues, Date.now());
    else if (queues.length === 0) out = { queues: streams.length, needsSync: false, rejected: false, streamWrite: this.streamQueues.publish(streams, stored) };
    else {
      const enqueued = this.enqueue(stored, queues, Date.now());
      out = { ...enqueued, queues: enqueued.queues + streams.length, streamWrite: this.streamQueues.publish(streams, stored) };
    }
    if (forwarded) {
      // Routed to a queue homed elsewhere counts as routed; the confirm waits for the home's (and for a stream's write).
      const streamWrite = streams ? Promise.all([forwarded.write, this.streamQueues.publish(streams, stored)]).then(() => undefined) : forwarded.write;
      out = { ...out, queues: out.queues + forwarded.count + (streams?.length ?? 0), streamWrite };
    }
    if (replicated) out = this.publishReplicated(stored, replicated, out);
    return held.length === 0 ? out : { ...out, queues: out.queues + held.length, needsSync: out.needsSync || heldSync };
  }

  /**
   * One message straight onto the given queues, no routing: for an adapter that picks the
   * destinations itself (an SNS publish, one body per subscription). `input.exchange` is
   * recorded as the message's exchange; the outcome is as for publish().
   */
  publishTo(input: PublishInput, queues: readonly Queue[]): PublishOutcome {
    this.stats.publish++;
    const ex = this.exchanges.get(input.exchange);
    if (ex) ex.stats.publishIn++;
    const live = queues.filter((q) => this.queues.get(q.name) === q);
    if (live.length === 0) return NOT_ROUTED;
    if (ex) ex.stats.publishOut++;
    // A replicated quorum queue takes it through its log (a forwarded copy, an SNS delivery), never straight in.
    const { plain, replicated } = byJournal(live);
    if (!replicated) return this.enqueue(input, live, Date.now());
    const out = plain.length > 0 ? this.enqueue(input, plain, Date.now()) : { queues: 0, needsSync: false, rejected: false };
    return this.publishReplicated(input, replicated, out);
  }

  /**
   * A copy another node routed to stream queue `s`, led here (docs/cluster.md, "Stream queues"):
   * appended and committed here, never forwarded again; refused (a basic.nack to the node that
   * sent it) when this node no longer leads it, so a copy never travels between two stale views.
   */
  publishToStream(input: PublishInput, s: Stream): PublishOutcome {
    this.stats.publish++;
    if (!this.streamQueues.leadsHere(s)) return { queues: 1, needsSync: false, rejected: true };
    return { queues: 1, needsSync: false, rejected: false, streamWrite: this.streamQueues.publish([s], input) };
  }

  /** Checks a publish buffered by a transaction, so it fails now rather than at the commit (as RabbitMQ). */
  checkPublish(input: PublishInput): void {
    this.getExchange(input.exchange);
    if (input.headers !== undefined) senderSelectedKeys(input.headers);
  }

  /** Enqueues a routed message on its queues (those with room, not holding it as a duplicate). */
  private enqueue(input: PublishInput, routed: readonly Queue[], now: number): PublishOutcome {
    // x-overflow reject-publish: a full queue refuses the message before it is written anywhere
    // (and before its de-duplication key is recorded, so a retry is not mistaken for a duplicate).
    let refused: Queue[] | undefined;
    for (const q of routed) if (q.refuses(input.body.length)) (refused ??= []).push(q);
    const accepting = refused ? routed.filter((q) => !refused.includes(q)) : routed;
    const { queues: targets, keySync } = dropDuplicates(accepting, input, now, this.ctx.dedup);
    if (targets.length === 0 && !refused) return { queues: routed.length, needsSync: keySync, rejected: false };
    const msg = new StoredMessage(
      this.ctx.nextMessageId(),
      input.persistent,
      input.body.length,
      { exchange: input.exchange, routingKey: input.routingKey, properties: input.properties, body: input.body },
      undefined,
      now,
      input.expiration,
      input.priority,
    );
    let needsSync = this.writeForDurable(msg, targets);
    this.hold(msg);
    for (const q of targets) q.enqueue(msg, now);
    if (refused) {
      for (const q of refused) {
        if (q.config.overflow === 'reject-publish-dlx' && msg.content) {
          const copies = this.deadLetterCopies(q, msg.content, msg, 'maxlen', now);
          needsSync = copies.written || copies.heldSync || needsSync;
        }
      }
    }
    this.unhold(msg);
    let flow: Promise<void> | undefined;
    for (const q of targets) flow ??= q.flowWait();
    return {
      queues: routed.length,
      needsSync: needsSync || keySync,
      rejected: refused !== undefined,
      flow,
    };
  }

  /**
   * Quorum queues in a cluster (Queue.journal set): the message goes to each one's replicated log
   * and into the queue once committed; the confirm waits for that as for a stream write. A full
   * queue with x-overflow reject-publish refuses it first. Throws (a channel error) when this node
   * does not lead one of them (forwardRemote sends copies for a queue led elsewhere to its leader).
   */
  private publishReplicated(input: PublishInput, queues: readonly Queue[], out: PublishOutcome): PublishOutcome {
    const quorum = this.ctx.quorum?.();
    if (quorum === undefined) return this.enqueue(input, queues, Date.now());
    const writes: Promise<void>[] = out.streamWrite ? [out.streamWrite] : [];
    let rejected = out.rejected;
    for (const q of queues) {
      if (q.refuses(input.body.length)) rejected = true;
      else writes.push(quorum.publish(q, input));
    }
    const streamWrite = writes.length === 1 ? writes[0] : writes.length > 1 ? Promise.all(writes).then(() => undefined) : undefined;
    streamWrite?.catch(() => {});
    return { ...out, queues: out.queues + queues.length, rejected, ...(streamWrite ? { streamWrite } : {}) };
  }

  /** Delayed exchanges met on the way hold the message; true if a confirm must wait for the delayed log. */
  private holdAt(held: readonly Exchange[], input: PublishInput): boolean {
    let needsSync = false;
    for (const x of held) {
      const out = this.ctx.delayed.hold(this, x, input);
      if (out?.needsSync) needsSync = true;
    }
    return needsSync;
  }

  /** A reply straight to the requesting channel, never stored (RabbitMQ's direct reply-to). */
  private publishDirectReply(input: PublishInput): PublishOutcome {
    const deliver = this.directReplies.get(input.routingKey);
    if (!deliver) return NOT_ROUTED;
    deliver({ exchange: input.exchange, routingKey: input.routingKey, properties: input.properties, body: input.body });
    return { queues: 1, needsSync: false, rejected: false };
  }

  // --- dead lettering ----------------------------------------------------

  /**
   * Entries that left `q` (rejected, expired, over the length limit, over the delivery
   * limit) go to its dead-letter exchange. Paged-out content is read first. The copies'
   * Enqueue records and the source's Ack records go into one Batch record, so a crash
   * leaves the message in exactly one of the two places.
   */
  private deadLetter(q: Queue, entries: QueueEntry[], reason: DeathReason): void {
    const missing = entries.filter((e) => !e.msg.content && e.msg.written).map((e) => e.msg);
    if (missing.length === 0) {
      this.deadLetterNow(q, entries, reason);
      return;
    }
    this.ctx.store.load(missing).then(
      () => {
        // Closed meanwhile: left in the log (no Ack), so a restart brings them back.
        if (this.closed) for (const e of entries) q.forget(e);
        else this.deadLetterNow(q, entries, reason);
      },
      (err: unknown) => {
        // Unreadable now: left in the log (no Ack), so a restart brings them back.
        this.ctx.queueError(q.name, err);
        for (const e of entries) q.forget(e);
      },
    );
  }

  private deadLetterNow(q: Queue, entries: readonly QueueEntry[], reason: DeathReason): void {
    const store = this.ctx.store;
    const now = Date.now();
    let heldCopies: QueueEntry[] | undefined;
    store.beginBatch();
    try {
      for (const e of entries) {
        const copies = e.msg.content ? this.deadLetterCopies(q, e.msg.content, e.msg, reason, now) : NO_COPIES;
        // Not logged as removed: a restart brings it back rather than losing it.
        if (copies.holdFailed) q.forget(e);
        else if (copies.heldSync) (heldCopies ??= []).push(e);
        else q.dropEntry(e);
      }
    } finally {
      store.endBatch();
    }
    if (heldCopies) this.dropOnceHeld(q, heldCopies);
  }

  /**
   * A copy that a delayed exchange holds is in the delayed log, outside the Batch record:
   * the source keeps its message until that log is durable, so a crash in between leaves
   * the message in both places (delivered twice), never in neither.
   */
  private dropOnceHeld(q: Queue, entries: readonly QueueEntry[]): void {
    this.ctx.delayed.sync().then(
      () => {
        for (const e of entries) {
          if (this.closed) q.forget(e);
          else q.dropEntry(e);
        }
      },
      (err: unknown) => {
        this.ctx.queueError(q.name, err);
        for (const e of entries) q.forget(e);
      },
    );
  }

  /** Routes a dead-lettered copy of a message from `q`: written for a durable queue, held by a recoverable delayed exchange. */
  private deadLetterCopies(q: Queue, content: MessageContent, original: StoredMessage, reason: DeathReason, now: number): DeadLetterCopies {
    const dlxName = q.config.deadLetterExchange;
    const dlx = dlxName === undefined ? undefined : this.exchanges.get(dlxName);
    // RabbitMQ drops the message when the dead-letter exchange does not exist.
    if (!dlx) return NO_COPIES;
    const dl = deadLetterContent(content, { queue: q.name, reason, now, routingKey: q.config.deadLetterRoutingKey });
    const held: Exchange[] = [];
    const { queues: targets, streams } = splitTargets(routeMessage(dlx, { ...dl, body: content.body }, this.topology, held));
    const copy: PublishInput = {
      exchange: dlx.name,
      routingKey: dl.routingKey,
      mandatory: false,
      properties: dl.properties,
      body: content.body,
      persistent: original.persistent,
      headers: dl.headers,
      priority: dl.priority,
      expiration: -1,
      messageId: undefined,
    };
    // Not part of the Batch record that removes the source: at most once across a crash (docs/streams.md).
    if (streams) void this.streamQueues.publish(streams, copy);
    let heldSync = false;
    let holdFailed = false;
    try {
      heldSync = this.holdAt(held, copy);
    } catch (err) {
      // A timer or another client's ack got here: report it, never throw into them.
      this.ctx.queueError(q.name, err);
      holdFailed = true;
    }
    const accepted = targets.filter(
      (t) => !t.deleted && !isDeadLetterCycle(dl.headers, reason, t.name) && !t.refuses(content.body.length),
    );
    if (accepted.length === 0) return { written: false, heldSync, holdFailed };
    const msg = new StoredMessage(
      this.ctx.nextMessageId(),
      original.persistent,
      content.body.length,
      { exchange: dlx.name, routingKey: dl.routingKey, properties: dl.properties, body: content.body },
      undefined,
      now,
      -1,
      dl.priority,
    );
    const written = this.writeForDurable(msg, accepted);
    this.hold(msg);
    for (const t of accepted) t.enqueue(msg, now);
    this.unhold(msg);
    return { written, heldSync, holdFailed };
  }

  /**
   * A moved (replayed) message: routed from `exchange` to classic queues only, other than
   * `exclude` (the queue it leaves), written for the durable ones; inside the caller's
   * Batch record. Stream queues and delayed exchanges on the way are not written to (a move
   * is one atomic record). Returns how many queues took it; 0 leaves it where it was.
   */
  enqueueMoved(exchange: string, content: MessageContent, o: { persistent: boolean; priority: number; expiration: number; exclude: Queue | undefined; headers: Args | undefined }): number {
    const ex = this.exchanges.get(exchange);
    if (!ex) return 0;
    // Not by CC keys: a replay goes where it is sent, not to every queue the original publish named.
    const routed = routeMessage(ex, { routingKey: content.routingKey, ccKeys: undefined, headers: o.headers }, this.topology, []);
    const size = content.body.length;
    const targets = routed.filter((t): t is Queue => t instanceof Queue && t !== o.exclude && !t.deleted && !t.refuses(size));
    if (targets.length === 0) return 0;
    const now = Date.now();
    const msg = new StoredMessage(this.ctx.nextMessageId(), o.persistent, size, content, undefined, now, o.expiration, o.priority);
    this.writeForDurable(msg, targets);
    this.hold(msg);
    for (const t of targets) t.enqueue(msg, now);
    this.unhold(msg);
    return targets.length;
  }

  /** A persistent message is written once, naming every durable queue it goes to; true if written (a confirm waits for sync). */
  private writeForDurable(msg: StoredMessage, queues: readonly Queue[]): boolean {
    if (!msg.persistent || !msg.content) return false;
    const ids: number[] = [];
    for (const q of queues) if (q.persistsMessages) ids.push(q.id);
    if (ids.length === 0) return false;
    this.ctx.store.write(msg, ids, msg.content);
    return true;
  }

  /**
   * Pins a message while it is being enqueued on several queues: a no-ack consumer of the
   * first queue settles it at once, and without the pin its content would be dropped
   * before the other queues took it.
   */
  private hold(msg: StoredMessage): void {
    msg.refs++;
  }

  private unhold(msg: StoredMessage): void {
    if (--msg.refs > 0) return;
    this.ctx.store.release(msg);
    msg.content = undefined;
  }

  // --- persistence -------------------------------------------------------

  snapshot(): VhostSnapshot {
    return snapshotTopology(this);
  }

  /**
   * Rebuild durable topology at startup (queues get their recovered messages separately). Streams
   * are restored first (streams.restore), so bindings to stream queues find them.
   */
  restore(s: VhostSnapshot): void {
    restoreTopology(this, s, this.ctx);
  }

  // --- helpers -----------------------------------------------------------

  private bindableExchange(name: string): Exchange {
    if (name === '') throw accessRefused(`operation not permitted on the default exchange`);
    return this.getExchange(name);
  }

  private checkExclusive(q: Queue, connectionId: string): void {
    if (q.exclusiveOwner !== undefined && q.exclusiveOwner !== connectionId) {
      throw resourceLocked(
        `cannot obtain exclusive access to locked queue '${q.name}' in vhost '${this.name}'. ` +
          `It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.`,
      );
    }
  }

  /** A stream went (AMQP queue.delete or Kafka DeleteTopics): as for a deleted queue, its bindings and consumers go. */
  private streamRemoved(stream: Stream): void {
    this.streamQueues.deleted(stream);
    let unbound = false;
    for (const ex of this.exchanges.values()) {
      if (ex.router.unbindAll(stream) > 0) {
        unbound = true;
        this.maybeAutoDeleteExchange(ex);
      }
    }
    if (unbound) this.ctx.topologyChanged();
  }

  private isBindingDestination(ex: Exchange): boolean {
    for (const other of this.exchanges.values()) {
      for (const b of other.router.bindings()) if (b.destination === ex) return true;
    }
    return false;
  }

  private removeExchange(ex: Exchange): void {
    this.exchanges.delete(ex.name);
    ex.deleted = true;
    // Delayed exchanges' messages, and those published to it with a delay of their own (PublishInput.delayMs).
    this.ctx.delayed.dropExchange(ex);
    for (const other of this.exchanges.values()) {
      if (other.router.unbindAll(ex) > 0) this.maybeAutoDeleteExchange(other);
    }
    if (ex.durable) this.ctx.topologyChanged();
  }

  private maybeAutoDeleteExchange(ex: Exchange): void {
    // RabbitMQ: an auto-delete exchange goes when its last binding (as source) is removed.
    if (ex.autoDelete && ex.router.size === 0 && !ex.deleted && this.exchanges.get(ex.name) === ex) this.removeExchange(ex);
  }
}



/** Routed destinations by kind; no copy in the common case of queues only. */
function splitTargets(targets: readonly RouteTarget[]): { queues: readonly Queue[]; streams: Stream[] | undefined } {
  let streams: Stream[] | undefined;
  for (const t of targets) if (t instanceof Stream) (streams ??= []).push(t);
  if (!streams) return { queues: targets as readonly Queue[], streams };
  return { queues: targets.filter((t): t is Queue => t instanceof Queue), streams };
}

/** Queues held here: quorum queues of a cluster (Queue.journal set) apart; no copy when there are none. */
function byJournal(queues: readonly Queue[]): { plain: readonly Queue[]; replicated: Queue[] | undefined } {
  if (!queues.some((q) => q.journal !== undefined)) return { plain: queues, replicated: undefined };
  return { plain: queues.filter((q) => q.journal === undefined), replicated: queues.filter((q) => q.journal !== undefined) };
}

function sameArgValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) === JSON.stringify(b, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}
