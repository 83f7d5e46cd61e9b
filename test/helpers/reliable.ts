// Helpers for the reliable-queue suites (dead letters, TTL, length limits,
// delivery limits, timeouts): the x-death history and x-delivery-count of a
// delivered message as amqplib decodes them, a dead-letter exchange with its
// queue, and a consumer that settles each message with a callback.

import assert from 'node:assert/strict';
import type { Channel, ConsumeMessage, Message } from 'amqplib';
import { Collector, WAIT_MS, uniqueName, withTimeout } from './async.js';
import type { Clients } from './amqplib.js';

export const range = (n: number, prefix = 'm'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** One entry of the x-death header, as RabbitMQ writes it. */
export interface XDeath {
  queue: string;
  reason: string;
  count: number;
  /** Seconds since the epoch (an AMQP timestamp). */
  time: number;
  exchange: string;
  routingKeys: string[];
  originalExpiration: string | undefined;
}

/** The x-death header of a message, newest death first; [] when it never died. */
export function xDeaths(m: Message): XDeath[] {
  const raw = m.properties.headers?.['x-death'] as unknown;
  if (raw === undefined) return [];
  assert.ok(Array.isArray(raw), 'x-death is an array');
  return raw.map((d: Record<string, unknown>) => {
    const time = d['time'] as { '!': string; value: number };
    assert.equal(time['!'], 'timestamp', 'x-death time is an AMQP timestamp');
    return {
      queue: d['queue'] as string,
      reason: d['reason'] as string,
      count: d['count'] as number,
      time: time.value,
      exchange: d['exchange'] as string,
      routingKeys: d['routing-keys'] as string[],
      originalExpiration: d['original-expiration'] as string | undefined,
    };
  });
}

/** The x-delivery-count header (how often the message came back); 0 when absent. */
export function deliveryCount(m: Message): number {
  const v = m.properties.headers?.['x-delivery-count'] as unknown;
  return v === undefined ? 0 : Number(v);
}

/**
 * A dead-letter exchange (fanout unless told) and a queue bound to it; `cleanup`
 * deletes both when the test ends (left out by tests that restart the broker).
 */
export async function declareDeadLetters(
  ch: Channel,
  o: { cleanup?: Clients; durable?: boolean; type?: 'fanout' | 'direct'; bindingKey?: string } = {},
): Promise<{ dlx: string; dlq: string }> {
  const durable = o.durable ?? false;
  const dlx = uniqueName('dlx');
  const dlq = uniqueName('dlq');
  o.cleanup?.deleteExchangeLater(dlx);
  o.cleanup?.deleteLater(dlq);
  await ch.assertExchange(dlx, o.type ?? 'fanout', { durable, autoDelete: false });
  await ch.assertQueue(dlq, { durable });
  await ch.bindQueue(dlq, dlx, o.bindingKey ?? '');
  return { dlx, dlq };
}

/**
 * Consumes from `queue`, calling `settle` on each message (which must ack or
 * nack it); the returned collector holds every delivery, settled or not.
 */
export async function consumeWith(
  ch: Channel,
  queue: string,
  settle: (m: ConsumeMessage) => void,
): Promise<{ collector: Collector<ConsumeMessage>; consumerTag: string }> {
  const collector = new Collector<ConsumeMessage>();
  const { consumerTag } = await withTimeout(
    ch.consume(queue, (m) => {
      if (m === null) return;
      collector.push(m);
      settle(m);
    }, { noAck: false }),
    WAIT_MS,
    `basic.consume-ok on ${queue}`,
  );
  return { collector, consumerTag };
}
