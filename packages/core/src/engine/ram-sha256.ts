import { createHash } from "node:crypto";
import type { GuestMemory } from "../memory/guest-memory.js";
import { PAGE_SIZE } from "../memory/page.js";

/** Bytes hashed per update: large enough that the call cost vanishes, small enough to stay in cache. */
const STEP = 2 ** 20;
const ZEROS = new Uint8Array(STEP);

/**
 * Hex SHA-256 of all of guest RAM in page order: the independent, full check tests and
 * `--verify` use to prove source RAM at pause equals target RAM at resume, byte for byte.
 * It covers every page, so it is never on the default path; pages the guest never
 * populated are hashed as the zeros they are, without faulting them in.
 */
export function ramSha256(memory: GuestMemory): string {
  const hash = createHash("sha256");
  const perStep = STEP / PAGE_SIZE;
  const perSegment = memory.segmentSize / PAGE_SIZE;
  for (let pfn = 0; pfn < memory.pages; ) {
    // A run of pages that all may hold data, or all do not, inside one segment.
    const data = memory.mayHoldData(pfn);
    const limit = Math.min(
      memory.pages,
      pfn + perStep,
      (Math.floor(pfn / perSegment) + 1) * perSegment,
    );
    let end = pfn + 1;
    while (end < limit && memory.mayHoldData(end) === data) end++;
    const length = (end - pfn) * PAGE_SIZE;
    hash.update(data ? memory.peek(pfn * PAGE_SIZE, length) : ZEROS.subarray(0, length));
    pfn = end;
  }
  return hash.digest("hex");
}
