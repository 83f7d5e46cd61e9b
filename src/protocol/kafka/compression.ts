// The compression codecs of record batches (attributes bits 0-2, KIP-110 for
// zstd), in the framings Kafka's clients use:
//
//   1 gzip    node:zlib
//   2 snappy  the `snappy` package (napi-rs, prebuilt per platform). The Java
//             client writes snappy-java's xerial framing (a magic header, then
//             int32-length-prefixed raw snappy blocks); librdkafka and others
//             may write one raw snappy block. Both are read; xerial is written.
//   3 lz4     the `lz4-napi` package (lz4_flex): the standard LZ4 frame format
//             with independent 64 KiB blocks, as Kafka's Lz4BlockOutputStream.
//   4 zstd    `fzstd` (pure JS) decompresses, including frames without a
//             content size (Java and librdkafka stream them); `@bokuweb/zstd-wasm`
//             compresses (WebAssembly, loaded on first use).
//
// Decompression is synchronous (every library offers it); compression is
// async because the zstd module loads asynchronously once.

import { createRequire } from 'node:module';
import { gunzipSync, gzip as gzipCb } from 'node:zlib';
import { promisify } from 'node:util';
import { decompress as zstdDecompress } from 'fzstd';
import { compressFrame as lz4CompressFrame, decompressFrameSync as lz4DecompressFrame } from 'lz4-napi';
import { compress as snappyCompress, uncompressSync as snappyUncompress } from 'snappy';
import { KafkaProtocolError, corrupt } from './protocol-error.js';

export const Compression = {
  NONE: 0,
  GZIP: 1,
  SNAPPY: 2,
  LZ4: 3,
  ZSTD: 4,
} as const;

export type CompressionCodec = (typeof Compression)[keyof typeof Compression];

const NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

export function compressionName(codec: number): string {
  return NAMES[codec] ?? `unknown(${codec})`;
}

const gzip = promisify(gzipCb);

/** snappy-java's stream header: magic "\x82SNAPPY\0", version 1, compatible version 1. */
const XERIAL_HEADER = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
const XERIAL_MAGIC_BYTES = 8;
/** snappy-java's default block size. */
const XERIAL_BLOCK_BYTES = 32 * 1024;

/** Decompressed batch bodies larger than this are refused (a compression bomb guard). */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024;

function isXerial(data: Buffer): boolean {
  return data.length >= XERIAL_MAGIC_BYTES && data.subarray(0, XERIAL_MAGIC_BYTES).equals(XERIAL_HEADER.subarray(0, XERIAL_MAGIC_BYTES));
}

/** Raw snappy starts with the uncompressed length as an unsigned varint. */
function snappyLength(data: Buffer): number {
  let value = 0;
  for (let i = 0, shift = 0; i < 5 && i < data.length; i++, shift += 7) {
    value += (data[i] & 0x7f) * 2 ** shift;
    if ((data[i] & 0x80) === 0) return value;
  }
  throw corrupt('snappy block with an invalid length header');
}

function snappyBlock(data: Buffer, maxBytes: number): Buffer {
  if (snappyLength(data) > maxBytes) throw corrupt(`snappy block expands beyond ${maxBytes} bytes`);
  return snappyUncompress(data, { asBuffer: true }) as Buffer;
}

function unsnappy(data: Buffer, maxBytes: number): Buffer {
  if (!isXerial(data)) return snappyBlock(data, maxBytes);
  const parts: Buffer[] = [];
  let total = 0;
  for (let p = XERIAL_HEADER.length; p < data.length; ) {
    if (p + 4 > data.length) throw corrupt('xerial snappy block length truncated');
    const len = data.readInt32BE(p);
    p += 4;
    if (len < 0 || p + len > data.length) throw corrupt(`xerial snappy block of ${len} bytes truncated`);
    const block = snappyBlock(data.subarray(p, p + len), maxBytes - total);
    total += block.length;
    parts.push(block);
    p += len;
  }
  return parts.length === 1 ? parts[0] : Buffer.concat(parts, total);
}

/**
 * Decompresses a batch body. Any failure of the codec (truncated or garbage
 * input) is a CORRUPT_MESSAGE KafkaProtocolError.
 */
export function decompress(codec: number, data: Buffer, maxBytes = DEFAULT_MAX_DECOMPRESSED_BYTES): Buffer {
  let out: Buffer;
  try {
    switch (codec) {
      case Compression.NONE:
        return data;
      case Compression.GZIP:
        out = gunzipSync(data, { maxOutputLength: maxBytes });
        break;
      case Compression.SNAPPY:
        out = unsnappy(data, maxBytes);
        break;
      case Compression.LZ4:
        out = lz4DecompressFrame(data);
        break;
      case Compression.ZSTD: {
        const u8 = zstdDecompress(data);
        out = Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
        break;
      }
      default:
        throw corrupt(`unknown compression codec ${codec}`);
    }
  } catch (e) {
    if (e instanceof KafkaProtocolError) throw e;
    throw corrupt(`${compressionName(codec)} decompression failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (out.length > maxBytes) throw corrupt(`${compressionName(codec)} data expands beyond ${maxBytes} bytes`);
  return out;
}

interface ZstdWasm {
  init(): Promise<void>;
  compress(data: Uint8Array, level?: number): Uint8Array;
}

let zstdWasm: Promise<ZstdWasm> | undefined;

/** The zstd WebAssembly module, loaded once on first use (it is CommonJS only). */
function zstd(): Promise<ZstdWasm> {
  zstdWasm ??= (async () => {
    const m = createRequire(import.meta.url)('@bokuweb/zstd-wasm') as ZstdWasm;
    await m.init();
    return m;
  })();
  return zstdWasm;
}

async function xerialSnappy(data: Buffer): Promise<Buffer> {
  const parts: Buffer[] = [XERIAL_HEADER];
  for (let p = 0; p < data.length; p += XERIAL_BLOCK_BYTES) {
    const block = await snappyCompress(data.subarray(p, p + XERIAL_BLOCK_BYTES));
    const len = Buffer.allocUnsafe(4);
    len.writeInt32BE(block.length, 0);
    parts.push(len, block);
  }
  return Buffer.concat(parts);
}

/** Compresses a batch body with `codec` (3 is Kafka's default zstd level). */
export async function compress(codec: number, data: Buffer): Promise<Buffer> {
  switch (codec) {
    case Compression.NONE:
      return data;
    case Compression.GZIP:
      return gzip(data);
    case Compression.SNAPPY:
      return xerialSnappy(data);
    case Compression.LZ4:
      return lz4CompressFrame(data);
    case Compression.ZSTD: {
      const u8 = (await zstd()).compress(data, 3);
      return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
    }
    default:
      throw new RangeError(`unknown compression codec ${codec}`);
  }
}
