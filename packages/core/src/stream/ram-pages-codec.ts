import type { ByteCursor } from "./byte-cursor.js";
import { RamRunFlags, SPARSE_RUN_VERSION } from "./format.js";
import type { RamPagesBody } from "./records.js";
import type { StreamLimits } from "./stream-limits.js";

/**
 * RAM_PAGES head before the bitmap: startPage(u64) count(u32) flags(u32). The flags word
 * was reserved (0) before format version 5 ({@link RamRunFlags}).
 */
export const RAM_RUN_HEAD_LENGTH = 16;

/**
 * The flags a RAM_PAGES head may carry in a stream of format `version`; any other bit set
 * is refused.
 */
export function allowedRunFlags(version: number): number {
  return version >= SPARSE_RUN_VERSION ? RamRunFlags.SPARSE : 0;
}

/** Bytes of the page-kind bitmap for `count` pages. */
export function kindsLength(count: number): number {
  return Math.ceil(count / 8);
}

/** Number of set bits (data pages) in a kinds bitmap. */
export function countDataPages(kinds: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < kinds.length; i++) {
    let x = kinds[i] ?? 0;
    while (x !== 0) {
      x &= x - 1;
      n++;
    }
  }
  return n;
}

/**
 * Decodes a RAM_PAGES payload and checks every rule that protects the target's memory:
 * count bounded, bitmap padding clear, length = head + bitmap + data pages exactly, the
 * whole run inside guest RAM (`guestPages`), and no flag the stream's format `version`
 * does not define.
 */
export function decodeRamPages(
  c: ByteCursor,
  limits: StreamLimits,
  pageSize: number,
  guestPages: number,
  version: number,
  pageCrcs?: Uint32Array,
): RamPagesBody {
  const startPage = c.u64("start page");
  const count = c.u32("count");
  const flags = c.u32("flags");
  if ((flags & ~allowedRunFlags(version)) !== 0)
    throw c.error(
      "EPROTO",
      "reserved",
      `flags 0x${flags.toString(16)} undefined in format ${version}`,
    );
  if (count === 0) throw c.error("EPROTO", "page-count", "a run must hold at least one page");
  if (count > limits.maxPagesPerRun) {
    throw c.error("E2BIG", "page-count", `${count} pages exceed ${limits.maxPagesPerRun} per run`);
  }
  if (startPage >= guestPages || count > guestPages - startPage) {
    throw c.error(
      "EPROTO",
      "page-range",
      `pages ${startPage}..${startPage + count - 1} outside guest RAM of ${guestPages} pages`,
    );
  }
  const kinds = c.bytes(kindsLength(count), "kinds");
  const padBits = kinds.length * 8 - count;
  if (padBits > 0 && (kinds[kinds.length - 1] ?? 0) >> (8 - padBits) !== 0) {
    throw c.error("EPROTO", "kinds-padding", "bitmap bits past the page count must be 0");
  }
  const dataPages = countDataPages(kinds);
  if (c.remaining !== dataPages * pageSize) {
    throw c.error(
      "EBADMSG",
      "count-length",
      `${dataPages} data pages need ${dataPages * pageSize} bytes, record has ${c.remaining}`,
    );
  }
  const data = c.bytes(dataPages * pageSize, "pages");
  return ramPagesBody(startPage, count, kinds, (flags & RamRunFlags.SPARSE) !== 0, data, pageCrcs);
}

/**
 * A RAM_PAGES body, built with every property in one order whatever the run is (sparse or
 * not, decoded whole or streamed into guest memory), so V8 gives all runs one hidden class
 * and the code that handles them stays optimized. With a property added to some runs only,
 * each new combination deoptimized that code, and format version 5's sparse runs first
 * appear in the last passes: the target's receive path ran interpreted again, into the
 * paused window, until V8 had compiled it anew (issue #13).
 */
export function ramPagesBody(
  startPage: number,
  count: number,
  kinds: Uint8Array,
  sparse: boolean,
  data: Uint8Array,
  pageCrcs?: Uint32Array,
  inSink = false,
): RamPagesBody {
  return { type: "RAM_PAGES", startPage, count, kinds, sparse, data, pageCrcs, inSink };
}
