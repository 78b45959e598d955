import { afterEach, describe, expect, it, vi } from "vitest";
import {
  createHost,
  DirtyBitmap,
  DirtySync,
  MdevError,
  mergeRanges,
  parseVmConfig,
  SimulatedVm,
  type VmConfigInput,
} from "../../src/index.js";

import { dmaToyPlugin } from "../helpers/dma-toy-plugin.js";

const P = 4096;
const vms: SimulatedVm[] = [];
afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
});

async function vmWith(plugin: ReturnType<typeof dmaToyPlugin>, extra: Partial<VmConfigInput> = {}) {
  const config: VmConfigInput = {
    memoryMiB: 4,
    vcpus: 1,
    devices: [{ slot: "00:05.0", plugin: plugin.name, deviceType: "toy" }],
    initialFill: 0,
    ...extra,
  };
  const vm = await SimulatedVm.create(
    parseVmConfig(config),
    createHost({ name: "h", plugins: [plugin] }),
    {
      role: "source",
    },
  );
  vms.push(vm);
  return vm;
}

/**
 * Dirty tracking started on `vm`, with the first sync (the CPU log's initial "all dirty")
 * taken and cleared: what the next sync finds was dirtied from here on.
 */
async function trackingFromNow(vm: SimulatedVm): Promise<{ sync: DirtySync; dirty: DirtyBitmap }> {
  const sync = new DirtySync(vm);
  await sync.start();
  const dirty = new DirtyBitmap(vm.memory.pages);
  await sync.sync(dirty);
  dirty.clear();
  return { sync, dirty };
}

describe("mergeRanges", () => {
  const ranges = [
    { iova: 0, length: P },
    { iova: 2 * P, length: P },
    { iova: 10 * P, length: P },
    { iova: 11 * P + P, length: P },
  ];

  it("closes the smallest gaps first", () => {
    expect(mergeRanges(ranges, 2)).toEqual([
      { iova: 0, length: 3 * P },
      { iova: 10 * P, length: 3 * P },
    ]);
  });

  it("covers every original range, down to one", () => {
    expect(mergeRanges(ranges, 1)).toEqual([{ iova: 0, length: 13 * P }]);
    expect(mergeRanges(ranges, 8)).toEqual(ranges);
  });
});

describe("DirtySync", () => {
  it("starts DMA logging over the IOMMU's mapped ranges, merged when the device tracks fewer", async () => {
    const plugin = dmaToyPlugin({ maxDmaLogRanges: 1 });
    const vm = await vmWith(plugin);
    // Punch two holes into the 1:1 mapping: three ranges the device cannot take at once.
    const size = vm.memory.size;
    vm.iommu.unmap(0, size);
    vm.iommu.map({ iova: 0, gpa: 0, length: 64 * P });
    vm.iommu.map({ iova: 65 * P, gpa: 65 * P, length: 191 * P });
    vm.iommu.map({ iova: 257 * P, gpa: 257 * P, length: size - 257 * P });
    const sync = new DirtySync(vm);
    await sync.start();
    expect(sync.failed.size).toBe(0);
    vm.devices[0]!.driver.tick();
    const dirty = new DirtyBitmap(vm.memory.pages);
    vm.memory.logReadAndClear(dirty); // drop the CPU log's initial "all dirty"
    dirty.clear();
    await sync.sync(dirty);
    expect(dirty.toPageList()).toEqual([16]);
    await sync.stop();
  });

  it("starts and stops a vendor bitmap, and reads it", async () => {
    const plugin = dmaToyPlugin({ dirtyTracking: "vendor-bitmap" });
    const vm = await vmWith(plugin);
    const { sync, dirty } = await trackingFromNow(vm);
    vm.devices[0]!.driver.tick();
    await sync.sync(dirty);
    expect(dirty.toPageList()).toEqual([16]);
    expect(sync.failed.size).toBe(0);
    await sync.stop();
    await expect(
      vm.devices[0]!.driver.reportDirtyPages(dirty.asBigUint64Array()),
    ).rejects.toMatchObject({
      code: "EINVAL",
    });
  });

  it("counts apart the pages the devices reported, which no vCPU throttle reduces", async () => {
    for (const dirtyTracking of ["dma-logging", "vendor-bitmap", "iommu-pinned"] as const) {
      const vm = await vmWith(dmaToyPlugin({ dirtyTracking, ringPages: 4 }));
      const { sync, dirty } = await trackingFromNow(vm);
      // A vCPU writes pages 3 and 16; the device writes page 16, the first of its ring.
      vm.memory.write(3 * P, new Uint8Array([1]));
      vm.memory.write(16 * P + 100, new Uint8Array([1]));
      vm.devices[0]!.driver.tick();
      await sync.sync(dirty);
      // The IOMMU reports every page pinned for the ring (16–19), written or not.
      const byDevice = dirtyTracking === "iommu-pinned" ? [16, 17, 18, 19] : [16];
      expect(dirty.toPageList(), dirtyTracking).toEqual([3, ...byDevice]);
      expect(sync.deviceDirtyPages, dirtyTracking).toBe(byDevice.length);
      await sync.stop();
    }
  });

  it("counts the devices' pages of every sync whose pages the caller has not cleared", async () => {
    const vm = await vmWith(dmaToyPlugin({ dirtyTracking: "dma-logging", ringPages: 4 }));
    const { sync, dirty } = await trackingFromNow(vm);
    vm.devices[0]!.driver.tick();
    await sync.sync(dirty);
    const first = dirty.toPageList();
    // A second sync with no pass between (the switchover's catch-up): the device writes the
    // next page of its ring; both are the devices' share of what is pending.
    vm.devices[0]!.driver.tick();
    await sync.sync(dirty);
    expect(dirty.count()).toBe(first.length + 1);
    expect(sync.deviceDirtyPages).toBe(dirty.count());
    // Sent: a vCPU then writes one of those pages again, which the devices did not report.
    dirty.clear();
    vm.memory.write(first[0]! * P, new Uint8Array([1]));
    await sync.sync(dirty);
    expect(dirty.toPageList()).toEqual(first.slice(0, 1));
    expect(sync.deviceDirtyPages).toBe(0);
    await sync.stop();
  });

  it("counts every page as the devices' once a device's tracking failed", async () => {
    const vm = await vmWith(dmaToyPlugin({ dirtyTracking: "vendor-bitmap" }));
    vi.spyOn(vm.devices[0]!.driver, "vendorDirtyStart").mockRejectedValue(
      new MdevError("EIO", "no bitmap"),
    );
    const sync = new DirtySync(vm);
    await sync.start();
    expect(sync.failed.size).toBe(1);
    const dirty = new DirtyBitmap(vm.memory.pages);
    await sync.sync(dirty);
    expect(sync.deviceDirtyPages).toBe(vm.memory.pages);
    await sync.stop();
  });

  it("a device the VM config sets to another offered method uses it", async () => {
    const plugin = dmaToyPlugin({ offered: ["dma-logging", "vendor-bitmap"] });
    const vm = await vmWith(plugin, {
      devices: [
        { slot: "00:05.0", plugin: plugin.name, deviceType: "toy", dirtyTracking: "vendor-bitmap" },
      ],
    });
    expect(vm.devices[0]!.driver.dirtyTracking).toBe("vendor-bitmap");
  });

  it("a method the plugin does not offer is refused when the VM is built", async () => {
    const plugin = dmaToyPlugin();
    await expect(
      vmWith(plugin, {
        devices: [
          {
            slot: "00:05.0",
            plugin: plugin.name,
            deviceType: "toy",
            dirtyTracking: "vendor-bitmap",
          },
        ],
      }),
    ).rejects.toThrow(/dma-logging, not vendor-bitmap/);
  });
});
