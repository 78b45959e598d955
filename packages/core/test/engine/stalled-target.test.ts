// Issue #14 item 2: a target that stops reading must never keep the guest paused. Before
// the fix, a source blocked in a socket write waited for the write callback, a close or an
// error — never for a deadline, a FAILED answer or cancel() — so these tests hung.
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  createMemoryChannelPair,
  MigrationError,
  type MigrationOptionsInput,
  MigrationSource,
  MigState,
  type SimulatedVm,
} from "../../src/index.js";
import { failedMigration, receiveOn, startVm, toyHost } from "../helpers/engine-fixtures.js";
import { expectGuestWrites } from "../helpers/guest-progress.js";
import { type StallingTarget, stallingTarget } from "../helpers/stalling-target.js";

const vms: SimulatedVm[] = [];
const targets: StallingTarget[] = [];
afterEach(async () => {
  await Promise.all(targets.splice(0).map((t) => t.close()));
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
});

/**
 * RAM the test dirties as the VM pauses: far more than loopback socket buffers hold (on
 * these machines TCP autotuning grows a receive buffer to 32 MiB, and the sender keeps up
 * to 4 MiB). The source pauses only once the target read every earlier pass, so the
 * buffers are empty then: 32 MiB dirtied sometimes fit in them.
 */
const DIRTIED_MIB = 80;

/** The 96 MiB source VM both stalls migrate: one vCPU dirtying, a DMA toy device. */
async function startSourceVm(): Promise<{ host: ReturnType<typeof toyHost>; vm: SimulatedVm }> {
  const host = toyHost("src");
  const vm = await startVm(host, vms, {
    memoryMiB: 96,
    vcpus: 1,
    workloads: [{ pattern: "uniform", pagesPerSecond: 500 }],
    devices: [{ slot: "00:05.0", plugin: "dma-toy", deviceType: "toy" }],
    initialFill: 0.1,
    seed: 5,
  });
  return { host, vm };
}

/** Rewrites the VM's first {@link DIRTIED_MIB} MiB with `byte`: pages the next pass must send. */
function rewrite(vm: SimulatedVm, byte: number): void {
  const page = new Uint8Array(4096).fill(byte);
  for (let pfn = 0; pfn < DIRTIED_MIB * 256; pfn++) vm.memory.write(pfn * 4096, page);
}

/**
 * Migrates a 96 MiB VM to `target`. As the source enters switchover (the VM is about to
 * pause), 80 MiB of RAM are rewritten, so the final RAM pass must push them through a
 * socket the target no longer reads: the source blocks in a write, VM paused.
 */
async function migrateInto(
  target: StallingTarget,
  options: MigrationOptionsInput,
  whileBlocked?: (source: MigrationSource) => void,
): Promise<{ vm: SimulatedVm; error: MigrationError; ms: number }> {
  const { host, vm } = await startSourceVm();
  const source = await MigrationSource.connect(host, vm, target.url, options);
  source.on("phase", (phase) => {
    if (phase !== "switchover") return;
    rewrite(vm, 0xa5);
  });
  if (whileBlocked) void target.stalled.then(() => whileBlocked(source));
  return {
    vm,
    ...(await failedMigration(source, "the migration into a stalled target completed")),
  };
}

/** The VM runs on the source: vCPUs write again and the device is RUNNING. */
async function expectRunning(vm: SimulatedVm): Promise<void> {
  expect(vm.running).toBe(true);
  expect(vm.devices[0]?.driver.getState()).toBe(MigState.RUNNING);
  await expectGuestWrites(vm);
}

// Generous bounds: a deadline of 1 s, a finish within 30 s; nothing depends on timing.
describe("a target that stops reading at switchover", { timeout: 60_000 }, () => {
  it("the source cuts the connection at switchoverTimeoutMs, resumes the VM and reports ETIMEDOUT", async () => {
    const target = await stallingTarget("stop-reading");
    targets.push(target);
    const { vm, error, ms } = await migrateInto(target, {
      switchoverTimeoutMs: 1000,
      peerTimeoutMs: 600_000,
      timeoutMs: 600_000,
    });
    expect(error).toMatchObject({ code: "ETIMEDOUT", rolledBack: true, phase: "switchover" });
    expect(error.message).toMatch(/paused for switchover longer than its 1000 ms limit/);
    expect(ms).toBeLessThan(30_000);
    await expectRunning(vm);
  });

  it("a FAILED answer cancels a source blocked in a write at once, not at a deadline", async () => {
    const target = await stallingTarget("fail-then-stop-reading");
    targets.push(target);
    // No deadline could end this: only the FAILED answer can.
    const { vm, error } = await migrateInto(target, {
      switchoverTimeoutMs: 3_600_000,
      peerTimeoutMs: 3_600_000,
      timeoutMs: 86_400_000,
    });
    expect(error).toMatchObject({ code: "EIO", rolledBack: true });
    expect(error.message).toMatch(/the target failed: injected: then stalled/);
    await expectRunning(vm);
  });

  it("cancel() ends a write blocked on the stalled target at once (ECANCELED, VM resumed)", async () => {
    const target = await stallingTarget("stop-reading");
    targets.push(target);
    const { vm, error } = await migrateInto(
      target,
      { switchoverTimeoutMs: 3_600_000, peerTimeoutMs: 3_600_000, timeoutMs: 86_400_000 },
      // Let the source fill the socket first; whenever cancel lands, it must end the wait.
      (source) => setTimeout(() => source.cancel("operator said stop"), 200),
    );
    expect(error).toMatchObject({ code: "ECANCELED", rolledBack: true });
    expect(error.message).toMatch(/operator said stop/);
    await expectRunning(vm);
  });

  it("the overall timeoutMs ends a blocked write too", async () => {
    const target = await stallingTarget("stop-reading", "HANDSHAKE");
    targets.push(target);
    // The target stops reading right after ACCEPT: the first precopy pass blocks.
    const { vm, error } = await migrateInto(target, {
      switchoverTimeoutMs: 3_600_000,
      peerTimeoutMs: 3_600_000,
      timeoutMs: 1000,
    });
    expect(error).toMatchObject({ code: "ETIMEDOUT", rolledBack: true, phase: "precopy" });
    expect(error.message).toMatch(/exceeded its 1000 ms limit/);
    await expectRunning(vm);
  });
});

/**
 * Migrates a 96 MiB VM to `target` with `options`; `dirtyMiB` of RAM are rewritten as the
 * first iteration ends, so the second pass must push them through a socket the target no
 * longer reads (it stopped after its first ITERATION). Returns the throttles the source set.
 */
async function stallMidPrecopy(
  target: StallingTarget,
  options: MigrationOptionsInput,
): Promise<{ vm: SimulatedVm; error: MigrationError; ms: number; throttles: number[] }> {
  const { host, vm } = await startSourceVm();
  const setThrottle = vi.spyOn(vm, "setThrottle");
  const source = await MigrationSource.connect(host, vm, target.url, options);
  source.once("iteration", () => {
    rewrite(vm, 0x5a);
  });
  const failed = await failedMigration(source, "the migration into a stalled target completed");
  return { vm, ...failed, throttles: setThrottle.mock.calls.map(([t]) => t) };
}

// The peer timeout is 1 s; the bound of 30 s is slack for a loaded machine, not a speed check.
describe("a target that stops reading during precopy", { timeout: 60_000 }, () => {
  it("fails the migration at peerTimeoutMs without progress (ETIMEDOUT naming the target), the VM runs on unthrottled", async () => {
    const target = await stallingTarget("stop-reading", "HANDSHAKE");
    targets.push(target);
    // Only the stall deadline is short: the overall limit would end it with another message.
    const { vm, error, ms } = await migrateInto(target, {
      peerTimeoutMs: 1000,
      switchoverTimeoutMs: 3_600_000,
      timeoutMs: 30_000,
    });
    expect(error).toMatchObject({ code: "ETIMEDOUT", rolledBack: true, phase: "precopy" });
    expect(error.message).toContain(
      `the target ${target.url} took none of the stream's bytes for 1000 ms`,
    );
    expect(ms).toBeLessThan(30_000);
    await expectRunning(vm);
  });

  it("behind a bandwidth cap and with auto-converge: the throttle is lifted and the VM runs on", async () => {
    const target = await stallingTarget("stop-reading", "ITERATION");
    targets.push(target);
    const { vm, error, ms, throttles } = await stallMidPrecopy(target, {
      peerTimeoutMs: 1000,
      switchoverTimeoutMs: 3_600_000,
      timeoutMs: 30_000,
      autoConverge: true,
      maxBandwidth: 12_500_000,
    });
    expect(error).toMatchObject({ code: "ETIMEDOUT", rolledBack: true });
    expect(error.message).toContain("took none of the stream's bytes for 1000 ms");
    expect(ms).toBeLessThan(30_000);
    expect(throttles.at(-1)).toBe(0);
    await expectRunning(vm);
  });

  it("a link the rate limit keeps slower than one batch per peer timeout is not a stall", async () => {
    const host = toyHost("src");
    // One 1 MiB batch of data pages behind a 256 KiB/s cap waits about 4 s for its tokens:
    // four times the peer timeout, all of it the source's own pacing.
    const vm = await startVm(host, vms, {
      memoryMiB: 1,
      vcpus: 1,
      workloads: [{ pattern: "idle" }],
      devices: [],
      initialFill: 1,
      seed: 5,
    });
    const { source, target } = createMemoryChannelPair();
    const received = receiveOn(toyHost("dst"), target, vms);
    const result = await new MigrationSource(
      vm,
      source,
      { peerTimeoutMs: 1000, maxBandwidth: 256 * 1024, batchPages: 256 },
      host,
    ).migrate();
    expect(result.outcome).toBe("completed");
    await received;
  });
});
