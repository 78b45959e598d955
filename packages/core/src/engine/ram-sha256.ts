import { createHash } from "node:crypto";
import type { GuestMemory } from "../memory/guest-memory.js";

/**
 * Hex SHA-256 of all of guest RAM in page order: the independent, full check tests and
 * `--verify` use to prove source RAM at pause equals target RAM at resume, byte for byte.
 * It reads every page, so it is never on the default path.
 */
export function ramSha256(memory: GuestMemory): string {
  const hash = createHash("sha256");
  const step = Math.min(memory.segmentSize, 64 * 2 ** 20);
  for (let gpa = 0; gpa < memory.size; gpa += step)
    hash.update(memory.view(gpa, Math.min(step, memory.size - gpa)));
  return hash.digest("hex");
}
