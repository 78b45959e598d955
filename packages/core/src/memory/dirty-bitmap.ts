import { MdevError } from "../errors/mdev-error.js";
import {
  clearBitRange,
  HALF_SWAP,
  lowestBit,
  popcount32,
  setBitRange,
  word32Of,
} from "./bit-words.js";
import { nativePageRoutines } from "./native-page-routines.js";
import { checkInteger } from "./page.js";

// The word loops below, in C where core's addon is built: a 2 GiB guest's bitmap is 16,384
// words, and the first dirty sync of a migration runs each loop for the first time, when
// JavaScript's is still interpreted (7-10 ms for that sync on our 2-core EPYC machines).
const nativeOr = nativePageRoutines?.orWords;
const nativeAnd = nativePageRoutines?.andWords;
const nativeCount = nativePageRoutines?.countWords;
const nativeMove = nativePageRoutines?.moveWords;

/** Most pages one bitmap may describe: 2^31 pages of 4 KiB = 8 TiB, beyond any simulated guest. */
export const MAX_BITMAP_PAGES = 2 ** 31;

/** A run of consecutive set bits: pages `[start, start + count)`. */
export interface PageRun {
  /** First page of the run. */
  readonly start: number;
  /** Number of pages in the run (≥ 1). */
  readonly count: number;
}

/** Options for {@link DirtyBitmap}'s constructor. */
export interface DirtyBitmapOptions {
  /** Back the bitmap by a SharedArrayBuffer so other threads can set bits (CPU dirty log). */
  readonly shared?: boolean;
  /** Use this existing memory (e.g. a SharedArrayBuffer received from another thread). */
  readonly buffer?: ArrayBufferLike;
}

/** Bytes of a bitmap for `pages` pages: whole u64 words, as the uAPI sizes them. */
export function bitmapBytes(pages: number): number {
  return Math.ceil(pages / 64) * 8;
}

/**
 * A dirty-page bitmap laid out as the kernel's: page n is bit n%64 of u64 word n/64, so
 * {@link asBigUint64Array} hands the very same memory to `VendorDriver.logReadAndClear`.
 *
 * Internally it works on 32-bit halves (an `Int32Array`, because `Atomics` needs a signed
 * or BigInt array and BigInt is far slower): empty words are skipped with one compare, and
 * bits beyond `pages` are kept zero so counts and runs never see phantom pages.
 */
export class DirtyBitmap {
  /** Number of pages described. */
  readonly pages: number;
  /** The bitmap as 32-bit halves of u64 words (see bit-words.ts for the big-endian case). */
  readonly words: Int32Array;

  constructor(pages: number, options: DirtyBitmapOptions = {}) {
    checkInteger("bitmap page count", pages, 0, MAX_BITMAP_PAGES);
    this.pages = pages;
    const bytes = bitmapBytes(pages);
    if (options.buffer !== undefined) {
      if (options.buffer.byteLength !== bytes) {
        throw new MdevError(
          "EINVAL",
          `bitmap buffer of ${options.buffer.byteLength} bytes does not fit ${pages} pages (${bytes} bytes)`,
        );
      }
      this.words = new Int32Array(options.buffer);
    } else {
      this.words = new Int32Array(
        options.shared === true ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes),
      );
    }
  }

  /** Rebuilds a bitmap from its uAPI bytes (little-endian u64 words), refusing bits past `pages`. */
  static fromBytes(bytes: Uint8Array, pages: number): DirtyBitmap {
    const bitmap = new DirtyBitmap(pages);
    if (bytes.byteLength !== bitmapBytes(pages)) {
      throw new MdevError(
        "EINVAL",
        `dirty bitmap of ${bytes.byteLength} bytes, expected ${bitmapBytes(pages)} for ${pages} pages`,
      );
    }
    const dst = new Uint8Array(bitmap.words.buffer);
    dst.set(bytes);
    if (HALF_SWAP === 1) swapWordBytes(dst);
    if (bitmap.#tailBits() !== 0) {
      throw new MdevError("EINVAL", `dirty bitmap sets bits beyond its ${pages} pages`);
    }
    return bitmap;
  }

  /** The memory behind the bitmap (a SharedArrayBuffer for shared bitmaps). */
  get buffer(): ArrayBufferLike {
    return this.words.buffer;
  }

  /** A `BigUint64Array` over the same memory: the uAPI's view, for `logReadAndClear`. */
  asBigUint64Array(): BigUint64Array {
    return new BigUint64Array(this.words.buffer, this.words.byteOffset, this.words.length / 2);
  }

  /** The uAPI bytes (little-endian u64 words), a copy. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.words.buffer.byteLength);
    out.set(new Uint8Array(this.words.buffer, this.words.byteOffset, this.words.byteLength));
    if (HALF_SWAP === 1) swapWordBytes(out);
    return out;
  }

  #checkPage(page: number): void {
    if (!(Number.isInteger(page) && page >= 0 && page < this.pages)) {
      throw new MdevError("EINVAL", `page ${page} is outside the bitmap's ${this.pages} pages`);
    }
  }

  #checkRange(start: number, count: number): void {
    if (
      !(
        Number.isSafeInteger(start) &&
        Number.isSafeInteger(count) &&
        start >= 0 &&
        count >= 0 &&
        start + count <= this.pages
      )
    ) {
      throw new MdevError(
        "EINVAL",
        `pages [${start}, +${count}) are outside the bitmap's ${this.pages} pages`,
      );
    }
  }

  /** Marks `page` dirty (single-threaded use). */
  set(page: number): void {
    this.#checkPage(page);
    const w = word32Of(page);
    this.words[w] = this.words[w]! | (1 << (page & 31));
  }

  /** Marks `page` dirty with `Atomics.or`, so a concurrent read-and-clear never loses it. */
  atomicSet(page: number): void {
    this.#checkPage(page);
    Atomics.or(this.words, word32Of(page), 1 << (page & 31));
  }

  /** Whether `page` is dirty. */
  test(page: number): boolean {
    this.#checkPage(page);
    return (this.words[word32Of(page)]! & (1 << (page & 31))) !== 0;
  }

  /** Marks pages `[start, start + count)` dirty. */
  setRange(start: number, count: number): void {
    this.#checkRange(start, count);
    setBitRange(this.words, start, count);
  }

  /** Clears pages `[start, start + count)`. */
  clearRange(start: number, count: number): void {
    this.#checkRange(start, count);
    clearBitRange(this.words, start, count);
  }

  /** Marks every page dirty (what a dirty log starts with, and the answer to any tracking error). */
  setAll(): void {
    this.setRange(0, this.pages);
  }

  /** Clears every page. */
  clear(): void {
    this.words.fill(0);
  }

  /** ORs `other` (same page count) into this bitmap. */
  union(other: DirtyBitmap): this {
    this.#checkSame(other);
    if (nativeOr !== undefined) {
      nativeOr(this.words, other.words);
      return this;
    }
    const a = this.words;
    const b = other.words;
    for (let i = 0; i < a.length; i++) {
      const x = b[i]!;
      if (x !== 0) a[i] = a[i]! | x;
    }
    return this;
  }

  /** ANDs `other` (same page count) into this bitmap: keeps the pages set in both. */
  intersect(other: DirtyBitmap): this {
    this.#checkSame(other);
    if (nativeAnd !== undefined) {
      nativeAnd(this.words, other.words);
      return this;
    }
    const a = this.words;
    const b = other.words;
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== 0) a[i] = a[i]! & b[i]!;
    }
    return this;
  }

  #checkSame(other: DirtyBitmap): void {
    if (other.pages !== this.pages) {
      throw new MdevError(
        "EINVAL",
        `bitmaps of ${this.pages} and ${other.pages} pages cannot be combined`,
      );
    }
  }

  /** Number of dirty pages (popcount over the non-empty words). */
  count(): number {
    if (nativeCount !== undefined) return nativeCount(this.words);
    const a = this.words;
    let n = 0;
    for (let i = 0; i < a.length; i++) {
      const x = a[i]!;
      if (x !== 0) n += popcount32(x);
    }
    return n;
  }

  /** True when no page is dirty. */
  isEmpty(): boolean {
    const a = this.words;
    for (let i = 0; i < a.length; i++) if (a[i] !== 0) return false;
    return true;
  }

  /** True when every page dirty here is dirty in `other` too. */
  isSubsetOf(other: DirtyBitmap): boolean {
    this.#checkSame(other);
    const a = this.words;
    const b = other.words;
    for (let i = 0; i < a.length; i++) if ((a[i]! & ~b[i]!) !== 0) return false;
    return true;
  }

  /** True when both bitmaps mark exactly the same pages. */
  equals(other: DirtyBitmap): boolean {
    this.#checkSame(other);
    const a = this.words;
    const b = other.words;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  /** A private (non-shared) copy. */
  clone(): DirtyBitmap {
    const copy = new DirtyBitmap(this.pages);
    copy.words.set(this.words);
    return copy;
  }

  /**
   * Moves every dirty bit into `into` (ORed) and clears it here, word by word with
   * `Atomics.exchange`: a writer in another thread that sets a bit (with `Atomics.or`)
   * either lands before the exchange and is returned, or after it and stays for the next
   * sync. A plain "read, then store 0" would lose bits set in between. Empty words are
   * skipped with a plain read: a bit missed that way is still set for the next sync.
   * Returns the number of pages moved.
   */
  readAndClear(into: DirtyBitmap): number {
    this.#checkSame(into);
    if (nativeMove !== undefined) return nativeMove(this.words, into.words);
    const a = this.words;
    const b = into.words;
    let moved = 0;
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== 0) {
        const x = Atomics.exchange(a, i, 0);
        b[i] = b[i]! | x;
        moved += popcount32(x);
      }
    }
    return moved;
  }

  /**
   * Calls `fn(start, count)` for every run of consecutive dirty pages inside
   * `[from, to)`, in ascending order. Empty and full 32-bit words are handled whole,
   * so a sparse or a fully dirty 16M-page bitmap is scanned in a few milliseconds.
   */
  forEachRun(fn: (start: number, count: number) => void, from = 0, to = this.pages): void {
    this.#checkRange(from, to - from);
    if (from === to) return;
    const a = this.words;
    const firstWord = from >>> 5;
    const lastWord = (to - 1) >>> 5;
    let runStart = -1;
    for (let k = firstWord; k <= lastWord; k++) {
      let x = a[k ^ HALF_SWAP]!;
      if (k === firstWord) x &= -1 << (from & 31);
      if (k === lastWord && (to & 31) !== 0) x &= (1 << (to & 31)) - 1;
      const base = k * 32;
      if (x === 0) {
        if (runStart >= 0) {
          fn(runStart, base - runStart);
          runStart = -1;
        }
        continue;
      }
      if (x === -1) {
        if (runStart < 0) runStart = base;
        continue;
      }
      // Mixed word: alternate between "find next set bit" and "find next clear bit".
      let pos = 0;
      while (pos < 32) {
        const above = -1 << pos;
        if (runStart < 0) {
          const y = x & above;
          if (y === 0) break;
          pos = lowestBit(y);
          runStart = base + pos;
        } else {
          const y = ~x & above;
          if (y === 0) break;
          pos = lowestBit(y);
          fn(runStart, base + pos - runStart);
          runStart = -1;
        }
      }
    }
    if (runStart >= 0) fn(runStart, to - runStart);
  }

  /** The runs of dirty pages, as a list (convenient; prefer {@link forEachRun} on hot paths). */
  runs(from = 0, to = this.pages): PageRun[] {
    const out: PageRun[] = [];
    this.forEachRun((start, count) => out.push({ start, count }), from, to);
    return out;
  }

  /** The dirty page numbers in ascending order (for tests and diagnostics). */
  toPageList(): number[] {
    const out: number[] = [];
    this.forEachRun((start, count) => {
      for (let p = start; p < start + count; p++) out.push(p);
    });
    return out;
  }

  /** Bits of the last u64 word that lie beyond `pages` (must always be 0). */
  #tailBits(): number {
    const used = this.pages % 64;
    if (used === 0 || this.words.length === 0) return 0;
    const lastWord = this.words.length / 2 - 1;
    let extra = 0;
    for (let half = 0; half < 2; half++) {
      const k = lastWord * 2 + half;
      const lo = half * 32;
      const x = this.words[k ^ HALF_SWAP]!;
      const keep = used <= lo ? 0 : used - lo >= 32 ? -1 : (1 << (used - lo)) - 1;
      extra |= x & ~keep;
    }
    return extra;
  }
}

/** Reverses each 8-byte group in place (host big-endian ↔ uAPI little-endian). */
function swapWordBytes(bytes: Uint8Array): void {
  for (let i = 0; i + 8 <= bytes.length; i += 8) bytes.subarray(i, i + 8).reverse();
}
