// The exchange types Wharf knows, and a router for each.

import { BrokerError } from '../errors.js';
import { DirectRouter } from './direct.js';
import { FanoutRouter } from './fanout.js';
import { HeadersRouter } from './headers.js';
import type { Router } from './router.js';
import { TopicRouter } from './topic.js';
import { FilteringRouter } from './filtering.js';

export type RouterType = 'direct' | 'fanout' | 'topic' | 'headers';

export const routerTypes: readonly RouterType[] = ['direct', 'fanout', 'topic', 'headers'];

export function isRouterType(type: string): type is RouterType {
  return (routerTypes as readonly string[]).includes(type);
}

/**
 * A fresh, empty router for an exchange type. The type usually comes straight
 * off the wire (exchange.declare), so an unknown one throws COMMAND_INVALID,
 * as RabbitMQ does (reply code 503, a hard error: it closes the connection).
 * Every type also takes `x-filter-policy` bindings (filtering.ts).
 */
export function createRouter<D>(type: RouterType | string): Router<D> {
  return new FilteringRouter<D>(createPlainRouter<D>(type), () => createPlainRouter<D>(type));
}

function createPlainRouter<D>(type: RouterType | string): Router<D> {
  switch (type) {
    case 'direct':
      return new DirectRouter<D>();
    case 'fanout':
      return new FanoutRouter<D>();
    case 'topic':
      return new TopicRouter<D>();
    case 'headers':
      return new HeadersRouter<D>();
    default:
      throw new BrokerError('command-invalid', `invalid exchange type '${type}'`, true);
  }
}

export type { Args, Binding, Router } from './router.js';
export { FILTER_POLICY_ARG, FILTER_SCOPE_ARG } from './filtering.js';
export { DirectRouter } from './direct.js';
export { FanoutRouter } from './fanout.js';
export { HeadersRouter } from './headers.js';
export { TopicRouter } from './topic.js';
