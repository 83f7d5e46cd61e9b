// A minimal Kafka v2 record batch builder for tests of the stream log (uncompressed records).

import { crc32c } from '@node-rs/crc32';

export interface TestRecord {
  key?: Buffer | null;
  value: Buffer | null;
  timestampDelta?: number;
}

function varint(n: number): Buffer {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  const out: number[] = [];
  while (z >= 0x80) {
    out.push((z % 0x80) | 0x80);
    z = Math.floor(z / 0x80);
  }
  out.push(z);
  return Buffer.from(out);
}

function bytesField(b: Buffer | null | undefined): Buffer {
  return b == null ? varint(-1) : Buffer.concat([varint(b.length), b]);
}

export interface TestBatchOptions {
  baseTimestamp?: number;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  /** Attributes bit 4: part of a transaction. */
  transactional?: boolean;
}

export function testBatch(records: TestRecord[], o: TestBatchOptions = {}): Buffer {
  const ts = o.baseTimestamp ?? Date.now();
  const bodies = records.map((r, i) => {
    const inner = Buffer.concat([
      Buffer.from([0]),
      varint(r.timestampDelta ?? 0),
      varint(i),
      bytesField(r.key),
      bytesField(r.value),
      varint(0),
    ]);
    return Buffer.concat([varint(inner.length), inner]);
  });
  const maxDelta = Math.max(0, ...records.map((r) => r.timestampDelta ?? 0));
  const head = Buffer.alloc(61);
  head.writeBigInt64BE(0n, 0);
  const recordsBytes = bodies.reduce((n, b) => n + b.length, 0);
  head.writeInt32BE(61 - 12 + recordsBytes, 8);
  head.writeInt32BE(0, 12);
  head[16] = 2;
  head.writeInt16BE(o.transactional ? 0x10 : 0, 21);
  head.writeInt32BE(records.length - 1, 23);
  head.writeBigInt64BE(BigInt(ts), 27);
  head.writeBigInt64BE(BigInt(ts + maxDelta), 35);
  head.writeBigInt64BE(BigInt(o.producerId ?? -1), 43);
  head.writeInt16BE(o.producerEpoch ?? -1, 51);
  head.writeInt32BE(o.baseSequence ?? -1, 53);
  head.writeInt32BE(records.length, 57);
  const batch = Buffer.concat([head, ...bodies]);
  batch.writeUInt32BE(crc32c(batch.subarray(21)), 17);
  return batch;
}

export function values(n: number, from = 0, bytes = 20): TestRecord[] {
  return Array.from({ length: n }, (_, i) => ({ value: Buffer.alloc(bytes, (from + i) % 251), key: Buffer.from(`k${from + i}`) }));
}
