// MurmurHash3_x86_128 (Austin Appleby, public domain): a 128-bit hash built from 32-bit
// operations, so it runs fast in JavaScript (Math.imul) without bigints or allocation. The cleaner
// identifies keys by this hash, as Kafka's SkimpyOffsetMap does by MD5: 128 bits make an
// accidental collision between two keys of one partition vanishingly unlikely (~n^2 / 2^129).
// A producer could craft colliding keys, but one that can write to the topic can delete any key
// with a tombstone anyway. Checked against SMHasher's verification value in the unit tests.

const C1 = 0x239b961b;
const C2 = 0xab0e9789;
const C3 = 0x38b34ae5;
const C4 = 0xa1e38b93;

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function word(b: Uint8Array, i: number): number {
  return b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
}

/** Tail bytes [i, i + n) of a block, little-endian, as the reference's switch builds them. */
function tailWord(b: Uint8Array, i: number, n: number): number {
  let k = 0;
  for (let j = n - 1; j >= 0; j--) k = (k << 8) | b[i + j];
  return k;
}

/**
 * Hashes bytes [start, start + length) of `data` with `seed` into `out[0..3]` (h1..h4 as uint32;
 * the reference writes them little-endian). No allocation.
 */
export function murmur3x86x128(data: Uint8Array, start: number, length: number, seed: number, out: Uint32Array): void {
  let h1 = seed | 0;
  let h2 = seed | 0;
  let h3 = seed | 0;
  let h4 = seed | 0;
  const blocksEnd = start + (length & ~15);
  let i = start;
  for (; i < blocksEnd; i += 16) {
    let k1 = word(data, i);
    let k2 = word(data, i + 4);
    let k3 = word(data, i + 8);
    let k4 = word(data, i + 12);
    k1 = Math.imul(rotl(Math.imul(k1, C1), 15), C2);
    h1 ^= k1;
    h1 = (Math.imul(rotl(h1, 19) + h2, 5) + 0x561ccd1b) | 0;
    k2 = Math.imul(rotl(Math.imul(k2, C2), 16), C3);
    h2 ^= k2;
    h2 = (Math.imul(rotl(h2, 17) + h3, 5) + 0x0bcaa747) | 0;
    k3 = Math.imul(rotl(Math.imul(k3, C3), 17), C4);
    h3 ^= k3;
    h3 = (Math.imul(rotl(h3, 15) + h4, 5) + 0x96cd1c35) | 0;
    k4 = Math.imul(rotl(Math.imul(k4, C4), 18), C1);
    h4 ^= k4;
    h4 = (Math.imul(rotl(h4, 13) + h1, 5) + 0x32ac3b17) | 0;
  }
  const rest = length & 15;
  if (rest > 12) h4 ^= Math.imul(rotl(Math.imul(tailWord(data, i + 12, rest - 12), C4), 18), C1);
  if (rest > 8) h3 ^= Math.imul(rotl(Math.imul(tailWord(data, i + 8, Math.min(rest - 8, 4)), C3), 17), C4);
  if (rest > 4) h2 ^= Math.imul(rotl(Math.imul(tailWord(data, i + 4, Math.min(rest - 4, 4)), C2), 16), C3);
  if (rest > 0) h1 ^= Math.imul(rotl(Math.imul(tailWord(data, i, Math.min(rest, 4)), C1), 15), C2);
  h1 ^= length;
  h2 ^= length;
  h3 ^= length;
  h4 ^= length;
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h3 = fmix(h3);
  h4 = fmix(h4);
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  out[0] = h1;
  out[1] = h2;
  out[2] = h3;
  out[3] = h4;
}
