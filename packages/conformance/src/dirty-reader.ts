import { DirtyBitmap, PAGE_SIZE } from "@mdevkit/core";
import type { DeviceHarness } from "./harness.js";

/**
 * Reads a device's dirty pages by the method the host chose for it, the way the engine's
 * `DirtySync` does for one device, translated to guest pages: DMA logging over all of
 * guest RAM (IOVA = GPA), the IOMMU's pinned-page report, or the vendor bitmap.
 */
export interface DirtyReader {
  /** Starts tracking (DMA_LOGGING_START, IOMMU dirty START, vendor reporting START). */
  start(): Promise<void>;
  /** Read-and-clear into `into` (bits are only added). */
  sync(into: DirtyBitmap): Promise<void>;
  /** Stops tracking. */
  stop(): Promise<void>;
}

/** The {@link DirtyReader} for the method the host chose for `h`'s device. */
export function dirtyReaderFor(h: DeviceHarness): DirtyReader {
  const size = h.memory.size;
  switch (h.ctx.dirtyTracking) {
    case "dma-logging": {
      let pageSize = PAGE_SIZE;
      return {
        async start() {
          pageSize = await h.driver.logStart([{ iova: 0, length: size }], PAGE_SIZE);
        },
        async sync(into) {
          const bitmap = new BigUint64Array(Math.ceil(Math.ceil(size / pageSize) / 64));
          await h.driver.logReadAndClear(0, size, pageSize, bitmap);
          h.iommu.iovaBitmapToGuest(0, size, pageSize, bitmap, into);
        },
        stop: () => h.driver.logStop(),
      };
    }
    case "iommu-pinned":
      return {
        async start() {
          h.iommu.dirtyStart();
        },
        async sync(into) {
          h.iommu.getDirtyGuestPages(into);
        },
        async stop() {
          h.iommu.dirtyStop();
        },
      };
    case "vendor-bitmap":
      return {
        start: () => h.driver.vendorDirtyStart(),
        async sync(into) {
          const scratch = new DirtyBitmap(h.memory.pages);
          await h.driver.reportDirtyPages(scratch.asBigUint64Array());
          into.union(scratch);
        },
        stop: () => h.driver.vendorDirtyStop(),
      };
  }
}
