// RabbitMQ's sender-selected distribution (https://www.rabbitmq.com/docs/sender-selected):
// the `CC` and `BCC` headers, arrays of longstr, add routing keys to one publish, and
// `BCC` is removed from the message before it is stored or delivered
// (rabbit_basic:message/3, header_routes/1). Dead-lettering reads a message's
// routing keys back with the same rule (src/broker/dead-letter.ts).

import { withHeaders } from '../content.js';
import { preconditionFailed } from '../errors.js';
import { fieldTypeName } from '../field-types.js';
import type { Args, PublishInput } from '../message.js';

export const CC_HEADER = 'CC';
export const BCC_HEADER = 'BCC';

/**
 * The routing keys `CC` and `BCC` add, in that order; undefined when neither header is
 * there (the common case, two property reads). Only longstr elements count, as in
 * RabbitMQ. A header that is not an array is 406 with RabbitMQ's text, unless `lenient`
 * (a stored message, checked when it was published), which ignores it.
 */
export function senderSelectedKeys(headers: Args, lenient = false): string[] | undefined {
  const cc = headers[CC_HEADER];
  const bcc = headers[BCC_HEADER];
  if (cc === undefined && bcc === undefined) return undefined;
  return [...headerKeys(CC_HEADER, cc, lenient), ...headerKeys(BCC_HEADER, bcc, lenient)];
}

/** The publish as it is stored and delivered: without its BCC header (the same input when it has none). */
export function withoutBcc(input: PublishInput): PublishInput {
  const headers = input.headers;
  if (headers === undefined || !Object.hasOwn(headers, BCC_HEADER)) return input;
  const { [BCC_HEADER]: _bcc, ...rest } = headers;
  return {
    ...input,
    headers: rest,
    properties: withHeaders(input.properties, (h) => {
      delete h[BCC_HEADER];
      return h;
    }),
  };
}

function headerKeys(name: string, v: unknown, lenient: boolean): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    if (lenient) return [];
    throw preconditionFailed(`invalid message: {unacceptable_type_in_header,"${name}",${fieldTypeName(v)}}`);
  }
  return v.filter((k): k is string => typeof k === 'string');
}
