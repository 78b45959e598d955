import type { RamPagesBody } from "./records.js";

const ZERO_PAGE = new Uint8Array(4096);

/**
 * True when `page` is all zeroes. A native memcmp against a static zero page: it stops at
 * the first non-zero byte, so data pages cost almost nothing and zero pages one pass.
 */
export function isZeroPage(page: Uint8Array): boolean {
  if (page.byteLength === ZERO_PAGE.byteLength) return Buffer.compare(page, ZERO_PAGE) === 0;
  for (let i = 0; i < page.byteLength; i++) if (page[i] !== 0) return false;
  return true;
}

/** True when page `i` of the run carries data (bit set), false for a zero-page marker. */
export function isDataPage(kinds: Uint8Array, i: number): boolean {
  return (((kinds[i >> 3] ?? 0) >> (i & 7)) & 1) === 1;
}

/**
 * Calls `apply(pageNumber, bytes)` for every page of a decoded run, in order: `bytes` is a
 * view of the page's data, or `undefined` for a zero page (the target zero-fills it, or
 * skips it when it knows the page is still fresh). A sparse run's pages without data are
 * left out: they stay as they are. Views are valid until the decoder resumes.
 */
export function forEachRamPage(
  run: RamPagesBody,
  pageSize: number,
  apply: (page: number, bytes: Uint8Array | undefined) => void,
): void {
  let at = 0;
  for (let i = 0; i < run.count; i++) {
    if (isDataPage(run.kinds, i)) {
      apply(run.startPage + i, run.data.subarray(at, at + pageSize));
      at += pageSize;
    } else if (run.sparse !== true) {
      apply(run.startPage + i, undefined);
    }
  }
}

/**
 * Applies a decoded run to a flat RAM image (`ram.byteLength` = guest pages × page size):
 * data pages copied once, zero pages filled (a sparse run's other pages left as they are).
 * Contiguous data pages are copied in one call.
 */
export function applyRamRun(run: RamPagesBody, ram: Uint8Array, pageSize: number): void {
  let at = 0;
  let i = 0;
  while (i < run.count) {
    const data = isDataPage(run.kinds, i);
    let j = i + 1;
    while (j < run.count && isDataPage(run.kinds, j) === data) j++;
    const dst = (run.startPage + i) * pageSize;
    const len = (j - i) * pageSize;
    if (data) {
      ram.set(run.data.subarray(at, at + len), dst);
      at += len;
    } else if (run.sparse !== true) {
      ram.fill(0, dst, dst + len);
    }
    i = j;
  }
}
