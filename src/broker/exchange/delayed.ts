// The `x-delayed-message` exchange type of RabbitMQ's delayed-message plugin:
// declared with `x-delayed-type` naming the type whose routing it uses, it
// holds a message published with a positive `x-delay` header (ms) and routes
// it when the delay is over (src/broker/delayed/). The rules for reading the
// header follow the plugin (rabbit_delayed_message_utils:get_delay).

import { preconditionFailed } from '../errors.js';
import type { Args } from '../message.js';
import { isRouterType, type RouterType } from './index.js';

export const DELAYED_EXCHANGE_TYPE = 'x-delayed-message';
export const DELAYED_TYPE_ARG = 'x-delayed-type';
export const DELAY_HEADER = 'x-delay';

/** The plugin's bound: Erlang's longest timer, 2^32-1 ms (about 49.7 days). Longer delays route at once. */
export const DELAY_MS_MAX = 0xffffffff;

/** The routing type named by `x-delayed-type`; PRECONDITION_FAILED (the plugin's text) when missing or unknown. */
export function delayedRouterType(args: Args): RouterType {
  const type = args[DELAYED_TYPE_ARG];
  if (typeof type !== 'string' || !isRouterType(type)) {
    throw preconditionFailed(`Invalid argument, '${DELAYED_TYPE_ARG}' must be an existing exchange type`);
  }
  return type;
}

/**
 * The delay a message asks for, or undefined to route it now. As the plugin:
 * integers as they are, floating-point numbers truncated, strings holding an
 * integer parsed; anything else, and delays <= 0 or > DELAY_MS_MAX, mean no delay.
 */
export function delayOf(headers: Args | undefined): number | undefined {
  if (headers === undefined || !Object.hasOwn(headers, DELAY_HEADER)) return undefined;
  const ms = delayValue(headers[DELAY_HEADER]);
  return ms > 0 && ms <= DELAY_MS_MAX ? ms : undefined;
}

function delayValue(v: unknown): number {
  if (typeof v === 'number') return Math.trunc(v);
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string') return /^[+-]?\d+$/.test(v) ? Number(v) : NaN;
  // A number decoded with its wire type kept (int8, uint32, float...); not a Decimal ({scale, value}).
  if (typeof v === 'object' && v !== null && !Object.hasOwn(v, 'scale')) {
    const n = (v as { value?: unknown }).value;
    if (typeof n === 'number') return Math.trunc(n);
  }
  return NaN;
}
