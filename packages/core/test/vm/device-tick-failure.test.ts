import { afterEach, describe, expect, it } from "vitest";
import { type DeviceContext, MigState, type SimulatedVm } from "../../src/index.js";
import { BareDriver } from "../helpers/bare-driver.js";
import { startVm, toyHost } from "../helpers/engine-fixtures.js";
import { expectGuestWrites } from "../helpers/guest-progress.js";
import { inertContext } from "../helpers/toy-driver.js";

// An exception from a device's own work used to escape the VM's activity timer and kill the
// process hosting the VM (the accel plugin did it once, from a corrupted guest ring). A
// device that fails enters ERROR, as hardware does; the VM and its process go on.

class FailingDevice extends BareDriver {
  ticks = 0;
  constructor(ctx: DeviceContext) {
    super(ctx, { maxStateBytes: 8 });
  }
  protected override _tick(): void {
    this.ticks++;
    throw new Error("the device's own work failed");
  }
}

describe("a device whose own work throws", () => {
  it("enters ERROR and stops working; tick() itself does not throw", () => {
    const d = new FailingDevice(inertContext());
    expect(() => d.tick()).not.toThrow();
    expect(d.getState()).toBe(MigState.ERROR);
    d.tick();
    expect(d.ticks).toBe(1);
  });

  const vms: SimulatedVm[] = [];
  afterEach(async () => {
    for (const vm of vms.splice(0)) await vm.destroy();
  });

  it("does not take down the VM when a raw driver's tick() throws", async () => {
    const vm = await startVm(toyHost("tick"), vms);
    let calls = 0;
    vm.devices[0]!.driver.tick = () => {
      calls++;
      throw new Error("a driver breaking tick()'s contract");
    };
    vm.startDeviceActivity();
    // Many tick periods (the timers run on this thread, so they have come due), and the
    // guest's vCPU, on a thread of its own, writes on.
    await new Promise((r) => setTimeout(r, 200));
    expect(calls).toBe(1); // not ticked again
    await expectGuestWrites(vm);
    expect(vm.running).toBe(true);
  });
});
