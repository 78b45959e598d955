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

/**
 * The operator of {@link crc32cShift} for a fixed length as four 256-entry byte tables:
 * the shift is linear over GF(2), so it is the XOR of each input byte's image — four
 * lookups per shift instead of up to 32 conditional XORs (one shift per page sent or
 * received, so this is on the data path of both sides).
 */
export function crc32cShiftTables(length: number): Uint32Array {
  const op = crc32cShiftOperator(length);
  const tables = new Uint32Array(4 * 256);
  for (let k = 0; k < 4; k++)
    for (let b = 0; b < 256; b++) tables[k * 256 + b] = times(op, (b << (8 * k)) >>> 0);
  return tables;
}

/** Shift by precomputed byte tables ({@link crc32cShiftTables}). */
export function crc32cApplyTables(tables: Uint32Array, crc: number): number {
  return (
    ((tables[crc & 0xff] as number) ^
      (tables[256 + ((crc >>> 8) & 0xff)] as number) ^
      (tables[512 + ((crc >>> 16) & 0xff)] as number) ^
      (tables[768 + (crc >>> 24)] as number)) >>>
    0
  );
}

/** Byte tables for one 4 KiB page. */
export const PAGE_SHIFT_TABLES: Uint32Array = crc32cShiftTables(4096);

/**
 * Extends `crc` (of the bytes before) over pages whose own CRC32Cs are `pageCrcs[from..to)`:
 * the CRC of the concatenation, without touching the pages' bytes again.
 */
export function crc32cExtendPages(
  crc: number,
  pageCrcs: Uint32Array,
  from = 0,
  to = pageCrcs.length,
): number {
  let c = crc >>> 0;
  for (let j = from; j < to; j++)
    c = (crc32cApplyTables(PAGE_SHIFT_TABLES, c) ^ (pageCrcs[j] as number)) >>> 0;
  return c;
}
