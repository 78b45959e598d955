// The records a pass is laid out in: every dirty page in exactly one, each inside one
// segment and within its limits, clean pages only ever left out of a sparse record, and
// scattered pages gathered into few records once the target holds the clean ones.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { planRamRecords, type RamRecordLimits } from "../../src/engine/ram-record-plan.js";
import { DirtyBitmap } from "../../src/memory/dirty-bitmap.js";
import { kindsLength } from "../../src/stream/ram-pages-codec.js";
import { fuzzRuns } from "../stream/stream-fixtures.js";

interface Extent {
  readonly start: number;
  readonly count: number;
  readonly dirtyPages: number;
  /** Pages left out, as page numbers. */
  readonly gaps: readonly number[] | undefined;
}

/** The plan, copied out of the planner's reused extent. */
function plan(dirty: DirtyBitmap, limits: RamRecordLimits): Extent[] {
  const out: Extent[] = [];
  for (const e of planRamRecords(dirty, limits)) {
    let gaps: number[] | undefined;
    if (e.gaps !== undefined) {
      expect(e.gaps.byteLength).toBe(kindsLength(e.count));
      gaps = [];
      for (let i = 0; i < e.count; i++)
        if ((((e.gaps[i >> 3] as number) >> (i & 7)) & 1) === 1) gaps.push(e.start + i);
    }
    out.push({ start: e.start, count: e.count, dirtyPages: e.dirtyPages, gaps });
  }
  return out;
}

const limitsArb = fc.record({
  recordPages: fc.integer({ min: 1, max: 40 }),
  segmentPages: fc.integer({ min: 1, max: 300 }),
  sparseSpanPages: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 200 })),
});

/** A bitmap of up to 70,000 pages (past one 65,536-page window), dirty in runs and single pages. */
const dirtyArb = fc
  .integer({ min: 1, max: 70_000 })
  .chain((pages) =>
    fc.tuple(
      fc.constant(pages),
      fc.array(fc.tuple(fc.integer({ min: 0, max: pages - 1 }), fc.integer({ min: 1, max: 300 })), {
        maxLength: 60,
      }),
    ),
  )
  .map(([pages, runs]) => {
    const dirty = new DirtyBitmap(pages);
    for (const [start, count] of runs) dirty.setRange(start, Math.min(count, pages - start));
    return dirty;
  });

describe("planRamRecords", () => {
  it("puts every dirty page in one record, within the limits, leaving out only clean pages", () => {
    fc.assert(
      fc.property(dirtyArb, limitsArb, (dirty, limits) => {
        const extents = plan(dirty, limits);
        const seen: number[] = [];
        let after = 0;
        for (const e of extents) {
          expect(e.start).toBeGreaterThanOrEqual(after);
          after = e.start + e.count;
          expect(Math.floor(e.start / limits.segmentPages)).toBe(
            Math.floor((after - 1) / limits.segmentPages),
          );
          expect(e.dirtyPages).toBeGreaterThan(0);
          expect(e.dirtyPages).toBeLessThanOrEqual(limits.recordPages);
          expect(e.count).toBeLessThanOrEqual(Math.max(limits.recordPages, limits.sparseSpanPages));
          const gaps = new Set(e.gaps ?? []);
          if (limits.sparseSpanPages === 0) expect(gaps.size).toBe(0);
          expect(e.count - gaps.size).toBe(e.dirtyPages);
          for (let p = e.start; p < after; p++) {
            expect(dirty.test(p)).toBe(!gaps.has(p));
            if (!gaps.has(p)) seen.push(p);
          }
          // Records start and end on dirty pages.
          expect(dirty.test(e.start) && dirty.test(after - 1)).toBe(true);
        }
        expect(seen).toEqual(dirty.toPageList());
      }),
      { numRuns: fuzzRuns(300) },
    );
  });

  it("gathers scattered single pages into few sparse records", () => {
    // One dirty page in 32, as the dirtying bench VM's hot set at 512 MiB after pass one.
    const dirty = new DirtyBitmap(1 << 17);
    for (let p = 5; p < dirty.pages; p += 32) dirty.set(p);
    const limits = { recordPages: 256, segmentPages: 1 << 15, sparseSpanPages: 2048 };
    const sparse = plan(dirty, limits);
    expect(sparse.length).toBe(dirty.pages / 2048);
    expect(sparse.every((e) => e.dirtyPages === 64 && e.gaps?.length === e.count - 64)).toBe(true);
    // Without sparse records each page is a record of its own.
    expect(plan(dirty, { ...limits, sparseSpanPages: 0 }).length).toBe(dirty.pages / 32);
  });

  it("marks every page left out when the span limit is below the record limit", () => {
    // Found by the property above (seed 588731994): the gap map was sized by the span
    // limit alone, so the gaps of a record spanning up to recordPages fell off its end.
    const dirty = new DirtyBitmap(64);
    dirty.set(0);
    dirty.set(9);
    const extents = plan(dirty, { recordPages: 11, segmentPages: 64, sparseSpanPages: 1 });
    expect(extents).toEqual([
      { start: 0, count: 10, dirtyPages: 2, gaps: [1, 2, 3, 4, 5, 6, 7, 8] },
    ]);
  });

  it("joins adjacent runs split at a window's edge into one plain record", () => {
    const dirty = new DirtyBitmap(1 << 17);
    dirty.setRange(65_536 - 3, 6);
    const extents = plan(dirty, { recordPages: 256, segmentPages: 1 << 17, sparseSpanPages: 0 });
    expect(extents).toEqual([{ start: 65_533, count: 6, dirtyPages: 6, gaps: undefined }]);
  });
});
