/**
 * Invariant 10 through the engine: a saved VM restored twice gives identical devices, and a
 * migration whose target fails RESUMING → STOP rolls the source back; a retry to a healthy
 * target then lands the same state, with no job lost or run twice (§4 abort paths).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createHost,
  FileSourceChannel,
  FileTargetChannel,
  MdevError,
  MigrationTarget,
  MigState,
  type SimulatedVm,
  saveVm,
  type VendorPlugin,
} from "@mdevkit/core";
import { afterEach, describe, expect, it } from "vitest";
import {
  type AccelDescription,
  type AccelDriver,
  accelPlugin,
  describeAccel,
} from "../src/index.js";
import { accelOf, drainGuest, migrate, startSource, ticks, vmConfig } from "./helpers.js";

const vms: SimulatedVm[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

function busy(vm: SimulatedVm): void {
  const d = accelOf(vm);
  ticks(d, 60);
  while (d.device.inFlight === 0) ticks(d, 1);
}

function expectHealthy(d: AccelDriver): void {
  drainGuest(d);
  const s = d.guestStats();
  expect(s.completed).toBe(s.submitted);
  expect(s.duplicates + s.verifyFailures + s.orderViolations + s.errors).toBe(0);
}

describe.each(["drain", "checkpoint"] as const)("stop policy %s", (stopPolicy) => {
  it("a saved VM restored twice gives identical devices that run on identically", async () => {
    const source = await startSource(accelPlugin, vmConfig({ options: { stopPolicy } }));
    vms.push(source);
    busy(source);
    const dir = await mkdtemp(join(tmpdir(), "accel-save-"));
    dirs.push(dir);
    const file = join(dir, "vm.save");
    await saveVm(source, await FileSourceChannel.create(file));
    const saved = describeAccel(accelOf(source));
    const restored: { vm: SimulatedVm; arrived: AccelDescription }[] = [];
    for (let i = 0; i < 2; i++) {
      let arrived: AccelDescription | undefined;
      const t = await new MigrationTarget(
        createHost({ name: `restore-${i}`, plugins: [accelPlugin] }),
        new FileTargetChannel(file),
        {
          startVcpus: false,
          beforeRun: (vm) => {
            arrived = describeAccel(accelOf(vm));
          },
        },
      ).receive();
      t.vm.stopDeviceActivity();
      vms.push(t.vm);
      restored.push({ vm: t.vm, arrived: arrived! });
    }
    expect(restored[0]!.arrived).toEqual(saved);
    expect(restored[1]!.arrived).toEqual(saved);
    for (const r of restored) ticks(accelOf(r.vm), 80);
    expect(describeAccel(accelOf(restored[1]!.vm))).toEqual(
      describeAccel(accelOf(restored[0]!.vm)),
    );
    expect(accelOf(restored[1]!.vm).guestStats()).toEqual(accelOf(restored[0]!.vm).guestStats());
    for (const r of restored) expectHealthy(accelOf(r.vm));
  });

  it("a failed RESUMING → STOP rolls the source back; the retry lands the same state", async () => {
    // A target whose first load fails after every byte arrived (a RESUMING → STOP error).
    const failingOnce: VendorPlugin = {
      ...accelPlugin,
      create: async (ctx) => {
        const driver = (await accelPlugin.create(ctx)) as AccelDriver;
        const setState = driver.setState.bind(driver);
        driver.setState = async (next) => {
          if (driver.getState() === MigState.RESUMING && next === MigState.STOP)
            throw new MdevError("EIO", "injected: the target could not apply the state");
          return setState(next);
        };
        return driver;
      },
    };
    const source = await startSource(accelPlugin, vmConfig({ options: { stopPolicy } }));
    vms.push(source);
    busy(source);
    const d = accelOf(source);
    const first = await migrate(source, failingOnce);
    expect(first.result.outcome).toBe("failed");
    expect(first.target).toBeUndefined();
    // Rolled back: the device runs again, re-signals what it left unreaped, and carries on.
    expect(d.getState()).toBe(MigState.RUNNING);
    expect(d.lastStop?.inFlightAfter).toBe(0);
    ticks(d, 40);
    busy(source);
    let arrived: AccelDescription | undefined;
    const second = await migrate(source, accelPlugin, (vm) => {
      arrived = describeAccel(accelOf(vm));
    });
    expect(second.result.outcome).toBe("completed");
    vms.push(second.target!.vm);
    expect(second.target!.ramSha256).toBe(second.result.ramSha256);
    expect(arrived).toEqual(describeAccel(d));
    const t = accelOf(second.target!.vm);
    ticks(t, 60);
    expectHealthy(t);
  });
});

describe("a VF no guest driver ever set up (NOT_READY)", () => {
  it("migrates as NOT_READY and restores nothing: power-on state, nothing pinned", async () => {
    const source = await startSource(accelPlugin, vmConfig({ options: { workload: false } }));
    vms.push(source);
    ticks(accelOf(source), 20);
    let arrived: AccelDescription | undefined;
    let pinned: unknown = "unset";
    const m = await migrate(source, accelPlugin, (vm) => {
      arrived = describeAccel(accelOf(vm));
      pinned = accelOf(vm).pinnedWindow;
    });
    expect(m.result.outcome).toBe("completed");
    vms.push(m.target!.vm);
    expect(arrived?.qmState).toBe(0);
    expect(arrived).toEqual(describeAccel(accelOf(source)));
    expect(pinned).toBeUndefined();
    expect(m.target!.vm.devices[0]!.pinner?.pinnedPages ?? 0).toBe(0);
  });
});
