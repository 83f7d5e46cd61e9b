// The part of the codec that describes message content (basic properties and
// field-table values). Wharf stores AMQP content as its message format, so the
// broker may use this module, and only this one, to edit headers
// (dead-lettering's x-death, the x-delivery-count of redeliveries, a stream
// delivery's x-stream-offset).

export { decodeProperties, encodeProperties, type BasicProperties } from './generated/properties.js';
export { Decimal, Timestamp, TypedNumber, type FieldTable, type FieldValue } from './field-table.js';
export { withHeader } from './properties-edit.js';
