import { MdevError } from "../errors/mdev-error.js";

/** Size of a guest page and of the IOMMU's smallest page: 4 KiB, as on x86. */
export const PAGE_SIZE = 4096;
/** log2 of {@link PAGE_SIZE}. */
export const PAGE_SHIFT = 12;

/** True when `n` is a safe positive integer power of two. */
export function isPowerOfTwo(n: number): boolean {
  // Exact for every power of two up to 2^53; bit tricks would stop at 2^31.
  return Number.isSafeInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

/** True when `n` is a non-negative safe integer multiple of {@link PAGE_SIZE}. */
export function isPageAligned(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0 && n % PAGE_SIZE === 0;
}

/**
 * Throws EINVAL unless `value` is a safe integer in `[min, max]`. Every number that
 * arrives from a caller goes through here, because a NaN or a fraction slipping into a
 * page index silently corrupts a bitmap instead of failing.
 */
export function checkInteger(what: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new MdevError("EINVAL", `${what} ${value} is not an integer in [${min}, ${max}]`);
  }
}

/** Formats an address for error messages the way the kernel logs them. */
export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}
