// Adding one header to encoded basic properties without decoding and re-encoding them: the
// headers table comes third in the property list (after content-type and content-encoding,
// §4.2.6.1), so the new entry is spliced in at the end of that table, or a one-entry table
// is inserted where it belongs. Stream queues do this for every delivery (x-stream-offset),
// so it must cost a copy of the properties and nothing more.

import { decodeProperties, encodeProperties } from './generated/properties.js';
import { encodeTable, type FieldValue } from './field-table.js';

const FLAG_CONTENT_TYPE = 0x8000;
const FLAG_CONTENT_ENCODING = 0x4000;
const FLAG_HEADERS = 0x2000;
const FLAG_MORE = 0x0001;

/**
 * `properties` with header `key` set to `value`, appended after the existing headers (replacing
 * an existing entry of that name keeps its place). Properties with a second flag word, or too
 * short to hold what their flags announce, go through a full decode and re-encode.
 */
export function withHeader(properties: Buffer, key: string, value: FieldValue): Buffer {
  if (properties.length < 2) return encodeProperties({ headers: { [key]: value } });
  const flags = properties.readUInt16BE(0);
  // A header of that name may exist already; only then is the slow path needed to replace it.
  if ((flags & FLAG_MORE) !== 0 || ((flags & FLAG_HEADERS) !== 0 && properties.includes(key, 2, 'latin1'))) {
    return slowPath(properties, key, value);
  }
  let p = 2;
  for (const bit of [FLAG_CONTENT_TYPE, FLAG_CONTENT_ENCODING]) {
    if ((flags & bit) === 0) continue;
    if (p >= properties.length) return slowPath(properties, key, value);
    p += 1 + properties[p];
  }
  // The entry as a one-entry table; its 4-byte length prefix is dropped when appending.
  const entryTable = encodeTable({ [key]: value });
  if ((flags & FLAG_HEADERS) === 0) {
    const out = Buffer.allocUnsafe(properties.length + entryTable.length);
    properties.copy(out, 0, 0, p);
    out.writeUInt16BE(flags | FLAG_HEADERS, 0);
    entryTable.copy(out, p);
    properties.copy(out, p + entryTable.length, p);
    return out;
  }
  if (p + 4 > properties.length) return slowPath(properties, key, value);
  const tableBytes = properties.readUInt32BE(p);
  const tableEnd = p + 4 + tableBytes;
  if (tableEnd > properties.length) return slowPath(properties, key, value);
  const entry = entryTable.subarray(4);
  const out = Buffer.allocUnsafe(properties.length + entry.length);
  properties.copy(out, 0, 0, tableEnd);
  out.writeUInt32BE(tableBytes + entry.length, p);
  entry.copy(out, tableEnd);
  properties.copy(out, tableEnd + entry.length, tableEnd);
  return out;
}

function slowPath(properties: Buffer, key: string, value: FieldValue): Buffer {
  const p = decodeProperties(properties);
  return encodeProperties({ ...p, headers: { ...(p.headers ?? {}), [key]: value } });
}
