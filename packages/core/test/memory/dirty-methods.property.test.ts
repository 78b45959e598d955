import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DmaFaultError } from "../../src/errors/index.js";
import {
  DirtyBitmap,
  DirtyOracle,
  DmaLogger,
  DmaPort,
  GuestMemory,
  Iommu,
  IommuPagePinner,
  PAGE_SIZE,
  VendorDirtyTracker,
} from "../../src/memory/index.js";
import { FC_RUNS } from "./fc-runs.js";

const P = PAGE_SIZE;
const GUEST_PAGES = 256;
const IOVA_SPACE = 16 * 2 ** 20; // every mapping lives below 16 MiB, so one range can log them all

const mappingArb = fc.record({
  iovaPage: fc.nat(IOVA_SPACE / P - 17),
  gpaPage: fc.nat(GUEST_PAGES - 17),
  pages: fc.integer({ min: 1, max: 16 }),
  write: fc.oneof(
    { weight: 5, arbitrary: fc.constant(true) },
    { weight: 1, arbitrary: fc.constant(false) },
  ),
});
/** A write aimed at mapping `target` (or anywhere), at any offset, crossing pages and mappings. */
const writeArb = fc.record({
  target: fc.nat(7),
  offset: fc.nat(20 * P),
  length: fc.integer({ min: 1, max: 3 * P }),
  stray: fc.boolean(),
});
const scenarioArb = fc.record({
  mappings: fc.array(mappingArb, { minLength: 1, maxLength: 8 }),
  rounds: fc.array(fc.array(writeArb, { maxLength: 25 }), { minLength: 1, maxLength: 3 }),
});

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;
type DeviceWriteSpec = Scenario["rounds"][number][number];

interface World {
  memory: GuestMemory;
  iommu: Iommu;
  port: DmaPort;
  oracle: DirtyOracle;
  /** IOVA pages actually written this round (for the coarse upper bound). */
  iovaPages: Set<number>;
}

function build(mappings: Scenario["mappings"]): World {
  const memory = GuestMemory.create({ size: GUEST_PAGES * P, segmentSize: 64 * P });
  const iommu = new Iommu({ guestSize: memory.size });
  for (const m of mappings) {
    try {
      // Some random mappings overlap: the IOMMU refuses them (EEXIST) and the world goes on without.
      iommu.map({ iova: m.iovaPage * P, gpa: m.gpaPage * P, length: m.pages * P, write: m.write });
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith("EEXIST"))) throw err;
    }
  }
  const port = new DmaPort(iommu, memory);
  const oracle = new DirtyOracle(GUEST_PAGES);
  port.attach(oracle);
  const iovaPages = new Set<number>();
  port.attach({
    onDmaWrite: (iova, _gpa, length) => {
      for (let p = Math.floor(iova / P); p <= Math.floor((iova + length - 1) / P); p++)
        iovaPages.add(p);
    },
  });
  return { memory, iommu, port, oracle, iovaPages };
}

/** Performs one device write; with `pinner`, pins its pages first like a type1 vendor driver. */
function deviceWrite(w: World, write: DeviceWriteSpec, pinner?: IommuPagePinner): void {
  const maps = w.iommu.mappings;
  const base = write.stray || maps.length === 0 ? 0 : maps[write.target % maps.length]!.iova;
  const iova = Math.min(base + write.offset, IOVA_SPACE - write.length);
  const first = Math.floor(iova / P);
  const count = Math.floor((iova + write.length - 1) / P) - first + 1;
  if (pinner !== undefined) {
    try {
      pinner.pin(first * P, count);
    } catch {
      return; // unmapped: a real driver gets -EINVAL from vfio_pin_pages and does no DMA
    }
  }
  try {
    w.port.write(iova, new Uint8Array(write.length).fill(0xa5));
  } catch (err) {
    if (!(err instanceof DmaFaultError)) throw err;
  }
  // Drop half of the pins right away: pages pinned during the interval still count.
  if (pinner !== undefined && (first & 1) === 0) pinner.unpin(first * P, count);
}

/** Device-reported IOVA bitmap (one REPORT per logged range) → guest pages. */
function syncLogger(
  w: World,
  logger: DmaLogger,
  ranges: { iova: number; length: number }[],
  reportPageSize: number,
): DirtyBitmap {
  const guest = new DirtyBitmap(GUEST_PAGES);
  for (const r of ranges) {
    const bitmap = new BigUint64Array(Math.ceil(Math.ceil(r.length / reportPageSize) / 64));
    logger.readAndClear(r.iova, r.length, reportPageSize, bitmap);
    w.iommu.iovaBitmapToGuest(r.iova, r.length, reportPageSize, bitmap, guest);
  }
  return guest;
}

/** Largest set coarse logging may report: each written IOVA page widened to its aligned block. */
function coarseUpperBound(
  w: World,
  ranges: { iova: number; length: number }[],
  block: number,
): DirtyBitmap {
  const guest = new DirtyBitmap(GUEST_PAGES);
  for (const page of w.iovaPages) {
    const a = page * P;
    const r = ranges.find((x) => a >= x.iova && a < x.iova + x.length);
    if (r === undefined) continue;
    const lo = Math.max(r.iova, r.iova + Math.floor((a - r.iova) / block) * block);
    const hi = Math.min(r.iova + r.length, lo + block);
    for (let x = lo; x < hi; x += P) {
      const m = w.iommu.find(x);
      if (m !== undefined) guest.set((m.gpa + x - m.iova) / P);
    }
  }
  return guest;
}

describe("the three dirty-tracking methods against the oracle", () => {
  it("DMA logging at 4 KiB reports exactly the written pages, every round", () => {
    fc.assert(
      fc.property(scenarioArb, ({ mappings, rounds }) => {
        const w = build(mappings);
        const logger = new DmaLogger();
        w.port.attach(logger);
        const ranges = w.iommu.mappings.map((m) => ({ iova: m.iova, length: m.length }));
        expect(logger.start(ranges, P)).toBe(P);
        for (const round of rounds) {
          w.oracle.reset();
          for (const write of round) deviceWrite(w, write);
          const reported = syncLogger(w, logger, ranges, P);
          expect(reported.toPageList()).toEqual(w.oracle.truth.toPageList());
        }
        expect(w.memory.dirtyLog.isEmpty()).toBe(true); // device writes never touch the CPU log
      }),
      { numRuns: FC_RUNS },
    );
  });

  it("DMA logging at coarser page sizes reports a covering superset, within the written blocks", () => {
    const sizes = fc.constantFrom(P, 2 * P, 16 * P, 2 ** 21);
    fc.assert(
      fc.property(
        scenarioArb,
        sizes,
        sizes,
        fc.boolean(),
        ({ mappings, rounds }, hint, reportPageSize, oneRange) => {
          const w = build(mappings);
          const logger = new DmaLogger();
          w.port.attach(logger);
          // One hint-aligned range over the whole IOVA space, or (4 KiB hint only) one range per mapping.
          const ranges =
            oneRange || hint !== P
              ? [{ iova: 0, length: IOVA_SPACE }]
              : w.iommu.mappings.map((m) => ({ iova: m.iova, length: m.length }));
          const chosen = logger.start(ranges, hint);
          expect(chosen).toBe(hint);
          for (const round of rounds) {
            w.oracle.reset();
            w.iovaPages.clear();
            for (const write of round) deviceWrite(w, write);
            const reported = syncLogger(w, logger, ranges, reportPageSize);
            w.oracle.assertCovered(
              reported,
              `DMA logging (hint ${hint}, report ${reportPageSize})`,
            );
            expect(
              reported.isSubsetOf(coarseUpperBound(w, ranges, Math.max(chosen, reportPageSize))),
            ).toBe(true);
          }
        },
      ),
      { numRuns: FC_RUNS },
    );
  });

  it("IOMMU pinned-page tracking reports a superset (pinning devices), all mapped memory (non-pinning)", () => {
    fc.assert(
      fc.property(scenarioArb, fc.boolean(), ({ mappings, rounds }, nonPinning) => {
        const w = build(mappings);
        const pinner = new IommuPagePinner(w.iommu, "vgpu");
        if (nonPinning) w.iommu.registerDevice("passthrough", { pinsPages: false });
        w.iommu.dirtyStart();
        for (const round of rounds) {
          w.oracle.reset();
          for (const write of round) deviceWrite(w, write, pinner);
          const reported = new DirtyBitmap(GUEST_PAGES);
          w.iommu.getDirtyGuestPages(reported);
          w.oracle.assertCovered(reported, "IOMMU pinned pages");
          if (nonPinning) {
            const mapped = new DirtyBitmap(GUEST_PAGES);
            for (const m of w.iommu.mappings) mapped.setRange(m.gpa / P, m.length / P);
            expect(reported.equals(mapped)).toBe(true);
          }
        }
        pinner.release();
        expect(w.iommu.pinnedPages).toBe(0);
      }),
      { numRuns: FC_RUNS },
    );
  });

  it("a vendor-reported bitmap reports exactly the written pages", () => {
    fc.assert(
      fc.property(scenarioArb, ({ mappings, rounds }) => {
        const w = build(mappings);
        const tracker = new VendorDirtyTracker(GUEST_PAGES);
        w.port.attach(tracker);
        tracker.start();
        for (const round of rounds) {
          w.oracle.reset();
          for (const write of round) deviceWrite(w, write);
          const reported = new DirtyBitmap(GUEST_PAGES);
          tracker.readAndClear(reported);
          expect(reported.equals(w.oracle.truth)).toBe(true);
        }
      }),
      { numRuns: FC_RUNS },
    );
  });

  it("the oracle catches a method that loses pages", () => {
    // A deliberately broken tracker (drops every write that crosses a page) must be caught.
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 254 }), (page) => {
        const w = build([{ iovaPage: 0, gpaPage: 0, pages: 256, write: true }]);
        const broken = new VendorDirtyTracker(GUEST_PAGES);
        w.port.attach({
          onDmaWrite: (iova, gpa, length) =>
            length <= P - (gpa % P) ? broken.onDmaWrite(iova, gpa, length) : undefined,
        });
        broken.start();
        w.port.write(page * P + P - 8, new Uint8Array(16));
        const reported = new DirtyBitmap(GUEST_PAGES);
        broken.readAndClear(reported);
        expect(w.oracle.missing(reported)).toEqual([page, page + 1]);
      }),
      { numRuns: 20 },
    );
  });
});
