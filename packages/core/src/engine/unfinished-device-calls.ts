import { MdevError } from "../errors/mdev-error.js";
import type { VmDevice } from "../vm/simulated-vm.js";

/**
 * Per device, the work still running in its driver after the migration that started it
 * stopped waiting: an abandoned call, then the late recovery that follows it. Kept by
 * device rather than by migration because the next migration or save of the same VM is
 * the one that must not call in while it runs (the kernel would make a second state
 * change wait for the first; a simulated driver would interleave them).
 */
const unfinished = new WeakMap<VmDevice, Promise<void>>();

/**
 * Records `work` as running in `device` until it settles. A later record replaces an
 * earlier one (the late recovery starts only after the call it follows settled).
 */
export function trackUnfinishedCall(device: VmDevice, work: Promise<unknown>): void {
  const settled = work.then(
    () => {},
    () => {},
  );
  unfinished.set(device, settled);
  void settled.then(() => {
    if (unfinished.get(device) === settled) unfinished.delete(device);
  });
}

/**
 * The devices of `devices` whose driver is still running a call (or its late recovery)
 * that an aborted migration gave up waiting for, in device order.
 */
export function devicesStillBusy(devices: readonly VmDevice[]): VmDevice[] {
  return devices.filter((d) => unfinished.has(d));
}

/**
 * Resolves once no device of `devices` runs a call an aborted migration gave up on, nor
 * the late recovery after it: each is then back in RUNNING (or reset, as the recovery
 * reported). At once when none does. Never rejects, and waits as long as the driver does:
 * bound it (`Promise.race`) where a driver that never answers must not hold the caller.
 */
export async function deviceCallsSettled(devices: readonly VmDevice[]): Promise<void> {
  for (;;) {
    const pending = devices.flatMap((d) => unfinished.get(d) ?? []);
    if (pending.length === 0) return;
    await Promise.all(pending);
  }
}

/**
 * Why `devices` cannot be migrated or saved now: a device still runs a driver call of an
 * aborted migration (or its late recovery), and calling into it would interleave with that
 * call. `undefined` when none does.
 */
export function busyDevicesReason(devices: readonly VmDevice[]): string | undefined {
  const busy = devicesStillBusy(devices);
  if (busy.length === 0) return undefined;
  const slots = busy.map((d) => d.config.slot).join(", ");
  const which = busy.length === 1 ? `device ${slots} is` : `devices ${slots} are`;
  return `${which} still finishing a driver call from an aborted migration; each returns to RUNNING once its call finishes: try again then`;
}

/**
 * Throws before anything is touched when a device of `devices` is busy
 * ({@link busyDevicesReason}).
 * @throws MdevError EBUSY naming the busy devices.
 */
export function refuseWhileDevicesBusy(devices: readonly VmDevice[]): void {
  const reason = busyDevicesReason(devices);
  if (reason !== undefined) throw new MdevError("EBUSY", reason);
}
