import { MdevError } from "../errors/mdev-error.js";
import { DirtyBitmap } from "./dirty-bitmap.js";
import type { DmaWriteObserver } from "./dma-write-observer.js";
import { PAGE_SIZE } from "./page.js";

/**
 * The truth for tests: attached to a `DmaPort`, it records every guest page a device
 * wrote, whatever the device's dirty-tracking method. A method is complete when what it
 * reported (translated to guest pages) covers {@link truth}; {@link missing} lists the
 * pages it lost.
 */
export class DirtyOracle implements DmaWriteObserver {
  /** Guest pages written by devices since creation or the last {@link reset}. */
  readonly truth: DirtyBitmap;

  constructor(guestPages: number) {
    this.truth = new DirtyBitmap(guestPages);
  }

  onDmaWrite(_iova: number, gpa: number, length: number): void {
    if (length <= 0) return;
    const first = Math.floor(gpa / PAGE_SIZE);
    this.truth.setRange(first, Math.floor((gpa + length - 1) / PAGE_SIZE) - first + 1);
  }

  /** Pages written but absent from `reported` (empty when the method is complete). */
  missing(reported: DirtyBitmap): number[] {
    const lost = this.truth.clone();
    const a = lost.words;
    const b = reported.words;
    if (reported.pages !== lost.pages)
      throw new MdevError(
        "EINVAL",
        `reported bitmap has ${reported.pages} pages, guest has ${lost.pages}`,
      );
    for (let i = 0; i < a.length; i++) a[i] = a[i]! & ~b[i]!;
    return lost.toPageList();
  }

  /** Throws EIO naming up to 8 lost pages when `reported` does not cover the truth. */
  assertCovered(reported: DirtyBitmap, method: string): void {
    const lost = this.missing(reported);
    if (lost.length > 0) {
      throw new MdevError(
        "EIO",
        `${method} lost ${lost.length} dirty page(s), first: ${lost.slice(0, 8).join(", ")}`,
      );
    }
  }

  /** Forgets all recorded writes (start of a new sync interval). */
  reset(): void {
    this.truth.clear();
  }
}
