// Bytes of a segment file (docs/storage-format.md): a segment header, then records
//   u32 BE length of (type + payload) | u32 BE CRC32C over (type + payload) | u8 type | payload
// Everything here is pure: it works on Buffers and knows no files.

import { crc32c } from '@node-rs/crc32';

/** "WHRFLOG" then one format version byte. */
export const SEGMENT_MAGIC = Buffer.from('WHRFLOG', 'latin1');
export const SEGMENT_FORMAT_VERSION = 1;
export const SEGMENT_HEADER_BYTES = SEGMENT_MAGIC.length + 1;
/** Length and CRC fields in front of the type byte. */
export const RECORD_HEADER_BYTES = 8;
/** Smallest record on disk: header + type byte, empty payload. */
export const RECORD_BYTES_MIN = RECORD_HEADER_BYTES + 1;
/** The length field is a u32 and counts the type byte. */
export const RECORD_PAYLOAD_BYTES_MAX = 0xffff_ffff - 1;

const SEGMENT_ID_DIGITS = 20;
const SEGMENT_NAME = /^(\d{20})\.log$/;

/** Zero-padded so names sort like ids: `00000000000000000042.log`. */
export function segmentFileName(id: number): string {
  return `${String(id).padStart(SEGMENT_ID_DIGITS, '0')}.log`;
}

/** The id a segment file name stands for, or undefined if the name is not a segment (or too big). */
export function parseSegmentFileName(name: string): number | undefined {
  const m = SEGMENT_NAME.exec(name);
  if (!m) return undefined;
  const id = Number(m[1]);
  return Number.isSafeInteger(id) ? id : undefined;
}

/** `<segment>.cleaned`: a replacement segment being written (incomplete until renamed to a swap file). */
export function cleanedFileName(segment: number): string {
  return `${String(segment).padStart(SEGMENT_ID_DIGITS, '0')}.cleaned`;
}

const CLEANED_NAME = /^\d{20}\.cleaned$/;

export function isCleanedFileName(name: string): boolean {
  return CLEANED_NAME.test(name);
}

/**
 * `<first>-<last>.swap`: a complete, durable replacement for the segments with ids first..last.
 * Once it exists the replacement is decided: recovery finishes it (docs/storage-format.md).
 */
export function swapFileName(first: number, last: number): string {
  return `${String(first).padStart(SEGMENT_ID_DIGITS, '0')}-${String(last).padStart(SEGMENT_ID_DIGITS, '0')}.swap`;
}

const SWAP_NAME = /^(\d{20})-(\d{20})\.swap$/;

export function parseSwapFileName(name: string): { first: number; last: number } | undefined {
  const m = SWAP_NAME.exec(name);
  if (!m) return undefined;
  const first = Number(m[1]);
  const last = Number(m[2]);
  return Number.isSafeInteger(first) && Number.isSafeInteger(last) && first <= last ? { first, last } : undefined;
}

/** `<segment>-<offset>.bin`, where recovery puts the bytes it cut off a segment. */
export function quarantineFileName(segment: number, offset: number): string {
  return `${String(segment).padStart(SEGMENT_ID_DIGITS, '0')}-${offset}.bin`;
}

export function segmentHeader(): Buffer {
  const b = Buffer.alloc(SEGMENT_HEADER_BYTES);
  SEGMENT_MAGIC.copy(b, 0);
  b[SEGMENT_MAGIC.length] = SEGMENT_FORMAT_VERSION;
  return b;
}

export type HeaderCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** `head` is the first bytes of the file (fewer than a header if the file is that short). */
export function checkSegmentHeader(head: Buffer): HeaderCheck {
  if (head.length < SEGMENT_HEADER_BYTES) {
    return { ok: false, reason: `file is ${head.length} bytes, shorter than the ${SEGMENT_HEADER_BYTES}-byte header` };
  }
  if (!head.subarray(0, SEGMENT_MAGIC.length).equals(SEGMENT_MAGIC)) {
    return { ok: false, reason: 'bad magic (not a Wharf log segment)' };
  }
  const version = head[SEGMENT_MAGIC.length];
  if (version === SEGMENT_FORMAT_VERSION) return { ok: true };
  return { ok: false, reason: `unknown segment format version ${version} (this build writes ${SEGMENT_FORMAT_VERSION})` };
}

/** Bytes a record with this payload takes on disk. */
export function recordBytes(payloadBytes: number): number {
  return RECORD_BYTES_MIN + payloadBytes;
}

/**
 * Writes a whole record into `buf` at `at` (the caller made room: recordBytes(payload length)).
 * The CRC is computed over the copied bytes, so one native call covers type + all parts.
 */
export function encodeRecordInto(
  buf: Buffer,
  at: number,
  type: number,
  payload: Buffer | readonly Buffer[],
  payloadBytes: number,
): void {
  buf.writeUInt32BE(payloadBytes + 1, at);
  buf[at + RECORD_HEADER_BYTES] = type;
  let o = at + RECORD_BYTES_MIN;
  if (Buffer.isBuffer(payload)) payload.copy(buf, o);
  else for (const part of payload) o += part.copy(buf, o);
  const body = buf.subarray(at + RECORD_HEADER_BYTES, at + RECORD_BYTES_MIN + payloadBytes);
  buf.writeUInt32BE(crc32c(body), at + 4);
}

export type RecordCheck =
  /** A valid record of `bytes` total bytes (header included). */
  | { readonly kind: 'ok'; readonly bytes: number }
  /** `buf` ends before the record does; read `bytes` from the record start and check again. */
  | { readonly kind: 'need-more'; readonly bytes: number }
  /** Not a valid record; nothing after it in this segment can be trusted. */
  | { readonly kind: 'bad'; readonly reason: string };

/**
 * Checks the record starting at `buf[at]`. `bytesToEnd` counts the bytes from the record start to
 * the end of the data (segment end), which may be more than `buf` holds.
 */
export function checkRecord(buf: Buffer, at: number, bytesToEnd: number): RecordCheck {
  if (bytesToEnd < RECORD_BYTES_MIN) {
    return { kind: 'bad', reason: `${bytesToEnd} bytes left, fewer than a record header (torn write)` };
  }
  const avail = buf.length - at;
  if (avail < RECORD_BYTES_MIN) return { kind: 'need-more', bytes: RECORD_BYTES_MIN };
  const length = buf.readUInt32BE(at);
  if (length === 0) return { kind: 'bad', reason: 'length field is 0 (no type byte)' };
  const bytes = RECORD_HEADER_BYTES + length;
  if (bytes > bytesToEnd) {
    return { kind: 'bad', reason: `length ${length} points ${bytes - bytesToEnd} bytes past the end (torn write)` };
  }
  if (bytes > avail) return { kind: 'need-more', bytes };
  const stored = buf.readUInt32BE(at + 4);
  const actual = crc32c(buf.subarray(at + RECORD_HEADER_BYTES, at + bytes));
  if (stored !== actual) return { kind: 'bad', reason: 'CRC32C mismatch' };
  return { kind: 'ok', bytes };
}

/** Type and payload view of a record checkRecord() accepted. The view shares memory with `buf`. */
export function recordParts(buf: Buffer, at: number, bytes: number): { type: number; payload: Buffer } {
  return { type: buf[at + RECORD_HEADER_BYTES], payload: buf.subarray(at + RECORD_BYTES_MIN, at + bytes) };
}

/** Reads up to `into.length` bytes at `position`; returns how many it got (fewer only at end of file). */
export type ReadAt = (into: Buffer, position: number) => Promise<number>;

export interface ScanResult {
  /** End of the last valid record (or `start` if none). */
  readonly end: number;
  /** Why scanning stopped before `stop`, if it did. */
  readonly problem?: string;
}

const SCAN_WINDOW_BYTES = 1024 * 1024;

/**
 * Walks the records in [start, stop) through a reused read window and calls `visit` for each valid
 * one (the payload view is only valid during the call). Stops at the first bad record.
 */
export async function scanRecords(
  readAt: ReadAt,
  start: number,
  stop: number,
  visit: (type: number, payload: Buffer, offset: number, bytes: number) => void,
): Promise<ScanResult> {
  let window = Buffer.allocUnsafe(Math.max(RECORD_BYTES_MIN, Math.min(SCAN_WINDOW_BYTES, stop - start)));
  let pos = start;
  while (pos < stop) {
    const want = Math.min(window.length, stop - pos);
    const got = await readAt(window.subarray(0, want), pos);
    if (got < want) stop = pos + got; // the file is shorter than we were told: what is there is all there is
    const view = window.subarray(0, got);
    let o = 0;
    for (;;) {
      if (pos + o >= stop) return { end: stop };
      const c = checkRecord(view, o, stop - pos - o);
      if (c.kind === 'bad') return { end: pos + o, problem: c.reason };
      if (c.kind === 'need-more') {
        if (o === 0) window = Buffer.allocUnsafe(c.bytes); // a record bigger than the window
        break;
      }
      const { type, payload } = recordParts(view, o, c.bytes);
      visit(type, payload, pos + o, c.bytes);
      o += c.bytes;
    }
    pos += o;
  }
  return { end: pos };
}
