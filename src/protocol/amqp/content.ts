// The part of the codec that describes message content (basic properties and
// field-table values). Wharf stores AMQP content as its message format, so the
// broker may use this module, and only this one, to edit headers
// (dead-lettering's x-death, the x-delivery-count of redeliveries).

export { decodeProperties, encodeProperties, type BasicProperties } from './generated/properties.js';
export { Timestamp, TypedNumber, type FieldTable, type FieldValue } from './field-table.js';
