import { nativePageRoutines } from "./native-page-routines.js";

/** Size of the unshared scratch buffer a misaligned copy bounces through: 16 pages. */
const BOUNCE_BYTES = 64 * 1024;

/** Copies shorter than this are not worth a bounce: the byte loop is over quickly. */
const BOUNCE_THRESHOLD = 256;

let bounce: Uint8Array | undefined;

const nativeCopy = nativePageRoutines?.copy;

/**
 * Copies `src` into `dest` (equal lengths) at memcpy speed when either is guest memory:
 * with the native addon's memmove where it is built, else as below.
 *
 * V8 copies into or out of SharedArrayBuffer memory with relaxed atomic stores: a word at
 * a time when both sides have the same address modulo 8, else a byte at a time, about five
 * times slower (1.4 µs against 0.26 µs per 4 KiB page on our 2-core EPYC machines). A
 * socket chunk puts page data at any offset, so a target would copy most of guest RAM
 * byte by byte. When the two sides differ modulo 8, the bytes instead go through an
 * unshared scratch buffer placed at the shared side's alignment: the copy on the unshared
 * side is an ordinary memmove and the one on the shared side is word-wise.
 */
export function copyBytes(dest: Uint8Array, src: Uint8Array): void {
  // Short copies never ask for the buffer (that would move a small on-heap array off-heap).
  if (
    nativeCopy !== undefined &&
    src.byteLength >= BOUNCE_THRESHOLD &&
    (isShared(dest) || isShared(src))
  )
    nativeCopy(dest, src); // a RangeError for unequal lengths, as below
  else copyBytesInJs(dest, src);
}

/** {@link copyBytes} without the addon: where it is missing (and for its tests). */
export function copyBytesInJs(dest: Uint8Array, src: Uint8Array): void {
  const length = src.byteLength;
  if (dest.byteLength !== length)
    throw new RangeError(`copy of ${length} bytes into ${dest.byteLength}`);
  // The offsets first: asking a small on-heap array for its buffer moves it off-heap.
  if (length < BOUNCE_THRESHOLD || (dest.byteOffset & 7) === (src.byteOffset & 7)) {
    dest.set(src);
    return;
  }
  const destShared = isShared(dest);
  if (destShared === isShared(src)) {
    dest.set(src);
    return;
  }
  const skew = (destShared ? dest.byteOffset : src.byteOffset) & 7;
  bounce ??= new Uint8Array(BOUNCE_BYTES + 8);
  const scratch = bounce;
  for (let done = 0; done < length; ) {
    const n = Math.min(BOUNCE_BYTES, length - done);
    const through = scratch.subarray(skew, skew + n);
    through.set(src.subarray(done, done + n));
    dest.set(through, done);
    done += n;
  }
}

function isShared(bytes: Uint8Array): boolean {
  return bytes.buffer instanceof SharedArrayBuffer;
}
