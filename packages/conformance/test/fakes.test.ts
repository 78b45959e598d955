import { isMdevError, MigFlags, type VendorPlugin } from "@mdevkit/core";
import { describe, expect, it } from "vitest";
import { FakeDma, fakeDeviceContext } from "../src/index.js";
import { createToyPlugin } from "./fixtures/toy-plugin.js";

describe("FakeDma", () => {
  it("records every access and keeps what was written", () => {
    const dma = new FakeDma(8192);
    dma.write(4094, Uint8Array.of(1, 2, 3));
    expect(dma.read(4095, 2)).toEqual(Uint8Array.of(2, 3));
    expect(dma.writes).toEqual([{ iova: 4094, length: 3 }]);
    expect(dma.reads).toEqual([{ iova: 4095, length: 2 }]);
  });

  it("refuses accesses outside its memory with a typed EFAULT and records nothing", () => {
    const dma = new FakeDma(4096);
    for (const access of [() => dma.write(4095, Uint8Array.of(1, 2)), () => dma.read(-1, 1)]) {
      let err: unknown;
      try {
        access();
      } catch (e) {
        err = e;
      }
      expect(isMdevError(err, "EFAULT")).toBe(true);
    }
    expect(dma.writes).toEqual([]);
    expect(dma.reads).toEqual([]);
  });
});

describe("fakeDeviceContext", () => {
  const toy: VendorPlugin = createToyPlugin({ flags: MigFlags.STOP_COPY });

  it("fills the context as the host does for the plugin", () => {
    const dma = new FakeDma(1 << 16);
    const ctx = fakeDeviceContext(toy, { deviceType: "toy-1", dma, seed: 9 });
    expect(ctx.migrationFlags).toBe(MigFlags.STOP_COPY);
    expect(ctx.dirtyTracking).toBe("dma-logging");
    expect(ctx.guestMemory).toEqual({ size: 1 << 16, pages: 16, pageSize: 4096 });
    expect([ctx.seed, ctx.deviceType, ctx.dma]).toEqual([9, "toy-1", dma]);
    expect(ctx.clock.nowNs()).toBe(0n);
  });

  it("takes the host's dirty-tracking choice among the offered methods, and refuses others", () => {
    const ctx = fakeDeviceContext(toy, { deviceType: "toy-1", dirtyTracking: "vendor-bitmap" });
    expect(ctx.dirtyTracking).toBe("vendor-bitmap");
    const dmaOnly = createToyPlugin({ dirtyTracking: ["dma-logging"] });
    expect(() =>
      fakeDeviceContext(dmaOnly, { deviceType: "toy-1", dirtyTracking: "iommu-pinned" }),
    ).toThrow(/track dirty pages by dma-logging, not iommu-pinned/);
  });

  it("passes an unknown device type through, for the driver to refuse", () => {
    expect(fakeDeviceContext(toy, { deviceType: "toy-9" }).deviceType).toBe("toy-9");
    expect(() => fakeDeviceContext(toy, { deviceType: "toy-1", memoryBytes: 100 })).toThrow(
      /not a whole number of pages/,
    );
  });
});
