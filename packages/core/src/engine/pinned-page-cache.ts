import type { DirtyBitmap } from "../memory/dirty-bitmap.js";
import { MIN_ADVISED_SEGMENT } from "../memory/guest-memory.js";
import { nativePageRoutines } from "../memory/native-page-routines.js";
import { PAGE_SIZE } from "../memory/page.js";
import { isDataPage } from "../stream/ram-run.js";

const nativeMarkUnchanged = nativePageRoutines?.markUnchangedPages;

/** Most memory a cache holds: 16,384 pages, more than the seed VM's vGPU pins (~11,800). */
export const PINNED_PAGE_CACHE_MAX_BYTES = 64 * 2 ** 20;

/**
 * Copies of what the target last received of the guest pages the IOMMU reports, so the
 * source can tell which of them the target already holds.
 *
 * VFIO type1 cannot see what a device writes: its dirty report holds every page pinned now
 * or since the last report (`Iommu.getDirtyGuestPages`), so each pass — the paused one
 * included — would resend every pinned page, written or not (11,000–12,000 pages of the
 * seed VM's vGPU at every pass, 62–69 % of them unchanged). A page whose bytes equal its
 * copy is left out of a sparse RAM_PAGES record (format version 5) instead.
 *
 * Exact, never a hash: a page counts as unchanged only when every byte equals the copy,
 * and every send of a page that has a copy refreshes it ({@link recordSent}), whatever
 * reported the page dirty, so a copy is always what the target holds.
 */
export class PinnedPageCache {
  /**
   * Per guest page: 1 + the index of its copy; minus that when the copy is stale (the page
   * went out since without refreshing it); 0 for none (fresh memory needs no fill).
   */
  readonly #slotOf: Int32Array;
  /**
   * The copies, one page per slot, allocated at the first admission for the pages the
   * IOMMU reports then (and a quarter more): a buffer sized to the cap would make V8 collect
   * garbage for "external memory pressure" in the middle of the first pass (25–60 ms more
   * for the 8-device bench VM). On huge pages where the kernel takes the advice: a fresh
   * 4 KiB page costs 13–15 µs to fault in on our hosts.
   */
  #copies: Uint8Array | undefined;
  readonly #maxPages: number;
  #capacity = 0;
  #used = 0;

  /** A cache for a guest of `guestPages` pages holding at most `maxBytes` of copies. */
  constructor(guestPages: number, maxBytes = PINNED_PAGE_CACHE_MAX_BYTES) {
    this.#slotOf = new Int32Array(guestPages);
    this.#maxPages = Math.min(guestPages, Math.floor(maxBytes / PAGE_SIZE));
  }

  /** Whether any page of `start .. start + count - 1` has a copy to compare with. */
  covers(start: number, count: number): boolean {
    if (this.#used === 0) return false;
    const slotOf = this.#slotOf;
    for (let p = start; p < start + count; p++) if ((slotOf[p] as number) > 0) return true;
    return false;
  }

  /**
   * Sets bit i of `unchanged` (a bitmap over the run, cleared by the caller) for each page
   * `start + i` that has a copy equal to its bytes in `live`, the run's contiguous view.
   * Returns how many it set.
   */
  markUnchanged(start: number, count: number, live: Uint8Array, unchanged: Uint8Array): number {
    const copies = this.#copies;
    if (copies === undefined) return 0;
    // One call for the run: a call and two views per page cost about what comparing did.
    if (nativeMarkUnchanged !== undefined)
      return nativeMarkUnchanged(
        live,
        copies,
        this.#slotOf.subarray(start, start + count),
        unchanged,
      );
    return this.markUnchangedInJs(start, count, live, unchanged);
  }

  /** {@link markUnchanged} a page at a time: where the addon is missing (and for its tests). */
  markUnchangedInJs(start: number, count: number, live: Uint8Array, unchanged: Uint8Array): number {
    const slotOf = this.#slotOf;
    let n = 0;
    for (let i = 0; i < count; i++) {
      const slot = (slotOf[start + i] as number) - 1;
      if (slot < 0) continue; // none, or stale
      const page = live.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE);
      if (Buffer.compare(this.#copy(slot), page) !== 0) continue;
      unchanged[i >> 3] = (unchanged[i >> 3] as number) | (1 << (i & 7));
      n++;
    }
    return n;
  }

  /**
   * A RAM_PAGES record for `start .. start + count - 1` went out: bit i of `kinds` set
   * means data, whose bytes as sent are next in `sent`; clear means zero, or in a `sparse`
   * record a page left out. Refreshes the copies of the pages sent and gives a copy to
   * those set in `admit` (the IOMMU's last report) while there is room. Without `admit`
   * (the paused pass, after which no pass is expected) it copies nothing: the pages sent
   * only have their copies marked stale, so no later comparison can trust them.
   */
  recordSent(
    start: number,
    count: number,
    kinds: Uint8Array,
    sparse: boolean,
    sent: Uint8Array,
    admit: DirtyBitmap | undefined,
  ): void {
    const slotOf = this.#slotOf;
    let j = 0;
    for (let i = 0; i < count; i++) {
      const pfn = start + i;
      const data = isDataPage(kinds, i);
      if (!data && sparse) continue;
      if (data) j++;
      const held = slotOf[pfn] as number;
      if (admit === undefined) {
        if (held > 0) slotOf[pfn] = -held;
        continue;
      }
      let slot = Math.abs(held) - 1;
      if (slot < 0 && admit.test(pfn)) slot = this.#admit(pfn, admit);
      if (slot < 0) continue;
      const copy = this.#copy(slot);
      if (data) copy.set(sent.subarray((j - 1) * PAGE_SIZE, j * PAGE_SIZE));
      else copy.fill(0);
      slotOf[pfn] = slot + 1;
    }
  }

  /** Gives page `pfn` a copy; -1 when the cache is full. */
  #admit(pfn: number, admit: DirtyBitmap): number {
    if (this.#copies === undefined) {
      const wanted = Math.ceil(admit.count() * 1.25);
      this.#capacity = Math.max(1, Math.min(this.#maxPages, wanted));
      const copies = new Uint8Array(this.#capacity * PAGE_SIZE);
      // Below the threshold the buffer may sit in malloc's heap, where advice would outlive it.
      if (copies.byteLength >= MIN_ADVISED_SEGMENT) nativePageRoutines?.adviseHugePages?.(copies);
      this.#copies = copies;
    }
    if (this.#used === this.#capacity) return -1;
    const slot = this.#used++;
    this.#slotOf[pfn] = slot + 1;
    return slot;
  }

  #copy(slot: number): Uint8Array {
    return (this.#copies as Uint8Array).subarray(slot * PAGE_SIZE, (slot + 1) * PAGE_SIZE);
  }
}
