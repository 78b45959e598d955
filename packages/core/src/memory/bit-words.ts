/**
 * Helpers for bitmaps stored as 32-bit halves of the uAPI's u64 words.
 *
 * The kernel's dirty bitmaps are arrays of u64 where page n is bit n%64 of word n/64.
 * JavaScript has no fast 64-bit integers (BigInt allocates), so mdevkit stores the same
 * bytes and works on 32-bit halves. On a little-endian host bit n lives in 32-bit word
 * n>>>5; on a big-endian host the two halves of each u64 swap places, which
 * {@link HALF_SWAP} corrects, so a `BigUint64Array` over the same memory always agrees.
 */

/** 0 on little-endian hosts, 1 on big-endian ones: XOR it into a 32-bit word index. */
export const HALF_SWAP: 0 | 1 = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1;

/** Index of the 32-bit word holding bit `n` (n < 2^32). */
export function word32Of(n: number): number {
  return (n >>> 5) ^ HALF_SWAP;
}

/** Number of set bits in a 32-bit word (SWAR popcount; no lookup tables, no branches). */
export function popcount32(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  v = (v + (v >>> 4)) & 0x0f0f0f0f;
  return Math.imul(v, 0x01010101) >>> 24;
}

/** Index (0..31) of the lowest set bit of a non-zero word. */
export function lowestBit(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** Mask with bits [from, to) set, 0 ≤ from ≤ to ≤ 32. */
export function rangeMask(from: number, to: number): number {
  if (to - from >= 32) return -1;
  return (((1 << (to - from)) - 1) << from) | 0;
}

/**
 * Sets bits `[start, start + count)` in `words` (32-bit halves of u64 words). Whole
 * words are filled at once, so marking a 2 MiB huge page costs 16 stores, not 512.
 */
export function setBitRange(words: Int32Array | Uint32Array, start: number, count: number): void {
  applyBitRange(words, start, count, true);
}

/** Clears bits `[start, start + count)` in `words`. */
export function clearBitRange(words: Int32Array | Uint32Array, start: number, count: number): void {
  applyBitRange(words, start, count, false);
}

function applyBitRange(
  words: Int32Array | Uint32Array,
  start: number,
  count: number,
  set: boolean,
): void {
  let n = start;
  const end = start + count;
  while (n < end) {
    const bit = n & 31;
    const take = Math.min(32 - bit, end - n);
    const mask = rangeMask(bit, bit + take);
    const w = word32Of(n);
    words[w] = set ? words[w]! | mask : words[w]! & ~mask;
    n += take;
  }
}

/**
 * A `Uint32Array` over the same memory as a uAPI `BigUint64Array` bitmap, so kernel-style
 * bitmaps handed to `logReadAndClear` can be filled without BigInt arithmetic.
 */
export function u32ViewOf(bitmap: BigUint64Array): Uint32Array {
  return new Uint32Array(bitmap.buffer, bitmap.byteOffset, bitmap.length * 2);
}
