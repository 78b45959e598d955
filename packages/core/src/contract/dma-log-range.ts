import { MdevError } from "../errors/mdev-error.js";

/** One IOVA range to log (`struct vfio_device_feature_dma_logging_range`). */
export interface DmaLogRange {
  /** Start IOVA, aligned to the page size. */
  readonly iova: number;
  /** Length in bytes, non-zero and aligned to the page size. */
  readonly length: number;
}

/**
 * Most ranges one START may carry: the kernel's LOG_MAX_RANGES, ranges that fit in one
 * 4 KiB page of 16-byte entries.
 */
export const DMA_LOG_MAX_RANGES = 4096 / 16;

/** Highest address + 1 a range may reach; JavaScript numbers are exact only below 2^53. */
export const IOVA_LIMIT = Number.MAX_SAFE_INTEGER;

function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

/**
 * Validates a DMA_LOGGING_START request the way `vfio_ioctl_device_feature_logging_start`
 * does before it reaches the driver: at least one range (EINVAL), at most
 * {@link DMA_LOG_MAX_RANGES} (E2BIG), each aligned to `pageSize` (EINVAL), not wrapping
 * the address space (EOVERFLOW) and not overlapping another (EINVAL). mdevkit also
 * refuses zero-length ranges and a page size that is not a power of two, which the
 * kernel lets through to undefined behaviour.
 */
export function validateDmaLogRanges(ranges: readonly DmaLogRange[], pageSize: number): void {
  if (!isPowerOfTwo(pageSize)) {
    throw new MdevError("EINVAL", `DMA logging page size ${pageSize} is not a power of two`);
  }
  if (ranges.length === 0)
    throw new MdevError("EINVAL", "DMA logging START needs at least one range");
  if (ranges.length > DMA_LOG_MAX_RANGES) {
    throw new MdevError(
      "E2BIG",
      `DMA logging START has ${ranges.length} ranges, at most ${DMA_LOG_MAX_RANGES} allowed`,
    );
  }
  const sorted: { start: number; end: number; index: number }[] = [];
  ranges.forEach((range, index) => {
    const { iova, length } = range;
    if (!Number.isSafeInteger(iova) || !Number.isSafeInteger(length) || iova < 0 || length <= 0) {
      throw new MdevError(
        "EINVAL",
        `DMA logging range ${index} {iova: ${iova}, length: ${length}} is not a non-empty range of whole addresses`,
      );
    }
    if (iova % pageSize !== 0 || length % pageSize !== 0) {
      throw new MdevError(
        "EINVAL",
        `DMA logging range ${index} {iova: 0x${iova.toString(16)}, length: 0x${length.toString(16)}} is not aligned to page size ${pageSize}`,
      );
    }
    if (iova + length > IOVA_LIMIT) {
      throw new MdevError(
        "EOVERFLOW",
        `DMA logging range ${index} {iova: 0x${iova.toString(16)}, length: 0x${length.toString(16)}} overflows the IOVA space`,
      );
    }
    sorted.push({ start: iova, end: iova + length, index });
  });
  sorted.sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur.start < prev.end) {
      throw new MdevError("EINVAL", `DMA logging ranges ${prev.index} and ${cur.index} overlap`);
    }
  }
}
