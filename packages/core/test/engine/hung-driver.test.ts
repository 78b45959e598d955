// A vendor driver whose call never settles (it awaits an event that never comes) must not
// keep the guest paused. Before DeviceCallGuard the source awaited every driver call
// unbounded: the switchover deadline and cancel() cut the connection, but the await on the
// driver never returned, so migrate() never settled and the VM stayed paused; these tests
// hung until vitest's timeout.
import { afterEach, describe, expect, it } from "vitest";
import {
  createHost,
  driveTransition,
  MigFlags,
  MigrationError,
  type MigrationOptionsInput,
  MigrationSource,
  MigState,
  parseVmConfig,
  returnDevicesToRunning,
  SimulatedVm,
} from "../../src/index.js";
import { type DmaToyOptions, dmaToyPlugin } from "../helpers/dma-toy-plugin.js";
import { failedMigration, memoryTarget, SMALL_VM, startVm } from "../helpers/engine-fixtures.js";
import { expectGuestWrites } from "../helpers/guest-progress.js";

const vms: SimulatedVm[] = [];
afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
});

/** Migrates SMALL_VM whose toy device is built with `toy`; resolves with the failure. */
async function migrateWithToy(
  toy: DmaToyOptions,
  options: MigrationOptionsInput,
  onSwitchover?: (source: MigrationSource) => void,
): Promise<{ vm: SimulatedVm; error: MigrationError; ms: number }> {
  const host = createHost({ name: "src", plugins: [dmaToyPlugin(toy)] });
  const vm = await startVm(host, vms);
  // The target's device has the same flags, and nothing hangs there.
  const dst = createHost({ name: "dst", plugins: [dmaToyPlugin({ ...toy, hang: undefined })] });
  const { source: channel } = memoryTarget(dst, vms);
  const source = new MigrationSource(vm, channel, options, host);
  if (onSwitchover) source.on("phase", (p) => p === "switchover" && onSwitchover(source));
  return { vm, ...(await failedMigration(source, "the migration completed with a hung driver")) };
}

/** The guest runs again: its vCPU writes. */
async function expectGuestRunning(vm: SimulatedVm): Promise<void> {
  expect(vm.running).toBe(true);
  await expectGuestWrites(vm);
}

// Generous bounds: deadlines of 1 s, a finish well inside vitest's 60 s; nothing depends
// on timing.
describe("a driver call that never settles", { timeout: 60_000 }, () => {
  it("in the stop arc: the switchover deadline rolls back, the guest runs, the device is reported", async () => {
    const { vm, error, ms } = await migrateWithToy(
      { hang: "stop" },
      { switchoverTimeoutMs: 1000, peerTimeoutMs: 600_000, timeoutMs: 600_000 },
    );
    expect(error).toMatchObject({ code: "ETIMEDOUT", rolledBack: true, phase: "switchover" });
    expect(ms).toBeLessThan(30_000);
    // The abandoned arc may still be running in the driver: it is not called until it
    // finishes (here never).
    expect(error.problems.join("\n")).toMatch(
      /device 00:05\.0 did not finish a driver call .* will be returned to RUNNING once that call finishes/,
    );
    await expectGuestRunning(vm);
  });

  it("in the save (stop-copy data): the deadline rolls back the same way", async () => {
    const { vm, error } = await migrateWithToy(
      { hang: "save", flags: MigFlags.STOP_COPY | MigFlags.P2P },
      { switchoverTimeoutMs: 1000, peerTimeoutMs: 600_000, timeoutMs: 600_000 },
    );
    expect(error).toMatchObject({ code: "ETIMEDOUT", rolledBack: true, phase: "switchover" });
    expect(error.problems.join("\n")).toMatch(/device 00:05\.0 did not finish a driver call/);
    await expectGuestRunning(vm);
  });

  it("in the PRE_COPY arc: the migration's timeout ends the wait, the guest never stopped", async () => {
    const { vm, error } = await migrateWithToy(
      { hang: "precopy" },
      { switchoverTimeoutMs: 600_000, peerTimeoutMs: 600_000, timeoutMs: 1000 },
    );
    expect(error).toMatchObject({ code: "ETIMEDOUT", rolledBack: true, phase: "setup" });
    expect(error.problems.join("\n")).toMatch(/device 00:05\.0 did not finish a driver call/);
    await expectGuestRunning(vm);
  });

  it("cancel() ends the wait at once (ECANCELED, guest running)", async () => {
    const { vm, error } = await migrateWithToy(
      { hang: "stop" },
      { switchoverTimeoutMs: 3_600_000, peerTimeoutMs: 3_600_000, timeoutMs: 86_400_000 },
      (source) => setTimeout(() => source.cancel("operator said stop"), 200),
    );
    expect(error).toMatchObject({ code: "ECANCELED", rolledBack: true });
    await expectGuestRunning(vm);
  });
});

describe("returnDevicesToRunning", { timeout: 60_000 }, () => {
  it("gives up on a device that does not answer, reports it, and returns", async () => {
    const host = createHost({ name: "h", plugins: [dmaToyPlugin({ hang: "start" })] });
    const vm = await SimulatedVm.create(parseVmConfig(SMALL_VM), host, { role: "source" });
    vms.push(vm);
    const device = vm.devices[0];
    if (device === undefined) throw new Error("SMALL_VM has a device");
    await driveTransition(device.driver, MigState.STOP);
    const problems = await returnDevicesToRunning(vm.devices, undefined, 200);
    expect(problems).toEqual([
      "device 00:05.0 did not return to RUNNING within 200 ms; it was left in STOP and will be returned to RUNNING once that call finishes",
    ]);
  });
});

describe("returnDevicesToRunning with several devices that do not answer", {
  timeout: 60_000,
}, () => {
  it("waits one timeout for all of them, not one each, and reports each in device order", async () => {
    const host = createHost({ name: "h", plugins: [dmaToyPlugin({ hang: "start" })] });
    const config = {
      ...SMALL_VM,
      devices: ["00:05.0", "00:06.0", "00:07.0"].map((slot) => ({
        slot,
        plugin: "dma-toy",
        deviceType: "toy",
      })),
    };
    const vm = await SimulatedVm.create(parseVmConfig(config), host, { role: "source" });
    vms.push(vm);
    for (const d of vm.devices) await driveTransition(d.driver, MigState.STOP);
    const t0 = performance.now();
    const problems = await returnDevicesToRunning(vm.devices, undefined, 1000);
    // One after another this took three timeouts (3 s); side by side one, plus scheduling.
    expect(performance.now() - t0).toBeLessThan(2500);
    expect(problems).toEqual(
      ["00:05.0", "00:06.0", "00:07.0"].map(
        (slot) =>
          `device ${slot} did not return to RUNNING within 1000 ms; it was left in STOP and will be returned to RUNNING once that call finishes`,
      ),
    );
  });
});
