// The switchover's device calls run side by side: the issue's "downtime flat in device count
// (devices load in parallel)". A driver whose stop or load waits on its hardware overlaps
// the others, so the paused window grows with the slowest device, not with their sum.
// Before, the source stopped and the target loaded and started one device after another:
// every call ended before the next began.
import { afterEach, describe, expect, it } from "vitest";
import { createHost, MigrationSource, MigState, type SimulatedVm } from "../../src/index.js";
import { dmaToyPlugin } from "../helpers/dma-toy-plugin.js";
import { memoryTarget, SMALL_VM, startVm } from "../helpers/engine-fixtures.js";

const vms: SimulatedVm[] = [];
afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
});

const DEVICES = 3;

/** SMALL_VM with three toy devices. */
const THREE_TOYS = {
  ...SMALL_VM,
  devices: Array.from({ length: DEVICES }, (_, i) => ({
    slot: `00:0${5 + i}.0`,
    plugin: "dma-toy",
    deviceType: "toy",
  })),
};

/** A host whose toy devices' stop and load hooks wait 20 ms, logging to `log`. */
const slowHost = (name: string, log: string[]) =>
  createHost({ name, plugins: [dmaToyPlugin({ slowHooks: { log, waitMs: 20 } })] });

/** The hook's log lines in order: every device entered before any left. */
function expectOverlapped(log: readonly string[], hook: string): void {
  const lines = log.filter((l) => l.startsWith(hook));
  expect(lines).toHaveLength(2 * DEVICES);
  expect(lines.slice(0, DEVICES).every((l) => l.startsWith(`${hook}+`))).toBe(true);
  expect(lines.slice(DEVICES).every((l) => l.startsWith(`${hook}-`))).toBe(true);
}

describe("device stops and loads at switchover", () => {
  it("the source stops every device side by side, the target loads and starts them side by side", async () => {
    const sourceLog: string[] = [];
    const targetLog: string[] = [];
    const host = slowHost("src", sourceLog);
    const vm = await startVm(host, vms, THREE_TOYS);
    const { source, received } = memoryTarget(slowHost("dst", targetLog), vms);
    const result = await new MigrationSource(vm, source, {}, host).migrate();
    const arrived = await received;
    expectOverlapped(sourceLog, "stop");
    expectOverlapped(targetLog, "load");
    expectOverlapped(targetLog, "start");
    // Each device's load time is its own (its 20 ms wait), not the sum before it.
    const loads = Object.values(result.downtime.targetLoadMs);
    expect(loads).toHaveLength(DEVICES);
    for (const ms of loads) expect(ms).toBeGreaterThanOrEqual(15);
    expect(arrived.vm.devices.map((d) => d.driver.getState())).toEqual(
      Array(DEVICES).fill(MigState.RUNNING),
    );
  });
});
