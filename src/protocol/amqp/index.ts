// The AMQP 0-9-1 protocol layer: bytes in, typed frames and commands out, and
// back. Imports nothing else from src (docs/architecture.md).

export { AmqpProtocolError } from './errors.js';
export * from './generated/constants.js';
export * from './generated/methods.js';
export { decodeMethod } from './generated/method-decoders.js';
export { encodeMethod, encodeMethodInto, methodMaxBytes } from './generated/method-encoders.js';
export {
  decodeProperties,
  encodeProperties,
  encodePropertiesInto,
  propertiesMaxBytes,
  type BasicProperties,
} from './generated/properties.js';
export {
  Decimal,
  FIELD_NESTING_MAX,
  Timestamp,
  TypedNumber,
  decodeTable,
  encodeTable,
  fieldNumber,
  type FieldTable,
  type FieldValue,
  type TypedNumberType,
} from './field-table.js';
export { FrameParser, type Frame, type FrameParserHandler } from './frame-parser.js';
export {
  CommandAssembler,
  DEFAULT_MAX_BODY_BYTES,
  parseContentHeader,
  type Command,
  type ContentHeader,
} from './command-assembler.js';
export { DEFAULT_FRAME_MAX, FrameWriter, heartbeatFrame } from './frame-writer.js';
