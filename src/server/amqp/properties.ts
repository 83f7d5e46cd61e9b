// What the server tells clients in connection.start. Clients switch features
// on these capability flags, so they match RabbitMQ's.

import { createRequire } from 'node:module';
import type { FieldTable } from '../../protocol/amqp/index.js';

const require = createRequire(import.meta.url);

function version(): string {
  for (const p of ['../../../package.json', '../../../../package.json']) {
    try {
      return (require(p) as { version: string }).version;
    } catch {
      // try the next layout (src vs dist)
    }
  }
  return '0.0.0';
}

export const WHARF_VERSION = version();

export function serverProperties(): FieldTable {
  return {
    capabilities: {
      publisher_confirms: true,
      exchange_exchange_bindings: true,
      'basic.nack': true,
      consumer_cancel_notify: true,
      'connection.blocked': true,
      consumer_priorities: true,
      authentication_failure_close: true,
      per_consumer_qos: true,
      direct_reply_to: true,
    },
    cluster_name: 'wharf',
    copyright: 'Copyright (c) the Wharf authors',
    information: 'Wharf, an AMQP 0-9-1 message broker for Node.js',
    platform: `Node.js ${process.version}`,
    product: 'Wharf',
    version: WHARF_VERSION,
  };
}
