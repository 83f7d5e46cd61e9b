// Message counters for the management API and metrics. The hot path only ever
// increments a few integer fields of objects that already exist (the vhost, the
// queue, the exchange); rates are computed by the HTTP layer sampling these
// counters on a timer (src/http/rates.ts), so nothing here allocates per message.

/** RabbitMQ's message_stats counters (the names the management API reports, in camelCase). */
export class MessageCounters {
  /** Messages published into the vhost / enqueued on the queue. */
  publish = 0;
  /** Delivered to consumers that must ack. */
  deliver = 0;
  /** Delivered to no-ack consumers. */
  deliverNoAck = 0;
  /** basic.get answered with a message, ack required / not. */
  get = 0;
  getNoAck = 0;
  /** basic.get answered get-empty. */
  getEmpty = 0;
  ack = 0;
  /** Deliveries (consume or get) of messages delivered before. */
  redeliver = 0;
  /** Publisher confirms sent (vhost only). */
  confirm = 0;
  /** Unroutable mandatory publishes returned / other unroutable publishes dropped (vhost only). */
  returnUnroutable = 0;
  dropUnroutable = 0;
}

/** RabbitMQ's exchange message_stats: messages in (published to it) and out (routed somewhere). */
export class ExchangeCounters {
  publishIn = 0;
  publishOut = 0;
}

/** Creations and deletions, RabbitMQ's churn_rates. */
export class ChurnCounters {
  connectionCreated = 0;
  connectionClosed = 0;
  channelCreated = 0;
  channelClosed = 0;
  queueDeclared = 0;
  queueCreated = 0;
  queueDeleted = 0;
}
