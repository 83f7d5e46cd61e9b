// An exchange: a name, a type's router and the flags RabbitMQ gives it.

import { preconditionFailed } from '../errors.js';
import type { Args } from '../message.js';
import type { Queue } from '../queue/queue.js';
import type { Stream } from '../stream/stream.js';
import { DELAYED_EXCHANGE_TYPE, delayedRouterType } from './delayed.js';
import { createRouter } from './index.js';
import type { Router } from './router.js';

export type ExchangeType = 'direct' | 'fanout' | 'topic' | 'headers' | typeof DELAYED_EXCHANGE_TYPE;
/** Where routing delivers a message: a queue, or a stream queue (a stream of one partition). */
export type RouteTarget = Queue | Stream;
/** What a binding points at. */
export type Destination = RouteTarget | Exchange;

export interface ExchangeOptions {
  readonly name: string;
  readonly type: ExchangeType;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  readonly args: Args;
  readonly vhost: string;
}

export class Exchange {
  readonly name: string;
  readonly type: ExchangeType;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  readonly args: Args;
  readonly vhost: string;
  readonly router: Router<Destination>;
  deleted = false;

  constructor(opts: ExchangeOptions) {
    this.name = opts.name;
    this.type = opts.type;
    this.durable = opts.durable;
    this.autoDelete = opts.autoDelete;
    this.internal = opts.internal;
    this.args = opts.args;
    this.vhost = opts.vhost;
    // A delayed exchange routes (at release time) as the type its x-delayed-type names.
    this.router = createRouter(opts.type === DELAYED_EXCHANGE_TYPE ? delayedRouterType(opts.args) : opts.type);
  }

  /** An x-delayed-message exchange: holds messages with a positive x-delay (src/broker/delayed/). */
  get delayed(): boolean {
    return this.type === DELAYED_EXCHANGE_TYPE;
  }

  get isDefault(): boolean {
    return this.name === '';
  }

  checkEquivalent(o: Omit<ExchangeOptions, 'name' | 'vhost'>): void {
    const where = `exchange '${this.name}' in vhost '${this.vhost}'`;
    const check = (arg: string, received: unknown, current: unknown): void => {
      if (received !== current) {
        throw preconditionFailed(`inequivalent arg '${arg}' for ${where}: received '${received}' but current is '${current}'`);
      }
    };
    check('type', o.type, this.type);
    check('durable', o.durable, this.durable);
    check('auto_delete', o.autoDelete, this.autoDelete);
    check('internal', o.internal, this.internal);
  }
}
