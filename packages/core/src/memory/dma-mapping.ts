import { z } from "zod";
import { IOVA_LIMIT } from "../contract/dma-log-range.js";
import { MdevError } from "../errors/mdev-error.js";
import { PAGE_SIZE } from "./page.js";

/** One IOMMU mapping (`struct vfio_dma`): IOVAs `[iova, iova + length)` → guest `[gpa, ...)`. */
export interface DmaMapping {
  /** First IOVA, page aligned. */
  readonly iova: number;
  /** Guest physical address the IOVA maps to, page aligned. */
  readonly gpa: number;
  /** Bytes mapped, a non-zero multiple of 4 KiB. */
  readonly length: number;
  /** Device may read (VFIO_DMA_MAP_FLAG_READ). */
  readonly read: boolean;
  /** Device may write (VFIO_DMA_MAP_FLAG_WRITE). */
  readonly write: boolean;
}

/** Arguments of `Iommu.map` (`VFIO_IOMMU_MAP_DMA`); `read` and `write` default to true. */
export type DmaMapRequest = z.input<typeof dmaMapRequestSchema>;

const address = z
  .number()
  .int()
  .nonnegative()
  .max(IOVA_LIMIT)
  .multipleOf(PAGE_SIZE, "must be 4 KiB aligned");

/**
 * zod schema of a map request: page-aligned whole numbers, a non-empty length, and at
 * least one permission (the kernel refuses a map with neither READ nor WRITE).
 */
export const dmaMapRequestSchema = z
  .object({
    iova: address,
    gpa: address,
    length: address.positive(),
    read: z.boolean().default(true),
    write: z.boolean().default(true),
  })
  .refine((m) => m.read || m.write, "needs read or write permission");

/** Validates a map request with {@link dmaMapRequestSchema}; EINVAL names every problem. */
export function parseDmaMapRequest(input: unknown): DmaMapping {
  const parsed = dmaMapRequestSchema.safeParse(input);
  if (!parsed.success) {
    throw new MdevError(
      "EINVAL",
      `DMA map request refused: ${parsed.error.issues.map((i) => `${i.path.join(".") || "request"}: ${i.message}`).join("; ")}`,
    );
  }
  const m = parsed.data;
  if (m.iova + m.length > IOVA_LIMIT) {
    throw new MdevError(
      "EOVERFLOW",
      `DMA map {iova: 0x${m.iova.toString(16)}, length: 0x${m.length.toString(16)}} overflows the IOVA space`,
    );
  }
  return Object.freeze({
    iova: m.iova,
    gpa: m.gpa,
    length: m.length,
    read: m.read,
    write: m.write,
  });
}

/**
 * Index of the mapping containing `iova` in `sorted` (ascending, non-overlapping), or -1.
 * Binary search: a VM has few mappings, but DMA translates on every access.
 */
export function findMappingIndex(sorted: readonly DmaMapping[], iova: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const m = sorted[mid]!;
    if (iova < m.iova) hi = mid - 1;
    else if (iova >= m.iova + m.length) lo = mid + 1;
    else return mid;
  }
  return -1;
}

/** Index of the first mapping ending after `iova` (where one covering `iova` would be). */
export function lowerBound(sorted: readonly DmaMapping[], iova: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]!.iova + sorted[mid]!.length <= iova) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
