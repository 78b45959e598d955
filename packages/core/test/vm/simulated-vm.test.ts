import { afterEach, describe, expect, it } from "vitest";
import { createHost, MdevError } from "../../src/index.js";
import { DirtyBitmap } from "../../src/memory/index.js";
import { parseVmConfig, SimulatedVm, vmConfigJsonSchema } from "../../src/vm/index.js";
import { expectGuestWrites, PROGRESS_TIMEOUT } from "../helpers/guest-progress.js";

const host = createHost({ name: "vm-test" });
let vm: SimulatedVm | undefined;

afterEach(async () => {
  await vm?.destroy();
  vm = undefined;
});

describe("VM config", () => {
  it("applies defaults and validates", () => {
    const cfg = parseVmConfig({ memoryMiB: 16 });
    expect(cfg).toMatchObject({ name: "vm", vcpus: 1, devices: [], workloads: [], seed: 1 });
  });
  it("names every problem", () => {
    expect(() =>
      parseVmConfig({
        memoryMiB: 0,
        vcpus: 1,
        workloads: [{ pattern: "uniform", pagesPerSecond: 1 }, { pattern: "idle" }],
        devices: [
          { slot: "00:02.0", plugin: "x", deviceType: "y" },
          { slot: "00:02.0", plugin: "x", deviceType: "y" },
        ],
      }),
    ).toThrow(
      /memoryMiB.*devices\.1\.slot: slot 00:02\.0 is used twice.*workloads: 2 workloads for 1 vCPUs/,
    );
    expect(() =>
      parseVmConfig({ memoryMiB: 8, devices: [{ slot: "2", plugin: "x", deviceType: "y" }] }),
    ).toThrow(/devices\.0\.slot: must be a PCI slot/);
  });
  it("exports a JSON Schema for editors", () => {
    const schema = vmConfigJsonSchema();
    expect(schema).toHaveProperty("properties.memoryMiB");
    expect(JSON.stringify(schema)).toContain("hot-set");
  });
});

describe("SimulatedVm", () => {
  it("fills a source VM deterministically and leaves the rest zero", async () => {
    const cfg = parseVmConfig({ memoryMiB: 4, initialFill: 0.5, seed: 7 });
    vm = await SimulatedVm.create(cfg, host, { role: "source" });
    const other = await SimulatedVm.create(cfg, host, { role: "source" });
    let zero = 0;
    for (let pfn = 0; pfn < vm.memory.pages; pfn++) {
      if (vm.memory.isZeroPage(pfn)) zero++;
      expect(Buffer.compare(vm.memory.pageView(pfn), other.memory.pageView(pfn))).toBe(0);
    }
    await other.destroy();
    expect(zero / vm.memory.pages).toBeGreaterThan(0.35);
    expect(zero / vm.memory.pages).toBeLessThan(0.65);
  });

  it("vCPUs dirty RAM while running and not at all once paused", async () => {
    const cfg = parseVmConfig({
      memoryMiB: 8,
      vcpus: 2,
      initialFill: 0,
      workloads: [
        { pattern: "uniform", pagesPerSecond: 200_000 },
        { pattern: "sequential", pagesPerSecond: 50_000 },
      ],
    });
    vm = await SimulatedVm.create(cfg, host, { role: "source" });
    await vm.start();
    const running = vm;
    await expect.poll(() => running.vcpuWrites, PROGRESS_TIMEOUT).toBeGreaterThanOrEqual(1000);
    await vm.pause();
    const seen = new DirtyBitmap(vm.memory.pages);
    vm.memory.logReadAndClear(seen);
    expect(seen.count()).toBeGreaterThan(100);
    const writes = vm.vcpuWrites;
    await new Promise((r) => setTimeout(r, 50));
    expect(vm.vcpuWrites).toBe(writes);
    const after = new DirtyBitmap(vm.memory.pages);
    expect(vm.memory.logReadAndClear(after)).toBe(0);
    await vm.resume();
    await expectGuestWrites(running);
  });

  it("a pause taken while a vCPU sleeps between batches holds, and resume always runs it again", async () => {
    // Slow enough that the vCPUs sleep between batches most of the time, so most pauses are
    // taken by exchanging their SLEEPING state, racing their wake-ups; an idle vCPU sleeps
    // until its next command.
    const cfg = parseVmConfig({
      memoryMiB: 8,
      vcpus: 2,
      initialFill: 0,
      workloads: [{ pattern: "uniform", pagesPerSecond: 20_000 }, { pattern: "idle" }],
    });
    vm = await SimulatedVm.create(cfg, host, { role: "source" });
    await vm.start();
    const running = vm;
    const grew = async (from: number): Promise<boolean> => {
      const deadline = performance.now() + PROGRESS_TIMEOUT.timeout;
      while (performance.now() < deadline) {
        if (running.vcpuWrites > from) return true;
        await new Promise((r) => setTimeout(r, 1));
      }
      return false;
    };
    for (let cycle = 0; cycle < 100; cycle++) {
      expect(await grew(running.vcpuWrites), `cycle ${cycle}: writes after resume`).toBe(true);
      await running.pause();
      const writes = running.vcpuWrites;
      running.memory.logReadAndClear(new DirtyBitmap(running.memory.pages));
      // Past the vCPU's 1 ms sleep: a write the pause failed to stop would land here.
      await new Promise((r) => setTimeout(r, 2));
      expect(running.vcpuWrites, `cycle ${cycle}: writes while paused`).toBe(writes);
      expect(running.memory.logReadAndClear(new DirtyBitmap(running.memory.pages))).toBe(0);
      await running.resume();
    }
  });

  it("throttling slows the vCPUs", async () => {
    const rate = 100_000;
    const cfg = parseVmConfig({
      memoryMiB: 8,
      initialFill: 0,
      workloads: [{ pattern: "uniform", pagesPerSecond: rate }],
    });
    vm = await SimulatedVm.create(cfg, host, { role: "source" });
    await vm.start();
    vm.setThrottle(90);
    // Let credit earned before the throttle drain (the worker caps it at 10 ms of writes).
    await new Promise((r) => setTimeout(r, 50));
    const base = vm.vcpuWrites;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 200));
    const elapsedS = (performance.now() - t0) / 1000;
    // Held off 90% of the time: at most a tenth of the rate over the measured window,
    // plus the worker's backlog cap; timers firing late on a loaded machine only widen the
    // window, so the bound holds whatever the load.
    expect(vm.vcpuWrites - base).toBeLessThanOrEqual(rate * 0.1 * elapsedS + rate / 100 + 64);
    vm.setThrottle(0);
    await expectGuestWrites(vm);
  });

  it("refuses a device whose plugin is not registered", async () => {
    const cfg = parseVmConfig({
      memoryMiB: 4,
      devices: [{ slot: "00:03.0", plugin: "nope", deviceType: "x" }],
    });
    await expect(SimulatedVm.create(cfg, host, { role: "source" })).rejects.toThrow(MdevError);
  });
});
