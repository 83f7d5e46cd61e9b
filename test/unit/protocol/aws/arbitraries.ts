// fast-check values for any shape of a botocore model (AWS-JSON-shaped, as the services
// take them), and the query form botocore's QuerySerializer (serialize.py) writes for
// them, ported rule for rule, for the codec's round-trip properties.

import fc from 'fast-check';
import type { ServiceModel, Shape, ShapeRef } from '../../../../src/protocol/aws/index.js';

const text = fc.string({ unit: 'binary', maxLength: 12 });
const name = fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 8 });

export function shapeValue(model: ServiceModel, ref: ShapeRef, depth = 0): fc.Arbitrary<unknown> {
  const shape = model.shapes[ref.shape];
  switch (shape.type) {
    case 'structure': {
      const members = Object.entries(shape.members ?? {});
      if (members.length === 0 || depth > 4) return fc.constant({});
      const model_ = Object.fromEntries(members.map(([n, r]) => [n, shapeValue(model, r, depth + 1)]));
      // At least one member: an empty structure is not written at all, so it could not come back.
      return fc.record(model_, { requiredKeys: [members[0][0]], noNullPrototype: true });
    }
    case 'list':
      return fc.array(shapeValue(model, shape.member as ShapeRef, depth + 1), { maxLength: depth > 2 ? 0 : 3 });
    case 'map':
      return fc.dictionary(name, shapeValue(model, shape.value as ShapeRef, depth + 1), { minKeys: 1, maxKeys: 3, noNullPrototype: true });
    case 'boolean':
      return fc.boolean();
    case 'integer':
    case 'long':
      return fc.integer({ min: -1_000_000, max: 1_000_000 });
    case 'double':
    case 'float':
      return fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0));
    case 'blob':
      return fc.uint8Array({ maxLength: 8 }).map((u) => Buffer.from(u).toString('base64'));
    case 'timestamp':
      return fc.integer({ min: 0, max: 4_000_000_000 });
    default:
      return shape.enum !== undefined && Array.isArray(shape.enum) ? fc.constantFrom(...(shape.enum as string[])) : text;
  }
}

const flattened = (ref: ShapeRef, shape: Shape): boolean => ref.flattened ?? shape.flattened ?? false;
/** botocore's serialization name: the reference's locationName over its shape's. */
const nameOf = (model: ServiceModel, ref: ShapeRef): string | undefined => ref.locationName ?? model.shapes[ref.shape].locationName;

/** botocore's QuerySerializer._serialize, for one input shape. */
export function queryForm(model: ServiceModel, ref: ShapeRef, value: unknown, prefix = '', out: [string, string][] = []): [string, string][] {
  const shape = model.shapes[ref.shape];
  switch (shape.type) {
    case 'structure':
      for (const [n, r] of Object.entries(shape.members ?? {})) {
        const v = (value as Record<string, unknown>)[n];
        if (v === undefined) continue;
        const key = nameOf(model, r) ?? n;
        queryForm(model, r, v, prefix === '' ? key : `${prefix}.${key}`, out);
      }
      break;
    case 'list': {
      const items = value as unknown[];
      if (items.length === 0) {
        out.push([prefix, '']);
        break;
      }
      const member = shape.member as ShapeRef;
      let listPrefix: string;
      if (flattened(ref, shape)) {
        const itemName = nameOf(model, member);
        listPrefix = itemName === undefined ? prefix : [...prefix.split('.').slice(0, -1), itemName].join('.');
      } else {
        listPrefix = `${prefix}.${nameOf(model, member) ?? 'member'}`;
      }
      items.forEach((item, i) => queryForm(model, member, item, `${listPrefix}.${i + 1}`, out));
      break;
    }
    case 'map': {
      const full = flattened(ref, shape) ? prefix : `${prefix}.entry`;
      const keyRef = shape.key as ShapeRef;
      const valueRef = shape.value as ShapeRef;
      Object.entries(value as Record<string, unknown>).forEach(([k, v], i) => {
        queryForm(model, keyRef, k, `${full}.${i + 1}.${nameOf(model, keyRef) ?? 'key'}`, out);
        queryForm(model, valueRef, v, `${full}.${i + 1}.${nameOf(model, valueRef) ?? 'value'}`, out);
      });
      break;
    }
    case 'boolean':
      out.push([prefix, value ? 'true' : 'false']);
      break;
    case 'timestamp':
      out.push([prefix, new Date((value as number) * 1000).toISOString()]);
      break;
    default:
      out.push([prefix, String(value)]);
  }
  return out;
}
