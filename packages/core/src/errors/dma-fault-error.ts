import { MdevError, type MdevErrorOptions } from "./mdev-error.js";

/** Why a device access through the IOMMU faulted. */
export type DmaFaultReason = "unmapped" | "read-only" | "write-only" | "out-of-bounds";

/**
 * A device DMA access the IOMMU refused (an IOMMU fault on real hardware). Always code
 * EFAULT, like `vfio_dma_rw` on an IOVA with no mapping or without the needed permission.
 * The access is refused as a whole: nothing of a faulting write lands in guest RAM.
 */
export class DmaFaultError extends MdevError {
  /** First IOVA of the refused access. */
  readonly iova: number;
  /** Length in bytes of the refused access. */
  readonly length: number;
  /** What the IOMMU found wrong. */
  readonly reason: DmaFaultReason;
  /** The first IOVA that faulted (inside `[iova, iova + length)`). */
  readonly faultIova: number;

  constructor(
    iova: number,
    length: number,
    reason: DmaFaultReason,
    faultIova: number,
    options?: MdevErrorOptions,
  ) {
    super(
      "EFAULT",
      `DMA ${reason} fault at IOVA 0x${faultIova.toString(16)} (access {iova: 0x${iova.toString(16)}, length: ${length}})`,
      options,
    );
    this.iova = iova;
    this.length = length;
    this.reason = reason;
    this.faultIova = faultIova;
  }
}
