import { createHash } from "node:crypto";
import { crc32c } from "@node-rs/crc32";
import { MdevError } from "../errors/mdev-error.js";
import { PAGE_SIZE } from "../memory/page.js";

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

  /** SHA-256 of the table. */
  digest(): Uint8Array {
    return createHash("sha256").update(this.#crcs).digest();
  }
}
