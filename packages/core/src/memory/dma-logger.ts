import { type DmaLogRange, IOVA_LIMIT, validateDmaLogRanges } from "../contract/dma-log-range.js";
import { MdevError } from "../errors/mdev-error.js";
import { setBitRange, u32ViewOf } from "./bit-words.js";
import { DirtyBitmap } from "./dirty-bitmap.js";
import type { DmaWriteObserver } from "./dma-write-observer.js";
import { checkInteger, isPowerOfTwo, PAGE_SIZE } from "./page.js";

/** Default most granules a logger tracks over all ranges: 2^27 (a 16 MiB bitmap, 512 GiB at 4 KiB). */
export const DEFAULT_MAX_TRACKED_PAGES = 2 ** 27;

/** One logged range with its own bitmap of absolute granules `first ..`. */
interface LoggedRange {
  readonly start: number;
  readonly end: number;
  /** Absolute granule number (`address / pageSize`) of the bitmap's bit 0. */
  readonly first: number;
  readonly bitmap: DirtyBitmap;
}

/**
 * Device DMA logging (VFIO_DEVICE_FEATURE_DMA_LOGGING_START / REPORT / STOP) as a
 * device-side tracker such as mlx5's keeps it. Attach it to the device's `DmaPort`
 * (`port.attach(logger)`) and a dma-logging plugin's hooks become one-liners:
 * `_logStart = (r, h) => this.logger.start(r, h)`,
 * `_logReadAndClear = (i, l, p, b) => this.logger.readAndClear(i, l, p, b)`,
 * `_logStop = () => this.logger.stop()`.
 *
 * Only writes inside the logged ranges are tracked. Dirty state is kept per granule of
 * the chosen page size; a report at another page size replicates bits (finer) or merges
 * them (coarser), and never clears what it did not fully report.
 */
export class DmaLogger implements DmaWriteObserver {
  readonly #maxTrackedPages: number;
  #ranges: LoggedRange[] | undefined;
  #pageSize = 0;

  constructor(options: { maxTrackedPages?: number } = {}) {
    const max = options.maxTrackedPages ?? DEFAULT_MAX_TRACKED_PAGES;
    checkInteger("DMA logger tracked-page limit", max, 1, 2 ** 31);
    this.#maxTrackedPages = max;
  }

  /** Whether logging is started. */
  get started(): boolean {
    return this.#ranges !== undefined;
  }

  /** The page size chosen at START (0 when stopped). */
  get pageSize(): number {
    return this.#pageSize;
  }

  /**
   * DMA_LOGGING_START: validates `ranges` against `pageSizeHint` (see
   * `validateDmaLogRanges`: EINVAL for none, misaligned or overlapping, E2BIG for too
   * many, EOVERFLOW for wrapping), refuses a second START (EINVAL, as mlx5 does) and
   * returns the page size chosen: the hint when it is a power of two ≥ 4 KiB, 4 KiB when
   * smaller — doubled until the ranges fit the tracker's capacity, as a device with a
   * bounded tracker coarsens its granularity. Logging starts clean.
   */
  start(ranges: readonly DmaLogRange[], pageSizeHint: number): number {
    validateDmaLogRanges(ranges, pageSizeHint);
    if (this.#ranges !== undefined)
      throw new MdevError("EINVAL", "DMA logging already started; STOP first");
    if (ranges.length > this.#maxTrackedPages) {
      throw new MdevError(
        "E2BIG",
        `DMA logging START has ${ranges.length} ranges, this tracker holds ${this.#maxTrackedPages} pages`,
      );
    }
    let pageSize = Math.max(PAGE_SIZE, pageSizeHint);
    while (granules(ranges, pageSize) > this.#maxTrackedPages) pageSize *= 2;
    this.#ranges = [...ranges]
      .sort((a, b) => a.iova - b.iova)
      .map((r) => {
        const first = Math.floor(r.iova / pageSize);
        const last = Math.floor((r.iova + r.length - 1) / pageSize);
        return {
          start: r.iova,
          end: r.iova + r.length,
          first,
          bitmap: new DirtyBitmap(last - first + 1),
        };
      });
    this.#pageSize = pageSize;
    return pageSize;
  }

  /** DMA_LOGGING_STOP: drops all dirty state; tolerated when logging is off. */
  stop(): void {
    this.#ranges = undefined;
    this.#pageSize = 0;
  }

  onDmaWrite(iova: number, _gpa: number, length: number): void {
    const ranges = this.#ranges;
    if (ranges === undefined || length <= 0) return;
    const end = iova + length;
    for (const r of ranges) {
      if (r.start >= end) break;
      if (r.end <= iova) continue;
      const a = Math.max(iova, r.start);
      const b = Math.min(end, r.end);
      const g0 = Math.floor(a / this.#pageSize) - r.first;
      const g1 = Math.floor((b - 1) / this.#pageSize) - r.first;
      r.bitmap.setRange(g0, g1 - g0 + 1);
    }
  }

  /**
   * DMA_LOGGING_REPORT, read-and-clear: ORs into `bitmap` (bit n covers
   * `[iova + n * pageSize, +pageSize)`, word n/64, bit n%64) every page of
   * `[iova, iova + length)` written since the last report, and forgets what it reported.
   * A granule only partly inside the report stays dirty (reported again by the next
   * report that covers the rest), so coarse granules never lose a write. EINVAL when
   * logging is off, `pageSize` is not a power of two ≥ 4096 or the bitmap is too small;
   * EOVERFLOW when the range wraps the IOVA space.
   */
  readAndClear(iova: number, length: number, pageSize: number, bitmap: BigUint64Array): void {
    const ranges = this.#ranges;
    if (ranges === undefined) throw new MdevError("EINVAL", "DMA logging is not started");
    if (!isPowerOfTwo(pageSize) || pageSize < PAGE_SIZE) {
      throw new MdevError(
        "EINVAL",
        `report page size ${pageSize} must be a power of two of at least ${PAGE_SIZE}`,
      );
    }
    if (
      !Number.isSafeInteger(iova) ||
      !Number.isSafeInteger(length) ||
      iova < 0 ||
      length < 0 ||
      iova + length > IOVA_LIMIT
    ) {
      throw new MdevError(
        "EOVERFLOW",
        `report range {iova: ${iova}, length: ${length}} overflows the IOVA space`,
      );
    }
    const bits = Math.ceil(length / pageSize);
    if (bitmap.length * 64 < bits)
      throw new MdevError("EINVAL", `bitmap of ${bitmap.length} words cannot hold ${bits} pages`);
    const words = u32ViewOf(bitmap);
    const end = iova + length;
    const g = this.#pageSize;
    for (const r of ranges) {
      if (r.start >= end) break;
      if (r.end <= iova) continue;
      const lo = Math.max(iova, r.start);
      const hi = Math.min(end, r.end);
      const from = Math.floor(lo / g) - r.first;
      const to = Math.floor((hi - 1) / g) - r.first + 1;
      r.bitmap.forEachRun(
        (start, count) => {
          const a = Math.max(lo, (r.first + start) * g);
          const b = Math.min(hi, (r.first + start + count) * g);
          const n0 = Math.floor((a - iova) / pageSize);
          const n1 = Math.floor((b - 1 - iova) / pageSize);
          setBitRange(words, n0, n1 - n0 + 1);
        },
        from,
        to,
      );
      // Clear only granules whose tracked part lies wholly inside the report.
      let clearFrom = from;
      let clearTo = to;
      if (Math.max((r.first + from) * g, r.start) < iova) clearFrom++;
      if (Math.min((r.first + to) * g, r.end) > end) clearTo--;
      if (clearTo > clearFrom) r.bitmap.clearRange(clearFrom, clearTo - clearFrom);
    }
  }
}

/** Granules needed to track `ranges` at `pageSize`. */
function granules(ranges: readonly DmaLogRange[], pageSize: number): number {
  let n = 0;
  for (const r of ranges)
    n += Math.floor((r.iova + r.length - 1) / pageSize) - Math.floor(r.iova / pageSize) + 1;
  return n;
}
