import { fakeDeviceContext } from "@mdevkit/conformance";
import {
  DirtyBitmap,
  DirtyOracle,
  DmaPort,
  driveTransition,
  GuestMemory,
  Iommu,
  MigState,
} from "@mdevkit/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MttyDriver, mttyPlugin, Reg } from "../src/index.js";
import { CountingIrq, makeDevice, type TestDevice } from "./helpers.js";

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

  it("reports exactly the DMA'd pages inside the logged range, for any ring and report geometry (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: MEM - (1 << 16) }), // ring base
        fc.integer({ min: 1, max: 1 << 16 }), // ring size
        fc.array(fc.integer({ min: 1, max: 9000 }), { maxLength: 12 }), // received batches
        fc.integer({ min: 0, max: 0x3ff }), // logged range start page
        fc.integer({ min: 1, max: 0x400 }), // logged range pages
        fc.integer({ min: 0, max: 0x3ff }), // report start page
        fc.integer({ min: 1, max: 0x400 }), // report pages
        fc.constantFrom(4096, 8192, 65536, 2 << 20),
        async (base, size, batches, rangePage, rangePages, reportPage, reportPages, pageSize) => {
          const dev = makeDevice("mtty-1", 5);
          const range = {
            iova: rangePage * 4096,
            length: Math.min(rangePages, 0x400 - rangePage) * 4096,
          };
          await dev.driver.logStart([range], 4096);
          ringAt(dev, base, size);
          for (const n of batches) dev.driver.receive(0, new Uint8Array(n));
          // The model: 4 KiB pages the fake IOMMU saw written, clipped to the logged range.
          const dirty = [...writtenPages(dev)].filter(
            (p) => p * 4096 >= range.iova && p * 4096 < range.iova + range.length,
          );
          const iova = reportPage * 4096;
          const length = reportPages * 4096;
          const inReport = (p: number) => p * 4096 >= iova && p * 4096 < iova + length;
          const expected = new Set(
            dirty.filter(inReport).map((p) => Math.floor((p * 4096 - iova) / pageSize)),
          );
          expect(await report(dev, iova, length, pageSize)).toEqual(
            [...expected].sort((x, y) => x - y),
          );
          // Read-and-clear: what was reported is gone, what lay outside the report remains.
          const left = dirty.filter((p) => !inReport(p)).sort((x, y) => x - y);
          expect(await report(dev, 0, MEM, 4096)).toEqual(left);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("with core's real IOMMU and DmaPort", () => {
  it("the device's log covers every page the DirtyOracle saw written", async () => {
    const size = 1 << 22;
    const memory = GuestMemory.create({ size });
    const iommu = new Iommu({ guestSize: size });
    iommu.map({ iova: 0, gpa: 0, length: size, read: true, write: true }); // identity: IOVA pages = guest pages
    const port = new DmaPort(iommu, memory);
    const oracle = new DirtyOracle(size / 4096);
    port.attach(oracle);
    const irq = new CountingIrq();
    const driver = new MttyDriver(
      fakeDeviceContext(mttyPlugin, {
        deviceType: "mtty-4",
        dma: port,
        irq,
        slot: "00:05.0",
        seed: 77,
      }),
    );
    await driver.logStart([{ iova: 0, length: size }], 4096);
    for (let p = 0; p < 4; p++) {
      driver.writeRegister(p, Reg.RING_BASE_LO, 0x1000 + p * 0x7_3000);
      driver.writeRegister(p, Reg.RING_SIZE, 0x2_0000 + p * 0x800);
    }
    driver.tick(30_000);
    const reported = new DirtyBitmap(size / 4096);
    await driver.logReadAndClear(0, size, 4096, reported.asBigUint64Array());
    expect(oracle.truth.toPageList().length).toBeGreaterThan(16); // the rings wrapped over many pages
    oracle.assertCovered(reported, "mtty DMA logging");
    expect(reported.toPageList()).toEqual(oracle.truth.toPageList());
  });
});
