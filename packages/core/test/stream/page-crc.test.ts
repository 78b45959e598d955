import { crc32c } from "@node-rs/crc32";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PAGE_SIZE } from "../../src/stream/format.js";
import { crc32cPages, crc32cPagesInJs } from "../../src/stream/page-crc.js";
import { FC_RUNS } from "../memory/fc-runs.js";

// crc32cPages hashes a batch in the native addon where it is built; crc32cPagesInJs is what
// runs where it is not. Every RAM_PAGES CRC and the RAM digest come from these values, so
// both must equal a plain CRC32C of each page.
describe.each([
  ["crc32cPages", crc32cPages],
  ["crc32cPagesInJs", crc32cPagesInJs],
])("%s", (_, hashPages) => {
  it("writes each page's CRC32C from `at`, and nothing else, for any batch in any memory (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 9 }),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 0, max: 3 }),
        fc.boolean(),
        fc.integer({ min: 1 }),
        (count, skew, at, shared, seed) => {
          const length = skew + count * PAGE_SIZE;
          const bytes = new Uint8Array(
            shared ? new SharedArrayBuffer(length) : new ArrayBuffer(length),
          );
          for (let i = 0, x = seed; i < length; i++) {
            x = (Math.imul(x, 1103515245) + 12345) | 0;
            bytes[i] = x >>> 24;
          }
          const pages = bytes.subarray(skew);
          const out = new Uint32Array(at + count + 2).fill(7);
          hashPages(pages, out, at);
          const want = new Uint32Array(out.length).fill(7);
          for (let i = 0; i < count; i++)
            want[at + i] = crc32c(Buffer.from(pages.slice(i * PAGE_SIZE, (i + 1) * PAGE_SIZE)));
          expect([...out]).toEqual([...want]);
        },
      ),
      { numRuns: FC_RUNS },
    );
  });
});
