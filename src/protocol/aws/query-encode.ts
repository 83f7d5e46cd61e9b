// The AWS query protocol's replies: XML, as AWS sends them and as botocore's
// QueryParser (parsers.py) and the SDK v3's AwsQueryProtocol read them:
//
//   <SendMessageResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">
//     <SendMessageResult>...the output shape...</SendMessageResult>
//     <ResponseMetadata><RequestId>...</RequestId></ResponseMetadata>
//   </SendMessageResponse>
//
// The output shape is written from the same JSON-shaped result AWS JSON carries,
// element names and list/map layouts from the model: a member is
// <locationName or name>; a list <Name><member>..</member></Name>, or flattened
// <Name>..</Name><Name>..</Name> (named by the member's locationName if it has one);
// a map <Name><entry><key/><value/></entry></Name>, or flattened
// <Name><Key/><Value/></Name> per entry. Errors are an ErrorResponse.

import { isFlattened, locationNameOf, shapeOf, type ServiceModel, type Shape, type ShapeRef } from './model.js';

const XML_DECLARATION = '<?xml version="1.0"?>';

/** The reply to an action: its result (if the operation has an output) and the request id. */
export function encodeQueryResponse(model: ServiceModel, action: string, result: unknown, requestId: string): string {
  const op = Object.hasOwn(model.operations, action) ? model.operations[action] : undefined;
  const ns = namespaceAttr(model);
  const parts = [XML_DECLARATION, `<${action}Response${ns}>`];
  if (op?.output !== undefined) {
    const wrapper = op.output.resultWrapper ?? `${action}Result`;
    const body = typeof result === 'object' && result !== null ? new Encoder(model).members(shapeOf(model, op.output), result as Record<string, unknown>) : '';
    parts.push(`<${wrapper}>${body}</${wrapper}>`);
  }
  parts.push(`<ResponseMetadata><RequestId>${escapeXml(requestId)}</RequestId></ResponseMetadata></${action}Response>`);
  return parts.join('');
}

export interface QueryErrorReply {
  readonly code: string;
  readonly message: string;
  readonly fault: 'Sender' | 'Receiver';
}

/** An error reply (the model gives the namespace; without one, none is written). */
export function encodeQueryError(model: ServiceModel | undefined, error: QueryErrorReply, requestId: string): string {
  return [
    XML_DECLARATION,
    `<ErrorResponse${model === undefined ? '' : namespaceAttr(model)}>`,
    `<Error><Type>${error.fault}</Type><Code>${escapeXml(error.code)}</Code><Message>${escapeXml(error.message)}</Message><Detail/></Error>`,
    `<RequestId>${escapeXml(requestId)}</RequestId>`,
    '</ErrorResponse>',
  ].join('');
}

function namespaceAttr(model: ServiceModel): string {
  const ns = model.metadata.xmlNamespace;
  return ns === undefined ? '' : ` xmlns="${escapeXml(ns)}"`;
}

class Encoder {
  constructor(private readonly model: ServiceModel) {}

  /** A structure's members, in the model's order; members the model does not know are left out. */
  members(shape: Shape, value: Record<string, unknown>): string {
    let out = '';
    for (const [name, ref] of Object.entries(shape.members ?? {})) {
      if (!Object.hasOwn(value, name)) continue;
      out += this.element(locationNameOf(this.model, ref) ?? name, ref, value[name]);
    }
    return out;
  }

  private element(name: string, ref: ShapeRef, value: unknown): string {
    if (value === undefined || value === null) return '';
    const shape = shapeOf(this.model, ref);
    switch (shape.type) {
      case 'structure':
        return typeof value === 'object' ? `<${name}>${this.members(shape, value as Record<string, unknown>)}</${name}>` : '';
      case 'list':
        return this.list(name, ref, shape, value);
      case 'map':
        return this.map(name, ref, shape, value);
      default:
        return `<${name}>${escapeXml(scalar(shape, value))}</${name}>`;
    }
  }

  private list(name: string, ref: ShapeRef, shape: Shape, value: unknown): string {
    if (!Array.isArray(value)) return '';
    const member = shape.member as ShapeRef;
    if (isFlattened(ref, shape)) {
      const itemName = locationNameOf(this.model, member) ?? name;
      return value.map((v) => this.element(itemName, member, v)).join('');
    }
    const itemName = locationNameOf(this.model, member) ?? 'member';
    return `<${name}>${value.map((v) => this.element(itemName, member, v)).join('')}</${name}>`;
  }

  private map(name: string, ref: ShapeRef, shape: Shape, value: unknown): string {
    if (typeof value !== 'object' || value === null) return '';
    const keyRef = shape.key as ShapeRef;
    const valueRef = shape.value as ShapeRef;
    const keyName = locationNameOf(this.model, keyRef) ?? 'key';
    const valueName = locationNameOf(this.model, valueRef) ?? 'value';
    const entries = Object.entries(value).map(([k, v]) => `<${keyName}>${escapeXml(k)}</${keyName}>${this.element(valueName, valueRef, v)}`);
    if (isFlattened(ref, shape)) return entries.map((e) => `<${name}>${e}</${name}>`).join('');
    return `<${name}>${entries.map((e) => `<entry>${e}</entry>`).join('')}</${name}>`;
  }
}

function scalar(shape: Shape, value: unknown): string {
  switch (shape.type) {
    case 'boolean':
      return value === true || value === 'true' ? 'true' : 'false';
    case 'blob':
      return Buffer.isBuffer(value) || value instanceof Uint8Array ? Buffer.from(value).toString('base64') : String(value);
    case 'timestamp': {
      // JSON's epoch seconds (or a Date) become ISO 8601, the query protocol's default.
      const d = value instanceof Date ? value : new Date(typeof value === 'number' ? value * 1000 : String(value));
      return Number.isNaN(d.getTime()) ? String(value) : d.toISOString();
    }
    default:
      return String(value);
  }
}

/** Characters XML 1.0 cannot carry at all, not even as references (§2.2 Char). */
// eslint-disable-next-line no-control-regex -- control characters are what this matches
const NOT_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

// eslint-disable-next-line no-control-regex -- control characters are what this matches
const NEEDS_ESCAPE = /[&<>"'\u0000-\u0008\u000B-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/;

/**
 * XML text: markup characters as entities, and CR as a character reference, since an
 * XML parser would otherwise turn "\r\n" into "\n" and change a message body (and its
 * MD5) on the way (AWS writes &#xD; too). Characters XML 1.0 cannot carry (SQS refuses
 * them in what it is sent; an AMQP publisher may not) become U+FFFD.
 */
export function escapeXml(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  return s.replace(NOT_XML_CHAR, '\uFFFD').replace(/[&<>"'\r]/g, (c) => XML_ENTITIES[c]);
}

const XML_ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\r': '&#xD;' };
