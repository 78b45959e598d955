/**
 * Invariant 7 (early compat rejection) and 10 (version skew) through the engine and at the
 * device: an incompatible target refuses before the source stops, and the source runs on.
 */
import { drainStream, reach } from "@mdevkit/conformance";
import { MigState, type SimulatedVm } from "@mdevkit/core";
import { afterEach, describe, expect, it } from "vitest";
import { ALG, accelPlugin, createAccelPlugin, decodeCompat, encodeCompat } from "../src/index.js";
import {
  accelOf,
  drainGuest,
  makeHarness,
  migrate,
  startSource,
  ticks,
  vmConfig,
} from "./helpers.js";

const vms: SimulatedVm[] = [];
afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
});

function expectSourceRunsOn(vm: SimulatedVm): void {
  const d = accelOf(vm);
  expect(d.getState()).toBe(MigState.RUNNING);
  // The device never stopped: the refusal came before the switchover.
  expect(d.lastStop).toBeUndefined();
  const before = d.guestStats().completed;
  ticks(d, 100);
  expect(d.guestStats().completed).toBeGreaterThan(before);
  drainGuest(d);
  const s = d.guestStats();
  expect(s.completed).toBe(s.submitted);
  expect(s.duplicates + s.verifyFailures + s.orderViolations + s.errors).toBe(0);
}

describe("the handshake refuses an incompatible target; the source continues", () => {
  it.each([
    [
      "qat-gen4",
      "a smaller capability mask",
      { algMask: { "qat-gen4": ALG.COMPRESS | ALG.HASH } },
      /capability mask/,
    ],
    [
      "hisi-zip",
      "another algorithm set (hisi compares the match block)",
      { algMask: { "hisi-zip": ALG.COMPRESS } },
      /algorithm mask/,
    ],
    ["hisi-zip", "another queue isolation", { isoCfg: { "hisi-zip": 0 } }, /queue isolation/],
    ["hisi-zip", "a policy against v1 streams", { v1Streams: "refuse" as const }, undefined],
  ])("%s: %s", async (deviceType, _what, host, reason) => {
    const streamVersion = "v1Streams" in host ? 1 : 2;
    const source = await startSource(
      accelPlugin,
      vmConfig({ deviceType, options: { streamVersion } }),
    );
    vms.push(source);
    ticks(accelOf(source), 40);
    const m = await migrate(source, createAccelPlugin(host));
    expect(m.result.outcome).toBe("failed");
    expect(m.target).toBeUndefined();
    if (reason) expect(String((m.result as unknown as { error: unknown }).error)).toMatch(reason);
    expectSourceRunsOn(source);
  });

  it("a QAT target with a superset of the capabilities accepts", async () => {
    const source = await startSource(accelPlugin, vmConfig({ deviceType: "qat-gen4" }));
    vms.push(source);
    ticks(accelOf(source), 40);
    const wider = ALG.COMPRESS | ALG.ENCRYPT | ALG.HASH | (1n << 7n);
    const m = await migrate(source, createAccelPlugin({ algMask: { "qat-gen4": wider } }));
    expect(m.result.outcome).toBe("completed");
    vms.push(m.target!.vm);
  });
});

describe("the resuming write refuses the compat record as soon as it is complete", () => {
  it.each([
    [
      "a smaller capability mask",
      "qat-gen4",
      {},
      { algMask: { "qat-gen4": ALG.HASH } },
      undefined,
      /capability mask/,
    ],
    [
      "a different queue-pair count",
      "hisi-zip",
      { profile: "realistic" },
      {},
      undefined,
      /queue pairs/,
    ],
    ["a different device id", "hisi-zip", {}, {}, 0xa250, /device id/],
    [
      "a different isolation setting",
      "hisi-zip",
      {},
      { isoCfg: { "hisi-zip": 7 } },
      undefined,
      /isolation/,
    ],
  ])("%s", async (_what, deviceType, targetOptions, host, forgedDeviceId, reason) => {
    const src = await makeHarness({ deviceType });
    ticks(src.driver, 30);
    const saving = await reach(src.driver, MigState.PRE_COPY);
    const { bytes: precopy, end } = await drainStream(saving!);
    expect(end).toBe("ENOMSG");
    const compat =
      forgedDeviceId === undefined
        ? precopy
        : encodeCompat({ ...decodeCompat(precopy), deviceId: forgedDeviceId });
    const dst = await makeHarness({
      deviceType,
      options: targetOptions,
      memoryBytes: 32 << 20,
      plugin: createAccelPlugin(host),
    });
    const resuming = await reach(dst.driver, MigState.RESUMING);
    // Every byte but the last is accepted; the last completes the record and is refused.
    await resuming!.write(compat.subarray(0, compat.byteLength - 1));
    await expect(resuming!.write(compat.subarray(compat.byteLength - 1))).rejects.toThrow(reason);
    // The source cancels (PRE_COPY → RUNNING) and carries on with its invariants intact.
    await src.driver.setState(MigState.RUNNING);
    ticks(src.driver, 60);
    drainGuest(src.driver);
    const s = src.driver.guestStats();
    expect(s.completed).toBe(s.submitted);
    expect(s.duplicates + s.verifyFailures + s.orderViolations + s.errors).toBe(0);
    src.dispose();
    dst.dispose();
  });
});

describe("each resuming session judges its own compat record", () => {
  it("a session after a reset refuses an incompatible record the last session's verdict does not cover", async () => {
    const src = await makeHarness({ deviceType: "hisi-zip" });
    ticks(src.driver, 30);
    const saving = await reach(src.driver, MigState.PRE_COPY);
    const { bytes: compat } = await drainStream(saving!);
    const dst = await makeHarness({ deviceType: "hisi-zip", memoryBytes: 32 << 20 });
    const first = await reach(dst.driver, MigState.RESUMING);
    await first!.write(compat);
    await dst.driver.reset();
    const second = await reach(dst.driver, MigState.RESUMING);
    const forged = encodeCompat({ ...decodeCompat(compat), deviceId: 0xa250 });
    await expect(second!.write(forged)).rejects.toThrow(/device id/);
    await src.driver.setState(MigState.RUNNING);
    src.dispose();
    dst.dispose();
  });
});

describe("version skew through the engine (10)", () => {
  it("a v1 stream migrates with the address fix-up and the guest's jobs all complete", async () => {
    const source = await startSource(accelPlugin, vmConfig({ options: { streamVersion: 1 } }));
    vms.push(source);
    ticks(accelOf(source), 60);
    const m = await migrate(source, accelPlugin);
    expect(m.result.outcome).toBe("completed");
    const target = m.target!.vm;
    vms.push(target);
    const t = accelOf(target);
    expect(t.lastLoad).toEqual({ version: 1, fixedUp: true });
    expect(t.device.snapshot().eq.baseGpa).toBe(t.layout.eq);
    ticks(t, 100);
    drainGuest(t);
    const s = t.guestStats();
    expect(s.completed).toBe(s.submitted);
    expect(s.duplicates + s.verifyFailures + s.orderViolations + s.errors).toBe(0);
  });
});
