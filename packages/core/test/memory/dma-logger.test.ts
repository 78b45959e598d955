import { describe, expect, it } from "vitest";
import type { DeviceContext } from "../../src/contract/device-context.js";
import { DMA_LOG_MAX_RANGES } from "../../src/contract/dma-log-range.js";
import { isMdevError } from "../../src/errors/index.js";
import { MigFlags } from "../../src/fsm/mig-flags.js";
import {
  DirtyBitmap,
  DirtyOracle,
  DmaLogger,
  DmaPort,
  GuestMemory,
  Iommu,
  PAGE_SIZE,
} from "../../src/memory/index.js";
import { BareDriver } from "../helpers/bare-driver.js";

const P = PAGE_SIZE;

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isMdevError(err) ? err.code : "not an MdevError";
  }
  return undefined;
}

function bitsOf(bitmap: BigUint64Array): number[] {
  const out: number[] = [];
  bitmap.forEach((w, i) => {
    for (let b = 0; b < 64; b++) if ((w >> BigInt(b)) & 1n) out.push(i * 64 + b);
  });
  return out;
}

/** Writes as a DmaPort would report them (gpa is irrelevant to DMA logging). */
function write(logger: DmaLogger, iova: number, length: number): void {
  logger.onDmaWrite(iova, 0, length);
}

describe("DmaLogger START", () => {
  const one = [{ iova: 0x100000, length: 16 * P }];

  it("refuses zero ranges (EINVAL)", () => {
    expect(codeOf(() => new DmaLogger().start([], P))).toBe("EINVAL");
  });
  it("refuses too many ranges (E2BIG)", () => {
    const ranges = Array.from({ length: DMA_LOG_MAX_RANGES + 1 }, (_, i) => ({
      iova: i * 2 * P,
      length: P,
    }));
    expect(codeOf(() => new DmaLogger().start(ranges, P))).toBe("E2BIG");
    expect(new DmaLogger().start(ranges.slice(1), P)).toBe(P);
  });
  it("refuses a misaligned iova (EINVAL)", () => {
    expect(codeOf(() => new DmaLogger().start([{ iova: 0x100800, length: P }], P))).toBe("EINVAL");
  });
  it("refuses a misaligned length (EINVAL)", () => {
    expect(codeOf(() => new DmaLogger().start([{ iova: 0x100000, length: P + 512 }], P))).toBe(
      "EINVAL",
    );
  });
  it("refuses a range that overflows the IOVA space (EOVERFLOW)", () => {
    expect(codeOf(() => new DmaLogger().start([{ iova: 2 ** 53 - 2 * P, length: 4 * P }], P))).toBe(
      "EOVERFLOW",
    );
  });
  it("refuses overlapping ranges (EINVAL)", () => {
    const ranges = [
      { iova: 0x100000, length: 4 * P },
      { iova: 0x100000 + 3 * P, length: 4 * P },
    ];
    expect(codeOf(() => new DmaLogger().start(ranges, P))).toBe("EINVAL");
  });
  it("refuses a second START (EINVAL) until STOP", () => {
    const logger = new DmaLogger();
    logger.start(one, P);
    expect(codeOf(() => logger.start(one, P))).toBe("EINVAL");
    logger.stop();
    logger.start(one, P);
    expect(logger.started).toBe(true);
  });
  it("refuses a page-size hint that is not a power of two", () => {
    expect(codeOf(() => new DmaLogger().start(one, 3 * P))).toBe("EINVAL");
  });
  it("chooses 4 KiB for small hints, honours larger powers of two, coarsens to fit capacity", () => {
    expect(new DmaLogger().start(one, 512)).toBe(P);
    expect(new DmaLogger().start([{ iova: 0, length: 2 ** 21 }], 2 ** 21)).toBe(2 ** 21);
    expect(new DmaLogger({ maxTrackedPages: 4 }).start(one, P)).toBe(4 * P);
  });
  it("tolerates STOP when not started", () => {
    const logger = new DmaLogger();
    logger.stop();
    expect(logger.started).toBe(false);
  });
});

describe("DmaLogger REPORT", () => {
  function started(hint = P): DmaLogger {
    const logger = new DmaLogger();
    logger.start(
      [
        { iova: 0x100000, length: 64 * P },
        { iova: 0x400000, length: 8 * P },
      ],
      hint,
    );
    return logger;
  }

  it("reports written pages and clears them (read-and-clear)", () => {
    const logger = started();
    write(logger, 0x100000 + 3 * P + 100, P); // pages 3 and 4
    write(logger, 0x100000 + 63 * P, 1);
    const bm = new BigUint64Array(1);
    logger.readAndClear(0x100000, 64 * P, P, bm);
    expect(bitsOf(bm)).toEqual([3, 4, 63]);
    const again = new BigUint64Array(1);
    logger.readAndClear(0x100000, 64 * P, P, again);
    expect(bitsOf(again)).toEqual([]);
  });

  it("only sets bits in the caller's bitmap", () => {
    const logger = started();
    write(logger, 0x100000, 1);
    const bm = BigUint64Array.of(1n << 40n);
    logger.readAndClear(0x100000, 64 * P, P, bm);
    expect(bitsOf(bm)).toEqual([0, 40]);
  });

  it("does not track writes outside the logged ranges", () => {
    const logger = started();
    write(logger, 0x100000 - P, P);
    write(logger, 0x200000, P);
    const bm = new BigUint64Array(2);
    logger.readAndClear(0x100000 - 64 * P, 128 * P, P, bm);
    expect(bitsOf(bm)).toEqual([]);
  });

  it("reports part of a range and keeps the rest", () => {
    const logger = started();
    write(logger, 0x100000 + 2 * P, 1);
    write(logger, 0x100000 + 40 * P, 1);
    const first = new BigUint64Array(1);
    logger.readAndClear(0x100000, 32 * P, P, first);
    expect(bitsOf(first)).toEqual([2]);
    const rest = new BigUint64Array(1);
    logger.readAndClear(0x100000 + 32 * P, 32 * P, P, rest);
    expect(bitsOf(rest)).toEqual([8]);
  });

  it("merges bits for a coarser report page size", () => {
    const logger = started();
    write(logger, 0x100000 + 5 * P, 1); // 16 KiB page 1
    write(logger, 0x100000 + 6 * P, 1); // 16 KiB page 1
    write(logger, 0x100000 + 33 * P, 1); // 16 KiB page 8
    const bm = new BigUint64Array(1);
    logger.readAndClear(0x100000, 64 * P, 4 * P, bm);
    expect(bitsOf(bm)).toEqual([1, 8]);
  });

  it("replicates bits when the report is finer than the chosen page size", () => {
    const logger = started(4 * P); // 16 KiB granules
    expect(logger.pageSize).toBe(4 * P);
    write(logger, 0x100000 + 5 * P, 1);
    const bm = new BigUint64Array(1);
    logger.readAndClear(0x100000, 64 * P, P, bm);
    expect(bitsOf(bm)).toEqual([4, 5, 6, 7]);
  });

  it("keeps a coarse granule dirty when a report covers only part of it", () => {
    const logger = started(8 * P); // 32 KiB granules
    write(logger, 0x100000 + 5 * P, 1);
    const a = new BigUint64Array(1);
    logger.readAndClear(0x100000, 4 * P, P, a); // first half of granule 0
    expect(bitsOf(a)).toEqual([0, 1, 2, 3]);
    const b = new BigUint64Array(1);
    logger.readAndClear(0x100000 + 4 * P, 4 * P, P, b); // the written half: reported, still not cleared
    expect(bitsOf(b)).toEqual([0, 1, 2, 3]);
    const c = new BigUint64Array(1);
    logger.readAndClear(0x100000, 8 * P, P, c); // a report covering the whole granule gets it, and clears it
    expect(bitsOf(c)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const d = new BigUint64Array(1);
    logger.readAndClear(0x100000, 8 * P, P, d);
    expect(bitsOf(d)).toEqual([]);
  });

  it("numbers bits from the report's iova, even unaligned", () => {
    const logger = started();
    write(logger, 0x400000 + 2 * P, 1);
    const bm = new BigUint64Array(1);
    // bit n = (a - iova) / P: dirty page 0x402000..0x403000 straddles report pages 0 and 1.
    logger.readAndClear(0x400000 + P + 0x800, 4 * P, P, bm);
    expect(bitsOf(bm)).toEqual([0, 1]);
  });

  it("validates page size, overflow, bitmap size and state", () => {
    const logger = started();
    const bm = new BigUint64Array(1);
    expect(codeOf(() => logger.readAndClear(0x100000, P, 2048, bm))).toBe("EINVAL");
    expect(codeOf(() => logger.readAndClear(0x100000, P, 3 * P, bm))).toBe("EINVAL");
    expect(codeOf(() => logger.readAndClear(0x100000, P, 0, bm))).toBe("EINVAL");
    expect(codeOf(() => logger.readAndClear(2 ** 53 - P, 2 * P, P, bm))).toBe("EOVERFLOW");
    expect(codeOf(() => logger.readAndClear(-P, P, P, bm))).toBe("EOVERFLOW");
    expect(codeOf(() => logger.readAndClear(0x100000, 65 * P, P, bm))).toBe("EINVAL");
    logger.readAndClear(0x100000, 2 ** 21, 2 ** 21, bm); // a large page size is fine
    logger.stop();
    expect(codeOf(() => logger.readAndClear(0x100000, P, P, bm))).toBe("EINVAL");
  });

  it("STOP forgets all dirty state", () => {
    const logger = started();
    write(logger, 0x100000, 1);
    logger.stop();
    logger.start([{ iova: 0x100000, length: 64 * P }], P);
    const bm = new BigUint64Array(1);
    logger.readAndClear(0x100000, 64 * P, P, bm);
    expect(bitsOf(bm)).toEqual([]);
  });
});

describe("DmaLogger behind AbstractVendorDriver", () => {
  it("serves a dma-logging device's log from the writes its DMA helper makes", async () => {
    class LoggingDevice extends BareDriver {
      constructor(ctx: DeviceContext) {
        super(ctx, { maxStateBytes: 64 });
      }
      write(iova: number, data: Uint8Array): boolean {
        return this.dmaWrite(iova, data);
      }
    }

    const memory = GuestMemory.create({ size: 64 * P });
    const iommu = new Iommu({ guestSize: memory.size });
    iommu.map({ iova: 0x100000, gpa: 0, length: 64 * P });
    const port = new DmaPort(iommu, memory);
    const oracle = new DirtyOracle(64);
    port.attach(oracle);
    const ctx = {
      slot: "00:03.0",
      deviceType: "test",
      migrationFlags: MigFlags.STOP_COPY,
      dirtyTracking: "dma-logging",
      guestMemory: { size: memory.size, pages: memory.pages, pageSize: P },
      options: {},
      dma: port,
      irq: { count: 0, raise: () => {} },
      clock: { nowNs: () => 0n },
      seed: 1,
    } satisfies DeviceContext;
    const device = new LoggingDevice(ctx);
    expect(await device.logStart([{ iova: 0x100000, length: 64 * P }], P)).toBe(P);
    await expect(device.logStart([{ iova: 0x100000, length: 64 * P }], P)).rejects.toThrow(
      /EINVAL/,
    );
    expect(device.write(0x100000 + 7 * P, new Uint8Array(P + 1))).toBe(true);
    const bitmap = new BigUint64Array(1);
    await device.logReadAndClear(0x100000, 64 * P, P, bitmap);
    const guest = new DirtyBitmap(64);
    iommu.iovaBitmapToGuest(0x100000, 64 * P, P, bitmap, guest);
    expect(guest.equals(oracle.truth)).toBe(true);
    expect(guest.toPageList()).toEqual([7, 8]);
    await device.logStop();
    await device.logStop(); // tolerated
  });
});
