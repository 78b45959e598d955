/**
 * CRC-32C combination (zlib's `crc32_combine` method over GF(2), for the Castagnoli
 * polynomial): `crc(A ‖ B) = shift(crc(A), |B|) ⊕ crc(B)`. It lets a RAM_PAGES frame's CRC
 * be derived from the per-page CRCs the RAM digest needs anyway, so each page is hashed
 * once per side instead of twice.
 */

/** The reflected Castagnoli polynomial. */
const POLY = 0x82f63b78;

function times(mat: Uint32Array, vec: number): number {
  let sum = 0;
  let v = vec >>> 0;
  for (let i = 0; v !== 0; i++, v >>>= 1) if (v & 1) sum ^= mat[i] as number;
  return sum >>> 0;
}

function square(out: Uint32Array, mat: Uint32Array): void {
  for (let n = 0; n < 32; n++) out[n] = times(mat, mat[n] as number);
}

/** `crc` advanced over `length` zero bytes' worth of shift (the left term of combine). */
export function crc32cShift(crc: number, length: number): number {
  if (length <= 0) return crc >>> 0;
  const odd = new Uint32Array(32);
  const even = new Uint32Array(32);
  odd[0] = POLY;
  for (let n = 1, row = 1; n < 32; n++, row <<= 1) odd[n] = row >>> 0;
  square(even, odd); // 2 zero bits
  square(odd, even); // 4 zero bits
  let c = crc >>> 0;
  let len = length;
  for (;;) {
    square(even, odd);
    if (len & 1) c = times(even, c);
    len = Math.floor(len / 2);
    if (len === 0) break;
    square(odd, even);
    if (len & 1) c = times(odd, c);
    len = Math.floor(len / 2);
    if (len === 0) break;
  }
  return c;
}

/** The linear operator of {@link crc32cShift} for a fixed length, as 32 columns. */
export function crc32cShiftOperator(length: number): Uint32Array {
  const op = new Uint32Array(32);
  for (let i = 0; i < 32; i++) op[i] = crc32cShift((1 << i) >>> 0, length);
  return op;
}

/** Shift by a precomputed operator (fast path: 32 conditional XORs). */
export function crc32cApply(op: Uint32Array, crc: number): number {
  return times(op, crc);
}

/** Operator for one 4 KiB page, the unit RAM_PAGES payloads are made of. */
export const PAGE_SHIFT_OPERATOR: Uint32Array = crc32cShiftOperator(4096);
