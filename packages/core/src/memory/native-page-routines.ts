import { createRequire } from "node:module";

/**
 * The page routines of core's C addon (`native/page_routines.c`, built by node-gyp when
 * the package installs). Each checks its arguments and throws TypeError or RangeError
 * rather than touch memory outside the views it was given.
 */
export interface NativePageRoutines {
  /**
   * Writes the CRC32C (Castagnoli, as `@node-rs/crc32`'s `crc32c(page)`) of each 4 KiB page
   * of `pages` to `out[at]`, `out[at + 1]`, …. Present only where the CPU has a crc32
   * instruction the addon uses (x86-64 with SSE4.2).
   */
  readonly crc32cPages?: (pages: Uint8Array, out: Uint32Array, at: number) => void;
  /**
   * Copies each page `i < count` of `pages` whose bit `i` is set in `kinds` (LSB first) to
   * `dest`, one after another, and writes its CRC32C to `out[0]`, `out[1]`, …; returns how
   * many it copied. Present with {@link crc32cPages}.
   */
  readonly gatherCrc32cPages?: (
    pages: Uint8Array,
    kinds: Uint8Array,
    count: number,
    dest: Uint8Array,
    out: Uint32Array,
  ) => number;
  /**
   * {@link gatherCrc32cPages} with the zero check in the same pass: page `i < count` of
   * `pages` is zero when bit `first + i` of `populated` (when given) is clear or it reads all
   * zero; every other page gets bit `i` of `kinds` (cleared first), is copied to `dest` and
   * hashed into `out`. Returns how many it copied; `dest` and `out` need room for `count`.
   * Present with {@link crc32cPages}.
   */
  readonly scanGatherCrc32cPages?: (
    pages: Uint8Array,
    count: number,
    populated: Int32Array | null,
    first: number,
    kinds: Uint8Array,
    dest: Uint8Array,
    out: Uint32Array,
  ) => number;
  /**
   * Copies page `k` of `data` (whole pages) to page `slots[at + k]` of `dest` and writes its
   * CRC32C to `out[at + k]`; RangeError, with nothing written, when a slot lies outside
   * `dest`. The copies bypass the caches (non-temporal stores) when `dest` is 16-byte
   * aligned, as guest RAM is: nothing reads them before the guest runs. Present with
   * {@link crc32cPages}.
   */
  readonly scatterCrc32cPages?: (
    data: Uint8Array,
    slots: Int32Array,
    at: number,
    dest: Uint8Array,
    out: Uint32Array,
  ) => void;
  /**
   * For each page `i < slots.length` of `live` whose `slots[i]` is positive, compares it with
   * page `slots[i] - 1` of `copies` and sets bit `i` of `unchanged` (LSB first) when every
   * byte is equal; other bits are left as they are. Returns how many bits it set.
   */
  readonly markUnchangedPages?: (
    live: Uint8Array,
    copies: Uint8Array,
    slots: Int32Array,
    unchanged: Uint8Array,
  ) => number;
  /** ORs each word of `from` into `into` (equal lengths). */
  readonly orWords?: (into: Int32Array, from: Int32Array) => void;
  /** ANDs each word of `other` into `into` (equal lengths). */
  readonly andWords?: (into: Int32Array, other: Int32Array) => void;
  /** The bits set in `words`. */
  readonly countWords?: (words: Int32Array) => number;
  /**
   * Exchanges each non-zero word of `from` for 0 atomically (as `Atomics.exchange`) and ORs
   * it into `into` (equal lengths); returns the bits moved.
   */
  readonly moveWords?: (from: Int32Array, into: Int32Array) => number;
  /** Copies `src` into `dest` (equal lengths; overlapping views are allowed) with memmove. */
  readonly copy: (dest: Uint8Array, src: Uint8Array) => void;
  /**
   * Asks the kernel to back the whole pages inside `memory` with transparent huge pages
   * (`madvise(MADV_HUGEPAGE)`); false when it refuses. Present on Linux only.
   */
  readonly adviseHugePages?: (memory: Uint8Array) => boolean;
  /**
   * Makes `memory` read as zeros and gives its whole pages back to the kernel
   * (`madvise(MADV_DONTNEED)`), so they hold no RAM until touched again; the partial pages
   * at its ends are zeroed by hand. Nothing may use the memory meanwhile. False when the
   * kernel kept the pages (the view was then zeroed by hand and still holds its RAM).
   * Present on Linux only.
   */
  readonly releasePages?: (memory: Uint8Array) => boolean;
  /**
   * Whether the peer of stream socket `fd` shut down its sending side or the connection was
   * reset (`poll` with `POLLRDHUP`, not waiting); reads nothing. Present on Linux only.
   */
  readonly peerHungUp?: (fd: number) => boolean;
  /**
   * Sets a socket's `SO_RCVLOWAT` (`setsockopt`): the kernel wakes its reader only once
   * `bytes` are queued, or at the stream's end; false when the kernel refuses. Present where
   * the platform has the option (Linux).
   */
  readonly setReceiveLowWater?: (fd: number, bytes: number) => boolean;
  /** The instruction set `crc32cPages` uses, or null when it is absent. */
  readonly crc32c: string | null;
}

function load(): { routines?: NativePageRoutines; unavailable?: string } {
  if (process.env.MDEVKIT_NATIVE === "0") return { unavailable: "turned off by MDEVKIT_NATIVE=0" };
  try {
    // The same path from src/memory (tests) and dist/memory (the build).
    return { routines: createRequire(import.meta.url)("../../build/Release/page_routines.node") };
  } catch (err) {
    const why = err instanceof Error ? err.message.split("\n")[0] : String(err);
    return { unavailable: `not built (${why})` };
  }
}

const loaded = load();

/**
 * The addon, or undefined when it did not build at install or `MDEVKIT_NATIVE=0` turns it
 * off: callers then use their JavaScript routines (the same results, more slowly).
 */
export const nativePageRoutines: NativePageRoutines | undefined = loaded.routines;

/** Why {@link nativePageRoutines} is undefined, or undefined when it is loaded. */
export const nativeUnavailable: string | undefined = loaded.unavailable;

/**
 * Which routines move this process's page data, for reports: the addon's, or the
 * JavaScript ones that replace it (the same bytes and CRCs, more slowly), and why.
 */
export function describePageRoutines(): string {
  if (nativePageRoutines === undefined)
    return `JavaScript (the native addon is ${nativeUnavailable})`;
  const crc = nativePageRoutines.crc32c;
  return crc === null
    ? "native copy; CRC32C a page per call (the addon has no crc32 instruction on this CPU)"
    : `native (CRC32C with ${crc}, 4 pages at a time; received pages streamed into guest memory past the caches)`;
}
