import { createHash } from "node:crypto";
import { PAGE_TABLE_BLOCK_PAGES, PAGE_TABLE_BLOCKS_VERSION } from "../../src/index.js";

/**
 * END's RAM digest as docs/stream-format.md §END specifies it, from the page table's bytes
 * (each page's CRC32C, little-endian u32, in page order): versions 2–3 hash the whole
 * table; version 4 hashes the SHA-256 of each block of PAGE_TABLE_BLOCK_PAGES entries.
 * Written from the spec, apart from the engine's PageDigestTable, to check it.
 */
export function specPageTableDigest(table: Buffer, version: number): Buffer {
  if (version < PAGE_TABLE_BLOCKS_VERSION) return createHash("sha256").update(table).digest();
  const top = createHash("sha256");
  const blockBytes = PAGE_TABLE_BLOCK_PAGES * 4;
  for (let at = 0; at < table.length; at += blockBytes)
    top.update(
      createHash("sha256")
        .update(table.subarray(at, at + blockBytes))
        .digest(),
    );
  return top.digest();
}

/** The table's bytes from its entries. */
export function tableBytes(entries: ArrayLike<number>): Buffer {
  const bytes = Buffer.alloc(entries.length * 4);
  for (let i = 0; i < entries.length; i++) bytes.writeUInt32LE(entries[i] as number, i * 4);
  return bytes;
}
