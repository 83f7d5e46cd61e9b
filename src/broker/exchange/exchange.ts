// An exchange: a name, a type's router, the flags RabbitMQ gives it, and its
// alternate exchange (RabbitMQ's AE: where messages it cannot route go).

import { preconditionFailed } from '../errors.js';
import { fieldText, fieldTypeName, sameFieldValue } from '../field-types.js';
import type { Args } from '../message.js';
import type { Queue } from '../queue/queue.js';
import type { Stream } from '../stream/stream.js';
import { DELAYED_EXCHANGE_TYPE, delayedRouterType } from './delayed.js';
import { createRouter } from './index.js';
import type { Router } from './router.js';
import { ExchangeCounters } from '../stats.js';
import { NO_POLICIES, type AppliedPolicies } from '../policy/effective.js';

/** The exchange argument naming an alternate exchange (https://www.rabbitmq.com/docs/ae). */
export const ALTERNATE_EXCHANGE_ARG = 'alternate-exchange';

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
  /** publish_in / publish_out for the management API. */
  readonly stats = new ExchangeCounters();
  readonly name: string;
  readonly type: ExchangeType;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  /** As declared; an adapter may replace its own metadata arguments (Vhost.setExchangeArgument). */
  args: Args;
  readonly vhost: string;
  readonly router: Router<Destination>;
  deleted = false;
  /** The alternate-exchange argument as declared. */
  private readonly declaredAlternate: string | undefined;
  /** The alternate exchange its policies name (policy/effective.ts); the argument wins over it. */
  private policyAlternate: string | undefined;
  /** The policies applied to it, for the management API. */
  policies: AppliedPolicies = NO_POLICIES;

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
    this.declaredAlternate = alternateExchangeArg(opts.args, this.where);
  }

  /**
   * The exchange a message goes to when this one's bindings match nothing. Routing reads
   * it only here (RabbitMQ: a declared argument wins over a policy's alternate-exchange).
   */
  get alternateExchange(): string | undefined {
    return this.declaredAlternate ?? this.policyAlternate;
  }

  /** Its policies changed (set, changed, cleared): routing uses their alternate exchange from the next message. */
  applyPolicies(policies: AppliedPolicies): void {
    this.policies = policies;
    const ae = policies.definition['alternate-exchange'];
    this.policyAlternate = typeof ae === 'string' ? ae : undefined;
  }

  /** An x-delayed-message exchange: holds messages with a positive x-delay (src/broker/delayed/). */
  get delayed(): boolean {
    return this.type === DELAYED_EXCHANGE_TYPE;
  }

  get isDefault(): boolean {
    return this.name === '';
  }

  private get where(): string {
    return `exchange '${this.name}' in vhost '${this.vhost}'`;
  }

  /** A redeclare must match; of the arguments RabbitMQ compares only alternate-exchange. */
  checkEquivalent(o: Omit<ExchangeOptions, 'name' | 'vhost'>): void {
    const where = this.where;
    const check = (arg: string, received: unknown, current: unknown): void => {
      if (received !== current) {
        throw preconditionFailed(`inequivalent arg '${arg}' for ${where}: received '${received}' but current is '${current}'`);
      }
    };
    check('type', o.type, this.type);
    check('durable', o.durable, this.durable);
    check('auto_delete', o.autoDelete, this.autoDelete);
    check('internal', o.internal, this.internal);
    checkArgEquivalent(ALTERNATE_EXCHANGE_ARG, o.args[ALTERNATE_EXCHANGE_ARG], this.args[ALTERNATE_EXCHANGE_ARG], where);
  }
}

/** The alternate-exchange argument of a new exchange; 406 (RabbitMQ's text) unless it is a longstr. */
function alternateExchangeArg(args: Args, where: string): string | undefined {
  const v = args[ALTERNATE_EXCHANGE_ARG];
  if (v === undefined || typeof v === 'string') return v;
  throw preconditionFailed(`invalid type '${fieldTypeName(v)}' for arg '${ALTERNATE_EXCHANGE_ARG}' in ${where}`);
}

/** rabbit_misc:assert_args_equivalence for one argument, with its error texts. */
function checkArgEquivalent(arg: string, received: unknown, current: unknown, where: string): void {
  if (received === undefined && current === undefined) return;
  if (received !== undefined && current !== undefined) {
    if (sameFieldValue(received, current)) return;
    throw preconditionFailed(
      `inequivalent arg '${arg}' for ${where}: received '${fieldText(received)}' but current is '${fieldText(current)}'`,
    );
  }
  const describe = (v: unknown): string => (v === undefined ? 'none' : `the value '${fieldText(v)}' of type '${fieldTypeName(v)}'`);
  throw preconditionFailed(`inequivalent arg '${arg}' for ${where}: received ${describe(received)} but current is ${describe(current)}`);
}
