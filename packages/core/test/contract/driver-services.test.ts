import { describe, expect, it } from "vitest";
import {
  type DeviceContext,
  type DmaAccess,
  driveTransition,
  MdevError,
  MigFlags,
  MigState,
} from "../../src/index.js";
import { BareDriver } from "../helpers/bare-driver.js";
import { inertContext } from "../helpers/toy-driver.js";

const P = 4096;

/** A DMA port over 64 pages that faults above page 48, recording every landed write. */
function fakeDma(): DmaAccess & { writes: number[] } {
  const writes: number[] = [];
  return {
    writes,
    read: (_iova, length) => new Uint8Array(length),
    write: (iova) => {
      if (iova >= 48 * P) throw new MdevError("EFAULT", `IOVA ${iova} is not mapped`);
      writes.push(iova);
    },
  };
}

/** A device whose tick DMAs one byte to the page it is told. */
class Writer extends BareDriver {
  page = 0;
  ticks = 0;
  faults = 0;
  constructor(ctx: DeviceContext, narrow?: number) {
    super(ctx, {
      maxStateBytes: 8,
      ...(narrow === undefined ? {} : { migrationFlags: narrow }),
      maxDmaLogRanges: 2,
    });
  }
  override get running(): boolean {
    return super.running;
  }
  write(page: number): boolean {
    return this.dmaWrite(page * P, Uint8Array.of(1));
  }
  mark(gfn: number, count: number): void {
    this.markDirty(gfn, count);
  }
  protected override _tick(): void {
    this.ticks++;
    if (!this.write(this.page)) this.faults++;
  }
}

function pagesOf(bitmap: BigUint64Array): number[] {
  const out: number[] = [];
  bitmap.forEach((w, i) => {
    for (let b = 0; b < 64; b++) if ((w >> BigInt(b)) & 1n) out.push(i * 64 + b);
  });
  return out;
}

describe("AbstractVendorDriver: services every device shares", () => {
  it("tick runs the device's work only while it runs", async () => {
    const d = new Writer(inertContext({ dma: fakeDma() }));
    d.tick();
    await driveTransition(d, MigState.STOP);
    expect(d.running).toBe(false);
    d.tick();
    await driveTransition(d, MigState.RESUMING);
    d.tick();
    await driveTransition(d, MigState.STOP);
    await driveTransition(d, MigState.RUNNING);
    d.tick();
    expect(d.ticks).toBe(2);
  });

  it("a reset device runs again", async () => {
    const d = new Writer(inertContext({ dma: fakeDma() }));
    await driveTransition(d, MigState.STOP);
    await d.reset();
    expect(d.running).toBe(true);
    d.tick();
    expect(d.ticks).toBe(1);
  });

  it("the DMA helper refuses to write for a stopped device (a driver bug)", async () => {
    const d = new Writer(inertContext({ dma: fakeDma() }));
    await driveTransition(d, MigState.STOP);
    expect(() => d.write(1)).toThrow(/EIO.*stopped/);
  });

  it("the DMA helper turns an IOMMU fault into false and still logs the page", async () => {
    const dma = fakeDma();
    const d = new Writer(inertContext({ dma }));
    await d.logStart([{ iova: 0, length: 64 * P }], P);
    expect(d.write(50)).toBe(false);
    expect(d.write(3)).toBe(true);
    const bitmap = new BigUint64Array(1);
    await d.logReadAndClear(0, 64 * P, P, bitmap);
    expect(pagesOf(bitmap)).toEqual([3, 50]);
    expect(dma.writes).toEqual([3 * P]);
  });

  it("a vendor-bitmap device reports what its DMA wrote and what it marked, once", async () => {
    const d = new Writer(inertContext({ dma: fakeDma(), dirtyTracking: "vendor-bitmap" }));
    d.write(1); // before start: not tracked
    await d.vendorDirtyStart();
    d.write(5);
    d.mark(9, 2);
    d.mark(63, 5); // clipped to guest RAM
    const bitmap = new BigUint64Array(1);
    await d.reportDirtyPages(bitmap);
    expect(pagesOf(bitmap)).toEqual([5, 9, 10, 63]);
    const again = new BigUint64Array(1);
    await d.reportDirtyPages(again);
    expect(pagesOf(again)).toEqual([]);
    await d.vendorDirtyStop();
    await expect(d.reportDirtyPages(again)).rejects.toMatchObject({ code: "EINVAL" });
  });

  it("refuses a method the device was not given", async () => {
    const logging = new Writer(inertContext({ dma: fakeDma() }));
    await expect(logging.vendorDirtyStart()).rejects.toMatchObject({ code: "ENOTSUP" });
    await expect(logging.reportDirtyPages(new BigUint64Array(1))).rejects.toMatchObject({
      code: "ENOTSUP",
    });
    const vendor = new Writer(inertContext({ dma: fakeDma(), dirtyTracking: "vendor-bitmap" }));
    await expect(vendor.logStart([{ iova: 0, length: P }], P)).rejects.toMatchObject({
      code: "ENOTSUP",
    });
  });

  it("a report bitmap must hold every guest page", async () => {
    const d = new Writer(
      inertContext({
        dma: fakeDma(),
        dirtyTracking: "vendor-bitmap",
        guestMemory: { size: 128 * P, pages: 128, pageSize: P },
      }),
    );
    await d.vendorDirtyStart();
    await expect(d.reportDirtyPages(new BigUint64Array(1))).rejects.toMatchObject({
      code: "EINVAL",
    });
  });

  it("DMA logging START above the device's range limit is E2BIG", async () => {
    const d = new Writer(inertContext({ dma: fakeDma() }));
    const three = [0, 8, 16].map((p) => ({ iova: p * P, length: P }));
    await expect(d.logStart(three, P)).rejects.toMatchObject({ code: "E2BIG" });
    expect(await d.logStart(three.slice(0, 2), P)).toBe(P);
  });

  it("a driver may narrow the plugin's flags, never widen them", () => {
    const ctx = inertContext({ migrationFlags: MigFlags.STOP_COPY | MigFlags.PRE_COPY });
    expect(new Writer(ctx, MigFlags.STOP_COPY).migrationFlags).toBe(MigFlags.STOP_COPY);
    expect(new Writer(ctx).migrationFlags).toBe(MigFlags.STOP_COPY | MigFlags.PRE_COPY);
    expect(() => new Writer(ctx, MigFlags.STOP_COPY | MigFlags.P2P)).toThrow(/not within/);
  });
});
