// Wharf's own AMQP 0-9-1 client: small and fast, for `wharf perf`, benchmarks
// and tests. Built on src/protocol/amqp only; nothing in the broker imports it.

export { connect, Connection, type ConnectOptions } from './connection.js';
export { Channel, type DeliveryHandler, type QueueDeclareOptions, type QueueInfo } from './channel.js';
export { AmqpClientError } from './errors.js';
export { parseAmqpUrl, redactUrl, type AmqpUrl } from './url.js';
export { encodeProperties, type BasicDeliver, type BasicProperties, type ContentHeader } from '../../protocol/amqp/index.js';
