// The broker stores message properties as raw AMQP bytes; the delayed-message
// store needs their headers decoded (headers-type routing at release time) and
// x-delay rewritten. This adapter does both with the protocol layer's codec.

import type { PropertiesCodec } from '../../broker/delayed/delayed-store.js';
import { decodeProperties, encodeProperties } from '../../protocol/amqp/index.js';

/** Flag bits of properties 0-9-1 does not define, or a second flag word: values we could not re-encode. */
const UNKNOWN_FLAGS = 0x0003;

export const amqpPropertiesCodec: PropertiesCodec = {
  headers(properties: Buffer) {
    return decodeProperties(properties).headers;
  },

  withIntHeader(properties: Buffer, name: string, value: number): Buffer {
    if (properties.length >= 2 && (properties.readUInt16BE(0) & UNKNOWN_FLAGS) !== 0) return properties;
    const p = decodeProperties(properties);
    // Assigning an existing key keeps its place, so the headers keep their order.
    return encodeProperties({ ...p, headers: { ...p.headers, [name]: value } });
  },
};
