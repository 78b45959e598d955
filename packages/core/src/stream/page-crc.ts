import { crc32c } from "@node-rs/crc32";
import { nativePageRoutines } from "../memory/native-page-routines.js";
import { copyBytes } from "../memory/shared-copy.js";
import { PAGE_SIZE } from "./format.js";
import { isDataPage } from "./ram-run.js";

const nativeCrc32cPages = nativePageRoutines?.crc32cPages;
const nativeGather = nativePageRoutines?.gatherCrc32cPages;
const nativeScatter = nativePageRoutines?.scatterCrc32cPages;

/**
 * Pages copied per step of the JavaScript gather and scatter before they are hashed: small
 * enough that the copy is still in the CPU cache when the CRC reads it (64 KiB), large
 * enough that the copy is one call for many pages.
 */
const GATHER_SLICE_PAGES = 16;

/**
 * Writes the CRC32C of each 4 KiB page of `pages` (whole pages, contiguous) to
 * `out[at..]`: the per-page CRCs a RAM_PAGES frame's CRC and the RAM digest are made of.
 * One call hashes the whole batch, four pages side by side, where the native addon is
 * built; both sides of a migration hash every data page, so this is most of their CPU per
 * byte after the copies.
 */
export function crc32cPages(pages: Uint8Array, out: Uint32Array, at = 0): void {
  if (nativeCrc32cPages !== undefined) nativeCrc32cPages(pages, out, at);
  else crc32cPagesInJs(pages, out, at);
}

/** {@link crc32cPages} a call per page: where the addon is missing (and for its tests). */
export function crc32cPagesInJs(pages: Uint8Array, out: Uint32Array, at = 0): void {
  const count = pages.byteLength / PAGE_SIZE;
  for (let i = 0; i < count; i++)
    out[at + i] = crc32c(pages.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE) as Buffer);
}

/**
 * Copies the data pages of a run — page `i < count` of `pages` when bit `i` of `kinds` is
 * set — into `into`, one after another, and writes each one's CRC32C (of the copy) to
 * `crcs[0..]`: the source's snapshot of a RAM_PAGES record, whose copy the CRC, the digest
 * table and the wire all see. One native call per record where the addon is built: with
 * data and zero pages interleaved, a call per run of adjacent data pages cost more than
 * the copying.
 */
export function gatherCrc32cPages(
  pages: Uint8Array,
  kinds: Uint8Array,
  count: number,
  into: Uint8Array,
  crcs: Uint32Array,
): void {
  if (nativeGather !== undefined) nativeGather(pages, kinds, count, into, crcs);
  else gatherCrc32cPagesInJs(pages, kinds, count, into, crcs);
}

/** {@link gatherCrc32cPages} a run of adjacent data pages at a time (and for its tests). */
export function gatherCrc32cPagesInJs(
  pages: Uint8Array,
  kinds: Uint8Array,
  count: number,
  into: Uint8Array,
  crcs: Uint32Array,
): void {
  let j = 0;
  for (let i = 0; i < count; ) {
    if (!isDataPage(kinds, i)) {
      i++;
      continue;
    }
    let end = i + 1;
    while (end < count && isDataPage(kinds, end)) end++;
    for (let p = i; p < end; p += GATHER_SLICE_PAGES) {
      const n = Math.min(GATHER_SLICE_PAGES, end - p);
      const copy = into.subarray(j * PAGE_SIZE, (j + n) * PAGE_SIZE);
      copyBytes(copy, pages.subarray(p * PAGE_SIZE, (p + n) * PAGE_SIZE));
      crc32cPages(copy, crcs, j);
      j += n;
    }
    i = end;
  }
}

/**
 * The target's side of {@link gatherCrc32cPages}: copies page `k` of `data` (whole pages, as
 * they arrived) to page `slots[at + k]` of `dest` and writes its CRC32C (of the copy) to
 * `crcs[at + k]`. One native call per socket chunk where the addon is built: with data and
 * zero pages interleaved, a call and two views per run of adjacent data pages cost more
 * than the copying. RangeError, with nothing written, when a slot lies outside `dest`.
 */
export function scatterCrc32cPages(
  data: Uint8Array,
  slots: Int32Array,
  at: number,
  dest: Uint8Array,
  crcs: Uint32Array,
): void {
  if (nativeScatter !== undefined) nativeScatter(data, slots, at, dest, crcs);
  else scatterCrc32cPagesInJs(data, slots, at, dest, crcs);
}

/** {@link scatterCrc32cPages} a run of adjacent slots at a time (and for its tests). */
export function scatterCrc32cPagesInJs(
  data: Uint8Array,
  slots: Int32Array,
  at: number,
  dest: Uint8Array,
  crcs: Uint32Array,
): void {
  const count = data.byteLength / PAGE_SIZE;
  if (!Number.isInteger(count) || at < 0 || at + count > slots.length || at + count > crcs.length)
    throw new RangeError("slots or out has no entry for every page from at");
  const destPages = dest.byteLength / PAGE_SIZE;
  for (let k = at; k < at + count; k++) {
    const slot = slots[k] as number;
    if (slot < 0 || slot >= destPages) throw new RangeError("a slot lies outside dest");
  }
  for (let k = 0; k < count; ) {
    const first = slots[at + k] as number;
    let n = 1;
    while (k + n < count && n < GATHER_SLICE_PAGES && slots[at + k + n] === first + n) n++;
    const copy = dest.subarray(first * PAGE_SIZE, (first + n) * PAGE_SIZE);
    copyBytes(copy, data.subarray(k * PAGE_SIZE, (k + n) * PAGE_SIZE));
    crc32cPages(copy, crcs, at + k);
    k += n;
  }
}
