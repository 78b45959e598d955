// vCPU threads started ahead of their VM: a target takes them when it builds the VM, so
// no thread starts up (about 50 ms of CPU each) while the VM's RAM streams in.
import { afterEach, describe, expect, it } from "vitest";
import {
  createHost,
  createMemoryChannelPair,
  MigrationSource,
  MigrationTarget,
  parseVmConfig,
  SimulatedVm,
  TargetCapacity,
  VcpuThreads,
  type Workload,
} from "../../src/index.js";
import { DirtyBitmap } from "../../src/memory/index.js";
import { expectGuestWrites, PROGRESS_TIMEOUT } from "../helpers/guest-progress.js";

const host = createHost({ name: "vcpu-threads-test" });
const vms: SimulatedVm[] = [];
const pools: VcpuThreads[] = [];
afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

function pool(): VcpuThreads {
  const threads = new VcpuThreads();
  pools.push(threads);
  return threads;
}

const dirtying = (
  vcpus: number,
  workload: Workload = { pattern: "uniform", pagesPerSecond: 100_000 },
) =>
  parseVmConfig({
    memoryMiB: 8,
    vcpus,
    initialFill: 0,
    workloads: Array.from({ length: vcpus }, () => workload),
  });

/** Runs `vm` until its vCPUs have written 1,000 times, then pauses it: the pages dirtied. */
async function dirtiedWhileRunning(vm: SimulatedVm): Promise<number> {
  await vm.start();
  await expect.poll(() => vm.vcpuWrites, PROGRESS_TIMEOUT).toBeGreaterThanOrEqual(1000);
  await vm.pause();
  const seen = new DirtyBitmap(vm.memory.pages);
  vm.memory.logReadAndClear(seen);
  return seen.count();
}

/** A dirtying VM of `vcpus` built on `waiting` threads started ahead, which it takes all of. */
async function builtOnWaitingThreads(waiting: number, vcpus: number): Promise<SimulatedVm> {
  const threads = pool();
  await threads.warm(waiting);
  const vm = await SimulatedVm.create(dirtying(vcpus), host, { role: "target", threads });
  vms.push(vm);
  expect(threads.waiting).toBe(0);
  return vm;
}

describe("VcpuThreads", () => {
  it("starts threads until the count wait, counting those already waiting", async () => {
    const threads = pool();
    await threads.warm(2);
    expect(threads.waiting).toBe(2);
    await threads.warm(1);
    expect(threads.waiting).toBe(2);
    await threads.warm(3);
    expect(threads.waiting).toBe(3);
  });

  it("a VM's vCPUs run on the waiting threads: they dirty RAM, pause, resume and exit", async () => {
    const vm = await builtOnWaitingThreads(2, 2);
    expect(await dirtiedWhileRunning(vm)).toBeGreaterThan(100);
    const writes = vm.vcpuWrites;
    await new Promise((r) => setTimeout(r, 30));
    expect(vm.vcpuWrites).toBe(writes);
    await vm.resume();
    await expectGuestWrites(vm);
  });

  it("a VM with more vCPUs than threads waiting starts the rest itself", async () => {
    const vm = await builtOnWaitingThreads(1, 3);
    await vm.start();
    // Each vCPU stamps its own index into the pages it writes (bytes 0–3 of each stamp).
    const writers = (): number[] => {
      const seen = new Set<number>();
      for (let pfn = 0; pfn < vm.memory.pages; pfn++) {
        const page = vm.memory.pageView(pfn);
        const words = new DataView(page.buffer, page.byteOffset, page.byteLength);
        for (let off = 0; off < 4096; off += 8) {
          if (words.getUint32(off + 4, true) !== 0) seen.add(words.getUint32(off, true));
        }
      }
      return [...seen].sort();
    };
    await expect.poll(writers, PROGRESS_TIMEOUT).toEqual([0, 1, 2]);
  });

  it("a thread taken before it finished starting gets its VM once it has", async () => {
    const threads = pool();
    const warming = threads.warm(1);
    const vm = await SimulatedVm.create(dirtying(1), host, { role: "target", threads });
    vms.push(vm);
    await warming;
    expect(await dirtiedWhileRunning(vm)).toBeGreaterThan(50);
  });

  it("refuses a count that is not a whole number, and any warm once closed", async () => {
    const threads = pool();
    await expect(threads.warm(-1)).rejects.toMatchObject({ code: "EINVAL" });
    await expect(threads.warm(1.5)).rejects.toMatchObject({ code: "EINVAL" });
    await threads.warm(1);
    await threads.close();
    expect(threads.waiting).toBe(0);
    expect(threads.take()).toBeUndefined();
    await expect(threads.warm(1)).rejects.toMatchObject({ code: "ECANCELED" });
  });

  it("a target whose capacity has threads builds the incoming VM on them", async () => {
    const threads = pool();
    await threads.warm(1);
    const config = dirtying(1, {
      pattern: "hot-set",
      pagesPerSecond: 20_000,
      hotSetPages: 64,
      hotFraction: 1,
    });
    const source = await SimulatedVm.create(config, host, { role: "source" });
    vms.push(source);
    await source.start();
    const { source: src, target: dst } = createMemoryChannelPair();
    const target = new MigrationTarget(createHost({ name: "dst" }), dst, {
      capacity: new TargetCapacity({ vcpuThreads: threads }),
    });
    const received = target.receive();
    received.catch(() => {});
    const result = await new MigrationSource(source, src, {}).migrate();
    const arrived = await received;
    vms.push(arrived.vm);
    expect(result.outcome).toBe("completed");
    expect(threads.waiting).toBe(0);
    // The VM runs there on the thread that waited.
    await expectGuestWrites(arrived.vm);
  });
});
