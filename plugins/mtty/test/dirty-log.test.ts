import "reflect-metadata";
import { driveTransition, MigState } from "@mdevkit/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DirtyPageLog, Reg } from "../src/index.js";
import { makeDevice, type TestDevice } from "./helpers.js";

const MEM = 1 << 22; // FakeDma's 4 MiB

/** Bits set in a report bitmap, as page indices. */
function setBits(bitmap: BigUint64Array): number[] {
  const out: number[] = [];
  bitmap.forEach((word, w) => {
    for (let b = 0; b < 64; b++) if ((word >> BigInt(b)) & 1n) out.push(w * 64 + b);
  });
  return out;
}

/** 4 KiB pages the fake IOMMU saw written. */
function writtenPages(dev: TestDevice): Set<number> {
  const pages = new Set<number>();
  for (const { iova, length } of dev.dma.writes) {
    for (let p = Math.floor(iova / 4096); p <= Math.floor((iova + length - 1) / 4096); p++)
      pages.add(p);
  }
  return pages;
}

async function report(dev: TestDevice, iova = 0, length = MEM, pageSize = 4096): Promise<number[]> {
  const bitmap = new BigUint64Array(Math.ceil(length / pageSize / 64));
  await dev.driver.logReadAndClear(iova, length, pageSize, bitmap);
  return setBits(bitmap);
}

function ringAt(dev: TestDevice, base: number, size: number): void {
  dev.driver.writeRegister(0, Reg.RING_BASE_LO, base);
  dev.driver.writeRegister(0, Reg.RING_SIZE, size);
}

describe("device DMA logging", () => {
  it("reports every page the device DMA'd, then clears them", async () => {
    const dev = makeDevice("mtty-1", 17);
    expect(await dev.driver.logStart([{ iova: 0, length: MEM }], 4096)).toBe(4096);
    ringAt(dev, 0x3f00, 3 * 4096); // starts mid-page, spans four pages
    dev.driver.tick(10_000); // ~20 KB through a 12 KiB ring: wraps
    const expected = [...writtenPages(dev)].sort((a, b) => a - b);
    expect(expected).toEqual([3, 4, 5, 6]);
    expect(await report(dev)).toEqual(expected);
    expect(await report(dev)).toEqual([]);
  });

  it("the report after STOP holds the last writes before it (the final sync is complete)", async () => {
    const dev = makeDevice("mtty-1", 17);
    await dev.driver.logStart([{ iova: 0, length: MEM }], 4096);
    ringAt(dev, 0x8000, 64);
    dev.driver.tick(1);
    await driveTransition(dev.driver, MigState.STOP);
    expect(await report(dev)).toEqual([8]);
    dev.driver.tick(5); // stopped: nothing new
    expect(await report(dev)).toEqual([]);
  });

  it("ignores writes outside the logged ranges", async () => {
    const dev = makeDevice("mtty-1", 17);
    await dev.driver.logStart(
      [
        { iova: 0x10000, length: 0x2000 },
        { iova: 0x20000, length: 0x1000 },
      ],
      4096,
    );
    ringAt(dev, 0x10800, 0x10000); // runs from page 0x10 across 0x11 … 0x20
    for (let i = 0; i < 300; i++) dev.driver.receive(0, new Uint8Array(0x100));
    expect(await report(dev)).toEqual([0x10, 0x11, 0x20]);
  });

  it("only sets bits, and reports relative to the requested IOVA", async () => {
    const dev = makeDevice("mtty-1");
    await dev.driver.logStart([{ iova: 0, length: MEM }], 4096);
    ringAt(dev, 0x5000, 16);
    dev.driver.receive(0, Uint8Array.of(1));
    const bitmap = new BigUint64Array(1);
    bitmap[0] = 1n << 63n;
    await dev.driver.logReadAndClear(0x4000, 0x10000, 4096, bitmap);
    expect(setBits(bitmap)).toEqual([1, 63]);
  });

  it("merges into coarser report pages and replicates over finer ones", async () => {
    const dev = makeDevice("mtty-1");
    // Tracking at 64 KiB (the hint), reported at 4 KiB: one write dirties 16 report pages.
    expect(await dev.driver.logStart([{ iova: 0, length: MEM }], 0x10000)).toBe(0x10000);
    ringAt(dev, 0x23000, 16);
    dev.driver.receive(0, Uint8Array.of(1));
    expect(await report(dev, 0, MEM, 4096)).toEqual(Array.from({ length: 16 }, (_, i) => 0x20 + i));
    // Reported at 2 MiB: everything in the first 2 MiB is one bit.
    dev.driver.receive(0, Uint8Array.of(2));
    expect(await report(dev, 0, MEM, 2 << 20)).toEqual([0]);
  });

  it("a hint below 4 KiB is raised to 4 KiB; a second START and reads after STOP are refused", async () => {
    const dev = makeDevice("mtty-1");
    expect(await dev.driver.logStart([{ iova: 0, length: 0x1000 }], 1024)).toBe(4096);
    await expect(dev.driver.logStart([{ iova: 0, length: 0x1000 }], 4096)).rejects.toThrow(
      /already started/,
    );
    await dev.driver.logStop();
    await expect(report(dev)).rejects.toThrow(/not started/);
    // Restart forgets the old log.
    await dev.driver.logStart([{ iova: 0, length: MEM }], 4096);
    expect(await report(dev)).toEqual([]);
  });

  it("matches a page-set model for any write pattern, range and report geometry (property)", () => {
    const write = fc.record({
      iova: fc.integer({ min: 0, max: MEM - 1 }),
      length: fc.integer({ min: 1, max: 20000 }),
    });
    fc.assert(
      fc.property(
        fc.array(write, { maxLength: 30 }),
        fc.integer({ min: 0, max: 0x3ff }), // logged range start page
        fc.integer({ min: 1, max: 0x400 }), // logged range pages
        fc.integer({ min: 0, max: 0x3ff }), // report start page
        fc.integer({ min: 1, max: 0x400 }), // report pages
        fc.constantFrom(4096, 8192, 65536, 2 << 20),
        (writes, rangePage, rangePages, reportPage, reportPages, pageSize) => {
          const log = new DirtyPageLog();
          const range = { iova: rangePage * 4096, length: rangePages * 4096 };
          log.start([range], 4096);
          const dirty = new Set<number>();
          for (const w of writes) {
            log.record(w.iova, w.length);
            const from = Math.max(w.iova, range.iova);
            const to = Math.min(w.iova + w.length, range.iova + range.length);
            for (let a = from; a < to; a += 1) dirty.add(Math.floor(a / 4096));
          }
          const iova = reportPage * 4096;
          const length = reportPages * 4096;
          const bitmap = new BigUint64Array(Math.ceil(Math.ceil(length / pageSize) / 64));
          log.readAndClear(iova, length, pageSize, bitmap);
          const expected = new Set<number>();
          for (const p of dirty) {
            const a = p * 4096;
            if (a >= iova && a < iova + length) expected.add(Math.floor((a - iova) / pageSize));
          }
          expect(setBits(bitmap)).toEqual([...expected].sort((x, y) => x - y));
          // What was reported is gone; what lay outside the report remains.
          const again = new BigUint64Array(Math.ceil((2 * MEM) / 4096 / 64));
          log.readAndClear(0, 2 * MEM, 4096, again);
          const left = [...dirty].filter((p) => p * 4096 < iova || p * 4096 >= iova + length);
          expect(setBits(again)).toEqual(left.sort((x, y) => x - y));
        },
      ),
      { numRuns: 200 },
    );
  });
});
