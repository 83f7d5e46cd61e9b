// One AMQP channel of the client: synchronous methods as promises (answered in
// order, §2.3.5: a peer replies to a channel's synchronous requests in the
// order they were sent), publishing with publisher confirms, consuming with
// manual or automatic acks, and the broker closing the channel (its reply code
// and text become an AmqpClientError).
//
// The hot paths take plain callbacks, not events: onDelivery per consumer and
// onConfirm per channel. Publishing reuses the basic.publish method object
// while exchange and routing key stay the same, and the FrameWriter copies the
// body, so a caller may reuse one body buffer for every message.

import { EventEmitter } from 'node:events';
import {
  encodeProperties,
  ReplyCode,
  type BasicDeliver,
  type BasicGetOk,
  type BasicProperties,
  type BasicPublish,
  type Command,
  type ContentHeader,
  type FieldTable,
  type Method,
  type MethodName,
} from '../../protocol/amqp/index.js';
import { AmqpClientError, closedByBroker } from './errors.js';
import type { Connection } from './connection.js';

export type DeliveryHandler = (delivery: BasicDeliver, body: Buffer, header: ContentHeader) => void;

export interface QueueDeclareOptions {
  passive?: boolean;
  durable?: boolean;
  exclusive?: boolean;
  autoDelete?: boolean;
  arguments?: FieldTable;
}

export interface QueueInfo {
  queue: string;
  messageCount: number;
  consumerCount: number;
}

const EMPTY_PROPERTIES = encodeProperties({});

interface PendingRpc {
  readonly expect: MethodName;
  readonly resolve: (m: Method) => void;
  readonly reject: (e: AmqpClientError) => void;
}

type State = 'opening' | 'open' | 'closing' | 'closed';

/** Events: 'close' (error | undefined after our own close()), 'return' (BasicReturn, body, header), 'cancel' (consumer tag). */
export class Channel extends EventEmitter {
  private state: State = 'opening';
  private readonly rpcs: PendingRpc[] = [];
  private readonly consumers = new Map<string, DeliveryHandler>();
  private publishMethod: BasicPublish = {
    name: 'basic.publish', ticket: 0, exchange: '', routingKey: '', mandatory: false, immediate: false,
  };
  // Publisher confirms (§ RabbitMQ confirms extension): tags count from 1.
  private confirming = false;
  private nextPublishTag = 1;
  /** Lowest tag not yet confirmed. */
  private lowestUnconfirmed = 1;
  /** Tags above lowestUnconfirmed confirmed out of order (rare). */
  private readonly confirmedAbove = new Set<number>();
  private confirmWaiters: { resolve: () => void; reject: (e: AmqpClientError) => void }[] = [];
  /** Why the channel closed; undefined while open and after our own close(). */
  error: AmqpClientError | undefined;
  /** Called for every ack or nack of a publisher confirm, with the number of messages it settles. */
  onConfirm: ((ok: boolean, count: number) => void) | undefined;
  /** Called after each chunk read from the socket has been handled (a good moment for batched acks). */
  onReadEnd: (() => void) | undefined;
  /** The content of the basic.get-ok being answered. */
  private getContent: { header: ContentHeader; body: Buffer } | undefined;
  /** Messages published in confirm mode and not yet acked or nacked. */
  unconfirmed = 0;

  /** @internal use Connection.channel(). */
  constructor(
    private readonly connection: Connection,
    readonly id: number,
  ) {
    super();
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** @internal */
  async open(): Promise<void> {
    await this.rpc({ name: 'channel.open', outOfBand: '' }, 'channel.open-ok');
    this.state = 'open';
  }

  async queueDeclare(queue: string, o: QueueDeclareOptions = {}): Promise<QueueInfo> {
    const ok = await this.rpc(
      {
        name: 'queue.declare', ticket: 0, queue, passive: o.passive ?? false, durable: o.durable ?? false,
        exclusive: o.exclusive ?? false, autoDelete: o.autoDelete ?? false, nowait: false, arguments: o.arguments ?? {},
      },
      'queue.declare-ok',
    );
    return ok.name === 'queue.declare-ok' ? { queue: ok.queue, messageCount: ok.messageCount, consumerCount: ok.consumerCount } : unreachable(ok);
  }

  async queueDelete(queue: string, o: { ifUnused?: boolean; ifEmpty?: boolean } = {}): Promise<number> {
    const ok = await this.rpc(
      { name: 'queue.delete', ticket: 0, queue, ifUnused: o.ifUnused ?? false, ifEmpty: o.ifEmpty ?? false, nowait: false },
      'queue.delete-ok',
    );
    return ok.name === 'queue.delete-ok' ? ok.messageCount : unreachable(ok);
  }

  async queuePurge(queue: string): Promise<number> {
    const ok = await this.rpc({ name: 'queue.purge', ticket: 0, queue, nowait: false }, 'queue.purge-ok');
    return ok.name === 'queue.purge-ok' ? ok.messageCount : unreachable(ok);
  }

  async queueBind(queue: string, exchange: string, routingKey: string, args: FieldTable = {}): Promise<void> {
    await this.rpc({ name: 'queue.bind', ticket: 0, queue, exchange, routingKey, nowait: false, arguments: args }, 'queue.bind-ok');
  }

  async exchangeDeclare(exchange: string, type: string, o: { durable?: boolean; autoDelete?: boolean; passive?: boolean } = {}): Promise<void> {
    await this.rpc(
      {
        name: 'exchange.declare', ticket: 0, exchange, type, passive: o.passive ?? false, durable: o.durable ?? false,
        autoDelete: o.autoDelete ?? false, internal: false, nowait: false, arguments: {},
      },
      'exchange.declare-ok',
    );
  }

  async exchangeDelete(exchange: string): Promise<void> {
    await this.rpc({ name: 'exchange.delete', ticket: 0, exchange, ifUnused: false, nowait: false }, 'exchange.delete-ok');
  }

  /** basic.qos: at most `prefetchCount` unacked deliveries (0 = no limit), per consumer or (global) per channel. */
  async qos(prefetchCount: number, global = false): Promise<void> {
    await this.rpc({ name: 'basic.qos', prefetchSize: 0, prefetchCount, global }, 'basic.qos-ok');
  }

  /** Puts the channel in publisher-confirm mode. */
  async confirmSelect(): Promise<void> {
    await this.rpc({ name: 'confirm.select', nowait: false }, 'confirm.select-ok');
    this.confirming = true;
  }

  /** tx.select: from now on, publishes and acks on this channel take effect at txCommit. */
  async txSelect(): Promise<void> {
    await this.rpc({ name: 'tx.select' }, 'tx.select-ok');
  }

  /** tx.commit: resolves once the broker has applied what the transaction holds. */
  async txCommit(): Promise<void> {
    await this.rpc({ name: 'tx.commit' }, 'tx.commit-ok');
  }

  async txRollback(): Promise<void> {
    await this.rpc({ name: 'tx.rollback' }, 'tx.rollback-ok');
  }

  /** Starts a consumer; returns its tag (the broker's, when `consumerTag` is empty). */
  async consume(queue: string, onDelivery: DeliveryHandler, o: { noAck?: boolean; exclusive?: boolean; consumerTag?: string; arguments?: FieldTable } = {}): Promise<string> {
    const requested = o.consumerTag ?? '';
    // Registered before the request: deliveries may follow consume-ok in the same chunk.
    if (requested !== '') this.consumers.set(requested, onDelivery);
    const ok = await this.rpc(
      {
        name: 'basic.consume', ticket: 0, queue, consumerTag: requested, noLocal: false, noAck: o.noAck ?? false,
        exclusive: o.exclusive ?? false, nowait: false, arguments: o.arguments ?? {},
      },
      'basic.consume-ok',
      (m) => {
        if (m.name === 'basic.consume-ok') this.consumers.set(m.consumerTag, onDelivery);
      },
    ).catch((err: unknown) => {
      this.consumers.delete(requested);
      throw err;
    });
    return ok.name === 'basic.consume-ok' ? ok.consumerTag : unreachable(ok);
  }

  /** basic.get: one message, or undefined when the queue is empty. */
  async get(queue: string, noAck = false): Promise<{ method: BasicGetOk; header: ContentHeader; body: Buffer } | undefined> {
    const m = await this.rpc({ name: 'basic.get', ticket: 0, queue, noAck }, 'basic.get-ok');
    if (m.name !== 'basic.get-ok') return undefined;
    const content = this.getContent;
    this.getContent = undefined;
    return content === undefined ? undefined : { method: m, ...content };
  }

  /** basic.recover (requeue): the channel's unacked deliveries go back to their queues. */
  async recover(): Promise<void> {
    await this.rpc({ name: 'basic.recover', requeue: true }, 'basic.recover-ok');
  }

  async cancel(consumerTag: string): Promise<void> {
    await this.rpc({ name: 'basic.cancel', consumerTag, nowait: false }, 'basic.cancel-ok');
    this.consumers.delete(consumerTag);
  }

  /**
   * Sends basic.publish with its content. `properties` is either encoded once
   * with encodeProperties (fast: nothing per message) or an object encoded now.
   * Returns the delivery tag in confirm mode, else 0. Check
   * connection.writable() and wait for 'drain' to respect backpressure.
   */
  publish(exchange: string, routingKey: string, body: Buffer, properties: Buffer | BasicProperties = EMPTY_PROPERTIES, mandatory = false): number {
    if (this.state !== 'open') throw this.error ?? new AmqpClientError(`channel ${this.id} is closed`, 0, false);
    let m = this.publishMethod;
    if (m.exchange !== exchange || m.routingKey !== routingKey || m.mandatory !== mandatory) {
      m = this.publishMethod = { name: 'basic.publish', ticket: 0, exchange, routingKey, mandatory, immediate: false };
    }
    const raw = Buffer.isBuffer(properties) ? properties : encodeProperties(properties);
    this.connection.sendContent(this.id, m, raw, body);
    if (!this.confirming) return 0;
    this.unconfirmed++;
    return this.nextPublishTag++;
  }

  ack(deliveryTag: number, multiple = false): void {
    this.sendIfOpen({ name: 'basic.ack', deliveryTag, multiple });
  }

  nack(deliveryTag: number, multiple = false, requeue = true): void {
    this.sendIfOpen({ name: 'basic.nack', deliveryTag, multiple, requeue });
  }

  /** Resolves once every message published so far is confirmed (acked or nacked). */
  waitForConfirms(): Promise<void> {
    if (this.unconfirmed === 0) return Promise.resolve();
    if (this.state === 'closed') return Promise.reject(this.error ?? new AmqpClientError(`channel ${this.id} is closed`, 0, false));
    return new Promise((resolve, reject) => this.confirmWaiters.push({ resolve, reject }));
  }

  /** Closes the channel (channel.close 200, waits for close-ok). */
  async close(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'closing';
    try {
      await this.rpc({ name: 'channel.close', replyCode: ReplyCode.REPLY_SUCCESS, replyText: 'OK', classId: 0, methodId: 0 }, 'channel.close-ok', undefined, true);
    } finally {
      this.finish(undefined);
    }
  }

  /** @internal a command for this channel, from the connection. */
  handleCommand(c: Command): void {
    const m = c.method;
    switch (m.name) {
      case 'basic.deliver':
        return this.deliver(m, c.header as ContentHeader, c.body as Buffer);
      case 'basic.ack':
        return this.onConfirmed(m.deliveryTag, m.multiple, true);
      case 'basic.nack':
        return this.onConfirmed(m.deliveryTag, m.multiple, false);
      case 'basic.return':
        this.emit('return', m, c.body, c.header);
        return;
      case 'basic.get-ok':
        this.getContent = { header: c.header as ContentHeader, body: c.body as Buffer };
        return this.onReply(m);
      case 'basic.cancel':
        // RabbitMQ's consumer cancel notification (queue deleted, ...).
        this.consumers.delete(m.consumerTag);
        this.emit('cancel', m.consumerTag);
        return;
      case 'channel.flow':
        this.connection.sendMethod(this.id, { name: 'channel.flow-ok', active: m.active });
        return;
      case 'channel.close': {
        this.connection.sendMethod(this.id, { name: 'channel.close-ok' });
        this.finish(closedByBroker(`channel ${this.id}`, m.replyCode, m.replyText, false));
        return;
      }
      default:
        return this.onReply(m);
    }
  }

  /** @internal a delivery, from the connection's fast path (or handleCommand). */
  deliver(d: BasicDeliver, header: ContentHeader, body: Buffer): void {
    const handler = this.consumers.get(d.consumerTag);
    if (handler !== undefined) handler(d, body, header);
  }

  /** @internal the connection ended: this channel ends with it. */
  connectionClosed(err: AmqpClientError): void {
    this.finish(err, false);
  }

  private onReply(m: Method): void {
    const rpc = this.rpcs.shift();
    // basic.get is answered by get-ok or get-empty.
    if (rpc === undefined || (rpc.expect !== m.name && !(rpc.expect === 'basic.get-ok' && m.name === 'basic.get-empty'))) {
      const why = rpc === undefined ? `unexpected ${m.name}` : `expected ${rpc.expect}, got ${m.name}`;
      this.finish(new AmqpClientError(`channel ${this.id}: ${why} from the broker`, ReplyCode.UNEXPECTED_FRAME, false));
      return;
    }
    rpc.resolve(m);
  }

  private onConfirmed(tag: number, multiple: boolean, ok: boolean): void {
    let count: number;
    if (multiple) {
      count = 0;
      for (const t of this.confirmedAbove) {
        if (t <= tag) {
          this.confirmedAbove.delete(t);
          count--;
        }
      }
      count += Math.max(0, tag - this.lowestUnconfirmed + 1);
      this.lowestUnconfirmed = Math.max(this.lowestUnconfirmed, tag + 1);
    } else if (tag === this.lowestUnconfirmed) {
      count = 1;
      this.lowestUnconfirmed++;
      while (this.confirmedAbove.delete(this.lowestUnconfirmed)) this.lowestUnconfirmed++;
    } else {
      count = tag > this.lowestUnconfirmed && !this.confirmedAbove.has(tag) ? 1 : 0;
      if (count === 1) this.confirmedAbove.add(tag);
    }
    if (count === 0) return;
    this.unconfirmed -= count;
    this.onConfirm?.(ok, count);
    if (this.unconfirmed === 0 && this.confirmWaiters.length > 0) {
      for (const w of this.confirmWaiters.splice(0)) w.resolve();
    }
  }

  private sendIfOpen(m: Method): void {
    if (this.state === 'open') this.connection.sendMethod(this.id, m);
  }

  private rpc(m: Method, expect: MethodName, onReply?: (m: Method) => void, whileClosing = false): Promise<Method> {
    const usable = this.state === 'open' || this.state === 'opening' || (whileClosing && this.state === 'closing');
    if (!usable) return Promise.reject(this.error ?? new AmqpClientError(`channel ${this.id} is closed`, 0, false));
    return new Promise((resolve, reject) => {
      this.rpcs.push({
        expect,
        resolve: (reply) => {
          onReply?.(reply);
          resolve(reply);
        },
        reject,
      });
      this.connection.sendMethod(this.id, m);
    });
  }

  private finish(error: AmqpClientError | undefined, release = true): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.error = error;
    if (release) this.connection.releaseChannel(this.id);
    const failure = error ?? new AmqpClientError(`channel ${this.id} is closed`, 0, false);
    for (const rpc of this.rpcs.splice(0)) rpc.reject(failure);
    for (const w of this.confirmWaiters.splice(0)) w.reject(failure);
    this.consumers.clear();
    this.emit('close', error);
  }
}

function unreachable(m: Method): never {
  throw new AmqpClientError(`unexpected ${m.name} from the broker`, ReplyCode.UNEXPECTED_FRAME, false);
}
