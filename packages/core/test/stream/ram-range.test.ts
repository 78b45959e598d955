import { crc32c } from "@node-rs/crc32";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GuestMemory } from "../../src/memory/guest-memory.js";
import {
  crc32cApply,
  crc32cApplyTables,
  crc32cExtendPages,
  PAGE_SHIFT_OPERATOR,
  PAGE_SHIFT_TABLES,
} from "../../src/stream/crc32c-combine.js";
import { PAGE_SIZE, StreamEncoder } from "../../src/stream/index.js";
import { CONFIG, concat, fuzzRuns } from "./stream-fixtures.js";

/** A page's content: 0 all zero, 1 zero but for its last byte, 2 data from the first byte. */
const kindArb = fc.constantFrom(0, 1, 2);

/** An encoder past HANDSHAKE, ready for RAM_PAGES. */
function started(limits?: { maxPagesPerRun: number }): StreamEncoder {
  const enc = new StreamEncoder(limits ? { limits } : {});
  enc.start({ config: CONFIG, devices: [] });
  return enc;
}

/** Guest memory holding `kinds.length` pages of the given kinds. */
function guestWith(kinds: readonly number[]): GuestMemory {
  const m = GuestMemory.create({ size: Math.max(1, kinds.length) * PAGE_SIZE });
  kinds.forEach((k, p) => {
    const v = m.pageView(p);
    if (k === 1) v[PAGE_SIZE - 1] = p + 1;
    if (k === 2) v.fill((p % 250) + 1);
  });
  return m;
}

describe("StreamEncoder.ramRange (the bulk path over guest memory)", () => {
  it("frames exactly what ramPages frames for the same pages, with and without a snapshot", () => {
    fc.assert(
      fc.property(
        fc.array(kindArb, { minLength: 1, maxLength: 40 }),
        fc.boolean(),
        (kinds, snap) => {
          const m = guestWith(kinds);
          const view = m.view(0, kinds.length * PAGE_SIZE);
          // Per-page copies are separate buffers: ramPages takes its general path.
          const copies = kinds.map((_, p) => m.pageView(p).slice());
          const a = started();
          const b = started();
          const runs: [number, number, number[], number[]][] = [];
          const fast = a.ramRange(3, view, {
            snapshot: snap,
            onRun: (s, c, k, crcs) => runs.push([s, c, [...k], [...crcs]]),
          });
          const slow = b.ramPages(3, copies, { snapshot: snap });
          expect(Buffer.from(concat(fast)).equals(Buffer.from(concat(slow)))).toBe(true);
          expect(a.stats).toEqual(b.stats);
          // A page that starts with zeros but holds data later is data, not a marker.
          const data = kinds.filter((k) => k !== 0).length;
          expect(a.stats.dataPages).toBe(data);
          expect(runs).toHaveLength(1);
          expect(runs[0]?.[3]).toEqual(
            kinds.flatMap((k, p) => (k === 0 ? [] : [crc32c(Buffer.from(m.pageView(p)))])),
          );
        },
      ),
      { numRuns: fuzzRuns(100) },
    );
  });

  it("with the populated map, frames never-touched pages as zero markers, and never reads them", () => {
    // 3: never touched (its populated bit clear). With a snapshot the zero check and the
    // gather are one pass where the addon has it; it must frame what ramPages frames.
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(0, 1, 2, 3), { minLength: 1, maxLength: 70 }),
        fc.integer({ min: 0, max: 40 }),
        fc.boolean(),
        (kinds, lead, snap) => {
          const m = GuestMemory.create({ size: (lead + kinds.length) * PAGE_SIZE });
          kinds.forEach((k, i) => {
            if (k === 3) return;
            const v = m.pageView(lead + i);
            if (k === 1) v[PAGE_SIZE - 1] = i + 1;
            if (k === 2) v.fill((i % 250) + 1);
          });
          const copies = kinds.map((_, i) => m.readPage(lead + i));
          const view = m.peek(lead * PAGE_SIZE, kinds.length * PAGE_SIZE);
          const a = started();
          const fast = a.ramRange(lead, view, { snapshot: snap, populated: m.populated });
          const slow = started().ramPages(lead, copies, { snapshot: snap });
          expect(Buffer.from(concat(fast)).equals(Buffer.from(concat(slow)))).toBe(true);
          expect(a.stats.dataPages).toBe(kinds.filter((k) => k === 1 || k === 2).length);
          expect(kinds.map((k, i) => k !== 3 || !m.mayHoldData(lead + i))).not.toContain(false);
        },
      ),
      { numRuns: fuzzRuns(100) },
    );
  });

  it("a snapshot is a copy: changing guest memory after encoding leaves the frames intact", () => {
    const m = guestWith([2, 2, 0, 2]);
    const enc = started();
    const frames = enc.ramRange(0, m.view(0, 4 * PAGE_SIZE), { snapshot: true });
    const before = Buffer.from(concat(frames));
    m.view(0, 4 * PAGE_SIZE).fill(0xee);
    expect(Buffer.from(concat(frames)).equals(before)).toBe(true);
  });

  it("refuses a run that is not whole pages, too many pages, or a snapshot buffer too small", () => {
    const enc = started({ maxPagesPerRun: 4 });
    const m = guestWith([2, 2, 2, 2, 2]);
    expect(() => enc.ramRange(0, m.view(0, PAGE_SIZE + 1))).toThrow(/multiple of 4096/);
    expect(() => enc.ramRange(0, m.view(0, 5 * PAGE_SIZE))).toThrow(/1\.\.4 pages/);
    expect(() =>
      enc.ramRange(0, m.view(0, 2 * PAGE_SIZE), {
        snapshot: true,
        snapshotInto: new Uint8Array(PAGE_SIZE),
      }),
    ).toThrow(/cannot hold/);
    expect(enc.stats.records).toBe(1);
  });
});

describe("CRC32C page shifts by byte tables", () => {
  it("equal the 32-column operator, and extend a CRC over pages like hashing them", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff_ffff }), (crc) => {
        expect(crc32cApplyTables(PAGE_SHIFT_TABLES, crc)).toBe(
          crc32cApply(PAGE_SHIFT_OPERATOR, crc),
        );
      }),
      { numRuns: fuzzRuns(500) },
    );
    const head = Buffer.from("frame head");
    const pages = [1, 2, 3].map((f) => Buffer.alloc(PAGE_SIZE, f));
    const crcs = Uint32Array.from(pages.map((p) => crc32c(p)));
    expect(crc32cExtendPages(crc32c(head), crcs)).toBe(crc32c(Buffer.concat([head, ...pages])));
  });
});
