// The broker stores message properties as raw AMQP bytes; the delayed-message
// store needs the fields routing and queues use (headers for headers-type
// routing, priority, expiration, message-id) read back at release time, and
// x-delay rewritten. This adapter does both with the protocol layer's codec.

import type { PropertiesCodec } from '../../broker/delayed/delayed-store.js';
import { decodeProperties, encodeProperties } from '../../protocol/amqp/index.js';

/** Flag bits of properties 0-9-1 does not define, or a second flag word: values we could not re-encode. */
const UNKNOWN_FLAGS = 0x0003;

export const amqpPropertiesCodec: PropertiesCodec = {
  publishFields(properties: Buffer) {
    const p = decodeProperties(properties);
    return {
      headers: p.headers,
      priority: p.priority ?? 0,
      // Validated when it was published (channel.ts parseExpiration); -1 is "none".
      expiration: p.expiration !== undefined && /^\d{1,15}$/.test(p.expiration) ? Number(p.expiration) : -1,
      messageId: p.messageId,
    };
  },

  withIntHeader(properties: Buffer, name: string, value: number): Buffer {
    if (properties.length >= 2 && (properties.readUInt16BE(0) & UNKNOWN_FLAGS) !== 0) return properties;
    const p = decodeProperties(properties);
    // Assigning an existing key keeps its place, so the headers keep their order.
    return encodeProperties({ ...p, headers: { ...p.headers, [name]: value } });
  },
};
