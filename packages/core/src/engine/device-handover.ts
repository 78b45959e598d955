import type { MigrationDataStream } from "../contract/migration-data-stream.js";
import { driveTransition } from "../fsm/drive-transition.js";
import { MigFlags } from "../fsm/mig-flags.js";
import { MigState, migStateName } from "../fsm/mig-state.js";
import type { VmDevice } from "../vm/simulated-vm.js";
import { DeviceCallGuard } from "./device-call-guard.js";
import { type DeviceRecovery, recoverWhenSettled } from "./late-recovery.js";
import { returnToRunning } from "./return-to-running.js";
import { settleEach } from "./settle-each.js";

/**
 * How long the rollback waits for one device to return to RUNNING before it reports the
 * device and goes on: the migration already failed, and the paused guest waits for this.
 */
export const ROLLBACK_DEVICE_TIMEOUT_MS = 5_000;

/** True when every device declares P2P, so the VM can use the P2P-quiet phase. */
export function allSupportP2P(devices: readonly VmDevice[]): boolean {
  return devices.length > 0 && devices.every((d) => (d.driver.migrationFlags & MigFlags.P2P) !== 0);
}

/**
 * Moves every device to STOP_COPY for switchover. With `p2p`, all devices first reach a
 * P2P-quiet state (RUNNING_P2P, or PRE_COPY_P2P for those in PRE_COPY) before any stops,
 * so no device is stopped while a peer could still DMA into it. Returns each device's
 * saving stream: the PRE_COPY stream that continues, or the one STOP_COPY opened. Each
 * driver's transition is waited for through `guard` (see {@link DeviceCallGuard}).
 *
 * The devices of a step move side by side (the kernel serializes the arcs of one device,
 * not of different ones): a driver that waits on its hardware overlaps the others, so the
 * paused window grows with the slowest device rather than with their count. Every call of
 * a step settles before the first failure is thrown.
 */
export async function stopDevicesForSwitchover(
  devices: readonly VmDevice[],
  precopyStreams: ReadonlyMap<number, MigrationDataStream>,
  p2p: boolean,
  guard: DeviceCallGuard = DeviceCallGuard.unbounded(),
): Promise<Map<number, MigrationDataStream>> {
  if (p2p) {
    await settleEach(
      devices.map((d) => {
        const quiet =
          d.driver.getState() === MigState.PRE_COPY ? MigState.PRE_COPY_P2P : MigState.RUNNING_P2P;
        return guard.run(d, () => driveTransition(d.driver, quiet));
      }),
    );
  }
  const stopped = await settleEach(
    devices.map((d) => guard.run(d, () => driveTransition(d.driver, MigState.STOP_COPY))),
  );
  const streams = new Map<number, MigrationDataStream>();
  for (const [i, d] of devices.entries()) {
    const saving = stopped[i]?.stream ?? precopyStreams.get(d.index);
    if (saving === undefined) {
      throw new Error(`device ${d.config.slot} reached STOP_COPY without a saving stream`);
    }
    streams.set(d.index, saving);
  }
  return streams;
}

/**
 * Returns every device to RUNNING through the FSM after a failed migration (the kernel's
 * paths: STOP_COPY → STOP → … → RUNNING, PRE_COPY → RUNNING, RESUMING → STOP → …).
 * A device the FSM cannot bring back is reset, which loses its state; that is reported.
 * A device `guard` holds busy (a call into it was abandoned) is not called now, and one
 * that does not answer within `timeoutMs` is given up on: both are reported, and each is
 * returned to RUNNING once its driver call settles ({@link recoverWhenSettled}), which
 * `onRecovered` hears about. The devices return side by side, so devices that do not
 * answer keep the guest paused for one `timeoutMs`, not one each. Never throws and always
 * returns: rollback must reach every device, and the guest waits for it. Returns a line
 * per problem, in device order.
 */
export async function returnDevicesToRunning(
  devices: readonly VmDevice[],
  guard: DeviceCallGuard = DeviceCallGuard.unbounded(),
  timeoutMs = ROLLBACK_DEVICE_TIMEOUT_MS,
  onRecovered?: (recovery: DeviceRecovery) => void,
): Promise<string[]> {
  const bounded = guard.after(timeoutMs);
  const later = " and will be returned to RUNNING once that call finishes";
  const problems = await Promise.all(
    devices.map(async (d): Promise<string | undefined> => {
      const abandoned = guard.abandonedCall(d);
      if (abandoned !== undefined) {
        void recoverWhenSettled(d, abandoned, onRecovered);
        return `device ${d.config.slot} did not finish a driver call before the migration was aborted; it was left in ${migStateName(d.driver.getState())}${later}`;
      }
      try {
        return await bounded.run(d, () => returnToRunning(d));
      } catch (err) {
        const state = migStateName(d.driver.getState());
        const gaveUp = bounded.abandonedCall(d);
        if (gaveUp === undefined)
          return `device ${d.config.slot} is stuck in ${state}: ${String(err)}`;
        void recoverWhenSettled(d, gaveUp, onRecovered);
        return `device ${d.config.slot} did not return to RUNNING within ${timeoutMs} ms; it was left in ${state}${later}`;
      }
    }),
  );
  return problems.filter((p) => p !== undefined);
}
