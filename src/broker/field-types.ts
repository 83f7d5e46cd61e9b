// RabbitMQ's names for AMQP field-table value types, as its error texts print
// them ("invalid type 'byte' for arg ...", "{unacceptable_type_in_header,"CC",
// longstr}"), and its type classes for comparing arguments on a redeclare
// (rabbit_misc:type_class: every integer width is 'int', both floats 'float').

import { Timestamp, TypedNumber } from '../protocol/amqp/content.js';

const TYPED_NAMES: Record<TypedNumber['type'], string> = {
  int8: 'byte',
  uint8: 'unsignedbyte',
  int16: 'short',
  uint16: 'unsignedshort',
  uint32: 'unsignedint',
  float: 'float',
};

/** RabbitMQ's type name of a decoded field value (src/protocol/amqp/field-table.ts). */
export function fieldTypeName(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return 'longstr';
    case 'boolean':
      return 'bool';
    case 'bigint':
      return 'long';
    case 'number':
      // 'I' and 'd' both decode to a number; an integer came as 'I' (or a double without a fraction).
      return Number.isInteger(v) ? 'signedint' : 'double';
    case 'undefined':
      return 'void';
    default:
      break;
  }
  if (v === null) return 'void';
  if (Buffer.isBuffer(v)) return 'binary';
  if (Array.isArray(v)) return 'array';
  if (v instanceof TypedNumber) return TYPED_NAMES[v.type];
  if (v instanceof Timestamp) return 'timestamp';
  if (typeof v === 'object' && Object.hasOwn(v, 'scale')) return 'decimal';
  return 'table';
}

/** rabbit_misc:type_class: values of one class compare by value across widths. */
export function fieldTypeClass(v: unknown): string {
  const name = fieldTypeName(v);
  if (['byte', 'unsignedbyte', 'short', 'unsignedshort', 'signedint', 'unsignedint', 'long'].includes(name)) return 'int';
  if (name === 'float' || name === 'double') return 'float';
  return name;
}

/** The plain value of a decoded field value, as RabbitMQ prints it in an error ('~s' / '~p'). */
export function fieldText(v: unknown): string {
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (v instanceof TypedNumber) return String(v.value);
  if (v instanceof Timestamp) return String(v.seconds);
  if (typeof v === 'object' && v !== null) {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
  }
  return String(v);
}

/** Equal under RabbitMQ's argument equivalence: same type class and value. */
export function sameFieldValue(a: unknown, b: unknown): boolean {
  if (fieldTypeClass(a) !== fieldTypeClass(b)) return false;
  return fieldText(a) === fieldText(b);
}
