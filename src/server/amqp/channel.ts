// One AMQP channel: a flat dispatcher from decoded methods to the broker
// session (LavinMQ's process_frame style), plus publisher confirms.
// Commands run in order; a command that must wait (a disk write, a read of
// paged-out content) holds back the ones after it on this channel only.

import type { MessageContent, PublishInput } from '../../broker/message.js';
import { DIRECT_REPLY_TO, Session, type DeliverySink, type Unroutable } from '../../broker/session.js';
import { checkStreamConsume, notSupported } from '../../broker/session-streams.js';
import { BrokerError, PartialTxCompletion, preconditionFailed } from '../../broker/errors.js';
import type { DeclaredQueue, PublishOutcome, Vhost } from '../../broker/vhost.js';
import type { ChannelInfo } from '../../broker/connections.js';
import {
  AmqpProtocolError,
  ReplyCode,
  decodeProperties,
  encodeProperties,
  type BasicProperties,
  type Command,
  type FieldTable,
  type Method,
  type MethodOf,
} from '../../protocol/amqp/index.js';
import { latencyTrace } from '../../util/latency-trace.js';
import type { Logger } from '../../util/logger.js';
import type { AmqpConnection } from './connection.js';
import { CLUSTER_LINK_USER, type AccessGrant } from '../../broker/access/index.js';
import { AmqpClientError, type Channel } from '../../client/amqp/index.js';
import { randomBytes } from 'node:crypto';
import { ClusterLinks, FORWARD_EXCHANGE_HEADER, FORWARD_ROUTING_KEY_HEADER, ForwardRefused } from './cluster-links.js';
import { ReplicationError } from '../../broker/stream/replication.js';
import { HERE, RemoteRelay, type ConsumeOptions } from './remote-relay.js';

let flowKeys = 0;

/** Commands queued behind an unfinished one before the connection stops reading. */
const BACKLOG_PAUSE_COMMANDS = 10_000;

export class AmqpChannel implements DeliverySink {
  private readonly session: Session;
  private readonly vhost: Vhost;
  /** The permission checks (RabbitMQ's table), made before each broker call they guard. */
  private readonly grant: AccessGrant;
  private busy = false;
  private readonly backlog: Command[] = [];
  private released = false;
  private confirmMode = false;
  private publishSeq = 0;
  private scheduledSeq = 0;
  /** Highest publish sequence number confirmed (acked or nacked): the rest are unconfirmed. */
  private confirmedSeq = 0;
  private batchNeedsSync = false;
  /** Appends to stream queues in this batch: its confirms wait for them to be durable. */
  private batchStreamWrites: Promise<void>[] = [];
  /** Publish sequence numbers of this batch that a full queue refused (x-overflow reject-publish): nacked. */
  private batchRejected: number[] = [];
  private confirmChain: Promise<void> = Promise.resolve();
  /** RabbitMQ: an empty queue name means the last queue declared on this channel. */
  private lastQueue = '';
  /** Operations on queues homed on other nodes, once this channel has one. */
  private relay: RemoteRelay | undefined;
  /** This channel's consumers of quorum queues led here: if this node stops leading, they follow the new leader. */
  private readonly quorumConsumers = new Map<string, { queue: string } & ConsumeOptions>();
  /** The client asked for basic.cancel when the broker cancels its consumer (RabbitMQ's capability). */
  private readonly notifiesCancel: boolean;
  /** basic.cancel notices that came while a command was unfinished: sent after its reply. */
  private heldCancels: string[] = [];
  /** Reading paused for publisher flow control (waitForFlow), under its own key. */
  private flowPaused = false;
  private readonly flowKey: string;
  /** Body bytes of publishes in the backlog, held in the connection's publish budget. */
  private backlogBytes = 0;
  /** Body bytes of this batch's confirm-mode publishes: held until their confirm is sent. */
  private batchHeldBytes = 0;

  constructor(
    readonly id: number,
    private readonly conn: AmqpConnection,
  ) {
    this.vhost = conn.vhost as Vhost;
    this.grant = conn.grant as AccessGrant;
    // Unique per channel object: a late resume from a closed channel cannot resume a reopened one.
    this.flowKey = `flow-${id}-${++flowKeys}`;
    this.session = new Session(this.vhost, conn.broker.store, conn.id, this);
    const caps = conn.clientProperties.capabilities as Record<string, unknown> | undefined;
    this.notifiesCancel = caps?.consumer_cancel_notify === true;
  }

  handle(cmd: Command): void {
    if (this.released) return;
    if (this.busy) {
      this.backlog.push(cmd);
      const bytes = cmd.body?.length ?? 0;
      if (bytes > 0) {
        this.backlogBytes += bytes;
        this.conn.publishBudget.hold(bytes);
      }
      // Backpressure: stop reading the socket while commands pile up behind a slow one.
      if (this.backlog.length === BACKLOG_PAUSE_COMMANDS) this.conn.pauseReading(this.id);
      return;
    }
    this.run(cmd);
  }

  /** End of one socket read: schedule confirms for the publishes it carried. */
  endOfBatch(): void {
    const held = this.batchHeldBytes;
    this.batchHeldBytes = 0;
    if (!this.confirmMode || this.publishSeq === this.scheduledSeq) {
      this.conn.publishBudget.release(held);
      return;
    }
    const upTo = this.publishSeq;
    // A queue declared a moment ago may still be on its way into meta.json: a confirm
    // waits for that too, or a crash could drop the queue and its confirmed messages.
    const waits: Promise<unknown>[] = this.batchStreamWrites;
    this.batchStreamWrites = [];
    if (this.batchNeedsSync) waits.push(this.conn.broker.store.sync(), this.conn.broker.topologySaved());
    const durable = waits.length > 0 ? Promise.all(waits) : undefined;
    const from = this.scheduledSeq + 1;
    this.scheduledSeq = upTo;
    const rejected = this.batchRejected;
    this.batchNeedsSync = false;
    if (rejected.length > 0) this.batchRejected = [];
    const readStartMs = latencyTrace?.readStartMs;
    this.confirmChain = this.confirmChain
      .then(() => durable)
      .then(
        () => {
          if (readStartMs) latencyTrace?.since('confirm', readStartMs, upTo - from + 1);
          this.sendConfirms(from, upTo, rejected);
          this.conn.publishBudget.release(held);
        },
        (err: unknown) => {
          // A leader moving or replaying its log refuses publishes for a moment (expected in a failover): a warning.
          const log = isFailoverRefusal(err) ? this.conn.log.warn : this.conn.log.error;
          log.call(this.conn.log, 'cannot make publishes durable (the message store, the replication or the home node of a queue), nacking them', { error: String(err) });
          this.sendIfOpen({ name: 'basic.nack', deliveryTag: upTo, multiple: true, requeue: false });
          this.conn.publishBudget.release(held);
        },
      );
  }

  /** basic.ack multiple for runs of accepted publishes, basic.nack for each refused one. */
  private sendConfirms(from: number, upTo: number, rejected: readonly number[]): void {
    this.confirmedSeq = upTo;
    this.vhost.stats.confirm += upTo - from + 1 - rejected.length;
    let next = from;
    for (const seq of rejected) {
      if (seq > next) this.sendIfOpen({ name: 'basic.ack', deliveryTag: seq - 1, multiple: true });
      this.sendIfOpen({ name: 'basic.nack', deliveryTag: seq, multiple: false, requeue: false });
      next = seq + 1;
    }
    if (upTo >= next) this.sendIfOpen({ name: 'basic.ack', deliveryTag: upTo, multiple: true });
  }

  resume(): void {
    if (!this.released) this.session.resume();
  }

  /** For the management API's channel list. */
  info(): ChannelInfo {
    return {
      number: this.id,
      ...this.session.info(),
      unconfirmed: this.confirmMode ? this.publishSeq - this.confirmedSeq : 0,
      confirm: this.confirmMode,
      transactional: this.session.inTx,
    };
  }

  /** channel.close commands waiting in the backlog (the client closed while a command was unfinished). */
  queuedCloses(): number {
    let n = 0;
    for (const cmd of this.backlog) if (cmd.method.name === 'channel.close') n++;
    return n;
  }

  /** The channel is gone (closed by either side, or the connection went). */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.backlog.length = 0;
    this.conn.publishBudget.release(this.backlogBytes);
    this.backlogBytes = 0;
    this.conn.resumeReading(this.id);
    this.conn.resumeReading(this.flowKey);
    this.session.close();
    this.relay?.close();
    this.grant.channelClosed();
  }

  // --- DeliverySink --------------------------------------------------------

  deliver(consumerTag: string, deliveryTag: number, redelivered: boolean, content: MessageContent): void {
    this.conn.sendContent(
      this.id,
      { name: 'basic.deliver', consumerTag, deliveryTag, redelivered, exchange: content.exchange, routingKey: content.routingKey },
      content.properties,
      content.body,
    );
  }

  writable(): boolean {
    return this.conn.writable();
  }

  stalled(): boolean {
    return this.conn.outputStalled();
  }

  timedOut(timeoutMs: number): void {
    if (this.released) return;
    // RabbitMQ's text, so people find the same advice.
    const text =
      `delivery acknowledgement on channel ${this.id} timed out. Timeout value used: ${timeoutMs} ms. ` +
      'This timeout value can be configured, see consumers doc guide to learn more';
    this.conn.handleError(preconditionFailed(text), this.id);
  }

  /**
   * RabbitMQ sends basic.cancel only to clients with the consumer_cancel_notify capability,
   * and a channel busy with a command (its own queue.delete, say) sends it after that
   * command's reply: a client that closes the channel on the cancel still gets its delete-ok.
   */
  consumerCancelled(consumerTag: string): void {
    if (this.released) return;
    const q = this.quorumConsumers.get(consumerTag);
    if (q !== undefined) {
      this.quorumConsumers.delete(consumerTag);
      // This node stopped leading the quorum queue: its consumer goes on from the new leader (RabbitMQ's do).
      const { queue, ...o } = q;
      if (this.conn.broker.quorum?.has(this.vhost.name, queue) === true && this.conn.broker.remote instanceof ClusterLinks) {
        this.relayed.follow(consumerTag, queue, o);
        return;
      }
    }
    this.notifyCancel(consumerTag);
  }

  /** basic.cancel to a client that asked for it (consumer_cancel_notify). */
  private notifyCancel(consumerTag: string): void {
    if (this.released || !this.notifiesCancel) return;
    if (this.busy) this.heldCancels.push(consumerTag);
    else this.conn.sendMethod(this.id, { name: 'basic.cancel', consumerTag, nowait: true });
  }

  private sendHeldCancels(): void {
    const tags = this.heldCancels;
    if (tags.length === 0) return;
    this.heldCancels = [];
    for (const consumerTag of tags) this.sendIfOpen({ name: 'basic.cancel', consumerTag, nowait: true });
  }

  // --- dispatch ------------------------------------------------------------

  private run(cmd: Command): void {
    let result: void | Promise<void>;
    try {
      result = this.execute(cmd);
    } catch (err) {
      this.fail(err, cmd.method);
      return;
    }
    if (result instanceof Promise) {
      this.busy = true;
      result.then(
        () => this.resumeBacklog(),
        (err: unknown) => {
          this.busy = false;
          this.fail(err, cmd.method);
        },
      );
    }
  }

  private resumeBacklog(): void {
    this.busy = false;
    this.sendHeldCancels();
    while (!this.busy && !this.released && this.backlog.length > 0) {
      const cmd = this.backlog.shift() as Command;
      const bytes = cmd.body?.length ?? 0;
      if (bytes > 0) {
        this.backlogBytes -= bytes;
        this.conn.publishBudget.release(bytes);
      }
      this.run(cmd);
    }
    if (this.backlog.length < BACKLOG_PAUSE_COMMANDS) this.conn.resumeReading(this.id);
    if (!this.busy) this.endOfBatch();
  }

  private fail(err: unknown, m: Method): void {
    if (this.released) return;
    this.conn.handleError(err, this.id, m);
  }

  private sendIfOpen(m: Method): void {
    if (!this.released) this.conn.sendMethod(this.id, m);
  }

  private execute(cmd: Command): void | Promise<void> {
    const m = cmd.method;
    switch (m.name) {
      case 'basic.publish':
        return this.publish(m, cmd);
      case 'basic.ack': {
        const relayed = this.relay?.settle(m.deliveryTag, m.multiple, 'ack') ?? false;
        if (relayed && !m.multiple) return;
        return this.session.ack(m.deliveryTag, m.multiple, relayed);
      }
      case 'basic.nack': {
        this.checkRelayedStream('basic.nack and basic.reject', m.deliveryTag, m.multiple);
        const relayed = this.relay?.settle(m.deliveryTag, m.multiple, m.requeue ? 'requeue' : 'reject') ?? false;
        if (relayed && !m.multiple) return;
        return this.session.nack(m.deliveryTag, m.multiple, m.requeue, relayed);
      }
      case 'basic.reject':
        this.checkRelayedStream('basic.nack and basic.reject', m.deliveryTag, false);
        if (this.relay?.settle(m.deliveryTag, false, m.requeue ? 'requeue' : 'reject')) return;
        return this.session.nack(m.deliveryTag, false, m.requeue);
      case 'basic.qos':
        return this.qos(m);
      case 'basic.consume':
        return this.consume(m);
      case 'basic.cancel':
        if (this.relay?.hasConsumer(m.consumerTag)) {
          return this.relay.cancel(m.consumerTag).then(() => {
            if (!m.nowait) this.sendIfOpen({ name: 'basic.cancel-ok', consumerTag: m.consumerTag });
          });
        }
        this.quorumConsumers.delete(m.consumerTag);
        this.session.cancel(m.consumerTag);
        if (!m.nowait) this.send({ name: 'basic.cancel-ok', consumerTag: m.consumerTag });
        return;
      case 'basic.get':
        return this.get(m);
      case 'basic.recover':
      case 'basic.recover-async':
        if (!m.requeue) throw new AmqpProtocolError(ReplyCode.NOT_IMPLEMENTED, 'requeue=false');
        this.checkRelayedStream('basic.recover', 0, true);
        this.session.recover();
        if (this.relay !== undefined) {
          return this.relay.recover().then(() => {
            if (m.name === 'basic.recover') this.sendIfOpen({ name: 'basic.recover-ok' });
          });
        }
        if (m.name === 'basic.recover') this.send({ name: 'basic.recover-ok' });
        return;
      case 'channel.close':
        this.release();
        this.conn.channelClosedByClient(this.id);
        return;
      case 'channel.close-ok':
        return;
      case 'channel.flow':
        this.session.flow(m.active);
        this.send({ name: 'channel.flow-ok', active: m.active });
        return;
      case 'exchange.declare':
        return this.exchangeDeclare(m);
      case 'exchange.delete':
        this.grant.exchangeDelete(m.exchange);
        return this.topology(() => this.vhost.deleteExchange(m.exchange, m.ifUnused), () => this.afterTopology(m.nowait, { name: 'exchange.delete-ok' }));
      case 'exchange.bind':
        this.grant.exchangeBind(m.destination, m.source, m.routingKey, this.isTopic(m.source));
        return this.topology(() => this.vhost.bindExchange(m.destination, m.source, m.routingKey, m.arguments), () => this.afterTopology(m.nowait, { name: 'exchange.bind-ok' }));
      case 'exchange.unbind':
        this.grant.exchangeBind(m.destination, m.source, m.routingKey, this.isTopic(m.source));
        return this.topology(() => this.vhost.unbindExchange(m.destination, m.source, m.routingKey, m.arguments), () => this.afterTopology(m.nowait, { name: 'exchange.unbind-ok' }));
      case 'queue.declare':
        return this.queueDeclare(m);
      case 'queue.bind':
        this.grant.queueBind(this.queueName(m.queue), m.exchange, m.routingKey, this.isTopic(m.exchange));
        return this.topology(() => this.vhost.bindQueue(this.queueName(m.queue), m.exchange, m.routingKey, m.arguments, this.conn.id), () => this.afterTopology(m.nowait, { name: 'queue.bind-ok' }));
      case 'queue.unbind':
        this.grant.queueBind(this.queueName(m.queue), m.exchange, m.routingKey, this.isTopic(m.exchange));
        return this.topology(() => this.vhost.unbindQueue(this.queueName(m.queue), m.exchange, m.routingKey, m.arguments, this.conn.id), () => this.afterTopology(false, { name: 'queue.unbind-ok' }));
      case 'queue.purge': {
        this.grant.purge(this.queueName(m.queue));
        const purgeHome = this.remoteHome(this.queueName(m.queue));
        if (purgeHome !== undefined) {
          return this.atHome(purgeHome, this.queueName(m.queue), (ch) => ch.queuePurge(this.queueName(m.queue))).then((messageCount) => {
            if (!m.nowait) this.sendIfOpen({ name: 'queue.purge-ok', messageCount });
          });
        }
        const messageCount = this.vhost.purgeQueue(this.queueName(m.queue), this.conn.id);
        if (!m.nowait) this.send({ name: 'queue.purge-ok', messageCount });
        return;
      }
      case 'queue.delete': {
        this.grant.queueDelete(this.queueName(m.queue));
        const name = this.queueName(m.queue);
        const home = this.remoteHome(name);
        // On the home: if-unused and if-empty are its to check; its delete reaches every node through etcd.
        if (home !== undefined) {
          return this.atHome(home, name, (ch) => ch.queueDelete(name, { ifUnused: m.ifUnused, ifEmpty: m.ifEmpty }))
            .then((messageCount) => this.afterTopology(m.nowait, { name: 'queue.delete-ok', messageCount }));
        }
        return this.topology(
          () => this.vhost.deleteQueue(name, { ifUnused: m.ifUnused, ifEmpty: m.ifEmpty }, this.conn.id),
          (deleted) => {
            if (typeof deleted === 'number') return this.afterTopology(m.nowait, { name: 'queue.delete-ok', messageCount: deleted });
            return deleted.then((messageCount) => this.afterTopology(m.nowait, { name: 'queue.delete-ok', messageCount }));
          },
        );
      }
      case 'tx.select':
        if (this.confirmMode) throw preconditionFailed('cannot switch from confirm to tx mode');
        this.session.txSelect();
        this.relay?.txSelect();
        this.send({ name: 'tx.select-ok' });
        return;
      case 'tx.commit':
        return this.txCommit();
      case 'tx.rollback':
        this.session.txRollback();
        this.relay?.txRollback();
        this.send({ name: 'tx.rollback-ok' });
        return;
      case 'confirm.select':
        if (this.session.inTx) throw preconditionFailed('cannot switch from tx to confirm mode');
        this.confirmMode = true;
        if (!m.nowait) this.send({ name: 'confirm.select-ok' });
        return;
      case 'access.request':
        this.send({ name: 'access.request-ok', ticket: 1 });
        return;
      default:
        throw new AmqpProtocolError(ReplyCode.COMMAND_INVALID, `method '${m.name}' is not valid from a client on a channel`);
    }
  }

  private send(m: Method): void {
    this.conn.sendMethod(this.id, m);
  }

  /** Topic permissions apply to topic exchanges only. */
  private isTopic(exchange: string): boolean {
    return this.vhost.exchanges.get(exchange)?.type === 'topic';
  }

  private queueName(name: string): string {
    if (name !== '') return name;
    if (this.lastQueue === '') throw new BrokerError('not-found', 'no previously declared queue');
    return this.lastQueue;
  }

  /** A topology change: in a cluster it goes to etcd before `then` replies (Broker.changeTopology). */
  private topology<T>(change: () => T, then: (result: T) => void | Promise<void>): void | Promise<void> {
    const r = this.conn.broker.changeTopology(change);
    return r instanceof Promise ? r.then(then) : then(r);
  }

  /** Durable topology changes are on disk before the reply (§: declare-ok means it exists). */
  private afterTopology(nowait: boolean, reply: Method): void | Promise<void> {
    const saved = this.conn.broker.topologySaved();
    return saved.then(() => {
      if (!nowait) this.sendIfOpen(reply);
    });
  }

  private publish(m: MethodOf<'basic.publish'>, cmd: Command): void {
    if (m.immediate) throw new AmqpProtocolError(ReplyCode.NOT_IMPLEMENTED, 'immediate=true');
    const header = cmd.header;
    const body = cmd.body ?? Buffer.alloc(0);
    if (!header) throw new AmqpProtocolError(ReplyCode.UNEXPECTED_FRAME, 'basic.publish without content');
    const props = decodeProperties(header.rawProperties);
    if (props.userId !== undefined && props.userId !== this.conn.user) {
      throw preconditionFailed(`user_id property set to '${props.userId}' but authenticated user was '${this.conn.user}'`);
    }
    let properties = detach(header.rawProperties);
    if (props.replyTo === DIRECT_REPLY_TO) {
      properties = encodeProperties({ ...props, replyTo: this.session.directReplyAddress() });
    }
    const input: PublishInput = {
      exchange: m.exchange,
      routingKey: m.routingKey,
      mandatory: m.mandatory,
      properties,
      body: detach(body),
      persistent: props.deliveryMode === 2,
      headers: props.headers as Readonly<Record<string, unknown>> | undefined,
      priority: props.priority ?? 0,
      expiration: props.expiration === undefined ? -1 : parseExpiration(props.expiration),
      messageId: props.messageId,
    };
    if (this.confirmMode) this.publishSeq++;
    this.grant.publish(m.exchange, m.routingKey, () => this.isTopic(m.exchange));
    const out = this.conn.user === CLUSTER_LINK_USER ? this.publishForwarded(input, props, m.routingKey) : this.session.publish(input);
    if (latencyTrace?.readStartMs) latencyTrace.since('publish.route', latencyTrace.readStartMs);
    if (!out) return; // buffered in a transaction
    if (this.confirmMode) {
      // Held until its confirm is sent (endOfBatch): the publish budget counts it meanwhile.
      this.batchHeldBytes += input.body.length;
      this.conn.publishBudget.hold(input.body.length);
    }
    if (out.needsSync) this.batchNeedsSync = true;
    // Publishes of one batch into one stream share one promise: keep it once.
    if (out.streamWrite && this.confirmMode && this.batchStreamWrites[this.batchStreamWrites.length - 1] !== out.streamWrite) {
      this.batchStreamWrites.push(out.streamWrite);
    }
    if (out.flow) this.waitForFlow(out.flow);
    if (out.rejected && this.confirmMode) this.batchRejected.push(this.publishSeq);
    if (out.queues === 0 && m.mandatory) this.returnUnroutable(input, out.properties);
  }

  /**
   * A copy another node routed to a queue homed here: it goes to that queue only, with the
   * exchange and routing key it was published with (carried in headers, removed here).
   */
  private publishForwarded(input: PublishInput, props: BasicProperties, queue: string): PublishOutcome | undefined {
    const headers = { ...(props.headers ?? {}) };
    const exchange = headers[FORWARD_EXCHANGE_HEADER];
    const routingKey = headers[FORWARD_ROUTING_KEY_HEADER];
    if (exchange === undefined || routingKey === undefined) return this.session.publish(input);
    delete headers[FORWARD_EXCHANGE_HEADER];
    delete headers[FORWARD_ROUTING_KEY_HEADER];
    const properties = encodeProperties({ ...props, headers: Object.keys(headers).length > 0 ? headers : undefined });
    const q = this.vhost.queues.get(queue);
    const original = { ...input, exchange: String(exchange), routingKey: String(routingKey), properties, headers };
    if (q !== undefined) return this.vhost.publishTo(original, [q]);
    const stream = this.vhost.streamQueues.get(queue);
    // A copy for a queue that is not here (deleted meanwhile) is dropped, as a publish routed to nothing.
    return stream === undefined ? { queues: 0, needsSync: false, rejected: false } : this.vhost.publishToStream(original, stream);
  }

  /** Publisher flow control: stop reading the connection until the queue has served its waiting consumers. */
  private waitForFlow(flow: Promise<void>): void {
    if (this.flowPaused) return;
    this.flowPaused = true;
    this.conn.pauseReading(this.flowKey);
    void flow.then(() => {
      this.flowPaused = false;
      this.conn.resumeReading(this.flowKey);
    });
  }

  /** basic.return of a mandatory publish; `properties` as the broker stored them, if it changed them (BCC removed). */
  private returnUnroutable(p: PublishInput, properties = p.properties): void {
    this.conn.sendContent(
      this.id,
      { name: 'basic.return', replyCode: ReplyCode.NO_ROUTE, replyText: 'NO_ROUTE', exchange: p.exchange, routingKey: p.routingKey },
      properties,
      p.body,
    );
  }

  private qos(m: MethodOf<'basic.qos'>): void {
    if (m.prefetchSize !== 0) throw new AmqpProtocolError(ReplyCode.NOT_IMPLEMENTED, `prefetch_size!=0 (${m.prefetchSize})`);
    // Relayed consumers take the per-consumer prefetch at their basic.consume, as local ones do.
    this.session.qos(m.prefetchCount, m.global);
    this.send({ name: 'basic.qos-ok' });
  }

  private consume(m: MethodOf<'basic.consume'>): void | Promise<void> {
    this.grant.consume(this.queueName(m.queue));
    const home = this.remoteHome(this.queueName(m.queue));
    if (home !== undefined) return this.consumeAt(home, m);
    const reader = this.streamReader(this.queueName(m.queue));
    if (reader !== undefined) {
      checkStreamConsume(this.queueName(m.queue), this.vhost.name, { noAck: m.noAck, args: m.arguments }, this.session.info().prefetchCount);
      return this.consumeAt(reader, m, true);
    }
    if (this.relay?.hasConsumer(m.consumerTag)) throw new BrokerError('not-allowed', `attempt to reuse consumer tag '${m.consumerTag}'`, true);
    const queue = this.queueName(m.queue);
    const o = { noAck: m.noAck, exclusive: m.exclusive, args: m.arguments, prefetch: this.session.info().prefetchCount };
    const { tag, start } = this.session.consume(queue, m.consumerTag, o);
    if (this.conn.broker.quorum?.has(this.vhost.name, queue) === true) this.quorumConsumers.set(tag, { queue, ...o });
    if (!m.nowait) this.send({ name: 'basic.consume-ok', consumerTag: tag });
    start();
  }

  /** A quorum queue consumer that followed the queue's leader to this node: it consumes here under its tag. */
  private consumeHere(tag: string, queue: string, o: ConsumeOptions): void {
    if (this.released) return;
    const { start } = this.session.consume(queue, tag, o);
    this.quorumConsumers.set(tag, { queue, ...o });
    start();
  }

  private async get(m: MethodOf<'basic.get'>): Promise<void> {
    this.grant.get(this.queueName(m.queue));
    const home = this.remoteHome(this.queueName(m.queue));
    if (home !== undefined) return this.getAt(home, m);
    const r = await this.session.get(this.queueName(m.queue), m.noAck);
    if (this.released) return;
    if (!r) {
      this.send({ name: 'basic.get-empty', clusterId: '' });
      return;
    }
    this.conn.sendContent(
      this.id,
      {
        name: 'basic.get-ok',
        deliveryTag: r.deliveryTag,
        redelivered: r.entry.redelivered,
        exchange: r.content.exchange,
        routingKey: r.content.routingKey,
        messageCount: r.messageCount,
      },
      r.content.properties,
      r.content.body,
    );
  }

  private exchangeDeclare(m: MethodOf<'exchange.declare'>): void | Promise<void> {
    this.grant.exchangeDeclare(m.exchange, m.passive, m.arguments['alternate-exchange'], this.vhost.exchanges.has(m.exchange));
    const declare = (): unknown => this.vhost.declareExchange(m.exchange, m.type, {
      passive: m.passive,
      durable: m.durable,
      autoDelete: m.autoDelete,
      internal: m.internal,
      args: m.arguments,
    });
    const reply = (): void | Promise<void> => this.afterTopology(m.nowait, { name: 'exchange.declare-ok' });
    if (m.passive) {
      declare();
      return reply();
    }
    return this.topology(declare, reply);
  }

  private queueDeclare(m: MethodOf<'queue.declare'>): void | Promise<void> {
    const home = m.queue === '' ? undefined : (this.remoteHome(m.queue) ?? (m.passive ? this.streamReader(m.queue) : undefined));
    // A passive declare of a queue homed elsewhere (a stream queue with no replica here) answers the home's counts.
    if (home !== undefined && m.passive) {
      this.grant.queueDeclare(m.queue, true, undefined);
      return this.atHome(home, m.queue, (ch) => ch.queueDeclare(m.queue, { passive: true })).then((q) => {
        this.lastQueue = q.queue;
        if (!m.nowait) this.sendIfOpen({ name: 'queue.declare-ok', queue: q.queue, messageCount: q.messageCount, consumerCount: q.consumerCount });
      });
    }
    let requested = m.queue;
    const declare = (): DeclaredQueue | Promise<DeclaredQueue> => this.vhost.declareQueue(
      requested,
      { passive: m.passive, durable: m.durable, exclusive: m.exclusive, autoDelete: m.autoDelete, args: m.arguments as FieldTable },
      this.conn.id,
      // Checked on the generated name for a server-named queue, as RabbitMQ does.
      (name) => {
        this.grant.queueDeclare(name, m.passive, m.arguments['x-dead-letter-exchange']);
        // A declare run again (a cluster's compare-and-swap lost) keeps the name it generated.
        requested = name;
      },
    );
    const reply = (declared: DeclaredQueue | Promise<DeclaredQueue>): void | Promise<void> =>
      declared instanceof Promise ? declared.then((q) => this.declared(m, q)) : this.declared(m, declared);
    // Exclusive and passive declares change nothing the cluster holds.
    if (m.passive || m.exclusive) return reply(declare());
    return this.topology(declare, reply);
  }

  private declared(m: MethodOf<'queue.declare'>, q: DeclaredQueue): void | Promise<void> {
    this.lastQueue = q.name;
    const home = m.nowait ? undefined : this.remoteHome(q.name);
    if (home !== undefined) {
      // Declared through a node that is not the queue's home: declare-ok counts the home's messages
      // and consumers (RabbitMQ answers the queue's own counts on every node).
      return this.conn.broker.topologySaved()
        .then(() => this.atHome(home, q.name, (ch) => ch.queueDeclare(q.name, { passive: true })))
        .then((r) => this.sendIfOpen({ name: 'queue.declare-ok', queue: q.name, messageCount: r.messageCount, consumerCount: r.consumerCount }));
    }
    return this.afterTopology(m.nowait, {
      name: 'queue.declare-ok',
      queue: q.name,
      messageCount: q.messageCount,
      consumerCount: q.consumerCount,
    });
  }

  // --- queues homed on other nodes (docs/cluster.md, "Forwarding") ---------

  /**
   * Refused here, as for a local stream consumer (540, a connection error): relayed, the home's
   * refusal would close the link that every channel of this node shares with it.
   */
  private checkRelayedStream(what: string, tag: number, multiple: boolean): void {
    const stream = this.relay?.streamOf(tag, multiple);
    if (stream !== undefined) throw notSupported(what, stream, this.vhost.name);
  }

  /** The node a stream queue's consumers read on when this node holds no replica of it (its leader). */
  private streamReader(queue: string): string | undefined {
    return this.conn.broker.remote instanceof ClusterLinks ? this.vhost.streamQueues.readerElsewhere(queue) : undefined;
  }

  /** The home of a queue homed on another node of the cluster; undefined on a single node and for a queue here. */
  private remoteHome(queue: string): string | undefined {
    const b = this.conn.broker;
    return b.remote instanceof ClusterLinks && b.isRemote(this.vhost.name, queue) ? b.queueHome(this.vhost.name, queue) : undefined;
  }

  private get relayed(): RemoteRelay {
    this.relay ??= new RemoteRelay({
      links: this.conn.broker.remote as ClusterLinks,
      vhost: this.vhost.name,
      nextTag: () => this.session.allocateTag(),
      deliver: (consumerTag, deliveryTag, d, header, body) => {
        if (this.released) return;
        const method: Method = { name: 'basic.deliver', consumerTag, deliveryTag, redelivered: d.redelivered, exchange: d.exchange, routingKey: d.routingKey };
        this.conn.sendContent(this.id, method, header.rawProperties, body);
      },
      cancelled: (tag) => this.notifyCancel(tag),
      follows: (queue) => this.conn.broker.quorum?.has(this.vhost.name, queue) === true,
      homeOf: (queue) => {
        const node = this.conn.broker.queueHome(this.vhost.name, queue);
        return node === this.conn.broker.nodeName ? HERE : node;
      },
      consumeHere: (tag, queue, o) => this.consumeHere(tag, queue, o),
    });
    if (this.session.inTx) this.relay.txSelect();
    return this.relay;
  }

  private async consumeAt(home: string, m: MethodOf<'basic.consume'>, stream = false): Promise<void> {
    const tag = m.consumerTag === '' ? `amq.ctag-${randomBytes(16).toString('base64url').slice(0, 22)}` : m.consumerTag;
    if (this.relayed.hasConsumer(tag) || this.session.info().consumers.some((c) => c.tag === tag)) {
      throw new BrokerError('not-allowed', `attempt to reuse consumer tag '${tag}'`, true);
    }
    // consume-ok before the first delivery: the relay holds deliveries until start().
    const queue = this.queueName(m.queue);
    const o = { noAck: m.noAck, exclusive: m.exclusive, args: m.arguments, prefetch: this.session.info().prefetchCount, stream };
    const start = await fromHome(this.relayed.consume(home, queue, tag, o), { home, queue, vhost: this.vhost.name, log: this.conn.log });
    if (!m.nowait) this.sendIfOpen({ name: 'basic.consume-ok', consumerTag: tag });
    start();
  }

  private async getAt(home: string, m: MethodOf<'basic.get'>): Promise<void> {
    const queue = this.queueName(m.queue);
    const r = await fromHome(this.relayed.get(home, queue, m.noAck), { home, queue, vhost: this.vhost.name, log: this.conn.log });
    if (this.released) return;
    if (r === undefined) {
      this.send({ name: 'basic.get-empty', clusterId: '' });
      return;
    }
    const { header, body, ...ok } = r;
    this.conn.sendContent(this.id, { name: 'basic.get-ok', ...ok }, header.rawProperties, body);
  }

  /** One operation on a channel of its own to the home (a failure there closes only that channel). */
  private async atHome<T>(home: string, queue: string, op: (ch: Channel) => Promise<T>): Promise<T> {
    const where = { home, queue, vhost: this.vhost.name, log: this.conn.log };
    const ch = await fromHome(this.relayed.channelTo(home), where);
    try {
      return await fromHome(op(ch), where);
    } finally {
      void ch.close().catch(() => undefined);
    }
  }

  /**
   * tx.commit (docs/cluster.md, "Transactions across nodes"): this node's publishes and acks, copies
   * of publishes for queues homed elsewhere (each confirmed by its home) and acks of relayed
   * deliveries (committed in a transaction on each home); commit-ok once all of them landed. A part
   * that failed after others were applied is RabbitMQ's 406 "partial tx completion".
   */
  private async txCommit(): Promise<void> {
    let unroutable: readonly Unroutable[] = [];
    let partial: PartialTxCompletion | undefined;
    try {
      ({ unroutable } = await this.session.txCommit());
    } catch (err) {
      if (!(err instanceof PartialTxCompletion)) throw err; // refused before anything was applied
      partial = err;
    }
    await this.relay?.txCommit().catch((err: unknown) => {
      partial ??= new PartialTxCompletion(err);
    });
    for (const u of unroutable) this.returnUnroutable(u.input, u.properties);
    if (partial !== undefined) {
      this.conn.log.warn('a transaction was committed in part', { channel: this.id, error: String(partial.reason) });
      throw partial;
    }
    this.sendIfOpen({ name: 'tx.commit-ok' });
  }
}

/** The home's refusal as this node's own (the same reply code and text); a lost link is 541. */
async function fromHome<T>(p: Promise<T>, where: { home: string; queue: string; vhost: string; log: Logger }): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof AmqpClientError && err.replyCode !== 0 && !err.connectionLevel) {
      const text = err.message.slice(err.message.indexOf(`${err.replyCode} `) + String(err.replyCode).length + 1);
      throw new AmqpProtocolError(err.replyCode, text.replace(/^[A-Z_]+ - /, ''));
    }
    // RabbitMQ's answer for a queue whose node is down, word for word (bench/cluster-texts.ts): a
    // channel error, not a connection one. Why the link failed goes to the log.
    where.log.debug('cannot reach the home node of a queue', { node: where.home, queue: where.queue, vhost: where.vhost, error: (err as Error).message });
    throw new BrokerError('not-found', `home node '${where.home}' of durable queue '${where.queue}' in vhost '${where.vhost}' is down or inaccessible`);
  }
}

/**
 * A refusal a failover causes, not a fault: a queue's home refused a forwarded copy or went away
 * (it logs its own cause), a replicated queue's leader moved, was fenced, or lost in-sync replicas
 * with a node; or the queue is between leaders (none yet, or the new one replaying its log). A
 * commit that timed out (30 s without a majority) is none of these.
 */
function isFailoverRefusal(err: unknown): boolean {
  if (err instanceof ForwardRefused) return true;
  if (err instanceof ReplicationError) return err.kind !== 'timeout';
  return err instanceof BrokerError && err.kind === 'not-found';
}

/** RabbitMQ: expiration is a string holding a non-negative integer of ms; anything else is 406. */
function parseExpiration(v: string): number {
  if (!/^\d{1,15}$/.test(v)) throw preconditionFailed(`invalid expiration '${v}': no_integer`);
  return Number(v);
}

/**
 * The parser hands out zero-copy slices of the socket read. A message kept in a
 * queue must not pin a whole 64 KiB read buffer, so small slices are copied
 * (into Node's shared pool); slices that are most of their buffer are kept.
 */
function detach(b: Buffer): Buffer {
  return b.byteLength * 2 < b.buffer.byteLength ? Buffer.from(b) : b;
}
