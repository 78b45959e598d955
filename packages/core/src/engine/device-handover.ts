import type { MigrationDataStream } from "../contract/migration-data-stream.js";
import { driveTransition } from "../fsm/drive-transition.js";
import { MigFlags } from "../fsm/mig-flags.js";
import { MigState, migStateName } from "../fsm/mig-state.js";
import type { VmDevice } from "../vm/simulated-vm.js";

/** True when every device declares P2P, so the VM can use the P2P-quiet phase. */
export function allSupportP2P(devices: readonly VmDevice[]): boolean {
  return devices.length > 0 && devices.every((d) => (d.driver.migrationFlags & MigFlags.P2P) !== 0);
}

/**
 * Moves every device to STOP_COPY for switchover. With `p2p`, all devices first reach a
 * P2P-quiet state (RUNNING_P2P, or PRE_COPY_P2P for those in PRE_COPY) before any stops,
 * so no device is stopped while a peer could still DMA into it. Returns each device's
 * saving stream: the PRE_COPY stream that continues, or the one STOP_COPY opened.
 */
export async function stopDevicesForSwitchover(
  devices: readonly VmDevice[],
  precopyStreams: ReadonlyMap<number, MigrationDataStream>,
  p2p: boolean,
): Promise<Map<number, MigrationDataStream>> {
  if (p2p) {
    for (const d of devices) {
      const quiet =
        d.driver.getState() === MigState.PRE_COPY ? MigState.PRE_COPY_P2P : MigState.RUNNING_P2P;
      await driveTransition(d.driver, quiet);
    }
  }
  const streams = new Map<number, MigrationDataStream>();
  for (const d of devices) {
    const { stream } = await driveTransition(d.driver, MigState.STOP_COPY);
    const saving = stream ?? precopyStreams.get(d.index);
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
 * Never throws: rollback must reach every device. Returns a line per problem.
 */
export async function returnDevicesToRunning(devices: readonly VmDevice[]): Promise<string[]> {
  const problems: string[] = [];
  for (const d of devices) {
    try {
      await d.driver.logStop().catch(() => {});
      await driveTransition(d.driver, MigState.RUNNING);
    } catch (err) {
      const state = migStateName(d.driver.getState());
      try {
        await d.driver.reset();
        problems.push(
          `device ${d.config.slot} could not return to RUNNING from ${state} (${String(err)}); it was reset`,
        );
      } catch (resetErr) {
        problems.push(`device ${d.config.slot} is stuck in ${state}: ${String(resetErr)}`);
      }
    }
  }
  return problems;
}
