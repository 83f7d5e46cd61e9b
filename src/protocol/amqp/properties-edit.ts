// Adding one header to encoded basic properties without decoding and re-encoding them: the
// headers table comes third in the property list (after content-type and content-encoding,
// §4.2.6.1), so the new entry is spliced in at the end of that table, or a one-entry table
// is inserted where it belongs. Stream queues do this for every delivery (x-stream-offset),
// so it must cost one allocation and a copy of the properties, nothing more.

import { decodeProperties, encodeProperties } from './generated/properties.js';
import { encodeTable, type FieldValue } from './field-table.js';

const FLAG_CONTENT_TYPE = 0x8000;
const FLAG_CONTENT_ENCODING = 0x4000;
const FLAG_HEADERS = 0x2000;
const FLAG_MORE = 0x0001;
const TYPE_LONG = 0x6c; // 'l'

/**
 * `properties` with header `key` set to `value`, appended after the existing headers (replacing
 * an existing entry of that name keeps its place). Properties with a second flag word, or too
 * short to hold what their flags announce, go through a full decode and re-encode.
 */
export function withHeader(properties: Buffer, key: string, value: FieldValue): Buffer {
  if (properties.length < 2) return encodeProperties({ headers: { [key]: value } });
  const flags = properties.readUInt16BE(0);
  // A header of that name may exist already; only then is the slow path needed to replace it.
  if ((flags & FLAG_MORE) !== 0 || ((flags & FLAG_HEADERS) !== 0 && properties.includes(key, 2, 'utf8'))) {
    return slowPath(properties, key, value);
  }
  let p = 2;
  for (const bit of [FLAG_CONTENT_TYPE, FLAG_CONTENT_ENCODING]) {
    if ((flags & bit) === 0) continue;
    if (p >= properties.length) return slowPath(properties, key, value);
    p += 1 + properties[p];
  }
  const entry = entryOf(key, value);
  if ((flags & FLAG_HEADERS) === 0) {
    // A new one-entry table at p: its length, then the entry.
    const out = Buffer.allocUnsafe(properties.length + 4 + entry.bytes);
    properties.copy(out, 0, 0, p);
    out.writeUInt16BE(flags | FLAG_HEADERS, 0);
    out.writeUInt32BE(entry.bytes, p);
    entry.write(out, p + 4);
    properties.copy(out, p + 4 + entry.bytes, p);
    return out;
  }
  if (p + 4 > properties.length) return slowPath(properties, key, value);
  const tableBytes = properties.readUInt32BE(p);
  const tableEnd = p + 4 + tableBytes;
  if (tableEnd > properties.length) return slowPath(properties, key, value);
  const out = Buffer.allocUnsafe(properties.length + entry.bytes);
  properties.copy(out, 0, 0, tableEnd);
  out.writeUInt32BE(tableBytes + entry.bytes, p);
  entry.write(out, tableEnd);
  properties.copy(out, tableEnd + entry.bytes, tableEnd);
  return out;
}

interface Entry {
  readonly bytes: number;
  write(out: Buffer, at: number): void;
}

/** A table entry (name, type, value): written in place for a long (bigint), the common case. */
function entryOf(key: string, value: FieldValue): Entry {
  const keyBytes = Buffer.byteLength(key, 'utf8');
  if (typeof value === 'bigint' && keyBytes <= 255) {
    return {
      bytes: 1 + keyBytes + 1 + 8,
      write(out, at) {
        out[at] = keyBytes;
        out.write(key, at + 1, keyBytes, 'utf8');
        out[at + 1 + keyBytes] = TYPE_LONG;
        out.writeBigInt64BE(value, at + 2 + keyBytes);
      },
    };
  }
  // Any other value: encoded as a one-entry table, whose 4-byte length is dropped.
  const table = encodeTable({ [key]: value });
  return { bytes: table.length - 4, write: (out, at) => void table.copy(out, at, 4) };
}

function slowPath(properties: Buffer, key: string, value: FieldValue): Buffer {
  const p = decodeProperties(properties);
  return encodeProperties({ ...p, headers: { ...(p.headers ?? {}), [key]: value } });
}
