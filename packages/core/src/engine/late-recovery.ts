import { migStateName } from "../fsm/mig-state.js";
import type { VmDevice } from "../vm/simulated-vm.js";
import { stopDeviceDirtyLog } from "./dirty-sync.js";
import { returnToRunning } from "./return-to-running.js";
import { trackUnfinishedCall } from "./unfinished-device-calls.js";

/**
 * How a device whose driver call a rollback had to leave running ended once that call
 * settled and the rollback was finished for it.
 */
export interface DeviceRecovery {
  /** The device's slot, e.g. `00:05.0`. */
  readonly slot: string;
  /** Its state afterwards: RUNNING, unless even a reset failed. */
  readonly state: string;
  /**
   * What the late recovery could not do cleanly (the device had to be reset, or could not
   * be); absent when it returned to RUNNING through the FSM with its state intact.
   */
  readonly problem?: string;
}

/**
 * Finishes the rollback of `device` once `abandoned`, the driver call the migration stopped
 * waiting for, settles (whether it resolves or rejects): its dirty log stopped, best effort,
 * then back to RUNNING, or reset when the FSM cannot get it there. Until then nothing calls
 * into the device, and later migrations of its VM are refused (the recovery is tracked as
 * the device's unfinished work until it ends). `onRecovered` hears the outcome before the
 * returned promise resolves with it. Never rejects; waits as long as the driver does.
 */
export function recoverWhenSettled(
  device: VmDevice,
  abandoned: Promise<unknown>,
  onRecovered: (recovery: DeviceRecovery) => void = () => {},
): Promise<DeviceRecovery> {
  const recovery = (async (): Promise<DeviceRecovery> => {
    // How the call ended does not matter: the device is committed to some state either
    // way, and the FSM walk below starts from whichever it is.
    await abandoned.then(
      () => {},
      () => {},
    );
    await stopDeviceDirtyLog(device).catch(() => {});
    let problem: string | undefined;
    try {
      problem = await returnToRunning(device);
    } catch (err) {
      problem = `device ${device.config.slot} could not be returned to RUNNING or reset after its driver call finished: ${String(err)}`;
    }
    const outcome: DeviceRecovery = {
      slot: device.config.slot,
      state: migStateName(device.driver.getState()),
      ...(problem === undefined ? {} : { problem }),
    };
    try {
      onRecovered(outcome);
    } catch {
      // A listener's failure is not the device's: the recovery still happened.
    }
    return outcome;
  })();
  trackUnfinishedCall(device, recovery);
  return recovery;
}
