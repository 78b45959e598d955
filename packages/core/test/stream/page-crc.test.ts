import { crc32c } from "@node-rs/crc32";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PAGE_SIZE } from "../../src/stream/format.js";
import {
  crc32cPages,
  crc32cPagesInJs,
  gatherCrc32cPages,
  gatherCrc32cPagesInJs,
  scatterCrc32cPages,
  scatterCrc32cPagesInJs,
} from "../../src/stream/page-crc.js";
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

// The source's snapshot of a RAM_PAGES record: the native gather (one call per record) and
// the JavaScript one (a run of adjacent data pages at a time) must copy and hash alike.
describe.each([
  ["gatherCrc32cPages", gatherCrc32cPages],
  ["gatherCrc32cPagesInJs", gatherCrc32cPagesInJs],
])("%s", (_, gather) => {
  it("copies exactly the data pages, in order, and hashes each copy; nothing past them (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 0, max: 7 }),
        fc.boolean(),
        fc.integer({ min: 1 }),
        fc.integer({ min: 0, max: 3 }),
        (count, skew, shared, seed, kindsShape) => {
          const length = skew + count * PAGE_SIZE;
          const bytes = new Uint8Array(
            shared ? new SharedArrayBuffer(length) : new ArrayBuffer(length),
          );
          let x = seed;
          const next = (): number => {
            x = (Math.imul(x, 1103515245) + 12345) | 0;
            return x >>> 24;
          };
          for (let i = 0; i < length; i++) bytes[i] = next();
          const pages = bytes.subarray(skew);
          // All data, all zero, every other page, or random: runs of every length.
          const kinds = new Uint8Array(Math.ceil(count / 8) + 1).fill(0xa5);
          const data: number[] = [];
          for (let i = 0; i < count; i++) {
            const on = [true, false, i % 2 === 0, (next() & 1) === 1][kindsShape] as boolean;
            if (on) data.push(i);
            kinds[i >> 3] = on
              ? (kinds[i >> 3] as number) | (1 << (i & 7))
              : (kinds[i >> 3] as number) & ~(1 << (i & 7));
          }
          const into = new Uint8Array((data.length + 1) * PAGE_SIZE).fill(0xee);
          const crcs = new Uint32Array(data.length + 1).fill(7);
          gather(pages, kinds, count, into, crcs);
          const want = new Uint8Array(into.length).fill(0xee);
          const wantCrcs = new Uint32Array(crcs.length).fill(7);
          data.forEach((p, j) => {
            const page = pages.slice(p * PAGE_SIZE, (p + 1) * PAGE_SIZE);
            want.set(page, j * PAGE_SIZE);
            wantCrcs[j] = crc32c(Buffer.from(page));
          });
          expect(Buffer.compare(Buffer.from(into), Buffer.from(want))).toBe(0);
          expect([...crcs]).toEqual([...wantCrcs]);
        },
      ),
      { numRuns: FC_RUNS },
    );
  });
});

// The target's side: the whole pages of a socket chunk into their places in a run's view of
// guest memory. The native scatter (one call per chunk) and the JavaScript one (a run of
// adjacent slots at a time) must copy and hash alike, and refuse a slot outside the view
// before writing anything: the slots come from an untrusted stream's kinds bitmap.
describe.each([
  ["scatterCrc32cPages", scatterCrc32cPages],
  ["scatterCrc32cPagesInJs", scatterCrc32cPagesInJs],
])("%s", (_, scatter) => {
  it("copies page k to slot at + k and hashes it; nothing else changes (property)", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 40 }), { maxLength: 24 }),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 0, max: 3 }),
        fc.boolean(),
        fc.integer({ min: 1 }),
        (picked, skew, at, shared, seed) => {
          // Ascending slots, as a kinds bitmap gives them: runs of adjacent ones and gaps.
          const slots = Int32Array.from([...Array(at).fill(0), ...picked.sort((a, b) => a - b)]);
          const count = picked.length;
          const bytes = new Uint8Array(skew + count * PAGE_SIZE);
          for (let i = 0, x = seed; i < bytes.length; i++) {
            x = (Math.imul(x, 1103515245) + 12345) | 0;
            bytes[i] = x >>> 24;
          }
          const data = bytes.subarray(skew);
          const length = 41 * PAGE_SIZE;
          const dest = new Uint8Array(
            shared ? new SharedArrayBuffer(length) : new ArrayBuffer(length),
          ).fill(0xee);
          const crcs = new Uint32Array(at + count + 1).fill(7);
          scatter(data, slots, at, dest, crcs);
          const want = new Uint8Array(length).fill(0xee);
          const wantCrcs = new Uint32Array(crcs.length).fill(7);
          for (let k = 0; k < count; k++) {
            const page = data.slice(k * PAGE_SIZE, (k + 1) * PAGE_SIZE);
            want.set(page, (slots[at + k] as number) * PAGE_SIZE);
            wantCrcs[at + k] = crc32c(Buffer.from(page));
          }
          expect(Buffer.compare(Buffer.from(dest), Buffer.from(want))).toBe(0);
          expect([...crcs]).toEqual([...wantCrcs]);
        },
      ),
      { numRuns: FC_RUNS },
    );
  });

  it("refuses a slot outside dest, or too few slots or CRCs, and writes nothing", () => {
    const data = new Uint8Array(3 * PAGE_SIZE).fill(1);
    const dest = new Uint8Array(4 * PAGE_SIZE);
    const crcs = new Uint32Array(3);
    expect(() => scatter(data, Int32Array.from([0, 1, 4]), 0, dest, crcs)).toThrow(RangeError);
    expect(() => scatter(data, Int32Array.from([0, -1, 2]), 0, dest, crcs)).toThrow(RangeError);
    expect(() => scatter(data, Int32Array.from([0, 1, 2]), 1, dest, crcs)).toThrow(RangeError);
    expect(() => scatter(data, Int32Array.from([0, 1, 2, 3]), 1, dest, crcs)).toThrow(RangeError);
    expect(dest.every((b) => b === 0)).toBe(true);
    expect(crcs.every((c) => c === 0)).toBe(true);
  });
});
