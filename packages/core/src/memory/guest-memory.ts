import { totalmem } from "node:os";
import { MdevError } from "../errors/mdev-error.js";
import { rangeMask, word32Of } from "./bit-words.js";
import { DirtyBitmap } from "./dirty-bitmap.js";
import {
  GUEST_SEGMENT_SIZE,
  type GuestMemoryLayout,
  MAX_GUEST_MEMORY,
  MAX_GUEST_SEGMENT_SIZE,
  parseGuestMemoryLayout,
} from "./guest-memory-layout.js";
import { nativePageRoutines } from "./native-page-routines.js";
import { checkInteger, hex, isPowerOfTwo, PAGE_SHIFT, PAGE_SIZE } from "./page.js";
import { copyBytes } from "./shared-copy.js";
import { isZeroWords } from "./zero-page.js";

/**
 * The smallest segment advised to huge pages. A smaller buffer may come from malloc's heap
 * (glibc serves requests up to 32 MiB there once its mmap threshold has risen), where the
 * advice would outlive the segment and apply to whatever the heap holds next; small guests
 * gain little from huge pages anyway.
 */
export const MIN_ADVISED_SEGMENT = 32 * 2 ** 20;

/** Options for {@link GuestMemory.create}. */
export interface GuestMemoryOptions {
  /** Guest RAM in bytes: a positive multiple of 4 KiB, at most {@link MAX_GUEST_MEMORY}. */
  readonly size: number;
  /** Bytes per backing SharedArrayBuffer (power of two, 4 KiB..4 GiB); default 1 GiB. */
  readonly segmentSize?: number;
  /**
   * Allow a guest larger than the host's physical RAM. Off by default: allocation is lazy
   * and would succeed, but touching the pages later gets the process OOM-killed, which is
   * a far worse failure than a clear ENOMEM now.
   */
  readonly allowOvercommit?: boolean;
}

/**
 * Guest RAM: 4 KiB pages in SharedArrayBuffer segments, plus the CPU dirty log.
 *
 * Allocation is lazy: a fresh SharedArrayBuffer is zero-filled by the OS on first touch,
 * so an untouched page costs nothing and a 16 GiB guest "allocates" in microseconds. RAM
 * is split into segments (1 GiB by default) because a single typed array is limited to
 * 2^32 elements in Node 20; a page never straddles a segment, and {@link view} refuses
 * ranges that would (use {@link read} to copy those).
 *
 * CPU writes ({@link write}, {@link writePage}, or another thread using the same
 * {@link layout}) set the page's bit in {@link dirtyLog} with `Atomics.or` *after* the
 * data is stored, so a sync that sees the bit also sees the data. Device DMA goes through
 * {@link writeUntracked}: it must not mark the CPU log, since each device dirty-tracking
 * method has to find those pages on its own.
 *
 * {@link populated} marks every page that may hold data: written through any method here,
 * or handed out as a writable view ({@link view}, {@link pageView}); another thread writing
 * through the {@link layout} marks it too, before it stores. A page outside it is zero
 * and is never read by a migration: a guest's never-touched RAM stays unbacked, where
 * reading it would cost the OS a page fault per 4 KiB and back memory the guest never used.
 *
 * Where core's addon is built (Linux), segments of 32 MiB or more ask for transparent huge
 * pages, as QEMU's guest RAM does: the kernel then backs RAM 2 MiB at a time
 * ({@link hugePages}).
 * On our VMs' hosts a fresh 4 KiB page costs 13-15 us to fault in, and the kernel copies
 * socket data into resident 4 KiB-paged memory at a tenth of its rate into a hot buffer.
 * The price is laziness at 2 MiB instead of 4 KiB: one touched page backs its 2 MiB.
 * A host whose `/sys/kernel/mm/transparent_hugepage/enabled` is `never` keeps 4 KiB pages.
 */
export class GuestMemory {
  /** Guest RAM size in bytes. */
  readonly size: number;
  /** Number of 4 KiB pages. */
  readonly pages: number;
  /** Bytes per segment. */
  readonly segmentSize: number;
  /** The CPU dirty log (shared): one bit per guest page. */
  readonly dirtyLog: DirtyBitmap;
  /**
   * Pages that may hold data (shared): set before any write, never cleared. A page whose
   * bit is clear here is zero; see {@link mayHoldData}.
   */
  readonly populated: DirtyBitmap;
  /**
   * Whether the kernel accepted the advice to back every segment with transparent huge
   * pages (false without core's addon, off Linux, for segments under 32 MiB, or in a
   * worker's view of the memory). The host's THP setting decides whether it is followed:
   * `never` accepts the advice and keeps 4 KiB pages.
   */
  readonly hugePages: boolean;
  readonly #segments: readonly SharedArrayBuffer[];
  readonly #bytes: readonly Uint8Array[];
  readonly #ints: readonly Int32Array[];
  readonly #pagesPerSegmentShift: number;

  private constructor(layout: GuestMemoryLayout, hugePages = false) {
    this.hugePages = hugePages;
    this.size = layout.size;
    this.pages = layout.size / PAGE_SIZE;
    this.segmentSize = layout.segmentSize;
    this.#segments = layout.segments;
    this.#bytes = layout.segments.map((s) => new Uint8Array(s));
    this.#ints = layout.segments.map((s) => new Int32Array(s));
    this.#pagesPerSegmentShift = Math.log2(layout.segmentSize) - PAGE_SHIFT;
    this.dirtyLog = new DirtyBitmap(this.pages, { buffer: layout.dirtyLog });
    this.populated = new DirtyBitmap(this.pages, { buffer: layout.populated });
  }

  /** Allocates (lazily) a zeroed guest of `options.size` bytes with a clean dirty log. */
  static create(options: GuestMemoryOptions): GuestMemory {
    const { size } = options;
    const segmentSize = options.segmentSize ?? GUEST_SEGMENT_SIZE;
    checkInteger("guest memory size", size, PAGE_SIZE, MAX_GUEST_MEMORY);
    if (size % PAGE_SIZE !== 0)
      throw new MdevError("EINVAL", `guest memory size ${size} is not a multiple of ${PAGE_SIZE}`);
    if (
      !isPowerOfTwo(segmentSize) ||
      segmentSize < PAGE_SIZE ||
      segmentSize > MAX_GUEST_SEGMENT_SIZE
    ) {
      throw new MdevError(
        "EINVAL",
        `guest memory segment size ${segmentSize} must be a power of two in [${PAGE_SIZE}, ${MAX_GUEST_SEGMENT_SIZE}]`,
      );
    }
    const physical = totalmem();
    if (options.allowOvercommit !== true && size > physical) {
      throw new MdevError(
        "ENOMEM",
        `guest memory of ${gib(size)} exceeds this host's ${gib(physical)} of RAM`,
      );
    }
    const segments: SharedArrayBuffer[] = [];
    let dirtyLog: SharedArrayBuffer;
    let populated: SharedArrayBuffer;
    const advise = nativePageRoutines?.adviseHugePages;
    let hugePages = true;
    try {
      for (let offset = 0; offset < size; offset += segmentSize) {
        const bytes = Math.min(segmentSize, size - offset);
        const segment = new SharedArrayBuffer(bytes);
        // Before the first touch: the kernel picks the page size when it faults a page in.
        const advised = bytes >= MIN_ADVISED_SEGMENT && advise?.(new Uint8Array(segment)) === true;
        hugePages &&= advised;
        segments.push(segment);
      }
      dirtyLog = new DirtyBitmap(size / PAGE_SIZE, { shared: true }).buffer as SharedArrayBuffer;
      populated = new DirtyBitmap(size / PAGE_SIZE, { shared: true }).buffer as SharedArrayBuffer;
    } catch (err) {
      throw new MdevError("ENOMEM", `cannot reserve ${gib(size)} of guest memory: ${String(err)}`, {
        cause: err,
      });
    }
    return new GuestMemory(
      { size, pageSize: PAGE_SIZE, segmentSize, segments, dirtyLog, populated },
      hugePages,
    );
  }

  /** Rebuilds a guest memory over shared segments (in a worker thread); validates the layout. */
  static fromLayout(layout: unknown): GuestMemory {
    return new GuestMemory(parseGuestMemoryLayout(layout));
  }

  /** The shared memory and its geometry, to post to a worker. */
  get layout(): GuestMemoryLayout {
    return {
      size: this.size,
      pageSize: PAGE_SIZE,
      segmentSize: this.segmentSize,
      segments: this.#segments,
      dirtyLog: this.dirtyLog.buffer as SharedArrayBuffer,
      populated: this.populated.buffer as SharedArrayBuffer,
    };
  }

  #checkPfn(pfn: number): void {
    if (!(Number.isInteger(pfn) && pfn >= 0 && pfn < this.pages)) {
      throw new MdevError("EINVAL", `guest page ${pfn} is outside the guest's ${this.pages} pages`);
    }
  }

  #checkRange(gpa: number, length: number): void {
    if (
      !(
        Number.isSafeInteger(gpa) &&
        Number.isSafeInteger(length) &&
        gpa >= 0 &&
        length >= 0 &&
        gpa + length <= this.size
      )
    ) {
      throw new MdevError(
        "EINVAL",
        `guest range {gpa: ${hex(gpa)}, length: ${length}} is outside the guest's ${this.size} bytes`,
      );
    }
  }

  /**
   * A live view of page `pfn` (4096 bytes, never straddling a segment). The page counts as
   * populated from now on, since the caller may write through the view.
   */
  pageView(pfn: number): Uint8Array {
    this.#checkPfn(pfn);
    Atomics.or(this.populated.words, word32Of(pfn), 1 << (pfn & 31));
    return this.#pageBytes(pfn);
  }

  #pageBytes(pfn: number): Uint8Array {
    const seg = pfn >>> this.#pagesPerSegmentShift;
    const offset = (pfn - seg * (this.segmentSize / PAGE_SIZE)) * PAGE_SIZE;
    return this.#bytes[seg]!.subarray(offset, offset + PAGE_SIZE);
  }

  /**
   * A live view of `[gpa, gpa + length)`, for batched loads. Refuses (EINVAL) a range that
   * straddles two segments: there is no contiguous memory for it. Its pages count as
   * populated from now on, since the caller may write through the view; to only read, use
   * {@link peek}.
   */
  view(gpa: number, length: number): Uint8Array {
    const bytes = this.peek(gpa, length);
    if (length > 0) this.#markPopulated(gpa, length);
    return bytes;
  }

  /**
   * A live view of the `count` pages from `startPage` (inside one segment, as {@link view}
   * requires) to write a RAM_PAGES run's data pages through: page `startPage + i` counts as
   * populated from now on when bit `kindsAt + i` of `kinds` (LSB first) is set; the others
   * are left as they were, so the zero pages of a run stay unbacked.
   */
  runView(startPage: number, count: number, kinds: Uint8Array, kindsAt = 0): Uint8Array {
    const bytes = this.peek(startPage * PAGE_SIZE, count * PAGE_SIZE);
    const words = this.populated.words;
    let w = word32Of(startPage);
    let mask = 0;
    for (let i = 0; i < count; i++) {
      const p = startPage + i;
      if (word32Of(p) !== w) {
        if (mask !== 0) Atomics.or(words, w, mask);
        w = word32Of(p);
        mask = 0;
      }
      const k = kindsAt + i;
      if ((((kinds[k >> 3] as number) >> (k & 7)) & 1) === 1) mask |= 1 << (p & 31);
    }
    if (mask !== 0) Atomics.or(words, w, mask);
    return bytes;
  }

  /**
   * A live view of `[gpa, gpa + length)` to read from, e.g. for zero-copy sends: like
   * {@link view}, but the caller must not write through it. Reading a page that is not
   * {@link mayHoldData} makes the OS back it: skip those when the bytes are known zero.
   */
  peek(gpa: number, length: number): Uint8Array {
    this.#checkRange(gpa, length);
    if (length === 0) return new Uint8Array(0);
    const seg = Math.floor(gpa / this.segmentSize);
    const offset = gpa - seg * this.segmentSize;
    if (offset + length > this.#bytes[seg]!.length) {
      throw new MdevError(
        "EINVAL",
        `guest range {gpa: ${hex(gpa)}, length: ${length}} straddles a ${this.segmentSize}-byte segment boundary; use read() to copy it`,
      );
    }
    return this.#bytes[seg]!.subarray(offset, offset + length);
  }

  /** A copy of page `pfn` (into `into` when given). */
  readPage(pfn: number, into: Uint8Array = new Uint8Array(PAGE_SIZE)): Uint8Array {
    if (into.length !== PAGE_SIZE)
      throw new MdevError("EINVAL", `page buffer has ${into.length} bytes, ${PAGE_SIZE} expected`);
    this.#checkPfn(pfn);
    if (this.mayHoldData(pfn)) into.set(this.#pageBytes(pfn));
    else into.fill(0);
    return into;
  }

  /** CPU write of a whole page: stores the bytes, then marks the page in the dirty log. */
  writePage(pfn: number, data: Uint8Array): void {
    if (data.length !== PAGE_SIZE)
      throw new MdevError("EINVAL", `page data has ${data.length} bytes, ${PAGE_SIZE} expected`);
    copyBytes(this.pageView(pfn), data);
    Atomics.or(this.dirtyLog.words, word32Of(pfn), 1 << (pfn & 31));
  }

  /** A copy of `[gpa, gpa + length)`, across segments if needed. */
  read(gpa: number, length: number): Uint8Array {
    this.#checkRange(gpa, length);
    const out = new Uint8Array(length);
    this.#forEachChunk(gpa, length, (bytes, offset, done, n) =>
      copyBytes(out.subarray(done, done + n), bytes.subarray(offset, offset + n)),
    );
    return out;
  }

  /** CPU write of arbitrary bytes: stores them, then marks every touched page dirty. */
  write(gpa: number, data: Uint8Array): void {
    this.writeUntracked(gpa, data);
    if (data.length > 0) this.markDirty(gpa, data.length);
  }

  /**
   * Stores bytes without touching the CPU dirty log: the path of device DMA, whose pages
   * the device's own dirty-tracking method (DMA logging, pinning, vendor bitmap) reports.
   */
  writeUntracked(gpa: number, data: Uint8Array): void {
    this.#checkRange(gpa, data.length);
    if (data.length > 0) this.#markPopulated(gpa, data.length);
    this.#forEachChunk(gpa, data.length, (bytes, offset, done, n) =>
      copyBytes(bytes.subarray(offset, offset + n), data.subarray(done, done + n)),
    );
  }

  #forEachChunk(
    gpa: number,
    length: number,
    fn: (bytes: Uint8Array, offset: number, done: number, n: number) => void,
  ): void {
    let done = 0;
    while (done < length) {
      const at = gpa + done;
      const seg = Math.floor(at / this.segmentSize);
      const offset = at - seg * this.segmentSize;
      const n = Math.min(length - done, this.segmentSize - offset);
      fn(this.#bytes[seg]!, offset, done, n);
      done += n;
    }
  }

  /** Marks the pages of `[gpa, gpa + length)` in the CPU dirty log (atomically, word by word). */
  markDirty(gpa: number, length: number): void {
    this.#checkRange(gpa, length);
    if (length > 0) orPages(this.dirtyLog.words, gpa, length);
  }

  #markPopulated(gpa: number, length: number): void {
    orPages(this.populated.words, gpa, length);
  }

  /** Whether page `pfn` is {@link populated}: when not, it is zero without reading it. */
  mayHoldData(pfn: number): boolean {
    return ((this.populated.words[word32Of(pfn)]! >>> (pfn & 31)) & 1) === 1;
  }

  /** Whether page `pfn` holds only zero bytes (early exit on the first non-zero word). */
  isZeroPage(pfn: number): boolean {
    this.#checkPfn(pfn);
    if (!this.mayHoldData(pfn)) return true;
    const seg = pfn >>> this.#pagesPerSegmentShift;
    const pageInSeg = pfn - seg * (this.segmentSize / PAGE_SIZE);
    return isZeroWords(this.#ints[seg]!, pageInSeg * (PAGE_SIZE / 4), PAGE_SIZE / 4);
  }

  /**
   * Moves the CPU dirty log into `into` and clears it (`log_read_and_clear`), safe against
   * writers in other threads. Returns the number of pages moved.
   */
  logReadAndClear(into: DirtyBitmap): number {
    return this.dirtyLog.readAndClear(into);
  }

  /** Starts the dirty log the way migration setup does: every page dirty. */
  logStart(): void {
    this.dirtyLog.setAll();
  }

  /**
   * Touches pages `[first, first + count)` so the OS backs them now: first touch costs
   * several times a copy, so a migration target prefaults during setup, off the critical
   * path. Writes a zero byte, so contents and the dirty log are unchanged.
   */
  prefault(first = 0, count = this.pages - first): void {
    checkInteger("prefault start page", first, 0, this.pages);
    checkInteger("prefault page count", count, 0, this.pages - first);
    for (let pfn = first; pfn < first + count; pfn++) {
      const seg = pfn >>> this.#pagesPerSegmentShift;
      const offset = (pfn - seg * (this.segmentSize / PAGE_SIZE)) * PAGE_SIZE;
      const bytes = this.#bytes[seg]!;
      // Atomics.add of 0 is a real write the OS must back, yet cannot clobber a concurrent vCPU store.
      Atomics.add(bytes, offset, 0);
    }
  }
}

/** Sets, atomically word by word, the bit of every page of `[gpa, gpa + length)` in `words`. */
function orPages(words: Int32Array, gpa: number, length: number): void {
  const first = Math.floor(gpa / PAGE_SIZE);
  const end = Math.floor((gpa + length - 1) / PAGE_SIZE) + 1;
  for (let n = first; n < end; ) {
    const bit = n & 31;
    const take = Math.min(32 - bit, end - n);
    Atomics.or(words, word32Of(n), rangeMask(bit, bit + take));
    n += take;
  }
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}
