// TargetCapacity: the one place a target decides what it hosts — the memory budget, the
// preallocated RAM's size, one VM loading at a time — before anything is allocated.
import { describe, expect, it, vi } from "vitest";
import { GuestMemory, parseVmConfig, TargetCapacity } from "../../../src/index.js";

const vm = (memoryMiB: number) => parseVmConfig({ memoryMiB });
const MIB = 2 ** 20;

describe("TargetCapacity", () => {
  it("admits a VM within the budget and refuses one over it with ENOMEM, naming both sizes", () => {
    const capacity = new TargetCapacity({ maxMemoryMiB: 64 });
    expect(() => capacity.admit(vm(2048))).toThrow(
      expect.objectContaining({
        code: "ENOMEM",
        message: expect.stringMatching(/2048 MiB .* memory budget is 64 MiB/),
      }),
    );
    expect(capacity.loading).toBe(false);
    expect(capacity.hostedMiB).toBe(0);
    const admission = capacity.admit(vm(64));
    expect(admission.memory).toBeUndefined();
    expect(capacity.hostedMiB).toBe(64);
  });

  it("lets one VM load at a time: a second is EBUSY until the first runs or is discarded", async () => {
    const capacity = new TargetCapacity({ maxMemoryMiB: 64 });
    const first = capacity.admit(vm(8));
    expect(() => capacity.admit(vm(8))).toThrow(expect.objectContaining({ code: "EBUSY" }));
    await first.discard();
    expect(capacity.hostedMiB).toBe(0);
    const second = capacity.admit(vm(8));
    second.running(GuestMemory.create({ size: 8 * MIB }));
    expect(capacity.loading).toBe(false);
    expect(capacity.admit(vm(8))).toBeDefined();
  });

  it("counts running VMs against the budget until released", async () => {
    const capacity = new TargetCapacity({ maxMemoryMiB: 16 });
    const memory = GuestMemory.create({ size: 12 * MIB });
    capacity.admit(vm(12)).running(memory);
    expect(() => capacity.admit(vm(8))).toThrow(
      expect.objectContaining({
        code: "ENOMEM",
        message: expect.stringMatching(/12 MiB already hosted/),
      }),
    );
    const destroy = vi.fn(async () => {});
    await capacity.release({ memory, destroy });
    expect(destroy).toHaveBeenCalledOnce();
    expect(capacity.hostedMiB).toBe(0);
    expect(capacity.admit(vm(8))).toBeDefined();
  });

  it("hands preallocated RAM to a VM of exactly its size, and refuses any other size", () => {
    const prealloc = GuestMemory.create({ size: 4 * MIB });
    const capacity = new TargetCapacity({ preallocated: prealloc });
    expect(capacity.maxMemoryMiB).toBe(4);
    expect(() => capacity.admit(vm(2))).toThrow(
      expect.objectContaining({
        code: "EINVAL",
        message: expect.stringMatching(/prepared for 4 MiB/),
      }),
    );
    const admission = capacity.admit(vm(4));
    expect(admission.memory).toBe(prealloc);
    expect(capacity.preallocated).toBeUndefined();
  });

  it("a discarded VM's preallocated RAM comes back zeroed for the next VM, without reclaim", async () => {
    const prealloc = GuestMemory.create({ size: 4 * MIB });
    const reclaim = vi.fn();
    const capacity = new TargetCapacity({ preallocated: prealloc, reclaim });
    const admission = capacity.admit(vm(4));
    prealloc.write(5 * 4096, Uint8Array.of(1, 2, 3));
    await admission.discard();
    expect(admission.memory).toBeUndefined();
    expect(capacity.preallocated).toBe(prealloc);
    expect(prealloc.isZeroPage(5)).toBe(true);
    expect(prealloc.dirtyLog.isEmpty()).toBe(true);
    expect(reclaim).not.toHaveBeenCalled();
  });

  it("calls reclaim once a discarded VM's own RAM was dropped; settling twice changes nothing", async () => {
    const reclaim = vi.fn();
    const capacity = new TargetCapacity({ maxMemoryMiB: 32, reclaim });
    const admission = capacity.admit(vm(16));
    await admission.discard();
    await admission.discard();
    admission.running(GuestMemory.create({ size: 4096 }));
    expect(reclaim).toHaveBeenCalledOnce();
    expect(capacity.hostedMiB).toBe(0);
    expect(capacity.loading).toBe(false);
  });

  it("refuses a VM with more vCPUs than the target hosts (each is a worker thread)", () => {
    const capacity = new TargetCapacity({ maxMemoryMiB: 64, maxVcpus: 4 });
    expect(() => capacity.admit(parseVmConfig({ memoryMiB: 8, vcpus: 64 }))).toThrow(
      expect.objectContaining({
        code: "EINVAL",
        message: expect.stringMatching(/64 vCPUs; this target hosts at most 4/),
      }),
    );
    expect(capacity.loading).toBe(false);
    expect(capacity.admit(parseVmConfig({ memoryMiB: 8, vcpus: 4 }))).toBeDefined();
    expect(new TargetCapacity().maxVcpus).toBeGreaterThanOrEqual(8);
  });

  it("refuses a budget that is not a positive whole number, or smaller than the preallocation", () => {
    expect(() => new TargetCapacity({ maxMemoryMiB: 0 })).toThrow(/EINVAL/);
    expect(() => new TargetCapacity({ maxMemoryMiB: 1.5 })).toThrow(/EINVAL/);
    expect(
      () =>
        new TargetCapacity({
          maxMemoryMiB: 2,
          preallocated: GuestMemory.create({ size: 4 * MIB }),
        }),
    ).toThrow(/EINVAL: preallocated guest RAM of 4 MiB exceeds the memory budget of 2 MiB/);
  });

  it("defaults to half of this machine's RAM", async () => {
    const { totalmem } = await import("node:os");
    const expected = Math.min(16384, Math.floor(totalmem() / 2 / MIB));
    expect(new TargetCapacity().maxMemoryMiB).toBe(expected);
  });
});
