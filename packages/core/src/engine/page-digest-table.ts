import { createHash } from "node:crypto";
import { crc32c } from "@node-rs/crc32";
import { MdevError } from "../errors/mdev-error.js";
import { PAGE_SIZE } from "../memory/page.js";
import { isDataPage } from "../stream/ram-run.js";
import type { RamPagesBody } from "../stream/records.js";
import { digestsEqual } from "../stream/stream-digest.js";

const ZERO_PAGE_CRC = crc32c(Buffer.alloc(PAGE_SIZE));

/**
 * The RAM digest END carries: SHA-256 over a table holding the CRC32C of every guest
 * page's last-sent content (zero pages: the CRC of 4 KiB of zeros), little-endian, in page
 * order. Both sides keep the table as pages go by — the source for what it sent, the
 * target for what it wrote — so the digest costs nothing at switchover beyond the final
 * dirty pages, where a full-RAM hash would add a whole pass over guest memory to downtime.
 * Dirty tracking makes "last sent" equal "RAM at pause"; tests check that byte for byte.
 */
export class PageDigestTable {
  readonly #crcs: Uint32Array;

  constructor(pages: number) {
    if (!Number.isSafeInteger(pages) || pages < 0)
      throw new MdevError("EINVAL", `invalid page count ${pages}`);
    this.#crcs = new Uint32Array(pages).fill(ZERO_PAGE_CRC);
  }

  /** Records the content of data page `pfn`. */
  data(pfn: number, page: Uint8Array): void {
    this.#crcs[pfn] = crc32c(page as Buffer);
  }

  /** Records page `pfn` by the CRC32C of its content, or as zero when `crc` is undefined. */
  set(pfn: number, crc: number | undefined): void {
    this.#crcs[pfn] = crc ?? ZERO_PAGE_CRC;
  }

  /** Records that page `pfn` is zero. */
  zero(pfn: number): void {
    this.#crcs[pfn] = ZERO_PAGE_CRC;
  }

  /**
   * Records every page of a decoded RAM_PAGES record: zero pages as zero, data pages by
   * the per-page CRCs the decoder checked the frame with (or their content without them).
   */
  record(run: RamPagesBody): void {
    const crcs = run.pageCrcs;
    if (crcs !== undefined) {
      this.recordRun(run.startPage, run.count, run.kinds, crcs);
      return;
    }
    let j = 0;
    for (let i = 0; i < run.count; i++) {
      const pfn = run.startPage + i;
      if (!isDataPage(run.kinds, i)) {
        this.zero(pfn);
      } else {
        this.data(pfn, run.data.subarray(j * PAGE_SIZE, (j + 1) * PAGE_SIZE));
        j++;
      }
    }
  }

  /**
   * Records pages `startPage .. startPage + count - 1` of one RAM_PAGES run: bit i of
   * `kinds` set means data, whose CRC32C is the next of `crcs`; clear means zero. One call
   * per record on the bulk paths of both sides.
   */
  recordRun(startPage: number, count: number, kinds: Uint8Array, crcs: Uint32Array): void {
    if (startPage < 0 || startPage + count > this.#crcs.length)
      throw new MdevError(
        "EINVAL",
        `pages ${startPage}..${startPage + count - 1} outside the table`,
      );
    const table = this.#crcs;
    let j = 0;
    for (let i = 0; i < count; i++) {
      if ((((kinds[i >> 3] as number) >> (i & 7)) & 1) === 1)
        table[startPage + i] = crcs[j++] as number;
      else table[startPage + i] = ZERO_PAGE_CRC;
    }
  }

  /** SHA-256 of the table. */
  digest(): Uint8Array {
    return createHash("sha256").update(this.#crcs).digest();
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
}
