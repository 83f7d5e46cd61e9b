// Field-table values JSON cannot hold natively (bigint, byte arrays, AMQP's typed numbers
// and timestamps), for meta.json and the topology records a cluster keeps in etcd: read
// back, each is the value it was, so a redeclare compares equal (and errors print alike).

import { Timestamp, TypedNumber } from '../protocol/amqp/content.js';

export function replaceArgs(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return { $bigint: value.toString() };
  if (value instanceof TypedNumber) return { $typed: value.type, value: value.value };
  if (value instanceof Timestamp) return { $timestamp: value.seconds };
  if (value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return { $buffer: Buffer.from((value as { data: number[] }).data).toString('base64') };
  }
  return value;
}

export function reviveArgs(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object') {
    const o = value as { $bigint?: string; $buffer?: string; $typed?: TypedNumber['type']; value?: number; $timestamp?: number };
    if (typeof o.$bigint === 'string') return BigInt(o.$bigint);
    if (typeof o.$buffer === 'string') return Buffer.from(o.$buffer, 'base64');
    if (typeof o.$typed === 'string' && typeof o.value === 'number') return new TypedNumber(o.$typed, o.value);
    if (typeof o.$timestamp === 'number') return new Timestamp(o.$timestamp);
  }
  return value;
}
