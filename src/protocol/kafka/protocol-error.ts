// The one error type of the Kafka protocol layer. Every malformed input (a
// truncated request, a bad varint, a record batch whose CRC fails) ends in a
// KafkaProtocolError carrying the Kafka error code that describes it, so the
// server adapter can answer with that code or close the connection, as Kafka
// does for requests it cannot parse.

import { ErrorCode } from './errors.js';

export class KafkaProtocolError extends Error {
  constructor(
    /** A Kafka error code (errors.ts): INVALID_REQUEST, CORRUPT_MESSAGE, UNSUPPORTED_VERSION, ... */
    readonly errorCode: number,
    message: string,
    /** The request's correlation id, when the header was read far enough to know it. */
    readonly correlationId?: number,
  ) {
    super(message);
    this.name = 'KafkaProtocolError';
  }

  /** The same error, tagged with the correlation id of the request it concerns. */
  withCorrelationId(correlationId: number): KafkaProtocolError {
    return new KafkaProtocolError(this.errorCode, this.message, correlationId);
  }
}

/** Malformed bytes in a request or response: Kafka's InvalidRequestException. */
export function malformed(message: string): KafkaProtocolError {
  return new KafkaProtocolError(ErrorCode.INVALID_REQUEST, message);
}

/** A record batch that fails its CRC or whose structure is broken: Kafka's CorruptRecordException. */
export function corrupt(message: string): KafkaProtocolError {
  return new KafkaProtocolError(ErrorCode.CORRUPT_MESSAGE, message);
}

/** A version the codec cannot read or write, or a field value a version cannot carry. */
export function unsupportedVersion(message: string): KafkaProtocolError {
  return new KafkaProtocolError(ErrorCode.UNSUPPORTED_VERSION, message);
}
