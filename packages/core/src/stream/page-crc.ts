import { crc32c } from "@node-rs/crc32";
import { nativePageRoutines } from "../memory/native-page-routines.js";
import { PAGE_SIZE } from "./format.js";

const nativeCrc32cPages = nativePageRoutines?.crc32cPages;

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
