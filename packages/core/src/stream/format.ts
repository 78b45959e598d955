/**
 * Wire constants of the mdevkit migration stream (docs/stream-format.md). Every multi-byte
 * integer on the wire is little-endian: the hosts we target are, and it keeps page runs
 * and counters readable with a plain DataView.
 */

/** First 8 bytes of every stream: `MDEVMIG` followed by a newline, so `head -c 8` shows it. */
export const STREAM_MAGIC: Uint8Array = new Uint8Array([
  0x4d, 0x44, 0x45, 0x56, 0x4d, 0x49, 0x47, 0x0a,
]);

/**
 * Format version this build writes. Version 2: END's per-device digest covers the
 * device's config space, and each manifest slot carries exactly one DEVICE_CONFIG.
 * Version 3: the return path may carry ITERATION_ACK; its forward records are version 2's.
 * Version 4: END's RAM digest is the page-table digest over blocks
 * ({@link PAGE_TABLE_BLOCKS_VERSION}). Version 5: a RAM_PAGES run may be sparse
 * ({@link SPARSE_RUN_VERSION}).
 */
export const FORMAT_VERSION = 5;

/**
 * Oldest and newest format versions this build reads. A reader refuses anything outside
 * the range up front, instead of guessing at records a future writer might emit. Version 1
 * is not read: its END digests do not cover config space, so its device configs could not
 * be verified (re-save such a VM with this build).
 */
export const ACCEPTED_FORMAT_VERSIONS = { min: 2, max: 5 } as const;

/** The first format version whose return path acknowledges each ITERATION (ITERATION_ACK). */
export const ITERATION_ACK_VERSION = 3;

/**
 * The first format version whose END RAM digest hashes the page table block by block, so
 * a switchover rehashes only the blocks its final pass changed (docs/stream-format.md §END).
 */
export const PAGE_TABLE_BLOCKS_VERSION = 4;

/**
 * The first format version whose RAM_PAGES head may carry {@link RamRunFlags.SPARSE}: a run
 * whose clear kind bits mean pages the target keeps as they are, so the source can leave out
 * pages it knows the target already holds (docs/stream-format.md §RAM_PAGES).
 */
export const SPARSE_RUN_VERSION = 5;

/** Bits of a RAM_PAGES head's flags word (version 5; reserved and 0 before). */
export const RamRunFlags = {
  /** Clear kind bits are pages the target keeps unchanged, not zero pages. */
  SPARSE: 1,
} as const;

/** Guest pages per block of the page-table digest: 16 KiB of table, 16 MiB of guest RAM. */
export const PAGE_TABLE_BLOCK_PAGES = 4096;

/** Page size of the stream: guest pages, 4 KiB (the memory layer's constant). */
export { PAGE_SIZE } from "../memory/page.js";

/** Byte length of a SHA-256 digest (config digest, END digests). */
export const DIGEST_LENGTH = 32;

/**
 * Which way a stream flows. The forward stream carries the VM from source to target; the
 * return path carries the target's answers. The header says which, so one can never be
 * mistaken for the other.
 */
export const StreamDirection = { FORWARD: 0, RETURN: 1 } as const;

/** Value of {@link StreamDirection}. */
export type StreamDirection = (typeof StreamDirection)[keyof typeof StreamDirection];

/**
 * Stream header layout: magic(8) version(u16) direction(u8) reserved(u8) pageSize(u32)
 * configDigest(32) crc32c(u32) = 52 bytes. The CRC covers the 48 bytes before it.
 */
export const HEADER_LENGTH = 52;

/**
 * Record frame: type(u16) reserved(u16) seq(u32) length(u32), then `length` payload bytes,
 * then a CRC32C (u32) over frame header and payload.
 */
export const FRAME_HEADER_LENGTH = 12;

/** Length of the CRC32C trailer after every payload. */
export const FRAME_TRAILER_LENGTH = 4;

/** Largest sequence number; the encoder refuses to wrap rather than let the decoder see a gap. */
export const MAX_SEQUENCE = 0xffff_ffff;
