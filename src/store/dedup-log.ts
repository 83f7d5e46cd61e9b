// Record types of the de-duplication log (data/dedup/): which message keys a
// durable queue has accepted, and until when they count. Layout documented in
// docs/storage-format.md ("De-duplication records"). All integers big-endian.

export const DedupRecordType = {
  /** A key a durable queue accepted, remembered until expiresAt. */
  Key: 1,
} as const;

export interface DedupKeyRecord {
  readonly queueId: number;
  /** Milliseconds since the Unix epoch. */
  readonly expiresAt: number;
  /** At most DEDUP_KEY_BYTES_MAX bytes of UTF-8. */
  readonly key: string;
}

/** A key is stored with a one-byte length (AMQP's shortstr limit). */
export const DEDUP_KEY_BYTES_MAX = 255;

export class DedupRecordError extends Error {}

export function encodeDedupKey(r: DedupKeyRecord): Buffer {
  const keyBytes = Buffer.byteLength(r.key);
  if (keyBytes > DEDUP_KEY_BYTES_MAX) throw new RangeError(`dedup key of ${keyBytes} bytes exceeds ${DEDUP_KEY_BYTES_MAX}`);
  const buf = Buffer.allocUnsafe(4 + 8 + 1 + keyBytes);
  let o = buf.writeUInt32BE(r.queueId, 0);
  o = buf.writeDoubleBE(r.expiresAt, o);
  o = buf.writeUInt8(keyBytes, o);
  buf.write(r.key, o);
  return buf;
}

export function decodeDedupKey(buf: Buffer): DedupKeyRecord {
  if (buf.length < 13) throw new DedupRecordError(`dedup key record of ${buf.length} bytes is too short`);
  const keyBytes = buf.readUInt8(12);
  if (buf.length !== 13 + keyBytes) throw new DedupRecordError(`dedup key record length ${buf.length} does not match key length ${keyBytes}`);
  return { queueId: buf.readUInt32BE(0), expiresAt: buf.readDoubleBE(4), key: buf.toString('utf8', 13) };
}
