import { MdevError } from "../errors/mdev-error.js";
import { word32Of } from "../memory/bit-words.js";
import type { DirtyBitmap } from "../memory/dirty-bitmap.js";
import { nativePageRoutines } from "../memory/native-page-routines.js";
import { isZeroWords } from "../memory/zero-page.js";
import { PAGE_SIZE } from "./format.js";
import { crc32cPages, gatherCrc32cPages } from "./page-crc.js";
import { countDataPages, kindsLength } from "./ram-pages-codec.js";

const PAGE_WORDS = PAGE_SIZE / 4;
const nativeScanGather = nativePageRoutines?.scanGatherCrc32cPages;

/** What {@link scanRamRun} found in a run of guest pages: the RAM_PAGES body, minus its head. */
export interface ScannedRamRun {
  /** The page-kind bitmap: bit i set when page i carries data. */
  readonly kinds: Uint8Array;
  /** Number of data pages (bits set in `kinds`). */
  readonly dataPages: number;
  /** CRC32C of each data page as sent, in order. */
  readonly crcs: Uint32Array;
  /** The data pages as they go on the wire: runs of adjacent pages, or one snapshot. */
  readonly bulk: Uint8Array[];
}

/**
 * Classifies `count` consecutive guest pages held contiguously in `pages` as zero or data,
 * and hashes each data page once. With `unchanged` (a bitmap over the run, for a sparse
 * record), a page whose bit is set is left out and every other page is data: a sparse
 * run has no zero markers, so a page that became zero goes out as its bytes. Zero
 * detection reads the page as 32-bit words and stops at the first non-zero group (a data
 * page is rejected within its first 16 bytes), so it costs no call and no view per page.
 *
 * With `populated` (the guest's map of pages that may hold data, and the guest page of
 * `pages[0]`), a page whose bit is clear is zero without being read: reading never-touched
 * memory would make the OS back it, at the cost of a page fault per page.
 *
 * With `snapshotInto`, data pages are copied there (from its start) a few at a time and
 * hashed from the copy while it is hot in cache: the CRC, the digest table and the wire
 * all see the copy, which a running vCPU cannot change. Where the addon has it and
 * `snapshotInto` has room for every page, the zero check, the copy and the CRC are one
 * native pass. Without `snapshotInto`, the data pages go out as views of `pages`, one per
 * run of adjacent data pages.
 */
export function scanRamRun(
  pages: Uint8Array,
  count: number,
  detectZero: boolean,
  snapshotInto?: Uint8Array,
  populated?: { readonly map: DirtyBitmap; readonly startPage: number },
  unchanged?: Uint8Array,
): ScannedRamRun {
  if (pages.byteLength !== count * PAGE_SIZE)
    throw new MdevError(
      "EINVAL",
      `${count} pages need ${count * PAGE_SIZE} bytes, got ${pages.byteLength}`,
    );
  if (
    nativeScanGather !== undefined &&
    detectZero &&
    unchanged === undefined &&
    snapshotInto !== undefined &&
    snapshotInto.byteLength >= count * PAGE_SIZE
  ) {
    // One pass: a data page's zero check reads the line its copy starts with.
    const kinds = new Uint8Array(kindsLength(count));
    const all = new Uint32Array(count);
    const dataPages = nativeScanGather(
      pages,
      count,
      populated?.map.words ?? null,
      populated?.startPage ?? 0,
      kinds,
      snapshotInto,
      all,
    );
    const bulk = dataPages > 0 ? [snapshotInto.subarray(0, dataPages * PAGE_SIZE)] : [];
    return { kinds, dataPages, crcs: all.subarray(0, dataPages), bulk };
  }
  if (unchanged !== undefined) {
    // A sparse run: every page not left out is data, so its kinds are the map's complement,
    // taken a byte at a time: a later pass's records span up to 2048 pages for a few dirty
    // ones.
    const kinds = new Uint8Array(kindsLength(count));
    const last = kinds.length - 1;
    for (let b = 0; b <= last; b++) {
      const valid = b === last && count % 8 !== 0 ? (1 << (count % 8)) - 1 : 0xff;
      kinds[b] = ~(unchanged[b] as number) & valid;
    }
    return gathered(pages, count, kinds, countDataPages(kinds), snapshotInto);
  }
  const words =
    detectZero && pages.byteOffset % 4 === 0
      ? new Int32Array(pages.buffer, pages.byteOffset, count * PAGE_WORDS)
      : undefined;
  const kinds = new Uint8Array(kindsLength(count));
  let dataPages = 0;
  const known = detectZero ? populated?.map.words : undefined;
  const first = populated?.startPage ?? 0;
  for (let i = 0; i < count; i++) {
    const p = first + i;
    const zero =
      detectZero &&
      ((known !== undefined && ((known[word32Of(p)] as number) & (1 << (p & 31))) === 0) ||
        (words !== undefined
          ? isZeroWords(words, i * PAGE_WORDS, PAGE_WORDS)
          : isZeroBytes(pages, i * PAGE_SIZE)));
    if (zero) continue;
    kinds[i >> 3] = (kinds[i >> 3] as number) | (1 << (i & 7));
    dataPages++;
  }
  return gathered(pages, count, kinds, dataPages, snapshotInto);
}

/**
 * The data pages `kinds` marks among `count` pages, hashed, and copied into `snapshotInto`
 * when given (else as views of `pages`, one per run of adjacent data pages).
 */
function gathered(
  pages: Uint8Array,
  count: number,
  kinds: Uint8Array,
  dataPages: number,
  snapshotInto: Uint8Array | undefined,
): ScannedRamRun {
  if (snapshotInto !== undefined && snapshotInto.byteLength < dataPages * PAGE_SIZE) {
    throw new MdevError(
      "EINVAL",
      `snapshot buffer of ${snapshotInto.byteLength} bytes cannot hold ${dataPages * PAGE_SIZE}`,
    );
  }
  const crcs = new Uint32Array(dataPages);
  const bulk: Uint8Array[] = [];
  if (snapshotInto !== undefined) {
    gatherCrc32cPages(pages, kinds, count, snapshotInto, crcs);
    if (dataPages > 0) bulk.push(snapshotInto.subarray(0, dataPages * PAGE_SIZE));
    return { kinds, dataPages, crcs, bulk };
  }
  // Runs of adjacent data pages go out as views, one each.
  for (let i = 0, j = 0; i < count; ) {
    if (((kinds[i >> 3] as number) & (1 << (i & 7))) === 0) {
      i++;
      continue;
    }
    let end = i + 1;
    while (end < count && ((kinds[end >> 3] as number) & (1 << (end & 7))) !== 0) end++;
    const run = pages.subarray(i * PAGE_SIZE, end * PAGE_SIZE);
    bulk.push(run);
    crc32cPages(run, crcs, j);
    j += end - i;
    i = end;
  }
  return { kinds, dataPages, crcs, bulk };
}

function isZeroBytes(bytes: Uint8Array, at: number): boolean {
  for (let i = at; i < at + PAGE_SIZE; i++) if (bytes[i] !== 0) return false;
  return true;
}
