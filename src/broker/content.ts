// Reading and rewriting stored message content. Wharf stores a message's AMQP
// properties as the raw bytes the publisher sent; the broker decodes them only
// where it must (a delayed message's release, dead-lettering, redelivery
// counts) through protocol/amqp/content.js, the one protocol module it may use.

import { decodeProperties, encodeProperties, type FieldTable } from '../protocol/amqp/content.js';
import type { PropertiesCodec } from './delayed/delayed-store.js';

/** Flag bits of properties 0-9-1 does not define, or a second flag word: values we could not re-encode. */
const UNKNOWN_FLAGS = 0x0003;

/** Properties that decode and re-encode without loss (no property 0-9-1 does not define). */
export function rewritable(properties: Buffer): boolean {
  return properties.length < 2 || (properties.readUInt16BE(0) & UNKNOWN_FLAGS) === 0;
}

/** The properties with their headers table replaced by edit(headers); unchanged if they cannot be rewritten. */
export function withHeaders(properties: Buffer, edit: (headers: FieldTable) => FieldTable): Buffer {
  if (!rewritable(properties)) return properties;
  const p = decodeProperties(properties);
  return encodeProperties({ ...p, headers: edit({ ...(p.headers ?? {}) }) });
}

export const propertiesCodec: PropertiesCodec = {
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
    // Assigning an existing key keeps its place, so the headers keep their order.
    return withHeaders(properties, (h) => ({ ...h, [name]: value }));
  },
};
