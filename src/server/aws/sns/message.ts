// A Publish (or PublishBatch entry) checked as SNS checks it: the message and its
// structure (MessageStructure=json: a JSON object with a "default" string and
// optional per-protocol strings), the subject, and message attributes of SNS's
// types (String, String.Array, Number, Binary, each with an optional ".label").

import { snsAttributesInput, type FilterInput } from '../../../broker/filter/index.js';
import { AwsError } from '../errors.js';
import type { EnvelopeAttribute } from './envelope.js';

/** SNS's limit on a message with its attributes (256 KiB). */
export const MESSAGE_BYTES_MAX = 256 * 1024;

export interface SnsAttribute {
  readonly DataType: string;
  readonly StringValue?: string;
  readonly BinaryValue?: Buffer;
}

export interface CheckedMessage {
  /** The default message. */
  readonly message: string;
  /** MessageStructure=json: the message per protocol ("sqs", "http", ...); else undefined. */
  readonly perProtocol: Readonly<Record<string, string>> | undefined;
  readonly subject: string | undefined;
  readonly attributes: Readonly<Record<string, SnsAttribute>>;
  readonly groupId: string | undefined;
  readonly dedupId: string | undefined;
}

type Params = Record<string, unknown>;

export const invalidParameter = (detail: string): AwsError => new AwsError('InvalidParameter', `Invalid parameter: ${detail}`);
const invalidValue = (text: string): AwsError => new AwsError('ParameterValueInvalid', text);

export function checkMessage(p: Params): CheckedMessage {
  const raw = p.Message;
  if (typeof raw !== 'string' || raw === '') throw invalidParameter('Empty message');
  const attributes = checkAttributes(p.MessageAttributes);
  if (Buffer.byteLength(raw) + attributesBytes(attributes) > MESSAGE_BYTES_MAX) throw invalidParameter('Message too long');
  let message = raw;
  let perProtocol: Record<string, string> | undefined;
  if (p.MessageStructure !== undefined && p.MessageStructure !== null && p.MessageStructure !== '') {
    if (p.MessageStructure !== 'json') throw invalidParameter('MessageStructure');
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw invalidParameter('Message Structure - JSON message body failed to parse');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalidParameter('Message Structure - JSON message body failed to parse');
    const obj = parsed as Record<string, unknown>;
    if (typeof obj.default !== 'string') throw invalidParameter('Message Structure - No default entry in JSON message body');
    message = obj.default;
    perProtocol = Object.fromEntries(Object.entries(obj).filter((e): e is [string, string] => typeof e[1] === 'string'));
  }
  const subject = p.Subject === undefined || p.Subject === null ? undefined : String(p.Subject);
  // SNS: ASCII text, no line breaks or control characters, 1 to 100 characters.
  if (subject !== undefined && (subject.length === 0 || subject.length > 100 || !/^[\x20-\x7e]+$/.test(subject))) throw invalidParameter('Subject');
  return {
    message,
    perProtocol,
    subject,
    attributes,
    groupId: optionalString(p.MessageGroupId),
    dedupId: optionalString(p.MessageDeduplicationId),
  };
}

/** The message a subscription of this protocol gets. */
export function messageFor(m: CheckedMessage, protocol: string): string {
  return m.perProtocol?.[protocol] ?? m.message;
}

/** The attributes as filter input (String.Array elements, Numbers as numbers). */
export function filterInput(m: CheckedMessage): FilterInput {
  return snsAttributesInput(m.attributes);
}

/** The attributes as the envelope lists them: {Type, Value}, binary values base64. */
export function envelopeAttributes(attrs: Readonly<Record<string, SnsAttribute>>): Record<string, EnvelopeAttribute> {
  const out: Record<string, EnvelopeAttribute> = {};
  for (const [name, a] of Object.entries(attrs)) out[name] = { Type: a.DataType, Value: a.BinaryValue !== undefined ? a.BinaryValue.toString('base64') : (a.StringValue ?? '') };
  return out;
}

function optionalString(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function checkAttributes(raw: unknown): Record<string, SnsAttribute> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalidParameter('MessageAttributes');
  const out: Record<string, SnsAttribute> = {};
  for (const [name, v] of Object.entries(raw as Record<string, unknown>)) {
    checkAttributeName(name);
    const a = (v ?? {}) as { DataType?: unknown; StringValue?: unknown; BinaryValue?: unknown };
    const type = typeof a.DataType === 'string' ? a.DataType : '';
    const base = type.split('.')[0];
    // A custom type is the base, a dot and at least one character ("String." is refused, as AWS).
    if (!/^(String|Number|Binary)(\..+)?$/s.test(type)) {
      throw invalidValue(`The message attribute '${name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.`);
    }
    const field = base === 'Binary' ? 'Binary' : 'String';
    const given = (x: unknown): boolean => x !== undefined && x !== null;
    if (field === 'Binary' ? !given(a.BinaryValue) && given(a.StringValue) : !given(a.StringValue) && given(a.BinaryValue)) {
      throw invalidValue(`The message attribute '${name}' with type '${base}' must use field '${field}'.`);
    }
    const empty = (): AwsError => invalidValue(`The message attribute '${name}' must contain non-empty message attribute value for message attribute type '${type}'.`);
    if (base === 'Binary') {
      const bin = Buffer.isBuffer(a.BinaryValue) ? a.BinaryValue : typeof a.BinaryValue === 'string' ? Buffer.from(a.BinaryValue, 'base64') : undefined;
      if (!bin || bin.length === 0) throw empty();
      out[name] = { DataType: type, BinaryValue: bin };
      continue;
    }
    if (typeof a.StringValue !== 'string' || a.StringValue === '') throw empty();
    if (base === 'Number' && !isSnsNumber(a.StringValue)) throw invalidValue(`Could not cast message attribute '${name}' value to number.`);
    if (type === 'String.Array' && !isJsonArray(a.StringValue)) {
      throw invalidParameter(`Message attribute '${name}' has an invalid value for type 'String.Array': the value must be a JSON array`);
    }
    out[name] = { DataType: type, StringValue: a.StringValue };
  }
  return out;
}

/** A message attribute's name, with AWS's texts (ParameterValueInvalid). */
function checkAttributeName(name: string): void {
  if (name.length > 256) throw invalidValue('Length of message attribute name must be less than 256 bytes.');
  const bad = /[^A-Za-z0-9_.-]/.exec(name);
  if (bad) {
    const hex = (bad[0].codePointAt(0) ?? 0).toString(16).toUpperCase();
    throw invalidValue(`Invalid non-alphanumeric character '#x${hex}' was found in the message attribute name. Can only include alphanumeric characters, hyphens, underscores, or dots.`);
  }
  if (name.startsWith('.')) throw invalidValue("Invalid message attribute name starting with character '.' was found.");
  if (name.endsWith('.')) throw invalidValue("Invalid message attribute name ending with character '.' was found.");
  if (name.includes('..')) throw invalidValue("Message attribute name can not have successive '.' character.");
  if (name === '' || /^(aws|amazon)\./i.test(name)) throw invalidParameter(`MessageAttributes: Invalid attribute name: ${name}`);
}

function isSnsNumber(s: string): boolean {
  return /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s.trim()) && Number.isFinite(Number(s));
}

function isJsonArray(s: string): boolean {
  try {
    return Array.isArray(JSON.parse(s));
  } catch {
    return false;
  }
}

export function attributesBytes(attrs: Readonly<Record<string, SnsAttribute>>): number {
  let n = 0;
  for (const [name, a] of Object.entries(attrs)) n += Buffer.byteLength(name) + Buffer.byteLength(a.DataType) + (a.BinaryValue?.length ?? Buffer.byteLength(a.StringValue ?? ''));
  return n;
}
