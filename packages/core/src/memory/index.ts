export { HALF_SWAP, popcount32 } from "./bit-words.js";
export {
  bitmapBytes,
  DirtyBitmap,
  type DirtyBitmapOptions,
  MAX_BITMAP_PAGES,
  type PageRun,
} from "./dirty-bitmap.js";
export { DirtyOracle } from "./dirty-oracle.js";
export { DEFAULT_MAX_TRACKED_PAGES, DmaLogger } from "./dma-logger.js";
export {
  type DmaMapping,
  type DmaMapRequest,
  dmaMapRequestSchema,
  parseDmaMapRequest,
} from "./dma-mapping.js";
export { DEFAULT_MAX_DMA_TRANSFER, DmaPort } from "./dma-port.js";
export type { DmaWriteObserver } from "./dma-write-observer.js";
export { GuestMemory, type GuestMemoryOptions } from "./guest-memory.js";
export {
  GUEST_SEGMENT_SIZE,
  type GuestMemoryLayout,
  MAX_GUEST_MEMORY,
  MAX_GUEST_SEGMENT_SIZE,
  parseGuestMemoryLayout,
} from "./guest-memory-layout.js";
export { prefaultInSlices, releaseInSlices, zeroInSlices } from "./guest-ram-work.js";
export {
  DEFAULT_MAX_DMA_MAPPINGS,
  Iommu,
  type IommuDevice,
  type IommuOptions,
  PIN_PAGES_MAX_ENTRIES,
} from "./iommu.js";
export { IommuPagePinner } from "./iommu-page-pinner.js";
export { describePageRoutines } from "./native-page-routines.js";
export { isPageAligned, isPowerOfTwo, PAGE_SHIFT, PAGE_SIZE } from "./page.js";
export { inPageSlices, PAGE_SLICE_MS, type PageSliceOptions } from "./page-slices.js";
export { VendorDirtyTracker } from "./vendor-dirty-tracker.js";
export { isZeroWords } from "./zero-page.js";
