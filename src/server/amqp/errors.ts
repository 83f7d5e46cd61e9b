// Maps domain errors to AMQP reply codes. AMQP 0-9-1 §1.4.2: soft errors close
// the channel, hard errors close the connection.

import { BrokerError, type BrokerErrorKind } from '../../broker/errors.js';
import { AmqpProtocolError, ReplyCode, isHardError } from '../../protocol/amqp/index.js';

const CODES: Record<BrokerErrorKind, number> = {
  'not-found': ReplyCode.NOT_FOUND,
  'precondition-failed': ReplyCode.PRECONDITION_FAILED,
  'access-refused': ReplyCode.ACCESS_REFUSED,
  'resource-locked': ReplyCode.RESOURCE_LOCKED,
  'not-allowed': ReplyCode.NOT_ALLOWED,
  'command-invalid': ReplyCode.COMMAND_INVALID,
  'not-implemented': ReplyCode.NOT_IMPLEMENTED,
  'resource-error': ReplyCode.RESOURCE_ERROR,
  'internal-error': ReplyCode.INTERNAL_ERROR,
};

export interface AmqpFailure {
  readonly code: number;
  readonly text: string;
  readonly connectionLevel: boolean;
}

/** Anything thrown while handling a method, as an AMQP close. Unknown errors are 541 INTERNAL_ERROR. */
export function toAmqpFailure(err: unknown): AmqpFailure {
  if (err instanceof AmqpProtocolError) {
    return { code: err.replyCode, text: err.message, connectionLevel: isHardError(err.replyCode) };
  }
  if (err instanceof BrokerError) {
    const code = CODES[err.kind];
    return { code, text: err.message, connectionLevel: err.connectionLevel || isHardError(code) };
  }
  const text = err instanceof Error ? err.message : String(err);
  return { code: ReplyCode.INTERNAL_ERROR, text: `internal error: ${text}`, connectionLevel: true };
}
