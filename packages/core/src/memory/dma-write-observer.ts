/**
 * Something that must hear about every device write into guest memory: a device's DMA
 * logger, a vendor dirty tracker, or the test oracle. Called once per contiguous chunk
 * (within one mapping) after the bytes have landed.
 */
export interface DmaWriteObserver {
  /** `length` bytes were written at IOVA `iova`, which maps to guest address `gpa`. */
  onDmaWrite(iova: number, gpa: number, length: number): void;
}
