import { afterEach, describe, expect, it, vi } from "vitest";
import {
  createHost,
  createMemoryChannelPair,
  type MdevHost,
  MigrationError,
  type MigrationOptionsInput,
  MigrationSource,
  MigrationTarget,
  MigState,
  parseVmConfig,
  ramSha256,
  SimulatedVm,
  type TargetResult,
  type VendorPlugin,
  type VmConfigInput,
} from "../../src/index.js";
import { type DmaToyDriver, dmaToyPlugin } from "../helpers/dma-toy-plugin.js";

const vms: SimulatedVm[] = [];
afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
});

const baseConfig: VmConfigInput = {
  memoryMiB: 16,
  vcpus: 1,
  workloads: [{ pattern: "hot-set", pagesPerSecond: 20_000, hotSetPages: 256 }],
  devices: [{ slot: "00:05.0", plugin: "dma-toy", deviceType: "toy" }],
  initialFill: 0.5,
  deviceTickMs: 1,
  seed: 3,
};

async function sourceVm(host: MdevHost, config: VmConfigInput = baseConfig): Promise<SimulatedVm> {
  const vm = await SimulatedVm.create(parseVmConfig(config), host, { role: "source" });
  vms.push(vm);
  await vm.start();
  return vm;
}

async function migrateLocally(
  source: SimulatedVm,
  targetHost: MdevHost,
  options: MigrationOptionsInput = {},
): Promise<{ result: Awaited<ReturnType<MigrationSource["migrate"]>>; target: TargetResult }> {
  const { source: src, target: dst } = createMemoryChannelPair();
  const target = new MigrationTarget(targetHost, dst, { verifyRam: true });
  const received = target.receive();
  received.catch(() => {});
  const result = await new MigrationSource(source, src, { verifyRam: true, ...options }).migrate();
  const t = await received;
  vms.push(t.vm);
  return { result, target: t };
}

function toy(vm: SimulatedVm): DmaToyDriver {
  return vm.devices[0]?.driver as DmaToyDriver;
}

describe.each(["dma-logging", "iommu-pinned", "vendor-bitmap"] as const)(
  "local migration, device dirty tracking by %s",
  (method) => {
    it("completes with identical RAM and device state, then the target runs", async () => {
      const plugin = dmaToyPlugin({ dirtyTracking: method });
      const source = await sourceVm(createHost({ name: "src", plugins: [plugin] }));
      await new Promise((r) => setTimeout(r, 50));
      const { result, target } = await migrateLocally(
        source,
        createHost({ name: "dst", plugins: [plugin] }),
      );
      expect(result.outcome).toBe("completed");
      // Source RAM frozen at pause == target RAM before it resumed, byte for byte (SHA-256 of all RAM).
      expect(result.ramSha256).toBeDefined();
      expect(target.ramSha256).toBe(result.ramSha256);
      expect(ramSha256(source.memory)).toBe(result.ramSha256);
      expect(target.ramDigest).toBe(result.ramDigest);
      // The device arrived with its state and runs on the target; the source never runs again.
      // The target's device carried on from the source's state: same ring phase, counter not reset.
      const [src, dst] = [toy(source), toy(target.vm)];
      expect(dst.counter).toBeGreaterThanOrEqual(src.counter);
      expect((dst.position - src.position + 32) % 32).toBe((dst.counter - src.counter) % 32);
      expect(toy(source).getState()).toBe(MigState.STOP_COPY);
      expect(toy(target.vm).getState()).toBe(MigState.RUNNING);
      expect(source.running).toBe(false);
      expect(target.vm.running).toBe(true);
      const before = toy(target.vm).counter;
      await new Promise((r) => setTimeout(r, 30));
      expect(toy(target.vm).counter).toBeGreaterThan(before);
      expect(result.iterations.length).toBeGreaterThanOrEqual(1);
      for (const i of result.iterations) {
        // The toy pins its 32-page ring: the IOMMU reports all of it at every sync.
        if (method === "iommu-pinned") expect(i.dirtyPagesByDevices).toBe(32);
        else expect(i.dirtyPagesByDevices).toBeLessThanOrEqual(Math.min(32, i.dirtyPagesFound));
      }
      expect(result.downtimeMs).toBeGreaterThan(0);
      expect(result.totalTimeMs).toBeGreaterThanOrEqual(result.downtimeMs);
      expect(result.zeroPages).toBeGreaterThan(0);
    });
  },
);

describe("rollback", () => {
  async function expectRunsOn(vm: SimulatedVm): Promise<void> {
    expect(vm.running).toBe(true);
    for (const d of vm.devices) expect(d.driver.getState()).toBe(MigState.RUNNING);
    const writes = vm.vcpuWrites;
    const counter = toy(vm).counter;
    // Running means progress: vCPU writes and device activity go on. How soon depends on
    // when the loaded machine schedules the vCPU threads, so wait for it (bounded), not a
    // fixed 40 ms that a busy CI core can spend elsewhere.
    await vi.waitFor(
      () => {
        expect(vm.vcpuWrites).toBeGreaterThan(writes);
        expect(toy(vm).counter).toBeGreaterThan(counter);
      },
      { timeout: 5000, interval: 20 },
    );
  }

  it("a target without the plugin REJECTs; the source runs on and a second migration succeeds", async () => {
    const plugin = dmaToyPlugin();
    const source = await sourceVm(createHost({ name: "src", plugins: [plugin] }));
    const err = await migrateLocally(source, createHost({ name: "empty" })).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MigrationError);
    expect(err).toMatchObject({ code: "ECONNREFUSED", phase: "handshake", rolledBack: true });
    // The target's refusal is quoted by its words: the code is said once, in front.
    expect((err as Error).message).toBe(
      'ECONNREFUSED: migration failed during handshake: the target refused the VM: device 00:05.0: plugin "dma-toy" is not installed here',
    );
    await expectRunsOn(source);
    const { result } = await migrateLocally(source, createHost({ name: "dst", plugins: [plugin] }));
    expect(result.outcome).toBe("completed");
  });

  it("an incompatible device is refused before anything stops", async () => {
    const picky: VendorPlugin = {
      ...dmaToyPlugin(),
      checkCompatible: () => ({ compatible: false, reason: "ring too small" }),
    };
    const source = await sourceVm(createHost({ name: "src", plugins: [dmaToyPlugin()] }));
    await expect(
      migrateLocally(source, createHost({ name: "dst", plugins: [picky] })),
    ).rejects.toThrow(/not compatible: ring too small/);
    await expectRunsOn(source);
  });

  it("a plugin that throws on STOP_COPY rolls the VM back", async () => {
    const host = createHost({ name: "src", plugins: [dmaToyPlugin({ failSave: true })] });
    const source = await sourceVm(host);
    const err = await migrateLocally(
      source,
      createHost({ name: "dst", plugins: [dmaToyPlugin()] }),
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ phase: "switchover", rolledBack: true, problems: [] });
    expect((err as Error).message).toMatch(/failed to save/);
    await expectRunsOn(source);
  });

  it("cancel during precopy rolls back", async () => {
    const plugin = dmaToyPlugin();
    const source = await sourceVm(createHost({ name: "src", plugins: [plugin] }), {
      ...baseConfig,
      memoryMiB: 64,
      initialFill: 1,
    });
    const { source: src, target: dst } = createMemoryChannelPair();
    new MigrationTarget(createHost({ name: "dst", plugins: [plugin] }), dst)
      .receive()
      .catch(() => {});
    const migration = new MigrationSource(source, src, { maxBandwidth: 0 });
    migration.once("iteration", () => migration.cancel());
    migration.once("progress", () => migration.cancel());
    await expect(migration.migrate()).rejects.toMatchObject({
      code: "ECANCELED",
      rolledBack: true,
    });
    await expectRunsOn(source);
  });
});

describe("convergence", () => {
  it("a workload that outruns the link aborts naming the dirty rate and the bandwidth", async () => {
    const plugin = dmaToyPlugin();
    const source = await sourceVm(createHost({ name: "src", plugins: [plugin] }), {
      ...baseConfig,
      memoryMiB: 32,
      workloads: [{ pattern: "uniform", pagesPerSecond: 200_000 }],
    });
    const err = await migrateLocally(source, createHost({ name: "dst", plugins: [plugin] }), {
      maxBandwidth: 20e6,
      downtimeLimitMs: 5,
      maxIterations: 4,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "EAGAIN", rolledBack: true });
    expect((err as Error).message).toMatch(/dirty rate .*\/s against bandwidth .*\/s/);
    expect(source.running).toBe(true);
  });

  it("auto-converge throttles the vCPUs until it converges", async () => {
    const plugin = dmaToyPlugin();
    const source = await sourceVm(createHost({ name: "src", plugins: [plugin] }), {
      ...baseConfig,
      memoryMiB: 32,
      workloads: [{ pattern: "uniform", pagesPerSecond: 100_000 }],
    });
    const { result, target } = await migrateLocally(
      source,
      createHost({ name: "dst", plugins: [plugin] }),
      {
        maxBandwidth: 60e6,
        downtimeLimitMs: 50,
        maxIterations: 60,
        autoConverge: true,
        throttleInitial: 30,
        throttleIncrement: 20,
      },
    );
    expect(result.maxThrottle).toBeGreaterThan(0);
    expect(target.ramSha256).toBe(result.ramSha256);
  });

  it("auto-converge leaves the vCPUs alone when the pages a device pins alone miss the limit", async () => {
    // 512 pinned pages (2.1 MB), reported dirty at every sync: 210 ms at 10 MB/s even with
    // the vCPUs stopped, against a 100 ms limit.
    const plugin = dmaToyPlugin({ dirtyTracking: "iommu-pinned", ringPages: 512 });
    const source = await sourceVm(createHost({ name: "src", plugins: [plugin] }), {
      ...baseConfig,
      memoryMiB: 8,
      workloads: [{ pattern: "uniform", pagesPerSecond: 2_000 }],
    });
    const setThrottle = vi.spyOn(source, "setThrottle");
    const err = await migrateLocally(source, createHost({ name: "dst", plugins: [plugin] }), {
      maxBandwidth: 10e6,
      downtimeLimitMs: 100,
      maxIterations: 6,
      autoConverge: true,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "EAGAIN", rolledBack: true });
    expect((err as Error).message).toMatch(
      /the devices reported 2\.\d+ MB of the RAM dirty, which no vCPU throttle reduces \(throttle stayed at 0%\)/,
    );
    expect(setThrottle.mock.calls.filter(([t]) => t > 0)).toEqual([]);
    expect(source.running).toBe(true);
  });
});
