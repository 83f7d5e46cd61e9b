// Compression codecs: round trips, data made by other implementations (the
// zstd, lz4 and gzip command-line tools; snappy-java's xerial framing and raw
// snappy as librdkafka writes it), and corrupt input as CORRUPT_MESSAGE.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Compression, ErrorCode, KafkaProtocolError, compress, compressionName, decompress } from '../../../../src/protocol/kafka/index.js';

const CODECS = [Compression.GZIP, Compression.SNAPPY, Compression.LZ4, Compression.ZSTD];
const TEXT = Buffer.from('kafka record body, kafka record body, kafka record body!');

test('every codec round-trips arbitrary data, including empty and large inputs', async () => {
  const inputs = [Buffer.alloc(0), TEXT, Buffer.alloc(200000, 'abcdefgh'), Buffer.from(Array.from({ length: 70000 }, (_, i) => (i * 7919) & 0xff))];
  for (const codec of CODECS) {
    for (const input of inputs) assert.deepEqual(decompress(codec, await compress(codec, input)), input, `${compressionName(codec)} ${input.length}`);
  }
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...CODECS), fc.uint8Array({ maxLength: 3000 }), async (codec, u) => {
      const input = Buffer.from(u);
      assert.deepEqual(decompress(codec, await compress(codec, input)), input);
    }),
    { numRuns: 100 },
  );
});

test('NONE passes data through', async () => {
  assert.equal(decompress(Compression.NONE, TEXT), TEXT);
  assert.equal(await compress(Compression.NONE, TEXT), TEXT);
});

test('data from other implementations decodes', () => {
  // `zstd -c -` from a pipe: a frame without a content size, as Java and librdkafka stream it.
  const zstd = Buffer.from('28b52ffd0458d50000a06b61666b61207265636f726420626f64792c202101001b39c3ba3cf2eb', 'hex');
  // `lz4 -c -`: LZ4 frame, independent blocks, content checksum.
  const lz4 = Buffer.from('04224d186440a71e000000ff046b61666b61207265636f726420626f64792c2013000d50626f6479210000000069cce8dd', 'hex');
  const gzip = Buffer.from('1f8b0800000000000003cb4e4ccb4e54284a4dce2f4a5148ca4fa9d451c82642481100b6fb7a6a38000000', 'hex');
  assert.deepEqual(decompress(Compression.ZSTD, zstd), TEXT);
  assert.deepEqual(decompress(Compression.LZ4, lz4), TEXT);
  assert.deepEqual(decompress(Compression.GZIP, gzip), TEXT);
});

test('snappy: xerial framing is written and read, raw snappy blocks are read', async () => {
  const framed = await compress(Compression.SNAPPY, Buffer.alloc(100000, 'x'));
  assert.deepEqual(framed.subarray(0, 16), Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0, 0, 0, 0, 1, 0, 0, 0, 1]));
  // 100000 bytes in snappy-java's 32 KiB blocks: four length-prefixed blocks.
  let blocks = 0;
  for (let p = 16; p < framed.length; p += 4 + framed.readInt32BE(p)) blocks++;
  assert.equal(blocks, 4);
  // A raw block: uncompressed length 5 as a varint, then a literal of 5 bytes (tag (5-1)<<2).
  const raw = Buffer.from([0x05, 0x10, 0x68, 0x65, 0x6c, 0x6c, 0x6f]);
  assert.deepEqual(decompress(Compression.SNAPPY, raw), Buffer.from('hello'));
});

test('corrupt or truncated compressed data is CORRUPT_MESSAGE', async () => {
  for (const codec of CODECS) {
    const good = await compress(codec, Buffer.alloc(5000, 'kafka'));
    for (const bad of [good.subarray(0, good.length >> 1), Buffer.from('definitely not compressed data')]) {
      assert.throws(
        () => decompress(codec, bad),
        (e: unknown) => e instanceof KafkaProtocolError && e.errorCode === ErrorCode.CORRUPT_MESSAGE,
        compressionName(codec),
      );
    }
  }
  assert.throws(() => decompress(7, TEXT), (e: unknown) => e instanceof KafkaProtocolError && e.errorCode === ErrorCode.CORRUPT_MESSAGE);
});

test('decompression stops at the size limit', async () => {
  for (const codec of CODECS) {
    const bomb = await compress(codec, Buffer.alloc(1 << 20));
    assert.throws(() => decompress(codec, bomb, 1000), (e: unknown) => e instanceof KafkaProtocolError && e.errorCode === ErrorCode.CORRUPT_MESSAGE, compressionName(codec));
  }
});
