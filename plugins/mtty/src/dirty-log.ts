/**
 * Device DMA logging (uAPI "DMA_LOGGING_*"): remembers which pages the device wrote,
 * inside the ranges the VMM asked to log, until a report reads and clears them.
 *
 * Kept inside the plugin for now because core's shared `DmaLogger` is not exported
 * yet; when it is, the driver should delegate to it and this file should go.
 *
 * The device tracks at one granularity (the page size chosen at start); a report may
 * ask for any power-of-two page size of at least 4 KiB. A coarser report merges
 * tracked pages (a report page is dirty if any tracked page in it is), a finer one
 * replicates each tracked page's bit over every report page it covers. Either way a
 * report can only over-report, never miss a write.
 */
import type { DmaLogRange } from "@mdevkit/core";

/** Smallest page size a report or the tracker uses: the x86 base page. */
export const MIN_LOG_PAGE = 4096;

/** Dirty log over a set of IOVA ranges, at a fixed tracking page size. */
export class DirtyPageLog {
  #ranges: readonly DmaLogRange[] = [];
  #pageSize = MIN_LOG_PAGE;
  /** Indices (iova / pageSize) of tracked pages written since they were last reported. */
  readonly #dirty = new Set<number>();
  #active = false;

  /** True between {@link start} and {@link stop}. */
  get active(): boolean {
    return this.#active;
  }

  /**
   * Starts logging writes that fall inside `ranges` (already validated by the contract).
   * Returns the chosen page size: the hint, but never below 4 KiB.
   */
  start(ranges: readonly DmaLogRange[], pageSizeHint: number): number {
    this.#ranges = ranges.map((r) => ({ iova: r.iova, length: r.length }));
    this.#pageSize = Math.max(MIN_LOG_PAGE, pageSizeHint);
    this.#dirty.clear();
    this.#active = true;
    return this.#pageSize;
  }

  /** Stops logging and forgets everything. */
  stop(): void {
    this.#active = false;
    this.#ranges = [];
    this.#dirty.clear();
  }

  /** Records a device write of `length` bytes at `iova`; parts outside the logged ranges are ignored. */
  record(iova: number, length: number): void {
    if (!this.#active || length <= 0) return;
    const end = iova + length;
    for (const range of this.#ranges) {
      const from = Math.max(iova, range.iova);
      const to = Math.min(end, range.iova + range.length);
      if (from >= to) continue;
      const last = Math.floor((to - 1) / this.#pageSize);
      for (let page = Math.floor(from / this.#pageSize); page <= last; page++)
        this.#dirty.add(page);
    }
  }

  /**
   * DMA_LOGGING_REPORT: sets (never clears) bit n of `bitmap` for every report page
   * `[iova + n·pageSize, +pageSize)` that overlaps a dirty tracked page, and clears the
   * tracked pages that lie wholly inside `[iova, iova + length)`. A tracked page only
   * partly inside stays dirty, since clearing it would lose writes outside the range.
   */
  readAndClear(iova: number, length: number, pageSize: number, bitmap: BigUint64Array): void {
    const end = iova + length;
    const tracked = this.#pageSize;
    for (const page of [...this.#dirty]) {
      const start = page * tracked;
      const from = Math.max(start, iova);
      const to = Math.min(start + tracked, end);
      if (from >= to) continue;
      const first = Math.floor((from - iova) / pageSize);
      const last = Math.floor((to - 1 - iova) / pageSize);
      for (let n = first; n <= last; n++) {
        const word = Math.floor(n / 64);
        bitmap[word] = bitmap[word]! | (1n << BigInt(n % 64));
      }
      if (start >= iova && start + tracked <= end) this.#dirty.delete(page);
    }
  }
}
