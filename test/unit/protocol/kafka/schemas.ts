// The Kafka schemas as the generator models them, and fast-check generators
// of message data driven by that model: for a version v, every field present in
// v gets an arbitrary value of its type (null where v allows it), every other
// field its default. So encode(v) then decode(v) must give back the input, and
// every API and version is covered without listing fields here.

import fc from 'fast-check';
import { findRepoRoot, parseSchema, readSpecFiles } from '../../../../scripts/codegen/kafka.js';
import { messageModel, type FieldModel, type MessageModel, type Range, type StructModel } from '../../../../scripts/codegen/kafka-model.js';

export const root = findRepoRoot();
export const specFiles = readSpecFiles(root);

/** Every schema by message name (ProduceRequest, RequestHeader, ...). */
export const MODELS: ReadonlyMap<string, MessageModel> = new Map(
  Object.values(specFiles).map((text) => {
    const m = messageModel(parseSchema(text));
    return [m.name, m];
  }),
);

export function inRange(r: Range | null, v: number): boolean {
  return r !== null && v >= r.lo && v <= r.hi;
}

export function versionsOf(m: MessageModel): number[] {
  const out: number[] = [];
  for (let v = m.validVersions.lo; v <= m.validVersions.hi; v++) out.push(v);
  return out;
}

/** The value decoders give a field that is absent (or left out of an encoder's input). */
export function defaultValue(f: FieldModel): unknown {
  const d = f.defaultValue;
  if (d === null) return null;
  if (f.isArray) return [];
  if (f.struct !== undefined) return defaultStruct(f.struct);
  if (f.elementType === 'bytes') return Buffer.alloc(0);
  return d;
}

export function defaultStruct(s: StructModel): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const f of s.fields) o[f.prop] = defaultValue(f);
  return o;
}

const INT_RANGES: Record<string, [number, number]> = {
  int8: [-128, 127],
  int16: [-32768, 32767],
  int32: [-2147483648, 2147483647],
  uint16: [0, 65535],
  uint32: [0, 4294967295],
};

const text = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom('', 'topic-1', '__consumer_offsets', 'é✓😀') },
);
const bytes = fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u));
const uuid = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((u) => {
  const h = Buffer.from(u).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
});

function elementArbitrary(f: FieldModel, v: number, depth: number): fc.Arbitrary<unknown> {
  if (f.struct !== undefined) return structArbitrary(f.struct, v, depth + 1);
  const t = f.elementType;
  const range = INT_RANGES[t];
  if (range !== undefined) {
    return fc.oneof(fc.integer({ min: range[0], max: range[1] }), fc.constantFrom(range[0], range[1], 0, -1).filter((x) => x >= range[0]));
  }
  switch (t) {
    case 'bool':
      return fc.boolean();
    case 'int64':
      return fc.oneof(fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), fc.constantFrom(-1n, 0n, (1n << 63n) - 1n, -(1n << 63n)));
    case 'float64':
      return fc.double();
    case 'string':
      return text;
    case 'uuid':
      return uuid;
    case 'bytes':
    case 'records':
      return bytes;
  }
  throw new Error(`no arbitrary for ${t}`);
}

function fieldArbitrary(f: FieldModel, v: number, depth: number): fc.Arbitrary<unknown> {
  if (!inRange(f.versions, v)) return fc.constant(defaultValue(f));
  const element = elementArbitrary(f, v, depth);
  // Nested arrays stay short so a message stays small.
  const value = f.isArray ? fc.array(element, { maxLength: depth > 1 ? 2 : 3 }) : element;
  return inRange(f.nullableVersions, v) ? fc.option(value, { nil: null, freq: 4 }) : value;
}

export function structArbitrary(s: StructModel, v: number, depth = 0): fc.Arbitrary<Record<string, unknown>> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of s.fields) model[f.prop] = fieldArbitrary(f, v, depth);
  return fc.record(model, { noNullPrototype: true });
}

export function messageArbitrary(m: MessageModel, v: number): fc.Arbitrary<Record<string, unknown>> {
  return structArbitrary(m.root, v);
}
