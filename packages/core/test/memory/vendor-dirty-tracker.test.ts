import { describe, expect, it } from "vitest";
import {
  DirtyBitmap,
  DmaPort,
  GuestMemory,
  Iommu,
  PAGE_SIZE,
  VendorDirtyTracker,
} from "../../src/memory/index.js";

describe("VendorDirtyTracker", () => {
  it("collects frames the driver reports and its own DMA writes, read-and-clear", () => {
    const memory = GuestMemory.create({ size: 128 * PAGE_SIZE });
    const iommu = new Iommu({ guestSize: memory.size });
    iommu.map({ iova: 0x1000_0000, gpa: 64 * PAGE_SIZE, length: 16 * PAGE_SIZE });
    const port = new DmaPort(iommu, memory);
    const tracker = new VendorDirtyTracker(memory.pages);
    port.attach(tracker);
    tracker.start();
    tracker.markFrames(3);
    tracker.markFrames(10, 3);
    tracker.markGpa(20 * PAGE_SIZE + 4095, 2);
    port.write(0x1000_0000 + PAGE_SIZE, new Uint8Array(10)); // vfio_dma_rw-style write → guest page 65
    const into = new DirtyBitmap(memory.pages);
    expect(tracker.readAndClear(into)).toBe(7);
    expect(into.toPageList()).toEqual([3, 10, 11, 12, 20, 21, 65]);
    into.clear();
    expect(tracker.readAndClear(into)).toBe(0);
  });

  it("keeps nothing while stopped and refuses reads then", () => {
    const tracker = new VendorDirtyTracker(16);
    tracker.markFrames(1);
    expect(() => tracker.readAndClear(new DirtyBitmap(16))).toThrow(/EINVAL/);
    tracker.start();
    const into = new DirtyBitmap(16);
    tracker.readAndClear(into);
    expect(into.isEmpty()).toBe(true);
    tracker.markFrames(2);
    tracker.stop();
    tracker.start();
    tracker.readAndClear(into);
    expect(into.isEmpty()).toBe(true);
  });

  it("bounds frames and addresses", () => {
    const tracker = new VendorDirtyTracker(16);
    tracker.start();
    expect(() => tracker.markFrames(16)).toThrow(/EINVAL/);
    expect(() => tracker.markFrames(15, 2)).toThrow(/EINVAL/);
    expect(() => tracker.markGpa(-1, 1)).toThrow(/EINVAL/);
    expect(() => tracker.markGpa(16 * PAGE_SIZE, 1)).toThrow(/EINVAL/);
  });
});
