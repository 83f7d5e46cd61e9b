// The AWS query protocol's requests (https://smithy.io/2.0/aws/protocols/aws-query-protocol.html):
// a form (`Action=SendMessage&Version=2012-11-05&QueueUrl=...`, in a POST body or a
// GET query string) whose keys are paths through the input shape. Decoding walks
// the operation's input shape in the service model and gives the same JSON-shaped
// params AWS JSON carries: member names as in the model, lists as arrays, maps as
// objects, numbers and booleans typed, blobs as base64 strings, timestamps as epoch
// seconds.
//
// Key paths, as botocore's QuerySerializer (serialize.py) and the SDKs write them:
//   structure member   Prefix.<locationName or member name>
//   list               Prefix.member.N  (Prefix.<member locationName>.N)
//   flattened list     Prefix.N, the last segment renamed to the member's locationName
//                      if it has one (AttributeNames -> AttributeName.1)
//   empty list         Prefix= (an empty value)
//   map                Prefix.entry.N.key / Prefix.entry.N.value (locationNames rename key, value)
//   flattened map      Prefix.N.Name / Prefix.N.Value (SQS: Attribute.1.Name)
// Older clients write lists both ways (X.N for X.member.N and back), so both are read.

import { QueryProtocolError, invalidValue } from './errors.js';
import { isFlattened, locationNameOf, shapeOf, type ServiceModel, type Shape, type ShapeRef } from './model.js';

/** A form's keys as a tree of their dotted segments. */
interface Node {
  value?: string;
  children?: Map<string, Node>;
}

/** More dotted segments than any key of SQS's or SNS's models has (7 at most: X.1.MessageAttribute.1.Value.StringListValue.1). */
const KEY_SEGMENTS_MAX = 16;

/** The parameters of a form body or query string (`+` is a space; a malformed escape is kept as it is). */
export function parseForm(form: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of new URLSearchParams(form)) out.set(k, v);
  return out;
}

/** Decodes the params of one action into its input shape's JSON form. */
export function decodeQuery(model: ServiceModel, action: string, params: ReadonlyMap<string, string>): Record<string, unknown> {
  const op = Object.hasOwn(model.operations, action) ? model.operations[action] : undefined;
  if (op === undefined) throw new QueryProtocolError('InvalidAction', `The action ${action} is not valid for this endpoint.`);
  if (op.input === undefined) return {};
  const root: Node = {};
  for (const [key, value] of params) {
    if (key === 'Action' || key === 'Version') continue;
    const segments = key.split('.', KEY_SEGMENTS_MAX + 1);
    // No model goes this deep: such a key names nothing, and a tree of it would only cost memory.
    if (segments.length > KEY_SEGMENTS_MAX) continue;
    let node = root;
    for (const segment of segments) {
      node.children ??= new Map();
      let next = node.children.get(segment);
      if (next === undefined) node.children.set(segment, (next = {}));
      node = next;
    }
    node.value = value;
  }
  return new Decoder(model).structure(root, shapeOf(model, op.input), '');
}

interface MemberKeys {
  readonly name: string;
  readonly ref: ShapeRef;
  readonly segments: readonly string[];
}

/** Per structure shape of a model (the models are constants), its members' key segments. */
const memberKeysCache = new WeakMap<Shape, readonly MemberKeys[]>();

class Decoder {
  constructor(private readonly model: ServiceModel) {}

  structure(node: Node, shape: Shape, path: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (node.children === undefined) return out;
    for (const { name, ref, segments } of this.membersOf(shape)) {
      for (const segment of segments) {
        const child = node.children.get(segment);
        if (child === undefined) continue;
        const value = this.value(child, ref, path === '' ? segment : `${path}.${segment}`);
        if (value !== undefined) out[name] = value;
        break;
      }
    }
    return out;
  }

  /**
   * A structure's members with the key segments each may come under: its serialized name
   * first (as botocore's _serialize_type_structure and _serialize_type_list write it: a
   * flattened list is renamed to its member's locationName), then its other names.
   */
  private membersOf(shape: Shape): readonly MemberKeys[] {
    let members = memberKeysCache.get(shape);
    if (members === undefined) {
      members = Object.entries(shape.members ?? {}).map(([name, ref]) => {
        const target = shapeOf(this.model, ref);
        const segments: string[] = [];
        const itemName = target.type === 'list' && isFlattened(ref, target) ? locationNameOf(this.model, target.member as ShapeRef) : undefined;
        if (itemName !== undefined) segments.push(itemName);
        segments.push(locationNameOf(this.model, ref) ?? name, name);
        return { name, ref, segments: [...new Set(segments)] };
      });
      memberKeysCache.set(shape, members);
    }
    return members;
  }

  private value(node: Node, ref: ShapeRef, path: string): unknown {
    const shape = shapeOf(this.model, ref);
    switch (shape.type) {
      case 'structure':
        return this.structure(node, shape, path);
      case 'list':
        return this.list(node, ref, shape, path);
      case 'map':
        return this.map(node, ref, shape, path);
      default:
        return node.value === undefined ? undefined : scalar(shape, node.value, path);
    }
  }

  private list(node: Node, ref: ShapeRef, shape: Shape, path: string): unknown[] {
    const member = shape.member as ShapeRef;
    let container: Node | undefined = node;
    let prefix = path;
    if (!isFlattened(ref, shape)) {
      const wrapper = locationNameOf(this.model, member) ?? 'member';
      const inner = node.children?.get(wrapper);
      // X.member.N as the model says; X.N from clients that flatten every list.
      if (inner !== undefined) [container, prefix] = [inner, `${path}.${wrapper}`];
    } else if (node.children?.has('member') === true && indexed(node).length === 0) {
      [container, prefix] = [node.children.get('member'), `${path}.member`];
    }
    return indexed(container as Node).map(([i, child]) => this.value(child, member, `${prefix}.${i}`)).filter((v) => v !== undefined);
  }

  private map(node: Node, ref: ShapeRef, shape: Shape, path: string): Record<string, unknown> {
    const keyRef = shape.key as ShapeRef;
    const valueRef = shape.value as ShapeRef;
    const keyName = locationNameOf(this.model, keyRef) ?? 'key';
    const valueName = locationNameOf(this.model, valueRef) ?? 'value';
    let container = node;
    let prefix = path;
    const entry = node.children?.get('entry');
    if (entry !== undefined && (!isFlattened(ref, shape) || indexed(node).length === 0)) [container, prefix] = [entry, `${path}.entry`];
    // Map keys come from the client: an object without a prototype, so "__proto__" is just a key.
    const out = Object.create(null) as Record<string, unknown>;
    for (const [i, child] of indexed(container)) {
      const keyNode = child.children?.get(keyName);
      if (keyNode?.value === undefined) throw missing(`${prefix}.${i}.${keyName}`);
      const valueNode = child.children?.get(valueName);
      if (valueNode === undefined) throw missing(`${prefix}.${i}.${valueName}`);
      const key = scalar(shapeOf(this.model, keyRef), keyNode.value, `${prefix}.${i}.${keyName}`);
      const value = this.value(valueNode, valueRef, `${prefix}.${i}.${valueName}`);
      if (value !== undefined) out[String(key)] = value;
    }
    return { ...out };
  }
}

/** The numbered children (1, 2, ...) of a node, in numeric order. */
function indexed(node: Node): [number, Node][] {
  const out: [number, Node][] = [];
  for (const [segment, child] of node.children ?? []) {
    if (/^[1-9]\d{0,8}$/.test(segment)) out.push([Number(segment), child]);
  }
  return out.sort((a, b) => a[0] - b[0]);
}

function missing(param: string): QueryProtocolError {
  return new QueryProtocolError('MissingParameter', `The request must contain the parameter ${param}.`);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function scalar(shape: Shape, raw: string, path: string): unknown {
  switch (shape.type) {
    case 'string':
      return raw;
    case 'boolean': {
      const v = raw.toLowerCase();
      if (v !== 'true' && v !== 'false') throw invalidValue(raw, path, 'must be a boolean');
      return v === 'true';
    }
    case 'integer':
    case 'long': {
      const n = Number(raw);
      if (!/^[+-]?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n)) throw invalidValue(raw, path, 'must be an integer');
      return n;
    }
    case 'double':
    case 'float': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) throw invalidValue(raw, path, 'must be a number');
      return n;
    }
    case 'blob': {
      const b64 = raw.replace(/\s+/g, '');
      if (!BASE64.test(b64)) throw invalidValue(raw, path, 'must be base64-encoded');
      return b64;
    }
    case 'timestamp': {
      // Query requests carry ISO 8601; epoch seconds are taken too. JSON's form is epoch seconds.
      const ms = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) * 1000 : Date.parse(raw);
      if (!Number.isFinite(ms)) throw invalidValue(raw, path, 'must be a timestamp');
      return ms / 1000;
    }
    default:
      throw invalidValue(raw, path, `type ${String(shape.type)} is not supported`);
  }
}
