import { createHash, hash } from "node:crypto";
import { crc32c } from "@node-rs/crc32";
import { MdevError } from "../errors/mdev-error.js";
import { PAGE_SIZE } from "../memory/page.js";
import {
  DIGEST_LENGTH,
  FORMAT_VERSION,
  PAGE_TABLE_BLOCK_PAGES,
  PAGE_TABLE_BLOCKS_VERSION,
} from "../stream/format.js";
import { isDataPage } from "../stream/ram-run.js";
import type { RamPagesBody } from "../stream/records.js";
import { digestsEqual } from "../stream/stream-digest.js";

const ZERO_PAGE_CRC = crc32c(Buffer.alloc(PAGE_SIZE));

/**
 * The RAM digest END carries, over a table holding the CRC32C of every guest page's
 * last-sent content (zero pages: the CRC of 4 KiB of zeros), little-endian, in page order.
 * Both sides keep the table as pages go by — the source for what it sent, the target for
 * what it wrote — so the digest never reads guest RAM. Dirty tracking makes "last sent"
 * equal "RAM at pause"; tests check that byte for byte.
 *
 * From format version 4 the digest is SHA-256 over the SHA-256 of each block of
 * {@link PAGE_TABLE_BLOCK_PAGES} entries, and a block's hash is kept until a page in it
 * changes: {@link refresh} after each precopy pass leaves the switchover only the blocks
 * its final pass touched. Versions 2–3 hash the whole table at once, which at END took
 * 1.3 ms per side for 2 GiB and 5–8 ms for 8 GiB, inside the paused window.
 *
 * A block's entries are written with the zero page's CRC when a page in it is first
 * recorded, not when the table is made: filling 2 MiB up front took 8–10 ms per side at
 * the start of a migration on our 2-core EPYC machines, nearly all of it first-touch page
 * faults, and on the handshake's path, where the other side waits. A block never written
 * is all zero pages, whose hash is known. Holding the entries as the digest defines them
 * lets a block be hashed where it lies: the table once held each CRC XOR the zero page's
 * (a fresh table already all zero pages), and undoing that block by block made a 2 GiB
 * table's first digest 9.3 ms instead of 4.1, later ones 2.6 instead of 1.7.
 */
export class PageDigestTable {
  /** Each page's CRC32C, where {@link #filled}; the rest of the table is never written. */
  readonly #crcs: Uint32Array;
  /** 1 for each block whose entries were written (with the zero page's CRC first). */
  readonly #filled: Uint8Array;
  /** Whether the digest goes block by block (format version 4 and later). */
  readonly blockwise: boolean;
  /** SHA-256 of each block, valid where {@link #stale} is 0. */
  readonly #blockDigests: Uint8Array;
  /** 1 for each block changed since its hash was taken. */
  readonly #stale: Uint8Array;
  #blocksHashed = 0;

  /** A table of `pages` zero pages, digested as format `version` defines (default: this build's). */
  constructor(pages: number, version: number = FORMAT_VERSION) {
    if (!Number.isSafeInteger(pages) || pages < 0)
      throw new MdevError("EINVAL", `invalid page count ${pages}`);
    this.#crcs = new Uint32Array(pages);
    this.blockwise = version >= PAGE_TABLE_BLOCKS_VERSION;
    const blocks = Math.ceil(pages / PAGE_TABLE_BLOCK_PAGES);
    this.#filled = new Uint8Array(blocks);
    this.#blockDigests = new Uint8Array(this.blockwise ? blocks * DIGEST_LENGTH : 0);
    this.#stale = new Uint8Array(this.blockwise ? blocks : 0).fill(1);
  }

  /** Blocks hashed so far (by {@link refresh} and {@link digest}): what a digest cost. */
  get blocksHashed(): number {
    return this.#blocksHashed;
  }

  /** Records the content of data page `pfn`. */
  data(pfn: number, page: Uint8Array): void {
    this.set(pfn, crc32c(page as Buffer));
  }

  /** Records page `pfn` by the CRC32C of its content, or as zero when `crc` is undefined. */
  set(pfn: number, crc: number | undefined): void {
    this.#touch(pfn, 1);
    this.#crcs[pfn] = crc ?? ZERO_PAGE_CRC;
  }

  /** Records that page `pfn` is zero. */
  zero(pfn: number): void {
    this.set(pfn, undefined);
  }

  /**
   * Records every page of a decoded RAM_PAGES record: zero pages as zero, data pages by
   * the per-page CRCs the decoder checked the frame with (or their content without them);
   * a sparse record's other pages keep their entries.
   */
  record(run: RamPagesBody): void {
    const sparse = run.sparse === true;
    const crcs = run.pageCrcs;
    if (crcs !== undefined) {
      this.recordRun(run.startPage, run.count, run.kinds, crcs, sparse);
      return;
    }
    let j = 0;
    for (let i = 0; i < run.count; i++) {
      const pfn = run.startPage + i;
      if (!isDataPage(run.kinds, i)) {
        if (!sparse) this.zero(pfn);
      } else {
        this.data(pfn, run.data.subarray(j * PAGE_SIZE, (j + 1) * PAGE_SIZE));
        j++;
      }
    }
  }

  /**
   * Records pages `startPage .. startPage + count - 1` of one RAM_PAGES run: bit i of
   * `kinds` set means data, whose CRC32C is the next of `crcs`; clear means zero, or, in a
   * `sparse` run, a page that keeps its entry. One call per record on the bulk paths of
   * both sides.
   */
  recordRun(
    startPage: number,
    count: number,
    kinds: Uint8Array,
    crcs: Uint32Array,
    sparse = false,
  ): void {
    if (startPage < 0 || startPage + count > this.#crcs.length)
      throw new MdevError(
        "EINVAL",
        `pages ${startPage}..${startPage + count - 1} outside the table`,
      );
    this.#touch(startPage, count);
    const table = this.#crcs;
    let j = 0;
    for (let i = 0; i < count; i++) {
      if ((((kinds[i >> 3] as number) >> (i & 7)) & 1) === 1)
        table[startPage + i] = crcs[j++] as number;
      else if (!sparse) table[startPage + i] = ZERO_PAGE_CRC;
    }
  }

  /**
   * Hashes the blocks changed since their last hash, so a later {@link digest} need not:
   * called between precopy passes, outside the paused window. Nothing to do for formats
   * 2–3, whose digest has no blocks.
   */
  refresh(): void {
    const stale = this.#stale;
    for (let b = stale.indexOf(1); b !== -1; b = stale.indexOf(1, b + 1)) {
      this.#blockDigests.set(hash("sha256", this.#block(b), "buffer"), b * DIGEST_LENGTH);
      stale[b] = 0;
      this.#blocksHashed++;
    }
  }

  /** END's RAM digest of the table as it stands. */
  digest(): Uint8Array {
    if (!this.blockwise) {
      const whole = createHash("sha256");
      const blocks = Math.ceil(this.#crcs.length / PAGE_TABLE_BLOCK_PAGES);
      for (let b = 0; b < blocks; b++) whole.update(this.#block(b));
      return whole.digest();
    }
    this.refresh();
    return createHash("sha256").update(this.#blockDigests).digest();
  }

  /** Entries of block `b` as the digest defines them (the CRCs, little-endian). */
  #block(b: number): Uint8Array {
    const from = b * PAGE_TABLE_BLOCK_PAGES;
    const entries = Math.min(PAGE_TABLE_BLOCK_PAGES, this.#crcs.length - from);
    if (this.#filled[b] === 0) return zeroBlock().subarray(0, entries * 4);
    return new Uint8Array(this.#crcs.buffer, from * 4, entries * 4);
  }

  /**
   * The digest, checked against END's: what the target holds is what the source sent.
   * @throws MdevError EBADMSG when pages were lost or damaged.
   */
  check(endDigest: Uint8Array): Uint8Array {
    const digest = this.digest();
    if (!digestsEqual(digest, endDigest)) {
      throw new MdevError(
        "EBADMSG",
        "guest RAM digest does not match END: pages were lost or damaged",
      );
    }
    return digest;
  }

  /**
   * Marks the blocks of pages `pfn .. pfn + count - 1` changed, first writing the zero page's
   * CRC to every entry of a block written for the first time.
   */
  #touch(pfn: number, count: number): void {
    if (count <= 0) return;
    const last = Math.floor((pfn + count - 1) / PAGE_TABLE_BLOCK_PAGES);
    for (let b = Math.floor(pfn / PAGE_TABLE_BLOCK_PAGES); b <= last; b++) {
      if (this.#filled[b] === 0) {
        this.#crcs.fill(
          ZERO_PAGE_CRC,
          b * PAGE_TABLE_BLOCK_PAGES,
          (b + 1) * PAGE_TABLE_BLOCK_PAGES,
        );
        this.#filled[b] = 1;
      }
      if (this.blockwise) this.#stale[b] = 1;
    }
  }
}

let zeroBlockBytes: Uint8Array | undefined;

/** A block of zero pages' entries, as the digest defines them; made once, when first needed. */
function zeroBlock(): Uint8Array {
  zeroBlockBytes ??= new Uint8Array(
    new Uint32Array(PAGE_TABLE_BLOCK_PAGES).fill(ZERO_PAGE_CRC).buffer,
  );
  return zeroBlockBytes;
}
