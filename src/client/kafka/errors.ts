// Errors the Kafka client raises: a broker answered with a Kafka error code, the socket went
// away, or the broker broke the protocol. One class, so callers print `err.message` and are done.

import { errorCodeName } from '../../protocol/kafka/index.js';

export class KafkaClientError extends Error {
  constructor(
    message: string,
    /** The Kafka error code the broker answered with, or 0 for a lost socket or a client-side failure. */
    readonly errorCode = 0,
  ) {
    super(message);
    this.name = 'KafkaClientError';
  }
}

/** "create topic 't': 36 TOPIC_ALREADY_EXISTS (Topic 't' already exists.)" */
export function brokerError(what: string, errorCode: number, message?: string | null): KafkaClientError {
  const detail = message !== undefined && message !== null && message !== '' ? ` (${message})` : '';
  return new KafkaClientError(`${what}: ${errorCode} ${errorCodeName(errorCode)}${detail}`, errorCode);
}
