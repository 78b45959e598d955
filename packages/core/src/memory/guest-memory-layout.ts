import { z } from "zod";
import { MdevError } from "../errors/mdev-error.js";
import { bitmapBytes } from "./dirty-bitmap.js";
import { isPowerOfTwo, PAGE_SIZE } from "./page.js";

/** Default size of one backing SharedArrayBuffer: 1 GiB, well below any typed-array limit. */
export const GUEST_SEGMENT_SIZE = 2 ** 30;
/**
 * Largest segment: Node 20's typed arrays hold at most 2^32 elements, so a 4 GiB segment
 * is still one `Uint8Array`; beyond that a single SharedArrayBuffer can be allocated but
 * not viewed whole, which is why guest RAM is split into segments at all.
 */
export const MAX_GUEST_SEGMENT_SIZE = 2 ** 32;
/** Largest guest mdevkit simulates (1 TiB); the host's RAM is the practical limit. */
export const MAX_GUEST_MEMORY = 2 ** 40;

/**
 * Everything a worker thread needs to rebuild a {@link GuestMemory} over the same memory:
 * post it with `postMessage` (SharedArrayBuffers are shared, not copied). It is also a
 * stable contract for code that must not import mdevkit (e.g. an eval'd worker):
 * guest physical address `gpa` lives in `segments[gpa / segmentSize]` at offset
 * `gpa % segmentSize`, and page `gpa >> 12` is bit `n % 32` of the `Int32Array` word
 * `n >> 5` of `dirtyLog` (little-endian hosts), set with `Atomics.or` after the write.
 * Such code must also set the page's bit in `populated` (same layout) with `Atomics.or`
 * *before* the write: a page whose bit is clear there is known to be zero and is never
 * read when it migrates.
 */
export interface GuestMemoryLayout {
  /** Guest RAM size in bytes (a multiple of 4 KiB). */
  readonly size: number;
  /** Always 4096. */
  readonly pageSize: number;
  /** Bytes per segment (a power of two); the last segment may be shorter. */
  readonly segmentSize: number;
  /** Backing memory, in guest-physical order. */
  readonly segments: readonly SharedArrayBuffer[];
  /** The CPU dirty log, in {@link DirtyBitmap} layout. */
  readonly dirtyLog: SharedArrayBuffer;
  /** Pages that may hold data (ever written), in {@link DirtyBitmap} layout. */
  readonly populated: SharedArrayBuffer;
}

const layoutSchema = z.object({
  size: z.number().int().positive().max(MAX_GUEST_MEMORY).multipleOf(PAGE_SIZE),
  pageSize: z.literal(PAGE_SIZE),
  segmentSize: z
    .number()
    .int()
    .min(PAGE_SIZE)
    .max(MAX_GUEST_SEGMENT_SIZE)
    .refine(isPowerOfTwo, "must be a power of two"),
  segments: z.array(z.instanceof(SharedArrayBuffer)).min(1),
  dirtyLog: z.instanceof(SharedArrayBuffer),
  populated: z.instanceof(SharedArrayBuffer),
});

/**
 * Validates a layout received from another thread: shape (zod) and consistency — segment
 * count and sizes match `size`, the dirty log has one bit per page — so a truncated or
 * mixed-up message fails with EINVAL instead of faulting later.
 */
export function parseGuestMemoryLayout(input: unknown): GuestMemoryLayout {
  const parsed = layoutSchema.safeParse(input);
  if (!parsed.success) {
    throw new MdevError(
      "EINVAL",
      `guest memory layout is invalid: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  }
  const layout = parsed.data;
  const expected = Math.ceil(layout.size / layout.segmentSize);
  if (layout.segments.length !== expected) {
    throw new MdevError(
      "EINVAL",
      `guest memory layout has ${layout.segments.length} segments, ${expected} expected`,
    );
  }
  layout.segments.forEach((segment, i) => {
    const want = Math.min(layout.segmentSize, layout.size - i * layout.segmentSize);
    if (segment.byteLength !== want) {
      throw new MdevError(
        "EINVAL",
        `guest memory segment ${i} has ${segment.byteLength} bytes, ${want} expected`,
      );
    }
  });
  const logBytes = bitmapBytes(layout.size / PAGE_SIZE);
  if (layout.dirtyLog.byteLength !== logBytes) {
    throw new MdevError(
      "EINVAL",
      `guest dirty log has ${layout.dirtyLog.byteLength} bytes, ${logBytes} expected`,
    );
  }
  if (layout.populated.byteLength !== logBytes) {
    throw new MdevError(
      "EINVAL",
      `guest populated map has ${layout.populated.byteLength} bytes, ${logBytes} expected`,
    );
  }
  return layout;
}
