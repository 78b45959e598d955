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

/** What is wrong with the shape of a posted layout, one entry per field (empty when sound). */
function shapeIssues(input: unknown): string[] {
  if (typeof input !== "object" || input === null) return ["(root): expected an object"];
  const l = input as Partial<Record<keyof GuestMemoryLayout, unknown>>;
  const issues: string[] = [];
  const integer = (v: unknown): v is number => Number.isSafeInteger(v);
  const { size, pageSize, segmentSize, segments } = l;
  if (!integer(size) || size <= 0 || size > MAX_GUEST_MEMORY || size % PAGE_SIZE !== 0)
    issues.push(`size: must be a multiple of ${PAGE_SIZE} in 1..${MAX_GUEST_MEMORY}`);
  if (pageSize !== PAGE_SIZE) issues.push(`pageSize: must be ${PAGE_SIZE}`);
  if (
    !integer(segmentSize) ||
    segmentSize < PAGE_SIZE ||
    segmentSize > MAX_GUEST_SEGMENT_SIZE ||
    !isPowerOfTwo(segmentSize)
  )
    issues.push(`segmentSize: must be a power of two in ${PAGE_SIZE}..${MAX_GUEST_SEGMENT_SIZE}`);
  if (
    !Array.isArray(segments) ||
    segments.length === 0 ||
    !segments.every((s) => s instanceof SharedArrayBuffer)
  )
    issues.push("segments: must be a non-empty array of SharedArrayBuffer");
  for (const key of ["dirtyLog", "populated"] as const)
    if (!(l[key] instanceof SharedArrayBuffer)) issues.push(`${key}: must be a SharedArrayBuffer`);
  return issues;
}

/**
 * Validates a layout received from another thread: shape and consistency — segment count
 * and sizes match `size`, the dirty log has one bit per page — so a truncated or mixed-up
 * message fails with EINVAL instead of faulting later. The shape is checked by hand, not
 * with zod: a layout comes from another thread of this process, not from outside, and
 * every vCPU worker rebuilds its guest from one, where loading zod would cost about
 * 120 ms of CPU while a migration is using both cores (a worker loads its modules afresh).
 */
export function parseGuestMemoryLayout(input: unknown): GuestMemoryLayout {
  const issues = shapeIssues(input);
  if (issues.length > 0)
    throw new MdevError("EINVAL", `guest memory layout is invalid: ${issues.join("; ")}`);
  const layout = input as GuestMemoryLayout;
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
