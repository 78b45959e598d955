import { crc32c } from "@node-rs/crc32";
import { StreamError } from "../errors/stream-error.js";
import { crc32cExtendPages } from "./crc32c-combine.js";
import { PAGE_SIZE } from "./format.js";
import { crc32cPages } from "./page-crc.js";
import { kindsLength, RAM_RUN_HEAD_LENGTH } from "./ram-pages-codec.js";

/**
 * Checks a RAM_PAGES frame's CRC32C by hashing its data pages one by one and combining,
 * returning the per-page CRCs (the target's RAM digest table needs exactly these). The
 * bytes covered and the error raised are those of the generic check: a corrupt frame is a
 * "crc" violation before any layout rule is looked at. When the payload cannot be split
 * into head + whole pages (a corrupt count or length), it falls back to one plain CRC.
 */
export function checkRamPagesCrc(
  payload: Uint8Array,
  headCrc: number,
  expected: number,
  offset: number,
): Uint32Array | undefined {
  const count =
    payload.byteLength >= RAM_RUN_HEAD_LENGTH
      ? new DataView(payload.buffer, payload.byteOffset).getUint32(8, true)
      : 0;
  const head = RAM_RUN_HEAD_LENGTH + kindsLength(count);
  const body = payload.byteLength - head;
  let crc: number;
  let pageCrcs: Uint32Array | undefined;
  if (count > 0 && body >= 0 && body % PAGE_SIZE === 0) {
    crc = crc32c(payload.subarray(0, head) as Buffer, headCrc);
    pageCrcs = new Uint32Array(body / PAGE_SIZE);
    crc32cPages(payload.subarray(head), pageCrcs);
    crc = crc32cExtendPages(crc, pageCrcs);
  } else {
    crc = crc32c(payload as Buffer, headCrc);
  }
  if (crc !== expected)
    throw new StreamError("EBADMSG", "RAM_PAGES", offset, "crc", "record CRC32C mismatch");
  return pageCrcs;
}
