// SendMessage's MessageSystemAttributes: AWS has one, AWSTraceHeader (an X-Ray trace
// header, a String). It travels with the message as a header of its own and comes back
// as the AWSTraceHeader system attribute on receive; the send's reply carries
// MD5OfMessageSystemAttributes, computed as for message attributes.

import { AwsError } from '../errors.js';
import { md5OfAttributes } from './md5.js';

/** The header that carries a message's AWSTraceHeader (never shown as a message attribute). */
export const TRACE_HEADER = 'x-sqs-aws-trace-header';

/** The AWSTraceHeader a send gives (undefined: none) and the MD5 its reply carries. */
export function traceHeaderOf(raw: unknown): { value: string; md5: string } | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new AwsError('InvalidParameterValue', 'Value for parameter MessageSystemAttributes is invalid.');
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length === 0) return undefined;
  for (const [name] of entries) {
    if (name !== 'AWSTraceHeader') throw new AwsError('InvalidParameterValue', `Message system attribute name '${name}' is invalid.`);
  }
  const a = (raw as { AWSTraceHeader: { DataType?: unknown; StringValue?: unknown } }).AWSTraceHeader;
  if (typeof a !== 'object' || a === null || a.DataType !== 'String' || typeof a.StringValue !== 'string' || a.StringValue === '') {
    throw new AwsError('InvalidParameterValue', "Message system attribute 'AWSTraceHeader' must contain a non-empty value of type 'String'.");
  }
  return { value: a.StringValue, md5: md5OfAttributes({ AWSTraceHeader: { DataType: 'String', StringValue: a.StringValue } }) };
}

/** The AWSTraceHeader system attribute of a received message's headers, if it has one. */
export function traceSystemAttribute(headers: Readonly<Record<string, unknown>>): Record<string, string> {
  const v = headers[TRACE_HEADER];
  const text = Buffer.isBuffer(v) ? v.toString('utf8') : v;
  return typeof text === 'string' ? { AWSTraceHeader: text } : {};
}
