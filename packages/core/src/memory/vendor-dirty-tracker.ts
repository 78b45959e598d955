import { MdevError } from "../errors/mdev-error.js";
import { DirtyBitmap } from "./dirty-bitmap.js";
import type { DmaWriteObserver } from "./dma-write-observer.js";
import { PAGE_SIZE } from "./page.js";

/**
 * Dirty tracking for drivers that report their own dirty frames ("vendor-reported
 * bitmap", e.g. GVT-g from its shadow page tables): the driver marks guest page numbers
 * it knows it wrote, and — attached to the device's `DmaPort` — every write the driver
 * makes into guest memory itself (`vfio_dma_rw`) is marked too. The engine takes the
 * result with {@link readAndClear}. Marks are kept only while started.
 */
export class VendorDirtyTracker implements DmaWriteObserver {
  readonly #bitmap: DirtyBitmap;
  #started = false;

  constructor(guestPages: number) {
    this.#bitmap = new DirtyBitmap(guestPages);
  }

  /** Whether tracking is on. */
  get started(): boolean {
    return this.#started;
  }

  /** Starts tracking with a clean bitmap. */
  start(): void {
    this.#bitmap.clear();
    this.#started = true;
  }

  /** Stops tracking and forgets pending marks. */
  stop(): void {
    this.#started = false;
    this.#bitmap.clear();
  }

  /** Marks guest frames `[gfn, gfn + count)` dirty; EINVAL outside guest RAM. */
  markFrames(gfn: number, count = 1): void {
    if (!this.#started) return;
    this.#bitmap.setRange(gfn, count);
  }

  /** Marks the guest pages of `[gpa, gpa + length)` dirty. */
  markGpa(gpa: number, length: number): void {
    if (!this.#started || length === 0) return;
    if (!Number.isSafeInteger(gpa) || !Number.isSafeInteger(length) || gpa < 0 || length < 0) {
      throw new MdevError(
        "EINVAL",
        `guest range {gpa: ${gpa}, length: ${length}} is not a range of whole addresses`,
      );
    }
    const first = Math.floor(gpa / PAGE_SIZE);
    this.#bitmap.setRange(first, Math.floor((gpa + length - 1) / PAGE_SIZE) - first + 1);
  }

  onDmaWrite(_iova: number, gpa: number, length: number): void {
    this.markGpa(gpa, length);
  }

  /** ORs the dirty frames into `into` (guest pages) and clears them; returns how many. */
  readAndClear(into: DirtyBitmap): number {
    if (!this.#started) throw new MdevError("EINVAL", "vendor dirty tracking is not started");
    return this.#bitmap.readAndClear(into);
  }
}
