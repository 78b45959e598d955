// Pages the IOMMU reports dirty only because they are pinned are left out of a sparse
// RAM_PAGES record when they equal what the source last sent (format version 5). Leaving
// out a page the target does not hold would corrupt the guest silently, so the property:
// whatever the guest and the devices write, whatever the IOMMU reports, after every pass
// the target's RAM and digest table equal the source's.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PageDigestTable } from "../../src/engine/page-digest-table.js";
import { PinnedPageCache } from "../../src/engine/pinned-page-cache.js";
import { RamSender } from "../../src/engine/ram-sender.js";
import { DirtyBitmap } from "../../src/memory/dirty-bitmap.js";
import { GuestMemory } from "../../src/memory/guest-memory.js";
import {
  applyRamRun,
  PAGE_SIZE,
  type RamPagesBody,
  StreamDecoder,
  StreamEncoder,
} from "../../src/stream/index.js";
import type { SourceChannel } from "../../src/transport/channel.js";
import { CONFIG, fuzzRuns } from "../stream/stream-fixtures.js";

const PAGES = 48;

/** A page: one of the first four half the time, so passes keep returning to the same pages. */
const pfnArb = fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: PAGES - 1 }));

/**
 * A write: page, byte offset, value. Value 0 zeroes the page, 1–3 fill it with one of three
 * patterns (so a page often returns to bytes it held before, even to what the target last
 * received), anything else pokes one byte.
 */
const writeArb = fc.tuple(
  pfnArb,
  fc.integer({ min: 0, max: PAGE_SIZE - 1 }),
  fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 4, max: 255 })),
);

/** One pass: the writes before it and the pages the IOMMU reports (pinned, written or not). */
const passArb = fc.record({
  writes: fc.array(writeArb, { maxLength: 12 }),
  reported: fc.uniqueArray(pfnArb, { maxLength: PAGES }),
  last: fc.boolean(),
});

/** A source (guest memory, sender with a cache) and a target (image, table) over one stream. */
function pair(capacityPages: number) {
  const memory = GuestMemory.create({ size: PAGES * PAGE_SIZE, segmentSize: 16 * PAGE_SIZE });
  const encoder = new StreamEncoder();
  const decoder = new StreamDecoder({ guestPages: PAGES });
  const sourceTable = new PageDigestTable(PAGES);
  const targetTable = new PageDigestTable(PAGES);
  const target = new Uint8Array(PAGES * PAGE_SIZE);
  const records: RamPagesBody[] = [];
  const deliver = (frames: readonly Uint8Array[]): void => {
    for (const f of frames)
      for (const r of decoder.push(f)) {
        if (r.type !== "RAM_PAGES") continue;
        applyRamRun(r, target, PAGE_SIZE);
        targetTable.record(r);
        records.push(r);
      }
  };
  deliver(encoder.start({ config: CONFIG, devices: [] }));
  const channel = { send: async (f: readonly Uint8Array[]) => deliver(f) } as SourceChannel;
  const reported = new DirtyBitmap(PAGES);
  const cache = new PinnedPageCache(PAGES, capacityPages * PAGE_SIZE);
  const sender = new RamSender(memory, encoder, channel, sourceTable, 8 * PAGE_SIZE, {
    cache,
    reported: () => reported,
  });
  return { memory, sender, reported, target, sourceTable, targetTable, records, cache };
}

type Pair = ReturnType<typeof pair>;

/** One generated pass (see `passArb`). */
interface Pass {
  readonly writes: readonly (readonly [number, number, number])[];
  readonly reported: readonly number[];
  readonly last: boolean;
}

/** Applies the writes, then sends the written and reported pages as one pass. */
async function pass(p: Pair, step: Pass, all = false) {
  const dirty = new DirtyBitmap(PAGES);
  for (const [pfn, at, value] of step.writes) {
    const page = p.memory.pageView(pfn).slice();
    if (value < 4) page.fill(value * 85);
    else page[at] = value;
    p.memory.writePage(pfn, page);
    dirty.set(pfn);
  }
  p.reported.clear();
  for (const pfn of step.reported) {
    p.reported.set(pfn);
    dirty.set(pfn);
  }
  if (all) dirty.setAll();
  return p.sender.send(dirty, "snapshot", () => {}, step.last);
}

function expectSame(p: Pair): void {
  expect(Buffer.compare(p.target, p.memory.read(0, PAGES * PAGE_SIZE))).toBe(0);
  expect(Buffer.from(p.targetTable.digest()).equals(Buffer.from(p.sourceTable.digest()))).toBe(
    true,
  );
}

describe("PinnedPageCache with RamSender", () => {
  it("the target holds what the source holds after every pass, whatever is left out", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(passArb, { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: PAGES }),
        async (passes, capacity) => {
          const p = pair(capacity);
          for (const [i, step] of passes.entries()) {
            // The first pass sends everything, as precopy's first pass does; a "last" pass
            // leaves the copies as they are, and later passes must still be right.
            await pass(p, step, i === 0);
            expectSame(p);
          }
        },
      ),
      { numRuns: fuzzRuns(200) },
    );
  });

  it("leaves out reported pages nobody wrote, in sparse records, and sends written ones", async () => {
    const p = pair(PAGES);
    const ring = Array.from({ length: 16 }, (_, i) => 8 + i);
    for (const pfn of ring) p.memory.writePage(pfn, new Uint8Array(PAGE_SIZE).fill(pfn));
    await pass(p, { writes: [], reported: ring, last: false }, true);
    // The device wrote two pages of its ring; the IOMMU reports all sixteen.
    const second = await pass(p, {
      writes: [
        [9, 5, 1],
        [20, 0, 0],
      ],
      reported: ring,
      last: true,
    });
    expect(second).toEqual({ dataPages: 2, zeroPages: 0, unchangedPages: 14 });
    const last = p.records.at(-1) as RamPagesBody;
    expect(last.sparse).toBe(true);
    expectSame(p);
  });

  it("sends a pinned page again when it returns to bytes it held before a zero marker", async () => {
    const p = pair(PAGES);
    // Page 30 holds a pattern and is pinned: it gets a copy.
    await pass(p, { writes: [[30, 0, 1]], reported: [30], last: false }, true);
    // Zeroed, alone in its record: it goes out as a zero marker, and its copy must say so.
    await pass(p, { writes: [[30, 0, 0]], reported: [], last: false });
    // Back to the pattern and reported: equal to the old copy, but not to the target's.
    const third = await pass(p, { writes: [[30, 0, 1]], reported: [30], last: false });
    expect(third.dataPages).toBe(1);
    expectSame(p);
  });

  it("marks the same pages unchanged in one native call as page by page", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(passArb, { minLength: 1, maxLength: 5 }),
        fc.array(writeArb, { maxLength: 12 }),
        async (passes, after) => {
          const p = pair(PAGES);
          for (const step of passes) await pass(p, { ...step, last: false });
          for (const [pfn, at, value] of after) {
            const page = p.memory.pageView(pfn).slice();
            page[at] = value;
            p.memory.writePage(pfn, page);
          }
          // A run is one view of guest memory: it never crosses a segment (16 pages here).
          for (let start = 0; start < PAGES; start += 16) {
            const live = p.memory.peek(start * PAGE_SIZE, 16 * PAGE_SIZE);
            const run = new Uint8Array(2);
            const byPage = new Uint8Array(2);
            const n = p.cache.markUnchanged(start, 16, live, run);
            expect(p.cache.markUnchangedInJs(start, 16, live, byPage)).toBe(n);
            expect([...run]).toEqual([...byPage]);
          }
        },
      ),
      { numRuns: fuzzRuns(100) },
    );
  });

  it("sends every reported page when the stream cannot leave pages out (no cache)", async () => {
    const memory = GuestMemory.create({ size: PAGES * PAGE_SIZE });
    const encoder = new StreamEncoder({ version: 4 });
    encoder.start({ config: CONFIG, devices: [] });
    const channel = { send: async () => {} } as unknown as SourceChannel;
    expect(() =>
      encoder.ramRange(0, memory.view(0, 8 * PAGE_SIZE), { unchanged: Uint8Array.of(1) }),
    ).toThrow(/format version 5/);
    const sender = new RamSender(memory, encoder, channel, new PageDigestTable(PAGES, 4));
    const dirty = new DirtyBitmap(PAGES);
    dirty.setAll();
    expect((await sender.send(dirty, "snapshot")).unchangedPages).toBe(0);
  });
});
